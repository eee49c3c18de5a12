//! Leftovers of a crash: per-fetch GOPATHs in the scratch directory and half-written files in
//! the store's staging directory. Nothing refers to them after the process that made them is
//! gone, so each start removes those old enough to be no one's current work.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Older than any fetch or write in progress can be (the longest fetch timeout is far less).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Removes every entry of `dir` last modified more than `older_than` ago; how many it removed.
/// Errors are logged, not returned: a leftover that cannot be removed must not stop a start.
pub(crate) fn remove_stale(dir: &Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > older_than);
        if !stale {
            continue;
        }
        let result = if path.is_dir() {
            make_writable(&path);
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot remove a stale leftover")
            }
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), removed, "removed leftovers of earlier runs");
    }
    removed
}

/// The go command leaves its module cache read-only; directories must be writable for their
/// entries to be removed.
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_what_is_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("fetch-old");
        std::fs::create_dir_all(old.join("gopath/pkg")).unwrap();
        std::fs::write(old.join("gopath/pkg/x"), "x").unwrap();
        std::fs::write(dir.path().join("staged"), "y").unwrap();
        assert_eq!(remove_stale(dir.path(), Duration::from_secs(3600)), 0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(remove_stale(dir.path(), Duration::from_millis(1)), 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
