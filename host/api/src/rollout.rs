//! The Rollout kind: spec types for both strategies, and Argo's defaults as accessors.
//!
//! Field names follow Argo's Go `json` tags exactly; `omitempty` fields are skipped when empty so
//! that what we write back is what the user wrote. Defaults are never written into the object:
//! ask for them with the `*_or_default()` accessors.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    AnalysisRunMetadata, DryRun, MeasurementRetention, PodTemplateMetadata, embedded_object, plugin_map,
    preserve_unknown_object,
};
use crate::rollout_status::RolloutStatus;
use crate::serde_util::{is_default, is_false, is_zero_i32};
use crate::time::Time;

/// Argo's `DefaultReplicas`.
pub const DEFAULT_REPLICAS: i32 = 1;
/// Argo's `DefaultRevisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// Argo's `DefaultProgressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Argo's default `scaleDownDelaySeconds` (blue-green, and canary with traffic routing).
pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
/// Argo's default `abortScaleDownDelaySeconds`.
pub const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
/// Argo's default `maxTrafficWeight`.
pub const DEFAULT_MAX_TRAFFIC_WEIGHT: i32 = 100;
/// Argo's default `maxSurge` and `maxUnavailable`: the *string* "25", which Argo's resolver reads
/// as 25% (see `aviary_engine::fenceposts`).
pub const DEFAULT_MAX_SURGE_OR_UNAVAILABLE: &str = "25";
/// Argo's default `successfulRunHistoryLimit` and `unsuccessfulRunHistoryLimit`.
pub const DEFAULT_RUN_HISTORY_LIMIT: i32 = 5;
/// The label that ties ReplicaSets and pods to a pod template hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// The annotation holding when an old ReplicaSet is to be scaled down (Argo's, honoured across
/// controller restarts and controllers).
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";

/// The spec of a Rollout: a Deployment with canary or blue-green update strategies.
// kube's `printcolumn(...)` repeats `type_ = "integer"`, which clippy mistakes for a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "Rollout",
    plural = "rollouts",
    namespaced,
    status = "RolloutStatus",
    shortname = "ro",
    derive = "PartialEq",
    derive = "Default",
    doc = "Rollout is a specification for a Rollout resource",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.HPAReplicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Desired",
        type_ = "integer",
        json_path = ".spec.replicas",
        description = "Number of desired pods"
    ),
    printcolumn(
        name = "Current",
        type_ = "integer",
        json_path = ".status.replicas",
        description = "Total number of non-terminated pods targeted by this rollout"
    ),
    printcolumn(
        name = "Up-to-date",
        type_ = "integer",
        json_path = ".status.updatedReplicas",
        description = "Total number of non-terminated pods targeted by this rollout that have the desired template spec"
    ),
    printcolumn(
        name = "Available",
        type_ = "integer",
        json_path = ".status.availableReplicas",
        description = "Total number of available pods (ready for at least minReadySeconds) targeted by this rollout"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time since resource was created"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Number of desired pods; default 1 ([`RolloutSpec::replicas_or_default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Label selector for pods; required unless `workloadRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pods to create; empty when `workloadRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "embedded_object")]
    pub template: Option<PodTemplateSpec>,
    /// A Deployment whose pod template this Rollout uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<ObjectRef>,
    /// Seconds a pod must be ready before it counts as available.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub min_ready_seconds: i32,
    /// Rollbacks to a revision within this window skip the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindowSpec>,
    /// The update strategy: exactly one of `canary` and `blueGreen`.
    #[serde(default)]
    pub strategy: RolloutStrategy,
    /// Old ReplicaSets to keep; default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Manual pause: the rollout stays at its current step.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Seconds without progress before the rollout is Degraded; default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Abort the update when the progress deadline is exceeded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub progress_deadline_abort: bool,
    /// Restart every pod that started before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<Time>,
    /// How many finished AnalysisRuns and Experiments to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRunStrategy>,
}

impl RolloutSpec {
    /// `spec.replicas`, or Argo's default of 1.
    pub fn replicas_or_default(&self) -> i32 {
        self.replicas.unwrap_or(DEFAULT_REPLICAS)
    }

