//! Private code over SSH: `piraeus serve --git-ssh-key FILE --git-instead-of
//! https://git.corp.test/=ssh://…` fetches a module from a real sshd on loopback (Debian's
//! openssh-server) that serves a bare repository and accepts only that key. git trusts only the
//! given host keys, and may use ssh at all only because a key is configured.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Sandbox, free_port};

const MODULE: &str = "git.corp.test/secret.git";

/// A throw-away ed25519 key pair: (private key file, public key text).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let private = dir.join(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&private)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());
    let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    (private, public.trim().to_string())
}

/// sshd on a loopback port, accepting `authorized` (a public key) for the current user.
struct Sshd {
    child: Child,
    port: u16,
    /// The `known_hosts` line for it.
    known_host: String,
}

impl Sshd {
    fn start(dir: &Path, authorized: &str) -> Self {
        let (host_key, host_public) = key_pair(dir, "host-key");
        let authorized_keys = dir.join("authorized_keys");
        std::fs::write(&authorized_keys, format!("{authorized}\n")).unwrap();
        // sshd's privilege-separation directory (as root; a user's sshd does without).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
                 UsePAM no\nLogLevel VERBOSE\n",
                host_key.display(),
                authorized_keys.display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sshd runs (make deps installs openssh-server)");
        let stderr = child.stderr.take().unwrap();
        let log = dir.join("sshd.log");
        let (ready_tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log).unwrap();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Server listening") {
                    let _ = ready_tx.send(());
                }
                use std::io::Write;
                let _ = writeln!(file, "{line}");
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while ready.recv_timeout(Duration::from_millis(100)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            assert!(child.try_wait().unwrap().is_none(), "sshd exited");
        }
        Self {
            child,
            port,
            known_host: format!("[127.0.0.1]:{port} {host_public}"),
        }
    }

    /// The URL prefix of the sandbox's repositories over ssh.
    fn url(&self, sandbox: &Sandbox) -> String {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        format!(
            "ssh://{user}@127.0.0.1:{}{}/",
            self.port,
            sandbox.path().join("repos").display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key_document(sandbox: &Sandbox, key: &Path, known_hosts: &str) -> PathBuf {
    let file = sandbox
        .path()
        .join(format!("git-ssh-{}.json", known_hosts.len()));
    let document = serde_json::json!({
        "private_key": std::fs::read_to_string(key).unwrap(),
        "known_hosts": known_hosts,
    });
    std::fs::write(&file, document.to_string()).unwrap();
    file
}

#[test]
fn a_module_on_an_ssh_only_server_is_fetched_with_the_configured_key_only() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("secret.git");
    repo.write("go.mod", format!("module {MODULE}\n\ngo 1.19\n"))
        .write("secret.go", "package secret\n");
    repo.commit("one");
    repo.tag("v1.0.0");
    let keys = sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (client_key, client_public) = key_pair(&keys, "piraeus-key");
    let sshd = Sshd::start(&keys, &client_public);
    let rewrite = format!("https://git.corp.test/={}", sshd.url(&sandbox));
    let target = format!("{MODULE}@v1.0.0");

    // What the module is, fetched directly from the repository.
    let direct = sandbox
        .direct_client_for("direct", "git.corp.test")
        .download(&[&target]);
    assert!(direct[0].error.is_empty(), "{direct:?}");

    let serve = |document: Option<&Path>, data: &str| {
        let data_dir = sandbox.path().join(data);
        let mut arguments = vec![
            "--data-dir".to_string(),
            data_dir.display().to_string(),
            "--git-instead-of".to_string(),
            rewrite.clone(),
        ];
        if let Some(document) = document {
            arguments.extend(["--git-ssh-key".to_string(), document.display().to_string()]);
        }
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        // Piraeus's own default for git's protocols, not the sandbox's.
        sandbox.start_server_without(
            &arguments,
            &[("GOPRIVATE", "git.corp.test")],
            &["GIT_ALLOW_PROTOCOL"],
        )
    };
    let zip = format!("/{MODULE}/@v/v1.0.0.zip");

    // With the key and the server's own host key: the same module as directly.
    let document = key_document(&sandbox, &client_key, &sshd.known_host);
    let server = serve(Some(&document), "with-key");
    let proxied = sandbox
        .client("proxied", &server.url())
        .with_env("GOPRIVATE", "git.corp.test")
        .with_env("GONOPROXY", "none")
        .download(&[&target]);
    assert!(proxied[0].error.is_empty(), "{proxied:?}\n{}", server.log());
    assert_eq!(proxied[0].sum, direct[0].sum);
    assert_eq!(proxied[0].go_mod_sum, direct[0].go_mod_sum);
    let log = server.log();
    assert!(
        !log.contains("OPENSSH PRIVATE KEY"),
        "the key reached the log"
    );
    let sshd_log = std::fs::read_to_string(keys.join("sshd.log")).unwrap();
    let accepted_with_key = sshd_log.matches("Accepted publickey").count();
    assert!(
        accepted_with_key > 0,
        "the fetch went over ssh:\n{sshd_log}"
    );
    server.stop();

    // The same key, but a host key that is not the server's: ssh refuses to connect.
    let (_, impostor) = key_pair(&keys, "impostor");
    let wrong_host = format!("[127.0.0.1]:{} {impostor}", sshd.port);
    let document = key_document(&sandbox, &client_key, &wrong_host);
    let server = serve(Some(&document), "wrong-host");
    let response = server.get(&zip);
    assert!(response.status >= 400, "{}", response.text());
    assert!(
        !response.text().contains("PRIVATE KEY"),
        "{}",
        response.text()
    );
    // ssh gave up on the host key before it offered the client key: the server accepted no
    // key this time (the go command's message names only its last scheme's failure).
    let accepted = || {
        std::fs::read_to_string(keys.join("sshd.log"))
            .unwrap()
            .matches("Accepted publickey")
            .count()
    };
    assert_eq!(accepted(), accepted_with_key, "{}", response.text());
    server.stop();

    // No key: git may not use ssh at all (https only), whatever the rewrites say.
    let server = serve(None, "no-key");
    let response = server.get(&zip);
    assert!(response.status >= 400, "{}", response.text());
    let log = server.log();
    assert!(
        log.contains("transport 'ssh' not allowed") || response.text().contains("not allowed"),
        "{}\n{log}",
        response.text()
    );
}

/// The AWS face: the fetch function reads the same key document from Secrets Manager
/// (`GitSshKeySecretArn` on AWS; here `make stack` puts the file in moto's Secrets Manager and
/// the function reads it from there), and fetches over ssh with it.
#[test]
fn the_fetch_function_reads_its_ssh_key_from_secrets_manager() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("secret.git");
    repo.write("go.mod", format!("module {MODULE}\n\ngo 1.19\n"))
        .write("secret.go", "package secret\n");
    repo.commit("one");
    repo.tag("v1.0.0");
    let keys = sandbox.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (client_key, client_public) = key_pair(&keys, "piraeus-key");
    let sshd = Sshd::start(&keys, &client_public);
    let target = format!("{MODULE}@v1.0.0");
    let direct = sandbox
        .direct_client_for("direct", "git.corp.test")
        .download(&[&target]);
    assert!(direct[0].error.is_empty(), "{direct:?}");

    let document = key_document(&sandbox, &client_key, &sshd.known_host);
    let rewrite = format!("https://git.corp.test/={}", sshd.url(&sandbox));
    let stack = sandbox.start_stack(&[
        ("PIRAEUS_GIT_SSH_KEY", document.to_str().unwrap()),
        ("PIRAEUS_GIT_INSTEAD_OF", &rewrite),
        ("GOPRIVATE", "git.corp.test"),
        // Piraeus's own default with a key (the sandbox's allows file:// for other tests).
        ("GIT_ALLOW_PROTOCOL", "https:ssh"),
    ]);
    let proxied = sandbox
        .client("proxied", &stack.url())
        .with_env("GOPRIVATE", "git.corp.test")
        .with_env("GONOPROXY", "none")
        .download(&[&target]);
    assert!(proxied[0].error.is_empty(), "{proxied:?}\n{}", stack.log());
    assert_eq!(proxied[0].sum, direct[0].sum);
    assert_eq!(proxied[0].go_mod_sum, direct[0].go_mod_sum);
    let sshd_log = std::fs::read_to_string(keys.join("sshd.log")).unwrap();
    assert!(
        sshd_log.contains("Accepted publickey"),
        "the fetch went over ssh with the key:\n{sshd_log}"
    );
    assert!(
        !stack.log().contains("OPENSSH PRIVATE KEY"),
        "the key reached the log"
    );
}
