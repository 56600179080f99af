//! The compatibility oracle: one scenario run under the real Argo Rollouts controller and under
//! Aviary's, each on its own control plane, and compared field by field after every step.
//!
//! Aviary claims to be a drop-in replacement for Argo Rollouts' controller. This harness is how
//! the claim is checked rather than asserted: the real `argo-rollouts` controller and
//! `kubectl-argo-rollouts` plugin, built from their Go module by `tests/argo/build.sh`, run beside
//! Aviary's controller. A scenario (`tests/argo/scenarios/*.yaml`) is a set of manifests and a
//! list of steps (plugin commands, waits, patches, a switch of controllers); both sides run the
//! steps at the same time, each step once the previous one has settled, and after every step the
//! Rollouts, ReplicaSets, Services, AnalysisRuns, Events and the plugin's output of both sides are
//! normalised (times, uids, versions) and compared. Every difference fails the scenario with its
//! path and both values, unless `tests/argo/deliberate.yaml` lists it with the reason Aviary
//! differs on purpose.
//!
//! Scenarios of one CRD set share a pair of control planes (Argo's there, Aviary's here), each
//! scenario in its own namespace, so the corpus runs in parallel. A scenario with `migrate` gets
//! controllers of its own (an instance id), so that one side can hand the scenario from one
//! controller to the other mid-rollout while the other side keeps the original controller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Namespace, Service};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Cluster;
use crate::e2e::{free_port, repo};

/// A failure of the oracle itself (not a difference).
pub type OracleError = Box<dyn std::error::Error + Send + Sync>;

/// The namespace both controllers run in (their leases, Aviary's registry): Argo's default.
pub const CONTROLLER_NS: &str = "argo-rollouts";

/// Which CRDs a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Crds {
    /// Argo Rollouts' own CRDs as released with the pinned version (what Argo users have).
    #[default]
    Argo,
    /// Aviary's CRDs from deploy/crds.
    Aviary,
}

/// Which controller runs a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    /// The real Argo Rollouts controller.
    Argo,
    /// Aviary's.
    Aviary,
}

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (the file's stem when absent).
    #[serde(default)]
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The CRDs of its control planes.
    #[serde(default)]
    pub crds: Crds,
    /// A switch of controllers mid-rollout: the compared side starts with `from` and continues with
    /// the other at the `switch` step, while the reference side runs Argo throughout.
    #[serde(default)]
    pub migrate: Option<Controller>,
    /// The manifests created first (namespaced objects go into the scenario's namespace).
    pub objects: Vec<Value>,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Step {
    /// Runs `kubectl argo rollouts ARGS -n NS` (the real plugin) and records its output.
    Plugin(Vec<String>),
    /// Waits until the Rollout reaches a state.
    Wait(Wait),
    /// Applies (creates or replaces) manifests.
    Apply(Vec<Value>),
    /// Merge-patches an object (`subresource: status` for the status).
    Patch(PatchStep),
    /// Waits this long (a Go duration such as `5s`).
    Sleep(String),
    /// Hands the scenario to the other controller (scenarios with `migrate` only).
    Switch,
}

/// A wait for a Rollout's state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wait {
    /// The Rollout.
    pub rollout: String,
    /// `status.phase` to reach.
    #[serde(default)]
    pub phase: Option<String>,
    /// `status.currentStepIndex` to reach.
    #[serde(default)]
    pub step: Option<i64>,
    /// How long at most (default 120s).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// A merge patch.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchStep {
    /// `Rollout`, `Service`, ...
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The merge patch.
    pub patch: Value,
    /// `status` to patch the status subresource.
    #[serde(default)]
    pub subresource: Option<String>,
}

/// A difference Aviary keeps on purpose, with the reason a user would accept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Deliberate {
    /// A path pattern (`*` matches one path segment, `**` any number).
    pub path: String,
    /// Why Aviary differs.
    pub reason: String,
    /// Only in this scenario (every scenario when absent).
    #[serde(default)]
    pub scenario: Option<String>,
    /// Only after this step (counted from 0) and the ones after it: what led there is still
    /// compared.
    #[serde(default)]
    pub from_step: Option<usize>,
}

impl Deliberate {
    /// Whether this entry covers `path` after step `step` of `scenario`.
    pub fn covers(&self, scenario: &str, step: usize, path: &str) -> bool {
        self.scenario.as_deref().is_none_or(|s| s == scenario)
            && self.from_step.is_none_or(|from| step >= from)
            && path_matches(&self.path, path)
    }
}

/// Loads every scenario of `dir` (sorted by file name).
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, OracleError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        // Through JSON: steps are maps keyed by their kind (`wait: {...}`), serde's external tags.
        let raw: Value = serde_norway::from_str(&text).map_err(|e| format!("scenario {}: {e}", f.display()))?;
        let mut s: Scenario = serde_json::from_value(raw).map_err(|e| format!("scenario {}: {e}", f.display()))?;
        if s.name.is_empty() {
            s.name = f.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        }
        out.push(s);
    }
    Ok(out)
}

/// Loads the list of deliberate differences.
pub fn load_deliberate(file: &Path) -> Result<Vec<Deliberate>, OracleError> {
    let text = std::fs::read_to_string(file)?;
    Ok(serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?)
}

/// The binaries of tests/argo: `$AVIARY_ARGO_DIR`, or what `tests/argo/build.sh` builds.
pub fn argo_dir() -> Result<PathBuf, OracleError> {
    Ok(crate::prebuilt_or_build("AVIARY_ARGO_DIR", "argo")?)
}

