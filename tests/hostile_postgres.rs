//! The hostile SQL suite on a real PostgreSQL server (tests/common/postgres.rs): plugins granted
//! databases of a `postgres` connection try to reach past them (the server's files and programs,
//! its configuration, other roles, other databases, other sessions), to slip a statement past the
//! host (several in one, or one that ends the host's transaction), to change what a verifier may
//! only observe, to leave something behind a call (locks, transactions, sessions), or to make the
//! host and the server work and hold memory without limit. The attacker's role is the one an
//! operator grants: unprivileged, with tables in the `public` schema of its two databases.
//!
//! Each attack is made directly and, where PostgreSQL could be asked another way, through dynamic
//! SQL the host never sees (`DO ... EXECUTE`), which the server's own privileges must stop. For each:
//! refused or stopped with a message naming why, the server's state checked unchanged, and a good
//! rollout in the same process afterwards. Each test prints what stopped its attacks.

mod common;

use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator as _;
use upshift::engine::Phase;

use common::lab::{Ended, Lab};
use common::postgres::{Cluster, cluster, unique};

/// The attacker's grant: two databases of the cluster, with 100 orders each, and a third one
/// (`billing`) on the same server that is granted to nobody.
struct Shop {
    role: String,
    a: String,
    b: String,
    billing: String,
}

impl Shop {
    fn new() -> Shop {
        let c = cluster();
        let shop = Shop { role: unique("attacker"), a: unique("shop"), b: unique("shop"), billing: unique("billing") };
        c.confined(&shop.role, "unused-over-the-socket", &[&shop.a, &shop.b]);
        for db in [&shop.a, &shop.b] {
            c.admin(db)
                .batch_execute(&format!(
                    "CREATE TABLE orders (id serial PRIMARY KEY, amount integer NOT NULL);
                     INSERT INTO orders (amount) SELECT i * 7 FROM generate_series(1, 100) AS i;
                     GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON orders TO {role};
                     GRANT USAGE, SELECT, UPDATE ON SEQUENCE orders_id_seq TO {role};",
                    role = shop.role
                ))
                .unwrap();
        }
        c.admin("postgres").batch_execute(&format!("CREATE DATABASE {}", shop.billing)).unwrap();
        c.admin(&shop.billing)
            .batch_execute("CREATE TABLE invoices (id int); INSERT INTO invoices VALUES (1)")
            .unwrap();
        shop
    }

    /// The `[connections.shop]` table: the two databases, through the cluster's socket.
    fn connections(&self) -> String {
        format!(
            "[connections.shop]\ndriver = \"postgres\"\nurl = \"{}\"\ndatabases = [\"{}\", \"{}\"]",
            cluster().socket_url(&self.role, ""),
            self.a,
            self.b
        )
    }

    /// What an attack must leave as it was: both databases' rows, schema objects, extensions and
    /// large objects; the attacker's role (attributes, memberships, settings); no role or database
    /// made; the server's configuration file.
    fn state(&self) -> Vec<String> {
        let c = cluster();
        let mut out = Vec::new();
        for db in [&self.a, &self.b, &self.billing] {
            let mut admin = c.admin(db);
            let q = "SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
            out.push(format!("{db} relations {:?}", admin.query_one(q, &[]).unwrap().get::<_, Option<String>>(0)));
            let q = "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension";
            out.push(format!("{db} extensions {:?}", admin.query_one(q, &[]).unwrap().get::<_, Option<String>>(0)));
            let q = "SELECT count(*) FROM pg_largeobject_metadata";
            out.push(format!("{db} large objects {}", admin.query_one(q, &[]).unwrap().get::<_, i64>(0)));
            if db != &self.billing {
                let q = "SELECT count(*), sum(amount)::bigint FROM orders";
                let row = admin.query_one(q, &[]).unwrap();
                out.push(format!("{db} orders {} {:?}", row.get::<_, i64>(0), row.get::<_, Option<i64>>(1)));
            }
        }
        // The server's own: the attacker's role as it was made, nothing made in its name.
        let mut admin = c.admin("postgres");
        let q = "SELECT rolsuper::text || rolcreaterole::text || rolcreatedb::text || rolreplication::text \
                 || rolbypassrls::text || (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)::text \
                 || (SELECT count(*) FROM pg_db_role_setting WHERE setrole = r.oid)::text \
                 FROM pg_roles r WHERE rolname = $1";
        out.push(format!("role {:?}", admin.query_one(q, &[&self.role]).unwrap().get::<_, Option<String>>(0)));
        let q = "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname IN ('loot')";
        out.push(format!("roles made {:?}", admin.query_one(q, &[]).unwrap().get::<_, Option<String>>(0)));
        let q = "SELECT string_agg(datname, ',') FROM pg_database WHERE datname IN ('stolen')";
        out.push(format!("databases made {:?}", admin.query_one(q, &[]).unwrap().get::<_, Option<String>>(0)));
        out.push(format!("auto.conf {:?}", std::fs::read_to_string(c.dir.join("data/postgresql.auto.conf")).ok()));
        out
    }
}

