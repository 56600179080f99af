//! Revisions: which annotations the new ReplicaSet must carry (Argo's
//! `syncReplicaSetRevision` and `copyRolloutAnnotationsToReplicaSet`), and which old ReplicaSets
//! the revision history no longer keeps (Argo's `cleanupRollouts`).

use std::collections::BTreeMap;

use crate::observed::ReplicaSetState;

/// The revision of a ReplicaSet (and of the Rollout: its newest).
pub const REVISION: &str = "rollout.argoproj.io/revision";
/// The revisions a ReplicaSet had before a rollback made it the newest again.
pub const REVISION_HISTORY: &str = "rollout.argoproj.io/revision-history";
/// `spec.replicas` of the Rollout when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "rollout.argoproj.io/desired-replicas";

/// Rollout annotations that are not copied to its ReplicaSets (Argo's `annotationsToSkip`).
const NOT_COPIED: [&str; 5] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    "notified.notifications.argoproj.io",
];

/// The Rollout's annotations a ReplicaSet carries (Argo's `copyRolloutAnnotationsToReplicaSet`).
pub fn copied_annotations(rollout_annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    rollout_annotations
        .iter()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What the new ReplicaSet's annotations need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnnotationSync {
    /// Its revision annotation is not a number: Argo leaves the ReplicaSet and the Rollout's
    /// revision alone.
    Unreadable,
    /// These annotations change (`None` removes one); empty when it is up to date.
    Write(BTreeMap<String, Option<String>>),
}

/// Argo's `syncReplicaSetRevision` for an existing new ReplicaSet: it carries the Rollout's
/// annotations and a revision above every other ReplicaSet's (`max_old_revision`); a rollback
/// to an older ReplicaSet makes it the newest again and keeps its earlier revisions in
/// `rollout.argoproj.io/revision-history`.
pub fn sync_annotations(
    current: &BTreeMap<String, String>,
    rollout_annotations: &BTreeMap<String, String>,
    max_old_revision: i64,
) -> AnnotationSync {
    let next = max_old_revision.saturating_add(1);
    let mut write: BTreeMap<String, Option<String>> = copied_annotations(rollout_annotations)
        .into_iter()
        .filter(|(k, v)| current.get(k) != Some(v))
        .map(|(k, v)| (k, Some(v)))
        .collect();
    let old = current.get(REVISION);
    let old_rev: i64 = match old.map(|o| o.parse::<i64>()) {
        Some(Ok(r)) => r,
        Some(Err(_)) => return AnnotationSync::Unreadable,
        None => 0,
    };
    if old_rev < next {
        write.insert(REVISION.into(), Some(next.to_string()));
    }
    if let Some(old) = old
        && !write.is_empty()
    {
        let history = match current.get(REVISION_HISTORY).map(String::as_str) {
            None | Some("") => old.clone(),
            Some(h) => format!("{h},{old}"),
        };
        write.insert(REVISION_HISTORY.into(), Some(history));
    }
    AnnotationSync::Write(write)
}

/// Argo's `cleanupRollouts`: of the old ReplicaSets (neither new nor stable), keeps at most
/// `limit` that are not being deleted and returns the oldest of the rest that may go: no pods
/// wanted or left, and a status that has caught up with its spec.
pub fn history_to_delete(older: &[ReplicaSetState], limit: i32) -> Vec<&ReplicaSetState> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut alive: Vec<&ReplicaSetState> = older.iter().filter(|r| !r.deleting).collect();
    if alive.len() <= limit {
        return Vec::new();
    }
    alive.sort_by_key(|r| r.revision);
    let excess = alive.len().saturating_sub(limit);
    alive.into_iter().take(excess).filter(|r| r.spec_replicas == 0 && r.status_replicas == 0 && r.caught_up).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn write(pairs: &[(&str, &str)]) -> AnnotationSync {
        AnnotationSync::Write(pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect())
    }

    #[test]
    fn copied_annotations_skip_argo_bookkeeping() {
        let ro = map(&[
            ("team", "a"),
            (REVISION, "3"),
            (REVISION_HISTORY, "1"),
            (DESIRED_REPLICAS, "5"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ("notified.notifications.argoproj.io", "x"),
        ]);
        assert_eq!(copied_annotations(&ro), map(&[("team", "a")]));
    }

    #[test]
    fn a_new_replica_set_gets_the_next_revision() {
        assert_eq!(sync_annotations(&map(&[]), &map(&[]), 2), write(&[(REVISION, "3")]));
    }

    #[test]
    fn an_up_to_date_replica_set_needs_nothing() {
        let current = map(&[(REVISION, "3"), ("team", "a")]);
        assert_eq!(sync_annotations(&current, &map(&[("team", "a")]), 2), write(&[]));
    }

    #[test]
    fn a_rollback_makes_the_old_replica_set_newest_and_keeps_its_history() {
        let current = map(&[(REVISION, "1")]);
        assert_eq!(sync_annotations(&current, &map(&[]), 2), write(&[(REVISION, "3"), (REVISION_HISTORY, "1")]));
        let again = map(&[(REVISION, "3"), (REVISION_HISTORY, "1")]);
        assert_eq!(sync_annotations(&again, &map(&[]), 4), write(&[(REVISION, "5"), (REVISION_HISTORY, "1,3")]));
    }

    #[test]
    fn a_changed_rollout_annotation_is_copied_and_records_the_revision_in_history() {
        // Argo appends the current revision to the history whenever it writes annotations.
        let current = map(&[(REVISION, "3"), ("team", "a")]);
        assert_eq!(
            sync_annotations(&current, &map(&[("team", "b")]), 2),
            write(&[("team", "b"), (REVISION_HISTORY, "3")])
        );
    }

    #[test]
    fn an_unreadable_revision_is_left_alone() {
        assert_eq!(sync_annotations(&map(&[(REVISION, "x")]), &map(&[]), 2), AnnotationSync::Unreadable);
    }

    fn old(name: &str, revision: i64, spec: i32, status: i32) -> ReplicaSetState {
        ReplicaSetState {
            name: name.into(),
            revision,
            spec_replicas: spec,
            status_replicas: status,
            caught_up: true,
            ..Default::default()
        }
    }

    fn names(v: Vec<&ReplicaSetState>) -> Vec<&str> {
        v.into_iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn history_keeps_the_limit_and_deletes_the_oldest_empty_ones() {
        let older = [old("r3", 3, 0, 0), old("r1", 1, 0, 0), old("r2", 2, 0, 0)];
        assert_eq!(names(history_to_delete(&older, 1)), ["r1", "r2"]);
        assert_eq!(names(history_to_delete(&older, 3)), Vec::<&str>::new());
        assert_eq!(names(history_to_delete(&older, 0)), ["r1", "r2", "r3"]);
    }

    #[test]
    fn history_spares_replica_sets_with_pods_or_a_stale_status() {
        let mut stale = old("r2", 2, 0, 0);
        stale.caught_up = false;
        let older = [old("r1", 1, 1, 1), stale, old("r3", 3, 0, 1), old("r4", 4, 0, 0)];
        // Three must go (limit 1) but none of the three oldest may: they still have pods, or
        // their status has not caught up.
        assert_eq!(names(history_to_delete(&older, 1)), Vec::<&str>::new());
    }

    #[test]
    fn replica_sets_being_deleted_do_not_count_against_the_limit() {
        let mut going = old("r1", 1, 0, 0);
        going.deleting = true;
        let older = [going, old("r2", 2, 0, 0)];
        assert_eq!(names(history_to_delete(&older, 1)), Vec::<&str>::new());
    }
}
