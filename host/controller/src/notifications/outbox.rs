//! The notifications a Rollout has been promised, kept on the Rollout itself (annotation
//! [`ANNOTATION`]) so that a restart or a failover neither loses nor repeats one.
//!
//! Each notification goes through two recorded states: `pending` (decided: the trigger fired
//! for these destinations) and `sending` (about to be handed to the notifier), each written
//! before the next step is taken. A controller that stops with an entry `pending` never started
//! to send it: the next leader sends it. One that stops with an entry `sending` may have
//! delivered it: the next leader does not send it again (as Argo, which never sends twice) and
//! says so in its log. An entry is removed once sent (or failed, which is an Event and a metric).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::subscriptions::Destination;

/// The annotation holding the outbox (a JSON list of [`Entry`]).
pub const ANNOTATION: &str = "notifications.aviary.dev/outbox";

/// How many entries an outbox keeps; past it the oldest are dropped (with a log line), so a
/// Rollout's metadata stays small whatever happens to its notifier.
pub const MAX_ENTRIES: usize = 32;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Decided, not handed to a notifier yet.
    Pending,
    /// Being handed to its notifiers.
    Sending,
}

/// One send: a destination and the templates of the trigger's condition that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Send {
    /// Where to.
    #[serde(flatten)]
    pub destination: Destination,
    /// The templates, merged in order.
    pub templates: Vec<String>,
    /// The namespace whose configuration defines the service and templates (empty: the
    /// controller's; another with self-service notifications: the Rollout's).
    #[serde(default, rename = "configNamespace", skip_serializing_if = "String::is_empty")]
    pub config_namespace: String,
}

/// One Event's notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Unique within the Rollout.
    pub id: String,
    /// The Event's reason.
    pub reason: String,
    /// The trigger it fired.
    pub trigger: String,
    /// Whether the Event was a Warning.
    #[serde(default)]
    pub warning: bool,
    /// When the Event was recorded.
    pub at: DateTime<Utc>,
    /// Where it stands.
    pub state: State,
    /// What to send.
    pub sends: Vec<Send>,
}

/// Reads an outbox; one that does not parse is empty (and logged).
pub fn read(annotations: &std::collections::BTreeMap<String, String>) -> Vec<Entry> {
    let Some(text) = annotations.get(ANNOTATION) else { return Vec::new() };
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::warn!("the {ANNOTATION} annotation does not parse ({e}); treated as empty");
        Vec::new()
    })
}

/// The annotation's new value: `None` removes it.
pub fn write(entries: &[Entry]) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let start = entries.len().saturating_sub(MAX_ENTRIES);
    serde_json::to_string(entries.get(start..).unwrap_or_default()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_round_trips_and_stays_bounded() {
        let entry = |i: usize| Entry {
            id: format!("e{i}"),
            reason: "RolloutCompleted".into(),
            trigger: "on-rollout-completed".into(),
            warning: false,
            at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            state: State::Pending,
            sends: vec![Send {
                destination: Destination { service: "hook".into(), recipient: String::new() },
                templates: vec!["rollout-completed".into()],
                config_namespace: String::new(),
            }],
        };
        let all: Vec<Entry> = (0..40).map(entry).collect();
        let text = write(&all).unwrap_or_default();
        let annotations = [(ANNOTATION.to_string(), text)].into();
        let back = read(&annotations);
        assert_eq!(back.len(), MAX_ENTRIES);
        assert_eq!(back.first().map(|e| e.id.as_str()), Some("e8"), "the oldest are dropped");
        assert_eq!(back.last(), all.last());
        assert!(write(&[]).is_none());
        assert!(read(&[(ANNOTATION.to_string(), "nope".to_string())].into()).is_empty());
    }
}
