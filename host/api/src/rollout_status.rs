//! The Rollout's status, as Argo writes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::AnalysisPhase;
use crate::common::preserve_unknown_any;
use crate::serde_util::{is_default, is_false, is_zero_i32};
use crate::time::Time;

/// The rollout phase shown by `kubectl get rollout` and Argo CD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RolloutPhase {
    /// Fully promoted and available.
    Healthy,
    /// Invalid spec, aborted, or past its progress deadline.
    Degraded,
    /// Moving towards the desired state.
    Progressing,
    /// Waiting for a promotion or a manual resume.
    Paused,
}

impl RolloutPhase {
    /// The phase as Argo spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutPhase::Healthy => "Healthy",
            RolloutPhase::Degraded => "Degraded",
            RolloutPhase::Progressing => "Progressing",
            RolloutPhase::Paused => "Paused",
        }
    }
}

/// Why the controller paused a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PauseReason {
    /// An AnalysisRun came back Inconclusive.
    InconclusiveAnalysisRun,
    /// An Experiment came back Inconclusive.
    InconclusiveExperiment,
    /// A canary pause step.
    CanaryPauseStep,
    /// Blue-green waiting for promotion.
    BlueGreenPause,
}

impl PauseReason {
    /// The reason as Argo spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::InconclusiveAnalysisRun => "InconclusiveAnalysisRun",
            PauseReason::InconclusiveExperiment => "InconclusiveExperiment",
            PauseReason::CanaryPauseStep => "CanaryPauseStep",
            PauseReason::BlueGreenPause => "BlueGreenPause",
        }
    }
}

/// A reason the rollout is paused, and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseCondition {
    /// Why.
    pub reason: PauseReason,
    /// Since when.
    pub start_time: Time,
}

/// Status of a Rollout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The update is being aborted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub abort: bool,
    /// Reasons the controller paused the rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause_conditions: Vec<PauseCondition>,
    /// The controller paused the rollout (still true after a user clears the conditions).
    #[serde(default, skip_serializing_if = "is_false")]
    pub controller_pause: bool,
    /// When the controller processed the abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_at: Option<Time>,
    /// Hash of the current pod template.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_pod_hash: String,
    /// Hash of the current list of steps.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_step_hash: String,
    /// Non-terminated pods.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub replicas: i32,
    /// Non-terminated pods of the current template.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub updated_replicas: i32,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub ready_replicas: i32,
    /// Available pods.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub available_replicas: i32,
    /// The current canary step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_index: Option<i32>,
    /// Hash collisions seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// The `metadata.generation` last observed (a string, as Argo writes it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub observed_generation: String,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RolloutCondition>,
    /// Canary-only status. Always written, `{}` when empty: Argo's status struct holds it by
    /// value, so every status Argo writes whole carries it.
    #[serde(default)]
    pub canary: CanaryStatus,
    /// Blue-green-only status; always written, like [`RolloutStatus::canary`].
    #[serde(default)]
    pub blue_green: BlueGreenStatus,
    /// Pods receiving active traffic (for the HPA).
    #[serde(default, rename = "HPAReplicas", skip_serializing_if = "is_zero_i32")]
    pub hpa_replicas: i32,
    /// Selector of the pods receiving active traffic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// The pod template hash of the stable ReplicaSet.
    #[serde(default, rename = "stableRS", skip_serializing_if = "String::is_empty")]
    pub stable_rs: String,
    /// When the rollout was last restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<Time>,
    /// Promote fully, skipping steps, analyses and pauses.
    #[serde(default, skip_serializing_if = "is_false")]
    pub promote_full: bool,
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RolloutPhase>,
    /// Why the rollout is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The referenced workload's generation last observed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workload_observed_generation: String,
    /// ALB state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<AlbStatus>,
    /// ALB state, one per Ingress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub albs: Vec<AlbStatus>,
    /// Timings of the current update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<RolloutDurationStatus>,
}

/// A condition of a Rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutCondition {
    /// InvalidSpec, Available, Progressing, ReplicaFailure, Paused, Completed or Healthy.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// Last update.
    pub last_update_time: Time,
    /// Last transition.
    pub last_transition_time: Time,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

