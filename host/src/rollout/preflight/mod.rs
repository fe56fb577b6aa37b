//! Preflight: the checks `validate`, `plan` and `run` make once the spec is parsed and its plugins
//! loaded, before anything is planned, recorded or applied. Each finding is one line naming the
//! spec's file:line ([`SpecLines`]), the plugin and the fix; every finding of every plugin is
//! reported at once, so one edit round fixes them all.
//!
//! Two checks, in `config.rs` and here:
//! - Every plugin's config, by the plugin itself (`validate-config`, contract 0.2.0): a refusal is a
//!   problem on the line of that plugin's `config` (see `config.rs`).
//! - Every plugin's declared capabilities (`capabilities!`, [`Declared`]) against what the spec
//!   grants it (`grants.sql`, `grants.files`, `grants.env`, `grants.network`), both ways. A capability
//!   declared but not granted would leave the plugin failing at its first use ("No such file or
//!   directory"); a grant the plugin does not declare is never given ([`Grants::intersect`] narrows
//!   it at run time too, as defence in depth) and so says something the rollout does not do. Both
//!   are problems. The comparison is with what the *spec* says, by name: an environment variable the
//!   spec grants and the plugin declares but that this host does not have is only a warning (the
//!   plugin sees it unset, as it would on any host without it). Capability words this host does not
//!   know (a newer SDK) are warnings too: they are never granted.
//!
//! [`Grants::intersect`]: crate::runtime::Grants::intersect

mod config;

use std::fmt;
use std::path::{Path, PathBuf};

use super::plugins::RolloutPlugins;
use crate::runtime::Declared;
use crate::spec::{GrantsSpec, PluginSpec, Role, RolloutSpec, SpecLines};

/// One finding: where in the spec, and what to do about it (one line, no trailing period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The spec file as the operator named it.
    pub spec: PathBuf,
    /// The 1-based line the finding points at, when the spec could be read again.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.spec.display(), self.message),
            None => write!(f, "{}: {}", self.spec.display(), self.message),
        }
    }
}

/// What a preflight found: problems refuse the spec, warnings are shown and let it through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Findings {
    /// Problems refuse (with the warnings kept alongside); otherwise the warnings to show.
    pub fn into_result(self) -> Result<Vec<Problem>, Problems> {
        if self.problems.is_empty() { Ok(self.warnings) } else { Err(Problems(self)) }
    }
}

/// A spec refused by preflight: at least one problem. Its `Display` is the first problem and how
/// many more there are; [`Problems::lines`] gives every one of them, one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Findings);

impl Problems {
    /// Every problem, one line each, in the spec's order of plugins.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.0.problems.iter().map(ToString::to_string)
    }

    /// Warnings found on the way (shown before the problems).
    pub fn warnings(&self) -> &[Problem] {
        &self.0.warnings
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut problems = self.0.problems.iter();
        match problems.next() {
            Some(first) => write!(f, "{first}")?,
            None => f.write_str("no problems")?,
        }
        match problems.len() {
            0 => Ok(()),
            n => write!(f, " (and {n} more problem{})", if n == 1 { "" } else { "s" }),
        }
    }
}

/// Checks the loaded `plugins` of `spec` (read from `spec_path`) before anything changes. `Ok` holds
/// the warnings to show; `Err` every problem, each naming the spec's line and the fix.
pub fn check(spec: &RolloutSpec, spec_path: &Path, plugins: &RolloutPlugins) -> Result<Vec<Problem>, Problems> {
    let lines = SpecLines::read(spec_path);
    let mut findings = Findings::default();
    config::check(spec, spec_path, &lines, plugins, &mut findings);
    let declared =
        [(Role::Target, &plugins.target.plugin().declared), (Role::Strategy, &plugins.strategy.plugin().declared)]
            .into_iter()
            .chain(
                plugins.verifiers.iter().enumerate().map(|(i, v)| (Role::Verifier(i), &v.instance.plugin().declared)),
            );
    capabilities(spec, spec_path, &lines, declared, &mut findings);
    findings.into_result()
}

