//! Events, recorded off the reconcile path, as client-go's recorder does for Argo.
//!
//! A reconcile hands its Events to a queue and goes on; background workers write them
//! (`events.k8s.io/v1`). A repeat of the same Event (object, type, reason and note) within
//! [`SERIES_TTL`] is folded into the first one's series (its count and last time patched), as
//! client-go's correlator folds repeats into a count. Each object's Events are written by one
//! worker, in the order they were recorded; objects are spread over [`WORKERS`] workers so that
//! one slow write does not hold every other object's Events back.
//!
//! An Event carries the time it was recorded, not the time it was written: under load Events
//! wait for the reconciles' requests (see `throttle.rs`), and a late write must not move what
//! `kubectl describe` shows as when it happened.
//!
//! Events are for people: one that cannot be written is logged, never retried and never
//! fatal. The queue is bounded; past [`QUEUE`] waiting Events (an API server that stopped
//! answering, or thousands of Rollouts changing at once while Events give way) new ones are
//! dropped, as client-go's recorder drops past its 1,000, but counted: the counter
//! `aviary_events_dropped_total`, and a warning naming the first dropped and then at most one
//! every [`DROP_WARNING_EVERY`] with how many since. A waiting Event is held packed
//! ([`Queued`], about a third of a decoded one's memory), since at that scale the queue is what
//! the controller holds most of.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

/// How long a repeat is folded into the first Event's series (kube's and client-go's figure).
pub const SERIES_TTL: Duration = Duration::from_secs(6 * 60);
/// Writers of Events; an object's Events always go to the same one.
pub const WORKERS: usize = 4;
/// Events waiting to be written, per worker, before new ones are dropped.
pub const QUEUE: usize = 4096;
/// At most one warning about dropped Events this often (the counter counts every one).
pub const DROP_WARNING_EVERY: Duration = Duration::from_secs(10);
/// Past this many remembered series per worker, those past their time are forgotten (all of
/// them when that is not enough: a repeat then starts a new Event).
const MAX_SERIES: usize = 4096;

/// Who reports the Events.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// `reportingController`.
    pub controller: String,
    /// `reportingInstance` (the pod's name when known).
    pub instance: String,
}

/// One Event to record.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The object it is about.
    pub regarding: ObjectReference,
    /// Warning or Normal.
    pub warning: bool,
    /// Its reason (also its action, as Argo's).
    pub reason: String,
    /// What happened, for people.
    pub note: String,
}

/// An Event waiting to be written, packed: the object reference's seven optional strings in one
/// allocation, the reason and the note in one each, and the time it was recorded.
#[derive(Debug, Clone, PartialEq)]
struct Queued {
    /// `apiVersion`, `kind`, `namespace`, `name`, `uid`, `resourceVersion`, `fieldPath`, each
    /// followed by [`SEPARATOR`] (absent and empty alike: the API server stores neither).
    regarding: Box<str>,
    reason: Box<str>,
    note: Box<str>,
    warning: bool,
    at: Timestamp,
}

/// Ends each field of [`Queued::regarding`]; no Kubernetes name, kind or path contains it.
const SEPARATOR: char = '\u{1f}';

impl Queued {
    fn pack(recorded: Recorded, at: Timestamp) -> Self {
        let r = &recorded.regarding;
        let fields = [&r.api_version, &r.kind, &r.namespace, &r.name, &r.uid, &r.resource_version, &r.field_path];
        let capacity =
            fields.iter().map(|f| f.as_deref().map_or(1, |v| v.len().saturating_add(1))).fold(0, usize::saturating_add);
        let mut regarding = String::with_capacity(capacity);
        for f in fields {
            regarding.push_str(f.as_deref().unwrap_or_default());
            regarding.push(SEPARATOR);
        }
        Self {
            regarding: regarding.into_boxed_str(),
            reason: recorded.reason.into_boxed_str(),
            note: recorded.note.into_boxed_str(),
            warning: recorded.warning,
            at,
        }
    }

