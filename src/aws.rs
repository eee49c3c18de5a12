//! AWS wiring shared by `piraeus serve`, `piraeus provision` and the Lambda functions: where
//! the bucket and table are, SDK clients from the standard environment, and provisioning of
//! exactly the schema template.yaml declares.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::error::{Error, Result};
use crate::index::dynamodb::schema;

/// `s3://BUCKET[/PREFIX]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketLocation {
    pub bucket: String,
    pub prefix: String,
}

impl std::str::FromStr for BucketLocation {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text:?} is not an s3://BUCKET[/PREFIX] URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(format!("{bucket:?} is not a valid S3 bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|element| element == ".." || element == ".")
            || prefix.contains("//")
        {
            return Err(format!("{prefix:?} is not a usable key prefix"));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// `dynamodb://TABLE`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLocation {
    pub table: String,
}

impl std::str::FromStr for TableLocation {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let table = text
            .strip_prefix("dynamodb://")
            .ok_or_else(|| format!("{text:?} is not a dynamodb://TABLE URL"))?;
        let valid = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(format!("{table:?} is not a valid DynamoDB table name"));
        }
        Ok(Self {
            table: table.to_string(),
        })
    }
}

/// SDK configuration from the standard AWS environment (credentials chain, region,
/// `AWS_ENDPOINT_URL` for emulators and private endpoints).
pub async fn sdk_config() -> aws_config::SdkConfig {
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

/// Creates the bucket if missing: private, encrypted at rest.
pub async fn provision_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    region: Option<&str>,
) -> Result<()> {
    let mut create = client.create_bucket().bucket(bucket);
    if let Some(region) = region.filter(|region| *region != "us-east-1") {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
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
            return Err(Error::Storage(format!(
                "creating bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(error)
            )));
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
            Error::Storage(format!(
                "blocking public access to {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            ))
        })?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .map_err(|e| Error::storage("encryption rule", e))?,
                )
                .build(),
        )
        .build()
        .map_err(|e| Error::storage("encryption configuration", e))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| {
            Error::Storage(format!(
                "encrypting {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            ))
        })?;
    Ok(())
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| Error::storage("key schema", e))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| Error::storage("attribute definition", e))
}

/// Creates the index table if missing (on-demand, feed index, TTL, point-in-time recovery).
pub async fn provision_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
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
        .map_err(|e| Error::storage("feed index", e))?;
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
            return Err(Error::Storage(format!(
                "creating table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(error)
            )));
        }
    }
    wait_until_active(client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(schema::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(|e| Error::storage("ttl specification", e))?,
        )
        .send()
        .await
        .map(drop)
        .or_else(|error| {
            // Enabling TTL twice is refused; it is already what we want.
            let already = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&error))
                .contains("already enabled");
            if already {
                Ok(())
            } else {
                Err(Error::Storage(format!(
                    "enabling TTL on {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(error)
                )))
            }
        })?;
    client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| Error::storage("point-in-time recovery", e))?,
        )
        .send()
        .await
        .map_err(|e| {
            Error::Storage(format!(
                "enabling point-in-time recovery on {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            ))
        })?;
    Ok(())
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    for _ in 0..120 {
        let description = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                Error::Storage(format!(
                    "describing {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ))
            })?;
        let status = description.table().and_then(|t| t.table_status().cloned());
        if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    Err(Error::Storage(format!(
        "table {table} did not become active within two minutes"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            "s3://my-bucket/some/prefix/".parse::<BucketLocation>(),
            Ok(BucketLocation {
                bucket: "my-bucket".into(),
                prefix: "some/prefix".into()
            })
        );
        assert_eq!(
            "s3://my-bucket".parse::<BucketLocation>().unwrap().prefix,
            ""
        );
        for bad in [
            "my-bucket",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://bucket/../x",
            "file:///x",
        ] {
            assert!(bad.parse::<BucketLocation>().is_err(), "{bad}");
        }
        assert_eq!(
            "dynamodb://piraeus-index"
                .parse::<TableLocation>()
                .unwrap()
                .table,
            "piraeus-index"
        );
        for bad in ["piraeus", "dynamodb://", "dynamodb://a b", "dynamodb://x"] {
            assert!(bad.parse::<TableLocation>().is_err(), "{bad}");
        }
    }
}
