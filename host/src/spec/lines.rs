//! Where a plugin's settings sit in the spec file: 1-based line numbers of a plugin's table, its
//! `config` (and the keys inside it) and its `grants`, for messages that point the operator at the
//! line to edit. Read from the toml crate's spans (`toml::de::DeTable`), so `[target.config]`
//! headers, inline tables, dotted keys and `[[verifiers]]` arrays all resolve the way TOML defines
//! them; nothing here scans the text by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use toml::de::{DeTable, DeValue};

/// A plugin's place in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Target,
    Strategy,
    /// The `i`-th `[[verifiers]]` entry, counted from 0 (as `verifiers[i]` in messages).
    Verifier(usize),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Target => f.write_str("target"),
            Role::Strategy => f.write_str("strategy"),
            Role::Verifier(i) => write!(f, "verifiers[{i}]"),
        }
    }
}

impl Role {
    /// The table an operator edits, as the spec file spells it: `[target]`, `[strategy]`, or
    /// `[[verifiers]] #n` counted from 1 (the n-th `[[verifiers]]` table of the file).
    pub fn table(&self) -> String {
        match self {
            Role::Target => "[target]".into(),
            Role::Strategy => "[strategy]".into(),
            Role::Verifier(i) => format!("[[verifiers]] #{}", i + 1),
        }
    }

    /// The kind of plugin in this place: `target`, `strategy` or `verifier`.
    pub fn kind(&self) -> &'static str {
        match self {
            Role::Target => "target",
            Role::Strategy => "strategy",
            Role::Verifier(_) => "verifier",
        }
    }
}

/// One key of the spec: the line it first appears on, and the keys of the table it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    line: usize,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.children.get(key)
    }
}

/// The lines of every plugin's settings in one spec file. Empty (every lookup `None`) when the file
/// could not be read or parsed: messages then go without a line rather than fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecLines {
    target: Option<Node>,
    strategy: Option<Node>,
    verifiers: Vec<Node>,
}

impl SpecLines {
    /// Re-reads and parses the spec file at `path` keeping spans; never fails (empty when unreadable).
    pub fn read(path: &Path) -> SpecLines {
        std::fs::read_to_string(path).map(|text| SpecLines::parse(&text)).unwrap_or_default()
    }

    /// The lines of `text`, a spec file's contents; empty when it is not valid TOML.
    pub fn parse(text: &str) -> SpecLines {
        let Ok(doc) = DeTable::parse(text) else {
            return SpecLines::default();
        };
        let lines = LineIndex::new(text);
        let doc = doc.get_ref();
        let table = |key: &str| doc.get(key).map(|v| lines.node(v.span().start, v.get_ref()));
        let verifiers = match doc.get("verifiers").map(|v| v.get_ref()) {
            Some(DeValue::Array(items)) => items.iter().map(|v| lines.node(v.span().start, v.get_ref())).collect(),
            _ => Vec::new(),
        };
        SpecLines { target: table("target"), strategy: table("strategy"), verifiers }
    }

    fn node(&self, role: Role) -> Option<&Node> {
        match role {
            Role::Target => self.target.as_ref(),
            Role::Strategy => self.strategy.as_ref(),
            Role::Verifier(i) => self.verifiers.get(i),
        }
    }

    /// 1-based line of the plugin's table (`[target]`, `[[verifiers]]` #i, or an inline table).
    pub fn plugin(&self, role: Role) -> Option<usize> {
        self.node(role).map(|n| n.line)
    }

    /// Line of the plugin's `config` (table header or key), or of `key` inside it when given and
    /// present. `key` is a key of the config table; when no such key exists and it contains dots,
    /// it is followed as a path into nested tables (`limits.max`).
    pub fn config(&self, role: Role, key: Option<&str>) -> Option<usize> {
        let config = self.node(role)?.child("config")?;
        Some(key.and_then(|k| lookup(config, k)).map_or(config.line, |n| n.line))
    }

    /// Line of the plugin's `grants`, or of `grants.<which>` (sql/files/env/network) when given
    /// and present.
    pub fn grants(&self, role: Role, which: Option<&str>) -> Option<usize> {
        let grants = self.node(role)?.child("grants")?;
        Some(which.and_then(|w| lookup(grants, w)).map_or(grants.line, |n| n.line))
    }
}

/// `key` in `table`, or, when absent and dotted, the path it spells.
fn lookup<'n>(table: &'n Node, key: &str) -> Option<&'n Node> {
    table.child(key).or_else(|| {
        let mut node = table;
        for part in key.split('.') {
            node = node.child(part)?;
        }
        Some(node)
    })
}