    fn unpack(&self) -> Recorded {
        let mut f = self.regarding.split(SEPARATOR).map(|v| (!v.is_empty()).then(|| v.to_string()));
        let mut next = || f.next().flatten();
        let regarding = ObjectReference {
            api_version: next(),
            kind: next(),
            namespace: next(),
            name: next(),
            uid: next(),
            resource_version: next(),
            field_path: next(),
        };
        Recorded { regarding, warning: self.warning, reason: self.reason.to_string(), note: self.note.to_string() }
    }
}

/// Dropped Events: counted, and warned about without a line for each.
struct Drops {
    counter: Counter,
    /// When the last warning was logged, and how many were dropped since.
    since_warning: Mutex<(Option<Instant>, u64)>,
}

impl Drops {
    fn drop_event(&self, event: &Recorded) {
        self.counter.inc();
        let mut guard = self.since_warning.lock().unwrap_or_else(|p| p.into_inner());
        let (last, count) = &mut *guard;
        *count = count.saturating_add(1);
        let now = Instant::now();
        if last.is_none_or(|at| now.duration_since(at) >= DROP_WARNING_EVERY) {
            tracing::warn!(
                dropped = *count,
                object = event.regarding.name.as_deref().unwrap_or_default(),
                reason = %event.reason,
                "events dropped: {QUEUE} per writer are waiting to be written; this one and {} more since the last warning (aviary_events_dropped_total counts them all)",
                count.saturating_sub(1)
            );
            *last = Some(now);
            *count = 0;
        }
    }
}

/// The queue of Events and its workers (started at the first Event, on the caller's runtime).
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    senders: OnceLock<Vec<mpsc::Sender<Queued>>>,
    drops: Drops,
}

impl Recorder {
    /// A recorder writing with `client` as `reporter`, counting the Events it drops in `dropped`.
    pub fn new(client: Client, reporter: Reporter, dropped: Counter) -> Self {
        let drops = Drops { counter: dropped, since_warning: Mutex::new((None, 0)) };
        Self { client, reporter, senders: OnceLock::new(), drops }
    }

    /// Queues an Event; returns at once.
    pub fn record(&self, event: Recorded) {
        let senders = self.senders.get_or_init(|| {
            (0..WORKERS)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(work(self.client.clone(), self.reporter.clone(), rx));
                    tx
                })
                .collect()
        });
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&event.regarding.namespace, &event.regarding.name, &event.regarding.kind).hash(&mut hasher);
        let len = u64::try_from(senders.len()).unwrap_or(1);
        let index = usize::try_from(hasher.finish().checked_rem(len).unwrap_or(0)).unwrap_or(0);
        let Some(sender) = senders.get(index) else { return };
        match sender.try_reserve() {
            Ok(permit) => permit.send(Queued::pack(event, Timestamp::now())),
            Err(_) => self.drops.drop_event(&event),
        }
    }
}

/// What identifies a repeat: the object, the type, the reason and the note, hashed (thousands of
/// series are remembered at once; a hash is all a lookup needs).
fn series_key(recorded: &Recorded) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let r = &recorded.regarding;
    (&r.uid, &r.namespace, &r.name, &r.kind, recorded.warning, &recorded.reason, &recorded.note).hash(&mut hasher);
    hasher.finish()
}

/// A written Event: its name, its count so far and when it was last seen.
struct Series {
    name: String,
    count: i32,
    last: Instant,
}

