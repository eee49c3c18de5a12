//! How git reaches private hosts beyond what its environment already says: an SSH key with the
//! host keys it may trust (`PIRAEUS_GIT_SSH_KEY`), a GitHub App's installation tokens for its
//! host (`PIRAEUS_GITHUB_APP`, [`super::github_app`]), and URL rewrites
//! (`PIRAEUS_GIT_INSTEAD_OF`) that send go's `https://` paths to an SSH-only server. The key is written once, readable by
//! Piraeus alone, into its private folder (never into a module's working tree), and handed to
//! ssh by path; ssh then trusts only the given host keys (`StrictHostKeyChecking=yes`), uses no
//! agent and no other identity, and reads no `~/.ssh/config`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::github_app::{GitHubApp, write_private};
use crate::error::{Error, Result};

/// The key document: `{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----...", "known_hosts":
/// "git.corp ssh-ed25519 AAAA..."}`, in a file for `piraeus serve`, in a Secrets Manager
/// secret on AWS.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDocument {
    private_key: String,
    known_hosts: String,
}

/// What git is given besides the operator's own `GIT_*` variables.
#[derive(Default)]
pub struct GitAccess {
    /// The key file and the known_hosts file, when a key is configured.
    ssh: Option<(PathBuf, PathBuf)>,
    github: Option<GitHubApp>,
    /// `(from, to)`: git's `url.TO.insteadOf FROM`.
    instead_of: Vec<(String, String)>,
}

impl std::fmt::Debug for GitAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitAccess")
            .field("ssh_key", &self.ssh.is_some())
            .field("github_app", &self.github.as_ref().map(GitHubApp::host))
            .field("instead_of", &self.instead_of)
            .finish()
    }
}

/// Where each credential comes from: `(setting, text)`, the setting named in errors (which never
/// show the text).
#[derive(Default)]
pub struct GitCredentials<'a> {
    pub ssh_key: Option<(&'a str, &'a str)>,
    pub github_app: Option<(&'a str, &'a str)>,
    /// `PIRAEUS_GITHUB_API`: the GitHub API's base URL, when not GitHub's own for the host.
    pub github_api: Option<&'a str>,
}

impl GitAccess {
    /// Checks the credentials and writes what git reads of them under `private_dir`.
    pub fn new(
        credentials: GitCredentials<'_>,
        instead_of: Vec<(String, String)>,
        private_dir: &Path,
    ) -> Result<Self> {
        let ssh = credentials
            .ssh_key
            .map(|(setting, text)| write_key(setting, text, private_dir))
            .transpose()?;
        let github = credentials
            .github_app
            .map(|(setting, text)| {
                GitHubApp::new(setting, text, credentials.github_api, private_dir)
            })
            .transpose()?;
        Ok(Self {
            ssh,
            github,
            instead_of,
        })
    }

    /// Whether git may use ssh: only with a key of Piraeus's own, so a go-import tag cannot
    /// make git run ssh with whatever the server user's environment holds.
    pub(crate) fn has_ssh_key(&self) -> bool {
        self.ssh.is_some()
    }

    /// What a go command fetching `module` gives git. A module on the GitHub App's host gets a
    /// fresh installation token first; the API failing fails the fetch (`502`), and the next
    /// one asks again.
    pub(crate) async fn settings_for(&self, module: &str) -> Result<GitSettings> {
        let mut config: Vec<(String, String)> = self
            .instead_of
            .iter()
            .map(|(from, to)| (format!("url.{to}.insteadOf"), from.clone()))
            .collect();
        let host = module.split('/').next().unwrap_or(module);
        if let Some(app) = &self.github
            && host.eq_ignore_ascii_case(app.host())
        {
            // The credential is for the URL git reaches the host at, after the rewrites.
            let url = self.rewritten(&format!("https://{}/", app.host()));
            let origin = origin(&url);
            app.refresh(&origin).await?;
            config.push((
                format!("credential.{origin}.helper"),
                format!("store --file={}", shell_quoted(app.file())),
            ));
        }
        Ok(GitSettings {
            ssh: self.has_ssh_key(),
            variables: self.variables(),
            config,
        })
    }

    /// The URLs the rewrites lead to, which the operator chose.
    pub(crate) fn rewrite_targets(&self) -> impl Iterator<Item = String> + '_ {
        self.instead_of.iter().map(|(_, to)| to.clone())
    }

    /// `url` as git's `insteadOf` rewrites it: the longest matching prefix wins.
    fn rewritten(&self, url: &str) -> String {
        self.instead_of
            .iter()
            .filter(|(from, _)| url.starts_with(from.as_str()))
            .max_by_key(|(from, _)| from.len())
            .map_or_else(
                || url.to_string(),
                |(from, to)| format!("{to}{}", &url[from.len()..]),
            )
    }

    fn variables(&self) -> Vec<(String, OsString)> {
        let mut variables = Vec::new();
        if let Some((key, known_hosts)) = &self.ssh {
            let command = format!(
                "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o IdentityAgent=none \
                 -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -o BatchMode=yes",
                shell_quoted(key),
                shell_quoted(known_hosts)
            );
            variables.push(("GIT_SSH_COMMAND".to_string(), command.into()));
        }
        variables
    }
}

