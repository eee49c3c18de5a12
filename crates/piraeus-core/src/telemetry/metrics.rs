//! CloudWatch Embedded Metric Format: one JSON line per measurement on stdout. Lambda sends
//! stdout to CloudWatch Logs, which extracts the metrics with no API call and no extra latency.
//! Off by default (the local proxy only logs); the Lambda functions turn it on.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace the dashboard and alarms read.
pub const NAMESPACE: &str = "Piraeus";

static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// One GOPROXY request: `outcome` is hit, miss or error.
pub fn request(route: &str, outcome: &str, status: u16, duration_ms: f64) {
    // Every request passes here: build nothing when metrics are off.
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    emit(
        &[("Route", route), ("Outcome", outcome)],
        &[
            ("Requests", "Count", 1.0),
            ("Latency", "Milliseconds", duration_ms),
        ],
        json!({ "Status": status }),
    );
}

/// One download by the Go toolchain: `outcome` is stored or failed.
pub fn fetch(outcome: &str, duration_ms: f64, zip_bytes: u64) {
    emit(
        &[("Outcome", outcome)],
        &[
            ("Fetches", "Count", 1.0),
            ("FetchDuration", "Milliseconds", duration_ms),
            ("FetchBytes", "Bytes", zip_bytes as f64),
        ],
        json!({}),
    );
}

/// Work refused because a fetch queue (`download` or `lookup`) was full.
pub fn queue_full(lane: &str) {
    emit(
        &[("Queue", lane)],
        &[("QueueFull", "Count", 1.0)],
        json!({}),
    );
}

/// A stored artifact that differs from a fresh verified download (upstream rewrote a version).
pub fn integrity_conflict() {
    emit(&[], &[("IntegrityConflicts", "Count", 1.0)], json!({}));
}

fn emit(dimensions: &[(&str, &str)], metrics: &[(&str, &str, f64)], extra: Value) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    println!("{}", document(dimensions, metrics, extra));
}

fn document(dimensions: &[(&str, &str)], metrics: &[(&str, &str, f64)], extra: Value) -> Value {
    let mut fields = match extra {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    for (name, value) in dimensions {
        fields.insert((*name).into(), json!(value));
    }
    for (name, _, value) in metrics {
        fields.insert((*name).into(), json!(value));
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
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
            &[("Requests", "Count", 1.0), ("Latency", "Milliseconds", 2.5)],
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
