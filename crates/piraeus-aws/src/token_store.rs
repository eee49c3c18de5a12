//! Client tokens in the CloudFront KeyValueStore the viewer-request function reads: key = token
//! name, value = the SHA-256 of its secret and the token's scope
//! ([`piraeus_core::auth::kvs_value`]), as in `piraeus serve`'s token file. Every change is
//! conditional on the store's ETag, so two operators cannot overwrite each other's change.

use aws_sdk_cloudfrontkeyvaluestore::Client;
use aws_sdk_cloudfrontkeyvaluestore::operation::get_key::GetKeyError;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls;
use piraeus_core::auth::{check_name, hash_secret, kvs_modules, kvs_value, new_secret};
use piraeus_core::{Error, ErrorKind, Result};

use crate::error::{sdk_error, status_of};

pub struct KvsTokens {
    client: Client,
    arn: String,
}

impl KvsTokens {
    /// The store `arn` (the stack's `TokenStoreArn` output). Requests go through
    /// `HTTPS_PROXY`/`HTTP_PROXY` when the environment names one.
    pub fn new(sdk: &aws_config::SdkConfig, arn: &str) -> Self {
        let http_client = aws_smithy_http_client::Builder::new().build_with_connector_fn(
            |settings, components| {
                let mut connector = aws_smithy_http_client::Connector::builder()
                    .proxy_config(ProxyConfig::from_env());
                if let Some(settings) = settings {
                    connector = connector.connector_settings(settings.clone());
                }
                if let Some(sleep) = components.and_then(|c| c.sleep_impl()) {
                    connector = connector.sleep_impl(sleep);
                }
                connector
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .build()
            },
        );
        let config = aws_sdk_cloudfrontkeyvaluestore::config::Builder::from(sdk)
            .http_client(http_client)
            .build();
        Self {
            client: Client::from_conf(config),
            arn: arn.to_string(),
        }
    }

    /// Adds a token named `name`, reading `modules` (all when `None`), and returns its secret,
    /// which is not kept anywhere.
    pub async fn add(&self, name: &str, modules: Option<&str>) -> Result<String> {
        check_name(name)?;
        // Checked before the store is asked anything: a bad scope is the caller's to fix.
        let secret = new_secret()?;
        let value = kvs_value(&hash_secret(&secret), modules)?;
        let existing = self
            .client
            .get_key()
            .kvs_arn(&self.arn)
            .key(name)
            .send()
            .await;
        match existing {
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "a token named {name:?} exists; revoke it first or choose another name"
                    ),
                ));
            }
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(GetKeyError::ResourceNotFoundException(_))
                ) => {}
            Err(error) => {
                return Err(sdk_error(
                    ErrorKind::Storage,
                    "reading the token store",
                    error,
                ));
            }
        }
        self.client
            .put_key()
            .kvs_arn(&self.arn)
            .key(name)
            .value(value)
            .if_match(self.etag().await?)
            .send()
            .await
            .map_err(|e| sdk_error(ErrorKind::Storage, "writing the token store", e))?;
        Ok(secret)
    }

    /// Removes the token named `name`; false when there was none.
    pub async fn revoke(&self, name: &str) -> Result<bool> {
        let deleted = self
            .client
            .delete_key()
            .kvs_arn(&self.arn)
            .key(name)
            .if_match(self.etag().await?)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(error) if status_of(&error) == Some(404) => Ok(false),
            Err(error) => Err(sdk_error(
                ErrorKind::Storage,
                "writing the token store",
                error,
            )),
        }
    }

    /// The token names, each with the modules it may read (`None`: all).
    pub async fn list(&self) -> Result<Vec<(String, Option<String>)>> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_keys()
            .kvs_arn(&self.arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk_error(ErrorKind::Storage, "reading the token store", e))?;
            names.extend(page.items().iter().map(|item| {
                let modules = kvs_modules(item.value()).map(str::to_string);
                (item.key().to_string(), modules)
            }));
        }
        Ok(names)
    }

    async fn etag(&self) -> Result<String> {
        let store = self
            .client
            .describe_key_value_store()
            .kvs_arn(&self.arn)
            .send()
            .await
            .map_err(|e| sdk_error(ErrorKind::Storage, "reading the token store", e))?;
        Ok(store.e_tag().to_string())
    }
}
