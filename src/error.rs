//! The one error type of the library. Each kind maps to exactly one HTTP status in
//! `http::status_for`, so a backend only has to pick the right kind at its boundary.

/// What went wrong, by kind rather than by source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module or version does not exist (upstream said so, or nothing is stored).
    #[error("not found: {0}")]
    NotFound(String),
    /// The version exists upstream but can never be served (for example its go.mod declares
    /// another module path). Permanent, unlike `NotFound`.
    #[error("gone: {0}")]
    Gone(String),
    /// The request itself is malformed: bad path, bad version, bad escape.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The upstream (the go command, a VCS host, an upstream proxy) failed in a way that may
    /// pass: timeouts, refused connections, 5xx answers.
    #[error("upstream failure: {0}")]
    Upstream(String),
    /// A fetch is under way elsewhere and did not finish within the wait bound.
    #[error("still fetching: {0}")]
    Pending(String),
    /// The blob store or index failed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// Something already stored disagrees with what was about to be stored. Stored data wins;
    /// this is reported, never resolved by overwriting.
    #[error("conflict: {0}")]
    Conflict(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn storage(context: impl std::fmt::Display, error: impl std::fmt::Display) -> Self {
        Error::Storage(format!("{context}: {error}"))
    }
}
