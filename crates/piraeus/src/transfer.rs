//! `piraeus export` and `piraeus import`: stored versions carried between Piraeus instances
//! with no network path between them, as one archive file (see `piraeus_core::archive` for
//! its format). Both work over a data directory or S3 and DynamoDB (`--store`, `--index`),
//! in any pairing.
//!
//! Both check every version against the checksum database `GOSUMDB` names (read as the go
//! command reads it, with `GONOSUMDB` and `GOPRIVATE`): export writes the database's files
//! that prove each version into the archive, and import verifies against them, or against
//! the database itself for what they lack (never with `--offline`).
//!
//! `export` exit status: 0 when every selected version was written (and proved, unless
//! private or `GOSUMDB=off`), 1 when a version listed in `--go-sum` is not stored or differs
//! from the go.sum, or a version could not be proved (each named; the rest is written), 2 on
//! bad usage. `import`: 0 when every version was stored or already present and identical, 1
//! when any was refused (each named on stdout; the rest is imported), 2 on bad usage or an
//! unreadable archive.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::{Arc, Mutex};

use clap::{Arg, ArgAction, ArgMatches, Command};
use piraeus_core::archive::{self, Exported, Imported, Proofs};
use piraeus_core::index::{Index, StoredVersion};
use piraeus_core::settings::{DATA_DIR, INDEX, POLICY, STORE, VERIFY_SINCE};
use piraeus_core::sumdb::verify::Source;
use piraeus_core::verify;

use crate::backends::{self, Missing};
use crate::runtime_outcome;
use crate::settings::{flag, given};

pub fn export_command() -> Command {
    Command::new("export")
        .about("Write stored versions, with their index records, to one archive file for `piraeus import`")
        .arg(flag(&DATA_DIR))
        .arg(flag(&STORE))
        .arg(flag(&INDEX))
        .arg(flag(&POLICY))
        .arg(
            Arg::new("out")
                .long("out")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("The archive to write (a zip file; replaced if it exists)"),
        )
        .arg(
            Arg::new("since")
                .long("since")
                .value_parser(VERIFY_SINCE.parse)
                .conflicts_with("go-sum")
                .help(
                    "Export only versions stored at or after this moment: an RFC 3339 timestamp \
                     (2025-01-02T03:04:05Z) or a duration before now (7d, 12h)",
                ),
        )
        .arg(
            Arg::new("go-sum")
                .long("go-sum")
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "Export only the versions a go.sum (or go.mod, or list of module@version) \
                     names; each must be stored, with the go.sum's h1: sums",
                ),
        )
}

pub fn import_command() -> Command {
    Command::new("import")
        .about(
            "Store the versions of a `piraeus export` archive, re-hashed and verified against \
             the checksum database",
        )
        .arg(flag(&DATA_DIR))
        .arg(flag(&STORE))
        .arg(flag(&INDEX))
        .arg(flag(&POLICY))
        .arg(
            Arg::new("offline")
                .long("offline")
                .action(ArgAction::SetTrue)
                .help(
                    "Verify only against the checksum-database files the archive carries \
                     (written by export); never reach the database",
                ),
        )
        .arg(
            Arg::new("archive")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("The archive written by `piraeus export`"),
        )
}

