//! S3 as the blob store. Object keys are the GOPROXY paths (under an optional prefix), so
//! CloudFront can serve stored artifacts straight from the bucket.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use super::{Blob, BlobSource, BlobStore, PutOutcome, check_key};
use crate::error::{Error, Result};
use crate::module_path::{ArtifactKind, IMMUTABLE_CACHE_CONTROL};

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or a prefix ending in `/`.
    prefix: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Self {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    fn object_key(&self, key: &str) -> Result<String> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

/// The HTTP status behind an SDK error, when there was a response.
fn status_of<E>(error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
}

fn storage_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    context: String,
    error: SdkError<E, R>,
) -> Error {
    Error::Storage(format!(
        "{context}: {}",
        aws_sdk_s3::error::DisplayErrorContext(error)
    ))
}

#[async_trait]
impl BlobStore for S3Store {
    async fn get(&self, key: &str) -> Result<Blob> {
        let object_key = self.object_key(key)?;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
        {
            Ok(output) => Ok(Blob {
                length: output.content_length().unwrap_or_default().max(0) as u64,
                body: Box::pin(output.body.into_async_read()),
            }),
            Err(error) if status_of(&error) == Some(404) => {
                Err(Error::NotFound(format!("{key} is not stored")))
            }
            Err(error) => Err(storage_error(format!("s3 get {object_key}"), error)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        let object_key = self.object_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output.content_length().unwrap_or_default().max(0) as u64
            )),
            Err(error) if status_of(&error) == Some(404) => Ok(None),
            Err(error) => Err(storage_error(format!("s3 head {object_key}"), error)),
        }
    }

    async fn put_if_absent(&self, key: &str, source: BlobSource) -> Result<PutOutcome> {
        let object_key = self.object_key(key)?;
        let body = match source {
            BlobSource::Bytes(bytes) => ByteStream::from(bytes),
            // Streamed from disk: a 500 MB zip is never in memory.
            BlobSource::File(path) => ByteStream::from_path(&path)
                .await
                .map_err(|e| Error::storage(path.display(), e))?,
        };
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .if_none_match("*")
            .body(body);
        // CloudFront serves these objects straight from the bucket, so they carry the headers
        // Piraeus itself would send.
        if let Some(kind) = ArtifactKind::of_key(key) {
            put = put
                .content_type(kind.content_type())
                .cache_control(IMMUTABLE_CACHE_CONTROL);
        }
        match put.send().await {
            Ok(_) => Ok(PutOutcome::Created),
            // 412: the key exists. 409: a concurrent conditional write to the same key is in
            // flight; one of the writers wins and the object will exist.
            Err(error) if matches!(status_of(&error), Some(412 | 409)) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(error) => Err(storage_error(format!("s3 put {object_key}"), error)),
        }
    }

    async fn check(&self) -> Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| storage_error(format!("s3 bucket {}", self.bucket), e))
    }

    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::storage("presigning", e))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key)?)
            .presigned(config)
            .await
            .map_err(|e| Error::storage(format!("presigning {key}"), e))?;
        Ok(Some(request.uri().to_string()))
    }
}
