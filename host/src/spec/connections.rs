//! `[connections.NAME]`: the databases a spec may grant to plugins, as SQLite files or as databases
//! of one PostgreSQL server, checked when the spec is parsed (a PostgreSQL URL may hold no password:
//! the spec is stored with the rollout and quoted in messages, so the password comes from the
//! environment variable `password_env` names, read only when the host connects).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::{PostgresServer, SqlDriver, SqlSource, check_postgres_url};

/// Longest database name a `postgres` connection may list (PostgreSQL's own limit, NAMEDATALEN - 1).
pub const MAX_POSTGRES_DATABASE_NAME: usize = 63;

/// A named group of databases (`[connections.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSpec {
    #[serde(default = "default_driver")]
    pub driver: SqlDriver,
    /// SQLite: database files, relative to the spec's folder, each named by its file stem.
    /// PostgreSQL: database names on the server of `url`.
    #[serde(default)]
    pub databases: Vec<PathBuf>,
    /// Instead of `databases`: a file (or database name) pattern with `{n}` numbered 1 to `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// PostgreSQL: the server, `postgresql://ROLE@HOST:PORT/[DATABASE][?sslmode=...]`, without a
    /// password. Its database is the connection's only one when `databases` and `pattern` are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// PostgreSQL: the environment variable of the host that holds the role's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

fn default_driver() -> SqlDriver {
    SqlDriver::Sqlite
}

impl ConnectionSpec {
    /// The names the spec gives its databases (file paths for SQLite), in order: `databases`, then
    /// `pattern` numbered 1 to `count`.
    fn listed(&self) -> Vec<String> {
        let mut names: Vec<String> = self.databases.iter().map(|d| d.to_string_lossy().into_owned()).collect();
        if let (Some(pattern), Some(count)) = (&self.pattern, self.count) {
            names.extend((1..=count).map(|n| pattern.replace("{n}", &n.to_string())));
        }
        names
    }

    /// `(name, file)` of every SQLite database, in order (none for a PostgreSQL connection).
    pub fn files(&self) -> Vec<(String, PathBuf)> {
        if self.driver != SqlDriver::Sqlite {
            return Vec::new();
        }
        self.listed()
            .into_iter()
            .map(PathBuf::from)
            .map(|f| (f.file_stem().map_or_else(|| f.display().to_string(), |s| s.to_string_lossy().into_owned()), f))
            .collect()
    }

    /// Where the databases live, as the runtime serves them.
    pub fn source(&self) -> SqlSource {
        match self.driver {
            SqlDriver::Sqlite => SqlSource::Sqlite(self.files()),
            SqlDriver::Postgres => {
                let url = self.url.clone().unwrap_or_default();
                let mut databases = self.listed();
                if databases.is_empty() {
                    databases.extend(check_postgres_url(&url).ok().and_then(|u| u.database));
                }
                SqlSource::Postgres {
                    server: PostgresServer { url, password_env: self.password_env.clone() },
                    databases,
                }
            }
        }
    }

    /// Makes the files of a SQLite connection absolute, against the spec's `folder`.
    pub(super) fn resolve(&mut self, folder: &Path) {
        if self.driver != SqlDriver::Sqlite {
            return;
        }
        for f in &mut self.databases {
            if f.is_relative() {
                *f = folder.join(&*f);
            }
        }
        if let Some(p) = self.pattern.as_mut().filter(|p| Path::new(p.as_str()).is_relative()) {
            *p = folder.join(&*p).to_string_lossy().into_owned();
        }
    }

    /// Checks connection `name`; the message says what to change.
    pub(super) fn validate(&self, name: &str) -> Result<(), String> {
        if self.pattern.is_some() != self.count.is_some() {
            return Err(format!("connection {name}: `pattern` and `count` go together"));
        }
        if self.pattern.as_ref().is_some_and(|p| !p.contains("{n}")) {
            return Err(format!("connection {name}: `pattern` must contain {{n}}"));
        }
        match self.driver {
            SqlDriver::Sqlite => {
                if self.url.is_some() || self.password_env.is_some() {
                    return Err(format!(
                        "connection {name}: `url` and `password_env` are for driver = \"postgres\"; a SQLite \
                         connection lists its files in `databases` (or `pattern` and `count`)"
                    ));
                }
                if self.databases.is_empty() && self.pattern.is_none() {
                    return Err(format!("connection {name}: list `databases`, or give `pattern` and `count`"));
                }
                Ok(())
            }
            SqlDriver::Postgres => self.validate_postgres(name),
        }
    }

