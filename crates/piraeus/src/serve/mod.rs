//! `piraeus serve`: the GOPROXY protocol over a data directory (or S3 and DynamoDB), fetching
//! misses with the Go toolchain in this process. `server` is the HTTP server and its limits,
//! `tls` the reloading certificate.

mod server;
mod tls;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, Command};
use piraeus_core::auth::Authenticator;
use piraeus_core::local::{self, LocalConfig};
use piraeus_core::redact;
use piraeus_core::settings::{
    ANSWER_TTL, AUTH_FILE, CACHE_SIZE, DATA_DIR, DOWNLOAD_MODE, EGRESS_PINS, FAILURE_TTL,
    FETCH_TIMEOUT, GIT_INSTEAD_OF, GIT_SSH_KEY, GITHUB_API, GITHUB_APP, GO, HEADER_TIMEOUT,
    IDLE_TIMEOUT, INDEX, LISTEN, MAX_CONCURRENT_FETCHES, MAX_CONCURRENT_LOOKUPS, MAX_CONNECTIONS,
    MAX_QUEUED, METRICS, METRICS_LISTEN, NOT_FOUND_TTL, POLICY, SHUTDOWN_TIMEOUT, STORE, SUMDB,
    TLS_CERT, TLS_KEY, UPSTREAM,
};
use piraeus_core::sumdb::SumDbConfig;

