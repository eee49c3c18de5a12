//! The approval hook: an HTTP endpoint asked once before a new version is stored. It fails
//! closed: only a 2xx allows; a 403 denies; anything else, or no answer in time, refuses the
//! version for now (502), since an approval that cannot be checked is not an approval.

use std::time::Duration;

use serde_json::json;

use crate::error::{Error, Result};
use crate::redact;

#[derive(Debug)]
pub(crate) struct Hook {
    url: String,
    client: reqwest::Client,
}

impl Hook {
    pub(super) fn new(url: &str, timeout: Duration) -> Result<Self> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::invalid(format!(
                "hook url {:?} is not an http(s) URL",
                redact::credentials(url)
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // The hook's answer is final: a redirect is not followed to somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::invalid("cannot set up the hook's HTTP client").with_source(e))?;
        Ok(Self {
            url: url.to_string(),
            client,
        })
    }

    /// `POST {"module", "version"}`: Ok when the hook approves.
    pub(crate) async fn approve(&self, module: &str, version: &str) -> Result<()> {
        let answer = self
            .client
            .post(&self.url)
            .json(&json!({ "module": module, "version": version }))
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) if response.status() == reqwest::StatusCode::FORBIDDEN => {
                Err(Error::forbidden(format!(
                    "{module}@{version} was denied by the approval hook"
                )))
            }
            Ok(response) => Err(Error::upstream(format!(
                "the approval hook did not approve {module}@{version}; retry later"
            ))
            .with_source(format!("hook answered {}", response.status()))),
            Err(error) => Err(Error::upstream(format!(
                "the approval hook did not answer for {module}@{version}; retry later"
            ))
            .with_source(error.without_url())),
        }
    }
}
