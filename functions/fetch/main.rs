//! The fetch function: runs the Go toolchain (from the Lambda layer) for serve and prefetch.
//! Asynchronous `download` events store a version in S3, then mark it ready in DynamoDB;
//! synchronous `list` and `resolve` events answer upstream questions. Private-module
//! credentials (a .netrc, an SSH key, a GitHub App) come from Secrets Manager secrets
//! (`PIRAEUS_NETRC_SECRET`, `PIRAEUS_GIT_SSH_KEY_SECRET`, `PIRAEUS_GITHUB_APP_SECRET`), read
//! once when the execution environment starts.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use piraeus_aws::lambda::{self, FetchRequest, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let config = FunctionConfig::from_env()?;
    let handler = Arc::new(lambda::build_fetch_handler(&config).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<FetchRequest>| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_runtime::Error>(handler.handle(event.payload).await) }
    }))
    .await
}
