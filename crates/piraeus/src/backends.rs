//! Which store and index a command works on, decided the same way for every command: the data
//! directory and its SQLite index, unless `--store` or `--index` name S3 or DynamoDB.

use std::path::Path;
use std::sync::Arc;

use clap::ArgMatches;
use piraeus_core::index::Index;
use piraeus_core::local;
use piraeus_core::policy::Policy;
use piraeus_core::settings::{ANSWER_TTL, INDEX, POLICY, STORE};
use piraeus_core::store::BlobStore;
use piraeus_core::sumdb::SumDbConfig;
use piraeus_core::sumdb::verify::{DatabaseSums, Source};

use crate::settings::value;

/// Whether a data directory without an index may get a new, empty one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Create,
    /// A command that only reads (a check) must not create an index where none was.
    Refuse,
}

pub async fn open(
    data_dir: &Path,
    arguments: &ArgMatches,
    missing: Missing,
) -> anyhow::Result<(Arc<dyn BlobStore>, Arc<dyn Index>)> {
    let (store, index) = (value(arguments, &STORE), value(arguments, &INDEX));
    let sdk = match (&store, &index) {
        (None, None) => None,
        _ => Some(piraeus_aws::sdk::config().await),
    };
    let store = match (&store, &sdk) {
        (Some(location), Some(sdk)) => piraeus_aws::sdk::open_store(sdk, location),
        _ => local::open_store(data_dir)?,
    };
    let index = match (&index, &sdk) {
        (Some(location), Some(sdk)) => piraeus_aws::sdk::open_index(sdk, location),
        _ => {
            anyhow::ensure!(
                missing == Missing::Create || local::index_path(data_dir).exists(),
                "{} has no index: nothing has been stored there",
                data_dir.display()
            );
            local::open_index(data_dir)?
        }
    };
    Ok((store, index))
}

/// The module policy `--policy` names (a file or an `s3://` object), else the default.
pub async fn policy(arguments: &ArgMatches) -> anyhow::Result<Policy> {
    Ok(match value(arguments, &POLICY) {
        Some(location) if location.starts_with("s3://") => {
            piraeus_aws::sdk::load_policy(&piraeus_aws::sdk::config().await, &location).await?
        }
        Some(path) => Policy::load(Path::new(&path))?,
        None => Policy::default(),
    })
}

/// The checksum database `GOSUMDB` names, as the go command reads it and its neighbours
/// (`GONOSUMDB`, `GOPRIVATE`) from this process's environment, read from `source`; its
/// answers are cached in `store` and `index` as the `/sumdb` proxy caches them.
pub fn checksum_database(
    policy: Policy,
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    source: Source,
) -> anyhow::Result<DatabaseSums> {
    let environment = |name: &str| std::env::var(name).ok();
    let settings = piraeus_core::golang::checksumdb::SumDbSettings::from_env(environment)?;
    let proxied = SumDbConfig::new(Vec::new(), ANSWER_TTL.default_value(), &environment);
    Ok(DatabaseSums::with_source(
        settings,
        &proxied,
        Arc::new(policy),
        store,
        index,
        source,
    )?)
}
