//! `aviary dashboard`: a web UI on localhost for the Rollouts of a namespace, one Rollout's tree,
//! its AnalysisRuns as charts, and the plugin registry; with the CLI's actions.
//!
//! The page is the files of `host/cli/dashboard/` (HTML, CSS and one ES module, no build step and
//! nothing fetched from elsewhere at run time), embedded in the binary. It polls this server's
//! JSON API, which reads the cluster with the CLI's connection and the CLI's own code: the list is
//! `list rollouts`' rows, the tree `get rollout`'s view, and every action the patch the CLI's
//! command sends. It reads and writes only the shared API (`argoproj.io/v1alpha1`), so it works
//! against Aviary's controller and Argo's alike; the plugin registry page reads Aviary's
//! ConfigMap and, when `--controller-metrics` is reachable, the controller's plugin metrics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use aviary_api::{AnalysisRun, Rollout};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kubeargs::{Connection, KubeArgs};
use super::{follow, list, ops};
use crate::render::info::rollout_info;

const INDEX: &str = include_str!("../../dashboard/index.html");
const APP: &str = include_str!("../../dashboard/app.js");
const STYLE: &str = include_str!("../../dashboard/style.css");

/// `aviary dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to serve on (on 127.0.0.1).
    #[arg(long, default_value_t = 3100)]
    pub port: u16,
    /// The address to bind (default: loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
    /// The namespace of Aviary's controller (its plugin registry ConfigMap `aviary-config`).
    #[arg(long, default_value = "argo-rollouts")]
    pub controller_namespace: String,
    /// The controller's metrics endpoint, for the plugins' calls, failures and latency.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8090/metrics")]
    pub controller_metrics: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

struct App {
    base: Connection,
    controller_namespace: String,
    controller_metrics: String,
    http: reqwest::Client,
}

type Shared = Arc<App>;

/// An error as the page shows it: the message, with 400 for a request the user can fix.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        let not_found = e.chain().any(|c| c.to_string().contains("not found"));
        ApiError(if not_found { StatusCode::NOT_FOUND } else { StatusCode::BAD_GATEWAY }, format!("{e:#}"))
    }
}

#[derive(Deserialize)]
struct Ns {
    ns: Option<String>,
}

impl App {
    fn conn(&self, ns: &Ns) -> Connection {
        let mut c = self.base.clone();
        if let Some(ns) = ns.ns.as_ref().filter(|n| !n.is_empty()) {
            c.namespace = ns.clone();
        }
        c
    }
}

/// Runs the dashboard until Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let base = args.kube.connect().await?;
        let addr = SocketAddr::new(args.address, args.port);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        println!("Aviary dashboard: {}", url(&listener, &base.namespace)?);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(listener, base, args.controller_namespace, args.controller_metrics, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The page of `namespace` on `listener`.
pub fn url(listener: &tokio::net::TcpListener, namespace: &str) -> anyhow::Result<String> {
    Ok(format!("http://{}/#/ns/{namespace}", listener.local_addr()?))
}

/// Serves the dashboard on `listener` until `shutdown` completes (`aviary dashboard`, and the
/// demo, which serves it beside its controller).
pub async fn serve(
    listener: tokio::net::TcpListener,
    base: Connection,
    controller_namespace: String,
    controller_metrics: String,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = Arc::new(App {
        base,
        controller_namespace,
        controller_metrics,
        http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build()?,
    });
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

fn router(app: Shared) -> axum::Router {
    axum::Router::new()
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) }))
        .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP) }))
        .route("/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/api/context", get(context))
        .route("/api/rollouts", get(rollouts))
        .route("/api/rollouts/{name}", get(rollout))
        .route("/api/rollouts/{name}/{action}", post(action))
        .route("/api/analysisruns/{name}", get(analysis_run))
        .route("/api/plugins", get(plugins))
        .with_state(app)
}

async fn context(State(app): State<Shared>) -> Json<Value> {
    Json(json!({"namespace": app.base.namespace, "controllerNamespace": app.controller_namespace}))
}

/// `list rollouts`' rows, with each rollout's images.
async fn rollouts(State(app): State<Shared>, Query(ns): Query<Ns>) -> Result<Json<Value>, ApiError> {
    let conn = app.conn(&ns);
    let api: Api<Rollout> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let items = api.list(&Default::default()).await.context("listing rollouts")?.items;
    let rows: Vec<Value> = items
        .iter()
        .map(|r| {
            let mut row = serde_json::to_value(list::row(r)).unwrap_or(Value::Null);
            let images: Vec<String> = r
                .spec
                .template
                .as_ref()
                .and_then(|t| t.spec.as_ref())
                .map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect())
                .unwrap_or_default();
            if let Value::Object(m) = &mut row {
                m.insert("images".into(), json!(images));
                m.insert("message".into(), json!(r.status.as_ref().map(|s| s.message.clone()).unwrap_or_default()));
            }
            row
        })
        .collect();
    Ok(Json(json!({"namespace": conn.namespace, "rollouts": rows})))
}

