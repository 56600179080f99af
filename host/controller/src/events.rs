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
//! fatal. The queue is bounded; past [`QUEUE`] waiting Events (an API server
//! that stopped answering) new ones are dropped with a warning naming them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::mpsc;

/// How long a repeat is folded into the first Event's series (kube's and client-go's figure).
pub const SERIES_TTL: Duration = Duration::from_secs(6 * 60);
/// Writers of Events; an object's Events always go to the same one.
pub const WORKERS: usize = 4;
/// Events waiting to be written, per worker, before new ones are dropped.
pub const QUEUE: usize = 4096;
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

/// The queue of Events and its workers (started at the first Event, on the caller's runtime).
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    senders: OnceLock<Vec<mpsc::Sender<(Recorded, Timestamp)>>>,
}

impl Recorder {
    /// A recorder writing with `client` as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self { client, reporter, senders: OnceLock::new() }
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
        if let Err(e) = sender.try_send((event, Timestamp::now())) {
            let (event, _) = match e {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
            };
            tracing::warn!(
                object = event.regarding.name.as_deref().unwrap_or_default(),
                reason = %event.reason,
                note = %event.note,
                "event dropped: {QUEUE} events are waiting to be written"
            );
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

async fn work(client: Client, reporter: Reporter, mut queue: mpsc::Receiver<(Recorded, Timestamp)>) {
    let mut series: HashMap<u64, Series> = HashMap::new();
    let mut pruned = Instant::now();
    while let Some((recorded, recorded_at)) = queue.recv().await {
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
