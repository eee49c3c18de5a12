//! `piraeus token new|revoke|list`: the client tokens `piraeus serve --auth-file` accepts, or
//! that the CloudFront viewer-request function checks (`--kvs`, the stack's KeyValueStore).
//! Only each secret's SHA-256 is kept; `new` prints the secret once, alone on the last line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgGroup, ArgMatches, Command};
use piraeus_aws::token_store::KvsTokens;
use piraeus_core::auth::TokenFile;
use piraeus_core::settings::{AUTH_FILE, TOKEN_STORE};

use crate::settings::{flag, value};

pub fn command() -> Command {
    let name = || {
        Arg::new("name")
            .required(true)
            .help("Token name: the user name clients send (letters, digits, '.', '_', '-')")
    };
    let store = |command: Command| {
        command.arg(flag(&AUTH_FILE)).arg(flag(&TOKEN_STORE)).group(
            ArgGroup::new("store")
                .args([AUTH_FILE.flag, TOKEN_STORE.flag])
                .required(true),
        )
    };
    Command::new("token")
        .about("Create, revoke and list client tokens: in a token file (piraeus serve --auth-file) or the stack's KeyValueStore (--kvs)")
        .subcommand_required(true)
        .subcommand(store(
            Command::new("new")
                .about("Create a token; prints its secret once, on the last line")
                .arg(name())
                .arg(
                    Arg::new("modules")
                        .long("modules")
                        .value_name("GLOBS")
                        .help(
                            "Only these modules: comma-separated GOPRIVATE-style patterns, \
                             matched on path prefixes as the policy matches them (without it: \
                             every module)",
                        ),
                ),
        ))
        .subcommand(store(
            Command::new("revoke")
                .about("Remove a token; clients using it are refused within a second (file) or once CloudFront has the change (store)")
                .arg(name()),
        ))
        .subcommand(store(
            Command::new("list").about("List the token names and the modules each may read (and, in a file, when each was created)"),
        ))
}

/// Where the tokens live.
enum Tokens {
    File(PathBuf, TokenFile),
    Store(KvsTokens),
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let (action, arguments) = arguments
        .subcommand()
        .expect("clap requires a token subcommand");
    let mut tokens = match (value(arguments, &AUTH_FILE), value(arguments, &TOKEN_STORE)) {
        (Some(path), _) => {
            let file = TokenFile::load(&path)?;
            Tokens::File(path, file)
        }
        (None, Some(arn)) => Tokens::Store(KvsTokens::new(&piraeus_aws::sdk::config().await, &arn)),
        (None, None) => unreachable!("clap requires --auth-file or --kvs"),
    };
    let name = arguments.try_get_one::<String>("name").ok().flatten();
    match (action, name) {
        ("new", Some(name)) => {
            let modules = arguments.get_one::<String>("modules").map(String::as_str);
            let secret = match &mut tokens {
                Tokens::File(path, file) => {
                    let secret = file.add(name, modules)?;
                    file.save(path)?;
                    println!("token {name:?} created in {}", path.display());
                    secret
                }
                Tokens::Store(store) => {
                    let secret = store.add(name, modules).await?;
                    println!("token {name:?} created in the KeyValueStore");
                    secret
                }
            };
            println!(
                "clients send it as HTTP Basic credentials: user {name}, password the secret below"
            );
            println!("(e.g. in ~/.netrc: machine HOST login {name} password SECRET)");
            println!("it is shown only now; only its hash is stored");
            println!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
        ("revoke", Some(name)) => {
            let revoked = match &mut tokens {
                Tokens::File(path, file) => {
                    let revoked = file.revoke(name);
                    if revoked {
                        file.save(path)?;
                    }
                    revoked
                }
                Tokens::Store(store) => store.revoke(name).await?,
            };
            if !revoked {
                eprintln!("piraeus: no token named {name:?}");
                return Ok(ExitCode::FAILURE);
            }
            println!("token {name:?} revoked");
            Ok(ExitCode::SUCCESS)
        }
        ("list", None) => {
            match &tokens {
                Tokens::File(_, file) => {
                    for token in &file.tokens {
                        let modules = token.modules.as_deref().unwrap_or("all modules");
                        println!("{}\t{}\t{modules}", token.name, token.created);
                    }
                }
                Tokens::Store(store) => {
                    for (name, modules) in store.list().await? {
                        let modules = modules.as_deref().unwrap_or("all modules");
                        println!("{name}\t{modules}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("clap enforces each subcommand's arguments"),
    }
}