/// A running controller process.
struct Running {
    child: Child,
    which: Controller,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One control plane with its controller.
pub struct Side {
    /// `argo` or `aviary`: whose reference this side is.
    pub label: &'static str,
    cluster: Cluster,
    argo_dir: PathBuf,
    aviary_bin: PathBuf,
    main: Mutex<Option<Running>>,
    log_dir: PathBuf,
}

impl Side {
    /// A control plane with `crds` and the `which` controller for every non-migrating scenario.
    pub async fn start(
        label: &'static str,
        crds: Crds,
        which: Controller,
        argo_dir: &Path,
        aviary_bin: &Path,
    ) -> Result<Side, OracleError> {
        let cluster = Cluster::start().await?;
        let client = cluster.client().await?;
        install_crds(&client, crds, argo_dir).await?;
        // The routers' CRDs (Gateway API, Istio, SMI): the traffic-routed scenarios compare the
        // routing objects each controller writes.
        crate::e2e::install_routing_crds(&client).await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": CONTROLLER_NS}}))?;
        namespaces.create(&PostParams::default(), &ns).await?;
        let log_dir = cluster.dir().join("controllers");
        std::fs::create_dir_all(&log_dir)?;
        let side = Side {
            label,
            cluster,
            argo_dir: argo_dir.to_path_buf(),
            aviary_bin: aviary_bin.to_path_buf(),
            main: Mutex::new(None),
            log_dir,
        };
        let running = side.spawn(which, None)?;
        *side.main.lock().map_err(|_| "poisoned")? = Some(running);
        Ok(side)
    }

    /// A client for this side's control plane.
    pub async fn client(&self) -> Result<Client, OracleError> {
        Ok(self.cluster.client().await?)
    }

    /// The administrator kubeconfig of this side's control plane (for a CLI or dashboard run
    /// against it).
    pub fn kubeconfig_path(&self) -> &Path {
        self.cluster.kubeconfig_path()
    }

    /// Starts a controller; with `instance_id`, one that handles only that scenario's objects.
    fn spawn(&self, which: Controller, instance_id: Option<&str>) -> Result<Running, OracleError> {
        let suffix = instance_id.unwrap_or("main");
        let log = self.log_dir.join(format!("{}-{suffix}.log", name(which)));
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let (metrics, health) = (free_port().to_string(), free_port().to_string());
        let kubeconfig = self.cluster.kubeconfig_path();
        let mut cmd = match which {
            Controller::Argo => {
                let mut c = Command::new(self.argo_dir.join("argo-rollouts-controller"));
                c.arg("--kubeconfig").arg(kubeconfig);
                c.args(["--metricsPort", &metrics, "--healthzPort", &health, "--loglevel", "debug"]);
                c.env("POD_NAMESPACE", CONTROLLER_NS);
                c
            }
            Controller::Aviary => {
                let mut c = Command::new(&self.aviary_bin);
                c.arg("--kubeconfig").arg(kubeconfig);
                c.args(["--namespace", CONTROLLER_NS, "--bind-address", "127.0.0.1"]);
                c.args(["--metrics-port", &metrics, "--healthz-port", &health, "--exit-on-stdin-close"]);
                c.args(["--loglevel", "info,aviary_controller=debug"]);
                c.env("AVIARY_CACHE_DIR", crate::e2e::plugin_cache());
                c.stdin(Stdio::piped());
                c
            }
        };
        // Short leases on both, so that a handover takes seconds. The TrafficSplit version is the
        // latest Argo writes (the test cluster serves v1alpha3 and v1alpha4).
        cmd.args(["--traffic-split-api-version", "v1alpha3"]);
        cmd.args([
            "--leader-election-lease-duration",
            "4s",
            "--leader-election-renew-deadline",
            "3s",
            "--leader-election-retry-period",
            "1s",
        ]);
        if let Some(id) = instance_id {
            cmd.args(["--instance-id", id]);
        }
        let child = cmd.stdout(out.try_clone()?).stderr(out).spawn()?;
        Ok(Running { child, which })
    }

    fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.log_dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {}\n", entry.path().display()));
            out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            out.push('\n');
        }
        out
    }
}

fn name(c: Controller) -> &'static str {
    match c {
        Controller::Argo => "argo",
        Controller::Aviary => "aviary",
    }
}

/// The routing objects a snapshot holds (when a scenario has any): what the routers write; and the
/// Jobs of the `job` provider.
const ROUTING_KINDS: [(&str, &str, &str, &str); 6] = [
    ("ingresses", "networking.k8s.io", "v1", "Ingress"),
    ("virtualServices", "networking.istio.io", "v1alpha3", "VirtualService"),
    ("destinationRules", "networking.istio.io", "v1alpha3", "DestinationRule"),
    ("httpRoutes", "gateway.networking.k8s.io", "v1", "HTTPRoute"),
    ("trafficSplits", "split.smi-spec.io", "v1alpha3", "TrafficSplit"),
    // Not routing, but what the `job` provider writes: the Jobs of AnalysisRuns.
    ("jobs", "batch", "v1", "Job"),
];

/// Installs a CRD set (Argo's as released, or Aviary's from deploy/crds) and waits until it is established.
pub async fn install_crds(client: &Client, crds: Crds, argo_dir: &Path) -> Result<(), OracleError> {
    let dir = match crds {
        Crds::Argo => argo_dir.join("crds"),
        Crds::Aviary => repo().join("deploy/crds"),
    };
    crate::e2e::install_crds_from(client, &dir, "aviary-oracle", Duration::from_secs(60)).await
}

/// What one side recorded after one step.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The step, as written.
    pub step: String,
    /// The normalised objects.
    pub snapshot: Value,
}

