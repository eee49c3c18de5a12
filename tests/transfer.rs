//! `piraeus export` and `piraeus import` as an operator feeding an air-gapped mirror runs them:
//! versions stored through `piraeus serve` by the real go command are exported to one archive,
//! imported into an empty data directory, and a go client whose `GOPROXY` is only the mirror
//! (`--upstream off`) builds the same program offline with an identical go.sum. An archive
//! with one altered zip imports everything else and exits 1 naming the altered version. And
//! one direction between backends: a data directory's export imported into S3 and DynamoDB.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{GoClient, Moto, Sandbox, Server};

const ALPHA: &str = "example.test/alpha.git";
const BETA: &str = "example.test/beta.git";

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The piraeus command in the sandbox; the test modules are in no checksum database, so
/// `GOSUMDB=off` unless `environment` says otherwise.
fn piraeus(sandbox: &Sandbox, arguments: &[&str], environment: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(arguments)
        .current_dir(sandbox.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sandbox.home())
        .env("PIRAEUS_LOG", "warn")
        .env("GOSUMDB", "off")
        .envs(environment.iter().copied())
        .output()
        .expect("piraeus runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `piraeus export SOURCE… --out OUT`, where `source` names the backend (and any selection).
pub(crate) fn export(
    sandbox: &Sandbox,
    source: &[&str],
    out: &Path,
    environment: &[(&str, &str)],
) -> Run {
    let mut arguments = vec!["export"];
    arguments.extend_from_slice(source);
    arguments.extend(["--out", text(out)]);
    piraeus(sandbox, &arguments, environment)
}

/// `piraeus import TARGET… ARCHIVE`, where `target` names the backend.
pub(crate) fn import(
    sandbox: &Sandbox,
    target: &[&str],
    archive: &Path,
    environment: &[(&str, &str)],
) -> Run {
    let mut arguments = vec!["import"];
    arguments.extend_from_slice(target);
    arguments.push(text(archive));
    piraeus(sandbox, &arguments, environment)
}

/// Asserts that `run` exited 0 and said `said` on stdout.
#[track_caller]
fn assert_succeeded_saying(run: &Run, said: &str) {
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(said), "{run}");
}

/// `piraeus serve` of `mirror` alone, with no upstream: an air-gapped mirror.
fn serve_offline(sandbox: &Sandbox, mirror: &Path) -> Server {
    sandbox.start_server_with(&["--data-dir", text(mirror), "--upstream", "off"], &[])
}

/// A program importing alpha and beta, in the client's work directory; its go.mod requires
/// `requires` (none: the go command resolves them).
fn write_program(client: &GoClient, go_mod: &str) {
    let dir = client.work_dir();
    std::fs::write(dir.join("go.mod"), go_mod).unwrap();
    std::fs::write(
        dir.join("main.go"),
        "package main\n\nimport (\n\t_ \"example.test/alpha.git\"\n\t_ \"example.test/beta.git\"\n)\n\nfunc main() {}\n",
    )
    .unwrap();
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Two modules stored in the sandbox's data directory by a go client building a program
/// through `piraeus serve`; returns that client's go.mod and go.sum paths.
fn stored_through_serve(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    for name in ["alpha.git", "beta.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    let server = sandbox.start_server();
    let source = sandbox
        .client("source", &server.url())
        .with_env("GOFLAGS", "-modcacherw -mod=mod");
    write_program(&source, "module example.test/app\n\ngo 1.21\n");
    source.ok(&["get", &format!("{ALPHA}@v1.0.0"), &format!("{BETA}@v1.0.0")]);
    source.ok(&["build", "./..."]);
    server.stop();
    let dir = source.work_dir();
    (dir.join("go.mod"), dir.join("go.sum"))
}

#[test]
fn export_then_import_into_an_empty_data_dir_builds_the_same_program_offline() {
    let sandbox = Sandbox::new();
    let (source_go_mod, source_go_sum) = stored_through_serve(&sandbox);
    let data_dir = sandbox.data_dir();
    let archive = sandbox.path().join("mirror.zip");

    let run = export(&sandbox, &["--data-dir", text(&data_dir)], &archive, &[]);
    assert_succeeded_saying(&run, "exported 2 versions");

    // A go.sum selects the same versions; --since in the future selects none.
    let listed = sandbox.path().join("listed.zip");
    let selection = [
        "--data-dir",
        text(&data_dir),
        "--go-sum",
        text(&source_go_sum),
    ];
    let run = export(&sandbox, &selection, &listed, &[]);
    assert_succeeded_saying(&run, "exported 2 versions");
    let selection = [
        "--data-dir",
        text(&data_dir),
        "--since",
        "2999-01-01T00:00:00Z",
    ];
    let run = export(&sandbox, &selection, &sandbox.path().join("none.zip"), &[]);
    assert_succeeded_saying(&run, "exported 0 versions");

    let mirror = sandbox.path().join("mirror-data");
    let run = import(&sandbox, &["--data-dir", text(&mirror)], &archive, &[]);
    assert_succeeded_saying(
        &run,
        "imported 2 versions: 2 stored, 0 already present, 0 refused",
    );
    // Importing again changes nothing and is not an error.
    let run = import(&sandbox, &["--data-dir", text(&mirror)], &listed, &[]);
    assert_succeeded_saying(
        &run,
        "imported 2 versions: 0 stored, 2 already present, 0 refused",
    );
    let run = piraeus(&sandbox, &["verify", "--data-dir", text(&mirror)], &[]);
    assert_eq!(run.code, 0, "{run}");

    // The mirror alone, with no upstream, builds the program: same versions, same go.sum.
    let server = serve_offline(&sandbox, &mirror);
    let offline = sandbox
        .client("offline", &server.url())
        .with_env("GOFLAGS", "-modcacherw -mod=mod");
    write_program(&offline, &std::fs::read_to_string(&source_go_mod).unwrap());
    offline.ok(&["build", "./..."]);
    assert_eq!(
        sorted_lines(&offline.work_dir().join("go.sum")),
        sorted_lines(&source_go_sum)
    );
    server.stop();

    // Bad usage: no archive named, a file that is not an export.
    let run = piraeus(&sandbox, &["import", "--data-dir", text(&mirror)], &[]);
    assert_eq!(run.code, 2, "{run}");
    let run = import(
        &sandbox,
        &["--data-dir", text(&mirror)],
        &source_go_sum,
        &[],
    );
    assert_eq!(run.code, 2, "{run}");
}

/// Copies the archive at `from` to `to`, with the entry `replaced` given `contents`.
fn rewrite_archive(from: &Path, to: &Path, replaced: &str, contents: &[u8]) {
    let mut source = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..source.len() {
        let mut entry = source.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        writer.start_file(&name, options).unwrap();
        if name == replaced {
            writer.write_all(contents).unwrap();
        } else {
            writer.write_all(&bytes).unwrap();
        }
    }
    writer.finish().unwrap();
}

fn entry(archive: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    let mut bytes = Vec::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// `piraeus export` of the whole data directory to `mirror.zip`, which must succeed.
fn export_everything(sandbox: &Sandbox) -> PathBuf {
    let archive = sandbox.path().join("mirror.zip");
    let run = export(
        sandbox,
        &["--data-dir", text(&sandbox.data_dir())],
        &archive,
        &[],
    );
    assert_eq!(run.code, 0, "{run}");
    archive
}

#[test]
fn an_archive_with_one_altered_zip_imports_the_rest_and_names_it() {
    let sandbox = Sandbox::new();
    stored_through_serve(&sandbox);
    let archive = export_everything(&sandbox);

    // Beta's zip replaced with a valid zip of other content: alpha's.
    let altered = sandbox.path().join("altered.zip");
    let alpha_zip = entry(&archive, &format!("{ALPHA}/@v/v1.0.0.zip"));
    rewrite_archive(
        &archive,
        &altered,
        &format!("{BETA}/@v/v1.0.0.zip"),
        &alpha_zip,
    );

    let mirror = sandbox.path().join("mirror-data");
    let run = import(&sandbox, &["--data-dir", text(&mirror)], &altered, &[]);
    assert_eq!(run.code, 1, "{run}");
    let refused: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("REFUSED"))
        .collect();
    assert_eq!(refused.len(), 1, "{run}");
    assert!(
        refused[0].starts_with(&format!("REFUSED {BETA}@v1.0.0: zip hash h1:")),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("imported 2 versions: 1 stored, 0 already present, 1 refused"),
        "{run}"
    );
    // Nothing of the refused version was written.
    assert!(!mirror.join("example.test/beta.git").exists());

    // The mirror serves alpha, and not beta.
    let server = serve_offline(&sandbox, &mirror);
    let client = sandbox.client("offline", &server.url());
    let downloaded = client.download(&[&format!("{ALPHA}@v1.0.0"), &format!("{BETA}@v1.0.0")]);
    assert_eq!(downloaded.len(), 2);
    assert!(downloaded[0].error.is_empty(), "{downloaded:?}");
    assert!(!downloaded[1].error.is_empty(), "{downloaded:?}");
    server.stop();

    // The honest archive then completes the mirror.
    let run = import(&sandbox, &["--data-dir", text(&mirror)], &archive, &[]);
    assert_succeeded_saying(
        &run,
        "imported 2 versions: 1 stored, 1 already present, 0 refused",
    );
}

#[test]
fn a_data_dir_export_imports_into_s3_and_dynamodb() {
    const STORE: &str = "s3://piraeus-transfer/modules";
    const INDEX: &str = "dynamodb://piraeus-transfer";
    let sandbox = Sandbox::new();
    stored_through_serve(&sandbox);
    let archive = export_everything(&sandbox);

    let moto = Moto::start();
    let aws = moto.environment();
    let run = piraeus(
        &sandbox,
        &["provision", "--store", STORE, "--index", INDEX],
        &aws,
    );
    assert_eq!(run.code, 0, "{run}");
    let run = import(
        &sandbox,
        &["--store", STORE, "--index", INDEX],
        &archive,
        &aws,
    );
    assert_succeeded_saying(&run, "2 stored");
    let run = piraeus(
        &sandbox,
        &["verify", "--store", STORE, "--index", INDEX],
        &aws,
    );
    assert_succeeded_saying(&run, "verified 2 versions: 2 ok");

    // And back out of S3 and DynamoDB into another data directory.
    let round_trip = sandbox.path().join("round-trip.zip");
    let run = export(
        &sandbox,
        &["--store", STORE, "--index", INDEX],
        &round_trip,
        &aws,
    );
    assert_eq!(run.code, 0, "{run}");
    let other = sandbox.path().join("other-data");
    let run = import(&sandbox, &["--data-dir", text(&other)], &round_trip, &[]);
    assert_succeeded_saying(&run, "2 stored");
}