/// Canary-only status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// The current step's AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The background AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_background_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The running Experiment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_experiment: String,
    /// Weights set on the traffic router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<TrafficWeights>,
    /// `ping` or `pong`: which service is stable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_ping_pong: String,
    /// Step plugin states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_plugin_statuses: Vec<StepPluginStatus>,
}

/// Blue-green-only status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStatus {
    /// Pod hash the preview service selects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_selector: String,
    /// Pod hash the active service selects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub active_selector: String,
    /// The preview may now scale up to full size.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scale_up_preview_check_point: bool,
    /// The pre-promotion AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The post-promotion AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
}

/// Traffic weights currently set on the router.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficWeights {
    /// The canary's weight.
    pub canary: WeightDestination,
    /// The stable's weight.
    pub stable: WeightDestination,
    /// Weights of experiment ReplicaSets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<WeightDestination>,
    /// The router confirmed the weight (ALB); none when unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

/// A weight and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeightDestination {
    /// The weight.
    pub weight: i32,
    /// The Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// The pod template hash.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_template_hash: String,
}

/// The name, phase and message of an AnalysisRun the rollout follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysisRunStatus {
    /// The run's name.
    pub name: String,
    /// The run's phase as last seen, spelled as Argo records it: `""` for a run created in the
    /// same reconcile (its controller has not written a phase yet), so that the later
    /// `Status New: 'Running' Previous: ''` event matches Argo's.
    #[serde(default)]
    pub status: String,
    /// The run's message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl RolloutAnalysisRunStatus {
    /// The recorded phase; `""` (not yet written) reads as Pending.
    pub fn phase(&self) -> AnalysisPhase {
        serde_json::from_value(serde_json::Value::String(self.status.clone())).unwrap_or_default()
    }
}

/// AWS load balancer state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlbStatus {
    /// The load balancer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub load_balancer: AwsResourceRef,
    /// The canary target group.
    #[serde(default, skip_serializing_if = "is_default")]
    pub canary_target_group: AwsResourceRef,
    /// The stable target group.
    #[serde(default, skip_serializing_if = "is_default")]
    pub stable_target_group: AwsResourceRef,
    /// The Ingress.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ingress: String,
}

/// An AWS resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsResourceRef {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// Full name.
    #[serde(default)]
    pub full_name: String,
}

/// A step plugin's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepPluginOperation {
    /// Running the step.
    Run,
    /// Terminating it (promotion).
    Terminate,
    /// Aborting it.
    Abort,
}

/// A step plugin's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepPluginPhase {
    /// Still running.
    Running,
    /// Done, successfully.
    Successful,
    /// Done, failed.
    Failed,
    /// Could not run.
    Error,
}

impl StepPluginPhase {
    /// The phase as Argo writes it (`Running`), for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            StepPluginPhase::Running => "Running",
            StepPluginPhase::Successful => "Successful",
            StepPluginPhase::Failed => "Failed",
            StepPluginPhase::Error => "Error",
        }
    }
}

/// One step plugin entry of `status.canary.stepPluginStatuses`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepPluginStatus {
    /// The step index.
    pub index: i32,
    /// The plugin's name.
    pub name: String,
    /// Run, Terminate or Abort.
    pub operation: StepPluginOperation,
    /// Running, Successful, Failed or Error; empty when the plugin is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<StepPluginPhase>,
    /// The plugin's message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// First call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Last call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
    /// Completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Current backoff (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backoff: String,
    /// Calls made.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub executions: i32,
    /// The plugin is globally disabled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// The plugin's opaque state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_any")]
    pub status: Option<serde_json::Value>,
}

/// How an update ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CompletionStatus {
    /// Promoted through its steps.
    Promoted,
    /// Promoted with promote --full.
    FastPromoted,
    /// Aborted.
    Aborted,
    /// Replaced by a newer update.
    Superseded,
    /// Rolled back.
    RolledBack,
    /// Rolled back within the rollback window.
    FastRolledBack,
}

/// Timings of the current or last update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutDurationStatus {
    /// When the update started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_started_at: Option<Time>,
    /// When the current manual pause started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_pause_started_at: Option<Time>,
    /// Total seconds spent manually paused.
    #[serde(default, skip_serializing_if = "crate::serde_util::is_zero_i64")]
    pub total_manual_pause_duration_seconds: i64,
    /// When the update finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_status: Option<CompletionStatus>,
}
