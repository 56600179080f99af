//! Types shared by several kinds, and the schema overrides that keep the CRDs small.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Extra labels and annotations for pods (canary/stable/preview/active "ephemeral" metadata, and
/// experiment templates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateMetadata {
    /// Labels to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl PodTemplateMetadata {
    /// True when neither labels nor annotations are set (Go writes such a struct as `{}`).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// Extra labels and annotations for the AnalysisRuns a Rollout or Experiment creates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunMetadata {
    /// Labels to add to the AnalysisRun.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to add to the AnalysisRun.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl AnalysisRunMetadata {
    /// True when neither labels nor annotations are set.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// Runs the metrics whose name matches `metricName` (a regular expression) in dry-run mode:
/// measured and reported, but never deciding the run's phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// A regular expression over metric names; `.*` or `*` selects every metric.
    pub metric_name: String,
}

/// Keeps `limit` measurements (instead of the default 10) for the metrics whose name matches
/// `metricName` (a regular expression).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasurementRetention {
    /// A regular expression over metric names.
    pub metric_name: String,
    /// How many measurements to keep; 0 or less means the default.
    pub limit: i32,
}

/// Schema for raw JSON objects Argo keeps as `json.RawMessage` (plugin configs): an object whose
/// content the API server must keep as written.
pub(crate) fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for a raw JSON value of any shape (a step plugin's opaque status).
pub(crate) fn preserve_unknown_any(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for embedded Kubernetes objects (pod templates, Job specs, object metadata).
///
/// Argo's own CRDs do the same: the full PodSpec schema would make each CRD several hundred
/// kilobytes (the API server limits objects to ~1.5 MB and kubectl's last-applied annotation to
/// 256 KB). The pod template is validated by the API server when the controller creates the
/// ReplicaSet.
pub(crate) fn embedded_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for a map of plugin name to raw JSON config.
pub(crate) fn plugin_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}