/// `get rollout -o json`'s view.
async fn rollout(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Query(ns): Query<Ns>,
) -> Result<Json<Value>, ApiError> {
    let conn = app.conn(&ns);
    let objects = follow::fetch(&conn, &name).await?;
    let info = rollout_info(&objects, Utc::now());
    let containers: Vec<String> = objects
        .rollout
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let mut v = serde_json::to_value(info).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Value::Object(m) = &mut v {
        m.insert("containers".into(), json!(containers));
    }
    Ok(Json(v))
}

/// One AnalysisRun as stored: its metrics (conditions) and measurements.
async fn analysis_run(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Query(ns): Query<Ns>,
) -> Result<Json<AnalysisRun>, ApiError> {
    let conn = app.conn(&ns);
    let api: Api<AnalysisRun> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let run = api.get_opt(&name).await.context("reading the AnalysisRun")?;
    run.map(Json).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("AnalysisRun {name:?} not found")))
}

/// What an action may carry: `set-image`'s container and image, `undo`'s revision.
#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    container: Option<String>,
    image: Option<String>,
    revision: Option<i64>,
}

#[derive(Serialize)]
struct ActionDone {
    message: String,
}

/// The CLI's actions: `promote`, `promote-full`, `abort`, `retry`, `pause`, `restart`, `undo`,
/// `set-image`, each sending exactly what the CLI command sends.
async fn action(
    State(app): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    Query(ns): Query<Ns>,
    body: Option<Json<ActionBody>>,
) -> Result<Json<ActionDone>, ApiError> {
    let conn = app.conn(&ns);
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let message = match action.as_str() {
        "promote" | "promote-full" => {
            let ro = ops::read(&conn, &name).await?;
            ops::apply(&conn, &name, &ops::promote_patches(&ro, action == "promote-full")).await?;
            format!("rollout '{name}' {}", if action == "promote" { "promoted" } else { "fully promoted" })
        }
        "undo" => ops::undo_to(&conn, &name, body.revision.unwrap_or(0)).await?,
        "set-image" => {
            let (Some(container), Some(image)) = (body.container.filter(|c| !c.is_empty()), body.image) else {
                return Err(ApiError(StatusCode::BAD_REQUEST, "set-image needs a container and an image".into()));
            };
            if image.trim().is_empty() {
                return Err(ApiError(StatusCode::BAD_REQUEST, "the image is empty".into()));
            }
            ops::set_image(&conn, &name, &container, image.trim()).await?;
            format!("rollout \"{name}\" image updated")
        }
        other => {
            let Some(patches) = ops::simple_patches(other, Utc::now()) else {
                return Err(ApiError(StatusCode::BAD_REQUEST, format!("no action {other:?}")));
            };
            ops::apply(&conn, &name, &patches).await?;
            let past = match other {
                "abort" => "aborted",
                "retry" => "retried",
                "pause" => "paused",
                _ => "restarted",
            };
            format!("rollout '{name}' {past}")
        }
    };
    Ok(Json(ActionDone { message }))
}

