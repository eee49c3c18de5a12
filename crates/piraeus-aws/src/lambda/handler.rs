//! What the fetch function does with each event: downloads, idempotent under retries and
//! duplicate events, and the list and query answers serve asks for.

use std::sync::Arc;

use piraeus_core::fetch::{Ingester, Resolver};
use piraeus_core::index::{FetchFailure, Index, VersionStatus};
use piraeus_core::{Error, Result};

use super::event::{FetchReply, FetchRequest};
use super::verify::ScheduledVerify;

/// The fetch function's work: downloads (idempotent under retries and duplicate events) and
/// the list and query answers serve asks for.
pub struct FetchHandler {
    ingester: Ingester,
    index: Arc<dyn Index>,
    resolver: Arc<dyn Resolver>,
    verifier: Option<ScheduledVerify>,
}

impl FetchHandler {
    pub fn new(ingester: Ingester, index: Arc<dyn Index>, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            ingester,
            index,
            resolver,
            verifier: None,
        }
    }

    /// Also answers `verify` events.
    pub fn with_verifier(mut self, verifier: ScheduledVerify) -> Self {
        self.verifier = Some(verifier);
        self
    }

    pub async fn handle(&self, request: FetchRequest) -> FetchReply {
        match self.try_handle(request).await {
            Ok(reply) => reply,
            Err(error) => FetchReply::Failed(FetchFailure::from_error(&error)),
        }
    }

    async fn try_handle(&self, request: FetchRequest) -> Result<FetchReply> {
        request.validate()?;
        match request {
            FetchRequest::Download {
                module,
                version,
                holder,
            } => {
                // A duplicate event, or a retry of one that stored everything and then died.
                if let VersionStatus::Ready(record) = self.index.version(&module, &version).await? {
                    return Ok(FetchReply::Stored(record));
                }
                // Ingesting twice is safe: stores never overwrite and the first copy wins.
                let record = self.ingester.ingest(&module, &version, &holder).await?;
                Ok(FetchReply::Stored(record))
            }
            FetchRequest::List { module } => Ok(FetchReply::Versions {
                versions: self.resolver.list(&module).await?,
            }),
            FetchRequest::Resolve { module, query } => Ok(FetchReply::Resolved(
                self.resolver.resolve(&module, &query).await?,
            )),
            FetchRequest::Verify {} => match &self.verifier {
                Some(verifier) => verifier.run().await,
                None => Err(Error::invalid("this function does not verify")),
            },
        }
    }
}
