//! Argo Rollouts' controller flags, accepted so that Argo's Deployment (its `args`, its probes,
//! its Helm chart values) runs `aviary-controller` unchanged. Each flag either does here what it
//! does in Argo, or does nothing because Aviary has no such part yet (traffic routers,
//! notifications, experiments), in which case a flag set to something other than its default
//! is named in one warning at startup: accepted, never a crash loop, never silent.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::config::KubeConfigOptions;

use crate::error::Error;

/// Argo's `--controllers` values.
const KNOWN_CONTROLLERS: [&str; 5] = ["rollout", "experiment", "analysis", "service", "ingress"];

/// The flags of `argo-rollouts` (v1.10) that Aviary's own flags do not already cover.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Argo Rollouts compatibility")]
pub struct ArgoFlags {
    /// Seconds between full resyncs of a Rollout (Argo's 900): an idle rollout is looked at
    /// again this often.
    #[arg(long = "rollout-resync", default_value_t = 900)]
    pub rollout_resync: i64,
    /// Verbosity of the Kubernetes client's logs (klog's levels: 4 and up debug, 8 and up trace).
    #[arg(long, default_value_t = 0)]
    pub kloglevel: i32,
    /// Requests per second to the API server, on average, per client as in Argo (client-go's
    /// throttle; 0 turns it off). Argo's controller has one throttled client for Kubernetes'
    /// objects and one for its own (Rollouts, AnalysisRuns, Experiments), each with this budget;
    /// Aviary's single client gets their sum, twice this figure.
    #[arg(long, default_value_t = crate::throttle::DEFAULT_QPS)]
    pub qps: f32,
    /// Requests the throttle lets through at once, per client as in Argo (see `--qps`).
    #[arg(long, default_value_t = crate::throttle::DEFAULT_BURST)]
    pub burst: u32,
    /// Rollouts reconciled at once.
    #[arg(long = "rollout-threads", default_value_t = 10)]
    pub rollout_threads: u16,
    /// AnalysisRuns reconciled at once.
    #[arg(long = "analysis-threads", default_value_t = 30)]
    pub analysis_threads: u16,
    /// Experiments reconciled at once (no Experiment controller yet).
    #[arg(long = "experiment-threads", default_value_t = 10)]
    pub experiment_threads: u16,
    /// Service workers (Services are reconciled with their Rollout here).
    #[arg(long = "service-threads", default_value_t = 10)]
    pub service_threads: u16,
    /// Ingress workers (no traffic routing yet).
    #[arg(long = "ingress-threads", default_value_t = 10)]
    pub ingress_threads: u16,
    /// Ephemeral-metadata workers (ephemeral metadata is applied with the ReplicaSets here).
    #[arg(long = "ephemeral-metadata-threads", default_value_t = 10)]
    pub ephemeral_metadata_threads: u16,
    /// Retries of a pod's ephemeral-metadata update.
    #[arg(long = "ephemeral-metadata-update-pod-retries", default_value_t = 3)]
    pub ephemeral_metadata_update_pod_retries: u16,
    /// The controllers to run: `rollout`, `analysis` (and Argo's `experiment`, `service`,
    /// `ingress`); all when absent. `--controllers=analysis` runs only AnalysisRuns.
    #[arg(long, value_delimiter = ',')]
    pub controllers: Vec<String>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig cluster to use.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Kubeconfig user to use.
    #[arg(long)]
    pub user: Option<String>,
    /// pprof endpoint (Go only): not served.
    #[arg(long = "enable-pprof-address", default_value = "")]
    pub enable_pprof_address: String,
    /// Also read `argo-rollouts-notification-configmap` and `-secret` in each Rollout's own
    /// namespace (Argo's self-service notifications).
    #[arg(long = "self-service-notification-enabled", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub self_service_notification_enabled: bool,
    /// Traffic-router settings (no traffic routing yet).
    #[arg(long = "aws-target-group-binding-api-version", default_value = "elbv2.k8s.aws/v1beta1")]
    pub aws_target_group_binding_api_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "alb-tag-key-resource-id", default_value = "ingress.k8s.aws/resource")]
    pub alb_tag_key_resource_id: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "istio-api-version", default_value = "v1alpha3")]
    pub istio_api_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "ambassador-api-version", default_value = "getambassador.io/v2")]
    pub ambassador_api_version: String,
    /// The SMI TrafficSplit version `aviary/smi` writes. At Argo's default (`v1alpha1`) the
    /// router starts there and takes the first version the cluster serves, so a cluster that
    /// only serves a later one works without the flag; any other value is used as given.
    #[arg(long = "traffic-split-api-version", default_value = "v1alpha1")]
    pub traffic_split_api_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "traefik-api-group", default_value = "traefik.containo.us")]
    pub traefik_api_group: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "traefik-api-version", default_value = "traefik.containo.us/v1alpha1")]
    pub traefik_api_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "ingress-api-version", default_value = "")]
    pub ingress_api_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "appmesh-crd-version", default_value = "v1beta2")]
    pub appmesh_crd_version: String,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "alb-ingress-classes")]
    pub alb_ingress_classes: Vec<String>,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "nginx-ingress-classes")]
    pub nginx_ingress_classes: Vec<String>,
    /// See `--aws-target-group-binding-api-version`.
    #[arg(long = "aws-verify-target-group", alias = "alb-verify-weight", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub aws_verify_target_group: bool,
}

