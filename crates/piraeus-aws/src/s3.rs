//! S3 as the blob store. Object keys are the GOPROXY paths (under an optional prefix), so
//! CloudFront can serve stored artifacts straight from the bucket.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;

use piraeus_core::store::{Blob, BlobHeaders, BlobSource, BlobStore, PutOutcome, check_key};
use piraeus_core::{Error, ErrorKind, Result};

use crate::error::{sdk_error, status_of};

/// How often a put that meets a concurrent write (409) is tried again: about 15 s in all,
/// far longer than a single upload of an artifact takes.
const CONFLICT_RETRIES: usize = 10;

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

    /// The object, or the part of it `range` (an HTTP `Range` value) names.
    async fn get_object(&self, key: &str, range: Option<String>) -> Result<Blob> {
        let object_key = self.object_key(key)?;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => Ok(Blob {
                length: output.content_length().unwrap_or_default().max(0) as u64,
                body: Box::pin(output.body.into_async_read()),
            }),
            Err(error) if status_of(&error) == Some(404) => {
                Err(Error::not_found(format!("{key} is not stored")))
            }
            Err(error) => Err(sdk_error(
                ErrorKind::Storage,
                format!("reading {key}"),
                error,
            )),
        }
    }

    fn object_key(&self, key: &str) -> Result<String> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn get(&self, key: &str) -> Result<Blob> {
        self.get_object(key, None).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Blob> {
        if range.is_empty() {
            // HTTP has no empty byte range; the caller only needs an empty body.
            return Ok(Blob {
                length: 0,
                body: Box::pin(tokio::io::empty()),
            });
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        self.get_object(key, Some(header)).await
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
            Err(error) => Err(sdk_error(
                ErrorKind::Storage,
                format!("looking up {key}"),
                error,
            )),
        }
    }

    async fn put_if_absent(
        &self,
        key: &str,
        source: BlobSource,
        headers: BlobHeaders,
    ) -> Result<PutOutcome> {
        let object_key = self.object_key(key)?;
        let mut delay = Duration::from_millis(100);
        for _ in 0..CONFLICT_RETRIES {
            let body = match &source {
                BlobSource::Bytes(bytes) => ByteStream::from(bytes.clone()),
                // Streamed from disk: a 500 MB zip is never in memory.
                BlobSource::File(path) => ByteStream::from_path(path)
                    .await
                    .map_err(|e| Error::storage(format!("reading {}", path.display()), e))?,
            };
            // CloudFront serves objects straight from the bucket, with the headers stored here.
            let put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .if_none_match("*")
                .set_content_type(headers.content_type.map(String::from))
                .set_cache_control(headers.cache_control.map(String::from))
                .body(body);
            match put.send().await {
                Ok(_) => return Ok(PutOutcome::Created),
                // The key exists.
                Err(error) if status_of(&error) == Some(412) => {
                    return Ok(PutOutcome::AlreadyExists);
                }
                // A concurrent conditional write to the same key is in flight. It may still
                // fail, and the object is not readable until it succeeds: reading now could
                // find nothing. Try again once it has settled, one way or the other.
                Err(error) if status_of(&error) == Some(409) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(error) => {
                    return Err(sdk_error(
                        ErrorKind::Storage,
                        format!("storing {key}"),
                        error,
                    ));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Storage,
            format!("storing {key}: concurrent writes kept conflicting"),
        ))
    }

    async fn check(&self) -> Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(ErrorKind::Storage, "reaching the bucket", e))
    }
}