async fn work(client: Client, reporter: Reporter, mut queue: mpsc::Receiver<Queued>) {
    let mut series: HashMap<u64, Series> = HashMap::new();
    let mut pruned = Instant::now();
    while let Some(queued) = queue.recv().await {
        let (recorded, recorded_at) = (queued.unpack(), queued.at);
        let now = Instant::now();
        if now.duration_since(pruned) > Duration::from_secs(60) || series.len() >= MAX_SERIES {
            series.retain(|_, s| now.duration_since(s.last) < SERIES_TTL);
            if series.len() >= MAX_SERIES {
                series.clear();
            }
            pruned = now;
        }
        let key = series_key(&recorded);
        let namespace = recorded.regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        let at = MicroTime(recorded_at);
        let result = match series.get_mut(&key).filter(|s| now.duration_since(s.last) < SERIES_TTL) {
            Some(s) => {
                s.count = s.count.saturating_add(1);
                s.last = now;
                let patch = serde_json::json!({"series": EventSeries { count: s.count, last_observed_time: at }});
                api.patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
            }
            None => {
                let event = new_event(&reporter, &recorded, at);
                let result = api.create(&PostParams::default(), &event).await;
                if let Ok(created) = &result {
                    let name = created.metadata.name.clone().unwrap_or_default();
                    series.insert(key, Series { name, count: 1, last: now });
                }
                result.map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::warn!(
                object = recorded.regarding.name.as_deref().unwrap_or_default(),
                reason = %recorded.reason,
                "cannot record event: {e}"
            );
        }
    }
}

fn new_event(reporter: &Reporter, recorded: &Recorded, at: MicroTime) -> Event {
    let name = recorded.regarding.name.as_deref().unwrap_or(&reporter.controller);
    Event {
        action: Some(recorded.reason.clone()),
        reason: Some(recorded.reason.clone()),
        event_time: Some(at.clone()),
        regarding: Some(recorded.regarding.clone()),
        note: Some(recorded.note.clone()),
        metadata: ObjectMeta {
            namespace: recorded.regarding.namespace.clone(),
            name: Some(format!("{name}.{:x}", at.0.as_nanosecond())),
            ..Default::default()
        },
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(reporter.instance.clone()),
        type_: Some(if recorded.warning { "Warning" } else { "Normal" }.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(namespace: Option<&str>, field_path: Option<&str>) -> Recorded {
        Recorded {
            regarding: ObjectReference {
                api_version: Some("argoproj.io/v1alpha1".into()),
                kind: Some("Rollout".into()),
                namespace: namespace.map(Into::into),
                name: Some("checkout".into()),
                uid: Some("6f1c6c55-0c1e-4a39-9d0e-6c0f0b6f2b7e".into()),
                resource_version: Some("4711".into()),
                field_path: field_path.map(Into::into),
            },
            warning: true,
            reason: "RolloutAborted".into(),
            note: "Rollout aborted update to revision 2: metric \"error-rate\" assessed Failed".into(),
        }
    }

    #[test]
    fn a_packed_event_unpacks_to_the_event_recorded() {
        for (namespace, field_path) in [(Some("shop"), None), (None, Some("spec.containers{app}")), (None, None)] {
            let event = recorded(namespace, field_path);
            let at = Timestamp::from_second(1_764_000_000).expect("a time");
            let queued = Queued::pack(event.clone(), at);
            let back = queued.unpack();
            assert_eq!(back.regarding, event.regarding);
            assert_eq!((back.warning, back.reason, back.note), (event.warning, event.reason, event.note));
            assert_eq!(queued.at, at);
        }
    }

    #[test]
    fn a_packed_event_is_smaller_than_the_event() {
        // What a waiting Event holds inline; its strings are as long either way, in 3
        // allocations instead of 9.
        assert!(std::mem::size_of::<Queued>() * 2 < std::mem::size_of::<(Recorded, Timestamp)>());
    }

    #[test]
    fn every_dropped_event_is_counted_and_warned_about_at_most_once_a_while() {
        let drops = Drops { counter: Counter::default(), since_warning: Mutex::new((None, 0)) };
        let event = recorded(Some("shop"), None);
        for _ in 0..1000 {
            drops.drop_event(&event);
        }
        assert_eq!(drops.counter.get(), 1000);
        // The first was warned about at once; the 999 after it wait for the next warning.
        let (last, since) = *drops.since_warning.lock().unwrap();
        assert!(last.is_some());
        assert_eq!(since, 999);
    }
}
