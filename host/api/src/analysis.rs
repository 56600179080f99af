//! AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: metrics, providers, measurements.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    DryRun, MeasurementRetention, embedded_object, plugin_map, preserve_unknown_any, preserve_unknown_object,
};
use crate::rollout::{AnalysisTemplateRef, FieldRef};
use crate::serde_util::{is_default, is_false, is_zero_i32, is_zero_i64};
use crate::time::Time;

/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;

/// The phase of an AnalysisRun, a metric result or a measurement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AnalysisPhase {
    /// Not started (Go's zero value `""` reads as Pending).
    #[default]
    #[serde(alias = "")]
    Pending,
    /// In progress.
    Running,
    /// Done: successful.
    Successful,
    /// Done: failed.
    Failed,
    /// Done: could not be measured.
    Error,
    /// Done: neither successful nor failed.
    Inconclusive,
}

impl AnalysisPhase {
    /// Successful, Failed, Error and Inconclusive are final.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            AnalysisPhase::Successful | AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
        )
    }

    /// The phase as Argo spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisPhase::Pending => "Pending",
            AnalysisPhase::Running => "Running",
            AnalysisPhase::Successful => "Successful",
            AnalysisPhase::Failed => "Failed",
            AnalysisPhase::Error => "Error",
            AnalysisPhase::Inconclusive => "Inconclusive",
        }
    }
}

impl std::fmt::Display for AnalysisPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec shared by AnalysisTemplate and ClusterAnalysisTemplate.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "AnalysisTemplate",
    plural = "analysistemplates",
    namespaced,
    shortname = "at",
    derive = "PartialEq",
    derive = "Default",
    doc = "AnalysisTemplate holds the template for performing canary analysis",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time since resource was created"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    /// The metrics to measure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Arguments the metrics use as `{{args.NAME}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// Metrics to run in dry-run mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Other templates whose metrics and args are merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
}

/// The spec of a ClusterAnalysisTemplate: the same as an AnalysisTemplate's.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "ClusterAnalysisTemplate",
    plural = "clusteranalysistemplates",
    shortname = "cat",
    derive = "PartialEq",
    derive = "Default",
    doc = "ClusterAnalysisTemplate holds the template for performing canary analysis",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time since resource was created"
    )
)]
pub struct ClusterAnalysisTemplateSpec {
    /// The template spec.
    #[serde(flatten)]
    pub template: AnalysisTemplateSpec,
}

impl Deref for ClusterAnalysisTemplateSpec {
    type Target = AnalysisTemplateSpec;
    fn deref(&self) -> &AnalysisTemplateSpec {
        &self.template
    }
}

impl DerefMut for ClusterAnalysisTemplateSpec {
    fn deref_mut(&mut self) -> &mut AnalysisTemplateSpec {
        &mut self.template
    }
}

/// A metric: what to measure, how often, and how to judge it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// Unique within the run.
    pub name: String,
    /// Gap between measurements (Go duration); none means a single measurement.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Wait this long after the run starts before the first measurement (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_delay: String,
    /// Total measurements (see [`Metric::effective_count`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    /// Expression over `result`: true means Successful.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_condition: String,
    /// Expression over `result`: true means Failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_condition: String,
    /// Failed measurements tolerated; default 0; -1 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    /// Inconclusive measurements tolerated; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    /// Consecutive errors tolerated; default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    /// Where the value comes from; exactly one provider.
    pub provider: MetricProvider,
    /// Consecutive successes that make the metric Successful; default 0 (disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<IntOrString>,
}

/// Go's `intstr.IntValue()`: the int, or the string parsed with `strconv.Atoi` (0 when it does not
/// parse). Argo reads every IntOrString limit and count this way, so "abc" silently means 0.
pub fn int_or_string_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return 0;
            }
            s.parse::<i64>().unwrap_or(0)
        }
    }
}

