//! Single flight within a process: one turn per key at a time (one question to upstream per
//! answer; the others wait and read what it remembered), and how each answer was obtained.
//! The proxy and the checksum-database proxy both take turns; the request log reports the
//! outcome.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// How an answer was obtained; logged per request and reported in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    /// Served from storage or a fresh cached answer.
    Hit,
    /// Fetched from upstream for this request (or while it waited).
    Miss,
    /// Upstream failed; served a cached answer past its TTL.
    Stale,
    /// Upstream failed and nothing was cached; answered from the stored versions.
    Stored,
}

impl CacheOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
            CacheOutcome::Stale => "stale",
            CacheOutcome::Stored => "stored",
        }
    }
}

/// One async lock per key (an answer someone is asking upstream for) while anyone holds it.
pub(crate) type Turns<K> = Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>;

/// A request's share of the per-key turn lock: when the last one goes, however the request
/// ends (answered, failed, or dropped because the client hung up), so does the map entry.
pub(crate) struct TurnEntry<'a, K: Eq + Hash + Clone> {
    map: &'a Turns<K>,
    key: &'a K,
    pub lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a, K: Eq + Hash + Clone> TurnEntry<'a, K> {
    pub fn enter(map: &'a Turns<K>, key: &'a K) -> Self {
        let lock = map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        Self { map, key, lock }
    }
}

impl<K: Eq + Hash + Clone> Drop for TurnEntry<'_, K> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else waits for this key.
        if Arc::strong_count(&self.lock) <= 2 {
            map.remove(self.key);
        }
    }
}
