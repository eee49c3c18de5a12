//! `piraeus provision`: creates the bucket and the table exactly as template.yaml declares them,
//! for `piraeus serve --store s3:// --index dynamodb://` and for the local stack. Every step is
//! safe to repeat.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use piraeus_core::{Error, ErrorKind, Result};

use crate::dynamodb::schema;
use crate::error::sdk_error;

/// How long a new table may take to become active.
const TABLE_ACTIVE_WITHIN: Duration = Duration::from_secs(120);

/// A request the SDK refused to build: a bug here, not a condition of the account.
fn malformed(what: &str, error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Invalid, format!("building the {what}")).with_source(error)
}

/// Creates the bucket if missing: private, encrypted at rest.
pub async fn bucket(client: &aws_sdk_s3::Client, bucket: &str, region: Option<&str>) -> Result<()> {
    let mut create = client.create_bucket().bucket(bucket);
    if let Some(region) = region.filter(|region| *region != "us-east-1") {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) => {}
        Err(error) => {
            return Err(sdk_error(
                ErrorKind::Storage,
                format!("creating bucket {bucket}"),
                error,
            ));
        }
    }
    let block_all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block_all)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                ErrorKind::Storage,
                format!("blocking public access to {bucket}"),
                e,
            )
        })?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .map_err(|e| malformed("encryption rule", e))?,
                )
                .build(),
        )
        .build()
        .map_err(|e| malformed("encryption configuration", e))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| sdk_error(ErrorKind::Storage, format!("encrypting {bucket}"), e))?;
    Ok(())
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| malformed("key schema", e))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| malformed("attribute definition", e))
}

/// Creates the index table if missing (on-demand, feed index, TTL, point-in-time recovery).
pub async fn table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    let feed_index = GlobalSecondaryIndex::builder()
        .index_name(schema::FEED_INDEX)
        .key_schema(key(schema::FEED_SHARD, KeyType::Hash)?)
        .key_schema(key(schema::FEED_KEY, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| malformed("feed index", e))?;
    let create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(schema::PARTITION_KEY)?)
        .attribute_definitions(string_attribute(schema::SORT_KEY)?)
        .attribute_definitions(string_attribute(schema::FEED_SHARD)?)
        .attribute_definitions(string_attribute(schema::FEED_KEY)?)
        .key_schema(key(schema::PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(schema::SORT_KEY, KeyType::Range)?)
        .global_secondary_indexes(feed_index);
    match create.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(error) => {
            return Err(sdk_error(
                ErrorKind::Storage,
                format!("creating table {table}"),
                error,
            ));
        }
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(TABLE_ACTIVE_WITHIN)
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("table {table} did not become active"),
            )
            .with_source(e)
        })?;
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(schema::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(|e| malformed("TTL specification", e))?,
        )
        .send()
        .await;
    match ttl {
        Ok(_) => {}
        // Enabling TTL twice is refused; it is already what we want.
        Err(error)
            if error
                .as_service_error()
                .and_then(|e| e.meta().message())
                .is_some_and(|message| message.contains("already enabled")) => {}
        Err(error) => {
            return Err(sdk_error(
                ErrorKind::Storage,
                format!("enabling TTL on {table}"),
                error,
            ));
        }
    }
    client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| malformed("point-in-time recovery", e))?,
        )
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                ErrorKind::Storage,
                format!("enabling point-in-time recovery on {table}"),
                e,
            )
        })?;
    Ok(())
}
