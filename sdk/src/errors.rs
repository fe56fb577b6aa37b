//! Constructors for [`PluginError`], one per [`ErrorKind`], so plugin code says what went wrong.

use crate::types::{ErrorKind, PluginError};

impl PluginError {
    fn new(kind: ErrorKind, message: impl Into<String>, retryable: bool) -> Self {
        PluginError { kind, message: message.into(), retryable }
    }

    /// The spec's configuration for this plugin is wrong; retrying cannot help.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message, false)
    }

    /// A dependency could not be reached; a retry may help.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message, true)
    }

    /// The host refused a capability.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message, false)
    }

    /// The system is not in a state this call can act on.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message, false)
    }

    /// Anything else.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message, false)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Denied => "denied",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        };
        f.write_str(name)
    }
}
