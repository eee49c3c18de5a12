//! The request being answered on this task: its id (which the response carries as
//! `x-request-id`, and the body of a 5xx, so a user's report leads to the log line), what
//! handlers noted for the request log, and the token it was allowed with. Work a request starts
//! that logs on its own (a fetch) takes the id along.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use axum::http::HeaderValue;

use crate::turns::CacheOutcome;

/// Recorded by handlers for the request log ([`note`]).
#[derive(Clone, Copy)]
pub(crate) struct RequestFacts {
    pub route: &'static str,
    pub outcome: Option<CacheOutcome>,
}

/// The request being answered on this task. Handlers note their facts here rather than in the
/// response's extensions, whose map costs three allocations on every hit.
pub(crate) struct Current {
    pub id: HeaderValue,
    pub facts: Cell<Option<RequestFacts>>,
    /// The name of the token the request was allowed with.
    pub client: RefCell<Option<Arc<str>>>,
}

tokio::task_local! {
    pub(crate) static CURRENT: Current;
}

/// The id of the request being answered on this task, if any.
pub(crate) fn request_id() -> Option<String> {
    CURRENT
        .try_with(|current| current.id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// Records what the request log says about the request being answered on this task.
pub(crate) fn note(facts: RequestFacts) {
    let _ = CURRENT.try_with(|current| current.facts.set(Some(facts)));
}

/// Records which token the request being answered on this task was allowed with.
pub(crate) fn note_client(name: Arc<str>) {
    let _ = CURRENT.try_with(|current| *current.client.borrow_mut() = Some(name));
}

/// Unique across instances (a random prefix per process) and cheap (a counter per request).
pub(crate) fn next_request_id() -> String {
    static PREFIX: LazyLock<u32> = LazyLock::new(|| {
        let mut bytes = [0u8; 4];
        // Uniqueness, not secrecy: a clock-derived prefix does if the OS has no randomness.
        getrandom::fill(&mut bytes).unwrap_or_else(|_| {
            bytes = (crate::clock::now_millis() as u32).to_le_bytes();
        });
        u32::from_le_bytes(bytes)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{sequence:x}", *PREFIX)
}