/// The line of the rollout's history that names `stopper` (printed with the attack's name); no line
/// may say the attack succeeded.
fn stopped(name: &str, ended: &Ended, stopper: &str) -> String {
    let text = ended.text();
    assert!(!text.contains("ESCAPED"), "the attack succeeded:\n{text}");
    let line = text.lines().find(|l| l.contains(stopper)).unwrap_or_else(|| panic!("no {stopper:?} in:\n{text}"));
    println!("{name}: stopped by: {line}");
    line.to_string()
}

/// Runs hostile target `sql-session-abuse` on the shop with `config` (inline TOML table fields);
/// asserts a rolled-back end whose history names `stopper` and the plugin.
fn target_attack(lab: &mut Lab, shop: &Shop, config: &str, stopper: &str) -> Ended {
    let target = format!(
        "{}\ngrants.sql = [\"shop\"]\nconfig = {{ connection = \"shop\", {config} }}",
        lab.plugin("sql-session-abuse")
    );
    let threshold = format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", lab.plugin("threshold"));
    let spec = lab.compose(Some(&target), None, Some(&threshold), &shop.connections());
    let ended = lab.run(&spec).expect("the hostile plugin loads");
    assert_eq!(ended.phase, Phase::RolledBack, "{}", ended.text());
    let line = stopped("sql-session-abuse", &ended, stopper);
    assert!(line.contains("sql-session-abuse"), "the error does not name the plugin: {line}");
    lab.assert_next_rollout_runs();
    ended
}

/// Runs hostile verifier `name` granted the shop with `config` (an inline TOML table), via the lab.
fn verifier_attack(lab: &mut Lab, shop: &Shop, name: &str, config: &str, stopper: &str) -> Ended {
    lab.attack(name, &format!("grants.sql = [\"shop\"]\nconfig = {config}\n\n{}", shop.connections()), stopper)
}

/// `sql` as the inside of a TOML basic string (its quotes escaped).
fn toml(sql: &str) -> String {
    sql.replace('\\', "\\\\").replace('"', "\\\"").replace('\'', "\\u0027")
}

/// The config of `sql-verifier-writes` running `statement` on database `db` through `via`.
fn writes(db: &str, statement: &str, via: &str) -> String {
    format!("{{ database = \"shop/{db}\", statement = \"{}\", via = \"{via}\" }}", toml(statement))
}

/// The same, failing its check after the statement ran (to look for what it left).
fn writes_then_fails(db: &str, statement: &str, via: &str) -> String {
    writes(db, statement, via).replace(" }", ", outcome = \"fail\" }")
}

