//! The `piraeus` command: the local proxy (`serve`), its client tokens (`token`), the integrity
//! check (`verify`), warming a proxy's cache (`prefetch`), carrying stored versions
//! to an air-gapped mirror (`export`, `import`) and the creation of S3 and DynamoDB
//! resources (`provision`). Each command has its own file; every flag comes from
//! `piraeus_core::settings`.

mod backends;
mod prefetch;
mod provision;
mod serve;
mod settings;
mod token;
mod transfer;
mod verify;

use std::process::ExitCode;

use clap::Command;
use piraeus_core::settings::LOG_FORMAT;
use piraeus_core::telemetry::logging;

/// Exit status for configuration the command cannot run with (clap uses it for bad flags too).
const BAD_CONFIGURATION: u8 = 2;

fn cli() -> Command {
    Command::new("piraeus")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A Go module proxy that keeps an immutable copy of every module version it serves")
        .arg(settings::flag(&LOG_FORMAT).global(true))
        .subcommand_required(true)
        .subcommand(serve::command())
        .subcommand(token::command())
        .subcommand(verify::command())
        .subcommand(prefetch::command())
        .subcommand(transfer::export_command())
        .subcommand(transfer::import_command())
        .subcommand(provision::command())
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    logging::init(settings::given(&matches, &LOG_FORMAT));
    // Workers hold their routine log lines until they run out of work (see `worker_parking`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(logging::worker_parking)
        .build()
        .expect("the tokio runtime starts");
    let result = match matches.subcommand() {
        Some(("serve", arguments)) => runtime.block_on(serve::run(arguments)),
        Some(("token", arguments)) => runtime.block_on(token::run(arguments)),
        Some(("verify", arguments)) => runtime.block_on(verify::run(arguments)),
        Some(("prefetch", arguments)) => runtime.block_on(prefetch::run(arguments)),
        Some(("export", arguments)) => runtime.block_on(transfer::export(arguments)),
        Some(("import", arguments)) => runtime.block_on(transfer::import(arguments)),
        Some(("provision", arguments)) => runtime.block_on(provision::run(arguments)),
        _ => unreachable!("clap requires one of the subcommands"),
    };
    // Whatever is still running (a fetch cut off at the shutdown deadline) is abandoned, not
    // waited for: its go command dies with it and its lease expires.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("piraeus: {error:#}");
            ExitCode::from(BAD_CONFIGURATION)
        }
    }
}

/// Exit 1 with the message for a failure after configuration was accepted.
fn runtime_outcome(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("piraeus: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        super::cli().debug_assert();
    }
}
