//! `piraeus verify`: re-hashes the stored versions of a data directory, or of an S3 bucket and a
//! DynamoDB table (`--store`, `--index`), and reports any that differ from the `h1:` sums
//! recorded when they were stored. Exit status 0 when everything matches, 1 when something
//! does not (each named on stdout) or the check could not finish, 2 on bad usage.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Command};
use indicatif::{ProgressBar, ProgressStyle};
use piraeus_core::settings::{DATA_DIR, INDEX, STORE, VERIFY_CONCURRENCY, VERIFY_SINCE};
use piraeus_core::verify::{self, Options};

use crate::backends::{self, Missing};
use crate::runtime_outcome;
use crate::settings::{flag, given, value};

/// Without a terminal, a progress line on stderr every this many versions.
const PLAIN_PROGRESS_EVERY: usize = 1000;

pub fn command() -> Command {
    Command::new("verify")
        .about(
            "Re-hash every stored version and report any that differ from their recorded h1: sums",
        )
        .arg(flag(&DATA_DIR))
        .arg(flag(&STORE))
        .arg(flag(&INDEX))
        .arg(flag(&VERIFY_SINCE))
        .arg(flag(&VERIFY_CONCURRENCY))
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let data_dir = given(arguments, &DATA_DIR);
    let (store, index) = backends::open(&data_dir, arguments, Missing::Refuse).await?;
    let options = Options {
        after: value(arguments, &VERIFY_SINCE).map(verify::stored_since),
        concurrency: given(arguments, &VERIFY_CONCURRENCY),
        deadline: None,
    };
    let progress = Progress::new();
    let verified = verify::verify_feed(
        store.as_ref(),
        index.as_ref(),
        &options,
        |record, finding| progress.report(&record.module, &record.version, finding),
    )
    .await;
    progress.finish();
    let summary = match verified {
        Ok(summary) => summary,
        Err(error) => {
            return Ok(runtime_outcome(Err(
                anyhow::Error::new(error).context("verification stopped")
            )));
        }
    };
    println!(
        "verified {} versions: {} ok, {} with problems",
        summary.checked,
        summary.checked - summary.problems,
        summary.problems
    );
    Ok(if summary.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A spinner with counts on a terminal; otherwise a line now and then on stderr. Problems
/// always go to stdout, one line each.
struct Progress {
    bar: Option<ProgressBar>,
    counts: std::cell::Cell<(usize, usize)>,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template(
                    "{spinner} {pos} versions checked, {msg} [{elapsed}, {per_sec}]",
                )
                .expect("the template is valid"),
            );
            bar.set_message("0 with problems");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            counts: std::cell::Cell::new((0, 0)),
        }
    }

    fn report(&self, module: &str, version: &str, finding: &verify::Finding) {
        let (mut checked, mut problems) = self.counts.get();
        checked += 1;
        if let Some(problem) = finding {
            problems += 1;
            let line = format!("MISMATCH {module}@{version}: {problem}");
            match &self.bar {
                Some(bar) => bar.suspend(|| println!("{line}")),
                None => println!("{line}"),
            }
        }
        self.counts.set((checked, problems));
        match &self.bar {
            Some(bar) => {
                bar.set_position(checked as u64);
                if finding.is_some() {
                    bar.set_message(format!("{problems} with problems"));
                }
            }
            None if checked.is_multiple_of(PLAIN_PROGRESS_EVERY) => {
                eprintln!("checked {checked} versions, {problems} with problems so far");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
