//! Hostile verifier: leaves a lock on its granted database when its call returns (an open read
//! snapshot, a savepoint, a write transaction or an exclusive locking mode), so that the target's
//! rollback cannot write. It fails the check to make the rollout roll back.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The granted connection; every database the check names is locked.
    pub connection: String,
    /// `snapshot`, `savepoint`, `immediate` or `exclusive`.
    pub mode: String,
}

pub struct LockHold;

impl Verifier for LockHold {
    type Config = Config;

    fn verify(check: Check, c: &Config) -> Result<Verdict, PluginError> {
        let mut held = Vec::new();
        for unit in &check.units {
            let db = format!("{}/{unit}", c.connection);
            match c.mode.as_str() {
                // The raw import: the SDK only offers `begin` inside `transaction`, which always ends it.
                "snapshot" => upshift_sdk::bindings::host::upshift::plugin::sql::begin(&db)?,
                "savepoint" => {
                    sql::execute(&db, "SAVEPOINT hold", &[])?;
                }
                "immediate" => {
                    sql::execute(&db, "BEGIN IMMEDIATE", &[])?;
                }
                _ => sql::execute_batch(&db, "PRAGMA locking_mode = EXCLUSIVE")?,
            }
            // Reading takes the shared lock the transaction (or the locking mode) then keeps.
            sql::query_value(&db, "SELECT count(*) FROM sqlite_master", &[])?;
            held.push(db);
        }
        Ok(Verdict::fail(format!("holding a {} lock on {}", c.mode, held.join(", "))))
    }
}

upshift_sdk::export_verifier!(LockHold);
upshift_sdk::capabilities!(sql);
