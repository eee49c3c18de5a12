//! DynamoDB as the version index. One table:
//! - version items: `pk = "version#{module}"`, `sk = {version}`; leases, failures and ready
//!   records are states of that one item, changed only by conditional writes;
//! - answer items: `pk = "answer#{list|latest|query} ..."`, `sk = "answer"`, with a TTL
//!   attribute so long-unused answers are deleted by DynamoDB;
//! - the ingest feed: a sparse global secondary index over ready items only, partitioned into
//!   [`FEED_SHARDS`] shards by a hash of module@version so ingests do not all write to one
//!   partition, sorted by `{fetched_at:020}#{module}#{version}`.
//!
//! [`schema`] is the table definition; `piraeus provision` creates exactly it and template.yaml
//! declares the same.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use piraeus_core::index::{
    ANSWER_RETENTION, AnswerKey, CachedAnswer, FAILURE_RETENTION, FeedCursor, FetchFailure, Index,
    StoredVersion, VersionStatus,
};
use piraeus_core::{Error, ErrorKind, Result};

use crate::error::sdk_error;

/// The table's key, index and attribute names, shared with provisioning and template.yaml.
pub mod schema {
    pub const PARTITION_KEY: &str = "pk";
    pub const SORT_KEY: &str = "sk";
    pub const FEED_INDEX: &str = "feed";
    pub const FEED_SHARD: &str = "feed_shard";
    pub const FEED_KEY: &str = "feed_key";
    /// Epoch seconds after which DynamoDB may delete an item (answers and failure records;
    /// never a ready or fetching version).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// Feed shards: enough to spread ingest writes, few enough to merge cheaply when reading.
pub(crate) const FEED_SHARDS: u32 = 8;

const ANSWER_SORT_KEY: &str = "answer";

pub struct DynamoIndex {
    client: Client,
    table: String,
}

impl DynamoIndex {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An update of one version's item; callers add the expression and its condition.
    /// An update of the answer item of `key` (its body, or its refresh lease).
    fn update_answer(&self, key: &AnswerKey) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string(answer_partition(key)))
            .key(schema::SORT_KEY, string(ANSWER_SORT_KEY))
    }

    fn update_version(&self, module: &str, version: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string(version_partition(module)))
            .key(schema::SORT_KEY, string(version))
    }
}

/// The scheduled verify's place in the feed: one item, never in the feed index (it has no
/// feed attributes) and never expiring.
const VERIFY_CURSOR_PARTITION: &str = "verify#cursor";
const VERIFY_CURSOR_SORT_KEY: &str = "cursor";

impl DynamoIndex {
    /// Where the scheduled verify stopped last time; `None` before its first run.
    pub async fn verify_cursor(&self) -> Result<Option<FeedCursor>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string(VERIFY_CURSOR_PARTITION))
            .key(schema::SORT_KEY, string(VERIFY_CURSOR_SORT_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| storage_error("get verify cursor", e))?;
        output
            .item
            .map(|item| {
                Ok(FeedCursor {
                    fetched_at: get_number(&item, "fetched_at")?,
                    module: get_string(&item, "module")?,
                    version: get_string(&item, "version")?,
                })
            })
            .transpose()
    }

    /// Records where the scheduled verify has checked up to, and when (`now`, Unix ms).
    pub async fn save_verify_cursor(&self, cursor: &FeedCursor, now: i64) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(schema::PARTITION_KEY, string(VERIFY_CURSOR_PARTITION))
            .item(schema::SORT_KEY, string(VERIFY_CURSOR_SORT_KEY))
            .item("fetched_at", number(cursor.fetched_at))
            .item("module", string(&cursor.module))
            .item("version", string(&cursor.version))
            .item("saved_at", number(now))
            .send()
            .await
            .map_err(|e| storage_error("put verify cursor", e))?;
        Ok(())
    }
}

fn version_partition(module: &str) -> String {
    format!("version#{module}")
}

fn answer_partition(key: &AnswerKey) -> String {
    format!("answer#{}", key.storage_key())
}

