//! `piraeus verify`: re-hashes every stored version of a data directory and reports any that
//! differ from the `h1:` sums recorded when they were stored.

use std::process::ExitCode;

use clap::{ArgMatches, Command};
use piraeus_core::local;
use piraeus_core::settings::DATA_DIR;

use crate::runtime_outcome;
use crate::settings::{flag, given};

pub fn command() -> Command {
    Command::new("verify")
        .about(
            "Re-hash every stored version and report any that differ from their recorded h1: sums",
        )
        .arg(flag(&DATA_DIR))
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let data_dir = given(arguments, &DATA_DIR);
    anyhow::ensure!(
        local::index_path(&data_dir).exists(),
        "{} has no index: nothing has been stored there",
        data_dir.display()
    );
    let store = local::open_store(&data_dir)?;
    let index = local::open_index(&data_dir)?;
    let verified =
        piraeus_core::verify::verify_all(store.as_ref(), index.as_ref(), |record, finding| {
            if let Some(problem) = finding {
                println!("MISMATCH {}@{}: {problem}", record.module, record.version);
            }
        })
        .await;
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
