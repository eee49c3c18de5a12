//! Piraeus: a Go module proxy that keeps an immutable copy of every module version it serves.
//!
//! The library holds everything; binaries only build configuration and backends:
//! - [`module_path`] and [`version`]: Go's rules for module paths, versions and case-encoding.
//! - [`store`]: the [`store::BlobStore`] trait (immutable artifacts) and its backends.
//! - [`index`]: the [`index::Index`] trait (version records, fetch leases, answer cache).
//! - [`fetch`]: the [`fetch::Fetcher`] that runs the Go toolchain, and the ingest path that
//!   turns one download into stored, hashed, indexed artifacts.
//! - [`proxy`]: the protocol logic over those traits; [`http`]: the axum router over it.

pub mod aws;
pub mod checksum;
pub mod clock;
pub mod config;
pub mod error;
pub mod fetch;
pub mod http;
pub mod index;
pub mod local;
pub mod logging;
pub mod metrics;
pub mod module_path;
pub mod prefetch;
pub mod proxy;
pub mod serverless;
pub mod store;
pub mod verify;
pub mod version;

pub use error::{Error, Result};