/// Sort key of the feed: fixed-width time first, so string order is ingest order.
fn feed_key(fetched_at: i64, module: &str, version: &str) -> String {
    format!("{:020}#{module}#{version}", fetched_at.max(0))
}

/// A stable shard for a version (FNV-1a: no dependency, same result in every process).
fn feed_shard(module: &str, version: &str) -> String {
    let mut hash: u32 = 0x811c9dc5;
    for byte in module.bytes().chain([b'@']).chain(version.bytes()) {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x01000193);
    }
    format!("feed#{}", hash % FEED_SHARDS)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

type Item = HashMap<String, AttributeValue>;

fn get_string(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(Error::new(
            ErrorKind::Storage,
            format!("index item lacks string attribute {name}"),
        )),
    }
}

fn get_number(item: &Item, name: &str) -> Result<i64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| {
            Error::new(
                ErrorKind::Storage,
                format!("index attribute {name} is not an integer"),
            )
        }),
        _ => Err(Error::new(
            ErrorKind::Storage,
            format!("index item lacks number attribute {name}"),
        )),
    }
}

fn stored_version(item: &Item) -> Result<StoredVersion> {
    let partition = get_string(item, schema::PARTITION_KEY)?;
    Ok(StoredVersion {
        module: partition
            .strip_prefix("version#")
            .unwrap_or(&partition)
            .to_string(),
        version: get_string(item, schema::SORT_KEY)?,
        time: get_string(item, "time")?,
        zip_hash: get_string(item, "zip_hash")?,
        mod_hash: get_string(item, "mod_hash")?,
        zip_size: get_number(item, "zip_size")? as u64,
        mod_size: get_number(item, "mod_size")? as u64,
        info_size: get_number(item, "info_size")? as u64,
        origin: get_string(item, "origin")?,
        fetched_at: get_number(item, "fetched_at")?,
    })
}

fn storage_error<E: std::error::Error + Send + Sync + 'static>(
    context: &str,
    error: SdkError<E, HttpResponse>,
) -> Error {
    sdk_error(ErrorKind::Storage, format!("index {context}"), error)
}

/// Turns "the condition did not hold" into `Ok(false)`, every other failure into an error.
fn conditional<T, E>(
    context: &str,
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool>
where
    E: std::error::Error + ConditionFailure + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(ConditionFailure::is_condition_failure) =>
        {
            Ok(false)
        }
        Err(error) => Err(storage_error(context, error)),
    }
}

trait ConditionFailure {
    fn is_condition_failure(&self) -> bool;
}

