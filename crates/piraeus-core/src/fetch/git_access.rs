//! How git reaches private hosts beyond what its environment already says: an SSH key with the
//! host keys it may trust (`PIRAEUS_GIT_SSH_KEY`), and URL rewrites (`PIRAEUS_GIT_INSTEAD_OF`)
//! that send go's `https://` paths to an SSH-only server. The key is written once, readable by
//! Piraeus alone, into its private folder (never into a module's working tree), and handed to
//! ssh by path; ssh then trusts only the given host keys (`StrictHostKeyChecking=yes`), uses no
//! agent and no other identity, and reads no `~/.ssh/config`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
#[derive(Debug, Default)]
pub struct GitAccess {
    /// The key file and the known_hosts file, when a key is configured.
    ssh: Option<(PathBuf, PathBuf)>,
    /// `(from, to)`: git's `url.TO.insteadOf FROM`.
    instead_of: Vec<(String, String)>,
}

impl GitAccess {
    /// `key_document` (the text of the key document; `setting` names where it came from, for
    /// errors that must not show the key) is written under `private_dir`.
    pub fn new(
        key_document: Option<(&str, &str)>,
        instead_of: Vec<(String, String)>,
        private_dir: &Path,
    ) -> Result<Self> {
        let ssh = key_document
            .map(|(setting, text)| write_key(setting, text, private_dir))
            .transpose()?;
        Ok(Self { ssh, instead_of })
    }

    /// Whether git may use ssh: only with a key of Piraeus's own, so a go-import tag cannot
    /// make git run ssh with whatever the server user's environment holds.
    pub(crate) fn has_ssh_key(&self) -> bool {
        self.ssh.is_some()
    }

    /// The variables for the go command's environment (git reads them).
    pub(crate) fn environment(&self) -> Vec<(String, OsString)> {
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
        if !self.instead_of.is_empty() {
            // git's environment configuration: GIT_CONFIG_COUNT pairs of KEY and VALUE.
            variables.push((
                "GIT_CONFIG_COUNT".to_string(),
                self.instead_of.len().to_string().into(),
            ));
            for (index, (from, to)) in self.instead_of.iter().enumerate() {
                variables.push((
                    format!("GIT_CONFIG_KEY_{index}"),
                    format!("url.{to}.insteadOf").into(),
                ));
                variables.push((format!("GIT_CONFIG_VALUE_{index}"), from.into()));
            }
        }
        variables
    }
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

/// Replaces `path` with `text`, readable by its owner only (ssh refuses a key others can read).
fn write_private(path: &Path, text: &str) -> Result<()> {
    let directory = path.parent().expect("a file in a folder");
    let mut file = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(directory)
        .map_err(|e| Error::storage(directory.display(), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::storage(path.display(), e))?;
    file.persist(path)
        .map_err(|e| Error::storage(path.display(), e.error))?;
    Ok(())
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

    fn document(key: &str, hosts: &str) -> String {
        serde_json::json!({"private_key": key, "known_hosts": hosts}).to_string()
    }

    #[test]
    fn the_key_is_written_privately_and_handed_to_ssh_with_strict_host_checking() {
        let directory = tempfile::tempdir().unwrap();
        let text = document(KEY, "git.corp ssh-ed25519 AAAAC3\n");
        let access = GitAccess::new(
            Some(("PIRAEUS_GIT_SSH_KEY", &text)),
            vec![],
            directory.path(),
        )
        .unwrap();
        assert!(access.has_ssh_key());
        let variables = access.environment();
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
            let error = GitAccess::new(
                Some(("PIRAEUS_GIT_SSH_KEY", &text)),
                vec![],
                directory.path(),
            )
            .unwrap_err();
            let shown = format!("{}", error.chain());
            assert!(shown.contains("PIRAEUS_GIT_SSH_KEY"), "{shown}");
            assert!(!shown.contains("SECRETSECRET"), "{shown}");
        }
    }

    #[test]
    fn rewrites_become_git_config_from_the_environment() {
        let pairs =
            parse_instead_of("https://git.corp/=ssh://git@git.corp/, https://b/=ssh://b/").unwrap();
        let access = GitAccess::new(None, pairs, Path::new("/nonexistent")).unwrap();
        assert!(!access.has_ssh_key());
        let variables: Vec<(String, String)> = access
            .environment()
            .into_iter()
            .map(|(name, value)| (name, value.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(variables[0], ("GIT_CONFIG_COUNT".into(), "2".into()));
        assert_eq!(
            variables[1],
            (
                "GIT_CONFIG_KEY_0".into(),
                "url.ssh://git@git.corp/.insteadOf".into()
            )
        );
        assert_eq!(
            variables[2],
            ("GIT_CONFIG_VALUE_0".into(), "https://git.corp/".into())
        );
        assert!(parse_instead_of("https://git.corp/").is_err());
        assert!(parse_instead_of("a=b").is_err());
    }
}