    /// `spec.revisionHistoryLimit`, or Argo's default of 10.
    pub fn revision_history_limit_or_default(&self) -> i32 {
        self.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
    }

    /// `spec.progressDeadlineSeconds`, or Argo's default of 600.
    pub fn progress_deadline_seconds_or_default(&self) -> i32 {
        self.progress_deadline_seconds.unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }

    /// The canary strategy, if this is a canary rollout.
    pub fn canary(&self) -> Option<&CanaryStrategy> {
        self.strategy.canary.as_ref()
    }

    /// The blue-green strategy, if this is a blue-green rollout.
    pub fn blue_green(&self) -> Option<&BlueGreenStrategy> {
        self.strategy.blue_green.as_ref()
    }
}

/// A reference to a workload (a Deployment) that provides the pod template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What to do with the referenced Deployment: `never`, `onsuccess` or `progressively`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scale_down: String,
}

/// The window in which a rollback is fast-tracked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackWindowSpec {
    /// Number of recent revisions within the window.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub revisions: i32,
}

/// History limits for AnalysisRuns and Experiments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStrategy {
    /// Successful runs to keep; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_run_history_limit: Option<i32>,
    /// Unsuccessful (Error, Failed, Inconclusive) runs to keep; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsuccessful_run_history_limit: Option<i32>,
}

/// The update strategy: exactly one of the two must be set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Blue-green: a full preview stack, then a service switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
    /// Canary: a gradual shift of pods and/or traffic, step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
}

/// The blue-green strategy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    /// The Service switched to the new pods on promotion.
    pub active_service: String,
    /// The Service that points at the new pods before promotion.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_service: String,
    /// Pods of the new version to run before promotion; full scale when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_replica_count: Option<i32>,
    /// Promote automatically once the preview is available; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_enabled: Option<bool>,
    /// Delay automatic promotion by this many seconds.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub auto_promotion_seconds: i32,
    /// Pods that may be unavailable during a restart; default 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Delay before scaling the previous ReplicaSet down; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// How many old ReplicaSets may wait on the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Analysis to run before the service switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    /// Anti-affinity injected between the two stacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Analysis to run after the service switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<RolloutAnalysis>,
    /// Metadata for pods while they are the preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_metadata: Option<PodTemplateMetadata>,
    /// Metadata for pods while they are active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_metadata: Option<PodTemplateMetadata>,
    /// Delay before scaling the preview down on abort; 0 never scales it down; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
}

impl BlueGreenStrategy {
    /// `autoPromotionEnabled`, default true.
    pub fn auto_promotion_enabled_or_default(&self) -> bool {
        self.auto_promotion_enabled.unwrap_or(true)
    }

    /// `scaleDownDelaySeconds`, default 30.
    pub fn scale_down_delay_seconds_or_default(&self) -> i32 {
        self.scale_down_delay_seconds.unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS)
    }

    /// `abortScaleDownDelaySeconds`, default 30.
    pub fn abort_scale_down_delay_seconds_or_default(&self) -> i32 {
        self.abort_scale_down_delay_seconds.unwrap_or(DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS)
    }
}

/// Which inter-pod anti-affinity rule to inject; exactly one must be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntiAffinity {
    /// A preferred rule with a weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_during_scheduling_ignored_during_execution: Option<PreferredDuringSchedulingIgnoredDuringExecution>,
    /// A required rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<RequiredDuringSchedulingIgnoredDuringExecution>,
}

/// The weight of a preferred anti-affinity rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferredDuringSchedulingIgnoredDuringExecution {
    /// 1 to 100.
    pub weight: i32,
}

/// A required anti-affinity rule (no parameters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequiredDuringSchedulingIgnoredDuringExecution {}

