//! What Piraeus tells its operators: logs on stderr, and metrics as CloudWatch embedded-metric
//! lines on stdout (on in the Lambda functions).

pub mod logging;
pub mod metrics;
