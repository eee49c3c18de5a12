//! The AWS deployment's moving parts, as library code so the Lambda binaries stay thin:
//! - `event`: the fetch function's event ([`FetchRequest`]) and reply ([`FetchReply`]).
//! - `client`: `LambdaFetchClient`, how serve and prefetch reach the fetch function.
//! - `handler`: [`FetchHandler`], what the fetch function does with each event.
//! - `function`: [`FunctionConfig`], read from the environment, and the builders each
//!   function's `main` calls.
//! - `verify`: [`ScheduledVerify`], the fetch function's `verify` event (template.yaml's
//!   `VerifySchedule`).

mod client;
mod event;
mod function;
mod handler;
mod verify;

pub use event::{FetchReply, FetchRequest};
pub use function::{FunctionConfig, build_fetch_handler, build_proxy, init_logging};
pub use handler::FetchHandler;
pub use verify::ScheduledVerify;
