//! The scheduled verify: the fetch function's `verify` event, sent by an EventBridge Scheduler
//! schedule (template.yaml's `VerifySchedule`). Each run re-hashes the versions stored since
//! the last run, in feed order, keeps its place in the table, and reports the `Verified`
//! metric (by `Outcome`, `ok` and `problem`), on which the template alarms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use piraeus_core::Result;
use piraeus_core::store::BlobStore;
use piraeus_core::telemetry::metrics;
use piraeus_core::verify::{self, Options};

use super::event::FetchReply;
use crate::dynamodb::DynamoIndex;

/// A run stops starting checks after this long, well inside the fetch function's 15 minutes;
/// the next run continues where it stopped.
pub const VERIFY_BUDGET: Duration = Duration::from_secs(12 * 60);

/// Problems named in the reply; the log has every one.
const FINDINGS_IN_REPLY: usize = 100;

pub struct ScheduledVerify {
    store: Arc<dyn BlobStore>,
    index: Arc<DynamoIndex>,
    concurrency: usize,
    budget: Duration,
}

impl ScheduledVerify {
    pub fn new(store: Arc<dyn BlobStore>, index: Arc<DynamoIndex>, concurrency: usize) -> Self {
        Self {
            store,
            index,
            concurrency,
            budget: VERIFY_BUDGET,
        }
    }

    /// Checks what was stored since the last run; the cursor moves past everything checked,
    /// problems included (each is reported once: in the log, the metric and the reply).
    pub async fn run(&self) -> Result<FetchReply> {
        let after = self.index.verify_cursor().await?;
        let options = Options {
            after,
            concurrency: self.concurrency,
            deadline: Some(Instant::now() + self.budget),
        };
        let mut findings = Vec::new();
        let summary = verify::verify_feed(
            self.store.as_ref(),
            self.index.as_ref(),
            &options,
            |record, finding| {
                if let Some(problem) = finding {
                    tracing::error!(
                        alarm = "verify",
                        module = %record.module,
                        version = %record.version,
                        problem = %problem,
                        "a stored version no longer matches its recorded h1: sums"
                    );
                    if findings.len() < FINDINGS_IN_REPLY {
                        findings.push(format!("{}@{}: {problem}", record.module, record.version));
                    }
                }
            },
        )
        .await
        .inspect_err(|error| {
            tracing::error!(error = %error.chain(), "verify stopped; the next run starts again from the last cursor");
        })?;
        if let Some(last) = &summary.last {
            self.index
                .save_verify_cursor(last, piraeus_core::clock::now_millis())
                .await?;
        }
        // Both outcomes every run, zeros included, so the alarm and graphs see each run.
        metrics::verified("ok", (summary.checked - summary.problems) as u64);
        metrics::verified("problem", summary.problems as u64);
        tracing::info!(
            checked = summary.checked,
            problems = summary.problems,
            complete = summary.complete,
            "verified the versions stored since the last run"
        );
        Ok(FetchReply::Verified {
            checked: summary.checked,
            problems: summary.problems,
            complete: summary.complete,
            findings,
        })
    }
}
