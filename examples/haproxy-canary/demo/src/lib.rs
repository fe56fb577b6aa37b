//! Pieces shared by the canary demo binaries, `demo-service` and `load-gen`.

pub mod flags;
pub mod head;
pub mod metrics;
pub mod schedule;
