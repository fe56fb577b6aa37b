//! The store's tests run on both backends: each test is a function of the [`Backend`], and
//! [`on_both!`] makes a `#[test]` of it for SQLite (a file in a temporary folder) and for
//! PostgreSQL (a database of its own on a real cluster the test process starts, see
//! `tests/common/postgres.rs`).

use super::{Location, Store};

#[path = "../../../tests/common/postgres.rs"]
mod cluster;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store location no other test uses.
pub struct Fresh {
    /// Keeps a SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
    pub location: Location,
}

impl Fresh {
    pub fn new(backend: Backend) -> Fresh {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("sub").join("state.db");
                Fresh { _dir: Some(dir), location: Location::File(path) }
            }
            Backend::Postgres => {
                let c = cluster::cluster();
                let name = cluster::unique("store");
                c.admin("postgres").batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                Fresh { _dir: None, location: Location::Postgres(c.url(cluster::SUPERUSER, &name)) }
            }
        }
    }

    pub fn open(&self) -> Store {
        Store::open(&self.location).unwrap()
    }
}

/// `#[test]`s of the functions named, once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}
pub(super) use on_both;