use crate::backends::{self, Missing};
use crate::settings::{all, flag, given, repeatable_flag, switch, value};

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
        .arg(flag(&MAX_CONCURRENT_LOOKUPS))
        .arg(flag(&MAX_QUEUED))
        .arg(flag(&ANSWER_TTL))
        .arg(flag(&NOT_FOUND_TTL))
        .arg(flag(&FAILURE_TTL))
        .arg(flag(&DOWNLOAD_MODE))
        .arg(flag(&POLICY))
        .arg(flag(&GIT_SSH_KEY))
        .arg(flag(&GITHUB_APP))
        .arg(flag(&GITHUB_API))
        .arg(flag(&GIT_INSTEAD_OF))
        .arg(repeatable_flag(&EGRESS_PINS))
        .arg(repeatable_flag(&SUMDB))
        .arg(flag(&CACHE_SIZE))
        .arg(flag(&AUTH_FILE))
        .arg(flag(&TLS_CERT).requires(TLS_KEY.flag))
        .arg(flag(&TLS_KEY).requires(TLS_CERT.flag))
        .arg(flag(&HEADER_TIMEOUT))
        .arg(flag(&IDLE_TIMEOUT))
        .arg(flag(&MAX_CONNECTIONS))
        .arg(flag(&SHUTDOWN_TIMEOUT))
        .arg(switch(&METRICS))
        .arg(flag(&METRICS_LISTEN))
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let listen = given(arguments, &LISTEN);
    let config = LocalConfig {
        data_dir: given(arguments, &DATA_DIR),
        upstream: given(arguments, &UPSTREAM),
        go_binary: given(arguments, &GO),
        fetch_timeout: given(arguments, &FETCH_TIMEOUT),
        max_concurrent_fetches: given(arguments, &MAX_CONCURRENT_FETCHES),
        max_concurrent_lookups: given(arguments, &MAX_CONCURRENT_LOOKUPS),
        max_queued: given(arguments, &MAX_QUEUED),
        answer_ttl: given(arguments, &ANSWER_TTL),
        not_found_ttl: given(arguments, &NOT_FOUND_TTL),
        failure_ttl: given(arguments, &FAILURE_TTL),
        download_mode: given(arguments, &DOWNLOAD_MODE),
        cache_size: given(arguments, &CACHE_SIZE),
        git_ssh_key: value(arguments, &GIT_SSH_KEY),
        github_app: value(arguments, &GITHUB_APP),
        github_api: value(arguments, &GITHUB_API),
        git_instead_of: value(arguments, &GIT_INSTEAD_OF).unwrap_or_default(),
    };
    let policy = backends::policy(arguments)
        .await?
        .with_pins(all(arguments, &EGRESS_PINS));
    let environment = |name: &str| std::env::var(name).ok();
    let sumdb = SumDbConfig::new(all(arguments, &SUMDB), config.answer_ttl, &environment);
    let (store, index) = backends::open(&config.data_dir, arguments, Missing::Create)
        .await
        .with_context(|| {
            format!(
                "cannot open storage (data directory {})",
                config.data_dir.display()
            )
        })?;
    let proxy = local::build(&config, store, index, policy, sumdb, &environment)?;
    let auth = value(arguments, &AUTH_FILE)
        .map(|path| Authenticator::open(&path).map(Arc::new))
        .transpose()?;
    let tls = match (value(arguments, &TLS_CERT), value(arguments, &TLS_KEY)) {
        (Some(cert), Some(key)) => Some(tls::acceptor(&cert, &key)?),
        _ => None,
    };
    if auth.is_some() && tls.is_none() {
        tracing::warn!(
            "--auth-file without --tls-cert: tokens travel in clear text, and the go command sends \
             credentials only over https; put Piraeus behind a TLS-terminating proxy"
        );
    }
    let limits = server::Limits {
        header_timeout: given(arguments, &HEADER_TIMEOUT),
        idle_timeout: given(arguments, &IDLE_TIMEOUT),
        max_connections: connection_cap(given(arguments, &MAX_CONNECTIONS)),
        shutdown_timeout: given(arguments, &SHUTDOWN_TIMEOUT),
    };
    if local::needs_go(&config, &environment) {
        warn_without_go(&config.go_binary).await;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        %listen,
        data_dir = %config.data_dir.display(),
        upstream = %redact::credentials(&config.upstream),
        tokens = auth.is_some(),
        "piraeus is serving; set GOPROXY={scheme}://{listen}"
    );
    let metrics_listen = value(arguments, &METRICS_LISTEN);
    let metrics_listener = match metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (--metrics-listen)"))?,
        ),
        None => None,
    };
    // From here on failures are runtime failures (exit 1), not configuration (exit 2).
    let proxy = Arc::new(proxy);
    let mut app = piraeus_core::http::router(proxy.clone(), auth.clone())
        .merge(piraeus_core::http::prefetch_router(proxy, auth.clone()));
    if given(arguments, &METRICS) || metrics_listener.is_some() {
        piraeus_core::telemetry::prometheus::enable();
    }
    match metrics_listener {
        // Its own listener, without tokens: for a scraper on loopback or a monitoring network.
        Some(metrics_listener) => {
            let address = metrics_listen.expect("bound from --metrics-listen");
            if !address.ip().is_loopback() {
                tracing::warn!(
                    %address,
                    "/metrics is served without client tokens on a non-loopback address; \
                     make sure only your monitoring can reach it"
                );
            }
            tracing::info!(%address, "serving /metrics");
            let metrics = piraeus_core::http::metrics_router(None);
            tokio::spawn(server::run(
                metrics_listener,
                metrics,
                None,
                limits,
                std::future::pending(),
            ));
        }
        // The main listener: same tokens (and https) as every other route.
        None if given(arguments, &METRICS) => {
            app = app.merge(piraeus_core::http::metrics_router(auth));
        }
        None => {}
    }
    server::run(listener, app, tls, limits, shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// The configured connection cap, lowered to what the file descriptor limit allows.
fn connection_cap(configured: usize) -> usize {
    let room = server::connection_room();
    if configured > room {
        tracing::warn!(
            configured,
            allowed = room,
            "the open-file limit allows fewer connections than --max-connections; raise it (ulimit -n) to allow more"
        );
    }
    configured
        .min(room)
        .min(tokio::sync::Semaphore::MAX_PERMITS)
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
