//! The integration tests: one binary, a module per area. They run the real `piraeus` binary,
//! the real go command and git, moto for S3 and DynamoDB, and `cargo lambda watch` for the
//! functions; `make test` installs what is missing.
//!
//! - `go_client`: every go-client case against `piraeus serve` and the serverless stack,
//!   compared with `GOPROXY=direct`.
//! - `storage`, `streaming`, `hostile`, `build`: immutability, single-flight, memory, bad input,
//!   a whole build through the proxy.
//! - `cli`: flags, environment, exit codes, logs.
//! - `resumable`: ranges and conditional requests (`206`, `304`) with curl, locally and from S3.
//! - `security`: client tokens over https, the module policy and its hook, clean error bodies.
//! - `hardening`: the second security review's findings, each as an attacker tries it (padded
//!   credentials, policy patterns in other letters or with a trailing slash, `private` caching
//!   behind tokens, `/index` and the policy).
//! - `scopes`: token scopes on `piraeus serve` (artifacts, list, latest, sumdb, prefetch,
//!   index, metrics, token files from before scopes).
//! - `github_app`: GitHub App credentials against a stand-in GitHub (API and Git server) that
//!   verifies the JWT and accepts only the tokens it minted.
//! - `git_ssh`: private code over SSH: a real sshd on loopback, the configured key and host
//!   keys only, go's https paths rewritten to it.
//! - `limits`: header and idle timeouts, the connection cap, shutdown.
//! - `soak`: clients, upstream outages and SIGKILLs together; nothing lost (`make soak`).
//! - `faults`: upstream failures answer 502, so clients never go around the proxy by mistake.
//! - `sumdb`: the checksum-database proxy against a real, signed test database
//!   (`tests/sumdb-server`): verified downloads, a tampered sum refused, the database down,
//!   private modules and malformed paths refused without asking it.
//! - `conformance`, `aws_backends`: every store and index backend passes the same suites; S3
//!   and DynamoDB in one or two processes.
//! - `prefetch`, `fetch_function`, `template`: the prefetch API, the fetch function's events,
//!   and template.yaml against the code.
//! - `prefetch_cli`: `piraeus prefetch` against `piraeus serve` and the stack's prefetch
//!   function URL (SigV4-signed), checked with a go client that has no fallback.
//! - `index_feed`: `GET /index`, the feed of stored versions (index.golang.org's format).
//! - `metrics`: `GET /metrics` (`piraeus serve --metrics`) across a miss, a hit and a failure.
//! - `verify`: `piraeus verify` over S3 and DynamoDB finds a zip altered in the bucket.
//! - `layers`: piraeus-core's modules only use the layers below them (docs/architecture.md's
//!   diagram), and its folders have no cycles; the check tested on planted bad edges.
//! - `upstream`: the native upstream: a GOPROXY tree over HTTP and a real signed checksum
//!   database; sums equal direct, no go command for public modules, tampered zips and go.mods,
//!   a wrong key and bad answers refused, private modules only to the go command.
//! - `edge_hardening`: the stack's edge with client tokens: a large zip's redirect goes back
//!   through the edge, and the edge keeps no answer the serve function marks not to keep.
//! - `edge_scopes`: token scopes at the stack's edge: a scoped token is refused every module
//!   outside its scope, case-encoded, percent-encoded or already cached, and `/index` and
//!   `/metrics`; unscoped tokens and store values from before scopes read everything.
//! - `transfer`: `piraeus export` and `piraeus import` feed an air-gapped mirror that builds
//!   offline with the same go.sum; an altered zip in the archive is refused and named.
//! - `egress`: the fetcher's network traffic goes through the egress guard, which refuses
//!   internal addresses; the go command may use git only; its errors name no scratch directory.

#[macro_use]
mod common;

mod aws_backends;
mod build;
mod cli;
mod conformance;
mod edge_hardening;
mod edge_scopes;
mod egress;
mod faults;
mod fetch_function;
mod git_ssh;
mod github_app;
mod go_client;
mod hardening;
mod hostile;
mod index_feed;
mod layers;
mod limits;
mod metrics;
mod prefetch;
mod prefetch_cli;
mod resumable;
mod scopes;
mod security;
mod soak;
mod storage;
mod streaming;
mod sumdb;
mod template;
mod transfer;
mod upstream;
mod verify;