/// What git is given for one go command: whether it may use ssh, variables, and settings that
/// the caller numbers into git's `GIT_CONFIG_COUNT` environment after the operator's own.
pub(crate) struct GitSettings {
    pub(crate) ssh: bool,
    pub(crate) variables: Vec<(String, OsString)>,
    pub(crate) config: Vec<(String, String)>,
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// `FROM=TO[,FROM=TO...]`: each a URL prefix, as git's `insteadOf` takes them.
pub(crate) fn parse_instead_of(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (from, to) = pair.split_once('=').ok_or_else(|| {
                format!("{pair:?} is not FROM=TO (https://git.corp/=ssh://git@git.corp/)")
            })?;
            let (from, to) = (from.trim(), to.trim());
            for url in [from, to] {
                if !url.contains("://") && !url.contains('@') {
                    return Err(format!("{url:?} is not a URL prefix"));
                }
            }
            Ok((from.to_string(), to.to_string()))
        })
        .collect()
}

/// Checks the document and writes its two parts, mode 0600, under `private_dir`.
fn write_key(setting: &str, text: &str, private_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    // The document's text never goes into an error: it holds the key.
    let document: KeyDocument = serde_json::from_str(text).map_err(|e| {
        Error::invalid(format!(
            "{setting}: not a JSON document {{\"private_key\", \"known_hosts\"}} ({})",
            match e.classify() {
                serde_json::error::Category::Data => "a field is missing, unknown or not a string",
                _ => "malformed JSON",
            }
        ))
    })?;
    let key = document.private_key.trim();
    if !(key.starts_with("-----BEGIN ") && key.ends_with("PRIVATE KEY-----")) {
        return Err(Error::invalid(format!(
            "{setting}: private_key is not a PEM or OpenSSH private key"
        )));
    }
    let hosts: Vec<&str> = document
        .known_hosts
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    if hosts.is_empty() || hosts.iter().any(|line| line.split_whitespace().count() < 3) {
        return Err(Error::invalid(format!(
            "{setting}: known_hosts needs one line per host key: HOSTS KEYTYPE KEY"
        )));
    }
    let directory = private_dir.join("git-ssh");
    std::fs::create_dir_all(&directory).map_err(|e| Error::storage(directory.display(), e))?;
    let key_file = directory.join("key");
    let hosts_file = directory.join("known_hosts");
    write_private(&key_file, &format!("{key}\n"))?;
    write_private(&hosts_file, &(hosts.join("\n") + "\n"))?;
    Ok((key_file, hosts_file))
}

/// `path` for `sh`, which runs `GIT_SSH_COMMAND`.
fn shell_quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";

    fn ssh_key(text: &str) -> GitCredentials<'_> {
        GitCredentials {
            ssh_key: Some(("PIRAEUS_GIT_SSH_KEY", text)),
            ..Default::default()
        }
    }

    fn document(key: &str, hosts: &str) -> String {
        serde_json::json!({"private_key": key, "known_hosts": hosts}).to_string()
    }

    #[test]
    fn the_key_is_written_privately_and_handed_to_ssh_with_strict_host_checking() {
        let directory = tempfile::tempdir().unwrap();
        let text = document(KEY, "git.corp ssh-ed25519 AAAAC3\n");
        let access = GitAccess::new(ssh_key(&text), vec![], directory.path()).unwrap();
        assert!(access.has_ssh_key());
        let variables = access.variables();
        let (_, command) = &variables[0];
        let command = command.to_string_lossy();
        assert!(command.contains("StrictHostKeyChecking=yes"), "{command}");
        assert!(command.contains("IdentitiesOnly=yes"), "{command}");
        let key_file = directory.path().join("git-ssh/key");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key_file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(command.contains(&key_file.display().to_string()));
    }

    #[test]
    fn bad_documents_name_the_setting_and_show_no_key() {
        let directory = tempfile::tempdir().unwrap();
        let secret =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRET\n-----END OPENSSH PRIVATE KEY-----";
        for text in [
            "not json SECRETSECRET".to_string(),
            document("SECRETSECRET", "git.corp ssh-ed25519 AAAA"),
            document(secret, ""),
            document(secret, "git.corp"),
            serde_json::json!({"private_key": secret}).to_string(),
            serde_json::json!({"private_key": secret, "known_hosts": "h t k", "extra": 1})
                .to_string(),
        ] {
            let error =
                GitAccess::new(ssh_key(&text), vec![], directory.path()).expect_err("refused");
            let shown = format!("{}", error.chain());
            assert!(shown.contains("PIRAEUS_GIT_SSH_KEY"), "{shown}");
            assert!(!shown.contains("SECRETSECRET"), "{shown}");
        }
    }

    #[test]
    fn rewrites_become_git_settings() {
        let pairs =
            parse_instead_of("https://git.corp/=ssh://git@git.corp/, https://b/=ssh://b/").unwrap();
        let access = GitAccess::new(Default::default(), pairs, Path::new("/nonexistent")).unwrap();
        assert!(!access.has_ssh_key());
        assert_eq!(
            access.rewritten("https://git.corp/x/y"),
            "ssh://git@git.corp/x/y"
        );
        assert_eq!(origin("http://127.0.0.1:8080/a/b"), "http://127.0.0.1:8080");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let settings = runtime.block_on(access.settings_for("git.corp/x")).unwrap();
        assert!(!settings.ssh && settings.variables.is_empty());
        assert_eq!(
            settings.config[0],
            (
                "url.ssh://git@git.corp/.insteadOf".into(),
                "https://git.corp/".into()
            )
        );
        assert!(parse_instead_of("https://git.corp/").is_err());
        assert!(parse_instead_of("a=b").is_err());
    }
}