/// The canary strategy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    /// Service selecting only canary pods.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub canary_service: String,
    /// Service selecting only stable pods.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_service: String,
    /// The steps; none means straight to 100%.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CanaryStep>,
    /// Traffic routing; none means a basic canary (traffic follows pod counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<RolloutTrafficRouting>,
    /// Pods that may be unavailable; default the string "25" (25%), rounded down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Pods above `replicas` allowed; default the string "25" (25%), rounded up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Background analysis, running for the whole update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysisBackground>,
    /// Anti-affinity injected between canary and stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Metadata for canary pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_metadata: Option<PodTemplateMetadata>,
    /// Metadata for stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_metadata: Option<PodTemplateMetadata>,
    /// Delay before scaling the old stable down after promotion (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// How many old ReplicaSets may wait on the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Delay before scaling the canary down on abort; 0 never scales it down; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// Scale the stable down as traffic moves to the canary (traffic routing only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic_stable_scale: bool,
    /// Ping-pong services instead of stable/canary services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_pong: Option<PingPongSpec>,
    /// A non-zero count is raised to at least this (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pods_per_replica_set: Option<i32>,
    /// A step counts as done when this many canary pods are available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_progress_threshold: Option<ReplicaProgressThreshold>,
}

impl CanaryStrategy {
    /// `trafficRouting.maxTrafficWeight`, default 100: the scale every weight is measured on.
    pub fn max_traffic_weight(&self) -> i32 {
        self.traffic_routing.as_ref().and_then(|tr| tr.max_traffic_weight).unwrap_or(DEFAULT_MAX_TRAFFIC_WEIGHT)
    }

    /// `maxSurge`, or Argo's default: the string "25".
    pub fn max_surge_or_default(&self) -> IntOrString {
        self.max_surge.clone().unwrap_or_else(|| IntOrString::String(DEFAULT_MAX_SURGE_OR_UNAVAILABLE.to_string()))
    }

    /// `maxUnavailable`, or Argo's default: the string "25".
    pub fn max_unavailable_or_default(&self) -> IntOrString {
        self.max_unavailable
            .clone()
            .unwrap_or_else(|| IntOrString::String(DEFAULT_MAX_SURGE_OR_UNAVAILABLE.to_string()))
    }

    /// `abortScaleDownDelaySeconds` as Argo's `GetAbortScaleDownDelaySecondsOrDefault` reads it:
    /// `None` means "never scale down" (an explicit 0); otherwise the delay in seconds. Without
    /// traffic routing the canary is scaled down at once (`Some(0)`).
    pub fn abort_scale_down_delay(&self) -> Option<i32> {
        if self.traffic_routing.is_none() {
            return Some(0);
        }
        match self.abort_scale_down_delay_seconds {
            Some(0) => None,
            Some(s) => Some(s),
            None => Some(DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS),
        }
    }

    /// `scaleDownDelaySeconds`, default 30 with traffic routing and 0 without.
    pub fn scale_down_delay_seconds_or_default(&self) -> i32 {
        if self.traffic_routing.is_none() {
            return 0;
        }
        self.scale_down_delay_seconds.unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS)
    }
}

/// How many canary pods must be available for a step to count as done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaProgressThreshold {
    /// `Percent` (of the desired canary count) or `Pods` (an absolute count).
    #[serde(rename = "type")]
    pub type_: ReplicaProgressThresholdType,
    /// The percentage or the pod count.
    pub value: i32,
}

/// The unit of a [`ReplicaProgressThreshold`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReplicaProgressThresholdType {
    /// A percentage of the desired canary count.
    #[default]
    Percent,
    /// An absolute number of pods.
    Pods,
}

/// The ping and pong services of the ping-pong feature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PingPongSpec {
    /// Name of the ping service.
    pub ping_service: String,
    /// Name of the pong service.
    pub pong_service: String,
}

/// Traffic routing: which router(s) carry the canary weight.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutTrafficRouting {
    /// Istio VirtualService(s) and DestinationRule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio: Option<IstioTrafficRouting>,
    /// NGINX ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxTrafficRouting>,
    /// AWS ALB ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<AlbTrafficRouting>,
    /// SMI TrafficSplit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smi: Option<SmiTrafficRouting>,
    /// Ambassador mappings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambassador: Option<AmbassadorTrafficRouting>,
    /// AWS App Mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_mesh: Option<AppMeshTrafficRouting>,
    /// Traefik weighted service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traefik: Option<TraefikTrafficRouting>,
    /// Routes Argo manages (used by setHeaderRoute and setMirrorRoute), in precedence order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_routes: Vec<ManagedRoute>,
    /// Apache APISIX route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apisix: Option<ApisixTrafficRouting>,
    /// Traffic router plugins: plugin name to its raw config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "plugin_map")]
    pub plugins: BTreeMap<String, serde_json::Value>,
    /// The total every weight is measured against; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_traffic_weight: Option<i32>,
}

