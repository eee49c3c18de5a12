//! SigV4 signatures for plain HTTP requests to AWS endpoints no SDK client covers: the prefetch
//! function's IAM-authorised URL (service `lambda`), called by `piraeus prefetch`. Credentials
//! come from the standard chain (environment, profiles, SSO, container and instance roles).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use piraeus_core::{Error, Result};
use tokio::sync::Mutex;

/// Temporary credentials this close to expiring are fetched again before signing.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Whether `host` is a Lambda function URL's (`ID.lambda-url.REGION.on.aws`).
pub fn is_function_url_host(host: &str) -> bool {
    function_url_region(host).is_some()
}

/// The region in a Lambda function URL's host.
pub fn function_url_region(host: &str) -> Option<&str> {
    let rest = host.strip_suffix(".on.aws")?;
    let (_, region) = rest.split_once(".lambda-url.")?;
    (!region.is_empty() && !region.contains('.')).then_some(region)
}

/// Signs requests for one service in one region.
pub struct Signer {
    provider: SharedCredentialsProvider,
    service: String,
    region: String,
    cached: Mutex<Option<Credentials>>,
}

impl Signer {
    /// A signer with `sdk`'s credentials chain, for `region` (else `sdk`'s region). The
    /// credentials are fetched now, so a missing or broken chain is reported before anything
    /// is sent.
    pub async fn new(
        sdk: &aws_config::SdkConfig,
        service: &str,
        region: Option<&str>,
    ) -> Result<Self> {
        let region = region
            .map(str::to_string)
            .or_else(|| sdk.region().map(|region| region.to_string()))
            .ok_or_else(|| {
                Error::invalid(
                    "no AWS region to sign for: set AWS_REGION (or a profile's region), or use \
                     the function URL itself (https://ID.lambda-url.REGION.on.aws/prefetch)",
                )
            })?;
        let provider = sdk.credentials_provider().ok_or_else(|| {
            Error::invalid("no AWS credentials provider is configured to sign with")
        })?;
        let signer = Self {
            provider,
            service: service.to_string(),
            region,
            cached: Mutex::new(None),
        };
        signer.credentials().await?;
        Ok(signer)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn credentials(&self) -> Result<Credentials> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().filter(|credentials| {
            credentials.expiry().is_none_or(|expiry| {
                expiry
                    .duration_since(SystemTime::now())
                    .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
            })
        });
        if let Some(credentials) = fresh {
            return Ok(credentials.clone());
        }
        let credentials = self.provider.provide_credentials().await.map_err(|error| {
            Error::invalid(format!(
                "no AWS credentials to sign with (from the environment, a profile, SSO or a \
                 role): {error}"
            ))
            .with_source(error)
        })?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// The headers that sign a request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` for temporary credentials), to add to it as they are. `url` is
    /// the request's, percent-encoded as it will be sent; `headers` are signed too.
    pub async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>> {
        let identity: Identity = self.credentials().await?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| Error::invalid(format!("cannot sign the request: {error}")))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|error| Error::invalid(format!("cannot sign a request to {url}: {error}")))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|error| Error::invalid(format!("cannot sign the request: {error}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_url_hosts_name_their_region() {
        assert_eq!(
            function_url_region("abcdefgh1234.lambda-url.eu-west-1.on.aws"),
            Some("eu-west-1")
        );
        assert!(!is_function_url_host("127.0.0.1"));
        assert!(!is_function_url_host("lambda-url.example.com"));
        assert!(!is_function_url_host("x.lambda-url..on.aws"));
    }

    #[tokio::test]
    async fn signs_with_static_credentials() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                Some("token".into()),
                None,
                "test",
            )))
            .build();
        let signer = Signer::new(&sdk, "lambda", None).await.unwrap();
        assert_eq!(signer.region(), "us-east-1");
        let headers = signer
            .sign("POST", "http://127.0.0.1:9000/prefetch?wait=60s", &[], b"x")
            .await
            .unwrap();
        let authorization = &headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .unwrap()
            .1;
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && authorization.contains("/us-east-1/lambda/aws4_request"),
            "{authorization}"
        );
        assert!(
            headers
                .iter()
                .any(|(name, value)| name == "x-amz-security-token" && value == "token")
        );
        assert!(!authorization.contains("secret"));
    }
}
