//! What an operator grants one plugin beyond the defaults: folders (WASI preopens, read-only unless
//! write is granted), SQL connections, environment variables and network destinations. Resolved
//! from the spec; the runtime gives exactly these.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::PluginKind;
use super::artifact::Declared;

/// A host folder a plugin may read (and write, if `write`), seen inside the sandbox at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    pub host: PathBuf,
    pub guest: String,
    pub write: bool,
}

/// The database engines a connection can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlDriver {
    Sqlite,
    Postgres,
}

/// A PostgreSQL server as a `postgres` connection names it. It holds no secret: the spec refuses a
/// password in the URL, and the one in `password_env` is read when a session is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresServer {
    /// The connection URL (`postgresql://ROLE@HOST:PORT/...`), without a password.
    pub url: String,
    /// The host's environment variable that holds the role's password, if it needs one.
    pub password_env: Option<String>,
}

/// Where a connection's databases live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlSource {
    /// SQLite files: `(database name, file)`, in the spec's order.
    Sqlite(Vec<(String, PathBuf)>),
    /// Databases of one PostgreSQL server, by their names on it, in the spec's order.
    Postgres { server: PostgresServer, databases: Vec<String> },
}

/// A named group of databases, each addressed by plugins as `connection/database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlConnection {
    pub name: String,
    pub source: SqlSource,
    /// The plugin may only read these databases. Set for every plugin but a target (see
    /// [`Grants::limit_to`]): verifiers and strategies observe, they do not change.
    pub read_only: bool,
}

impl SqlConnection {
    /// The names of its databases (the part after `connection/`), in the spec's order.
    pub fn names(&self) -> Vec<&str> {
        match &self.source {
            SqlSource::Sqlite(files) => files.iter().map(|(name, _)| name.as_str()).collect(),
            SqlSource::Postgres { databases, .. } => databases.iter().map(String::as_str).collect(),
        }
    }

    pub fn driver(&self) -> SqlDriver {
        match self.source {
            SqlSource::Sqlite(_) => SqlDriver::Sqlite,
            SqlSource::Postgres { .. } => SqlDriver::Postgres,
        }
    }
}

/// Network destinations granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkGrant {
    /// Peers the plugin may connect to over TCP (`wasi:sockets`).
    pub tcp: Vec<SocketAddr>,
    /// `host:port` authorities (lower case) the plugin may send HTTP requests to (`wasi:http`).
    pub http: Vec<String>,
}

impl NetworkGrant {
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.http.is_empty()
    }

    /// Whether an HTTP request to `authority` (`host:port`) may go out.
    pub fn allows_http(&self, authority: &str) -> bool {
        self.http.iter().any(|a| a.eq_ignore_ascii_case(authority))
    }
}

/// Everything granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub files: Vec<FileGrant>,
    pub sql: Vec<SqlConnection>,
    /// Environment variables, `(name, value)`.
    pub env: Vec<(String, String)>,
    pub network: NetworkGrant,
}

impl Grants {
    /// Whether these grants let a plugin change anything on the host's side: a writable folder or
    /// a database it may change.
    pub fn writes(&self) -> bool {
        self.files.iter().any(|f| f.write) || self.sql.iter().any(|c| !c.read_only)
    }

    /// The same grants, reading only: every folder and database read-only. (A network grant has no
    /// read-only form; it is kept as it is.)
    pub fn reading(&self) -> Grants {
        let mut g = self.clone();
        g.files.iter_mut().for_each(|f| f.write = false);
        g.sql.iter_mut().for_each(|c| c.read_only = true);
        g
    }

    /// Narrows the grants to what a plugin of `kind` may do: only a target changes its databases.
    pub fn limit_to(&mut self, kind: PluginKind) {
        if kind != PluginKind::Target {
            self.sql.iter_mut().for_each(|c| c.read_only = true);
        }
    }

