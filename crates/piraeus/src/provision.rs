//! `piraeus provision`: creates the S3 bucket and the DynamoDB table if they are missing.

use std::process::ExitCode;

use clap::{ArgMatches, Command};
use piraeus_aws::{provision, sdk};
use piraeus_core::settings::{INDEX, STORE};

use crate::settings::{flag, given};

pub fn command() -> Command {
    Command::new("provision")
        .about(
            "Create the S3 bucket (private, encrypted) and the DynamoDB table (on-demand, feed \
             index, TTL, point-in-time recovery) if they are missing",
        )
        .arg(flag(&STORE).required(true))
        .arg(flag(&INDEX).required(true))
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (store, index) = (given(arguments, &STORE), given(arguments, &INDEX));
    let config = sdk::config().await;
    let region = config.region().map(|region| region.to_string());
    provision::bucket(&sdk::s3_client(&config), &store.bucket, region.as_deref()).await?;
    println!("bucket {} ready", store.bucket);
    provision::table(&sdk::dynamodb_client(&config), &index.table).await?;
    println!("table {} ready", index.table);
    Ok(ExitCode::SUCCESS)
}
