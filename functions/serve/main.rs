//! The serve function: the GOPROXY router under the Lambda runtime, behind CloudFront, over S3
//! and DynamoDB. Misses and upstream questions go to the fetch function; this function never
//! runs the Go toolchain. Settings: `piraeus_core::settings`.

use std::sync::Arc;

use piraeus_aws::lambda::{self, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_logging();
    let config = FunctionConfig::from_env()?;
    let proxy = lambda::build_proxy(&config).await?;
    lambda_http::run(piraeus_core::http::router(Arc::new(proxy), None)).await
}