    /// What the plugin gets: what the spec grants and the plugin declared it needs. The notes say,
    /// for the log and the audit trail, what was asked, what was granted, and what was held back.
    pub fn intersect(&self, declared: &Declared, plugin: &str) -> (Grants, Vec<String>) {
        let mut notes = vec![format!("plugin {plugin} asks for {declared}; the spec grants {}", self.summary())];
        let mut given = Grants::default();
        let mut held = |what: String| notes.push(format!("plugin {plugin}: {what}"));
        if declared.files {
            given.files = self.files.clone();
        } else if !self.files.is_empty() {
            held("granted folders it did not ask for are not given".into());
        }
        if declared.sql {
            given.sql = self.sql.clone();
        } else if !self.sql.is_empty() {
            held("granted SQL connections it did not ask for are not given".into());
        }
        for (name, value) in &self.env {
            if declared.env.contains(name) {
                given.env.push((name.clone(), value.clone()));
            } else {
                held(format!("environment variable {name} is granted but not asked for; not given"));
            }
        }
        for name in declared.env.iter().filter(|n| !self.env.iter().any(|(g, _)| g == *n)) {
            held(format!("asks for environment variable {name}, which the spec does not grant"));
        }
        if declared.sql && self.sql.is_empty() {
            held("asks for SQL connections; the spec grants none (grants.sql)".into());
        }
        if declared.files && self.files.is_empty() {
            held("asks for folders; the spec grants none (grants.files)".into());
        }
        if declared.network {
            given.network = self.network.clone();
            if self.network.is_empty() {
                held("asks for network access; the spec grants none (grants.network)".into());
            }
        } else if !self.network.is_empty() {
            held("granted network destinations it did not ask for are not given".into());
        }
        for word in &declared.unknown {
            held(format!("declares unknown capability {word:?}; ignored"));
        }
        (given, notes)
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.sql.is_empty() {
            parts.push(format!("sql [{}]", self.sql.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !self.files.is_empty() {
            let files: Vec<String> =
                self.files.iter().map(|f| format!("{}{}", f.guest, if f.write { " (write)" } else { "" })).collect();
            parts.push(format!("files [{}]", files.join(", ")));
        }
        if !self.env.is_empty() {
            parts.push(format!("env [{}]", self.env.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !self.network.tcp.is_empty() {
            let tcp: Vec<String> = self.network.tcp.iter().map(ToString::to_string).collect();
            parts.push(format!("tcp [{}]", tcp.join(", ")));
        }
        if !self.network.http.is_empty() {
            parts.push(format!("http [{}]", self.network.http.join(", ")));
        }
        if parts.is_empty() { "nothing".into() } else { parts.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        Grants {
            files: vec![FileGrant { host: "/srv/m".into(), guest: "/m".into(), write: false }],
            sql: vec![SqlConnection { name: "shards".into(), source: SqlSource::Sqlite(vec![]), read_only: false }],
            env: vec![("REGION".into(), "eu".into()), ("TOKEN".into(), "secret".into())],
            network: NetworkGrant { tcp: vec![], http: vec!["127.0.0.1:9090".into()] },
        }
    }

    #[test]
    fn a_plugin_gets_only_what_it_asked_for_and_was_granted() {
        let declared = Declared { sql: true, env: vec!["REGION".into(), "HOME".into()], ..Declared::default() };
        let (given, notes) = grants().intersect(&declared, "p");
        assert_eq!(given.sql.len(), 1);
        assert!(given.files.is_empty());
        assert_eq!(given.env, vec![("REGION".to_string(), "eu".to_string())]);
        let notes = notes.join("\n");
        assert!(
            notes.contains(
                "asks for sql, env [REGION, HOME]; the spec grants sql [shards], files [/m], env [REGION, TOKEN]"
            ),
            "{notes}"
        );
        assert!(notes.contains("TOKEN is granted but not asked for"), "{notes}");
        assert!(notes.contains("HOME, which the spec does not grant"), "{notes}");
        assert!(notes.contains("folders it did not ask for are not given"), "{notes}");
        assert!(notes.contains("network destinations it did not ask for are not given"), "{notes}");
        assert!(given.network.is_empty());
    }

    #[test]
    fn network_is_given_only_when_declared() {
        let declared = Declared { network: true, ..Declared::default() };
        let (given, notes) = grants().intersect(&declared, "p");
        assert!(given.network.allows_http("127.0.0.1:9090"));
        assert!(!given.network.allows_http("127.0.0.1:9091"));
        assert!(notes.join("\n").contains("http [127.0.0.1:9090]"), "{notes:?}");
    }

    #[test]
    fn only_a_target_may_change_its_databases() {
        for kind in PluginKind::ALL {
            let mut given = grants();
            given.limit_to(kind);
            assert_eq!(given.sql[0].read_only, kind != PluginKind::Target, "{kind}");
        }
    }

    #[test]
    fn a_plugin_that_declares_nothing_gets_nothing() {
        let (given, _) = grants().intersect(&Declared::default(), "p");
        assert_eq!(given, Grants::default());
    }
}
