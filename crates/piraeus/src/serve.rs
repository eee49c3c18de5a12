//! `piraeus serve`: the GOPROXY protocol over a data directory (or S3 and DynamoDB), fetching
//! misses with the Go toolchain in this process.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, Command};
use piraeus_core::local::{self, LocalConfig};
use piraeus_core::settings::{
    ANSWER_TTL, DATA_DIR, DOWNLOAD_MODE, FETCH_TIMEOUT, GO, INDEX, LISTEN, MAX_CONCURRENT_FETCHES,
    NOT_FOUND_TTL, STORE, UPSTREAM,
};

use crate::runtime_outcome;
use crate::settings::{flag, given, value};

pub fn command() -> Command {
    Command::new("serve")
        .about("Serve the GOPROXY protocol from a data directory, fetching misses with the Go toolchain")
        .arg(flag(&LISTEN))
        .arg(flag(&DATA_DIR))
        .arg(flag(&STORE))
        .arg(flag(&INDEX))
        .arg(flag(&UPSTREAM))
        .arg(flag(&GO))
        .arg(flag(&FETCH_TIMEOUT))
        .arg(flag(&MAX_CONCURRENT_FETCHES))
        .arg(flag(&ANSWER_TTL))
        .arg(flag(&NOT_FOUND_TTL))
        .arg(flag(&DOWNLOAD_MODE))
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let listen = given(arguments, &LISTEN);
    let config = LocalConfig {
        data_dir: given(arguments, &DATA_DIR),
        upstream: given(arguments, &UPSTREAM),
        go_binary: given(arguments, &GO),
        fetch_timeout: given(arguments, &FETCH_TIMEOUT),
        max_concurrent_fetches: given(arguments, &MAX_CONCURRENT_FETCHES),
        answer_ttl: given(arguments, &ANSWER_TTL),
        not_found_ttl: given(arguments, &NOT_FOUND_TTL),
        download_mode: given(arguments, &DOWNLOAD_MODE),
    };
    let proxy = open(&config, arguments).await.with_context(|| {
        format!(
            "cannot open storage (data directory {})",
            config.data_dir.display()
        )
    })?;
    warn_without_go(&config.go_binary).await;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        %listen,
        data_dir = %config.data_dir.display(),
        upstream = %config.upstream,
        "piraeus is serving; set GOPROXY=http://{listen}"
    );
    // From here on failures are runtime failures (exit 1), not configuration (exit 2).
    let proxy = Arc::new(proxy);
    let app =
        piraeus_core::http::router(proxy.clone()).merge(piraeus_core::http::prefetch_router(proxy));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    Ok(runtime_outcome(served.context("server failed")))
}

/// The data directory and its SQLite index, unless `--store` or `--index` name S3 or DynamoDB.
async fn open(
    config: &LocalConfig,
    arguments: &ArgMatches,
) -> piraeus_core::Result<piraeus_core::proxy::Proxy> {
    let (store, index) = (value(arguments, &STORE), value(arguments, &INDEX));
    let sdk = match (&store, &index) {
        (None, None) => None,
        _ => Some(piraeus_aws::sdk::config().await),
    };
    let store = match (&store, &sdk) {
        (Some(location), Some(sdk)) => piraeus_aws::sdk::open_store(sdk, location),
        _ => local::open_store(&config.data_dir)?,
    };
    let index = match (&index, &sdk) {
        (Some(location), Some(sdk)) => piraeus_aws::sdk::open_index(sdk, location),
        _ => local::open_index(&config.data_dir)?,
    };
    local::build(config, store, index)
}

/// Cached modules are served without the go command, so its absence is a warning, not fatal.
async fn warn_without_go(go_binary: &Path) {
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
