//! The check every PostgreSQL session passes before a plugin's first statement: the role the host
//! connected as can reach nothing outside the granted database, as PostgreSQL's own privileges
//! decide. The host refuses to serve a database otherwise, naming each problem and its fix.
//!
//! Why the role and not the SQL text: PostgreSQL enforces privileges on every path a statement can
//! take (a view, a trigger, a function, dynamic SQL in `DO` or `EXECUTE`), which no reading of the
//! text can follow. A role without these powers cannot read or write the server's files
//! (`COPY ... TO/FROM` a file or `PROGRAM`, `pg_read_file`, `pg_ls_dir`, server-side `lo_import` and
//! `lo_export`), change the server's configuration (`ALTER SYSTEM`), become another role
//! (`SET ROLE`, `SET SESSION AUTHORIZATION`), create extensions or schemas (so no `dblink` or
//! `postgres_fdw` to another database), create roles or databases, or signal other roles' sessions.

use tokio_postgres::Client;

/// Functions that reach the server's files or control the server, which PostgreSQL grants to no one
/// but superusers by default: an operator who granted one to the plugin's role would let it out.
const OUTSIDE_FUNCTIONS: &[&str] = &[
    "pg_read_file(text)",
    "pg_read_file(text,bigint,bigint)",
    "pg_read_file(text,bigint,bigint,boolean)",
    "pg_read_file(text,boolean)",
    "pg_read_binary_file(text)",
    "pg_read_binary_file(text,bigint,bigint)",
    "pg_read_binary_file(text,bigint,bigint,boolean)",
    "pg_read_binary_file(text,boolean)",
    "pg_ls_dir(text)",
    "pg_ls_dir(text,boolean,boolean)",
    "pg_stat_file(text)",
    "pg_stat_file(text,boolean)",
    "pg_ls_logdir()",
    "pg_ls_waldir()",
    "pg_ls_tmpdir()",
    "pg_ls_archive_statusdir()",
    "lo_import(text)",
    "lo_import(text,oid)",
    "lo_export(oid,text)",
    "pg_reload_conf()",
    "pg_rotate_logfile()",
    "pg_switch_wal()",
    "pg_promote(boolean,integer)",
    "pg_create_restore_point(text)",
];

/// Extensions that reach other databases, other servers or the server's files.
const OUTSIDE_EXTENSIONS: &[&str] = &["dblink", "postgres_fdw", "file_fdw", "adminpack", "pg_cron"];

/// One query, one row: what the current role may do beyond its own database objects.
const CHECK: &str = "
SELECT r.rolname::text,
       r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT m.rolname::text FROM pg_catalog.pg_roles m
             WHERE m.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER')
               AND (m.rolsuper OR m.rolcreaterole OR m.rolcreatedb OR m.rolreplication OR m.rolbypassrls
                    OR m.rolname LIKE 'pg\\_%' OR m.oid = d.datdba
                    OR pg_catalog.has_database_privilege(m.oid, d.oid, 'CREATE'))
             ORDER BY 1),
       d.datdba = r.oid,
       pg_catalog.has_database_privilege(r.oid, d.oid, 'CREATE'),
       ARRAY(SELECT f FROM pg_catalog.unnest($1::text[]) AS f
             WHERE pg_catalog.to_regprocedure(f) IS NOT NULL
               AND pg_catalog.has_function_privilege(r.oid, f, 'EXECUTE')
             ORDER BY 1),
       ARRAY(SELECT e.extname::text FROM pg_catalog.pg_extension e WHERE e.extname = ANY ($2::text[]) ORDER BY 1),
       ARRAY(SELECT s.srvname::text FROM pg_catalog.pg_foreign_server s
             WHERE pg_catalog.has_server_privilege(r.oid, s.oid, 'USAGE') ORDER BY 1),
       pg_catalog.current_database()::text,
       pg_catalog.current_setting('server_version_num')::int
FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database()";

/// Parameters the role may set or `ALTER SYSTEM` though PostgreSQL keeps them for superusers (15+).
const PARAMETERS: &str = "
SELECT a.parname::text FROM pg_catalog.pg_parameter_acl a
WHERE pg_catalog.has_parameter_privilege(a.parname, 'SET')
   OR pg_catalog.has_parameter_privilege(a.parname, 'ALTER SYSTEM')
ORDER BY 1";

/// What the role that serves `database` could do outside it; empty when it is confined.
pub async fn problems(client: &Client, database: &str) -> Result<Vec<String>, tokio_postgres::Error> {
    let row = client.query_one(CHECK, &[&OUTSIDE_FUNCTIONS, &OUTSIDE_EXTENSIONS]).await?;
    let role: String = row.get(0);
    let mut out = Vec::new();
    for (i, what) in [
        (1, "it is a superuser"),
        (2, "it may create roles (CREATEROLE)"),
        (3, "it may create databases (CREATEDB)"),
        (4, "it may replicate the whole server (REPLICATION)"),
        (5, "it bypasses row security (BYPASSRLS)"),
    ] {
        if row.get::<_, bool>(i) {
            out.push(what.to_string());
        }
    }
    let roles: Vec<String> = row.get(6);
    if !roles.is_empty() {
        out.push(format!(
            "it is a member of {} (predefined roles reach the server's files, settings or other sessions; SET ROLE \
             takes a member role's powers): revoke the membership",
            roles.join(", ")
        ));
    }
    if row.get::<_, bool>(7) {
        out.push(format!("it owns database {database} (an owner may create extensions and alter the database)"));
    } else if row.get::<_, bool>(8) {
        out.push(format!(
            "it has CREATE on database {database} (it could create extensions and schemas): REVOKE CREATE ON \
             DATABASE ... FROM it (and from PUBLIC)"
        ));
    }
    let functions: Vec<String> = row.get(9);
    if !functions.is_empty() {
        out.push(format!("it may execute {} (they reach the server's files or control it)", functions.join(", ")));
    }
    let extensions: Vec<String> = row.get(10);
    if !extensions.is_empty() {
        out.push(format!(
            "the database has extension {} installed (it reaches other databases, servers or files): drop it, or \
             grant a database without it",
            extensions.join(", ")
        ));
    }
    let servers: Vec<String> = row.get(11);
    if !servers.is_empty() {
        out.push(format!("it may use foreign server {} (another database)", servers.join(", ")));
    }
    let current: String = row.get(12);
    if current != database {
        out.push(format!("the session is on database {current}, not {database}"));
    }
    if row.get::<_, i32>(13) >= 150_000 {
        let parameters: Vec<String> = client.query(PARAMETERS, &[]).await?.iter().map(|r| r.get(0)).collect();
        if !parameters.is_empty() {
            out.push(format!(
                "it may set or ALTER SYSTEM the superuser parameters {} (GRANT SET/ALTER SYSTEM ON PARAMETER)",
                parameters.join(", ")
            ));
        }
    }
    Ok(out.into_iter().map(|p| format!("role {role}: {p}")).collect())
}
