//! What the controller observed: a summary of each ReplicaSet the rollout owns.
//!
//! The engine never sees Kubernetes objects other than Argo's kinds; the controller reduces each
//! ReplicaSet to the four numbers and the hash the decisions depend on.

use chrono::{DateTime, Utc};

/// One ReplicaSet, as far as the decisions are concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetState {
    /// Its `rollouts-pod-template-hash` (compared with `status.stableRS` and
    /// `status.currentPodHash`).
    pub pod_template_hash: String,
    /// `spec.replicas`.
    pub spec_replicas: i32,
    /// `status.replicas`: pods that exist.
    pub status_replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// The `scale-down-deadline` annotation, when the controller set one.
    pub scale_down_deadline: Option<DateTime<Utc>>,
    /// Its name (conditions and events name the new ReplicaSet).
    pub name: String,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `metadata.creationTimestamp`: a rollback window counts the ReplicaSets created between
    /// the new one and the stable one.
    pub created: Option<DateTime<Utc>>,
    /// It belongs to an Experiment (the `experiment-name` annotation): never counted as a
    /// revision of the rollout.
    pub from_experiment: bool,
    /// Its `rollout.argoproj.io/revision` (0 when absent or unreadable).
    pub revision: i64,
    /// It has a deletion timestamp: no longer counted in the revision history.
    pub deleting: bool,
    /// `status.observedGeneration` ≥ `metadata.generation`: its status describes its spec, so a
    /// status of no pods can be trusted when deciding to delete it.
    pub caught_up: bool,
    /// Its `rollout.argoproj.io/desired-replicas` annotation: the Rollout's `spec.replicas` when
    /// it was last scaled (blue-green's saturation check needs it to match).
    pub desired_replicas: Option<i32>,
}

impl ReplicaSetState {
    /// A ReplicaSet whose pods are all created and available.
    pub fn ready(hash: impl Into<String>, replicas: i32) -> Self {
        ReplicaSetState {
            pod_template_hash: hash.into(),
            spec_replicas: replicas,
            status_replicas: replicas,
            available: replicas,
            ready: replicas,
            ..Default::default()
        }
    }

    /// A ReplicaSet with explicit spec and available counts (status replicas = spec).
    pub fn new(hash: impl Into<String>, spec: i32, available: i32) -> Self {
        ReplicaSetState {
            pod_template_hash: hash.into(),
            spec_replicas: spec,
            status_replicas: spec,
            available,
            ready: available,
            ..Default::default()
        }
    }
}

/// The ReplicaSets of one rollout, sorted into the roles the decisions use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedReplicaSets {
    /// The ReplicaSet of the current pod template (the canary, or the blue-green preview).
    pub new_rs: Option<ReplicaSetState>,
    /// The ReplicaSet whose hash is `status.stableRS`; may be the same as `new_rs`.
    pub stable_rs: Option<ReplicaSetState>,
    /// Every other ReplicaSet, newest first.
    pub older: Vec<ReplicaSetState>,
}

impl ObservedReplicaSets {
    /// Argo's `CheckStableRSExists`: a stable ReplicaSet exists and is not the new one.
    pub fn stable_exists(&self) -> bool {
        match (&self.stable_rs, &self.new_rs) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(n)) => s.pod_template_hash != n.pod_template_hash,
        }
    }

    /// The stable ReplicaSet when it is distinct from the new one.
    pub fn distinct_stable(&self) -> Option<&ReplicaSetState> {
        if self.stable_exists() { self.stable_rs.as_ref() } else { None }
    }

    /// Σ spec replicas of every ReplicaSet (the stable counted once).
    pub fn total_spec(&self) -> i32 {
        self.sum(|r| r.spec_replicas)
    }

    /// Σ available pods of every ReplicaSet (the stable counted once).
    pub fn total_available(&self) -> i32 {
        self.sum(|r| r.available)
    }

    /// Every ReplicaSet once: the new one, the stable one when distinct, the older ones.
    pub fn all(&self) -> impl Iterator<Item = &ReplicaSetState> {
        self.new_rs.iter().chain(self.distinct_stable()).chain(&self.older)
    }

    /// The ReplicaSet an action names, to change it (a simulated cluster applying a decision).
    pub fn role_mut(&mut self, which: crate::reconcile_order::ReplicaSetRole) -> Option<&mut ReplicaSetState> {
        use crate::reconcile_order::ReplicaSetRole;
        match which {
            ReplicaSetRole::Stable => self.stable_rs.as_mut(),
            ReplicaSetRole::Canary => self.new_rs.as_mut(),
            ReplicaSetRole::Older(i) => self.older.get_mut(i),
        }
    }

    /// Σ `field` over every ReplicaSet (the stable counted once), saturating.
    pub fn sum(&self, field: impl Fn(&ReplicaSetState) -> i32) -> i32 {
        self.all().map(field).fold(0, i32::saturating_add)
    }
}
