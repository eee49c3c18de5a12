//! The calls that report each metric ([`super::catalog`] names them). Each call feeds both
//! outputs from the same place, so the two always agree:
//! - CloudWatch Embedded Metric Format: one JSON line per measurement on stdout. Lambda sends
//!   stdout to CloudWatch Logs, which extracts the metrics with no API call and no extra
//!   latency. Off by default; the Lambda functions turn it on ([`enable`]).
//! - Prometheus: counters, gauges and histograms in this process, read by `GET /metrics`
//!   (`piraeus serve --metrics`; [`super::prometheus`], behind the `prometheus` feature).
//!

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};

pub use super::catalog::*;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns on the CloudWatch EMF lines (the Lambda functions).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn cloudwatch(metric: &Metric) -> &'static str {
    metric.cloudwatch.expect("a metric CloudWatch has")
}

/// One request: `outcome` is hit, miss, error or other; `bytes` the body's announced length.
/// Every request passes here, hits included: nothing is allocated or locked unless EMF is on.
pub fn request(
    route: &'static str,
    outcome: &'static str,
    status: u16,
    duration_ms: f64,
    bytes: u64,
) {
    #[cfg(feature = "prometheus")]
    super::prometheus::request(route, outcome, status, duration_ms / 1000.0, bytes);
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    emit(
        &[("Route", route), ("Outcome", outcome)],
        &[
            (&REQUESTS, 1.0),
            (&LATENCY, duration_ms),
            (&BYTES_SERVED, bytes as f64),
        ],
        json!({ "Status": status }),
    );
}

/// One download by the Go toolchain: `outcome` is stored or failed.
pub fn fetch(outcome: &'static str, duration_ms: f64, zip_bytes: u64) {
    #[cfg(feature = "prometheus")]
    super::prometheus::fetch(outcome, duration_ms / 1000.0, zip_bytes);
    emit(
        &[("Outcome", outcome)],
        &[
            (&FETCHES, 1.0),
            (&FETCH_DURATION, duration_ms),
            (&FETCH_BYTES, zip_bytes as f64),
        ],
        json!({}),
    );
}

/// Work refused because a fetch queue (`download` or `lookup`) was full.
pub fn queue_full(lane: &'static str) {
    #[cfg(feature = "prometheus")]
    super::prometheus::queue_full(lane);
    emit(&[("Queue", lane)], &[(&QUEUE_FULL, 1.0)], json!({}));
}

/// A go command started (`+1`) or stopped (`-1`) waiting in `lane`'s queue. Prometheus only:
/// a gauge is read when scraped, and on AWS Lambda's own metrics show its event queue.
pub fn queue_depth(lane: &'static str, change: i64) {
    #[cfg(feature = "prometheus")]
    super::prometheus::queue_depth(lane, change);
    #[cfg(not(feature = "prometheus"))]
    let _ = (lane, change);
}

/// A stored artifact that differs from a fresh verified download (upstream rewrote a version).
pub fn integrity_conflict() {
    #[cfg(feature = "prometheus")]
    super::prometheus::integrity_conflict();
    emit(&[], &[(&INTEGRITY_CONFLICTS, 1.0)], json!({}));
}

/// `count` versions verified with `outcome` ok or problem (one call per outcome and run).
pub fn verified(outcome: &'static str, count: u64) {
    #[cfg(feature = "prometheus")]
    super::prometheus::verified(outcome, count);
    emit(
        &[("Outcome", outcome)],
        &[(&VERIFIED, count as f64)],
        json!({}),
    );
}

/// A request waiting for a version's fetch. Reported once, when [`LeaseWait::finish`]ed or
/// dropped (`abandoned`: the client went away or the index failed while waiting).
pub struct LeaseWait {
    started: Instant,
    outcome: &'static str,
}

impl LeaseWait {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            outcome: "abandoned",
        }
    }

    /// Ends the wait: `stored`, `failed` or `timeout`.
    pub fn finish(mut self, outcome: &'static str) {
        self.outcome = outcome;
    }
}

impl Drop for LeaseWait {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        #[cfg(feature = "prometheus")]
        super::prometheus::lease_wait(self.outcome, seconds);
        emit(
            &[("Outcome", self.outcome)],
            &[
                (&LEASE_WAITS, 1.0),
                (&LEASE_WAIT_DURATION, seconds * 1000.0),
            ],
            json!({}),
        );
    }
}

fn emit(dimensions: &[(&str, &str)], metrics: &[(&Metric, f64)], extra: Value) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    println!("{}", document(dimensions, metrics, extra));
}

fn document(dimensions: &[(&str, &str)], metrics: &[(&Metric, f64)], extra: Value) -> Value {
    let mut fields = match extra {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    for (name, value) in dimensions {
        fields.insert((*name).into(), json!(value));
    }
    for (metric, value) in metrics {
        fields.insert(cloudwatch(metric).into(), json!(value));
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(metric, _)| json!({ "Name": cloudwatch(metric), "Unit": metric.unit }))
        .collect();
    let dimension_names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": crate::clock::now_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimension_names],
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_embedded_metric_format() {
        let line = document(
            &[("Route", "zip"), ("Outcome", "hit")],
            &[(&REQUESTS, 1.0), (&LATENCY, 2.5)],
            json!({ "Status": 200 }),
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Route", "Outcome"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "Latency", "Unit": "Milliseconds"})
        );
        assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        // Every dimension and metric named in the directive is a top-level member.
        assert_eq!(line["Route"], "zip");
        assert_eq!(line["Outcome"], "hit");
        assert_eq!(line["Requests"], 1.0);
        assert_eq!(line["Latency"], 2.5);
        assert_eq!(line["Status"], 200);
    }
}