pub async fn export(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let listed = match arguments.get_one::<PathBuf>("go-sum") {
        None => None,
        Some(path) => {
            let body = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let plan = piraeus_core::prefetch::read(&body)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
            if let Some(rejected) = plan.rejected.first() {
                anyhow::bail!(
                    "{}:{}: {} ({})",
                    path.display(),
                    rejected.line,
                    rejected.input,
                    rejected.reason
                );
            }
            Some(plan.wanted)
        }
    };
    let out: PathBuf = arguments
        .get_one::<PathBuf>("out")
        .cloned()
        .expect("clap requires --out");
    let data_dir = given(arguments, &DATA_DIR);
    let (store, index) = backends::open(&data_dir, arguments, Missing::Refuse).await?;
    let since = arguments.get_one::<i64>("since").copied();
    let mut problems = 0usize;
    let records = match selected(index.as_ref(), since, listed, &mut problems).await {
        Ok(records) => records,
        Err(error) => return Ok(runtime_outcome(Err(error))),
    };
    let policy = crate::backends::policy(arguments).await?;
    let recorded = Arc::new(Mutex::new(Default::default()));
    let sums = crate::backends::checksum_database(
        policy,
        store.clone(),
        index.clone(),
        Source::Recording(recorded.clone()),
    )?;
    let proofs = sums.database().map(|database| Proofs {
        sums: &sums,
        recorded,
        database,
    });
    let written = archive::export(
        store.as_ref(),
        &records,
        &out,
        proofs,
        |record, exported| {
            let name = format!("{}@{}", record.module, record.version);
            match exported {
                Exported::Written | Exported::Proved => {}
                Exported::Unchecked(reason) => println!("UNCHECKED {name}: {reason}"),
                Exported::NotProved(reason) => {
                    problems += 1;
                    println!("NOT PROVED {name}: {reason} (written without a proof)");
                }
            }
        },
    )
    .await;
    if let Err(error) = written {
        return Ok(runtime_outcome(Err(
            anyhow::Error::new(error).context("export stopped")
        )));
    }
    println!("exported {} versions to {}", records.len(), out.display());
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The versions to export: those a go.sum lists (naming on stdout each that is not stored, or
/// stored with other sums), else those stored since a moment, else all.
async fn selected(
    index: &dyn Index,
    since: Option<i64>,
    listed: Option<Vec<piraeus_core::prefetch::Wanted>>,
    problems: &mut usize,
) -> anyhow::Result<Vec<StoredVersion>> {
    let Some(wanted) = listed else {
        return Ok(archive::stored_after(index, since.map(verify::stored_since)).await?);
    };
    let mut records = Vec::new();
    for wanted in wanted {
        let (module, version) = (wanted.module.as_str(), wanted.version.as_str());
        let Some(record) = archive::stored(index, module, version).await? else {
            if wanted.zip_hash.is_none() && wanted.mod_hash.is_some() {
                // Only its go.mod is in the go.sum: the go command never needed the zip.
                continue;
            }
            *problems += 1;
            println!("NOT STORED {module}@{version}");
            continue;
        };
        let differs = wanted
            .zip_hash
            .as_ref()
            .is_some_and(|hash| *hash != record.zip_hash)
            || wanted
                .mod_hash
                .as_ref()
                .is_some_and(|hash| *hash != record.mod_hash);
        if differs {
            *problems += 1;
            println!(
                "MISMATCH {module}@{version}: stored with {} {}, the go.sum has {} {}",
                record.zip_hash,
                record.mod_hash,
                wanted.zip_hash.as_deref().unwrap_or("-"),
                wanted.mod_hash.as_deref().unwrap_or("-")
            );
            continue;
        }
        records.push(record);
    }
    Ok(records)
}

pub async fn import(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let path: PathBuf = arguments
        .get_one::<PathBuf>("archive")
        .cloned()
        .expect("clap requires the archive");
    anyhow::ensure!(path.is_file(), "{} is not a file", path.display());
    let data_dir = given(arguments, &DATA_DIR);
    let (store, index) = backends::open(&data_dir, arguments, Missing::Create).await?;
    let policy = crate::backends::policy(arguments).await?;
    let offline = arguments.get_flag("offline");
    let settings =
        piraeus_core::golang::checksumdb::SumDbSettings::from_env(|name| std::env::var(name).ok())?;
    let records = match &settings.database {
        Some(database) => archive::database_records(&path, database.name())?,
        None => Default::default(),
    };
    let sums = crate::backends::checksum_database(
        policy,
        store.clone(),
        index.clone(),
        Source::Records { records, offline },
    )?;
    let imported = archive::import(
        store.as_ref(),
        index.as_ref(),
        &path,
        &sums,
        |record, outcome| {
            let name = format!("{}@{}", record.module, record.version);
            match outcome {
                Imported::Refused(reason) => println!("REFUSED {name}: {reason}"),
                Imported::StoredUnchecked(reason) => {
                    println!("UNCHECKED {name}: {reason} (imported on the archive's sums)")
                }
                Imported::Stored | Imported::AlreadyPresent => {}
            }
        },
    )
    .await;
    let summary = match imported {
        Ok(summary) => summary,
        Err(error) if error.kind() == piraeus_core::error::ErrorKind::Invalid => {
            return Err(anyhow::Error::new(error));
        }
        Err(error) => {
            return Ok(runtime_outcome(Err(
                anyhow::Error::new(error).context("import stopped")
            )));
        }
    };
    let unchecked = match summary.unchecked {
        0 => String::new(),
        n => format!(" ({n} stored private, not checked against the checksum database)"),
    };
    println!(
        "imported {} versions: {} stored, {} already present, {} refused{unchecked}",
        summary.stored + summary.already_present + summary.refused,
        summary.stored,
        summary.already_present,
        summary.refused
    );
    Ok(if summary.refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