    fn validate_postgres(&self, name: &str) -> Result<(), String> {
        let Some(url) = &self.url else {
            return Err(format!(
                "connection {name}: driver = \"postgres\" needs `url`, e.g. url = \"postgresql://ROLE@127.0.0.1:5432/\""
            ));
        };
        // The url is not quoted: it may hold the very password this refuses.
        let parsed = check_postgres_url(url).map_err(|why| format!("connection {name}: url: {why}"))?;
        if let Some(var) = &self.password_env {
            let ok = var.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(format!(
                    "connection {name}: password_env = {var:?} must name an environment variable (letters, digits, '_')"
                ));
            }
        }
        let listed = self.listed();
        match (&parsed.database, listed.is_empty()) {
            (Some(db), false) => {
                return Err(format!(
                    "connection {name}: the url names database {db:?} and the connection lists `databases` (or a \
                     `pattern`) too; name them in one place: drop the database from the url"
                ));
            }
            (None, true) => {
                return Err(format!(
                    "connection {name}: name the databases: `databases = [\"...\"]`, `pattern` and `count`, or one \
                     database at the end of the url (postgresql://ROLE@HOST:PORT/DATABASE)"
                ));
            }
            _ => {}
        }
        for db in listed.iter().chain(parsed.database.iter()) {
            let ok = !db.is_empty()
                && db.len() <= MAX_POSTGRES_DATABASE_NAME
                && !db.contains('/')
                && !db.chars().any(char::is_control);
            if !ok {
                return Err(format!(
                    "connection {name}: database name {db:?} must be 1 to {MAX_POSTGRES_DATABASE_NAME} bytes, without \
                     '/' or control characters"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(url: &str) -> ConnectionSpec {
        ConnectionSpec {
            driver: SqlDriver::Postgres,
            databases: vec![],
            pattern: None,
            count: None,
            url: Some(url.into()),
            password_env: None,
        }
    }

    #[test]
    fn a_postgres_url_names_one_database_or_the_connection_lists_them() {
        let one = postgres("postgresql://app@127.0.0.1:5432/orders");
        one.validate("c").unwrap();
        let SqlSource::Postgres { databases, server } = one.source() else { panic!("not postgres") };
        assert_eq!(databases, vec!["orders"]);
        assert_eq!(server.url, "postgresql://app@127.0.0.1:5432/orders");
        let mut many = postgres("postgresql://app@127.0.0.1:5432/");
        many.pattern = Some("shop_{n}".into());
        many.count = Some(3);
        many.databases = vec!["main".into()];
        many.validate("c").unwrap();
        let SqlSource::Postgres { databases, .. } = many.source() else { panic!("not postgres") };
        assert_eq!(databases, vec!["main", "shop_1", "shop_2", "shop_3"]);
        // Names are not files: nothing is resolved against the spec's folder.
        many.resolve(Path::new("/specs"));
        assert_eq!(many.databases, vec![PathBuf::from("main")]);
    }

    #[test]
    fn a_password_in_the_url_is_refused_with_the_fix() {
        let why = postgres("postgresql://app:hunter2@127.0.0.1/orders").validate("c").unwrap_err();
        assert!(why.contains("password_env"), "{why}");
        assert!(!why.contains("hunter2"), "the refusal quotes the password: {why}");
    }

    #[test]
    fn what_a_postgres_connection_must_name_is_checked() {
        for (url, needle) in [
            ("mysql://app@127.0.0.1/orders", "postgresql://"),
            ("postgresql://127.0.0.1/orders", "the role"),
            ("postgresql://app@127.0.0.1/", "name the databases"),
            ("postgresql://app@127.0.0.1/orders?sslmode=allow", "sslmode"),
            ("postgresql://app@127.0.0.1/orders?options=-c%20statement_timeout%3D0", "options"),
            ("postgresql://app@127.0.0.1/a%2Fb", "without '/'"),
        ] {
            let why = postgres(url).validate("c").unwrap_err();
            assert!(why.contains(needle), "{url}: {why}");
        }
        let mut both = postgres("postgresql://app@127.0.0.1/orders");
        both.databases = vec!["x".into()];
        assert!(both.validate("c").unwrap_err().contains("in one place"));
        let mut bad_env = postgres("postgresql://app@127.0.0.1/orders");
        bad_env.password_env = Some("PG PASSWORD".into());
        assert!(bad_env.validate("c").unwrap_err().contains("environment variable"));
        let sqlite = ConnectionSpec { driver: SqlDriver::Sqlite, databases: vec!["a.db".into()], ..postgres("x") };
        assert!(sqlite.validate("c").unwrap_err().contains("driver = \"postgres\""));
    }
}