#[test]
fn the_servers_files_and_programs_are_out_of_reach() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let before = shop.state();
    let dir = lab.dir.path().display().to_string();
    let copied = format!("{dir}/copied.csv");
    let pwned = format!("{dir}/pwned");
    for (statement, via, stopper) in [
        (format!("COPY orders TO '{copied}'"), "execute", "COPY moves data"),
        (format!("COPY orders FROM PROGRAM 'touch {pwned}'"), "batch", "COPY moves data"),
        ("COPY (SELECT 1) TO STDOUT".to_string(), "query", "COPY moves data"),
        (format!("DO $$ BEGIN EXECUTE 'COPY orders TO ''{copied}'' '; END $$"), "execute", "pg_write_server_files"),
        (
            format!("DO $$ BEGIN EXECUTE 'COPY orders FROM PROGRAM ''touch {pwned}'' '; END $$"),
            "batch",
            "pg_execute_server_program",
        ),
        ("SELECT pg_read_file('/etc/passwd')".to_string(), "query", "permission denied for function pg_read_file"),
        ("SELECT pg_read_binary_file('postgresql.conf')".to_string(), "query", "permission denied"),
        ("SELECT pg_ls_dir('.')".to_string(), "query", "permission denied for function pg_ls_dir"),
        ("SELECT (pg_stat_file('postgresql.conf')).size".to_string(), "query", "permission denied"),
        ("SELECT lo_import('/etc/passwd')".to_string(), "query", "permission denied for function lo_import"),
        (
            format!("SELECT lo_export(lo_create(0), '{dir}/exported')"),
            "query",
            "permission denied for function lo_export",
        ),
    ] {
        target_attack(&mut lab, &shop, &format!("statement = \"{}\", via = \"{via}\"", toml(&statement)), stopper);
    }
    for file in ["copied.csv", "pwned", "exported"] {
        assert!(!lab.path(file).exists(), "{file} was written");
    }
    assert_eq!(shop.state(), before);
}

#[test]
fn other_databases_and_servers_are_out_of_reach() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let before = shop.state();
    let billing = &shop.billing;
    for (statement, stopper) in [
        ("CREATE EXTENSION dblink".to_string(), "CREATE EXTENSION is refused"),
        ("create extension if not exists postgres_fdw".to_string(), "CREATE EXTENSION is refused"),
        ("DO $$ BEGIN EXECUTE 'CREATE EXTENSION dblink'; END $$".to_string(), "permission denied to create extension"),
        ("CREATE SERVER loot FOREIGN DATA WRAPPER postgres_fdw".to_string(), "CREATE SERVER is refused"),
        (format!("SELECT * FROM {billing}.public.invoices"), "cross-database references are not implemented"),
        ("CREATE DATABASE stolen".to_string(), "exactly its own databases"),
        ("DO $$ BEGIN EXECUTE 'CREATE DATABASE stolen'; END $$".to_string(), "CREATE DATABASE cannot"),
        ("CREATE SCHEMA elsewhere".to_string(), "permission denied for database"),
    ] {
        target_attack(&mut lab, &shop, &format!("statement = \"{}\", via = \"execute\"", toml(&statement)), stopper);
    }
    // A database of the same server the spec does not list is not there for the plugin.
    verifier_attack(&mut lab, &shop, "sql-verifier-writes", &writes(billing, "SELECT 1", "query"), "has no database");
    assert_eq!(shop.state(), before);
}

#[test]
fn the_servers_configuration_and_other_roles_are_out_of_reach() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    // Another role's session the attacker would end.
    let bystander = unique("bystander");
    let bystander_db = unique("bystander_db");
    cluster().confined(&bystander, "pw", &[&bystander_db]);
    let mut session = cluster().session(&bystander, "pw", &bystander_db).unwrap();
    let terminate = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{bystander}'");
    let cancel = format!("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = '{bystander}'");
    let before = shop.state();
    for (statement, stopper) in [
        ("ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM changes the configuration of the whole server"),
        ("DO $$ BEGIN EXECUTE 'ALTER SYSTEM SET work_mem = ''1GB'''; END $$", "ALTER SYSTEM"),
        ("SELECT pg_reload_conf()", "permission denied for function pg_reload_conf"),
        ("SET ROLE postgres", "SET role is refused"),
        ("SET SESSION AUTHORIZATION postgres", "SET SESSION AUTHORIZATION is refused"),
        ("SELECT set_config('role', 'postgres', false)", "permission denied to set role"),
        (
            "DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION postgres'; END $$",
            "permission denied to set session authorization",
        ),
        ("ALTER ROLE CURRENT_USER SUPERUSER", "roles belong to the whole server"),
        (
            "DO $$ BEGIN EXECUTE 'ALTER ROLE ' || current_user || ' SUPERUSER CREATEROLE'; END $$",
            "must be superuser to alter superuser roles",
        ),
        ("DO $$ BEGIN EXECUTE 'CREATE ROLE loot LOGIN'; END $$", "permission denied to create role"),
        ("DO $$ BEGIN EXECUTE 'CREATE ROLE loot SUPERUSER LOGIN'; END $$", "must be superuser to create superusers"),
        (terminate.as_str(), "must be a member of the role whose process is being terminated"),
        (cancel.as_str(), "must be a member of the role whose query is being canceled"),
    ] {
        target_attack(&mut lab, &shop, &format!("statement = \"{}\", via = \"query\"", toml(statement)), stopper);
    }
    assert_eq!(shop.state(), before);
    session.batch_execute("SELECT 1").expect("the other role's session is still there");
}

