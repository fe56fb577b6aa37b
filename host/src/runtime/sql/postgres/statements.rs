//! Statements the host refuses before they reach PostgreSQL, by their first words, each with why:
//! the ones that would end the transaction the host runs every statement in, change the session the
//! host set up, or reach past the granted database (the server's files and programs, its
//! configuration, its roles, other databases and servers, other sessions).
//!
//! This is the host's side of the confinement, not all of it: PostgreSQL itself refuses most of
//! these to the unprivileged role the operator grants (see [`role`](super::role)), and a statement
//! built at run time (`DO`, `EXECUTE` in a function) is not text the host sees. What the engine
//! allows every role and only this list stops is named in the README ("What a PostgreSQL grant
//! allows"). The refusals here make the common, direct attempt fail with a reason.

use super::script::{Statement, Token};

/// Settings the host gives every session (its time limits, its read-only transactions, the text
/// encoding and string syntax it reads); a plugin may not change them.
const HOST_SETTINGS: &[&str] = &[
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "transaction_timeout",
    "transaction_read_only",
    "default_transaction_read_only",
    "transaction_isolation",
    "role",
    "session_authorization",
    "client_encoding",
    "standard_conforming_strings",
    "backslash_quote",
];

const TRANSACTION: &str = "a statement may not begin or end a transaction: the host runs every statement of a plugin \
                           inside one, and the sql interface's begin, commit and rollback group statements \
                           (SAVEPOINT, RELEASE and ROLLBACK TO are allowed)";
const ONE_DATABASE: &str = "a SQL grant is exactly its own databases";

/// Whether a plugin may send `statement`; the reason when it may not.
pub fn judge(statement: &Statement<'_>) -> Result<(), String> {
    let w = |n: usize| statement.word(n).unwrap_or("");
    let first = w(0);
    match first {
        "BEGIN" | "START" | "COMMIT" | "END" | "ABORT" => Err(TRANSACTION.into()),
        "ROLLBACK" => {
            let to = if matches!(w(1), "WORK" | "TRANSACTION") { w(2) } else { w(1) };
            if to == "TO" { Ok(()) } else { Err(TRANSACTION.into()) }
        }
        "PREPARE" if w(1) == "TRANSACTION" => Err(TRANSACTION.into()),
        "COPY" => Err("COPY moves data between the database and the server's files, its programs or the client \
                       connection; a plugin reads with queries and writes with INSERT ... SELECT"
            .into()),
        "LISTEN" | "UNLISTEN" | "NOTIFY" => Err(format!(
            "{first} is refused: notifications reach other sessions of the database, and none is ever delivered to a \
             plugin"
        )),
        "LOAD" => Err("LOAD puts a shared library into the server".into()),
        "CHECKPOINT" => Err("CHECKPOINT is the whole server's".into()),
        "ALTER" if w(1) == "SYSTEM" => Err("ALTER SYSTEM changes the configuration of the whole server".into()),
        "SET" | "RESET" => setting(statement),
        "CREATE" | "ALTER" | "DROP" => object(statement),
        "IMPORT" if w(1) == "FOREIGN" => Err(format!("IMPORT FOREIGN SCHEMA reaches another server ({ONE_DATABASE})")),
        _ => Ok(()),
    }
}

/// `SET`/`RESET` of a setting the host owns.
fn setting(statement: &Statement<'_>) -> Result<(), String> {
    let mut n = 1;
    if matches!(statement.word(1), Some("SESSION" | "LOCAL")) && statement.word(2) != Some("AUTHORIZATION") {
        n = 2;
    }
    if statement.word(1) == Some("SESSION") && matches!(statement.word(2), Some("AUTHORIZATION" | "CHARACTERISTICS")) {
        return Err(format!(
            "SET SESSION {} is refused: the host sets up the plugin's session",
            statement.word(2).unwrap_or("")
        ));
    }
    let name = match statement.tokens.get(n) {
        Some(Token::Word(w)) => w.to_ascii_lowercase(),
        Some(Token::Quoted(q)) => q.to_ascii_lowercase(),
        _ => return Ok(()),
    };
    if name == "transaction" {
        return Err(TRANSACTION.into());
    }
    if HOST_SETTINGS.contains(&name.as_str()) {
        return Err(format!(
            "{} {name} is refused: the host sets it for the plugin's session (its time limits, its read-only \
             transactions, the role it runs as, the text it reads)",
            statement.word(0).unwrap_or("SET")
        ));
    }
    Ok(())
}

