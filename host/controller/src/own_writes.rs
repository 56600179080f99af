//! What this controller wrote that its watch caches may not show yet.
//!
//! Reconciles act on the informer caches, as Argo's do, instead of reading each object again
//! before acting (that read was a third of Aviary's API requests in an update). The one hazard of
//! a cache is the controller's own writes: a reconcile woken by the ReplicaSet it just scaled may
//! run before the watch delivers the Rollout status written with that scale, and acting on the
//! older status would repeat the step (scale again, record the event twice). client-go
//! controllers guard this with "expectations"; here the answer of every write (the object as the
//! API server stored it) is kept until the cache shows it, and a reconcile sees the newer of the
//! two.
//!
//! The cache is known to be behind when it shows a resourceVersion one of our writes replaced
//! (resourceVersions are compared for equality only, as the API conventions require) or an
//! older `metadata.generation` (a number that only grows) than the one we wrote. Anything else
//! the cache shows is newer than our write (another writer's), and is used. A write whose answer
//! the cache never shows (the watch is broken, the object was deleted and the deletion missed)
//! is forgotten after [`KEEP`]: the reflector's re-list is the truth then.
//!
//! Acting on the cache is safe for what this can miss because every status write carries the
//! resourceVersion it was computed from: a decision made on an older object is a 409 conflict,
//! re-queued, never a lost update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::{Resource, ResourceExt};

/// How long a write is remembered when the cache does not catch up with it.
pub const KEEP: Duration = Duration::from_secs(60);

/// How many replaced versions one object's entry remembers (one reconcile writes a Rollout at
/// most three times; a watch that lags more than this many writes is treated as newer).
const MAX_REPLACED: usize = 16;

/// The writes of one kind, by namespace and name.
pub struct OwnWrites<K> {
    entries: Mutex<Entries<K>>,
}

struct Entries<K> {
    by_key: HashMap<(String, String), Entry<K>>,
    pruned: Instant,
}

struct Entry<K> {
    /// The object as written; `None` when this controller deleted it.
    written: Option<Arc<K>>,
    /// The uid of the object written or deleted (a new object of the same name is not ours).
    uid: Option<String>,
    /// resourceVersions that our writes replaced: a cache showing one is behind.
    replaced: Vec<String>,
    at: Instant,
}

impl<K> Default for OwnWrites<K> {
    fn default() -> Self {
        Self { entries: Mutex::new(Entries { by_key: HashMap::new(), pruned: Instant::now() }) }
    }
}

fn key<K: Resource>(k: &K) -> (String, String) {
    (k.namespace().unwrap_or_default(), k.name_any())
}

impl<K: Resource + Clone> OwnWrites<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `written`, what the API server answered to a write made on a version of the
    /// object whose resourceVersion was `before` (`None` for a create). Returns it shared.
    pub fn wrote(&self, before: &[String], written: K) -> Arc<K> {
        let written = Arc::new(written);
        self.remember(key(&*written), before, Some(written.clone()), written.meta().uid.clone());
        written
    }

    /// Records that this controller deleted `object` (its cached version).
    pub fn deleted(&self, object: &K) {
        let before = object.meta().resource_version.as_slice();
        self.remember(key(object), before, None, object.meta().uid.clone());
    }

    fn remember(&self, key: (String, String), before: &[String], written: Option<Arc<K>>, uid: Option<String>) {
        let now = Instant::now();
        let mut entries = self.lock();
        if now.duration_since(entries.pruned) > KEEP {
            entries.by_key.retain(|_, e| now.duration_since(e.at) <= KEEP);
            entries.pruned = now;
        }
        let entry = entries.by_key.entry(key).or_insert_with(|| Entry {
            written: None,
            uid: None,
            replaced: Vec::new(),
            at: now,
        });
        if entry.uid != uid {
            entry.replaced.clear();
        }
        // The version this write replaced, and the one our previous write produced (the cache
        // may still show either).
        let previous = entry.written.as_ref().and_then(|w| w.meta().resource_version.clone());
        for rv in before.iter().cloned().chain(previous) {
            if !entry.replaced.contains(&rv) {
                entry.replaced.push(rv);
            }
        }
        if entry.replaced.len() > MAX_REPLACED {
            let excess = entry.replaced.len().saturating_sub(MAX_REPLACED);
            entry.replaced.drain(..excess);
        }
        entry.written = written;
        entry.uid = uid;
        entry.at = now;
    }

    /// What a reconcile should act on given the cache's `cached`: our written version when the
    /// cache is behind it, `None` when we deleted it, the cached one otherwise.
    pub fn latest(&self, cached: Arc<K>) -> Option<Arc<K>> {
        let mut entries = self.lock();
        let k = key(&*cached);
        let Some(entry) = entries.by_key.get(&k) else { return Some(cached) };
        match verdict(entry, &cached) {
            Verdict::Ours => entry.written.clone(),
            Verdict::Cached => {
                entries.by_key.remove(&k);
                Some(cached)
            }
        }
    }

    /// The objects of namespace `ns` matching `keep`, as [`Self::latest`] sees them: `cached`
    /// with our newer versions in place, what we deleted left out, and what we created that the
    /// cache does not show yet added.
    pub fn merge(&self, ns: &str, cached: Vec<Arc<K>>, keep: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        let mut entries = self.lock();
        let now = Instant::now();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(cached.len());
        for object in cached {
            let k = key(&*object);
            let chosen = match entries.by_key.get(&k) {
                None => Some(object),
                Some(entry) => match verdict(entry, &object) {
                    Verdict::Ours => entry.written.clone(),
                    Verdict::Cached => {
                        entries.by_key.remove(&k);
                        Some(object)
                    }
                },
            };
            seen.insert(k);
            out.extend(chosen.filter(|o| keep(o)));
        }
        // Created (or written) by us, not in the cache yet.
        entries.by_key.retain(|k, e| {
            if k.0 != ns || seen.contains(k) {
                return true;
            }
            match &e.written {
                _ if now.duration_since(e.at) > KEEP => false,
                Some(w) => {
                    if keep(w) {
                        out.push(w.clone());
                    }
                    true
                }
                // A deletion: kept (the object may be in the cache but outside this list) until
                // it expires.
                None => true,
            }
        });
        out
    }
}

