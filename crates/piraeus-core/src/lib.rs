//! Piraeus without the cloud: everything a Go module proxy needs that does not depend on where it
//! runs. `piraeus-aws` adds S3, DynamoDB and Lambda on top; the `piraeus` command and the Lambda
//! functions only assemble these parts.
//!
//! - [`golang`]: Go's rules: module paths, versions, case-encoding, `h1:` checksums, go.sum.
//! - [`store`]: the [`store::BlobStore`] trait (immutable artifacts), the artifact layout and
//!   the filesystem store.
//! - [`index`]: the [`index::Index`] trait (version records, fetch leases, answer cache) and,
//!   with the `sqlite` feature, the embedded index.
//! - [`fetch`]: the Go toolchain as fetcher and resolver, and the ingest path that turns one
//!   download into stored, hashed, indexed artifacts.
//! - [`proxy`]: the GOPROXY protocol over those traits.
//! - [`http`]: the axum router over the proxy, one file per concern.
//! - [`prefetch`], [`verify`]: warming the cache, re-checking what is stored.
//! - [`settings`], [`error`], [`telemetry`]: configuration, the error type, logs and metrics.
//! - [`auth`]: client tokens (HTTP Basic against hashed secrets).
//! - [`policy`]: which modules may be fetched, served, redirected or denied; the approval hook.
//! - [`redact`]: credentials, paths and addresses kept out of logs and responses.
//! - [`sumdb`]: the checksum-database proxy (`/sumdb/<name>/...`).
//!
//! The modules are one-way layers, each using only those below it: docs/architecture.md draws
//! them, and the integration test `layers` fails on any path that points up or sideways.

pub mod archive;
pub mod auth;
pub(crate) mod cleanup;
pub mod clock;
pub mod error;
pub mod fetch;
pub mod golang;
pub mod http;
pub mod index;
pub mod local;
pub mod policy;
pub mod prefetch;
pub mod proxy;
pub mod redact;
pub mod settings;
pub mod store;
pub mod sumdb;
pub mod telemetry;
pub(crate) mod turns;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