/// The capability findings of every plugin: what each declares against what the spec grants it.
pub fn capabilities<'d>(
    spec: &RolloutSpec,
    spec_path: &Path,
    lines: &SpecLines,
    declared: impl IntoIterator<Item = (Role, &'d Declared)>,
    findings: &mut Findings,
) {
    for (role, declared) in declared {
        let Some(plugin) = plugin_at(spec, role) else { continue };
        Capabilities { spec_path, lines, role, plugin, declared, findings: &mut *findings }.check();
    }
}

fn plugin_at(spec: &RolloutSpec, role: Role) -> Option<&PluginSpec> {
    match role {
        Role::Target => Some(&spec.target),
        Role::Strategy => Some(&spec.strategy),
        Role::Verifier(i) => spec.verifiers.get(i),
    }
}

/// The capability check of one plugin.
struct Capabilities<'a> {
    spec_path: &'a Path,
    lines: &'a SpecLines,
    role: Role,
    plugin: &'a PluginSpec,
    declared: &'a Declared,
    findings: &'a mut Findings,
}

impl Capabilities<'_> {
    fn check(mut self) {
        let granted: &GrantsSpec = &self.plugin.grants;
        let who = format!("{} {}", self.role.kind(), self.plugin.display_name());
        let table = self.role.table();
        let network_granted = !granted.network.tcp.is_empty() || !granted.network.http.is_empty();
        for (word, declared, is_granted, example) in [
            ("sql", self.declared.sql, !granted.sql.is_empty(), "grants.sql = [...]"),
            ("files", self.declared.files, !granted.files.is_empty(), "grants.files = [...]"),
            (
                "network",
                self.declared.network,
                network_granted,
                "grants.network.tcp = [...] or grants.network.http = [...]",
            ),
        ] {
            match (declared, is_granted) {
                (true, false) => self.problem(
                    self.where_to_add(),
                    format!(
                        "{who} declares {word} but the spec grants none: add {example} to {table}, \
                         or remove capabilities!({word}) from the plugin"
                    ),
                ),
                (false, true) => self.problem(
                    self.lines.grants(self.role, Some(word)),
                    format!(
                        "the spec grants {who} {word} but the plugin does not declare it: remove grants.{word} \
                         from {table}, or the plugin must declare capabilities!({word})"
                    ),
                ),
                _ => {}
            }
        }
        for name in self.declared.env.iter().filter(|n| !granted.env.contains(n)) {
            self.problem(
                self.lines.grants(self.role, Some("env")).or_else(|| self.where_to_add()),
                format!(
                    "{who} declares environment variable {name:?} but the spec does not grant it: add {name:?} to \
                     grants.env in {table}, or remove it from the plugin's capabilities!(env = [...])"
                ),
            );
        }
        for name in granted.env.iter().filter(|n| !self.declared.env.contains(n)) {
            self.problem(
                self.lines.grants(self.role, Some("env")),
                format!(
                    "the spec grants {who} environment variable {name:?} but the plugin does not declare it: remove \
                     {name:?} from grants.env in {table}, or the plugin must declare capabilities!(env = [{name:?}])"
                ),
            );
        }
        for name in granted.env.iter().filter(|n| self.declared.env.contains(n) && std::env::var_os(n).is_none()) {
            self.warning(
                self.lines.grants(self.role, Some("env")),
                format!(
                    "grants.env gives {who} environment variable {name:?}, which is not set on this host: the plugin \
                     will see it unset"
                ),
            );
        }
        for word in &self.declared.unknown {
            self.warning(
                self.lines.plugin(self.role),
                format!(
                    "{who} declares capability {word:?}, which this upshift does not know (a newer SDK?): it is not \
                     given; upgrade upshift if the plugin needs it"
                ),
            );
        }
    }

    /// Where a missing grant goes: the plugin's `grants`, else its table.
    fn where_to_add(&self) -> Option<usize> {
        self.lines.grants(self.role, None).or_else(|| self.lines.plugin(self.role))
    }

    fn problem(&mut self, line: Option<usize>, message: String) {
        self.findings.problems.push(Problem { spec: self.spec_path.to_path_buf(), line, message });
    }

    fn warning(&mut self, line: Option<usize>, message: String) {
        self.findings.warnings.push(Problem { spec: self.spec_path.to_path_buf(), line, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec whose target grants are `target` and whose only verifier's are `verifier`, written
    /// to a folder with a `data` folder to grant; returns the folder, the spec's path and the spec.
    fn spec(target: &str, verifier: &str) -> (tempfile::TempDir, PathBuf, RolloutSpec) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let text = format!(
            "name = \"p\"\nfrom = \"1\"\nto = \"2\"\n\n[connections.shards]\ndatabases = [\"a.db\"]\n\n\
             [target]\nplugin = \"sql-migrator\"\n{target}\n\n[strategy]\nplugin = \"canary\"\n\n\
             [[verifiers]]\nname = \"deny-list\"\nplugin = \"sql-check\"\n{verifier}\n"
        );
        let path = dir.path().join("rollout.toml");
        std::fs::write(&path, &text).unwrap();
        let spec = RolloutSpec::parse(&path, &text).unwrap();
        (dir, path, spec)
    }

    fn findings(path: &Path, spec: &RolloutSpec, target: &Declared, verifier: &Declared) -> Findings {
        let mut findings = Findings::default();
        let nothing = Declared::default();
        let declared = [(Role::Target, target), (Role::Strategy, &nothing), (Role::Verifier(0), verifier)];
        capabilities(spec, path, &SpecLines::read(path), declared, &mut findings);
        findings
    }

    fn problems(f: &Findings) -> Vec<String> {
        f.problems.iter().map(ToString::to_string).collect()
    }

    fn declares(words: &str) -> Declared {
        let mut d = Declared::default();
        for w in words.split_whitespace() {
            match w {
                "sql" => d.sql = true,
                "files" => d.files = true,
                "network" => d.network = true,
                env => d.env.push(env.trim_start_matches("env=").to_string()),
            }
        }
        d
    }

    #[test]
    fn declared_and_granted_alike_is_no_finding() {
        let (_d, path, spec) = spec(
            "grants.sql = [\"shards\"]\ngrants.files = [\"data\"]\ngrants.network.tcp = [\"127.0.0.1:9\"]\ngrants.env = [\"PATH\"]",
            "grants.sql = [\"shards\"]",
        );
        let f = findings(&path, &spec, &declares("sql files network env=PATH"), &declares("sql"));
        assert_eq!(f, Findings::default());
    }

    #[test]
    fn a_declared_capability_the_spec_does_not_grant_is_a_problem_for_every_kind() {
        let (_d, path, spec) = spec("grants.sql = [\"shards\"]", "");
        let f = findings(&path, &spec, &declares("sql files network env=REGION"), &declares("sql"));
        let p = problems(&f);
        assert_eq!(p.len(), 4, "{p:#?}");
        let file = path.display();
        // Where a grant is missing: the line of the plugin's `grants` (line 10), or of its table.
        assert_eq!(
            p[0],
            format!(
                "{file}:10: target sql-migrator declares files but the spec grants none: add grants.files = [...] \
                 to [target], or remove capabilities!(files) from the plugin"
            )
        );
        assert!(p[1].starts_with(&format!("{file}:10: target sql-migrator declares network but the spec grants none: add grants.network.tcp = [...] or grants.network.http = [...] to [target]")), "{}", p[1]);
        assert!(p[2].starts_with(&format!("{file}:10: target sql-migrator declares environment variable \"REGION\" but the spec does not grant it: add \"REGION\" to grants.env in [target]")), "{}", p[2]);
        assert_eq!(
            p[3],
            format!(
                "{file}:15: verifier deny-list declares sql but the spec grants none: add grants.sql = [...] to \
                 [[verifiers]] #1, or remove capabilities!(sql) from the plugin"
            )
        );
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn a_grant_the_plugin_does_not_declare_is_a_problem_for_every_kind() {
        let (_d, path, spec) = spec(
            "grants.sql = [\"shards\"]\ngrants.files = [\"data\"]\ngrants.env = [\"REGION\"]\ngrants.network.http = [\"127.0.0.1:9090\"]",
            "grants.sql = [\"shards\"]",
        );
        let f = findings(&path, &spec, &Declared::default(), &Declared::default());
        let p = problems(&f);
        let file = path.display();
        assert_eq!(
            p,
            vec![
                format!(
                    "{file}:10: the spec grants target sql-migrator sql but the plugin does not declare it: remove \
                     grants.sql from [target], or the plugin must declare capabilities!(sql)"
                ),
                format!(
                    "{file}:11: the spec grants target sql-migrator files but the plugin does not declare it: remove \
                     grants.files from [target], or the plugin must declare capabilities!(files)"
                ),
                format!(
                    "{file}:13: the spec grants target sql-migrator network but the plugin does not declare it: \
                     remove grants.network from [target], or the plugin must declare capabilities!(network)"
                ),
                format!(
                    "{file}:12: the spec grants target sql-migrator environment variable \"REGION\" but the plugin \
                     does not declare it: remove \"REGION\" from grants.env in [target], or the plugin must declare \
                     capabilities!(env = [\"REGION\"])"
                ),
                format!(
                    "{file}:21: the spec grants verifier deny-list sql but the plugin does not declare it: remove \
                     grants.sql from [[verifiers]] #1, or the plugin must declare capabilities!(sql)"
                ),
            ]
        );
    }

    #[test]
    fn a_plugin_without_grants_is_pointed_at_its_table() {
        let (_d, path, spec) = spec("", "");
        let f = findings(&path, &spec, &declares("files"), &Declared::default());
        assert_eq!(f.problems.len(), 1);
        assert_eq!(f.problems[0].line, Some(8), "the [target] header");
    }

    #[test]
    fn env_is_compared_by_name_per_variable() {
        let (_d, path, spec) = spec("grants.env = [\"A\", \"B\"]", "");
        let f = findings(&path, &spec, &declares("env=B env=C"), &Declared::default());
        let p = problems(&f);
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(p[0].contains("declares environment variable \"C\" but the spec does not grant it"), "{}", p[0]);
        assert!(
            p[1].contains("grants target sql-migrator environment variable \"A\" but the plugin does not declare it"),
            "{}",
            p[1]
        );
    }

    #[test]
    fn a_granted_and_declared_variable_unset_on_this_host_is_a_warning_not_a_problem() {
        let name = "UPSHIFT_PREFLIGHT_TEST_NEVER_SET";
        let (_d, path, spec) = spec(&format!("grants.env = [\"{name}\"]"), "");
        let f = findings(&path, &spec, &declares(&format!("env={name}")), &Declared::default());
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].to_string().contains("not set on this host: the plugin will see it unset"));
        assert_eq!(f.warnings[0].line, Some(10));
    }

    #[test]
    fn an_unknown_declared_word_is_a_warning() {
        let (_d, path, spec) = spec("", "");
        let mut d = Declared::default();
        d.unknown.push("teleport".into());
        let f = findings(&path, &spec, &d, &Declared::default());
        assert!(f.problems.is_empty());
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].message.contains("declares capability \"teleport\", which this upshift does not know"));
        assert_eq!(f.clone().into_result(), Ok(f.warnings));
    }

    #[test]
    fn problems_refuse_and_say_how_many_more_there_are() {
        let (_d, path, spec) = spec("", "");
        let f = findings(&path, &spec, &declares("files network"), &declares("sql"));
        let err = f.into_result().unwrap_err();
        assert_eq!(err.lines().count(), 3);
        assert!(err.to_string().ends_with(" (and 2 more problems)"), "{err}");
    }

    #[test]
    fn without_the_spec_file_problems_name_the_file_without_a_line() {
        let (dir, path, spec) = spec("", "");
        drop(dir);
        let f = findings(&path, &spec, &declares("files"), &Declared::default());
        assert_eq!(f.problems[0].line, None);
        assert!(
            f.problems[0].to_string().starts_with(&format!("{}: target sql-migrator declares files", path.display()))
        );
    }
}