impl Metric {
    /// Argo's `EffectiveCount`: `count` when set and non-zero; else 1 without an interval; else
    /// unlimited (`None`).
    pub fn effective_count(&self) -> Option<i64> {
        match self.count.as_ref().map(int_or_string_value) {
            Some(c) if c != 0 => Some(c),
            _ if self.interval.is_empty() => Some(1),
            _ => None,
        }
    }

    /// `failureLimit`, default 0 (-1 disables the check).
    pub fn failure_limit_or_default(&self) -> i64 {
        self.failure_limit.as_ref().map(int_or_string_value).unwrap_or(0)
    }

    /// `inconclusiveLimit`, default 0.
    pub fn inconclusive_limit_or_default(&self) -> i64 {
        self.inconclusive_limit.as_ref().map(int_or_string_value).unwrap_or(0)
    }

    /// `consecutiveErrorLimit`, default 4.
    pub fn consecutive_error_limit_or_default(&self) -> i64 {
        self.consecutive_error_limit
            .as_ref()
            .map(int_or_string_value)
            .unwrap_or(i64::from(DEFAULT_CONSECUTIVE_ERROR_LIMIT))
    }

    /// `consecutiveSuccessLimit`, default 0 (disabled).
    pub fn consecutive_success_limit_or_default(&self) -> i64 {
        self.consecutive_success_limit.as_ref().map(int_or_string_value).unwrap_or(0)
    }
}

/// Where a metric's value comes from; exactly one field must be set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    /// A Prometheus query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    /// A Kayenta canary judgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta: Option<KayentaMetric>,
    /// An HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
    /// A Datadog query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<DatadogMetric>,
    /// A Wavefront query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wavefront: Option<WavefrontMetric>,
    /// A New Relic NRQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_relic: Option<NewRelicMetric>,
    /// A Kubernetes Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobMetric>,
    /// A CloudWatch query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch: Option<CloudWatchMetric>,
    /// A Graphite query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphite: Option<GraphiteMetric>,
    /// An InfluxDB Flux query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<InfluxdbMetric>,
    /// A SkyWalking GraphQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skywalking: Option<SkyWalkingMetric>,
    /// A metric plugin: plugin name to its raw config (exactly one key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "plugin_map")]
    pub plugin: BTreeMap<String, serde_json::Value>,
}

impl MetricProvider {
    /// The names of the providers that are set, in Argo's order (plugins as `plugin.NAME`).
    pub fn configured(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            ("prometheus", self.prometheus.is_some()),
            ("kayenta", self.kayenta.is_some()),
            ("web", self.web.is_some()),
            ("datadog", self.datadog.is_some()),
            ("wavefront", self.wavefront.is_some()),
            ("newRelic", self.new_relic.is_some()),
            ("job", self.job.is_some()),
            ("cloudWatch", self.cloud_watch.is_some()),
            ("graphite", self.graphite.is_some()),
            ("influxdb", self.influxdb.is_some()),
            ("skywalking", self.skywalking.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| (*n).to_string())
        .collect();
        out.extend(self.plugin.keys().map(|k| format!("plugin.{k}")));
        out
    }
}

/// A Prometheus query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusMetric {
    /// Server address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// PromQL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Request timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Skip TLS verification.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    /// Run a range query instead of an instant query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_query: Option<PrometheusRangeQueryArgs>,
}

/// A Prometheus range query's bounds (expressions evaluated to times).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRangeQueryArgs {
    /// Start time expression.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// End time expression.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
    /// Resolution step.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
}

/// Provider authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// AWS SigV4.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sigv4: Sigv4Config,
    /// OAuth2 client credentials.
    #[serde(default, skip_serializing_if = "is_default")]
    pub oauth2: OAuth2Config,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
}

/// AWS SigV4 settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sigv4Config {
    /// AWS region.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// AWS profile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// Role to assume.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
}

/// OAuth2 client-credentials settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Config {
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_url: String,
    /// Client id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// Client secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
    /// Scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// HTTP basic authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// User name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
}