impl ConditionFailure for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn is_condition_failure(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailure for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn is_condition_failure(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

#[async_trait]
impl Index for DynamoIndex {
    async fn check(&self) -> Result<()> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string("health"))
            .key(schema::SORT_KEY, string("health"))
            .send()
            .await
            .map(drop)
            .map_err(|e| storage_error("readiness check", e))
    }

    async fn version(&self, module: &str, version: &str) -> Result<VersionStatus> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string(version_partition(module)))
            .key(schema::SORT_KEY, string(version))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| storage_error("get version", e))?;
        let Some(item) = output.item else {
            return Ok(VersionStatus::Absent);
        };
        match get_string(&item, "state")?.as_str() {
            "ready" => Ok(VersionStatus::Ready(stored_version(&item)?)),
            "fetching" => Ok(VersionStatus::Fetching {
                holder: get_string(&item, "lease_holder")?,
                lease_expires: get_number(&item, "lease_expires")?,
            }),
            _ => Ok(VersionStatus::Failed {
                failure: FetchFailure {
                    kind: ErrorKind::parse(&get_string(&item, "failure_kind")?)
                        .unwrap_or(ErrorKind::Upstream),
                    message: get_string(&item, "failure_message")?,
                },
                failed_at: get_number(&item, "failed_at")?,
            }),
        }
    }

    async fn claim_fetch(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool> {
        let request = self
            .update_version(module, version)
            .update_expression(
                "SET #state = :fetching, lease_holder = :holder, lease_expires = :expires \
                 REMOVE failure_kind, failure_message, failed_at, expires_at",
            )
            .condition_expression(
                "attribute_not_exists(pk) OR #state = :failed OR (#state = :fetching AND lease_expires < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fetching", string("fetching"))
            .expression_attribute_values(":failed", string("failed"))
            .expression_attribute_values(":holder", string(holder))
            .expression_attribute_values(":expires", number(lease_expires))
            .expression_attribute_values(":now", number(now));
        conditional("claim fetch lease", request.send().await)
    }

    async fn renew_lease(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
    ) -> Result<bool> {
        let request = self
            .update_version(module, version)
            .update_expression("SET lease_expires = :expires")
            .condition_expression("#state = :fetching AND lease_holder = :holder")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fetching", string("fetching"))
            .expression_attribute_values(":holder", string(holder))
            .expression_attribute_values(":expires", number(lease_expires));
        conditional("renew fetch lease", request.send().await)
    }

    async fn mark_ready(&self, record: &StoredVersion) -> Result<bool> {
        let request = self
            .update_version(&record.module, &record.version)
            .update_expression(
                "SET #state = :ready, #time = :time, zip_hash = :zip_hash, mod_hash = :mod_hash, \
                 zip_size = :zip_size, mod_size = :mod_size, info_size = :info_size, origin = :origin, \
                 fetched_at = :fetched_at, feed_shard = :feed_shard, feed_key = :feed_key \
                 REMOVE lease_holder, lease_expires, failure_kind, failure_message, failed_at, expires_at",
            )
            .condition_expression("attribute_not_exists(pk) OR #state <> :ready")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#time", "time")
            .expression_attribute_values(":ready", string("ready"))
            .expression_attribute_values(":time", string(&record.time))
            .expression_attribute_values(":zip_hash", string(&record.zip_hash))
            .expression_attribute_values(":mod_hash", string(&record.mod_hash))
            .expression_attribute_values(":zip_size", number(record.zip_size as i64))
            .expression_attribute_values(":mod_size", number(record.mod_size as i64))
            .expression_attribute_values(":info_size", number(record.info_size as i64))
            .expression_attribute_values(":origin", string(&record.origin))
            .expression_attribute_values(":fetched_at", number(record.fetched_at))
            .expression_attribute_values(":feed_shard", string(feed_shard(&record.module, &record.version)))
            .expression_attribute_values(":feed_key", string(feed_key(record.fetched_at, &record.module, &record.version)));
        conditional("mark version ready", request.send().await)
    }

    async fn mark_failed(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        failure: &FetchFailure,
        now: i64,
    ) -> Result<()> {
        let request = self
            .update_version(module, version)
            .update_expression(
                "SET #state = :failed, failure_kind = :kind, failure_message = :message, failed_at = :now, \
                 expires_at = :expires REMOVE lease_holder, lease_expires",
            )
            .condition_expression("#state = :fetching AND lease_holder = :holder")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":failed", string("failed"))
            .expression_attribute_values(":fetching", string("fetching"))
            .expression_attribute_values(":holder", string(holder))
            .expression_attribute_values(":kind", string(failure.kind.as_str()))
            .expression_attribute_values(":message", string(&failure.message))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(
                ":expires",
                number(now / 1000 + FAILURE_RETENTION.as_secs() as i64),
            );
        // A holder that lost its lease has nothing to record: someone else owns the outcome.
        conditional("mark version failed", request.send().await).map(drop)
    }

    async fn stored_versions(&self, module: &str) -> Result<Vec<StoredVersion>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .filter_expression("#state = :ready")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pk", string(version_partition(module)))
            .expression_attribute_values(":ready", string("ready"))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| storage_error("query stored versions", e))?;
            for item in page.items() {
                versions.push(stored_version(item)?);
            }
        }
        Ok(versions)
    }

    async fn cached_answer(&self, key: &AnswerKey) -> Result<Option<CachedAnswer>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::PARTITION_KEY, string(answer_partition(key)))
            .key(schema::SORT_KEY, string(ANSWER_SORT_KEY))
            .send()
            .await
            .map_err(|e| storage_error("get cached answer", e))?;
        // An item with only a refresh lease holds no answer yet.
        output
            .item
            .filter(|item| item.contains_key("body"))
            .map(|item| {
                Ok(CachedAnswer {
                    body: get_string(&item, "body")?,
                    fetched_at: get_number(&item, "fetched_at")?,
                })
            })
            .transpose()
    }

    async fn put_cached_answer(&self, key: &AnswerKey, answer: &CachedAnswer) -> Result<()> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(schema::PARTITION_KEY, string(answer_partition(key)))
            .item(schema::SORT_KEY, string(ANSWER_SORT_KEY))
            .item("body", string(&answer.body))
            .item("fetched_at", number(answer.fetched_at))
            .item(
                schema::EXPIRES_AT,
                number(answer.fetched_at / 1000 + ANSWER_RETENTION.as_secs() as i64),
            )
            // A put replaces the whole item, which also ends a refresh lease on it.
            .condition_expression("attribute_not_exists(fetched_at) OR fetched_at <= :fetched_at")
            .expression_attribute_values(":fetched_at", number(answer.fetched_at));
        // A newer answer already stored wins over this slower refresh.
        conditional("put cached answer", request.send().await).map(drop)
    }

    async fn claim_refresh(
        &self,
        key: &AnswerKey,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool> {
        let request = self
            .update_answer(key)
            // A lease on a key with no answer yet must not keep the item forever.
            .update_expression(
                "SET refresh_holder = :holder, refresh_expires = :expires, \
                 expires_at = if_not_exists(expires_at, :retention)",
            )
            .condition_expression("attribute_not_exists(refresh_expires) OR refresh_expires < :now")
            .expression_attribute_values(":holder", string(holder))
            .expression_attribute_values(":expires", number(lease_expires))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(
                ":retention",
                number(now / 1000 + ANSWER_RETENTION.as_secs() as i64),
            );
        conditional("claim answer refresh", request.send().await)
    }

    async fn release_refresh(&self, key: &AnswerKey, holder: &str) -> Result<()> {
        let request = self
            .update_answer(key)
            .update_expression("REMOVE refresh_holder, refresh_expires")
            .condition_expression("refresh_holder = :holder")
            .expression_attribute_values(":holder", string(holder));
        // Not held (expired and taken, or an answer was put): nothing to give up.
        conditional("release answer refresh", request.send().await).map(drop)
    }

    async fn feed(&self, after: Option<&FeedCursor>, limit: usize) -> Result<Vec<StoredVersion>> {
        // None: from the beginning (DynamoDB refuses an empty string as a key value).
        let mut after_key = after.map(|c| feed_key(c.fetched_at, &c.module, &c.version));
        let mut feed = Vec::new();
        // A round reads one page of each shard. When a shard had more than its page (its limit,
        // or DynamoDB's 1 MB), the round is only complete up to that page's end, and another
        // round continues from the last entry taken.
        while feed.len() < limit {
            let mut pages = Vec::new();
            for shard in 0..FEED_SHARDS {
                let query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(schema::FEED_INDEX)
                    .expression_attribute_values(":shard", string(format!("feed#{shard}")))
                    .limit((limit - feed.len()).clamp(1, 1000) as i32);
                let query = match &after_key {
                    Some(after_key) => query
                        .key_condition_expression("feed_shard = :shard AND feed_key > :after")
                        .expression_attribute_values(":after", string(after_key)),
                    None => query.key_condition_expression("feed_shard = :shard"),
                };
                let output = query
                    .send()
                    .await
                    .map_err(|e| storage_error("query feed", e))?;
                let entries = output
                    .items()
                    .iter()
                    .map(|item| Ok((get_string(item, schema::FEED_KEY)?, stored_version(item)?)))
                    .collect::<Result<Vec<_>>>()?;
                pages.push(ShardPage {
                    entries,
                    more: output.last_evaluated_key().is_some(),
                });
            }
            let (round, finished) = merge_shard_pages(pages, limit - feed.len())?;
            let Some((last_key, _)) = round.last() else {
                break;
            };
            after_key = Some(last_key.clone());
            feed.extend(round.into_iter().map(|(_, record)| record));
            if finished {
                break;
            }
        }
        Ok(feed)
    }
}

