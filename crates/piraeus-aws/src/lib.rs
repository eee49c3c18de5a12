//! Piraeus on AWS: the backends and the Lambda plumbing that `piraeus-core` leaves out.
//!
//! - [`s3`]: S3 as the [`piraeus_core::store::BlobStore`].
//! - [`dynamodb`]: DynamoDB as the [`piraeus_core::index::Index`], and its table [`dynamodb::schema`].
//! - [`sdk`]: SDK configuration and clients, and [`sdk::open_store`] / [`sdk::open_index`], the
//!   one place that opens backends from `s3://` and `dynamodb://` locations.
//! - [`provision`]: creates the bucket and the table as template.yaml declares them.
//! - [`secrets`]: the fetch function's credentials from Secrets Manager.
//! - [`sigv4`]: SigV4-signed plain HTTP requests (`piraeus prefetch` to the prefetch function
//!   URL).
//! - `token_store` (feature `token-store`): client tokens in the CloudFront KeyValueStore.
//! - [`lambda`]: the fetch function's event protocol, the client serve and prefetch use to reach
//!   it, its handler, and the functions' wiring from their environment.
//!
//! SDK errors become [`piraeus_core::Error`]s in one helper (`error.rs`), which keeps the SDK
//! error as the source and leaves bucket, table and endpoint names out of the message.

pub mod dynamodb;
mod error;
pub mod lambda;
pub mod provision;
pub mod s3;
pub mod sdk;
pub mod secrets;
pub mod sigv4;
#[cfg(feature = "token-store")]
pub mod token_store;
