//! What the notification tests share: Argo's own notification catalog (the ConfigMap Argo
//! Rollouts ships, read from its Go module), a loopback receiver that records every request, and
//! the ConfigMap and Secret pointing Argo's `webhook` and `slack` services at it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_test_support::e2e::{CONTROLLER_NS, eventually_ok, repo};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A loopback HTTP server that records every request; paths under `/fail` answer 500, Slack's
/// `chat.postMessage` answers `{"ok": true}`, anything else 200.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let seen = seen.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                let path = parts.uri.path().to_string();
                seen.lock().unwrap().push(Received {
                    method: parts.method.to_string(),
                    path: path.clone(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
                if path.starts_with("/fail") {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "receiver down".to_string())
                } else if path.ends_with("/chat.postMessage") {
                    (axum::http::StatusCode::OK, json!({"ok": true, "ts": "1.0"}).to_string())
                } else {
                    (axum::http::StatusCode::OK, "ok".to_string())
                }
            }
        });
        // Served from a thread of its own, so that it outlives the test (and the runtime) that
        // started it: the tests of a binary share it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, router).await;
            });
        });
        Receiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn at(&self, prefix: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path.starts_with(prefix)).collect()
    }
}

/// Argo Rollouts' notification catalog (`manifests/notifications-install.yaml` of the Argo
/// version tests/argo builds), from Go's module cache.
pub fn argo_catalog() -> BTreeMap<String, String> {
    let gomod = std::fs::read_to_string(repo().join("tests/argo/go.mod")).expect("tests/argo/go.mod");
    let version = gomod
        .lines()
        .find_map(|l| l.trim().strip_prefix("require github.com/argoproj/argo-rollouts "))
        .expect("tests/argo/go.mod requires argo-rollouts")
        .trim()
        .to_string();
    let out = std::process::Command::new("go").args(["env", "GOMODCACHE"]).output().expect("go env GOMODCACHE");
    let cache = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = std::path::Path::new(&cache).join(format!("github.com/argoproj/argo-rollouts@{version}"));
    if !dir.exists() {
        // Fetch the module (the oracle's build does the same).
        let _ = std::process::Command::new("go")
            .args(["mod", "download", &format!("github.com/argoproj/argo-rollouts@{version}")])
            .current_dir(repo().join("tests/argo"))
            .status();
    }
    let path = dir.join("manifests/notifications-install.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let cm: ConfigMap = serde_norway::from_str(&text).expect("Argo's catalog is a ConfigMap");
    cm.data.unwrap_or_default()
}

/// Installs Argo's catalog with services pointing at `receiver`: `webhook.hook` (a header from
/// the Secret), `webhook.broken` (answers 500) and `slack` (its API at the receiver, the token
/// from the Secret).
pub async fn configure(client: &kube::Client, receiver: &Receiver) {
    let mut data = argo_catalog();
    let url = &receiver.url;
    data.insert(
        "service.webhook.hook".into(),
        format!("url: {url}/hooks\nheaders:\n- name: X-Token\n  value: $hook-token\n"),
    );
    data.insert("service.webhook.broken".into(), format!("url: {url}/fail\nretryMax: 1\n"));
    data.insert("service.slack".into(), format!("token: $slack-token\napiURL: {url}/api/\n"));
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "argo-rollouts-notification-configmap", "namespace": CONTROLLER_NS},
                    "data": data});
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "argo-rollouts-notification-secret", "namespace": CONTROLLER_NS},
                        "stringData": {"hook-token": "h00k", "slack-token": "xoxb-test"}});
    let pp = PatchParams::apply("aviary-e2e").force();
    Api::<Secret>::namespaced(client.clone(), CONTROLLER_NS)
        .patch("argo-rollouts-notification-secret", &pp, &Patch::Apply(&secret))
        .await
        .expect("the notification Secret");
    Api::<ConfigMap>::namespaced(client.clone(), CONTROLLER_NS)
        .patch("argo-rollouts-notification-configmap", &pp, &Patch::Apply(&cm))
        .await
        .expect("the notification ConfigMap");
}

/// Waits until the controller's log says it loaded the notification configuration.
pub async fn wait_loaded(log: &std::path::Path, after: usize) {
    eventually_ok("the notification configuration loaded", Duration::from_secs(60), || async {
        let text = std::fs::read_to_string(log).ok()?;
        text.get(after..)?.contains("notification configuration loaded").then_some(())
    })
    .await
    .expect("the controller loads the notification ConfigMap");
}

/// The subscription annotations of every trigger of Argo's catalog to `service`.
pub fn subscribe_all(service: &str) -> serde_json::Map<String, serde_json::Value> {
    [
        "on-rollout-updated",
        "on-rollout-step-completed",
        "on-rollout-paused",
        "on-rollout-completed",
        "on-rollout-aborted",
        "on-analysis-run-running",
        "on-analysis-run-failed",
        "on-analysis-run-error",
        "on-scaling-replica-set",
    ]
    .iter()
    .map(|t| (format!("notifications.argoproj.io/subscribe.{t}.{service}"), json!("")))
    .collect()
}
