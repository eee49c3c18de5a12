//! The serve function: the GOPROXY router under the Lambda runtime, behind CloudFront, over S3
//! and DynamoDB. Misses and upstream questions go to the fetch function; this function never
//! runs the Go toolchain. Settings: `piraeus::serverless::FunctionConfig`.

use std::sync::Arc;

use piraeus::serverless::{self, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serverless::init_function_logging();
    let config = FunctionConfig::from_env()?;
    let proxy = serverless::build_proxy(&config).await?;
    lambda_http::run(piraeus::http::router(Arc::new(proxy))).await
}