/// `CREATE`/`ALTER`/`DROP` of something that is not the granted database's own.
fn object(statement: &Statement<'_>) -> Result<(), String> {
    let verb = statement.word(0).unwrap_or("");
    // CREATE OR REPLACE X, CREATE UNIQUE INDEX...: the object's word follows the modifiers.
    let mut n = 1;
    if statement.starts_with(&[verb, "OR", "REPLACE"]) {
        n = 3;
    }
    let what = statement.word(n).unwrap_or("");
    let next = statement.word(n + 1).unwrap_or("");
    let why = match what {
        "ROLE" | "USER" | "GROUP" if !(what == "USER" && next == "MAPPING") => {
            "roles belong to the whole server, not to the granted database"
        }
        "DATABASE" => ONE_DATABASE,
        "TABLESPACE" => "a tablespace is a folder of the server",
        "EXTENSION" => "an extension adds code to the server (dblink and postgres_fdw reach other databases)",
        "SERVER" | "SUBSCRIPTION" => "it reaches another server",
        "FOREIGN" => "foreign data reaches another server",
        "USER" => "a user mapping holds credentials for another server",
        "EVENT" if next == "TRIGGER" => "an event trigger runs for every session of the database",
        _ => return Ok(()),
    };
    let object = if what == "USER" && next == "MAPPING" || what == "EVENT" || what == "FOREIGN" {
        format!("{what} {next}")
    } else {
        what.to_string()
    };
    Err(format!("{verb} {object} is refused: {why}"))
}

#[cfg(test)]
mod tests {
    use super::super::script::split;
    use super::*;

    fn verdict(sql: &str) -> Result<(), String> {
        judge(&split(sql)[0])
    }

    #[test]
    fn transaction_control_is_the_hosts() {
        for sql in [
            "BEGIN",
            "begin isolation level serializable",
            "START TRANSACTION READ WRITE",
            "COMMIT",
            "commit and chain",
            "END",
            "ABORT",
            "ROLLBACK",
            "ROLLBACK WORK",
            "ROLLBACK AND NO CHAIN",
            "PREPARE TRANSACTION 'x'",
            "COMMIT PREPARED 'x'",
            "ROLLBACK PREPARED 'x'",
            "SET TRANSACTION READ WRITE",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        ] {
            let why = verdict(sql).unwrap_err();
            assert!(why.contains("transaction") || why.contains("session"), "{sql}: {why}");
        }
        for sql in ["SAVEPOINT a", "RELEASE SAVEPOINT a", "ROLLBACK TO a", "ROLLBACK TRANSACTION TO SAVEPOINT a"] {
            assert_eq!(verdict(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn the_hosts_settings_and_identity_are_not_the_plugins() {
        for sql in [
            "SET statement_timeout = 0",
            "set local LOCK_TIMEOUT to '1h'",
            "SET SESSION \"statement_timeout\" TO DEFAULT",
            "RESET statement_timeout",
            "SET default_transaction_read_only = off",
            "SET transaction_read_only = off",
            "SET ROLE postgres",
            "SET SESSION ROLE postgres",
            "RESET ROLE",
            "SET SESSION AUTHORIZATION postgres",
            "RESET SESSION AUTHORIZATION",
            "SET standard_conforming_strings = off",
            "SET client_encoding = 'SQL_ASCII'",
        ] {
            assert!(verdict(sql).is_err(), "{sql}");
        }
        for sql in ["SET search_path = app, public", "SET LOCAL work_mem = '8MB'", "RESET ALL", "SET TIME ZONE 'UTC'"] {
            assert_eq!(verdict(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn what_reaches_past_the_database_is_refused_by_name() {
        for (sql, needle) in [
            ("COPY t TO '/tmp/x'", "COPY"),
            ("copy t from program 'id'", "COPY"),
            ("COPY (SELECT 1) TO STDOUT", "COPY"),
            ("NOTIFY jobs, 'x'", "NOTIFY"),
            ("LISTEN jobs", "LISTEN"),
            ("LOAD 'auto_explain'", "shared library"),
            ("ALTER SYSTEM SET work_mem = '1GB'", "whole server"),
            ("CREATE EXTENSION dblink", "EXTENSION"),
            ("create extension if not exists postgres_fdw", "EXTENSION"),
            ("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", "another server"),
            ("CREATE USER MAPPING FOR CURRENT_USER SERVER s", "USER MAPPING"),
            ("CREATE FOREIGN TABLE f () SERVER s", "FOREIGN TABLE"),
            ("IMPORT FOREIGN SCHEMA public FROM SERVER s INTO x", "another server"),
            ("ALTER ROLE CURRENT_USER PASSWORD 'x'", "roles"),
            ("ALTER USER app SET statement_timeout = 0", "roles"),
            ("CREATE ROLE r SUPERUSER", "roles"),
            ("DROP DATABASE other", "own databases"),
            ("CREATE DATABASE other", "own databases"),
            ("CREATE TABLESPACE t LOCATION '/tmp'", "folder"),
            ("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", "another server"),
            ("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()", "every session"),
        ] {
            let why = verdict(sql).unwrap_err();
            assert!(why.contains(needle), "{sql}: {why}");
        }
    }

    #[test]
    fn a_migration_s_statements_pass() {
        for sql in [
            "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
            "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE UNIQUE INDEX i ON t (id)",
            "ALTER TABLE t ADD COLUMN email text",
            "DROP TABLE t",
            "CREATE VIEW v AS SELECT 1",
            "CREATE SCHEMA app",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
            "DO $$ BEGIN PERFORM 1; END $$",
            "SELECT pg_advisory_xact_lock(1)",
        ] {
            assert_eq!(verdict(sql), Ok(()), "{sql}");
        }
    }
}
