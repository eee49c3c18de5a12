//! The fetch function's credentials, read from Secrets Manager once per execution environment:
//! the `.netrc` (`NetrcSecretArn`), the SSH key document (`GitSshKeySecretArn`) and the GitHub
//! App document (`GitHubAppSecretArn`). Each secret holds exactly what the matching
//! `piraeus serve` file holds, so one parser checks both faces.

use piraeus_core::{Error, ErrorKind, Result};

use crate::error::sdk_error;

/// The `SecretString` of `secret` (an ARN or a name), which `setting` named. Errors name the
/// setting and never show the value.
pub async fn secret_string(
    sdk: &aws_config::SdkConfig,
    setting: &str,
    secret: &str,
) -> Result<String> {
    let value = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                ErrorKind::Invalid,
                format!("{setting}: reading the secret"),
                e,
            )
        })?;
    value
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid(format!("{setting}: the secret has no string value")))
}
