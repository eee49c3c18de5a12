//! The one error type of Piraeus: a kind, a message, and the error that caused it. Each kind maps
//! to exactly one HTTP status (`http::status_for`), so a backend only has to pick the right kind
//! at its boundary; the source is kept for logs and never shown to clients.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::redact;

/// What went wrong, by kind rather than by source. The names are also how a fetch failure is
/// recorded in the index (`failure_kind`) and in the fetch function's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The module or version does not exist (upstream said so, or nothing is stored).
    NotFound,
    /// The version exists upstream but can never be served (for example its go.mod declares
    /// another module path). Permanent, unlike `NotFound`.
    Gone,
    /// The request itself is malformed: bad path, bad version, bad escape, bad setting.
    Invalid,
    /// The module policy (a rule, the built-in internal-host rule, or the approval hook) does
    /// not allow this module or version.
    Forbidden,
    /// The upstream (the go command, a VCS host, an upstream proxy, the fetch function) failed
    /// in a way that may pass: timeouts, refused connections, 5xx answers.
    Upstream,
    /// A fetch is under way elsewhere and did not finish within the wait bound.
    Pending,
    /// The blob store or index failed.
    Storage,
    /// Something already stored disagrees with what was about to be stored. Stored data wins;
    /// this is reported, never resolved by overwriting.
    Conflict,
}

impl ErrorKind {
    const ALL: [ErrorKind; 8] = [
        ErrorKind::NotFound,
        ErrorKind::Gone,
        ErrorKind::Invalid,
        ErrorKind::Forbidden,
        ErrorKind::Upstream,
        ErrorKind::Pending,
        ErrorKind::Storage,
        ErrorKind::Conflict,
    ];

    /// The stored name (index records, fetch replies): the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Gone => "gone",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Pending => "pending",
            ErrorKind::Storage => "storage",
            ErrorKind::Conflict => "conflict",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// How the kind reads at the start of a message.
    fn label(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Gone => "gone",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Upstream => "upstream failure",
            ErrorKind::Pending => "still fetching",
            ErrorKind::Storage => "storage failure",
            ErrorKind::Conflict => "conflict",
        }
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of some [`ErrorKind`]. Displays as `kind: message`; the cause is its `source()`.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Gone, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    pub fn pending(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Pending, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A storage failure while doing `context`, caused by `source`.
    pub fn storage(
        context: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::new(ErrorKind::Storage, context.to_string()).with_source(source)
    }

    /// Keeps `source` as the cause of this error.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind's label.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same message and cause under another kind (a path that is valid in itself but can
    /// never hold this version is gone, not invalid).
    pub(crate) fn into_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The error as a client may read it: a 4xx keeps its explanation (what a user needs to fix
    /// a typo) without paths, addresses or credentials; a storage failure says only that, since
    /// its message names files, buckets or tables.
    pub fn client_message(&self) -> String {
        match self.kind {
            ErrorKind::Storage => {
                "storage failure: the proxy could not read or write its storage".into()
            }
            _ => redact::for_client(&self.to_string()),
        }
    }

    /// The message followed by every cause, for logs.
    pub fn chain(&self) -> impl fmt::Display + '_ {
        Chain(self)
    }
}

/// Credentials in URLs are hidden wherever an error is shown, logs included.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = redact::credentials(&self.message);
        write!(f, "{}: {message}", self.kind.label())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

struct Chain<'a>(&'a Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = std::error::Error::source(self.0);
        while let Some(error) = cause {
            text.push_str(&format!(": {error}"));
            cause = error.source();
        }
        write!(f, "{}", redact::credentials(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(ErrorKind::parse("nonsense"), None);
    }

    #[test]
    fn the_source_is_kept_and_shown_only_in_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error = Error::storage("writing /data/x", io);
        assert_eq!(error.to_string(), "storage failure: writing /data/x");
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(
            error.chain().to_string(),
            "storage failure: writing /data/x: denied"
        );
    }
}
