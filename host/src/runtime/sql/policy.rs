//! What a SQL grant allows, decided per action by SQLite's authorizer (never by reading SQL text):
//! nothing outside the granted database (no ATTACH, DETACH or VACUUM INTO, no functions that reach
//! files or extensions), no change at all through a read-only grant, and only the PRAGMAs listed
//! here, with the settings that would weaken a database or lock it past a call refused for everyone.

use rusqlite::ffi;
use rusqlite::hooks::AuthAction;

/// What a plugin may do with its granted databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and change the data and schema of each granted database (a target).
    ReadWrite,
    /// Read only (a verifier or a strategy: they observe, they do not change).
    ReadOnly,
}

/// Functions no plugin may call: they load native code, reach files, or hand out host pointers.
/// (`readfile`, `writefile` and `edit` exist only in the sqlite3 shell; listed in case a build adds them.)
pub const DENIED_FUNCTIONS: &[&str] = &["load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"];

/// PRAGMAs that only report; an argument names what to report on (a table, an index, a count).
const REPORTS: &[&str] = &[
    "integrity_check",
    "quick_check",
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
    "foreign_key_check",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "freelist_count",
    "page_count",
    "data_version",
];

/// PRAGMAs that change the database file or its statistics: a target's maintenance.
const MAINTENANCE: &[&str] = &["optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"];

/// How a target may set a setting (anyone may read it).
enum Set {
    Any,
    /// Only these values (lower case), with why the others are refused.
    OneOf(&'static [&'static str], &'static str),
    Never(&'static str),
}

const HOST_RESOURCES: &str = "it changes how much memory, time or disk the host spends on the plugin's behalf";

/// Settings: readable by every plugin, settable by a target as each says.
const SETTINGS: &[(&str, Set)] = &[
    ("user_version", Set::Any),
    ("application_id", Set::Any),
    ("foreign_keys", Set::Any),
    ("defer_foreign_keys", Set::Any),
    ("recursive_triggers", Set::Any),
    ("auto_vacuum", Set::Any),
    ("page_size", Set::Any),
    ("encoding", Set::Any),
    ("secure_delete", Set::Any),
    ("automatic_index", Set::Any),
    ("cell_size_check", Set::Any),
    ("legacy_alter_table", Set::Any),
    ("reverse_unordered_selects", Set::Any),
    ("case_sensitive_like", Set::Any),
    ("wal_autocheckpoint", Set::Any),
    ("journal_size_limit", Set::Any),
    ("max_page_count", Set::Any),
    ("analysis_limit", Set::Any),
    ("query_only", Set::Any),
    (
        "journal_mode",
        Set::OneOf(
            &["delete", "truncate", "persist", "wal"],
            "without a journal on disk a crash or a failed statement can corrupt the database",
        ),
    ),
    (
        "synchronous",
        Set::OneOf(&["full", "extra", "2", "3"], "below FULL a crash can lose or corrupt committed changes"),
    ),
    ("locking_mode", Set::OneOf(&["normal"], "an exclusive lock would outlive the call and block everyone else")),
    ("writable_schema", Set::Never("it lets SQL write the schema table directly and corrupt the database")),
    ("schema_version", Set::Never("setting it can corrupt the database")),
    ("trusted_schema", Set::Never("views and triggers may not call functions with side effects")),
    ("ignore_check_constraints", Set::Never("it lets writes break the database's CHECK constraints")),
    ("cache_size", Set::Never(HOST_RESOURCES)),
    ("cache_spill", Set::Never(HOST_RESOURCES)),
    ("mmap_size", Set::Never(HOST_RESOURCES)),
    ("temp_store", Set::Never(HOST_RESOURCES)),
    ("busy_timeout", Set::Never(HOST_RESOURCES)),
    ("threads", Set::Never(HOST_RESOURCES)),
    ("soft_heap_limit", Set::Never(HOST_RESOURCES)),
    ("hard_heap_limit", Set::Never(HOST_RESOURCES)),
];

const ONE_DATABASE: &str = "a SQL grant is exactly its own databases";
pub const READ_ONLY: &str = "this SQL grant is read-only here (verifiers, strategies and a target's observe only read; a target changes in apply, rollback and finalize)";

/// Whether `access` allows `action`; the reason when it does not.
pub fn judge(access: Access, action: &AuthAction<'_>) -> Result<(), String> {
    use AuthAction as A;
    match *action {
        A::Select | A::Read { .. } | A::Recursive | A::Transaction { .. } | A::Savepoint { .. } => Ok(()),
        A::Attach { filename: "" } => Err(format!(
            "VACUUM and ATTACH need another database file, and attaching one is not allowed ({ONE_DATABASE})"
        )),
        A::Attach { filename } => Err(format!(
            "attaching another database ({:?}) is not allowed ({ONE_DATABASE}; VACUUM INTO writes a new one and is refused too)",
            filename.chars().take(200).collect::<String>()
        )),
        // A file named by a parameter or an expression reaches the authorizer without its name.
        A::Unknown { code: ffi::SQLITE_ATTACH, .. } => {
            Err(format!("attaching another database (named by an expression) is not allowed ({ONE_DATABASE})"))
        }
        A::Detach { .. } | A::Unknown { code: ffi::SQLITE_DETACH, .. } => {
            Err(format!("detaching a database is not allowed ({ONE_DATABASE})"))
        }
        A::Function { function_name } => {
            let name = function_name.to_ascii_lowercase();
            if DENIED_FUNCTIONS.contains(&name.as_str()) {
                Err(format!("function {name}() is not available to plugins: it reaches outside the database"))
            } else {
                Ok(())
            }
        }
        A::Pragma { pragma_name, pragma_value } => pragma(access, pragma_name, pragma_value),
        A::Unknown { code, .. } => Err(format!("SQLite action {code} is not one this host allows")),
        _ if access == Access::ReadOnly => Err(format!("{} changes the database, and {READ_ONLY}", describe(action))),
        _ => Ok(()),
    }
}

fn pragma(access: Access, name: &str, value: Option<&str>) -> Result<(), String> {
    let name = name.to_ascii_lowercase();
    let shown = match value {
        Some(v) => format!("PRAGMA {name} = {:?}", v.chars().take(40).collect::<String>()),
        None => format!("PRAGMA {name}"),
    };
    if REPORTS.contains(&name.as_str()) {
        return Ok(());
    }
    if MAINTENANCE.contains(&name.as_str()) {
        return match access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(format!("{shown} writes to the database, and {READ_ONLY}")),
        };
    }
    let Some((_, rule)) = SETTINGS.iter().find(|(n, _)| *n == name) else {
        return Err(format!("{shown} is not a PRAGMA plugins may use (see \"What a SQL grant allows\" in the README)"));
    };
    let Some(value) = value else {
        return Ok(());
    };
    if access == Access::ReadOnly {
        return Err(format!("{shown} changes a setting, and {READ_ONLY}"));
    }
    let value = value.trim().to_ascii_lowercase();
    match rule {
        Set::Any => Ok(()),
        Set::OneOf(allowed, _) if allowed.contains(&value.as_str()) => Ok(()),
        Set::OneOf(allowed, why) => Err(format!("{shown} is refused: {why} (allowed: {})", allowed.join(", "))),
        Set::Never(why) => Err(format!("{shown} is refused: {why}")),
    }
}

