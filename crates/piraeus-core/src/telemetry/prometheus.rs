//! The Prometheus side of [`super::metrics`]: the same measurements kept in this process and
//! exposed by `GET /metrics` in the OpenMetrics text format (`piraeus serve --metrics`).
//!
//! A hit must stay cheap. A request's counters and histogram are found through a per-thread
//! map of handles keyed by (route, outcome, status), all `&'static` or small: after a thread's
//! first request of a kind, recording it is a hash lookup and four atomic additions, with no
//! lock and no allocation. (prometheus-client's own histogram takes a mutex per observation,
//! hence [`AtomicHistogram`].)

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Metric as RegistryMetric, Registry};

use super::catalog::{self, Metric};

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Requests take from 0.1 ms (a hit from memory) to minutes (a miss waiting for a fetch).
const REQUEST_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];
/// Fetches and waits for them: from a second to the fetch timeout (10 minutes by default).
const FETCH_SECONDS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// Starts keeping metrics (until then every call is one atomic load).
pub fn enable() {
    RECORDER.get_or_init(Recorder::new);
}

/// Everything recorded so far, in the OpenMetrics text format ([`CONTENT_TYPE`]); empty when
/// not [`enable`]d.
pub fn render() -> String {
    let mut text = String::new();
    if let Some(recorder) = RECORDER.get() {
        prometheus_client::encoding::text::encode(&mut text, &recorder.registry)
            .expect("writing to a String cannot fail");
    }
    text
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    outcome: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

type Histograms<L> = Family<L, AtomicHistogram, fn() -> AtomicHistogram>;

struct Recorder {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<RouteLabels>,
    served_bytes: Family<RouteLabels, Counter>,
    fetches: Family<OutcomeLabels, Counter>,
    fetch_duration: Histograms<OutcomeLabels>,
    fetched_bytes: Family<OutcomeLabels, Counter>,
    queue_full: Family<QueueLabels, Counter>,
    queue_depth: Family<QueueLabels, Gauge>,
    lease_waits: Family<OutcomeLabels, Counter>,
    lease_wait_duration: Histograms<OutcomeLabels>,
    integrity_conflicts: Counter,
    verified: Family<OutcomeLabels, Counter>,
}

impl Recorder {
    fn new() -> Self {
        let recorder = Self {
            registry: Registry::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(|| {
                AtomicHistogram::new(REQUEST_SECONDS)
            }),
            served_bytes: Family::default(),
            fetches: Family::default(),
            fetch_duration: Family::new_with_constructor(|| AtomicHistogram::new(FETCH_SECONDS)),
            fetched_bytes: Family::default(),
            queue_full: Family::default(),
            queue_depth: Family::default(),
            lease_waits: Family::default(),
            lease_wait_duration: Family::new_with_constructor(|| {
                AtomicHistogram::new(FETCH_SECONDS)
            }),
            integrity_conflicts: Counter::default(),
            verified: Family::default(),
        };
        // Both queues show from the start, at 0.
        for queue in ["download", "lookup"] {
            let _ = recorder.queue_depth.get_or_create(&QueueLabels { queue });
        }
        let mut registry = Registry::default();
        fn register(registry: &mut Registry, metric: &Metric, handle: impl RegistryMetric) {
            registry.register(metric.prometheus, metric.help, handle);
        }
        let r = &recorder;
        register(&mut registry, &catalog::REQUESTS, r.requests.clone());
        register(&mut registry, &catalog::LATENCY, r.request_duration.clone());
        register(
            &mut registry,
            &catalog::BYTES_SERVED,
            r.served_bytes.clone(),
        );
        register(&mut registry, &catalog::FETCHES, r.fetches.clone());
        register(
            &mut registry,
            &catalog::FETCH_DURATION,
            r.fetch_duration.clone(),
        );
        register(
            &mut registry,
            &catalog::FETCH_BYTES,
            r.fetched_bytes.clone(),
        );
        register(&mut registry, &catalog::QUEUE_FULL, r.queue_full.clone());
        register(&mut registry, &catalog::QUEUE_DEPTH, r.queue_depth.clone());
        register(&mut registry, &catalog::LEASE_WAITS, r.lease_waits.clone());
        register(
            &mut registry,
            &catalog::LEASE_WAIT_DURATION,
            r.lease_wait_duration.clone(),
        );
        register(
            &mut registry,
            &catalog::INTEGRITY_CONFLICTS,
            r.integrity_conflicts.clone(),
        );
        register(&mut registry, &catalog::VERIFIED, r.verified.clone());
        Self {
            registry,
            ..recorder
        }
    }
}

/// One request's handles, shared with the families that expose them.
struct RequestHandles {
    requests: Counter,
    duration: AtomicHistogram,
    bytes: Counter,
}

thread_local! {
    static REQUEST_HANDLES: RefCell<HashMap<(&'static str, &'static str, u16), RequestHandles>> =
        RefCell::new(HashMap::new());
}

pub(super) fn request(
    route: &'static str,
    outcome: &'static str,
    status: u16,
    seconds: f64,
    bytes: u64,
) {
    let Some(recorder) = RECORDER.get() else {
        return;
    };
    REQUEST_HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        let handle = handles.entry((route, outcome, status)).or_insert_with(|| {
            let labels = RouteLabels { route, outcome };
            RequestHandles {
                requests: recorder
                    .requests
                    .get_or_create(&RequestLabels {
                        route,
                        outcome,
                        status,
                    })
                    .clone(),
                duration: recorder.request_duration.get_or_create(&labels).clone(),
                bytes: recorder.served_bytes.get_or_create(&labels).clone(),
            }
        });
        handle.requests.inc();
        handle.duration.observe(seconds);
        if bytes > 0 {
            handle.bytes.inc_by(bytes);
        }
    });
}

