//! A bounded soak: concurrent go clients over a corpus of modules while upstream becomes
//! unreachable and comes back, and while the server is killed with SIGKILL mid-fetch and
//! restarted. Afterwards every version must be served with the sums of a direct download,
//! `piraeus verify` must be clean, and the only 5xx seen may be 502 and 503.
//!
//! `make test` runs a short version; `make soak` a longer one with the figures printed
//! (`PIRAEUS_SOAK_ROUNDS`, `PIRAEUS_SOAK_CLIENTS`, `PIRAEUS_SOAK_MODULES`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{Downloaded, Sandbox};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Flags that make faults clear up within seconds, so rounds stay short.
const SERVER_FLAGS: [&str; 8] = [
    "--fetch-timeout",
    "8s",
    "--failure-ttl",
    "1s",
    "--answer-ttl",
    "1s",
    "--not-found-ttl",
    "1s",
];

#[derive(Default)]
struct Figures {
    client_runs: usize,
    client_failures: usize,
    outages: usize,
    kills: usize,
    /// Kills sent while one of the server's `go mod download` runs was seen running.
    kills_mid_fetch: usize,
}

#[test]
fn clients_outages_and_crashes_lose_no_version() {
    let rounds = knob("PIRAEUS_SOAK_ROUNDS", 3);
    let clients = knob("PIRAEUS_SOAK_CLIENTS", 3);
    let modules = knob("PIRAEUS_SOAK_MODULES", 3);
    let started = Instant::now();
    let sandbox = Sandbox::new();
    // Round r asks for version v1.r.0 of every module (new, so its fetches meet that round's
    // fault) and for everything earlier rounds asked for (hits, or retries after a fault).
    let mut targets = Vec::new();
    for m in 0..modules {
        let name = format!("soak{m}.git");
        let repo = sandbox.module(&name);
        for r in 0..rounds {
            let version = format!("v1.{r}.0");
            repo.write("data.txt", format!("{name} {version}\n"));
            repo.commit(&version);
            repo.tag(&version);
            targets.push(format!("example.test/{name}@{version}"));
        }
    }
    let target_refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    let direct: BTreeMap<(String, String), Downloaded> = sandbox
        .client("direct", "direct")
        .download(&target_refs)
        .into_iter()
        .map(|d| ((d.path.clone(), d.version.clone()), d))
        .collect();
    assert!(direct.values().all(|d| d.error.is_empty()), "{direct:?}");

    let gitconfig = sandbox.home().join(".gitconfig");
    let reachable = std::fs::read_to_string(&gitconfig).unwrap();
    // Every scheme the go command may try leads to a port where nothing listens.
    let unreachable = reachable.replace(
        &format!("[url \"file://{}/\"]", sandbox.repos().display()),
        "[url \"https://127.0.0.1:1/\"]\n\tinsteadOf = git://example.test/\n\
         \tinsteadOf = ssh://example.test/\n\tinsteadOf = git+ssh://example.test/",
    );
    assert_ne!(unreachable, reachable);
    let mut logs = Vec::new();
    let mut server = sandbox.start_server_with(&SERVER_FLAGS, &[]);
    let mut figures = Figures::default();
    for round in 0..rounds {
        // 0: upstream unreachable; 1: the server killed mid-fetch; 2: no fault.
        let fault = round % 3;
        if fault == 0 {
            std::fs::write(&gitconfig, &unreachable).unwrap();
            figures.outages += 1;
        }
        let url = server.url();
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                // Every client asks for the round's new versions; each also for some older ones.
                let picked: Vec<String> = targets
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        let version_round = i % rounds;
                        version_round == round || (version_round < round && (i + c) % 2 == 0)
                    })
                    .map(|(_, t)| t.clone())
                    .collect();
                let client = sandbox.client(&format!("r{round}c{c}"), &url);
                std::thread::spawn(move || {
                    let picked: Vec<&str> = picked.iter().map(String::as_str).collect();
                    client.download(&picked)
                })
            })
            .collect();
        if fault == 1 {
            // SIGKILL once the server is running a download for the round's new versions.
            let deadline = Instant::now() + Duration::from_secs(30);
            let fetching = loop {
                if let Some(download) = running_download(server.pid()) {
                    break Some(download);
                }
                if Instant::now() > deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            logs.push(server.log_path.clone());
            server.stop();
            figures.kills += 1;
            if fetching.is_some() {
                figures.kills_mid_fetch += 1;
            }
            server = sandbox.start_server_with(&SERVER_FLAGS, &[]);
        }
        for worker in workers {
            let results = worker.join().unwrap();
            figures.client_runs += 1;
            if let Some(failed) = results.iter().find(|d| !d.error.is_empty()) {
                figures.client_failures += 1;
                eprintln!(
                    "soak: round {round} ({}): {}",
                    ["outage", "kill", "none"][fault],
                    failed.error
                );
            }
            // Whatever a client did get must be what upstream serves.
            for got in results.iter().filter(|d| d.error.is_empty()) {
                let expected = &direct[&(got.path.clone(), got.version.clone())];
                assert_eq!(
                    (&got.sum, &got.go_mod_sum),
                    (&expected.sum, &expected.go_mod_sum),
                    "{}@{} served with other sums",
                    got.path,
                    got.version
                );
            }
        }
        if fault == 0 {
            std::fs::write(&gitconfig, &reachable).unwrap();
            // Failures recorded during the outage answer for the failure TTL (1 s) only.
            std::thread::sleep(Duration::from_millis(1500));
        }
    }

    // Faults over: every version is served, as direct serves it, within the time a lease
    // left by the killed server takes to expire.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut attempt = 0;
    let lost = loop {
        attempt += 1;
        let proxied = sandbox
            .client(&format!("final{attempt}"), &server.url())
            .download(&target_refs);
        let lost: Vec<&Downloaded> = proxied
            .iter()
            .filter(|d| {
                !d.error.is_empty()
                    || (&d.sum, &d.go_mod_sum) != {
                        let expected = &direct[&(d.path.clone(), d.version.clone())];
                        (&expected.sum, &expected.go_mod_sum)
                    }
            })
            .collect();
        if lost.is_empty() || Instant::now() > deadline {
            break lost.len();
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    logs.push(server.log_path.clone());
    let requests = count_requests(&logs);
    server.stop();
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(["verify", "--data-dir"])
        .arg(sandbox.data_dir())
        .output()
        .unwrap();

    eprintln!(
        "soak: {rounds} rounds, {clients} clients, {} versions; {} client runs ({} with failures); \
         faults: {} outages, {} SIGKILLs ({} mid-fetch); {} requests; 5xx by status: {:?}; \
         versions lost: {lost}; {:.0} s",
        targets.len(),
        figures.client_runs,
        figures.client_failures,
        figures.outages,
        figures.kills,
        figures.kills_mid_fetch,
        requests.total,
        requests.server_errors,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "versions not served after the faults cleared");
    assert_eq!(
        figures.kills_mid_fetch, figures.kills,
        "a SIGKILL landed with no fetch running"
    );
    // The request log was read: no 5xx counted because no request was.
    assert!(requests.total > 0, "no request lines in {logs:?}");
    assert!(
        verify.status.success(),
        "piraeus verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    for status in requests.server_errors.keys() {
        assert!(
            matches!(status, 502 | 503),
            "5xx other than 502/503: {:?}",
            requests.server_errors
        );
    }
}

/// The process id of a `go mod download` that server `server_pid` started and that is still
/// running (not a zombie), if there is one now.
fn running_download(server_pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // After the parenthesised command name: the state, then the parent's id.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let (state, parent) = (fields.next()?, fields.next()?.parse::<u32>().ok()?);
            let arguments = std::fs::read(entry.path().join("cmdline")).ok()?;
            let arguments: Vec<&[u8]> = arguments.split(|byte| *byte == 0).collect();
            let downloading = arguments
                .windows(2)
                .any(|pair| pair == [b"mod".as_slice(), b"download".as_slice()]);
            (parent == server_pid && state != "Z" && downloading).then_some(pid)
        })
}

struct Requests {
    total: usize,
    server_errors: BTreeMap<u16, usize>,
}

/// The request log lines of every server run: how many, and the 5xx among them by status.
fn count_requests(logs: &[std::path::PathBuf]) -> Requests {
    let mut requests = Requests {
        total: 0,
        server_errors: BTreeMap::new(),
    };
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text
            .lines()
            .filter(|line| line.contains("piraeus::request"))
        {
            requests.total += 1;
            let status = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("status="))
                .and_then(|status| status.parse::<u16>().ok())
                .unwrap_or(0);
            if status >= 500 {
                *requests.server_errors.entry(status).or_default() += 1;
            }
        }
    }
    requests
}
