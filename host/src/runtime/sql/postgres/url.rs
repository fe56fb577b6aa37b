//! A `postgres` connection's URL: what a spec may write in it. No password (the spec is stored with
//! the rollout and quoted in messages; `password_env` names where the password is), no `options`
//! (the host sets the session's own), and an `sslmode` the host can honour.

use std::str::FromStr;

use tokio_postgres::Config;

/// The URL's query parameters a spec may use; anything else is refused by name.
const ALLOWED_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "channel_binding",
    "connect_timeout",
    "target_session_attrs",
    "load_balance_hosts",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "tcp_user_timeout",
];

/// A checked URL.
#[derive(Debug, Clone)]
pub struct ServerUrl {
    /// The connection settings, without a database name or a password.
    pub config: Config,
    /// The database the URL names, if any.
    pub database: Option<String>,
}

/// Checks `url` as a `postgres` connection may give it.
///
/// `sslmode`: `disable` never uses TLS; `prefer` (the default) uses it when the server offers it;
/// `require`, `verify-ca` and `verify-full` insist on it. Whenever TLS is used the server's
/// certificate and name are verified against the Mozilla roots built into the host, so the three
/// insisting modes mean the same: libpq's unverified `require` is never offered. `allow` is refused.
pub fn check(url: &str) -> Result<ServerUrl, String> {
    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return Err("must be a postgresql:// URL (postgresql://ROLE@HOST:PORT/DATABASE)".into());
    }
    let mut text = url.to_string();
    if let Some((_, query)) = url.split_once('?') {
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let kept_pair = match (key, value) {
                ("password", _) => return Err(password_refused()),
                ("options", _) => {
                    return Err(
                        "`options` is refused: the host sets the session's own settings (its time limits)".into()
                    );
                }
                ("sslmode", "verify-ca" | "verify-full") => "sslmode=require".to_string(),
                ("sslmode", "disable" | "prefer" | "require") => pair.to_string(),
                ("sslmode", other) => {
                    return Err(format!(
                        "sslmode={other} is not supported: use disable (no TLS), prefer (TLS when the server offers \
                         it) or require/verify-full (TLS always; the certificate is always verified)"
                    ));
                }
                (key, _) if ALLOWED_PARAMETERS.contains(&key) => pair.to_string(),
                (key, _) => {
                    return Err(format!(
                        "parameter {key:?} is not supported (the host reads: {})",
                        ALLOWED_PARAMETERS.join(", ")
                    ));
                }
            };
            kept.push(kept_pair);
        }
        text = format!("{}?{}", &url[..url.len() - query.len() - 1], kept.join("&"));
    }
    let mut config = Config::from_str(&text).map_err(|e| format!("{e}"))?;
    if config.get_password().is_some() {
        return Err(password_refused());
    }
    if config.get_user().is_none_or(str::is_empty) {
        return Err("name the role to connect as: postgresql://ROLE@HOST:PORT/...".into());
    }
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err("name the server's host: postgresql://ROLE@HOST:PORT/...".into());
    }
    let database = config.get_dbname().filter(|d| !d.is_empty()).map(str::to_string);
    // The database is chosen per session; a config with none is the server's.
    config = without_database(&config);
    Ok(ServerUrl { config, database })
}

fn password_refused() -> String {
    "the url holds a password: the spec is stored with the rollout and quoted in messages; put the password in an \
     environment variable of the host and name it with `password_env = \"NAME\"`"
        .into()
}

/// `config` with no database name (tokio-postgres has no way to unset one).
fn without_database(config: &Config) -> Config {
    let mut out = Config::new();
    if let Some(user) = config.get_user() {
        out.user(user);
    }
    if let Some(name) = config.get_application_name() {
        out.application_name(name);
    }
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(h) => out.host(h),
            tokio_postgres::config::Host::Unix(p) => out.host_path(p),
        };
    }
    for addr in config.get_hostaddrs() {
        out.hostaddr(*addr);
    }
    for port in config.get_ports() {
        out.port(*port);
    }
    if let Some(t) = config.get_connect_timeout() {
        out.connect_timeout(*t);
    }
    out.ssl_mode(config.get_ssl_mode());
    out.ssl_negotiation(config.get_ssl_negotiation());
    out.channel_binding(config.get_channel_binding());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::{Host, SslMode};

    #[test]
    fn a_url_gives_the_server_and_maybe_a_database() {
        let u = check("postgresql://app@db.example:6543/orders?sslmode=verify-full").unwrap();
        assert_eq!(u.database.as_deref(), Some("orders"));
        assert_eq!(u.config.get_dbname(), None);
        assert_eq!(u.config.get_user(), Some("app"));
        assert_eq!(u.config.get_hosts(), &[Host::Tcp("db.example".into())]);
        assert_eq!(u.config.get_ports(), &[6543]);
        assert_eq!(u.config.get_ssl_mode(), SslMode::Require);
        let local = check("postgres://app@%2Fvar%2Frun%2Fpostgresql/").unwrap();
        assert_eq!(local.database, None);
        assert_eq!(local.config.get_hosts(), &[Host::Unix("/var/run/postgresql".into())]);
        assert_eq!(local.config.get_ssl_mode(), SslMode::Prefer, "libpq's default");
    }

    #[test]
    fn passwords_options_and_unknown_parameters_are_refused() {
        for url in ["postgresql://app:secret@h/d", "postgresql://app@h/d?password=secret"] {
            let why = check(url).unwrap_err();
            assert!(why.contains("password_env") && !why.contains("secret"), "{why}");
        }
        assert!(check("postgresql://app@h/d?options=-c%20x%3Dy").unwrap_err().contains("options"));
        assert!(check("postgresql://app@h/d?sslrootcert=/x").unwrap_err().contains("\"sslrootcert\""));
        assert!(check("postgresql://app@h/d?sslmode=allow").unwrap_err().contains("sslmode=allow"));
        assert!(check("postgresql://h/d").unwrap_err().contains("role"));
        assert!(check("postgresql://app@/d").unwrap_err().contains("host"));
        assert!(check("host=h user=app").unwrap_err().contains("postgresql://"));
    }
}
