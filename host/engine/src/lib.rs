//! Argo Rollouts' decisions as pure functions: no I/O, no async, no clock.
//!
//! The controller observes the cluster, builds the inputs (the parsed objects, summaries of the
//! ReplicaSets it sees, and `now`), asks this crate what to do, and applies the answer. The CLI's
//! `plan` and `replay` commands call the very same functions, so what they print is what the
//! controller would do. Every function here is a port of a named Argo function and carries the
//! reference rows (`B1`..`B16`, `T1`.., `D1`.., `A1`.., `R1`.., `S1`..) as tests.
//!
//! Map of the crate:
//! - [`fenceposts`]: maxSurge / maxUnavailable resolution (reference §2.1).
//! - [`weight`]: the desired canary weight or replica count (§2.2).
//! - [`canary::basic`], [`canary::traffic`]: target replica counts (§2.3, §2.4).
//! - [`steps`]: step completion and the replica progress threshold.
//! - [`bluegreen`]: blue-green replica counts and promotion.
//! - [`ephemeral`]: the role labels and annotations of canary/stable (preview/active) pods.
//! - [`phase`]: the rollout phase and message (§1.4).
//! - [`reconcile_order`]: the one-ReplicaSet-per-reconcile scaling order.
//! - [`rollout`]: one whole canary reconcile decided (status, conditions, events, scaling).
//! - [`analysis`]: measurements, metric and run assessment, scheduling, retention, arguments (§3).
//! - [`plan`], [`replay`]: whole-rollout walks and analysis replays for the CLI.

// No panic reachable from input (plugin answers, object content, API responses): see
// docs/plugin-boundary.md. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod affinity;
pub mod analysis;
pub mod bluegreen;
pub mod canary;
pub mod clock;
pub mod conditions;
pub mod ephemeral;
pub mod error;
pub mod experiment;
pub mod fenceposts;
pub mod observed;
pub mod phase;
pub mod plan;
pub mod reconcile_order;
pub mod replay;
pub mod rollout;
pub mod step_plugin;
pub mod steps;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod weight;

pub use error::EngineError;
pub use observed::{ObservedReplicaSets, ReplicaSetState};
