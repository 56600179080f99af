//! The Experiment kind: ReplicaSets run side by side for a while, with analyses.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::{AnalysisPhase, Argument};
use crate::common::{AnalysisRunMetadata, DryRun, MeasurementRetention, embedded_object};
use crate::rollout::TemplateService;
use crate::serde_util::{is_false, is_zero_i32};
use crate::time::Time;

/// The spec of an Experiment.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "Experiment",
    plural = "experiments",
    namespaced,
    status = "ExperimentStatus",
    shortname = "exp",
    derive = "PartialEq",
    derive = "Default",
    doc = "Experiment is a specification for an Experiment resource",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase", description = "Experiment status"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time since resource was created"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentSpec {
    /// The ReplicaSets to run.
    pub templates: Vec<TemplateSpec>,
    /// How long to run once every ReplicaSet is available (Go duration); none runs until
    /// terminated or an analysis fails.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// Seconds without progress before the experiment fails; default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Stop the experiment early.
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminate: bool,
    /// Analyses to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<ExperimentAnalysisTemplateRef>,
    /// Delay before scaling the ReplicaSets down; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// Metrics to run in dry-run mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Labels and annotations for the AnalysisRuns. Always written (`{}` when empty), as Argo's
    /// Go struct is.
    #[serde(default)]
    pub analysis_run_metadata: AnalysisRunMetadata,
}

/// One ReplicaSet of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    /// Name.
    pub name: String,
    /// Pods; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Seconds a pod must be ready to count as available.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub min_ready_seconds: i32,
    /// Pod selector.
    pub selector: Option<LabelSelector>,
    /// Pod template.
    #[schemars(schema_with = "embedded_object")]
    pub template: PodTemplateSpec,
    /// A Service to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<TemplateService>,
}

/// An analysis of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentAnalysisTemplateRef {
    /// Name of this analysis.
    pub name: String,
    /// The template.
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// The experiment does not complete before this analysis.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required_for_completion: bool,
}

/// The status of an Experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// The experiment's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AnalysisPhase>,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// One status per template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_statuses: Vec<TemplateStatus>,
    /// When every template became available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<Time>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExperimentCondition>,
    /// The AnalysisRuns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis_runs: Vec<ExperimentAnalysisRunStatus>,
}

/// The phase of one experiment template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TemplateStatusCode {
    /// Scaling up.
    Progressing,
    /// Available and running.
    Running,
    /// Done.
    Successful,
    /// Failed.
    Failed,
    /// Could not run.
    Error,
}

impl TemplateStatusCode {
    /// Successful, Failed and Error are final: a template never leaves them.
    pub fn is_completed(self) -> bool {
        matches!(self, TemplateStatusCode::Successful | TemplateStatusCode::Failed | TemplateStatusCode::Error)
    }

    /// The status as Argo spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatusCode::Progressing => "Progressing",
            TemplateStatusCode::Running => "Running",
            TemplateStatusCode::Successful => "Successful",
            TemplateStatusCode::Failed => "Failed",
            TemplateStatusCode::Error => "Error",
        }
    }
}

/// The status of one experiment template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateStatus {
    /// Template name.
    pub name: String,
    /// Pods.
    #[serde(default)]
    pub replicas: i32,
    /// Updated pods.
    #[serde(default)]
    pub updated_replicas: i32,
    /// Ready pods.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Available pods.
    #[serde(default)]
    pub available_replicas: i32,
    /// Hash collisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Progressing, Running, Successful, Failed or Error.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::serde_util::empty_as_none::deserialize"
    )]
    pub status: Option<TemplateStatusCode>,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Last transition (resets the progress deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The generated Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// The ReplicaSet's pod template hash.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_template_hash: String,
}

/// A condition of an Experiment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentCondition {
    /// InvalidSpec, Completed, Progressing, Running or ReplicaFailure.
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

/// The status of one experiment analysis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentAnalysisRunStatus {
    /// Analysis name.
    pub name: String,
    /// AnalysisRun name (`""` until it is created).
    #[serde(default)]
    #[schemars(required)]
    pub analysis_run: String,
    /// Its phase; `""` (none) until its run exists.
    #[serde(default, with = "crate::serde_util::empty_as_none")]
    #[schemars(with = "String", required)]
    pub phase: Option<AnalysisPhase>,
    /// Its message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