#[test]
fn listen_and_notify_reach_no_other_session() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let mut listener = cluster().admin(&shop.a);
    listener.batch_execute("LISTEN jobs").unwrap();
    target_attack(
        &mut lab,
        &shop,
        &format!("statement = \"{}\", via = \"execute\"", toml("NOTIFY jobs, 'run'")),
        "NOTIFY is refused",
    );
    target_attack(&mut lab, &shop, "statement = \"LISTEN jobs\", via = \"batch\"", "LISTEN is refused");
    // A verifier's transaction is never committed: what PostgreSQL allows it (pg_notify, NOTIFY in
    // dynamic SQL) never takes effect.
    for (statement, via) in
        [("SELECT pg_notify('jobs', 'run')", "query"), ("DO $$ BEGIN EXECUTE 'NOTIFY jobs'; END $$", "execute")]
    {
        let config = writes_then_fails(&shop.a, statement, via);
        verifier_attack(&mut lab, &shop, "sql-verifier-writes", &config, "failed on purpose");
    }
    let heard: Vec<_> = listener.notifications().timeout_iter(Duration::from_millis(500)).collect().unwrap();
    assert!(heard.is_empty(), "a notification reached another session: {heard:?}");
}

#[test]
fn a_statement_cannot_ride_along_or_end_the_hosts_transaction() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let before = shop.state();
    let a = &shop.a;
    for (statement, via, stopper) in [
        ("SELECT 1; DROP TABLE orders", "execute", "more than one statement"),
        ("SELECT 1; DELETE FROM orders", "query", "more than one statement"),
        ("SELECT 1; COMMIT; DELETE FROM orders", "batch", "may not begin or end a transaction"),
        ("END; DELETE FROM orders", "batch", "may not begin or end a transaction"),
        ("ROLLBACK AND CHAIN", "execute", "may not begin or end a transaction"),
        ("SET TRANSACTION READ WRITE", "execute", "may not begin or end a transaction"),
        ("SET default_transaction_read_only = off", "execute", "the host sets it"),
        ("SET standard_conforming_strings = off", "execute", "the host sets it"),
        ("DO $$ BEGIN COMMIT; END $$", "execute", "invalid transaction termination"),
        (
            "SELECT set_config('transaction_read_only', 'off', true); DELETE FROM orders",
            "batch",
            "must be set before any query",
        ),
        (
            "DO $$ BEGIN EXECUTE 'SET TRANSACTION READ WRITE'; DELETE FROM orders; END $$",
            "execute",
            "must be set before any query",
        ),
    ] {
        verifier_attack(&mut lab, &shop, "sql-verifier-writes", &writes(a, statement, via), stopper);
    }
    let prepare = format!("statement = \"{}\", via = \"execute\"", toml("PREPARE TRANSACTION 'held'"));
    target_attack(&mut lab, &shop, &prepare, "may not begin or end");
    assert_eq!(shop.state(), before);
}

#[test]
fn a_verifier_cannot_change_its_database() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let before = shop.state();
    let a = &shop.a;
    for (statement, via) in [
        ("INSERT INTO orders (amount) VALUES (1)", "execute"),
        ("SELECT 1; /* */ DeLeTe\t FROM orders", "batch"),
        ("UPDATE orders SET amount = 0 RETURNING id", "query"),
        ("WITH d AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM d", "query"),
        ("TRUNCATE orders", "execute"),
        ("DROP TABLE orders", "execute"),
        ("CREATE TABLE loot (x int)", "batch"),
        ("CREATE TEMP TABLE loot AS SELECT * FROM orders", "execute"),
        ("SELECT nextval('orders_id_seq')", "query"),
        ("DO $$ BEGIN EXECUTE 'DELETE FROM orders'; END $$", "execute"),
    ] {
        verifier_attack(&mut lab, &shop, "sql-verifier-writes", &writes(a, statement, via), "read-only");
    }
    // A large object PostgreSQL lets a read-only transaction create is rolled back with it.
    let config = writes_then_fails(a, "SELECT lo_from_bytea(0, 'loot')", "query");
    verifier_attack(&mut lab, &shop, "sql-verifier-writes", &config, "failed on purpose");
    assert_eq!(shop.state(), before);
}