/// Runs one scenario on one side: its namespace, its objects, its steps; a record per step.
pub async fn run_side(
    side: &Side,
    scenario: &Scenario,
    namespace: &str,
    controllers: (Option<Controller>, Option<Controller>),
) -> Result<Vec<Record>, OracleError> {
    let client = side.client().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    crate::e2e::eventually_ok("the namespace's default ServiceAccount", Duration::from_secs(60), || {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), namespace);
        async move { api.get_opt("default").await.ok().flatten().map(|_| ()) }
    })
    .await?;
    // A migrating scenario has controllers of its own, keyed by an instance id.
    let instance = scenario.migrate.map(|_| namespace.to_string());
    let mut own: Option<Running> = match (&instance, controllers.0) {
        (Some(id), Some(first)) => Some(side.spawn(first, Some(id))?),
        _ => None,
    };
    let label = |mut obj: Value| {
        if let (Some(id), Some(meta)) = (&instance, obj.get_mut("metadata").and_then(Value::as_object_mut)) {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert(aviary_api_instance_label().into(), json!(id));
            }
        }
        obj
    };
    let mut records = Vec::new();
    for obj in &scenario.objects {
        apply(&client, namespace, &label(obj.clone())).await?;
    }
    records.push(Record { step: "create".into(), snapshot: settle(&client, namespace, None).await? });
    for step in &scenario.steps {
        let (text, output) = match step {
            Step::Plugin(args) => {
                let out = plugin(side, namespace, args).await?;
                (format!("plugin {}", args.join(" ")), Some(out))
            }
            Step::Wait(w) => {
                wait(&client, namespace, w).await.map_err(|e| format!("{e}\n{}", side.log_tail(30)))?;
                (format!("wait {w:?}"), None)
            }
            Step::Apply(objects) => {
                for obj in objects {
                    apply(&client, namespace, &label(obj.clone())).await?;
                }
                ("apply".to_string(), None)
            }
            Step::Patch(p) => {
                patch(&client, namespace, p).await?;
                (format!("patch {} {}", p.kind, p.name), None)
            }
            Step::Sleep(d) => {
                let nanos = aviary_api::duration::parse_go_duration(d).map_err(|e| e.to_string())?;
                tokio::time::sleep(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))).await;
                (format!("sleep {d}"), None)
            }
            Step::Switch => {
                let next = controllers.1;
                if let (Some(id), Some(next)) = (&instance, next) {
                    let was = own.take().map(|r| r.which);
                    own = Some(side.spawn(next, Some(id))?);
                    (format!("switch {} -> {}", was.map(name).unwrap_or("-"), name(next)), None)
                } else {
                    ("switch (none on this side)".to_string(), None)
                }
            }
        };
        let mut snapshot = settle(&client, namespace, Some(step)).await?;
        if let (Some(out), Some(map)) = (output, snapshot.as_object_mut()) {
            map.insert("pluginOutput".into(), out);
        }
        records.push(Record { step: text, snapshot });
    }
    drop(own);
    Ok(records)
}

fn aviary_api_instance_label() -> &'static str {
    "argo-rollouts.argoproj.io/controller-instance-id"
}

async fn apply(client: &Client, namespace: &str, obj: &Value) -> Result<(), OracleError> {
    let mut dynamic: DynamicObject = serde_json::from_value(obj.clone())?;
    let types = dynamic.types.clone().ok_or("a manifest without apiVersion/kind")?;
    let gvk = kube::api::GroupVersionKind::try_from(&types)?;
    let (resource, caps) = pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = match caps.scope {
        kube::discovery::Scope::Namespaced => {
            dynamic.metadata.namespace = Some(namespace.to_string());
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    api.patch(&dynamic.name_any(), &PatchParams::apply("aviary-oracle").force(), &Patch::Apply(&dynamic)).await?;
    Ok(())
}

async fn patch(client: &Client, namespace: &str, p: &PatchStep) -> Result<(), OracleError> {
    let (group, version) = match p.kind.as_str() {
        "Rollout" | "AnalysisRun" | "AnalysisTemplate" | "Experiment" => ("argoproj.io", "v1alpha1"),
        "ReplicaSet" => ("apps", "v1"),
        _ => ("", "v1"),
    };
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &p.kind);
    let (resource, _) = pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    match p.subresource.as_deref() {
        Some("status") => {
            api.patch_status(&p.name, &PatchParams::default(), &Patch::Merge(&p.patch)).await?;
        }
        _ => {
            api.patch(&p.name, &PatchParams::default(), &Patch::Merge(&p.patch)).await?;
        }
    }
    Ok(())
}

/// Runs the real plugin: `kubectl-argo-rollouts ARGS --kubeconfig K -n NS`.
async fn plugin(side: &Side, namespace: &str, args: &[String]) -> Result<Value, OracleError> {
    let bin = side.argo_dir.join("kubectl-argo-rollouts");
    let kubeconfig = side.cluster.kubeconfig_path().to_path_buf();
    let (args, namespace) = (args.to_vec(), namespace.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin).args(&args).arg("--kubeconfig").arg(kubeconfig).args(["-n", &namespace]).output()
    })
    .await??;
    Ok(json!({
        "exit": out.status.code(),
        "stdout": normalize_text(&String::from_utf8_lossy(&out.stdout)),
        "stderr": normalize_text(&String::from_utf8_lossy(&out.stderr)),
    }))
}

async fn wait(client: &Client, namespace: &str, w: &Wait) -> Result<(), OracleError> {
    let timeout = match &w.timeout {
        Some(t) => Duration::from_nanos(
            u64::try_from(aviary_api::duration::parse_go_duration(t).map_err(|e| e.to_string())?).unwrap_or(0),
        ),
        None => Duration::from_secs(120),
    };
    let api: Api<DynamicObject> = rollouts(client, namespace).await?;
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(r) = api.get(&w.rollout).await {
            let status = r.data.get("status").cloned().unwrap_or(Value::Null);
            let phase_ok = w.phase.as_ref().is_none_or(|p| status.get("phase").and_then(Value::as_str) == Some(p));
            let step_ok = w.step.is_none_or(|s| status.get("currentStepIndex").and_then(Value::as_i64) == Some(s));
            if phase_ok && step_ok {
                return Ok(());
            }
            last = status;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("timed out after {timeout:?} waiting for {w:?}; last status: {last}").into())
}