/// A Wavefront query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WavefrontMetric {
    /// Server address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// A New Relic NRQL query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewRelicMetric {
    /// Secret holding the account configuration.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// NRQL.
    pub query: String,
    /// Timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

/// A Kubernetes Job used as a metric: Complete is Successful, Failed is Failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobMetric {
    /// The Job's metadata.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(schema_with = "embedded_object")]
    pub metadata: ObjectMeta,
    /// The Job's spec.
    #[schemars(schema_with = "embedded_object")]
    pub spec: JobSpec,
}

/// A Graphite query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphiteMetric {
    /// Server address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// An InfluxDB Flux query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfluxdbMetric {
    /// Secret holding the account configuration.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// Flux query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// A SkyWalking GraphQL query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkyWalkingMetric {
    /// Server address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// GraphQL query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Query interval (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
}

/// A CloudWatch query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetric {
    /// Query window (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// The queries.
    pub metric_data_queries: Vec<CloudWatchMetricDataQuery>,
}

/// One CloudWatch query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricDataQuery {
    /// Query id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Metric math expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The metric and statistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<CloudWatchMetricStat>,
    /// Period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<IntOrString>,
    /// Return this query's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
}

/// A CloudWatch metric and statistic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricStat {
    /// The metric.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metric: CloudWatchMetricStatMetric,
    /// Period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<IntOrString>,
    /// Statistic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stat: String,
    /// Unit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

/// A CloudWatch metric.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricStatMetric {
    /// Dimensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<CloudWatchMetricStatMetricDimension>,
    /// Metric name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric_name: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A CloudWatch dimension.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricStatMetricDimension {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// A Kayenta judgement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KayentaMetric {
    /// Kayenta address.
    pub address: String,
    /// Application.
    pub application: String,
    /// Canary config.
    pub canary_config_name: String,
    /// Metrics account.
    pub metrics_account_name: String,
    /// Configuration account.
    pub configuration_account_name: String,
    /// Storage account.
    pub storage_account_name: String,
    /// Pass/marginal thresholds.
    pub threshold: KayentaThreshold,
    /// Scopes.
    pub scopes: Vec<KayentaScope>,
    /// Look-back window, passed through as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_any")]
    pub lookback: Option<serde_json::Value>,
}

/// Kayenta thresholds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KayentaThreshold {
    /// Pass score.
    pub pass: i64,
    /// Marginal score.
    pub marginal: i64,
}

/// A Kayenta scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KayentaScope {
    /// Name.
    pub name: String,
    /// Control scope.
    pub control_scope: ScopeDetail,
    /// Experiment scope.
    pub experiment_scope: ScopeDetail,
}

/// A Kayenta scope's details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeDetail {
    /// Scope.
    pub scope: String,
    /// Region.
    pub region: String,
    /// Step.
    pub step: i64,
    /// Start (RFC 3339); optional, as in Argo: the provider computes it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// End (RFC 3339); optional, as in Argo: the measurement's time.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// An HTTP request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    /// GET (default), POST or PUT.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// URL.
    pub url: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    /// Request body as text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Timeout in seconds.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub timeout_seconds: i64,
    /// JSONPath into the response; default `{$}`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_path: String,
    /// Skip TLS verification.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Request body as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub json_body: Option<serde_json::Value>,
    /// Authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

/// An HTTP header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebMetricHeader {
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A Datadog query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatadogMetric {
    /// Query window (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// A single query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Named queries combined by `formula` (v2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queries: BTreeMap<String, String>,
    /// Formula over `queries`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub formula: String,
    /// `v1` (default) or `v2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Aggregator for v2.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aggregator: String,
    /// Secret with the API keys.
    #[serde(default, skip_serializing_if = "is_default")]
    pub secret_ref: SecretRef,
    /// Request timeout, passed through as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_any")]
    pub request_timeout: Option<serde_json::Value>,
}

