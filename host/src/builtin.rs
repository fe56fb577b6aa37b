//! The first-party plugins compiled into this binary by `build.rs`, named as a spec names them
//! (`plugin = "canary"`).

use crate::runtime::BuiltinPlugin;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