/// A route managed by Argo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManagedRoute {
    /// The route's name.
    pub name: String,
}

/// Traefik traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraefikTrafficRouting {
    /// The TraefikService that splits traffic.
    pub weighted_traefik_service_name: String,
}

/// APISIX traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApisixTrafficRouting {
    /// The ApisixRoute to modify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<ApisixRoute>,
}

/// An APISIX route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApisixRoute {
    /// The ApisixRoute's name.
    pub name: String,
    /// HTTP rules within it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// Ambassador traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmbassadorTrafficRouting {
    /// Mappings to route through.
    pub mappings: Vec<String>,
}

/// SMI traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmiTrafficRouting {
    /// The service clients use.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub root_service: String,
    /// The TrafficSplit's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub traffic_split_name: String,
}

/// NGINX traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NginxTrafficRouting {
    /// Annotation prefix; default `nginx.ingress.kubernetes.io`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotation_prefix: String,
    /// The stable Ingress.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_ingress: String,
    /// Extra annotations for the canary Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_ingress_annotations: BTreeMap<String, String>,
    /// Several stable Ingresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stable_ingresses: Vec<String>,
    /// Annotations for the canary Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub canary_ingress_annotations: BTreeMap<String, String>,
}

/// AWS ALB traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlbTrafficRouting {
    /// The Ingress.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ingress: String,
    /// The service port the action routes to.
    pub service_port: i32,
    /// The root service in the Ingress.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub root_service: String,
    /// Annotation prefix of the ALB controller.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotation_prefix: String,
    /// Target group stickiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness_config: Option<StickinessConfig>,
    /// Several Ingresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingresses: Vec<String>,
}

/// ALB target group stickiness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StickinessConfig {
    /// Whether stickiness is on.
    pub enabled: bool,
    /// How long it lasts.
    pub duration_seconds: i64,
}

/// Istio traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IstioTrafficRouting {
    /// One VirtualService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<IstioVirtualService>,
    /// The DestinationRule for subset-level splitting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_rule: Option<IstioDestinationRule>,
    /// Several VirtualServices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_services: Vec<IstioVirtualService>,
}

/// An Istio VirtualService to modify.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IstioVirtualService {
    /// Its name.
    pub name: String,
    /// HTTP routes to edit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// TLS routes to edit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_routes: Vec<TlsRoute>,
    /// TCP routes to edit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp_routes: Vec<TcpRoute>,
}

/// An Istio TLS route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsRoute {
    /// Port of the route.
    #[serde(default, skip_serializing_if = "crate::serde_util::is_zero_i64")]
    pub port: i64,
    /// SNI hosts of the route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sni_hosts: Vec<String>,
}

/// An Istio TCP route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpRoute {
    /// Port of the route.
    #[serde(default, skip_serializing_if = "crate::serde_util::is_zero_i64")]
    pub port: i64,
}

/// An Istio DestinationRule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IstioDestinationRule {
    /// Its name.
    pub name: String,
    /// The canary subset.
    pub canary_subset_name: String,
    /// The stable subset.
    pub stable_subset_name: String,
    /// Other subsets (experiments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_subset_names: Vec<String>,
}

/// AWS App Mesh traffic routing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppMeshTrafficRouting {
    /// The virtual service and router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<AppMeshVirtualService>,
    /// The virtual nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_node_group: Option<AppMeshVirtualNodeGroup>,
}

/// An App Mesh virtual service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppMeshVirtualService {
    /// Its name.
    pub name: String,
    /// Routes to edit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

/// App Mesh virtual nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppMeshVirtualNodeGroup {
    /// The canary's virtual node.
    pub canary_virtual_node_ref: Option<AppMeshVirtualNodeReference>,
    /// The stable's virtual node.
    pub stable_virtual_node_ref: Option<AppMeshVirtualNodeReference>,
}

