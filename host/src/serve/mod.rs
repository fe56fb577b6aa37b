//! `upshift serve`, the controller: the library pieces it mounts. [`metrics`] is `/metrics`;
//! [`webhooks`] notifies configured endpoints of rollout events, from the journal.

pub mod metrics;
pub mod webhooks;
