//! Wall-clock time as Unix milliseconds: the one unit every index backend stores, so leases and
//! cache ages compare across processes and machines.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

pub(crate) fn millis(duration: Duration) -> i64 {
    duration.as_millis().min(i64::MAX as u128) as i64
}
