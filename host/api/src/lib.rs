//! Argo Rollouts' `argoproj.io/v1alpha1` API as Rust types.
//!
//! Aviary is a drop-in replacement for the Argo Rollouts controller, so every manifest a user
//! already has must parse, validate and serialize exactly as Argo's Go types do. This crate holds:
//!
//! - the five kinds ([`Rollout`], [`AnalysisTemplate`], [`ClusterAnalysisTemplate`],
//!   [`AnalysisRun`], [`Experiment`]) with every spec and status field of Argo v1.8+, named as
//!   Argo's `json` tags name them;
//! - Argo's defaults, as accessor methods (`replicas_or_default()`, ...), so that serializing an
//!   object never writes a field the user did not write (Argo does not write defaults either);
//! - Argo's validation rules and messages ([`validation`]), returning a list of errors that each
//!   name the field, never panicking;
//! - the CustomResourceDefinitions generated from the types ([`crd`]), checked in under
//!   `deploy/crds/`.
//!
//! Everything here is data: the decisions live in `aviary-engine`.

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

pub mod analysis;
pub mod common;
pub mod crd;
pub mod duration;
pub mod error;
pub mod experiment;
pub mod gojson;
pub mod hash;
pub mod install;
pub mod quantity;
pub mod rollout;
pub mod rollout_status;
mod serde_util;
pub mod time;
pub mod validation;

pub use analysis::{
    AnalysisPhase, AnalysisRun, AnalysisRunSpec, AnalysisRunStatus, AnalysisTemplate, AnalysisTemplateSpec, Argument,
    ClusterAnalysisTemplate, ClusterAnalysisTemplateSpec, Measurement, Metric, MetricProvider, MetricResult,
    RunSummary,
};
pub use common::{AnalysisRunMetadata, DryRun, MeasurementRetention, PodTemplateMetadata};
pub use error::ApiError;
pub use experiment::{Experiment, ExperimentSpec, ExperimentStatus};
pub use rollout::{
    BlueGreenStrategy, CanaryStep, CanaryStrategy, Rollout, RolloutSpec, RolloutStrategy, RolloutTrafficRouting,
};
pub use rollout_status::{RolloutPhase, RolloutStatus, TrafficWeights};
pub use time::Time;

/// Re-exported so that users of this crate name the same `IntOrString` as the types do.
pub use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The API group of every kind in this crate.
pub const GROUP: &str = "argoproj.io";
/// The API version of every kind in this crate.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// Re-exported so that users of this crate build the embedded Kubernetes types (selectors, pod
/// templates) with the same version the types use.
pub use k8s_openapi;