async fn rollouts(client: &Client, namespace: &str) -> Result<Api<DynamicObject>, OracleError> {
    let gvk = kube::api::GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout");
    let (resource, _) = pinned_kind(client, &gvk).await?;
    Ok(Api::namespaced_with(client.clone(), namespace, &resource))
}

/// Waits until the namespace's objects stop changing (no change for 3 s; at most 90 s), and returns
/// the normalised snapshot. An AnalysisRun without a phase (created, not yet picked up by its
/// controller) is a moment every controller leaves at once, never a settled state: on a loaded
/// machine it can last longer than 3 s on one side only.
async fn settle(client: &Client, namespace: &str, _step: Option<&Step>) -> Result<Value, OracleError> {
    let started = Instant::now();
    let mut last = snapshot(client, namespace).await?;
    let mut stable_since = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = snapshot(client, namespace).await?;
        if now == last
            && !has_unstarted_run(&now)
            && !polls_soon(client, namespace).await?
            && !scales_down_soon(client, namespace).await?
        {
            if stable_since.elapsed() >= Duration::from_secs(3) {
                return Ok(now);
            }
        } else {
            last = now;
            stable_since = Instant::now();
        }
    }
    Ok(last)
}

/// How soon (or how recently) a Running measurement is due to be polled for it to hold a
/// snapshot back. A `job` measurement is polled √(2·elapsed) seconds apart: a Job that finished
/// in a quiet spell between two polls would otherwise be snapshotted before its controller looked,
/// at a moment that depends on timing, under either controller. Held from 5 s before a poll to
/// 3 s after it, a snapshot settles (3 s unchanged) only between polls at least 11 s apart, once
/// a Job has run for a minute: a long-running Job is still snapshotted mid-run.
const POLL_AHEAD: Duration = Duration::from_secs(5);
const POLL_OVERDUE: Duration = Duration::from_secs(3);

/// Whether an AnalysisRun of the namespace has a Running measurement about to be polled (see
/// [`POLL_AHEAD`]): its state is about to change.
async fn polls_soon(client: &Client, namespace: &str) -> Result<bool, OracleError> {
    let runs: Api<aviary_api::AnalysisRun> = Api::namespaced(client.clone(), namespace);
    let now = chrono::Utc::now();
    Ok(runs.list(&ListParams::default()).await?.items.iter().any(|run| {
        run.status.iter().flat_map(|s| &s.metric_results).any(|r| {
            r.measurements.iter().any(|m| {
                m.phase == aviary_api::AnalysisPhase::Running
                    && m.resume_at.as_ref().is_some_and(|at| due_around(at.0, now))
            })
        })
    }))
}

/// Whether a ReplicaSet of the namespace reaches its `scale-down-deadline` soon (or did
/// recently), in the same window as a poll. A scale-down delay of a few seconds would otherwise
/// end before the snapshot on one side and after it on the other, depending only on how long
/// each side took to go quiet.
async fn scales_down_soon(client: &Client, namespace: &str) -> Result<bool, OracleError> {
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let now = chrono::Utc::now();
    Ok(sets.list(&ListParams::default()).await?.items.iter().any(|rs| {
        rs.annotations()
            .get(aviary_api::rollout::SCALE_DOWN_DEADLINE_ANNOTATION)
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .is_some_and(|at| due_around(at.to_utc(), now))
    }))
}

