//! Which store and index a command works on, decided the same way for every command: the data
//! directory and its SQLite index, unless `--store` or `--index` name S3 or DynamoDB.

use std::path::Path;
use std::sync::Arc;

use clap::ArgMatches;
use piraeus_core::index::Index;
use piraeus_core::local;
use piraeus_core::settings::{INDEX, STORE};
use piraeus_core::store::BlobStore;

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
