//! How serve and prefetch reach the fetch function: an asynchronous invoke starts a download
//! (the [`FetchTrigger`]); a synchronous one gets list and query answers (the [`Resolver`]), so
//! serve never runs the Go toolchain itself. Lookups may go to a second deployment of the same
//! code (the template's lookup function), whose own concurrency downloads cannot use up.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use piraeus_core::fetch::{FetchTrigger, ResolvedVersion, Resolver};
use piraeus_core::{Error, ErrorKind, Result};

use super::event::{FetchReply, FetchRequest};
use crate::error::{sdk_error, status_of};

/// Reaches the fetch function through the Lambda Invoke API (or an emulator's).
pub(crate) struct LambdaFetchClient {
    client: aws_sdk_lambda::Client,
    /// Receives download events.
    function: String,
    /// Answers list and query calls.
    lookup_function: String,
}

impl LambdaFetchClient {
    pub fn new(client: aws_sdk_lambda::Client, function: String, lookup_function: String) -> Self {
        Self {
            client,
            function,
            lookup_function,
        }
    }

    async fn invoke(
        &self,
        function: &str,
        request: &FetchRequest,
        invocation: InvocationType,
    ) -> Result<aws_sdk_lambda::operation::invoke::InvokeOutput> {
        let payload = serde_json::to_vec(request).expect("a fetch request serialises");
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(invocation)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(invoke_error)
    }

    /// A synchronous call whose answer must be one of the expected replies.
    async fn call(&self, request: &FetchRequest) -> Result<FetchReply> {
        // A lookup is a function run (with the go command when it reaches direct): worth a
        // line, to see which questions the chain's proxies did not answer here.
        tracing::info!(function = %self.lookup_function, "asking the lookup function");
        let output = self
            .invoke(
                &self.lookup_function,
                request,
                InvocationType::RequestResponse,
            )
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
        self.invoke(&self.function, &request, InvocationType::Event)
            .await?;
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

/// Throttled (429): every instance the function's reserved concurrency allows is busy. Like a
/// full queue on `piraeus serve`, that is a 503 to retry, not an upstream failure.
fn invoke_error<E>(error: SdkError<E, Response>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    match status_of(&error) {
        Some(429) => sdk_error(
            ErrorKind::Pending,
            "every function instance is busy; retry shortly",
            error,
        ),
        _ => sdk_error(ErrorKind::Upstream, "invoking the fetch function", error),
    }
}

fn unexpected(reply: &FetchReply) -> Error {
    Error::upstream("the fetch function answered out of turn").with_source(format!("{reply:?}"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::operation::invoke::InvokeError;
    use aws_sdk_lambda::primitives::SdkBody;
    use aws_sdk_lambda::types::error::{ServiceException, TooManyRequestsException};

    use super::*;

    fn failed(status: u16, error: InvokeError) -> SdkError<InvokeError, Response> {
        let response = Response::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(error, response)
    }

    #[test]
    fn throttling_is_a_retry_and_other_failures_are_upstream() {
        let throttled = failed(
            429,
            InvokeError::TooManyRequestsException(TooManyRequestsException::builder().build()),
        );
        assert_eq!(invoke_error(throttled).kind(), ErrorKind::Pending);
        let broken = failed(
            500,
            InvokeError::ServiceException(ServiceException::builder().build()),
        );
        assert_eq!(invoke_error(broken).kind(), ErrorKind::Upstream);
    }
}