/// Whether something due `at` falls in the window that holds a snapshot back: from
/// [`POLL_AHEAD`] before it to [`POLL_OVERDUE`] after it.
fn due_around(at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> bool {
    let ahead = chrono::Duration::from_std(POLL_AHEAD).unwrap_or_default();
    let overdue = chrono::Duration::from_std(POLL_OVERDUE).unwrap_or_default();
    at - now <= ahead && now - at <= overdue
}

/// Whether a snapshot holds an AnalysisRun with no phase yet.
fn has_unstarted_run(snapshot: &Value) -> bool {
    snapshot.get("analysisRuns").and_then(Value::as_object).is_some_and(|runs| {
        runs.values().any(|r| r.pointer("/status/phase").and_then(Value::as_str).is_none_or(str::is_empty))
    })
}

/// The namespace's Rollouts, Experiments, ReplicaSets, Services, AnalysisRuns and Events,
/// normalised.
async fn snapshot(client: &Client, namespace: &str) -> Result<Value, OracleError> {
    let dynamic = |kind: &str| kube::api::GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind);
    let mut out = serde_json::Map::new();
    for kind in ["Rollout", "AnalysisRun", "Experiment"] {
        let (resource, _) = pinned_kind(client, &dynamic(kind)).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let mut objects = serde_json::Map::new();
        for o in api.list(&ListParams::default()).await? {
            let mut v = normalize_object(serde_json::to_value(&o)?);
            // An Experiment has no status subresource either: its generation counts its status
            // writes, one per change of a template's pod counts as each side happens to see them.
            if kind == "Experiment"
                && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("generation");
            }
            if kind == "AnalysisRun" && polls_a_job(&v) {
                // An AnalysisRun has no status subresource, so its generation counts its writes;
                // a Job measurement is written at each poll, and how many polls a Job takes to
                // finish is timing, under either controller. The measurements themselves are
                // compared.
                if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("generation");
                }
            }
            objects.insert(o.name_any(), v);
        }
        out.insert(format!("{}s", lower_first(kind)), Value::Object(objects));
    }
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let mut sets = serde_json::Map::new();
    for r in rs.list(&ListParams::default()).await? {
        let v = serde_json::to_value(&r)?;
        sets.insert(
            r.name_any(),
            normalize_object(json!({
                "metadata": {"labels": v.pointer("/metadata/labels"), "annotations": v.pointer("/metadata/annotations"),
                             "ownerReferences": v.pointer("/metadata/ownerReferences")},
                "spec": {"replicas": v.pointer("/spec/replicas"), "selector": v.pointer("/spec/selector"),
                         "minReadySeconds": v.pointer("/spec/minReadySeconds"),
                         "template": {"metadata": v.pointer("/spec/template/metadata"),
                                      "spec": {"affinity": v.pointer("/spec/template/spec/affinity")}}},
                "status": {"replicas": v.pointer("/status/replicas"), "availableReplicas": v.pointer("/status/availableReplicas")},
            })),
        );
    }
    out.insert("replicaSets".into(), Value::Object(sets));
    let svc: Api<Service> = Api::namespaced(client.clone(), namespace);
    let mut services = serde_json::Map::new();
    for s in svc.list(&ListParams::default()).await? {
        let v = serde_json::to_value(&s)?;
        services.insert(
            s.name_any(),
            normalize_object(json!({"metadata": {"annotations": v.pointer("/metadata/annotations")},
                                    "spec": {"selector": v.pointer("/spec/selector")}})),
        );
    }
    out.insert("services".into(), Value::Object(services));
    for (key, group, version, kind) in ROUTING_KINDS {
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let resource = kube::api::ApiResource::from_gvk(&gvk);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let mut objects = serde_json::Map::new();
        for o in api.list(&ListParams::default()).await? {
            let v = serde_json::to_value(&o)?;
            // A name with a UID in it (a Job named after its AnalysisRun) is told apart by its
            // owner once the UID is normalised away.
            let name = o.name_any();
            let key = match (find_uuid(&name), o.owner_references().first()) {
                (Some(_), Some(owner)) => format!("{}/{}", owner.name, replace_uuids(&name)),
                _ => replace_uuids(&name),
            };
            objects.insert(
                key,
                normalize_object(json!({
                    "metadata": {"labels": v.pointer("/metadata/labels"), "annotations": v.pointer("/metadata/annotations"),
                                 "ownerReferences": v.pointer("/metadata/ownerReferences")},
                    "spec": v.pointer("/spec"),
                })),
            );
        }
        if !objects.is_empty() {
            out.insert(key.into(), Value::Object(objects));
        }
    }
    let ev: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut events = BTreeSet::new();
    let mut scaling = Vec::new();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for e in ev.list(&ListParams::default()).await? {
        let kind = e.involved_object.kind.clone().unwrap_or_default();
        if !matches!(kind.as_str(), "Rollout" | "AnalysisRun" | "Experiment") {
            continue;
        }
        let object = format!("{kind}/{}", e.involved_object.name.clone().unwrap_or_default());
        let count = e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1).max(1);
        *totals.entry(object).or_default() += i64::from(count);
        let head = format!(
            "{kind}/{} {} {}",
            e.involved_object.name.clone().unwrap_or_default(),
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
        );
        let mut message = normalize_text(&e.message.clone().unwrap_or_default());
        // An experiment's analysis goes Pending (created) → no phase (its run not started yet) →
        // Running; whether the experiment is reconciled in between is a race under either
        // controller (Argo's own runs show both), so `from  -> Running` and `from Pending ->
        // Running` are one event.
        if e.reason.as_deref() == Some("AnalysisRunRunning")
            && message.contains("' transitioned from Pending -> Running")
        {
            message = message.replace("' transitioned from Pending -> Running", "' transitioned from -> Running");
        }
        if e.reason.as_deref() == Some("ScalingReplicaSet") {
            for at in event_micros(&e) {
                scaling.push((at, head.clone(), message.clone()));
            }
        } else {
            events.insert(format!("{head}: {message}"));
        }
    }
    events.extend(fold_scaling(scaling));
    out.insert(EVENT_TOTALS.into(), serde_json::to_value(totals)?);
    // A set: which events were recorded matters, not their order or count (controllers
    // reconcile at their own pace; client-go folds repeats into a count).
    out.insert("events".into(), Value::Object(events.into_iter().map(|e| (e, Value::Bool(true))).collect()));
    Ok(Value::Object(out))
}

/// When an event happened, in microseconds: its first occurrence and, when it repeated, its
/// last one. client-go folds a repeat of the same message into the first event (count and
/// `lastTimestamp`, name unchanged) and events.k8s.io folds it into a series, so a repeated
/// `Scaled down ... from 4 to 3` is one object standing for two moments; ordering it only by its
/// last moment would put an early scale after later ones. The first moment is the event time or
/// the nanoseconds both client-go and kube-rs put in the name (first timestamp's seconds as a
/// fallback); the last is the series' last observation or the last timestamp.
fn event_micros(e: &Event) -> Vec<(i64, i64)> {
    let micros = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| t.0.as_second().saturating_mul(1_000_000);
    let named = e
        .metadata
        .name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .and_then(|(_, hex)| i64::from_str_radix(hex, 16).ok())
        .map(|nanos| nanos / 1000);
    let first = e
        .event_time
        .as_ref()
        .map(|t| t.0.as_microsecond())
        .or(named)
        .or_else(|| e.first_timestamp.as_ref().map(micros))
        .unwrap_or(0);
    let last = e
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0.as_microsecond())
        .or_else(|| e.last_timestamp.as_ref().map(micros))
        .unwrap_or(first);
    let repeated = e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1) > 1;
    let seq = named.unwrap_or(0);
    if repeated && last > first { vec![(first, seq), (last, seq)] } else { vec![(first, seq)] }
}

