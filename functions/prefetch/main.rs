//! The prefetch function: `POST /prefetch` behind an IAM-authorised function URL. Takes a JSON
//! list of `module@version`, a go.sum or a go.mod, and starts fetches through the fetch
//! function; the report says what was accepted, rejected, stored, and any sum that differs.

use std::sync::Arc;

use piraeus_aws::lambda::{self, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_logging();
    let config = FunctionConfig::from_env()?;
    let proxy = lambda::build_proxy(&config).await?;
    lambda_http::run(piraeus_core::http::prefetch_router(Arc::new(proxy), None)).await
}
