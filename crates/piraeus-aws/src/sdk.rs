//! SDK configuration from the standard AWS environment, the clients built from it, and the one
//! place that opens a store, an index or a policy from its location.

use std::sync::Arc;

use piraeus_core::index::Index;
use piraeus_core::policy::Policy;
use piraeus_core::settings::{self, BucketLocation, TableLocation};
use piraeus_core::store::BlobStore;
use piraeus_core::{Error, ErrorKind, Result};

use crate::dynamodb::DynamoIndex;
use crate::error::sdk_error;
use crate::s3::S3Store;

/// The credentials chain, region, and `AWS_ENDPOINT_URL` (emulators, private endpoints).
pub async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// An S3 client; path-style addressing when an endpoint is overridden, as emulators and most
/// S3-compatible stores need.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// The S3 store at `location`.
pub fn open_store(config: &aws_config::SdkConfig, location: &BucketLocation) -> Arc<dyn BlobStore> {
    Arc::new(S3Store::new(
        s3_client(config),
        &location.bucket,
        &location.prefix,
    ))
}

/// The DynamoDB index at `location`.
pub fn open_index(config: &aws_config::SdkConfig, location: &TableLocation) -> Arc<dyn Index> {
    open_dynamo_index(config, location)
}

/// The same, as itself: for what only DynamoDB keeps (the scheduled verify's cursor).
pub fn open_dynamo_index(
    config: &aws_config::SdkConfig,
    location: &TableLocation,
) -> Arc<DynamoIndex> {
    Arc::new(DynamoIndex::new(dynamodb_client(config), &location.table))
}

/// The module policy from `s3://BUCKET/KEY` or a file. The functions read it once per
/// execution environment: a changed policy applies as environments are replaced, or at once
/// after a deployment.
pub async fn load_policy(sdk: &aws_config::SdkConfig, location: &str) -> Result<Policy> {
    let Some(object) = location.strip_prefix("s3://") else {
        return Policy::load(std::path::Path::new(location));
    };
    let Some((bucket, key)) = object.split_once('/') else {
        return Err(Error::invalid(format!(
            "{}: {location:?} is not s3://BUCKET/KEY",
            settings::POLICY.env
        )));
    };
    let output = s3_client(sdk)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| sdk_error(ErrorKind::Invalid, "reading the policy object", e))?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| Error::invalid("reading the policy object").with_source(e))?
        .into_bytes();
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|e| Error::invalid("the policy object is not UTF-8").with_source(e))?;
    Policy::parse(&text)
}
