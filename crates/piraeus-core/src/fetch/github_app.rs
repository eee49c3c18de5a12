//! GitHub App credentials: instead of a person's token, Piraeus mints short-lived installation
//! tokens (`POST {api}/app/installations/ID/access_tokens`, authorised by an RS256 JWT whose
//! `iss` is the app id), keeps each until five minutes before it expires, and hands it to git
//! for the app's host only, through git's `store` credential helper over a file of Piraeus's
//! private folder (mode 0600; never a module's working tree, never a log line or an error body).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A token is minted again this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// GitHub accepts app JWTs of at most ten minutes; the issue time is set back a minute for
/// clock drift, as GitHub advises.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);
const API_TIMEOUT: Duration = Duration::from_secs(20);
/// An installation-token answer is a small JSON object.
const MAX_ANSWER: usize = 64 << 10;

/// `{"app_id", "installation_id", "private_key", "host"?}`: a file for `piraeus serve`
/// (`PIRAEUS_GITHUB_APP`), a Secrets Manager secret on AWS.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppDocument {
    app_id: serde_json::Value,
    installation_id: serde_json::Value,
    private_key: String,
    host: Option<String>,
}

pub(crate) struct GitHubApp {
    app_id: String,
    installation_id: String,
    key: jsonwebtoken::EncodingKey,
    /// The Git host the tokens are for (`github.com`, or a GitHub Enterprise host).
    host: String,
    /// The API's base URL, without a trailing `/`.
    api: String,
    client: reqwest::Client,
    /// The credential file git's store helper reads.
    file: PathBuf,
    /// The token in `file` and when it expires.
    current: tokio::sync::Mutex<Option<(String, SystemTime)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

#[derive(Deserialize)]
struct Minted {
    token: String,
    expires_at: String,
}

impl GitHubApp {
    /// Reads the document (`setting` names where it came from: errors name it and never show
    /// the key); `api` is `PIRAEUS_GITHUB_API`, else GitHub's for the host.
    pub(crate) fn new(
        setting: &str,
        text: &str,
        api: Option<&str>,
        private_dir: &Path,
    ) -> Result<Self> {
        let invalid = |why: &str| Error::invalid(format!("{setting}: {why}"));
        let document: AppDocument = serde_json::from_str(text).map_err(|e| {
            invalid(match e.classify() {
                serde_json::error::Category::Data => {
                    "not an app document {\"app_id\", \"installation_id\", \"private_key\", \
                     \"host\"}: a field is missing, unknown or of the wrong type"
                }
                _ => "not an app document: malformed JSON",
            })
        })?;
        let id = |value: &serde_json::Value, name: &str| match value {
            serde_json::Value::Number(number) if number.is_u64() => Ok(number.to_string()),
            serde_json::Value::String(text)
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(text.clone())
            }
            _ => Err(invalid(&format!("{name} is not a number"))),
        };
        let app_id = id(&document.app_id, "app_id")?;
        let installation_id = id(&document.installation_id, "installation_id")?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(document.private_key.as_bytes())
            .map_err(|_| invalid("private_key is not an RSA private key in PEM"))?;
        let host = document
            .host
            .unwrap_or_else(|| "github.com".to_string())
            .to_ascii_lowercase();
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(invalid("host is not a host name"));
        }
        let api = match api {
            Some(api) => api.trim_end_matches('/').to_string(),
            None if host == "github.com" => "https://api.github.com".to_string(),
            None => format!("https://{host}/api/v3"),
        };
        let client = reqwest::Client::builder()
            .timeout(API_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("piraeus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::invalid("cannot build the GitHub API client").with_source(e))?;
        let directory = private_dir.join("git-credentials");
        std::fs::create_dir_all(&directory).map_err(|e| Error::storage(directory.display(), e))?;
        Ok(Self {
            app_id,
            installation_id,
            key,
            host,
            api,
            client,
            file: directory.join("github-app"),
            current: tokio::sync::Mutex::new(None),
        })
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The file git's `store` helper is to read.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Makes sure the file holds a token valid for five minutes more, for `url` (the scheme
    /// and authority git reaches the host at), minting one when it does not.
    pub(crate) async fn refresh(&self, url: &str) -> Result<()> {
        let mut current = self.current.lock().await;
        let fresh = current.as_ref().is_some_and(|(_, expires)| {
            expires
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > RENEW_BEFORE)
        });
        if fresh {
            return Ok(());
        }
        let (token, expires) = self.mint().await?;
        let (scheme, authority) = url.split_once("://").unwrap_or(("https", url));
        write_private(
            &self.file,
            &format!("{scheme}://x-access-token:{token}@{authority}\n"),
        )?;
        tracing::info!(host = %self.host, "minted a GitHub App installation token");
        *current = Some((token, expires));
        Ok(())
    }

    async fn mint(&self) -> Result<(String, SystemTime)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iat: now.saturating_sub(60),
            exp: now + JWT_LIFETIME.as_secs(),
            iss: &self.app_id,
        };
        let jwt = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|e| Error::upstream("cannot sign the GitHub App's JWT").with_source(e))?;
        let url = format!(
            "{}/app/installations/{}/access_tokens",
            self.api, self.installation_id
        );
        // What a client may read names the API's answer, never its address or the token.
        let failed = |why: String| {
            Error::upstream(format!(
                "cannot get a GitHub App installation token for {}: {why}",
                self.host
            ))
        };
        let response = self
            .client
            .post(&url)
            .bearer_auth(jwt)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| failed("the GitHub API could not be reached".into()).with_source(e))?;
        let status = response.status();
        if status != reqwest::StatusCode::CREATED && status != reqwest::StatusCode::OK {
            return Err(failed(format!("the GitHub API answered {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed("the GitHub API's answer was cut short".into()).with_source(e))?;
        if body.len() > MAX_ANSWER {
            return Err(failed("the GitHub API's answer is too large".into()));
        }
        let minted: Minted = serde_json::from_slice(&body)
            .map_err(|_| failed("the GitHub API's answer is not a token".into()))?;
        let expires = humantime::parse_rfc3339_weak(&minted.expires_at)
            .map_err(|_| failed("the GitHub API's token has no valid expiry".into()))?;
        if minted.token.is_empty() || !minted.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(failed("the GitHub API's token is malformed".into()));
        }
        Ok((minted.token, expires))
    }
}

/// Replaces `path` with `text`, readable by its owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_documents_name_the_setting_and_show_no_key() {
        let directory = tempfile::tempdir().unwrap();
        let key = "-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRET\n-----END RSA PRIVATE KEY-----\n";
        for text in [
            "SECRETSECRET".to_string(),
            serde_json::json!({"app_id": 1, "installation_id": 2, "private_key": key}).to_string(),
            serde_json::json!({"app_id": "x", "installation_id": 2, "private_key": key})
                .to_string(),
            serde_json::json!({"app_id": 1, "private_key": key}).to_string(),
            serde_json::json!({"app_id": 1, "installation_id": 2, "private_key": key, "more": 1})
                .to_string(),
        ] {
            let error = GitHubApp::new("PIRAEUS_GITHUB_APP", &text, None, directory.path())
                .err()
                .expect("refused");
            let shown = format!("{}", error.chain());
            assert!(shown.contains("PIRAEUS_GITHUB_APP"), "{shown}");
            assert!(!shown.contains("SECRETSECRET"), "{shown}");
        }
    }
}