/// One query's worth of a feed shard: entries in feed-key order, and whether the shard has
/// more after them.
struct ShardPage<T> {
    entries: Vec<(String, T)>,
    more: bool,
}

/// Merges one page of every shard into the first `limit` entries, in feed-key order, that are
/// certainly the next ones: none past the end of a shard's page when that shard has more (an
/// entry of it could come before). With them, whether the caller is done: `limit` were found,
/// or every shard was read to its end (the feed has no more).
fn merge_shard_pages<T>(
    pages: Vec<ShardPage<T>>,
    limit: usize,
) -> Result<(Vec<(String, T)>, bool)> {
    let mut bound: Option<String> = None;
    let mut finished = true;
    let mut merged = Vec::new();
    for page in pages {
        if page.more {
            finished = false;
            let Some((last, _)) = page.entries.last() else {
                return Err(Error::new(
                    ErrorKind::Storage,
                    "a feed shard answered no entries but said it had more",
                ));
            };
            if bound.as_ref().is_none_or(|bound| last < bound) {
                bound = Some(last.clone());
            }
        }
        merged.extend(page.entries);
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(bound) = bound {
        merged.retain(|(key, _)| *key <= bound);
    }
    if merged.len() >= limit {
        merged.truncate(limit);
        finished = true;
    }
    Ok((merged, finished))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_keys_sort_in_ingest_order() {
        assert!(feed_key(999, "b", "v1") < feed_key(1000, "a", "v0"));
        assert!(feed_key(1000, "a", "v1.0.0") < feed_key(1000, "b", "v0.1.0"));
    }

    fn page(keys: &[&str], more: bool) -> ShardPage<()> {
        ShardPage {
            entries: keys.iter().map(|key| (key.to_string(), ())).collect(),
            more,
        }
    }

    fn keys(merged: &[(String, ())]) -> Vec<&str> {
        merged.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn a_shard_with_more_bounds_the_merge() {
        // Shard 0 stopped at "c" (its limit or 1 MB): its next entry may be "d", so "e" and "f"
        // from the other shard cannot be given yet.
        let (merged, finished) = merge_shard_pages(
            vec![page(&["a", "c"], true), page(&["b", "e", "f"], false)],
            10,
        )
        .unwrap();
        assert_eq!(keys(&merged), ["a", "b", "c"]);
        assert!(!finished, "the caller must read on after c");
        // Every shard read to its end: all of it, and the feed has no more.
        let (merged, finished) =
            merge_shard_pages(vec![page(&["a", "c"], false), page(&["b"], false)], 10).unwrap();
        assert_eq!(keys(&merged), ["a", "b", "c"]);
        assert!(finished);
        // Enough for the limit: a full page.
        let (merged, finished) =
            merge_shard_pages(vec![page(&["a", "c"], true), page(&["b"], true)], 2).unwrap();
        assert_eq!(keys(&merged), ["a", "b"]);
        assert!(finished);
        assert!(merge_shard_pages(vec![page(&[], true)], 2).is_err());
    }

    #[test]
    fn feed_shards_are_stable_and_spread() {
        assert_eq!(
            feed_shard("example.com/a", "v1.0.0"),
            feed_shard("example.com/a", "v1.0.0")
        );
        let shards: std::collections::HashSet<_> = (0..200)
            .map(|n| feed_shard("example.com/m", &format!("v1.0.{n}")))
            .collect();
        assert_eq!(
            shards.len(),
            FEED_SHARDS as usize,
            "200 versions reach every shard"
        );
    }
}