/// The snapshot's key for how many events each object got (not compared itself).
const EVENT_TOTALS: &str = "eventTotals";

/// client-go's event spam filter lets 25 events per object through, then one every 5 minutes
/// (`defaultSpamBurst`, `defaultSpamQPS`): Argo's controller drops the events of a busy rollout
/// past that point, while Aviary's recorder does not. Past it, Aviary may have events Argo
/// does not; Argo's must still all be there.
const CLIENT_GO_SPAM_BURST: i64 = 25;

/// `ScalingReplicaSet` events folded into one per ReplicaSet and direction, from the first
/// size to the last: `Scaled down ReplicaSet X (revision 1) from 3 to 1`. How many steps a
/// scale takes depends on when each controller sees pods become available (Aviary reacts
/// sooner and may take 3→2→1 where Argo took 3→1); where the scale started and ended does
/// not, and the settled ReplicaSet sizes are compared exactly besides.
fn fold_scaling(mut scaling: Vec<((i64, i64), String, String)>) -> Vec<String> {
    scaling.sort();
    let mut folded: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for (_, head, message) in scaling {
        let Some((what, sizes)) = message.rsplit_once(" from ") else {
            folded.insert((head, message.clone()), (message, String::new()));
            continue;
        };
        let Some((from, to)) = sizes.split_once(" to ") else { continue };
        folded
            .entry((head, what.to_string()))
            .and_modify(|(_, last)| *last = to.to_string())
            .or_insert_with(|| (from.to_string(), to.to_string()));
    }
    folded
        .into_iter()
        .map(
            |((head, what), (from, to))| {
                if to.is_empty() { format!("{head}: {what}") } else { format!("{head}: {what} from {from} to {to}") }
            },
        )
        .collect()
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// Drops what legitimately differs between two clusters (uids, versions, times, managed fields,
/// the last-applied annotation) and keys lists by what identifies their items.
pub fn normalize_object(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "namespace"] {
            meta.remove(k);
        }
        if let Some(owners) = meta.get_mut("ownerReferences").and_then(Value::as_array_mut) {
            for o in owners.iter_mut().filter_map(Value::as_object_mut) {
                o.remove("uid");
            }
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    normalize_values(&mut v);
    v
}

fn normalize_values(v: &mut Value) {
    match v {
        Value::String(s) if looks_like_time(s) => *s = "<time>".into(),
        // Object UIDs inside names and labels (a Job named `<run-uid>.<metric>.<n>`, a Job's
        // `controller-uid` selector): each side's API server made its own.
        Value::String(s) if find_uuid(s).is_some() => *s = replace_uuids(s),
        Value::Array(items) => {
            // Conditions: keyed by type, so that their order (which differs by reconcile timing)
            // does not matter, while each one's content does.
            if items.iter().all(|i| i.get("type").is_some() && i.get("reason").is_some()) && !items.is_empty() {
                let mut keyed = serde_json::Map::new();
                for mut item in std::mem::take(items) {
                    normalize_values(&mut item);
                    let key = item.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
                    keyed.insert(key, item);
                }
                *v = Value::Object(keyed);
                return;
            }
            items.iter_mut().for_each(normalize_values);
        }
        Value::Object(map) => {
            // An AnalysisRun's metric results: Argo appends each metric's result when its first
            // measurement returns (one goroutine per metric), so their order is a race; keyed by
            // metric name, as the conditions are by type.
            if let Some(Value::Array(results)) = map.get_mut("metricResults") {
                let mut keyed = serde_json::Map::new();
                for mut item in std::mem::take(results) {
                    normalize_values(&mut item);
                    let key = item.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                    keyed.insert(key, item);
                }
                map.insert("metricResults".into(), Value::Object(keyed));
            }
            map.iter_mut().filter(|(k, _)| *k != "metricResults").for_each(|(_, v)| normalize_values(v));
            if map.keys().any(|k| find_uuid(k).is_some()) {
                *map = std::mem::take(map).into_iter().map(|(k, v)| (replace_uuids(&k), v)).collect();
            }
        }
        _ => {}
    }
}

/// Whether a (normalised) AnalysisRun has a measurement of the `job` provider.
fn polls_a_job(run: &Value) -> bool {
    run.pointer("/status/metricResults").and_then(Value::as_object).is_some_and(|results| {
        results.values().any(|r| {
            r["measurements"].as_array().is_some_and(|ms| ms.iter().any(|m| m.pointer("/metadata/job-name").is_some()))
        })
    })
}

/// Where the first UUID (8-4-4-4-12 lowercase hex, as Kubernetes writes UIDs) in `s` starts.
fn find_uuid(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(35)).find(|&i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
    })
}

/// `s` with every UUID replaced by `<uid>`.
fn replace_uuids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = find_uuid(rest) {
        out.push_str(&rest[..at]);
        out.push_str("<uid>");
        rest = &rest[at + 36..];
    }
    out.push_str(rest);
    out
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && b.get(10) == Some(&b'T')
        && b.get(13) == Some(&b':')
        && b.iter().take(4).all(u8::is_ascii_digit)
}

