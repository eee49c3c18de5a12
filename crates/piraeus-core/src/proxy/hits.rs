//! The hit cache. A ready version never changes (the index contract), so its record and its
//! small artifacts can be kept in memory with no invalidation at all: a hit then costs no index
//! query and no file read. Bounded by bytes (`--cache-size`); what does not fit is evicted and
//! read again from the index and the store.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use super::ready::ReadyVersion;
use crate::index::StoredVersion;
use crate::store::ArtifactKind;

/// `.info` and `.mod` files up to this size are read whole and cached; larger ones (and every
/// zip) are streamed from the store.
pub(crate) const SMALL_ARTIFACT_MAX: u64 = 256 * 1024;

/// Roughly what an entry costs beyond its strings and bytes (keys, `Arc`, the cache's own
/// bookkeeping), so a cache of many tiny entries stays within its bound too.
const ENTRY_OVERHEAD: u64 = 160;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Record,
    Info,
    Mod,
}

impl Part {
    fn of(kind: ArtifactKind) -> Option<Self> {
        match kind {
            ArtifactKind::Info => Some(Part::Info),
            ArtifactKind::Mod => Some(Part::Mod),
            ArtifactKind::Zip => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Key {
    module: String,
    version: String,
    part: Part,
}

/// A key borrowed from the request, so a lookup allocates nothing. Hashes exactly as [`Key`].
struct Lookup<'a> {
    module: &'a str,
    version: &'a str,
    part: Part,
}

fn hash_key(module: &str, version: &str, part: Part, state: &mut impl Hasher) {
    module.hash(state);
    version.hash(state);
    (part as u8).hash(state);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(&self.module, &self.version, self.part, state);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(self.module, self.version, self.part, state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.part == key.part && self.module == key.module && self.version == key.version
    }
}

#[derive(Clone)]
enum Entry {
    Record(Arc<ReadyVersion>),
    Body(Bytes),
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        let held = match entry {
            Entry::Record(ready) => ready.held_bytes() + std::mem::size_of::<ReadyVersion>(),
            Entry::Body(bytes) => bytes.len(),
        };
        (key.module.len() + key.version.len()) as u64 + held as u64 + ENTRY_OVERHEAD
    }
}

/// Ready records and small artifacts by module and version. A size of 0 disables it.
pub(crate) struct HitCache {
    cache: Option<Cache<Key, Entry, ByBytes>>,
}

impl HitCache {
    pub fn new(max_bytes: u64) -> Self {
        // The item estimate only sizes the table up front; the bound is the weight.
        let estimated_items = (max_bytes / 1024).clamp(16, 1 << 20) as usize;
        let cache =
            (max_bytes > 0).then(|| Cache::with_weighter(estimated_items, max_bytes, ByBytes));
        Self { cache }
    }

    /// The ready record of `module@version`, when cached.
    pub fn record(&self, module: &str, version: &str) -> Option<Arc<ReadyVersion>> {
        let lookup = Lookup {
            module,
            version,
            part: Part::Record,
        };
        match self.cache.as_ref()?.get(&lookup)? {
            Entry::Record(record) => Some(record),
            Entry::Body(_) => None,
        }
    }

    /// Keeps a record the index reported ready. Only ever called with ready records: anything
    /// else may change, and nothing here would notice.
    pub fn keep_record(&self, ready: Arc<ReadyVersion>) {
        if let Some(cache) = &self.cache {
            let key = Key {
                module: ready.record.module.clone(),
                version: ready.record.version.clone(),
                part: Part::Record,
            };
            cache.insert(key, Entry::Record(ready));
        }
    }

    /// The bytes of a small artifact of a ready version, when cached.
    pub fn body(&self, record: &StoredVersion, kind: ArtifactKind) -> Option<Bytes> {
        let lookup = Lookup {
            module: &record.module,
            version: &record.version,
            part: Part::of(kind)?,
        };
        match self.cache.as_ref()?.get(&lookup)? {
            Entry::Body(bytes) => Some(bytes),
            Entry::Record(_) => None,
        }
    }

    /// Keeps the complete bytes of a ready version's `.info` or `.mod`.
    pub fn keep_body(&self, record: &StoredVersion, kind: ArtifactKind, bytes: Bytes) {
        let (Some(cache), Some(part)) = (&self.cache, Part::of(kind)) else {
            return;
        };
        let key = Key {
            module: record.module.clone(),
            version: record.version.clone(),
            part,
        };
        cache.insert(key, Entry::Body(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: &str) -> Arc<ReadyVersion> {
        Arc::new(ReadyVersion::new(StoredVersion {
            module: "example.com/m".into(),
            version: version.into(),
            time: "2024-01-01T00:00:00Z".into(),
            zip_hash: "h1:zip".into(),
            mod_hash: "h1:mod".into(),
            zip_size: 10,
            mod_size: 20,
            info_size: 30,
            origin: "direct".into(),
            fetched_at: 1,
        }))
    }

    #[test]
    fn keeps_records_and_bodies_apart() {
        let hits = HitCache::new(1 << 20);
        let v1 = record("v1.0.0");
        assert!(hits.record("example.com/m", "v1.0.0").is_none());
        hits.keep_record(v1.clone());
        assert_eq!(
            hits.record("example.com/m", "v1.0.0")
                .map(|ready| ready.record.clone()),
            Some(v1.record.clone())
        );
        assert!(hits.record("example.com/m", "v1.0.1").is_none());
        assert!(hits.record("example.com/n", "v1.0.0").is_none());

        assert!(hits.body(&v1.record, ArtifactKind::Info).is_none());
        hits.keep_body(&v1.record, ArtifactKind::Info, Bytes::from_static(b"{}"));
        hits.keep_body(&v1.record, ArtifactKind::Zip, Bytes::from_static(b"zip"));
        assert_eq!(
            hits.body(&v1.record, ArtifactKind::Info).as_deref(),
            Some(&b"{}"[..])
        );
        assert!(hits.body(&v1.record, ArtifactKind::Mod).is_none());
        assert!(
            hits.body(&v1.record, ArtifactKind::Zip).is_none(),
            "zips are never cached"
        );
    }

    #[test]
    fn stays_within_its_bound() {
        let bound = 64 * 1024;
        let hits = HitCache::new(bound);
        for n in 0..1000 {
            let record = record(&format!("v1.0.{n}"));
            hits.keep_body(
                &record.record,
                ArtifactKind::Mod,
                Bytes::from(vec![b'x'; 512]),
            );
            hits.keep_record(record);
        }
        let cache = hits.cache.as_ref().unwrap();
        assert!(cache.weight() <= bound, "{} > {bound}", cache.weight());
        assert!(cache.len() > 10, "it still holds what fits");
    }

    #[test]
    fn size_zero_disables_it() {
        let hits = HitCache::new(0);
        let v1 = record("v1.0.0");
        hits.keep_record(v1.clone());
        hits.keep_body(&v1.record, ArtifactKind::Info, Bytes::from_static(b"{}"));
        assert!(hits.record("example.com/m", "v1.0.0").is_none());
        assert!(hits.body(&v1.record, ArtifactKind::Info).is_none());
    }
}