impl ArgoFlags {
    /// The log filter: `--loglevel` for Aviary, with the Kubernetes client's verbosity raised
    /// by `--kloglevel`.
    pub fn log_filter(&self, level: &str) -> String {
        match self.kloglevel {
            l if l >= 8 => format!("{level},kube=trace,tower=debug,hyper=debug"),
            l if l >= 4 => format!("{level},kube=debug"),
            _ => level.to_string(),
        }
    }

    /// The throttle of `--qps` and `--burst`: the budget of Argo's two clients together.
    pub fn throttle(&self) -> Option<crate::throttle::ThrottleLayer> {
        let clients = crate::throttle::ARGO_CLIENTS;
        crate::throttle::ThrottleLayer::new(
            self.qps * f32::from(clients),
            self.burst.saturating_mul(u32::from(clients)),
        )
    }

    /// `--rollout-resync`, at least a second.
    pub fn resync(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.rollout_resync).unwrap_or(0).max(1))
    }

    /// Which of Aviary's controllers run (`rollout`, `analysis`).
    pub fn enabled_controllers(&self) -> Result<BTreeSet<crate::Part>, Error> {
        let mut out = BTreeSet::new();
        if self.controllers.is_empty() {
            return Ok([crate::Part::Rollout, crate::Part::Analysis].into());
        }
        for c in &self.controllers {
            match c.as_str() {
                "rollout" => {
                    out.insert(crate::Part::Rollout);
                }
                "analysis" => {
                    out.insert(crate::Part::Analysis);
                }
                other if KNOWN_CONTROLLERS.contains(&other) => {
                    tracing::warn!(
                        controller = other,
                        "--controllers: aviary-controller has no {other} controller yet"
                    );
                }
                other => {
                    return Err(Error::Invalid(format!(
                        "--controllers: unknown controller {other:?} (known: {})",
                        KNOWN_CONTROLLERS.join(", ")
                    )));
                }
            }
        }
        Ok(out)
    }

    /// `--context`, `--cluster`, `--user`.
    pub fn kubeconfig_options(&self) -> KubeConfigOptions {
        KubeConfigOptions { context: self.context.clone(), cluster: self.cluster.clone(), user: self.user.clone() }
    }

    /// Whether `--context`, `--cluster` or `--user` picks from a kubeconfig.
    pub fn selects_from_kubeconfig(&self) -> bool {
        self.context.is_some() || self.cluster.is_some() || self.user.is_some()
    }

    /// One warning naming the flags set away from Argo's defaults that do nothing here yet.
    pub fn report_ignored(&self) {
        let defaults = ArgoFlags::defaults();
        let mut ignored = Vec::new();
        let mut check = |name: &str, set: bool| {
            if set {
                ignored.push(format!("--{name}"));
            }
        };
        check("experiment-threads", self.experiment_threads != defaults.experiment_threads);
        check("service-threads", self.service_threads != defaults.service_threads);
        check("ingress-threads", self.ingress_threads != defaults.ingress_threads);
        check("ephemeral-metadata-threads", self.ephemeral_metadata_threads != defaults.ephemeral_metadata_threads);
        check(
            "ephemeral-metadata-update-pod-retries",
            self.ephemeral_metadata_update_pod_retries != defaults.ephemeral_metadata_update_pod_retries,
        );
        check("enable-pprof-address", !self.enable_pprof_address.is_empty());
        check(
            "aws-target-group-binding-api-version",
            self.aws_target_group_binding_api_version != defaults.aws_target_group_binding_api_version,
        );
        check("alb-tag-key-resource-id", self.alb_tag_key_resource_id != defaults.alb_tag_key_resource_id);
        check("istio-api-version", self.istio_api_version != defaults.istio_api_version);
        check("ambassador-api-version", self.ambassador_api_version != defaults.ambassador_api_version);
        check("traefik-api-group", self.traefik_api_group != defaults.traefik_api_group);
        check("traefik-api-version", self.traefik_api_version != defaults.traefik_api_version);
        check("ingress-api-version", !self.ingress_api_version.is_empty());
        check("appmesh-crd-version", self.appmesh_crd_version != defaults.appmesh_crd_version);
        check("alb-ingress-classes", !self.alb_ingress_classes.is_empty());
        check("nginx-ingress-classes", !self.nginx_ingress_classes.is_empty());
        check("aws-verify-target-group", self.aws_verify_target_group);
        if !ignored.is_empty() {
            tracing::warn!(
                flags = %ignored.join(" "),
                "accepted for compatibility with Argo Rollouts; no effect yet (the routers Aviary does not ship, and profiling are not part of aviary-controller)"
            );
        }
    }

    /// The TrafficSplit version to pin, when `--traffic-split-api-version` asks for one other
    /// than Argo's default (see the flag).
    pub fn traffic_split_version(&self) -> Option<String> {
        let defaults = ArgoFlags::defaults();
        (self.traffic_split_api_version != defaults.traffic_split_api_version)
            .then(|| self.traffic_split_api_version.clone())
    }

    fn defaults() -> ArgoFlags {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            flags: ArgoFlags,
        }
        <Only as clap::Parser>::try_parse_from(["aviary-controller"]).map(|o| o.flags).unwrap_or_else(|e| {
            // The defaults above always parse; if they stop doing so, say so rather than warn wrongly.
            tracing::error!("cannot compute the default flags: {e}");
            std::process::exit(2)
        })
    }
}

/// Argo's `defaults.Namespace()`: `$POD_NAMESPACE`, else the service account's namespace, else
/// `argo-rollouts`.
pub fn controller_namespace() -> String {
    if let Ok(ns) = std::env::var("POD_NAMESPACE") {
        return ns;
    }
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "argo-rollouts".into())
}