/// Sessions of `role` still connected to the server.
fn sessions_of(c: &Cluster, role: &str) -> i64 {
    c.admin("postgres").query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", &[&role]).unwrap().get(0)
}

#[test]
fn nothing_a_call_leaves_outlives_it() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let c = cluster();
    for (statement, open) in [
        ("SELECT pg_advisory_lock(4242)", false),
        ("SELECT pg_advisory_xact_lock(4243)", true),
        ("SELECT * FROM orders FOR UPDATE", true),
        ("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", true),
        ("CREATE TEMP TABLE held AS SELECT * FROM orders", false),
        ("PREPARE held AS SELECT 1", false),
    ] {
        let config =
            format!("statement = \"{statement}\", via = \"execute\", open_transaction = {open}, outcome = \"fail\"");
        target_attack(&mut lab, &shop, &config, "failed on purpose");
        // The session is gone with the call, and everything it held with it.
        let until = Instant::now() + Duration::from_secs(10);
        while sessions_of(c, &shop.role) > 0 {
            assert!(Instant::now() < until, "{statement}: a session of the plugin's role outlived its call");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut admin = c.admin(&shop.a);
        admin.batch_execute("SET lock_timeout = '1s'").unwrap();
        let free: bool =
            admin.query_one("SELECT pg_try_advisory_lock(4242) AND pg_try_advisory_lock(4243)", &[]).unwrap().get(0);
        assert!(free, "{statement}: an advisory lock outlived the call");
        admin
            .batch_execute("UPDATE orders SET amount = amount WHERE id = 1")
            .expect("no row or table lock outlived the call");
    }
}

#[test]
fn an_endless_statement_is_stopped_at_the_deadline_and_cancelled_on_the_server() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let c = cluster();
    let a = &shop.a;
    for technique in ["recursive", "batch", "cross-join"] {
        let started = Instant::now();
        verifier_attack(
            &mut lab,
            &shop,
            "sql-forever",
            &format!("{{ database = \"shop/{a}\", technique = \"{technique}\" }}\ntimeout_seconds = 0.5"),
            "time limit",
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{technique}: took {:?}", started.elapsed());
    }
    for (statement, via) in [("SELECT pg_sleep(3600)", "query"), ("DO $$ BEGIN LOOP END LOOP; END $$", "batch")] {
        let started = Instant::now();
        let config = format!("{}\ntimeout_seconds = 1", writes(a, statement, via));
        verifier_attack(&mut lab, &shop, "sql-verifier-writes", &config, "time limit");
        assert!(started.elapsed() < Duration::from_secs(20), "{statement}: took {:?}", started.elapsed());
    }
    // The server stopped working for the plugin: no statement of its role is still running.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let running: i64 = c
            .admin("postgres")
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND state = 'active'", &[&shop.role])
            .unwrap()
            .get(0);
        if running == 0 {
            break;
        }
        assert!(Instant::now() < until, "a cancelled statement still runs on the server");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_lock_wait_is_cut_short_and_retryable() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let mut holder = cluster().admin(&shop.a);
    holder.batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").unwrap();
    let started = Instant::now();
    let ended = verifier_attack(
        &mut lab,
        &shop,
        "sql-verifier-writes",
        &writes(&shop.a, "SELECT count(*) FROM orders", "query"),
        "is locked",
    );
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(ended.text().contains("lock timeout"), "{}", ended.text());
    holder.batch_execute("ROLLBACK").unwrap();
}