/// A reference to an App Mesh VirtualNode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AppMeshVirtualNodeReference {
    /// Its name.
    pub name: String,
}

/// One canary step; exactly one field must be set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    /// Set the canary weight (out of `maxTrafficWeight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i32>,
    /// Pause, for a duration or until promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<RolloutPause>,
    /// Run an Experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<RolloutExperimentStep>,
    /// Run an AnalysisRun and wait for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
    /// Scale the canary without changing traffic (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_canary_scale: Option<SetCanaryScale>,
    /// Route requests with matching headers to the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_header_route: Option<SetHeaderRoute>,
    /// Mirror matching traffic to the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_mirror_route: Option<SetMirrorRoute>,
    /// Run a step plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginStep>,
}

impl CanaryStep {
    /// The name of the step's kind, for messages and plans (`setWeight`, `pause`, ...).
    pub fn kind_name(&self) -> &'static str {
        if self.set_weight.is_some() {
            "setWeight"
        } else if self.pause.is_some() {
            "pause"
        } else if self.experiment.is_some() {
            "experiment"
        } else if self.analysis.is_some() {
            "analysis"
        } else if self.set_canary_scale.is_some() {
            "setCanaryScale"
        } else if self.set_header_route.is_some() {
            "setHeaderRoute"
        } else if self.set_mirror_route.is_some() {
            "setMirrorRoute"
        } else if self.plugin.is_some() {
            "plugin"
        } else {
            "empty"
        }
    }
}

/// A step plugin invocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginStep {
    /// The plugin's registered name.
    pub name: String,
    /// The plugin's raw config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub config: Option<serde_json::Value>,
}

/// A pause step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPause {
    /// Seconds (an int or a string of digits) or a Go duration; none pauses until promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<IntOrString>,
}

impl RolloutPause {
    /// Argo's `DurationSeconds`: 0 when unset, the int, a digit string as seconds, a Go duration
    /// truncated to whole seconds, or -1 when the string does not parse.
    pub fn duration_seconds(&self) -> i32 {
        match &self.duration {
            None => 0,
            Some(IntOrString::Int(i)) => *i,
            Some(IntOrString::String(s)) => {
                if let Some(v) = parse_go_int32(s) {
                    return v;
                }
                match crate::duration::parse_go_duration(s) {
                    // Go: int32(d.Seconds()) truncates toward zero.
                    Ok(ns) => (ns as f64 / 1e9) as i32,
                    Err(_) => -1,
                }
            }
        }
    }
}

/// `strconv.ParseInt(s, 10, 32)`: an optional sign and decimal digits, within int32.
fn parse_go_int32(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// Scale the canary without changing traffic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetCanaryScale {
    /// A weight for the canary's pod count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// An explicit canary pod count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Go back to scaling the canary by the traffic weight.
    #[serde(default, skip_serializing_if = "is_false")]
    pub match_traffic_weight: bool,
}

/// Send requests with matching headers to the canary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetHeaderRoute {
    /// The managed route's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Header matches; none removes the route.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub match_: Vec<HeaderRoutingMatch>,
}

/// A header match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderRoutingMatch {
    /// The header.
    pub header_name: String,
    /// How its value must match.
    pub header_value: Option<StringMatch>,
}

/// Exactly one of exact, prefix and regex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StringMatch {
    /// Exact match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    /// Prefix match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Regular-expression match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regex: String,
}

/// Mirror matching traffic to the canary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetMirrorRoute {
    /// The managed route's name.
    pub name: String,
    /// Request matches; none removes the route.
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub match_: Vec<RouteMatch>,
    /// Percentage of matching traffic to mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<i32>,
}

/// A request match for mirroring.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    /// URL path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<StringMatch>,
    /// Headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
}

/// Background analysis: a [`RolloutAnalysis`] plus the step it starts at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysisBackground {
    /// The analysis.
    #[serde(flatten)]
    pub analysis: RolloutAnalysis,
    /// The step index at which to start; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i32>,
}

