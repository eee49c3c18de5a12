//! The fetch function: runs the Go toolchain (from the Lambda layer) for serve and prefetch.
//! Asynchronous `download` events store a version in S3, then mark it ready in DynamoDB;
//! synchronous `list` and `resolve` events answer upstream questions. Private-module
//! credentials come from a Secrets Manager secret holding a .netrc (`PIRAEUS_NETRC_SECRET`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use anyhow::Context;
use lambda_runtime::{LambdaEvent, service_fn};
use piraeus_aws::lambda::{self, FetchRequest, FunctionConfig};
use piraeus_core::settings::NETRC_SECRET;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let config = FunctionConfig::from_env()?;
    install_netrc().await?;
    let handler = Arc::new(lambda::build_fetch_handler(&config).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<FetchRequest>| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_runtime::Error>(handler.handle(event.payload).await) }
    }))
    .await
}

/// Writes the secret's .netrc to `$HOME/.netrc`, where both go and git look, once per
/// execution environment. Without the secret only public modules are reachable.
async fn install_netrc() -> anyhow::Result<()> {
    let Some(secret) = NETRC_SECRET.read(&|name| std::env::var(name).ok())? else {
        return Ok(());
    };
    let home = std::env::var("HOME").context("HOME must be set to write .netrc")?;
    let sdk = piraeus_aws::sdk::config().await;
    let value = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .with_context(|| format!("reading the .netrc secret {secret}"))?;
    let netrc = value
        .secret_string()
        .context("the .netrc secret has no string value")?;
    let path = std::path::Path::new(&home).join(".netrc");
    // Created readable by this user only: git and go refuse nothing, but others must not read it.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(netrc.as_bytes())?;
    Ok(())
}