/// The tables that hold a database's schema.
const SCHEMA_TABLES: &[&str] = &["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"];

/// The action in a few words, for a refusal.
fn describe(action: &AuthAction<'_>) -> String {
    use AuthAction as A;
    match *action {
        // Creating or dropping anything writes the schema table first.
        A::Insert { table_name } | A::Update { table_name, .. } | A::Delete { table_name }
            if SCHEMA_TABLES.contains(&table_name) =>
        {
            format!("a change to the schema ({table_name})")
        }
        A::Insert { table_name } => format!("INSERT into {table_name}"),
        A::Update { table_name, .. } => format!("UPDATE of {table_name}"),
        A::Delete { table_name } => format!("DELETE from {table_name}"),
        A::CreateTable { table_name } | A::CreateTempTable { table_name } => format!("CREATE TABLE {table_name}"),
        A::CreateIndex { index_name, .. } | A::CreateTempIndex { index_name, .. } => {
            format!("CREATE INDEX {index_name}")
        }
        A::CreateTrigger { trigger_name, .. } | A::CreateTempTrigger { trigger_name, .. } => {
            format!("CREATE TRIGGER {trigger_name}")
        }
        A::CreateView { view_name } | A::CreateTempView { view_name } => format!("CREATE VIEW {view_name}"),
        A::CreateVtable { table_name, .. } => format!("CREATE VIRTUAL TABLE {table_name}"),
        A::DropTable { table_name } | A::DropTempTable { table_name } => format!("DROP TABLE {table_name}"),
        A::DropIndex { index_name, .. } | A::DropTempIndex { index_name, .. } => format!("DROP INDEX {index_name}"),
        A::DropTrigger { trigger_name, .. } | A::DropTempTrigger { trigger_name, .. } => {
            format!("DROP TRIGGER {trigger_name}")
        }
        A::DropView { view_name } | A::DropTempView { view_name } => format!("DROP VIEW {view_name}"),
        A::DropVtable { table_name, .. } => format!("DROP VIRTUAL TABLE {table_name}"),
        A::AlterTable { table_name, .. } => format!("ALTER TABLE {table_name}"),
        A::Reindex { .. } => "REINDEX".into(),
        A::Analyze { .. } => "ANALYZE".into(),
        _ => "this statement".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::hooks::TransactionOperation;

    fn pragma_action<'a>(name: &'a str, value: Option<&'a str>) -> AuthAction<'a> {
        AuthAction::Pragma { pragma_name: name, pragma_value: value }
    }

    #[test]
    fn nobody_attaches_detaches_or_loads_extensions() {
        for access in [Access::ReadWrite, Access::ReadOnly] {
            let attach = judge(access, &AuthAction::Attach { filename: "../state.db" }).unwrap_err();
            assert!(attach.contains("\"../state.db\"") && attach.contains(ONE_DATABASE), "{attach}");
            assert!(judge(access, &AuthAction::Attach { filename: "" }).unwrap_err().contains("VACUUM"));
            assert!(judge(access, &AuthAction::Detach { database_name: "x" }).is_err());
            let unnamed = AuthAction::Unknown { code: ffi::SQLITE_ATTACH, arg1: None, arg2: None };
            assert!(judge(access, &unnamed).unwrap_err().contains("named by an expression"));
            for f in DENIED_FUNCTIONS {
                assert!(judge(access, &AuthAction::Function { function_name: f }).is_err(), "{f}");
            }
            assert!(judge(access, &AuthAction::Function { function_name: "LOAD_EXTENSION" }).is_err());
            assert_eq!(judge(access, &AuthAction::Function { function_name: "count" }), Ok(()));
        }
    }

    #[test]
    fn a_read_only_grant_reads_and_never_writes() {
        let ro = Access::ReadOnly;
        assert_eq!(judge(ro, &AuthAction::Read { table_name: "t", column_name: "x" }), Ok(()));
        assert_eq!(judge(ro, &AuthAction::Transaction { operation: TransactionOperation::Begin }), Ok(()));
        let why = judge(ro, &AuthAction::Insert { table_name: "orders" }).unwrap_err();
        assert!(why.contains("INSERT into orders") && why.contains("read-only"), "{why}");
        assert!(judge(ro, &AuthAction::CreateTempTable { table_name: "t" }).is_err());
        let why = judge(ro, &AuthAction::Delete { table_name: "sqlite_master" }).unwrap_err();
        assert!(why.starts_with("a change to the schema (sqlite_master)"), "{why}");
        assert!(judge(ro, &AuthAction::DropTable { table_name: "t" }).is_err());
        assert_eq!(judge(Access::ReadWrite, &AuthAction::DropTable { table_name: "t" }), Ok(()));
    }

    #[test]
    fn reports_and_reading_settings_are_allowed_to_everyone() {
        for access in [Access::ReadWrite, Access::ReadOnly] {
            assert_eq!(judge(access, &pragma_action("integrity_check", None)), Ok(()));
            assert_eq!(judge(access, &pragma_action("Table_Info", Some("orders"))), Ok(()));
            assert_eq!(judge(access, &pragma_action("user_version", None)), Ok(()));
            assert_eq!(judge(access, &pragma_action("journal_mode", None)), Ok(()));
        }
    }

    #[test]
    fn a_read_only_grant_sets_nothing_and_runs_no_maintenance() {
        let ro = Access::ReadOnly;
        for (name, value) in [("user_version", "9"), ("query_only", "off"), ("journal_mode", "wal")] {
            let why = judge(ro, &pragma_action(name, Some(value))).unwrap_err();
            assert!(why.contains("read-only"), "{why}");
        }
        assert!(judge(ro, &pragma_action("wal_checkpoint", None)).is_err());
        assert_eq!(judge(Access::ReadWrite, &pragma_action("wal_checkpoint", Some("truncate"))), Ok(()));
    }

    #[test]
    fn a_target_cannot_weaken_durability_or_lock_past_its_call() {
        let rw = Access::ReadWrite;
        for (name, value) in [
            ("journal_mode", "OFF"),
            ("journal_mode", "memory"),
            ("synchronous", "off"),
            ("synchronous", "0"),
            ("synchronous", "normal"),
            ("synchronous", "no"),
            ("locking_mode", "EXCLUSIVE"),
            ("writable_schema", "on"),
            ("writable_schema", "1"),
            ("schema_version", "7"),
            ("trusted_schema", "1"),
            ("cache_size", "-1000000000"),
            ("temp_store", "memory"),
            ("busy_timeout", "600000"),
        ] {
            let why = judge(rw, &pragma_action(name, Some(value))).unwrap_err();
            assert!(why.contains("refused"), "{name}={value}: {why}");
        }
        for (name, value) in [("journal_mode", "WAL"), ("synchronous", "FULL"), ("foreign_keys", "off")] {
            assert_eq!(judge(rw, &pragma_action(name, Some(value))), Ok(()), "{name}={value}");
        }
    }

    #[test]
    fn an_unknown_pragma_is_refused() {
        for name in ["temp_store_directory", "database_list", "no_such_pragma", "parser_trace"] {
            let why = judge(Access::ReadWrite, &pragma_action(name, None)).unwrap_err();
            assert!(why.contains("not a PRAGMA plugins may use"), "{why}");
        }
    }
}
