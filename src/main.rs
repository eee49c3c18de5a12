//! The `piraeus` command: the local proxy (`serve`) and the integrity check (`verify`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use piraeus::aws::{self, BucketLocation, TableLocation};
use piraeus::config::{parse_duration, parse_upstream};
use piraeus::fetch::go::DEFAULT_UPSTREAM;
use piraeus::local::{self, LocalConfig};
use piraeus::logging::{self, LogFormat};
use piraeus::proxy::DownloadMode;

/// Exit status for configuration the command cannot run with.
const BAD_CONFIGURATION: u8 = 2;

#[derive(Parser)]
#[command(
    name = "piraeus",
    version,
    about = "A Go module proxy that keeps an immutable copy of every module version it serves"
)]
struct Cli {
    /// Log format: human-readable lines, or one JSON object per line for log pipelines.
    #[arg(long, global = true, env = "PIRAEUS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the GOPROXY protocol from a data directory, fetching misses with the Go toolchain.
    Serve(ServeArgs),
    /// Re-hash every stored version and report any that differ from their recorded h1: sums.
    Verify(DataArgs),
    /// Create the S3 bucket (private, encrypted) and the DynamoDB table (on-demand, feed index,
    /// TTL, point-in-time recovery) if they are missing.
    Provision(ProvisionArgs),
}

#[derive(clap::Args)]
struct AwsArgs {
    /// Store artifacts in S3 instead of the data directory: s3://BUCKET[/PREFIX]. Endpoint,
    /// region and credentials come from the standard AWS environment (e.g. AWS_ENDPOINT_URL).
    #[arg(long, env = "PIRAEUS_STORE")]
    store: Option<BucketLocation>,
    /// Keep the index in DynamoDB instead of SQLite: dynamodb://TABLE.
    #[arg(long, env = "PIRAEUS_INDEX")]
    index: Option<TableLocation>,
}

#[derive(clap::Args)]
struct ProvisionArgs {
    /// The bucket to create: s3://BUCKET[/PREFIX] (keys are written under the prefix later).
    #[arg(long, env = "PIRAEUS_STORE", required = true)]
    store: BucketLocation,
    /// The table to create: dynamodb://TABLE.
    #[arg(long, env = "PIRAEUS_INDEX", required = true)]
    index: TableLocation,
}

#[derive(clap::Args)]
struct DataArgs {
    /// Where modules are stored, laid out as a GOPROXY tree (usable as GOPROXY=file://DIR).
    /// The index and scratch space live in its .piraeus folder.
    #[arg(long, env = "PIRAEUS_DATA_DIR", default_value = "piraeus-data")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PIRAEUS_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    aws: AwsArgs,
    /// GOPROXY used to fetch misses, in the go command's syntax ("direct", URLs separated by
    /// "," or "|"). Private modules follow GOPRIVATE/GONOSUMDB from the environment.
    #[arg(long, env = "PIRAEUS_UPSTREAM", default_value = DEFAULT_UPSTREAM, value_parser = parse_upstream)]
    upstream: String,
    /// The go command used to fetch (a name on PATH or a path).
    #[arg(long = "go", env = "PIRAEUS_GO", default_value = "go")]
    go_binary: PathBuf,
    /// Longest a single fetch may run before it is killed (e.g. 90s, 10m).
    #[arg(long, env = "PIRAEUS_FETCH_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    fetch_timeout: Duration,
    /// How many go commands may run at once.
    #[arg(long, env = "PIRAEUS_MAX_CONCURRENT_FETCHES", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    max_concurrent_fetches: u16,
    /// How long list, @latest and branch/commit query answers are reused before upstream is
    /// asked again. When upstream fails, older answers are still served.
    #[arg(long, env = "PIRAEUS_ANSWER_TTL", default_value = "60s", value_parser = parse_duration)]
    answer_ttl: Duration,
    /// What a request for a version not stored yet gets: `sync` waits for the fetch; `async`
    /// starts it and answers 404 at once, so `GOPROXY=piraeus,<next>` moves on meanwhile.
    #[arg(long, env = "PIRAEUS_DOWNLOAD_MODE", default_value = "sync", value_parser = parse_download_mode)]
    download_mode: DownloadMode,
}

fn parse_download_mode(text: &str) -> Result<DownloadMode, String> {
    text.parse()
        .map_err(|error: piraeus::Error| error.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Verify(args) => runtime.block_on(verify(args)),
        Command::Provision(args) => runtime.block_on(provision(args)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("piraeus: {error:#}");
            ExitCode::from(BAD_CONFIGURATION)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = LocalConfig {
        data_dir: args.data.data_dir,
        store: args.aws.store,
        index: args.aws.index,
        upstream: args.upstream,
        go_binary: args.go_binary,
        fetch_timeout: args.fetch_timeout,
        max_concurrent_fetches: args.max_concurrent_fetches.into(),
        answer_ttl: args.answer_ttl,
        download_mode: args.download_mode,
    };
    let proxy = local::build(&config).await.with_context(|| {
        format!(
            "cannot open storage (data directory {})",
            config.data_dir.display()
        )
    })?;
    warn_without_go(&config.go_binary).await;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        data_dir = %config.data_dir.display(),
        upstream = %config.upstream,
        "piraeus is serving; set GOPROXY=http://{}",
        args.listen
    );
    // From here on failures are runtime failures (exit 1), not configuration (exit 2).
    let proxy = Arc::new(proxy);
    let app = piraeus::http::router(proxy.clone()).merge(piraeus::http::prefetch_router(proxy));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    Ok(runtime_outcome(served.context("server failed")))
}

/// Cached modules are served without the go command, so its absence is a warning, not fatal.
async fn warn_without_go(go_binary: &std::path::Path) {
    let found = tokio::process::Command::new(go_binary)
        .arg("version")
        .output()
        .await
        .is_ok_and(|output| output.status.success());
    if !found {
        tracing::warn!(go = %go_binary.display(), "the go command cannot be run: only already-stored versions can be served");
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}

async fn verify(args: DataArgs) -> anyhow::Result<ExitCode> {
    let index_path = local::index_path(&args.data_dir);
    anyhow::ensure!(
        index_path.exists(),
        "{} has no index: nothing has been stored there",
        args.data_dir.display()
    );
    let store = piraeus::store::FilesystemStore::open(&args.data_dir)?;
    let index = piraeus::index::SqliteIndex::open(&index_path)?;
    let verified = piraeus::verify::verify_all(&store, &index, |record, finding| {
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

async fn provision(args: ProvisionArgs) -> anyhow::Result<ExitCode> {
    let sdk = aws::sdk_config().await;
    let region = sdk.region().map(|region| region.to_string());
    aws::provision_bucket(&aws::s3_client(&sdk), &args.store.bucket, region.as_deref()).await?;
    println!("bucket {} ready", args.store.bucket);
    aws::provision_table(&aws::dynamodb_client(&sdk), &args.index.table).await?;
    println!("table {} ready", args.index.table);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
