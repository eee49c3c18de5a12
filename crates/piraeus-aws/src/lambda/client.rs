//! How serve and prefetch reach the fetch function: an asynchronous invoke starts a download
//! (the [`FetchTrigger`]); a synchronous one gets list and query answers (the [`Resolver`]), so
//! serve never runs the Go toolchain itself.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use piraeus_core::fetch::{FetchTrigger, ResolvedVersion, Resolver};
use piraeus_core::{Error, ErrorKind, Result};

use super::event::{FetchReply, FetchRequest};
use crate::error::sdk_error;

/// Reaches the fetch function through the Lambda Invoke API (or an emulator's).
pub(crate) struct LambdaFetchClient {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaFetchClient {
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }

    async fn invoke(
        &self,
        request: &FetchRequest,
        invocation: InvocationType,
    ) -> Result<aws_sdk_lambda::operation::invoke::InvokeOutput> {
        let payload = serde_json::to_vec(request).expect("a fetch request serialises");
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(invocation)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|error| sdk_error(ErrorKind::Upstream, "invoking the fetch function", error))
    }

    /// A synchronous call whose answer must be one of the expected replies.
    async fn call(&self, request: &FetchRequest) -> Result<FetchReply> {
        let output = self
            .invoke(request, InvocationType::RequestResponse)
            .await?;
        let payload = output.payload().map(Blob::as_ref).unwrap_or_default();
        if let Some(kind) = output.function_error() {
            // The payload (a crash report, stack frames, paths) is for the log, not the client.
            let report = String::from_utf8_lossy(payload)
                .chars()
                .take(500)
                .collect::<String>();
            return Err(Error::upstream("the fetch function failed")
                .with_source(format!("{kind}: {report}")));
        }
        let reply: FetchReply = serde_json::from_slice(payload).map_err(|error| {
            Error::upstream("the fetch function answered nonsense").with_source(error)
        })?;
        match reply {
            FetchReply::Failed(failure) => Err(failure.to_error()),
            reply => Ok(reply),
        }
    }
}

#[async_trait]
impl FetchTrigger for LambdaFetchClient {
    async fn trigger(&self, module: &str, version: &str, holder: &str) -> Result<()> {
        let request = FetchRequest::Download {
            module: module.to_string(),
            version: version.to_string(),
            holder: holder.to_string(),
        };
        // Lambda queues the event and answers 202; its own retries and on-failure queue take
        // over from there. (The local emulator runs it synchronously and answers 200.)
        self.invoke(&request, InvocationType::Event).await?;
        Ok(())
    }
}

#[async_trait]
impl Resolver for LambdaFetchClient {
    async fn list(&self, module: &str) -> Result<Vec<String>> {
        let request = FetchRequest::List {
            module: module.to_string(),
        };
        match self.call(&request).await? {
            FetchReply::Versions { versions } => Ok(versions),
            other => Err(unexpected(&other)),
        }
    }

    async fn resolve(&self, module: &str, query: &str) -> Result<ResolvedVersion> {
        let request = FetchRequest::Resolve {
            module: module.to_string(),
            query: query.to_string(),
        };
        match self.call(&request).await? {
            FetchReply::Resolved(resolved) => Ok(resolved),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &FetchReply) -> Error {
    Error::upstream("the fetch function answered out of turn").with_source(format!("{reply:?}"))
}
