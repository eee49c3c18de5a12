//! The one place an AWS SDK error becomes a Piraeus [`Error`]: the kind is chosen by the caller,
//! the SDK error is kept as the source (for logs), and only the caller's context, which names no
//! bucket, table or endpoint, becomes the message.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use piraeus_core::{Error, ErrorKind};

/// An SDK failure while doing `context`.
pub(crate) fn sdk_error<E>(
    kind: ErrorKind,
    context: impl Into<String>,
    error: SdkError<E, Response>,
) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::new(kind, context).with_source(error)
}

/// The HTTP status behind an SDK error, when there was a response.
pub(crate) fn status_of<E>(error: &SdkError<E, Response>) -> Option<u16> {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
}
