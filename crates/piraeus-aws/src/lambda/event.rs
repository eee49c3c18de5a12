//! The fetch function's event and its reply, as JSON: what serve and prefetch send, what the
//! fetch function answers.

use piraeus_core::Result;
use piraeus_core::fetch::ResolvedVersion;
use piraeus_core::golang::path::{check_module_path, check_query, check_version_for_path};
use piraeus_core::index::{FetchFailure, StoredVersion};
use serde::{Deserialize, Serialize};

/// The fetch function's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FetchRequest {
    /// Download and store a version under the fetch lease `holder` took (asynchronous).
    Download {
        module: String,
        version: String,
        holder: String,
    },
    /// The module's versions upstream (synchronous).
    List { module: String },
    /// What a query (`latest`, a branch, a commit prefix) resolves to upstream (synchronous).
    Resolve { module: String, query: String },
    /// Re-hash the versions stored since the last verify (the EventBridge Scheduler schedule
    /// of template.yaml's `VerifySchedule`, asynchronous).
    Verify {},
}

/// The fetch function's answer. Failures are answers, not function errors: Lambda retries an
/// asynchronous event that errors, and a module that does not exist will not appear on retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FetchReply {
    Stored(StoredVersion),
    Versions {
        versions: Vec<String>,
    },
    Resolved(ResolvedVersion),
    /// What a verify run checked: `findings` names the first problems (at most 100).
    Verified {
        checked: usize,
        problems: usize,
        /// `false` when the run stopped at its time budget; the next run goes on from there.
        complete: bool,
        findings: Vec<String>,
    },
    Failed(FetchFailure),
}

impl FetchRequest {
    /// Applies the same rules as the router: events can come from anything allowed to invoke.
    pub fn validate(&self) -> Result<()> {
        match self {
            FetchRequest::Download {
                module, version, ..
            } => check_version_for_path(module, version),
            FetchRequest::List { module } => check_module_path(module),
            FetchRequest::Resolve { module, query } => {
                check_module_path(module)?;
                check_query(query)
            }
            FetchRequest::Verify {} => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_a_stable_json_shape() {
        let request: FetchRequest = serde_json::from_str(
            r#"{"action":"download","module":"example.com/m","version":"v1.0.0","holder":"h"}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            FetchRequest::Download {
                module: "example.com/m".into(),
                version: "v1.0.0".into(),
                holder: "h".into()
            }
        );
        let reply = FetchReply::Resolved(ResolvedVersion {
            version: "v1.0.0".into(),
            time: "2024-01-01T00:00:00Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"outcome":"resolved","Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#
        );
        let failed: FetchReply =
            serde_json::from_str(r#"{"outcome":"failed","kind":"not_found","message":"no"}"#)
                .unwrap();
        assert!(matches!(failed, FetchReply::Failed(ref f) if f.message == "no"));
        let verify: FetchRequest = serde_json::from_str(r#"{"action": "verify"}"#).unwrap();
        assert_eq!(verify, FetchRequest::Verify {});
    }

    #[test]
    fn events_are_validated_like_requests() {
        let download = |module: &str, version: &str| FetchRequest::Download {
            module: module.into(),
            version: version.into(),
            holder: "h".into(),
        };
        assert!(download("example.com/m", "v1.0.0").validate().is_ok());
        assert!(download("example.com/m", "v2.0.0").validate().is_err());
        assert!(download("example.com/../m", "v1.0.0").validate().is_err());
        assert!(download("example.com/m", "master").validate().is_err());
        let resolve = |query: &str| FetchRequest::Resolve {
            module: "example.com/m".into(),
            query: query.into(),
        };
        assert!(resolve("main").validate().is_ok());
        assert!(resolve("--upload-pack=x").validate().is_err());
    }
}