/// Text output with what legitimately differs replaced: ages (`5s`, `2m30s`) and the time left
/// before a scale-down (`delay:7s`), timestamps, pod
/// names (their random suffix), UIDs (in the names of Jobs), client-go's `(combined from similar events): ` prefix, and runs
/// of spaces (column widths follow the ages).
pub fn normalize_text(s: &str) -> String {
    let s = s.replace("(combined from similar events): ", "");
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let raw: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        let words: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, word)| {
                // In a tree, the word before `Pod` is a pod's name: an experiment's pods are
                // `<experiment>-<template>-<5 random characters>`, with no hash to recognise.
                let before_pod = raw.get(i + 1).is_some_and(|next| *next == "Pod") && has_random_suffix(word);
                let (core, trail) = word.split_at(word.trim_end_matches(['\n', ',', '.', ')']).len());
                let delay = core.rfind("delay:").filter(|at| is_age(&core[at + "delay:".len()..]));
                let normalized = if is_age(core) {
                    "<age>".to_string()
                } else if let Some(at) = delay {
                    // The time left before a scale-down (`delay:7s`), after any tags.
                    format!("{}delay:<age>", &core[..at])
                } else if looks_like_time(core) {
                    "<time>".to_string()
                } else if is_pod_name(core) || before_pod {
                    "<pod>".to_string()
                } else if find_uuid(core).is_some() {
                    replace_uuids(core)
                } else {
                    core.to_string()
                };
                format!("{normalized}{trail}")
            })
            .collect();
        out.push_str(&words.join(" "));
    }
    out
}

fn is_age(word: &str) -> bool {
    !word.is_empty()
        && word.chars().all(|c| c.is_ascii_digit() || matches!(c, 'd' | 'h' | 'm' | 's'))
        && word.chars().next().is_some_and(|c| c.is_ascii_digit())
        && word.chars().last().is_some_and(|c| matches!(c, 'd' | 'h' | 'm' | 's'))
}