enum Verdict {
    /// The cache is behind our write.
    Ours,
    /// The cache shows our write or something newer.
    Cached,
}

fn verdict<K: Resource>(entry: &Entry<K>, cached: &K) -> Verdict {
    if Instant::now().duration_since(entry.at) > KEEP || entry.uid != cached.meta().uid {
        return Verdict::Cached;
    }
    let rv = cached.meta().resource_version.as_deref().unwrap_or_default();
    let written_rv = entry.written.as_ref().and_then(|w| w.meta().resource_version.as_deref());
    if written_rv == Some(rv) {
        return Verdict::Cached;
    }
    let older_generation = match (&entry.written, cached.meta().generation) {
        (Some(w), Some(g)) => w.meta().generation.is_some_and(|wg| g < wg),
        _ => false,
    };
    if entry.replaced.iter().any(|r| r == rv) || older_generation { Verdict::Ours } else { Verdict::Cached }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn object(name: &str, rv: &str, generation: Option<i64>) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c.metadata.resource_version = Some(rv.into());
        c.metadata.generation = generation;
        c
    }

    fn rv(o: &Option<Arc<ConfigMap>>) -> Option<String> {
        o.as_ref().and_then(|o| o.metadata.resource_version.clone())
    }

    #[test]
    fn a_cache_behind_our_write_yields_the_write_until_it_catches_up() {
        let own = OwnWrites::default();
        own.wrote(&["1".into()], object("a", "2", None));
        own.wrote(&["2".into()], object("a", "3", None));
        // The cache still shows the version we read, or the one our first write produced.
        assert_eq!(rv(&own.latest(Arc::new(object("a", "1", None)))), Some("3".into()));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "2", None)))), Some("3".into()));
        // Caught up: the cache is used, and the entry is gone.
        assert_eq!(rv(&own.latest(Arc::new(object("a", "3", None)))), Some("3".into()));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "1", None)))), Some("1".into()));
    }

    #[test]
    fn a_version_written_over_after_a_conflict_is_behind_too() {
        let own = OwnWrites::default();
        // Our status was computed on "1", another writer's annotation made "2", our write was
        // retried on "2" and stored "3": a cache showing "2" has the annotation, not our status.
        own.wrote(&["1".into(), "2".into()], object("a", "3", None));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "2", None)))), Some("3".into()));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "4", None)))), Some("4".into()));
    }

    #[test]
    fn another_writers_newer_version_wins() {
        let own = OwnWrites::default();
        own.wrote(&["1".into()], object("a", "2", None));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "7", None)))), Some("7".into()));
    }

    #[test]
    fn an_older_generation_is_behind_even_at_an_unknown_version() {
        let own = OwnWrites::default();
        // An unconditional spec write applied on top of another writer's status update ("5").
        own.wrote(&["4".into()], object("a", "6", Some(3)));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "5", Some(2))))), Some("6".into()));
        assert_eq!(rv(&own.latest(Arc::new(object("a", "8", Some(3))))), Some("8".into()));
    }

    #[test]
    fn created_objects_join_the_list_and_deleted_ones_leave_it() {
        let own = OwnWrites::default();
        own.wrote(&[], object("new", "9", Some(1)));
        let old = Arc::new(object("old", "3", Some(1)));
        own.deleted(&old);
        let names = |v: Vec<Arc<ConfigMap>>| {
            let mut n: Vec<String> = v.iter().map(|o| o.name_any()).collect();
            n.sort();
            n
        };
        let listed = own.merge("ns", vec![old.clone()], |_| true);
        assert_eq!(names(listed), vec!["new"]);
        // Another namespace's list does not see it.
        assert!(own.merge("other", vec![], |_| true).is_empty());
        // Once the cache shows the creation, the creation is forgotten; the deleted object stays
        // out of the list while a stale cache still shows it.
        let listed = own.merge("ns", vec![Arc::new(object("new", "9", Some(1))), old], |_| true);
        assert_eq!(names(listed), vec!["new"]);
        assert_eq!(own.lock().by_key.len(), 1);
    }

    #[test]
    fn a_recreated_object_of_the_same_name_is_not_ours() {
        let own = OwnWrites::default();
        own.wrote(&["1".into()], object("a", "2", None));
        let mut recreated = object("a", "1", None);
        recreated.metadata.uid = Some("another".into());
        assert_eq!(own.latest(Arc::new(recreated)).and_then(|o| o.metadata.uid.clone()), Some("another".into()));
    }
}
