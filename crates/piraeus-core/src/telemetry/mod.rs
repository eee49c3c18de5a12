//! What Piraeus tells its operators: logs on stderr, and metrics (`metrics` names and reports
//! each once) as CloudWatch embedded-metric lines on stdout (on in the Lambda functions) and,
//! with the `prometheus` feature, for `GET /metrics` (`piraeus serve --metrics`).

mod catalog;
mod format;
pub mod logging;
pub mod metrics;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub(crate) mod request;
