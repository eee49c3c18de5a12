//! `piraeus token new|revoke|list`: the client tokens `piraeus serve --auth-file` accepts. The
//! file keeps only each secret's SHA-256; `new` prints the secret once, alone on the last line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Arg, ArgMatches, Command};
use piraeus_core::auth::TokenFile;
use piraeus_core::settings::AUTH_FILE;

use crate::settings::{flag, given};

pub fn command() -> Command {
    let name = || {
        Arg::new("name")
            .required(true)
            .help("Token name: the user name clients send (letters, digits, '.', '_', '-')")
    };
    let file = || flag(&AUTH_FILE).required(true);
    Command::new("token")
        .about("Create, revoke and list the client tokens of `piraeus serve --auth-file`")
        .subcommand_required(true)
        .subcommand(
            Command::new("new")
                .about("Create a token; prints its secret once, on the last line")
                .arg(name())
                .arg(file()),
        )
        .subcommand(
            Command::new("revoke")
                .about("Remove a token; clients using it are refused within a second")
                .arg(name())
                .arg(file()),
        )
        .subcommand(
            Command::new("list")
                .about("List token names and when they were created")
                .arg(file()),
        )
}

pub fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (action, arguments) = arguments
        .subcommand()
        .expect("clap requires a token subcommand");
    let path: PathBuf = given(arguments, &AUTH_FILE);
    let mut file = TokenFile::load(&path)?;
    let name = arguments.try_get_one::<String>("name").ok().flatten();
    match (action, name) {
        ("new", Some(name)) => {
            let secret = file.add(name)?;
            file.save(&path)?;
            println!("token {name:?} created in {}", path.display());
            println!(
                "clients send it as HTTP Basic credentials: user {name}, password the secret below"
            );
            println!("(e.g. in ~/.netrc: machine HOST login {name} password SECRET)");
            println!("it is shown only now; only its hash is stored");
            println!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
        ("revoke", Some(name)) => {
            if !file.revoke(name) {
                eprintln!("piraeus: no token named {name:?} in {}", path.display());
                return Ok(ExitCode::FAILURE);
            }
            file.save(&path)
                .with_context(|| format!("saving {}", path.display()))?;
            println!("token {name:?} revoked");
            Ok(ExitCode::SUCCESS)
        }
        ("list", None) => {
            for token in &file.tokens {
                println!("{}\t{}", token.name, token.created);
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("clap enforces each subcommand's arguments"),
    }
}