/// A reference to the Secret holding a provider's credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Secret name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Look it up in the run's namespace instead of the controller's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub namespaced: bool,
}

/// A template or run argument.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// Name, used as `{{args.NAME}}`.
    pub name: String,
    /// Value; none means it must be supplied by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where to take the value from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// Where an argument's value comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueFrom {
    /// A key of a Secret in the run's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    /// A field of the Rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
}

/// A key of a Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key.
    pub key: String,
}

/// The spec of an AnalysisRun.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "AnalysisRun",
    plural = "analysisruns",
    namespaced,
    status = "AnalysisRunStatus",
    shortname = "ar",
    derive = "PartialEq",
    derive = "Default",
    doc = "AnalysisRun is an instantiation of an AnalysisTemplate",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase", description = "AnalysisRun status"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time since resource was created"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunSpec {
    /// The metrics to measure.
    pub metrics: Vec<Metric>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// Stop the run early.
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminate: bool,
    /// Metrics to run in dry-run mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// When to delete the finished run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<TtlStrategy>,
}

/// When to delete a finished AnalysisRun.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TtlStrategy {
    /// After completion, whatever the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_completion: Option<i32>,
    /// After a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_failure: Option<i32>,
    /// After a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_success: Option<i32>,
}

/// The status of an AnalysisRun.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStatus {
    /// The run's phase.
    #[serde(default)]
    pub phase: AnalysisPhase,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// One result per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_results: Vec<MetricResult>,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Counts over non-dry-run metrics.
    #[serde(default, skip_serializing_if = "is_default")]
    pub run_summary: RunSummary,
    /// Counts over dry-run metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_summary: Option<RunSummary>,
    /// When the run completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// Counts of metrics by phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Metrics.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub count: i32,
    /// Successful ones.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub successful: i32,
    /// Failed ones.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub failed: i32,
    /// Inconclusive ones.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub inconclusive: i32,
    /// Errored ones.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub error: i32,
}

/// The measurements and counters of one metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    /// The metric's name.
    pub name: String,
    /// The metric's phase.
    pub phase: AnalysisPhase,
    /// The most recent measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    /// The last measurement's message, or why the metric ended.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Measurements that did not error.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub count: i32,
    /// Successful measurements.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub successful: i32,
    /// Failed measurements.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub failed: i32,
    /// Inconclusive measurements.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub inconclusive: i32,
    /// Errored measurements.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub error: i32,
    /// Errors in a row.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub consecutive_error: i32,
    /// The metric runs in dry-run mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Provider metadata (e.g. the resolved query).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Successes in a row.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub consecutive_success: i32,
}

/// One measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// Its phase.
    pub phase: AnalysisPhase,
    /// Why (error messages).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it finished; none while in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The measured value, as text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Provider metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// When to poll an in-flight measurement again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<Time>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_count_follows_argo() {
        let mut m = Metric::default();
        assert_eq!(m.effective_count(), Some(1));
        m.interval = "1m".into();
        assert_eq!(m.effective_count(), None);
        m.count = Some(IntOrString::Int(0));
        assert_eq!(m.effective_count(), None);
        m.count = Some(IntOrString::String("5".into()));
        assert_eq!(m.effective_count(), Some(5));
    }

    #[test]
    fn int_or_string_reads_like_go_int_value() {
        assert_eq!(int_or_string_value(&IntOrString::Int(-1)), -1);
        assert_eq!(int_or_string_value(&IntOrString::String("7".into())), 7);
        assert_eq!(int_or_string_value(&IntOrString::String("-1".into())), -1);
        assert_eq!(int_or_string_value(&IntOrString::String("abc".into())), 0);
        assert_eq!(int_or_string_value(&IntOrString::String("{{args.n}}".into())), 0);
    }

    #[test]
    fn empty_phase_reads_as_pending() {
        let p: AnalysisPhase = serde_json::from_str("\"\"").unwrap();
        assert_eq!(p, AnalysisPhase::Pending);
    }
}
