//! Which cached objects each controller owns, kept as the watch delivers them.
//!
//! A reconcile needs its Rollout's ReplicaSets, AnalysisRuns and Experiments. Found by scanning
//! the whole cache, that is a walk over every ReplicaSet in the cluster for each reconcile:
//! quadratic in the number of Rollouts (at 1,000 canaries, 2,000 ReplicaSets walked per
//! reconcile, about 3% of the controller's CPU in an update; at 10,000 it would dominate). This
//! index maps a controller's uid to the names of the objects whose controlling owner reference
//! names it, updated from the same watch events the cache is built from, before the cache sees
//! them: an object in the cache is always in the index. A lookup reads the objects from the
//! cache and checks the owner again, so an entry the index still holds for a moment after a
//! deletion or an adoption is harmless.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use kube::Resource;
use kube::runtime::watcher;

/// An object's namespace and name.
type Key = (String, String);

#[derive(Default)]
struct Index {
    /// Owner uid → the objects it controls.
    owned: HashMap<String, HashSet<Key>>,
    /// Object → its controller's uid (to move it when the owner reference changes).
    owner: HashMap<Key, String>,
    /// The index being rebuilt during a re-list (`Init` .. `InitDone`), swapped in at its end
    /// like the cache's own buffer. Until then the old index keeps answering, together with the
    /// re-list's objects: nothing the cache holds is ever missing from it.
    relisting: Option<Box<Index>>,
}

impl Index {
    fn insert(&mut self, key: Key, owner: Option<String>) {
        if let Some(was) = self.owner.get(&key)
            && Some(was) != owner.as_ref()
        {
            let was = was.clone();
            self.remove_from(&was, &key);
        }
        match owner {
            Some(uid) => {
                self.owned.entry(uid.clone()).or_default().insert(key.clone());
                self.owner.insert(key, uid);
            }
            None => {
                self.owner.remove(&key);
            }
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(was) = self.owner.remove(key) {
            self.remove_from(&was, key);
        }
    }

    fn remove_from(&mut self, uid: &str, key: &Key) {
        if let Some(set) = self.owned.get_mut(uid) {
            set.remove(key);
            if set.is_empty() {
                self.owned.remove(uid);
            }
        }
    }
}

/// The index of one kind's objects by controlling owner (cheap to clone, shared).
#[derive(Clone, Default)]
pub struct OwnerIndex {
    inner: Arc<RwLock<Index>>,
}

impl OwnerIndex {
    /// Takes in a watch event; call it before the cache applies the same event.
    pub fn observe<K: Resource>(&self, event: &watcher::Event<K>) {
        let mut index = self.inner.write().unwrap_or_else(|p| p.into_inner());
        match event {
            watcher::Event::Apply(obj) => index.insert(key(obj), controller(obj)),
            watcher::Event::Delete(obj) => index.remove(&key(obj)),
            watcher::Event::Init => index.relisting = Some(Box::default()),
            watcher::Event::InitApply(obj) => {
                let (k, owner) = (key(obj), controller(obj));
                index.insert(k.clone(), owner.clone());
                if let Some(next) = index.relisting.as_mut() {
                    next.insert(k, owner);
                }
            }
            watcher::Event::InitDone => {
                if let Some(next) = index.relisting.take() {
                    *index = *next;
                }
            }
        }
    }

    /// The namespaces and names of the objects controlled by `uid`.
    pub fn owned_by(&self, uid: &str) -> Vec<Key> {
        let index = self.inner.read().unwrap_or_else(|p| p.into_inner());
        index.owned.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

fn key<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

fn controller<K: Resource>(obj: &K) -> Option<String> {
    obj.meta().owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| o.uid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn rs(name: &str, owner: Option<&str>) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                owner_references: owner
                    .map(|uid| vec![OwnerReference { controller: Some(true), uid: uid.into(), ..Default::default() }]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(index: &OwnerIndex, uid: &str) -> Vec<String> {
        let mut n: Vec<String> = index.owned_by(uid).into_iter().map(|(_, name)| name).collect();
        n.sort();
        n
    }

    #[test]
    fn objects_are_found_by_their_controller_and_follow_its_changes() {
        let index = OwnerIndex::default();
        index.observe(&watcher::Event::Apply(rs("a", Some("u1"))));
        index.observe(&watcher::Event::Apply(rs("b", Some("u1"))));
        index.observe(&watcher::Event::Apply(rs("c", Some("u2"))));
        index.observe(&watcher::Event::Apply(rs("orphan", None)));
        assert_eq!(names(&index, "u1"), ["a", "b"]);
        assert_eq!(names(&index, "u2"), ["c"]);
        // Adopted by another controller, orphaned, deleted.
        index.observe(&watcher::Event::Apply(rs("b", Some("u2"))));
        assert_eq!(names(&index, "u1"), ["a"]);
        assert_eq!(names(&index, "u2"), ["b", "c"]);
        index.observe(&watcher::Event::Apply(rs("c", None)));
        index.observe(&watcher::Event::Delete(rs("a", Some("u1"))));
        assert!(names(&index, "u1").is_empty());
        assert_eq!(names(&index, "u2"), ["b"]);
    }

    #[test]
    fn a_relist_keeps_answering_and_then_drops_what_is_gone() {
        let index = OwnerIndex::default();
        index.observe(&watcher::Event::Apply(rs("a", Some("u1"))));
        index.observe(&watcher::Event::Apply(rs("gone", Some("u1"))));
        index.observe(&watcher::Event::<ReplicaSet>::Init);
        index.observe(&watcher::Event::InitApply(rs("a", Some("u1"))));
        index.observe(&watcher::Event::InitApply(rs("new", Some("u1"))));
        // Mid re-list: the old entries still answer (the cache still holds them), new ones too.
        assert_eq!(names(&index, "u1"), ["a", "gone", "new"]);
        index.observe(&watcher::Event::<ReplicaSet>::InitDone);
        assert_eq!(names(&index, "u1"), ["a", "new"]);
    }
}
