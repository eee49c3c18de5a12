//! The prefetch function: `POST /prefetch` behind an IAM-authorised function URL. Takes a JSON
//! list of `module@version`, a go.sum or a go.mod, and starts fetches through the fetch
//! function; the report says what was accepted, rejected, stored, and any sum that differs.

use std::sync::Arc;

use piraeus::serverless::{self, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serverless::init_function_logging();
    let config = FunctionConfig::from_env()?;
    let proxy = serverless::build_proxy(&config).await?;
    lambda_http::run(piraeus::http::prefetch_router(Arc::new(proxy))).await
}
