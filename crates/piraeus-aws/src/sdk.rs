//! SDK configuration from the standard AWS environment, the clients built from it, and the one
//! place that opens a store or an index from its location.

use std::sync::Arc;

use piraeus_core::index::Index;
use piraeus_core::settings::{BucketLocation, TableLocation};
use piraeus_core::store::BlobStore;

use crate::dynamodb::DynamoIndex;
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
    Arc::new(DynamoIndex::new(dynamodb_client(config), &location.table))
}