/// The most memory this process has held so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn huge_results_are_refused_before_the_host_holds_them() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let a = &shop.a;
    let before = peak_rss();
    for (query, stopper) in [
        ("SELECT repeat('x', 100000000)", "MAX_SQL_RESULT_BYTES"),
        ("SELECT decode(repeat('00', 100000000), 'hex')", "MAX_SQL_RESULT_BYTES"),
        ("SELECT repeat('x', 1000000) FROM generate_series(1, 400)", "MAX_SQL_RESULT_BYTES"),
        ("SELECT g, repeat('y', 100) FROM generate_series(1, 20000) AS g", "more than 10000 rows"),
    ] {
        let config = format!("{{ database = \"shop/{a}\", query = \"{}\" }}", toml(query));
        verifier_attack(&mut lab, &shop, "sql-blob-bomb", &config, stopper);
    }
    // Notices the host never hands over still count against what the server may send.
    let flood = "DO $$ BEGIN FOR i IN 1..100000 LOOP RAISE NOTICE '%', repeat('x', 10000); END LOOP; END $$";
    verifier_attack(&mut lab, &shop, "sql-verifier-writes", &writes(a, flood, "execute"), "MAX_SQL_RESULT_BYTES");
    let grew = peak_rss().saturating_sub(before);
    println!("postgres result bombs: the host's peak memory grew by {} MiB", grew >> 20);
    assert!(grew < 256 << 20, "the host's peak memory grew by {} MiB", grew >> 20);
}

#[test]
fn a_role_that_could_reach_outside_is_refused_before_any_statement() {
    let shop = Shop::new();
    let c = cluster();
    let mut lab = Lab::new();
    let mut admin = c.admin("postgres");
    let powerful = unique("powerful");
    c.confined(&powerful, "pw", &[&unique("unused")]);
    let a = &shop.a;
    let steps: Vec<(String, &str)> = vec![
        (String::new(), "it is a superuser"),
        (format!("ALTER ROLE {powerful} CREATEDB"), "CREATEDB"),
        (format!("ALTER ROLE {powerful} NOCREATEDB; GRANT pg_read_server_files TO {powerful}"), "pg_read_server_files"),
        (
            format!("REVOKE pg_read_server_files FROM {powerful}; GRANT CREATE ON DATABASE {a} TO {powerful}"),
            "has CREATE on database",
        ),
        (
            format!("REVOKE CREATE ON DATABASE {a} FROM {powerful}; ALTER DATABASE {a} OWNER TO {powerful}"),
            "owns database",
        ),
    ];
    for (setup, problem) in steps {
        let role = if setup.is_empty() { "postgres".to_string() } else { powerful.clone() };
        admin.batch_execute(&setup).unwrap();
        let connections = format!(
            "[connections.shop]\ndriver = \"postgres\"\nurl = \"{}\"\ndatabases = [\"{a}\"]",
            c.socket_url(&role, "")
        );
        let verifier = format!(
            "{}\ngrants.sql = [\"shop\"]\nconfig = {}",
            lab.plugin("sql-verifier-writes"),
            writes(a, "SELECT 1", "query")
        );
        let ended = lab.run(&lab.compose(None, None, Some(&verifier), &connections)).expect("loads");
        assert_eq!(ended.phase, Phase::RolledBack, "{}", ended.text());
        let line = stopped(&role, &ended, problem);
        assert!(line.contains("the host refuses to serve database"), "{line}");
    }
    admin.batch_execute(&format!("ALTER DATABASE {a} OWNER TO postgres")).unwrap();
    // dblink installed in the database is refused too, whoever could call it.
    c.admin(&shop.b).batch_execute("CREATE EXTENSION dblink").unwrap();
    let b = &shop.b;
    verifier_attack(&mut lab, &shop, "sql-verifier-writes", &writes(b, "SELECT 1", "query"), "extension dblink");
}

#[test]
fn a_connection_the_spec_does_not_grant_is_denied() {
    let shop = Shop::new();
    let mut lab = Lab::new();
    let check = format!(
        "plugin = \"sql-check\"\nconfig = {{ connection = \"shop\", checks = [{{ name = \"n\", query = \"SELECT 1\" }}] }}\n\n{}",
        shop.connections()
    );
    let ended = lab.run(&lab.compose(None, None, Some(&check), "")).expect("the library loads it");
    assert_eq!(ended.phase, Phase::RolledBack, "{}", ended.text());
    stopped("sql-check", &ended, "connection \"shop\" is not granted");
}