pub(super) fn fetch(outcome: &'static str, seconds: f64, zip_bytes: u64) {
    let Some(recorder) = RECORDER.get() else {
        return;
    };
    let labels = OutcomeLabels { outcome };
    recorder.fetches.get_or_create(&labels).inc();
    recorder
        .fetch_duration
        .get_or_create(&labels)
        .observe(seconds);
    recorder
        .fetched_bytes
        .get_or_create(&labels)
        .inc_by(zip_bytes);
}

pub(super) fn queue_full(queue: &'static str) {
    if let Some(recorder) = RECORDER.get() {
        recorder
            .queue_full
            .get_or_create(&QueueLabels { queue })
            .inc();
    }
}

pub(super) fn queue_depth(queue: &'static str, change: i64) {
    if let Some(recorder) = RECORDER.get() {
        recorder
            .queue_depth
            .get_or_create(&QueueLabels { queue })
            .inc_by(change);
    }
}

pub(super) fn lease_wait(outcome: &'static str, seconds: f64) {
    let Some(recorder) = RECORDER.get() else {
        return;
    };
    let labels = OutcomeLabels { outcome };
    recorder.lease_waits.get_or_create(&labels).inc();
    recorder
        .lease_wait_duration
        .get_or_create(&labels)
        .observe(seconds);
}

pub(super) fn integrity_conflict() {
    if let Some(recorder) = RECORDER.get() {
        recorder.integrity_conflicts.inc();
    }
}

pub(super) fn verified(outcome: &'static str, count: u64) {
    if let Some(recorder) = RECORDER.get() {
        recorder
            .verified
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(count);
    }
}

/// A histogram of seconds made of atomics: observing is two atomic additions.
#[derive(Clone, Debug)]
struct AtomicHistogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    /// Upper bounds, ascending; the last bucket (+Inf) is implied.
    bounds: &'static [f64],
    /// One per bound, then +Inf: observations in that bucket only (not cumulative).
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self(Arc::new(HistogramCells {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }))
    }

    fn observe(&self, seconds: f64) {
        let cells = &self.0;
        let bucket = cells
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(cells.bounds.len());
        cells.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = (seconds.max(0.0) * 1e9) as u64;
        cells.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let cells = &self.0;
        // The encoder makes the counts cumulative.
        let buckets: Vec<(f64, u64)> = cells
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(
                cells
                    .counts
                    .iter()
                    .map(|count| count.load(Ordering::Relaxed)),
            )
            .collect();
        let count = buckets.iter().map(|(_, count)| count).sum();
        let sum = cells.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics;

    #[test]
    fn histograms_encode_cumulative_buckets() {
        let histogram = AtomicHistogram::new(&[0.1, 1.0]);
        histogram.observe(0.05);
        histogram.observe(0.5);
        histogram.observe(5.0);
        let mut registry = Registry::default();
        registry.register("h_seconds", "test", histogram);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("h_seconds_count 3\n"), "{text}");
        assert!(text.contains("h_seconds_sum 5.55\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"1.0\"} 2\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
    }

    #[test]
    fn every_metric_is_exposed_under_its_name() {
        enable();
        metrics::request("zip", "hit", 200, 0.2, 1234);
        metrics::fetch("stored", 1500.0, 99);
        metrics::queue_full("lookup");
        metrics::queue_depth("download", 1);
        metrics::LeaseWait::start().finish("stored");
        metrics::integrity_conflict();
        metrics::verified("ok", 3);
        let text = render();
        for metric in metrics::ALL {
            let name = metric.exposed();
            let sample = match metric.kind {
                metrics::Kind::Histogram => format!("{name}_count"),
                _ => name,
            };
            assert!(
                text.lines().any(|line| line.starts_with(&sample)),
                "{sample} missing from\n{text}"
            );
        }
        assert!(
            text.contains("piraeus_requests_total{route=\"zip\",outcome=\"hit\",status=\"200\"}"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