/// `<anything>-<5 random characters>`.
fn has_random_suffix(word: &str) -> bool {
    word.rsplit_once('-').is_some_and(|(base, suffix)| {
        !base.is_empty() && suffix.len() == 5 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// `<rollout>-<pod template hash>-<5 random characters>`: a pod of a ReplicaSet.
fn is_pod_name(word: &str) -> bool {
    // A ReplicaSet name longer than 57 characters makes a pod name of exactly 63: the API server
    // cuts the generateName base (`<replicaset>-`) to 58 and adds its 5 random characters.
    if word.len() == 63 && word.bytes().rev().take(5).all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return true;
    }
    let mut parts = word.rsplitn(3, '-');
    let (Some(suffix), Some(hash), Some(_)) = (parts.next(), parts.next(), parts.next()) else { return false };
    suffix.len() == 5
        && (8..=10).contains(&hash.len())
        && suffix.chars().chain(hash.chars()).all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// One difference between the sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// After which step.
    pub step: String,
    /// The JSON path.
    pub path: String,
    /// Argo's value (`<absent>` when missing).
    pub argo: String,
    /// Aviary's value.
    pub aviary: String,
}

/// Compares the records of both sides, step by step; differences listed in `deliberate` are left
/// out.
pub fn compare(scenario: &str, argo: &[Record], aviary: &[Record], deliberate: &[Deliberate]) -> Vec<Difference> {
    let mut out = Vec::new();
    for (i, (a, b)) in argo.iter().zip(aviary).enumerate() {
        let (fa, fb) = (flatten(&a.snapshot), flatten(&b.snapshot));
        let keys: BTreeSet<&String> = fa.keys().chain(fb.keys()).filter(|k| !k.starts_with(EVENT_TOTALS)).collect();
        let argo_dropped = |k: &str| {
            let Some(object) = k.strip_prefix("events.").and_then(|e| e.split(' ').next()) else { return false };
            a.snapshot.get(EVENT_TOTALS).and_then(|t| t.get(object)).and_then(Value::as_i64).unwrap_or(0)
                >= CLIENT_GO_SPAM_BURST
        };
        for k in keys {
            let (va, vb) = (fa.get(k), fb.get(k));
            if va == vb || deliberate.iter().any(|d| d.covers(scenario, i, k)) {
                continue;
            }
            if va.is_none() && argo_dropped(k) {
                continue;
            }
            // A scale folded from Argo's events ends where its events were cut: the same scale
            // (ReplicaSet, direction, starting size) on Aviary's side is the match.
            if vb.is_none() && k.contains(" ScalingReplicaSet: ") && argo_dropped(k) {
                let start = |key: &str| key.rsplit_once(" to ").map(|(head, _)| head.to_string());
                if fb.keys().any(|other| start(other).is_some() && start(other) == start(k)) {
                    continue;
                }
            }
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "<absent>".into());
            out.push(Difference {
                step: format!("{i}: {}", a.step),
                path: k.clone(),
                argo: show(va),
                aviary: show(vb),
            });
        }
    }
    if argo.len() != aviary.len() {
        out.push(Difference {
            step: "-".into(),
            path: "steps".into(),
            argo: argo.len().to_string(),
            aviary: aviary.len().to_string(),
        });
    }
    out
}

fn flatten(v: &Value) -> BTreeMap<String, String> {
    fn walk(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    walk(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{path}[{i}]"), out);
                }
            }
            Value::Null => {}
            other => {
                out.insert(path, other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

/// Whether a dotted path matches a pattern (`*` one segment, `**` any number of segments).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    fn segments(s: &str) -> Vec<&str> {
        s.split('.').collect()
    }
    fn go(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(pp), Some(ss)) => segment_matches(pp, ss) && go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    fn segment_matches(p: &str, s: &str) -> bool {
        match p.split_once('*') {
            None => p == s,
            Some((pre, post)) => s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post),
        }
    }
    go(&segments(pattern), &segments(path))
}

/// The readable report of a scenario's differences.
pub fn report(scenario: &str, diffs: &[Difference]) -> String {
    let mut out = format!("scenario {scenario}: {} difference(s) from Argo\n", diffs.len());
    let mut last_step = "";
    for d in diffs {
        if d.step != last_step {
            out.push_str(&format!("  after step {}:\n", d.step));
            last_step = &d.step;
        }
        out.push_str(&format!("    {}\n      argo:   {}\n      aviary: {}\n", d.path, d.argo, d.aviary));
    }
    out
}

/// The log tails of both sides, for a failure message.
pub fn logs(argo: &Side, aviary: &Side) -> String {
    format!("{}\n{}", argo.log_tail(20), aviary.log_tail(20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_a_phase_is_not_settled() {
        assert!(has_unstarted_run(&json!({"analysisRuns": {"r": {"status": null}}})));
        assert!(has_unstarted_run(&json!({"analysisRuns": {"r": {"status": {"phase": ""}}}})));
        assert!(!has_unstarted_run(&json!({"analysisRuns": {"r": {"status": {"phase": "Running"}}}})));
        assert!(!has_unstarted_run(&json!({"analysisRuns": {}})));
    }

    #[test]
    fn the_time_left_before_a_scale_down_is_normalised_after_any_tags() {
        let out = normalize_text(
            "app-1 ReplicaSet Healthy 5s delay:1s\napp-2 ReplicaSet \u{1b}[32mstable\u{1b}[0m,delay:12s\n",
        );
        assert_eq!(
            out,
            "app-1 ReplicaSet Healthy <age> delay:<age>\napp-2 ReplicaSet \u{1b}[32mstable\u{1b}[0m,delay:<age>\n"
        );
        assert_eq!(normalize_text("delay:passed"), "delay:passed");
    }

    /// UIDs in names, labels and keys (a Job named after its AnalysisRun's UID) are `<uid>`.
    #[test]
    fn uids_inside_strings_and_keys_are_normalised() {
        let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let v = normalize_object(json!({"spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "byName": {format!("{uid}.sleep-job.1"): {"job-name": format!("{uid}.sleep-job.1")}},
            "notAUid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f"
        }}));
        assert_eq!(
            v,
            json!({"spec": {
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "<uid>"}},
                "byName": {"<uid>.sleep-job.1": {"job-name": "<uid>.sleep-job.1"}},
                "notAUid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f"
            }})
        );
        assert_eq!(replace_uuids(&format!("{uid}/{uid}")), "<uid>/<uid>");
        assert_eq!(normalize_text(&format!("⊞ {uid}.sleep-job.1 Job")), "⊞ <uid>.sleep-job.1 Job");
    }

    /// Pod names lose their random suffix, also when the API server cut a long ReplicaSet name.
    #[test]
    fn pod_names_are_normalised_also_when_cut_to_63_characters() {
        let long = "istio-subset-split-in-stable-downscale-after-canary-abort-429ng";
        assert_eq!(long.len(), 63);
        assert_eq!(normalize_text(&format!("□ {long} Pod Running\n")), "□ <pod> Pod Running\n");
        assert_eq!(normalize_text("□ app-5f8b7c9d6-4xkzq Pod"), "□ <pod> Pod");
        // Neither a ReplicaSet name nor a 62-character word.
        assert_eq!(normalize_text("app-5f8b7c9d6 ReplicaSet"), "app-5f8b7c9d6 ReplicaSet");
        let short = &long[1..];
        assert_eq!(normalize_text(short), short);
    }

    /// Argo's run of canary-scale-mid-rollout went 4→3 (step 1), later 6→4→3→0 (full promotion):
    /// client-go folded the second `from 4 to 3` into the first event, so the event stands for
    /// both moments and the fold must still start at 4.
    #[test]
    fn a_repeated_scaling_event_counts_at_its_first_and_last_moment() {
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": "app.18ed18e5719e0a00"},
            "involvedObject": {"kind": "Rollout", "name": "app"},
            "reason": "ScalingReplicaSet",
            "message": "Scaled down ReplicaSet app-1 (revision 1) from 4 to 3",
            "count": 2,
            "firstTimestamp": "2026-12-01T10:00:00Z",
            "lastTimestamp": "2026-12-01T10:05:00Z",
        }))
        .unwrap();
        let moments = event_micros(&event);
        assert_eq!(moments.len(), 2, "{moments:?}");
        assert!(moments[0].0 < moments[1].0, "{moments:?}");
        let head = "Rollout/app Normal ScalingReplicaSet".to_string();
        let mut scaling: Vec<_> =
            moments.into_iter().map(|at| (at, head.clone(), event.message.clone().unwrap())).collect();
        let start = scaling[0].0.0;
        let later = |dt: i64, m: &str| ((start + dt, 0), head.clone(), m.to_string());
        scaling.push(later(100_000_000, "Scaled down ReplicaSet app-1 (revision 1) from 6 to 4"));
        scaling.push(later(400_000_000, "Scaled down ReplicaSet app-1 (revision 1) from 3 to 0"));
        assert_eq!(
            fold_scaling(scaling),
            vec!["Rollout/app Normal ScalingReplicaSet: Scaled down ReplicaSet app-1 (revision 1) from 4 to 0"]
        );
    }

    #[test]
    fn scaling_events_fold_to_first_and_last_size_per_direction() {
        let ev = |t: i64, m: &str| ((t, t), "Rollout/app Normal ScalingReplicaSet".to_string(), m.to_string());
        let folded = fold_scaling(vec![
            ev(3, "Scaled down ReplicaSet app-1 (revision 1) from 2 to 1"),
            ev(2, "Scaled down ReplicaSet app-1 (revision 1) from 3 to 2"),
            ev(1, "Scaled up ReplicaSet app-2 (revision 2) from 0 to 1"),
            ev(4, "Scaled up ReplicaSet app-2 (revision 2) from 1 to 4"),
        ]);
        assert_eq!(
            folded,
            vec![
                "Rollout/app Normal ScalingReplicaSet: Scaled down ReplicaSet app-1 (revision 1) from 3 to 1",
                "Rollout/app Normal ScalingReplicaSet: Scaled up ReplicaSet app-2 (revision 2) from 0 to 4",
            ]
        );
    }
}