/// Which templates to combine into an AnalysisRun, and with what arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysis {
    /// Templates to combine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
    /// Arguments for the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    /// Metrics to run in dry-run mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Labels and annotations for the run.
    #[serde(default, skip_serializing_if = "is_default")]
    pub analysis_run_metadata: AnalysisRunMetadata,
}

/// A reference to an AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    /// The template's name.
    #[serde(default)]
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
}

/// An argument a Rollout passes to an AnalysisRun.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunArgument {
    /// The argument's name.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Where to take the value from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ArgumentValueFrom>,
}

/// Where a Rollout argument's value comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgumentValueFrom {
    /// The pod template hash of the stable or the latest ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_hash_value: Option<ValueFromPodTemplateHash>,
    /// A field of the Rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
}

/// Which ReplicaSet's pod template hash to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ValueFromPodTemplateHash {
    /// The stable ReplicaSet.
    Stable,
    /// The latest (canary) ReplicaSet.
    Latest,
}

/// A field path, as in the downward API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    /// The path, e.g. `metadata.labels['app']`.
    pub field_path: String,
}

/// An experiment step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentStep {
    /// The ReplicaSets to run.
    pub templates: Vec<RolloutExperimentTemplate>,
    /// How long to run once available (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// Analyses to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<RolloutExperimentStepAnalysisTemplateRef>,
    /// Metrics to run in dry-run mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// Labels and annotations for the runs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub analysis_run_metadata: AnalysisRunMetadata,
    /// Delay before scaling the experiment down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
}

/// An analysis of an experiment step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentStepAnalysisTemplateRef {
    /// Name of this analysis.
    pub name: String,
    /// The template.
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    /// The experiment does not complete before this analysis.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required_for_completion: bool,
}

/// A ReplicaSet of an experiment step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentTemplate {
    /// Its name.
    pub name: String,
    /// Take the pod template from the `stable` or the `canary` ReplicaSet.
    pub spec_ref: ReplicaSetSpecRef,
    /// Pod count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Labels and annotations for the ReplicaSet.
    #[serde(default, skip_serializing_if = "PodTemplateMetadata::is_empty")]
    pub metadata: PodTemplateMetadata,
    /// Selector override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Traffic weight for this template (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// A Service to create for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<TemplateService>,
}

/// Which ReplicaSet an experiment template copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaSetSpecRef {
    /// The stable ReplicaSet.
    #[default]
    Stable,
    /// The canary ReplicaSet.
    Canary,
}

/// The Service generated for an experiment template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateService {
    /// Its name; generated when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(d: Option<IntOrString>) -> RolloutPause {
        RolloutPause { duration: d }
    }

    #[test]
    fn pause_duration_seconds_follows_argo() {
        assert_eq!(pause(None).duration_seconds(), 0);
        assert_eq!(pause(Some(IntOrString::Int(30))).duration_seconds(), 30);
        assert_eq!(pause(Some(IntOrString::String("30".into()))).duration_seconds(), 30);
        assert_eq!(pause(Some(IntOrString::String("1h".into()))).duration_seconds(), 3600);
        assert_eq!(pause(Some(IntOrString::String("1.9s".into()))).duration_seconds(), 1);
        assert_eq!(pause(Some(IntOrString::String("forever".into()))).duration_seconds(), -1);
        assert_eq!(pause(Some(IntOrString::String("-5".into()))).duration_seconds(), -5);
    }

    #[test]
    fn defaults_are_argo_defaults() {
        let spec = RolloutSpec::default();
        assert_eq!(spec.replicas_or_default(), 1);
        assert_eq!(spec.revision_history_limit_or_default(), 10);
        assert_eq!(spec.progress_deadline_seconds_or_default(), 600);
        let canary = CanaryStrategy::default();
        assert_eq!(canary.max_traffic_weight(), 100);
        assert_eq!(canary.max_surge_or_default(), IntOrString::String("25".into()));
        assert_eq!(canary.max_unavailable_or_default(), IntOrString::String("25".into()));
        let bg = BlueGreenStrategy::default();
        assert!(bg.auto_promotion_enabled_or_default());
        assert_eq!(bg.scale_down_delay_seconds_or_default(), 30);
    }
}
