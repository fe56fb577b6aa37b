//! Spec errors: each names the file, and for syntax errors the line and column.

use std::path::{Path, PathBuf};

use crate::runtime::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, column: usize, message: String },

    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },

    /// A plugin `file` the spec does not pin with `sha256`; the error names the digest to add.
    #[error("{}: {source}", path.display())]
    Unpinned { path: PathBuf, source: LoadError },
}

impl SpecError {
    /// A TOML error located in `text` by line and column (both 1-based).
    pub fn parse(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let offset = e.span().map_or(0, |s| s.start).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let message = e.message().trim().replace('\n', " ");
        SpecError::Parse { path: path.to_path_buf(), line, column, message }
    }
}
