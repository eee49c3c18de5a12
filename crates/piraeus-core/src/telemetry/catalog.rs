//! Every metric Piraeus reports, named once ([`ALL`]): its CloudWatch name and unit, its
//! Prometheus family and kind, its help. [`super::metrics`] reports them; [`super::prometheus`]
//! registers them. docs/operations.md has the table of names; the `names_are_documented` test
//! keeps it true.

/// The CloudWatch namespace the dashboard and alarms read.
pub const NAMESPACE: &str = "Piraeus";

/// What a metric is in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// In seconds; CloudWatch gets each observation in milliseconds.
    Histogram,
}

/// One metric under both of its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The CloudWatch metric name (namespace [`NAMESPACE`]); `None` for the one metric that
    /// only Prometheus has ([`QUEUE_DEPTH`]).
    pub cloudwatch: Option<&'static str>,
    /// The CloudWatch unit.
    pub unit: &'static str,
    pub kind: Kind,
    /// The Prometheus family name. A counter is exposed with `_total` appended.
    pub prometheus: &'static str,
    pub help: &'static str,
}

impl Metric {
    /// The name samples have in `GET /metrics`.
    pub fn exposed(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.prometheus),
            Kind::Gauge | Kind::Histogram => self.prometheus.to_string(),
        }
    }
}

pub const REQUESTS: Metric = Metric {
    cloudwatch: Some("Requests"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_requests",
    help: "Requests answered, by route, outcome (hit, miss, error, other) and HTTP status",
};
pub const LATENCY: Metric = Metric {
    cloudwatch: Some("Latency"),
    unit: "Milliseconds",
    kind: Kind::Histogram,
    prometheus: "piraeus_request_duration_seconds",
    help: "Time to the response headers, by route and outcome",
};
pub const BYTES_SERVED: Metric = Metric {
    cloudwatch: Some("BytesServed"),
    unit: "Bytes",
    kind: Kind::Counter,
    prometheus: "piraeus_served_bytes",
    help: "Response body bytes (as announced by Content-Length; 0 for HEAD), by route and outcome",
};
pub const FETCHES: Metric = Metric {
    cloudwatch: Some("Fetches"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_fetches",
    help: "Downloads by the go command, by outcome (stored, failed)",
};
pub const FETCH_DURATION: Metric = Metric {
    cloudwatch: Some("FetchDuration"),
    unit: "Milliseconds",
    kind: Kind::Histogram,
    prometheus: "piraeus_fetch_duration_seconds",
    help: "Whole downloads (go command, hashing, storing), by outcome",
};
pub const FETCH_BYTES: Metric = Metric {
    cloudwatch: Some("FetchBytes"),
    unit: "Bytes",
    kind: Kind::Counter,
    prometheus: "piraeus_fetched_bytes",
    help: "Zip bytes downloaded and stored, by outcome (0 for a failed download)",
};
pub const QUEUE_FULL: Metric = Metric {
    cloudwatch: Some("QueueFull"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_queue_full",
    help: "Go commands refused because their queue (download, lookup) was full",
};
pub const QUEUE_DEPTH: Metric = Metric {
    cloudwatch: None,
    unit: "Count",
    kind: Kind::Gauge,
    prometheus: "piraeus_queue_depth",
    help: "Go commands waiting for a slot now, by queue (download, lookup)",
};
pub const LEASE_WAITS: Metric = Metric {
    cloudwatch: Some("LeaseWaits"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_lease_waits",
    help: "Requests that waited for a version's fetch (theirs or another's), by how the wait \
           ended (stored, failed, timeout, abandoned)",
};
pub const LEASE_WAIT_DURATION: Metric = Metric {
    cloudwatch: Some("LeaseWaitDuration"),
    unit: "Milliseconds",
    kind: Kind::Histogram,
    prometheus: "piraeus_lease_wait_duration_seconds",
    help: "How long requests waited for a version's fetch, by how the wait ended",
};
pub const INTEGRITY_CONFLICTS: Metric = Metric {
    cloudwatch: Some("IntegrityConflicts"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_integrity_conflicts",
    help: "Artifacts that differ from what vouches for them: a stored one from a fresh verified \
           download, or a download from the checksum database's record (nothing is stored)",
};
pub const VERIFIED: Metric = Metric {
    cloudwatch: Some("Verified"),
    unit: "Count",
    kind: Kind::Counter,
    prometheus: "piraeus_verified_versions",
    help: "Stored versions re-hashed by verify, by outcome (ok, problem)",
};

/// Every metric, in the order docs/operations.md lists them.
pub const ALL: &[Metric] = &[
    REQUESTS,
    LATENCY,
    BYTES_SERVED,
    FETCHES,
    FETCH_DURATION,
    FETCH_BYTES,
    QUEUE_FULL,
    QUEUE_DEPTH,
    LEASE_WAITS,
    LEASE_WAIT_DURATION,
    INTEGRITY_CONFLICTS,
    VERIFIED,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/operations.md maps each CloudWatch name to its Prometheus name, one row each.
    #[test]
    fn names_are_documented() {
        let operations = include_str!("../../../../docs/operations.md");
        for metric in ALL {
            let cloudwatch = metric
                .cloudwatch
                .map_or("—".to_string(), |name| format!("`{name}`"));
            let row = format!("| {cloudwatch} | `{}` |", metric.exposed());
            assert!(
                operations.contains(&row),
                "docs/operations.md lacks the row {row}"
            );
        }
        let mut names: Vec<_> = ALL.iter().map(|metric| metric.prometheus).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "Prometheus names are unique");
    }
}