/// Byte offsets to 1-based line numbers.
struct LineIndex {
    /// Offset of the first byte of every line after the first.
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        LineIndex { starts: text.match_indices('\n').map(|(i, _)| i + 1).collect() }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) + 1
    }

    /// The owned line tree of a value: a table's keys (where each key is written), nothing else.
    fn node(&self, at: usize, value: &DeValue<'_>) -> Node {
        let children = match value {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| {
                    let mut child = self.node(v.span().start, v.get_ref());
                    // The key's own position: `config` in `[target.config]` or `config = {`.
                    child.line = self.line(k.span().start);
                    (k.get_ref().to_string(), child)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Node { line: self.line(at), children }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"name = "x"
from = "1"
to = "2"

[target]
plugin = "sql-migrator"
grants.sql = ["shards"]
grants.files = ["migrations"]
config = { connection = "shards",
  migrations = "/migrations" }

[strategy]
plugin = "batches"

[strategy.config]
canary = 1
limits.max = 3

[[verifiers]]
plugin = "sql-check"
[verifiers.grants]
sql = ["shards"]

[verifiers.grants.network]
tcp = ["127.0.0.1:9"]

[[verifiers]]
plugin = "prometheus"
grants = { env = ["REGION"] }
config.query = "up"
"#;

    #[test]
    fn a_plugin_is_found_at_its_table_header() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.plugin(Role::Target), Some(5));
        assert_eq!(lines.plugin(Role::Strategy), Some(12));
        assert_eq!(lines.plugin(Role::Verifier(0)), Some(19));
        assert_eq!(lines.plugin(Role::Verifier(1)), Some(27));
        assert_eq!(lines.plugin(Role::Verifier(2)), None);
    }

    #[test]
    fn an_inline_config_is_found_at_its_key_and_its_keys_on_their_lines() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.config(Role::Target, None), Some(9));
        assert_eq!(lines.config(Role::Target, Some("connection")), Some(9));
        assert_eq!(lines.config(Role::Target, Some("migrations")), Some(10));
    }

    #[test]
    fn a_config_header_is_found_with_its_keys_and_dotted_paths() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.config(Role::Strategy, None), Some(15));
        assert_eq!(lines.config(Role::Strategy, Some("canary")), Some(16));
        assert_eq!(lines.config(Role::Strategy, Some("limits")), Some(17));
        assert_eq!(lines.config(Role::Strategy, Some("limits.max")), Some(17));
    }

    #[test]
    fn an_absent_config_key_falls_back_to_the_config_and_an_absent_config_is_none() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.config(Role::Strategy, Some("max_eror_rate")), Some(15));
        assert_eq!(lines.config(Role::Verifier(0), None), None);
        assert_eq!(lines.config(Role::Verifier(1), Some("query")), Some(30));
    }

    #[test]
    fn dotted_grants_are_found_on_their_own_lines() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.grants(Role::Target, None), Some(7));
        assert_eq!(lines.grants(Role::Target, Some("sql")), Some(7));
        assert_eq!(lines.grants(Role::Target, Some("files")), Some(8));
        // Not granted: the line of `grants` itself, where one would add it.
        assert_eq!(lines.grants(Role::Target, Some("env")), Some(7));
        assert_eq!(lines.grants(Role::Strategy, None), None);
    }

    #[test]
    fn grants_in_headers_and_inline_tables_of_verifiers_are_found() {
        let lines = SpecLines::parse(SPEC);
        assert_eq!(lines.grants(Role::Verifier(0), None), Some(21));
        assert_eq!(lines.grants(Role::Verifier(0), Some("sql")), Some(22));
        assert_eq!(lines.grants(Role::Verifier(0), Some("network")), Some(24));
        assert_eq!(lines.grants(Role::Verifier(1), Some("env")), Some(29));
    }

    #[test]
    fn inline_plugin_tables_are_found() {
        let text =
            "name = \"x\"\ntarget = { plugin = \"t\", grants = { files = [\"d\"] } }\nstrategy = { plugin = \"s\" }\n";
        let lines = SpecLines::parse(text);
        assert_eq!(lines.plugin(Role::Target), Some(2));
        assert_eq!(lines.grants(Role::Target, Some("files")), Some(2));
        assert_eq!(lines.plugin(Role::Strategy), Some(3));
    }

    #[test]
    fn invalid_or_unreadable_specs_give_no_lines() {
        assert_eq!(SpecLines::parse("[target\nplugin = 1"), SpecLines::default());
        let lines = SpecLines::read(Path::new("/nonexistent/upshift/rollout.toml"));
        assert_eq!(lines.plugin(Role::Target), None);
    }

    #[test]
    fn roles_display_as_in_spec_messages() {
        assert_eq!(Role::Target.to_string(), "target");
        assert_eq!(Role::Strategy.to_string(), "strategy");
        assert_eq!(Role::Verifier(1).to_string(), "verifiers[1]");
        assert_eq!(Role::Verifier(0).table(), "[[verifiers]] #1");
    }
}