/// The plugin registry: the first-party plugins and the controller's `aviary-config` entries,
/// with each plugin's calls by outcome and mean latency from the controller's metrics.
async fn plugins(State(app): State<Shared>) -> Result<Json<Value>, ApiError> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for b in aviary_plugins::builtin::BUILTINS {
        out.insert(
            b.name.to_string(),
            json!({
                "name": b.name,
                "kind": b.kind.as_str(),
                "source": "first-party",
                "argoName": b.argo_name,
                "sha256": aviary_plugins::cache::sha256_hex(b.bytes),
                "allowedHosts": b.host_field.map(|f| vec![format!("the host of its `{f}`")]).unwrap_or_default(),
                "kubernetes": b.kubernetes.iter().map(|g| json!({"apiGroup": g.api_group, "kinds": g.kinds, "verbs": g.verbs.iter().map(|v| format!("{v:?}").to_lowercase()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            }),
        );
    }
    let cms: Api<ConfigMap> = Api::namespaced(app.base.client.clone(), &app.controller_namespace);
    let mut registry_error = None;
    match cms.get_opt("aviary-config").await {
        Ok(Some(cm)) => {
            let text = cm.data.unwrap_or_default().get("plugins.yaml").cloned().unwrap_or_default();
            match serde_norway::from_str::<aviary_plugins::RegistryFile>(&text) {
                Ok(file) => {
                    for e in file.plugins {
                        out.insert(
                            e.name.clone(),
                            json!({
                                "name": e.name,
                                "kind": e.kind.as_str(),
                                "source": "registry",
                                "location": e.location,
                                "sha256": e.sha256,
                                "allowedHosts": e.allowed_hosts,
                                "kubernetes": e.kubernetes,
                                "timeout": e.timeout,
                                "memoryLimit": e.memory_limit,
                            }),
                        );
                    }
                }
                Err(e) => registry_error = Some(format!("aviary-config plugins.yaml: {e}")),
            }
        }
        Ok(None) => {}
        Err(e) => registry_error = Some(format!("reading ConfigMap aviary-config: {e}")),
    }
    let metrics = match app.http.get(&app.controller_metrics).send().await {
        Ok(r) => r.text().await.ok().map(|t| plugin_metrics(&t)),
        Err(_) => None,
    };
    if let Some(m) = &metrics {
        // A first-party plugin's calls are counted under the name a template used for it
        // (`web` or `aviary/web`): both are its.
        let argo: BTreeMap<&str, &str> =
            aviary_plugins::builtin::BUILTINS.iter().filter_map(|b| Some((b.argo_name?, b.name))).collect();
        for (name, stats) in m {
            let key = argo.get(name.as_str()).copied().unwrap_or(name.as_str());
            if let Some(Value::Object(p)) = out.get_mut(key) {
                let merged = match p.get("stats") {
                    Some(previous) => merge_stats(previous, stats),
                    None => stats.clone(),
                };
                p.insert("stats".into(), merged);
            }
        }
    }
    Ok(Json(json!({
        "plugins": out.into_values().collect::<Vec<_>>(),
        "registryError": registry_error,
        "metrics": metrics.is_some(),
    })))
}

/// Two plugin-metrics entries as one: calls added by outcome, the means weighted by calls.
fn merge_stats(a: &Value, b: &Value) -> Value {
    let calls = |v: &Value| -> BTreeMap<String, f64> {
        v["calls"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0))).collect())
            .unwrap_or_default()
    };
    let (ca, cb) = (calls(a), calls(b));
    let (na, nb) = (ca.values().sum::<f64>(), cb.values().sum::<f64>());
    let mut all = ca;
    for (k, v) in cb {
        *all.entry(k).or_default() += v;
    }
    let mean = |v: &Value| v["meanMillis"].as_f64().unwrap_or(0.0);
    let total = na + nb;
    let mean_ms = if total > 0.0 { (mean(a) * na + mean(b) * nb) / total } else { 0.0 };
    json!({"calls": all, "meanMillis": mean_ms})
}

/// Per plugin: calls by outcome and the mean call latency, from the controller's
/// `aviary_plugin_calls_total` and `aviary_plugin_call_duration_seconds`.
fn plugin_metrics(text: &str) -> BTreeMap<String, Value> {
    let label = |line: &str, key: &str| -> Option<String> {
        let start = line.find(&format!("{key}=\""))?.checked_add(key.len())?.checked_add(2)?;
        let rest = line.get(start..)?;
        Some(rest.get(..rest.find('"')?)?.to_string())
    };
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let mut calls: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(plugin) = label(line, "plugin") else { continue };
        if line.starts_with("aviary_plugin_calls_total{") {
            let outcome = label(line, "outcome").unwrap_or_default();
            *calls.entry(plugin).or_default().entry(outcome).or_default() += value(line);
        } else if line.starts_with("aviary_plugin_call_duration_seconds_sum{") {
            sums.entry(plugin).or_default().0 += value(line);
        } else if line.starts_with("aviary_plugin_call_duration_seconds_count{") {
            sums.entry(plugin).or_default().1 += value(line);
        }
    }
    calls
        .into_iter()
        .map(|(plugin, outcomes)| {
            let (sum, count) = sums.get(&plugin).copied().unwrap_or_default();
            let mean_ms = if count > 0.0 { sum / count * 1000.0 } else { 0.0 };
            (plugin, json!({"calls": outcomes, "meanMillis": mean_ms}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_metrics_sum_outcomes_and_average_latency() {
        let text = "# HELP x\n\
            aviary_plugin_calls_total{plugin=\"aviary/web\",operation=\"measure\",outcome=\"ok\"} 3\n\
            aviary_plugin_calls_total{plugin=\"aviary/web\",operation=\"resume\",outcome=\"ok\"} 1\n\
            aviary_plugin_calls_total{plugin=\"aviary/web\",operation=\"measure\",outcome=\"timeout\"} 2\n\
            aviary_plugin_call_duration_seconds_sum{plugin=\"aviary/web\",operation=\"measure\"} 0.5\n\
            aviary_plugin_call_duration_seconds_count{plugin=\"aviary/web\",operation=\"measure\"} 5\n";
        let m = plugin_metrics(text);
        assert_eq!(m["aviary/web"]["calls"], json!({"ok": 4.0, "timeout": 2.0}));
        assert_eq!(m["aviary/web"]["meanMillis"], json!(100.0));
    }
}
