//! End-to-end harness: a real control plane (tests/cluster), Aviary's CRDs and RBAC from
//! `deploy/`, and `aviary-controller` running as a process under its own ServiceAccount, so the
//! tests exercise the manifests an operator installs, least-privilege RBAC included. Shared by
//! the controller's and the CLI's end-to-end tests.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{TestNamespace, cluster};
use aviary_api::Rollout;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The controller's namespace in the tests (as in deploy/).
pub const CONTROLLER_NS: &str = "argo-rollouts";

/// One controller per test binary.
pub struct Env {
    /// A kubeconfig authenticating as the controller's ServiceAccount.
    pub kubeconfig: PathBuf,
    /// The controller's log file.
    pub log: PathBuf,
    /// The controller binary.
    pub controller: PathBuf,
    /// The controller's metrics and health ports (on 127.0.0.1).
    pub ports: (u16, u16),
    options: Options,
    child: Mutex<Option<Child>>,
}

/// Extra command-line flags and environment of a test binary's controller (kept across restarts).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Flags after the harness's defaults (so they win).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
}

static ENV: OnceCell<Env> = OnceCell::const_new();

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts (once per test binary) the cluster, installs deploy/ and the test registry, and runs
/// the controller binary `controller`.
pub async fn env_with(controller: &Path) -> &'static Env {
    env_with_options(controller, Options::default()).await
}

/// [`env_with`], the controller started with `options` (extra flags and environment).
pub async fn env_with_options(controller: &Path, options: Options) -> &'static Env {
    let controller = controller.to_path_buf();
    ENV.get_or_init(|| async move { setup(controller, options).await.expect("end-to-end environment") }).await
}

/// The environment, once started by [`env_with`].
pub async fn env() -> &'static Env {
    ENV.get().expect("e2e::env_with must run first")
}

/// The `aviary-controller` binary for tests outside its crate: `$AVIARY_CONTROLLER_BIN`, else
/// the one next to this test executable in the target directory, built if missing.
pub fn controller_binary() -> PathBuf {
    if let Ok(p) = std::env::var("AVIARY_CONTROLLER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let bin = profile_dir.join("aviary-controller");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "aviary-controller"])
            .current_dir(repo())
            .status()
            .expect("cargo build -p aviary-controller");
        assert!(status.success(), "building aviary-controller failed");
    }
    bin
}

async fn setup(controller: PathBuf, options: Options) -> Result<Env, Box<dyn std::error::Error + Send + Sync>> {
    let cluster = cluster().await?;
    let client = cluster.client().await?;
    install_crds(&client).await?;
    // The single-file install, as an operator applies it: every end-to-end test runs the
    // controller under its ServiceAccount and RBAC (its Deployment's pods are the test cluster's
    // fake ones; the controller under test is a process of this machine).
    apply_file(&client, &repo().join("deploy/install.yaml")).await?;
    apply_registry(&client).await?;
    let kubeconfig = service_account_kubeconfig(&client, cluster.kubeconfig_path(), cluster.dir()).await?;
    let log = cluster.dir().join("aviary-controller.log");
    let ports = (free_port(), free_port());
    let child = spawn_controller_with(&controller, &kubeconfig, &log, ports, &options)?;
    Ok(Env { kubeconfig, log, controller, ports, options, child: Mutex::new(Some(child)) })
}

/// GET `path` from the controller's metrics or health endpoint on 127.0.0.1:`port`: the status
/// code and the body, or (0, "") while nothing listens (the controller is starting or was killed).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let path = path.to_string();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
        let mut buf = String::new();
        if write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok() {
            let _ = s.read_to_string(&mut buf);
        }
        buf
    })
    .await
    .unwrap_or_default();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// Starts a controller process with `extra` flags (after the defaults here, so they win), its
/// metrics and health endpoints on `ports`.
pub fn spawn_controller(
    binary: &Path,
    kubeconfig: &Path,
    log: &Path,
    ports: (u16, u16),
    extra: &[&str],
) -> std::io::Result<Child> {
    let options = Options { args: extra.iter().map(|s| (*s).to_string()).collect(), env: Vec::new() };
    spawn_controller_with(binary, kubeconfig, log, ports, &options)
}

/// [`spawn_controller`] with extra flags and environment.
pub fn spawn_controller_with(
    binary: &Path,
    kubeconfig: &Path,
    log: &Path,
    ports: (u16, u16),
    options: &Options,
) -> std::io::Result<Child> {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(binary)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--bind-address",
            "127.0.0.1",
            "--metrics-port",
            &ports.0.to_string(),
            "--healthz-port",
            &ports.1.to_string(),
        ])
        .args(["--namespace", CONTROLLER_NS, "--loglevel", "info,aviary_controller=debug", "--exit-on-stdin-close"])
        // Short leases, so that a killed controller's successor leads within seconds.
        .args([
            "--leader-election-lease-duration",
            "3s",
            "--leader-election-renew-deadline",
            "2s",
            "--leader-election-retry-period",
            "500ms",
        ])
        .args(&options.args)
        .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AVIARY_CACHE_DIR", plugin_cache())
        .stdin(Stdio::piped())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
}

/// Compiled plugins are cached across test runs: `$AVIARY_CACHE_DIR`, else the temp directory.
pub fn plugin_cache() -> PathBuf {
    std::env::var_os("AVIARY_CACHE_DIR").map_or_else(|| std::env::temp_dir().join("aviary-plugin-cache"), PathBuf::from)
}

impl Env {
    /// Kills the controller (SIGKILL) and starts a new one.
    pub fn restart_controller(&self) {
        self.restart_controller_with(&[]);
    }

    /// Kills the controller (SIGKILL) and starts a new one with `extra` flags (later flags win,
    /// e.g. production-length leases instead of the tests' short ones).
    pub fn restart_controller_with(&self, extra: &[&str]) {
        self.restart_controller_with_env(extra, &[]);
    }

    /// [`Env::restart_controller_with`] with extra environment variables (for this start only).
    pub fn restart_controller_with_env(&self, extra: &[&str], env: &[(&str, &str)]) {
        let mut guard = self.child.lock().unwrap();
        if let Some(mut c) = guard.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let mut options = self.options.clone();
        options.args.extend(extra.iter().map(|s| (*s).to_string()));
        options.env.extend(env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())));
        *guard = Some(
            spawn_controller_with(&self.controller, &self.kubeconfig, &self.log, self.ports, &options)
                .expect("restart controller"),
        );
    }

    /// Whether the controller process has exited (and with which status).
    pub fn controller_exited(&self) -> Option<std::process::ExitStatus> {
        self.child.lock().unwrap().as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// The running controller's process id (to read its memory and CPU time in /proc).
    pub fn controller_pid(&self) -> Option<u32> {
        self.child.lock().unwrap().as_ref().map(Child::id)
    }

    /// Kills the controller (SIGKILL) without starting another.
    pub fn kill_controller(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The last lines of the controller's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

async fn install_crds(client: &Client) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    install_crds_from(client, &repo().join("deploy/crds"), "aviary-e2e", Duration::from_secs(30)).await
}

/// Server-side applies (as `field_manager`) every CustomResourceDefinition of the manifests under
/// `dir` (see [`crd_files`]), then waits up to `wait` for each to be established: the e2e
/// harness's CRDs, the oracle's (Argo's or Aviary's) and the traffic routers'.
pub async fn install_crds_from(
    client: &Client,
    dir: &Path,
    field_manager: &str,
    wait: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    apply_crd_files(client, &crd_files(dir)?, field_manager, wait).await.map(drop)
}

/// The manifests under `dir`, recursively, in path order: every `*.yaml` and `*.yml` (hidden
/// files and directories excluded).
pub fn crd_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The CustomResourceDefinitions of a manifest (one document or many, `---`-separated), as written:
/// no typed round trip that could drop a field the API server knows. Empty documents and documents
/// of any other kind (a ValidatingAdmissionPolicy, a Kustomization) are skipped.
pub fn crd_documents(text: &str) -> Result<Vec<Value>, Box<dyn std::error::Error + Send + Sync>> {
    let mut crds = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let value: Value = serde::Deserialize::deserialize(doc)?;
        let is_crd = value["kind"] == "CustomResourceDefinition"
            && value["apiVersion"].as_str().is_some_and(|v| v.starts_with("apiextensions.k8s.io/"));
        if !is_crd {
            continue;
        }
        if value["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            return Err("a CustomResourceDefinition without metadata.name".into());
        }
        crds.push(value);
    }
    Ok(crds)
}

/// Server-side applies (as `field_manager`, forcing) every CustomResourceDefinition of `files`
/// ([`crd_documents`]), all at once, then waits up to `wait` for each to be established. Returns
/// their names, in file order. Applying again changes nothing, so it is safe on a cluster that
/// has them.
pub async fn apply_crd_files(
    client: &Client,
    files: &[PathBuf],
    field_manager: &str,
    wait: Duration,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crds = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let docs = crd_documents(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        crds.extend(docs.into_iter().map(|crd| (path.clone(), crd)));
    }
    let names: Vec<String> =
        crds.iter().map(|(_, crd)| crd["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
    // Concurrently: each apply of a large CRD is a round trip of its own (about 0.2 s on 2 cores),
    // and the API server establishes them in parallel anyway.
    let mut applies = tokio::task::JoinSet::new();
    for ((path, crd), name) in crds.into_iter().zip(names.clone()) {
        let (api, params) = (api.clone(), PatchParams::apply(field_manager).force());
        applies.spawn(async move {
            api.patch(&name, &params, &Patch::Apply(&crd))
                .await
                .map(drop)
                .map_err(|e| format!("applying CRD {name} of {}: {e}", path.display()))
        });
    }
    while let Some(applied) = applies.join_next().await {
        applied??;
    }
    for name in &names {
        eventually_ok(&format!("CRD {name} established"), wait, || {
            let (api, name) = (api.clone(), name.clone());
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
            }
        })
        .await?;
    }
    Ok(names)
}

/// The traffic routers' CRDs, fetched by `tests/cluster/routing-crds.sh` from the Go modules that
/// publish them (Gateway API's standard channel, Istio's, SMI's TrafficSplit):
/// `$AVIARY_ROUTING_CRDS`, else the directory that script prints (it runs in a moment when its
/// cache is warm, in seconds when cold).
pub fn routing_crds_dir() -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    if let Some(dir) = std::env::var_os("AVIARY_ROUTING_CRDS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = repo().join("tests/cluster/routing-crds.sh");
    let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default();
    if !out.status.success() || last.is_empty() {
        return Err(format!("{} failed ({}); stdout: {}", script.display(), out.status, stdout.trim()).into());
    }
    Ok(PathBuf::from(last))
}

/// Installs the traffic routers' CRDs ([`routing_crds_dir`]: Gateway API, Istio, SMI) on the
/// cluster of `client` and waits until each is established; returns their names. Tests that route
/// traffic call it (through [`crate::Cluster::install_routing_crds`], which does it once per
/// cluster); the others never pay for it.
pub async fn install_routing_crds(client: &Client) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tokio::task::spawn_blocking(routing_crds_dir).await??;
    let files = crd_files(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if files.is_empty() {
        return Err(format!("no manifests in {}", dir.display()).into());
    }
    apply_crd_files(client, &files, "aviary-e2e-routing", Duration::from_secs(120)).await
}

/// Server-side applies every document of a manifest file.
pub async fn apply_file(client: &Client, path: &Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(path)?;
    for doc in serde_norway::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_json::from_value(value)?;
        let types = obj.types.clone().ok_or("a manifest without apiVersion/kind")?;
        let gvk = GroupVersionKind::try_from(&types)?;
        let (resource, caps) = pinned_kind(client, &gvk).await?;
        let api: Api<DynamicObject> = match (caps.scope, obj.namespace()) {
            (kube::discovery::Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), &ns, &resource),
            (kube::discovery::Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        api.patch(&obj.name_any(), &PatchParams::apply("aviary-e2e").force(), &Patch::Apply(&obj)).await?;
    }
    Ok(())
}

/// The registry the tests use: the test components by name.
async fn apply_registry(client: &Client) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = Path::new(aviary_plugins::GUEST_DIR);
    let hostile = dir.join("aviary_test_hostile.wasm");
    let plugins = format!(
        "plugins:\n\
         - name: acme/steady\n  kind: metric-provider\n  location: file://{h}\n\
         - name: acme/hang\n  kind: metric-provider\n  location: file://{h}\n  timeout: 3s\n\
         - name: acme/liar\n  kind: metric-provider\n  location: file://{h}\n  timeout: 5s\n\
         - name: acme/hostile-router\n  kind: traffic-router\n  location: file://{r}\n  timeout: 2s\n  memoryLimit: 32Mi\n  \
           kubernetes: [{{apiGroup: split.smi-spec.io, kinds: [TrafficSplit], verbs: [get, create, patch]}}]\n\
         - name: step/e2e-test\n  kind: step\n  location: file://{s}\n  timeout: 2s\n  memoryLimit: 32Mi\n\
         - name: step/e2e-test-disabled\n  kind: step\n  location: file://{s}\n  disabled: true\n",
        h = hostile.display(),
        r = dir.join("aviary_test_hostile_router.wasm").display(),
        s = dir.join("aviary_test_step.wasm").display()
    );
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aviary-config", "namespace": CONTROLLER_NS},
        "data": {"plugins.yaml": plugins},
    });
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), CONTROLLER_NS);
    api.patch("aviary-config", &PatchParams::apply("aviary-e2e").force(), &Patch::Apply(&cm)).await?;
    Ok(())
}

/// A kubeconfig that authenticates as the controller's ServiceAccount (a bound token), so the
/// controller runs with exactly the RBAC of deploy/rbac.yaml.
async fn service_account_kubeconfig(
    client: &Client,
    admin: &Path,
    dir: &Path,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    service_account_kubeconfig_in(client, admin, dir, CONTROLLER_NS).await
}

/// A kubeconfig (written in `dir`) authenticating as the ServiceAccount `aviary-controller` of
/// `namespace`, so a controller runs with exactly the RBAC of deploy/, not as an administrator.
pub async fn service_account_kubeconfig_in(
    client: &Client,
    admin: &Path,
    dir: &Path,
    namespace: &str,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: k8s_openapi::api::authentication::v1::TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(24 * 3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = api.create_token_request("aviary-controller", &PostParams::default(), &request).await?;
    let token = token.status.ok_or("no token in the TokenRequest")?.token;
    let mut kubeconfig: Value = serde_norway::from_str(&std::fs::read_to_string(admin)?)?;
    kubeconfig["users"] = json!([{"name": "aviary-controller", "user": {"token": token}}]);
    if let Some(contexts) = kubeconfig["contexts"].as_array_mut() {
        for c in contexts {
            c["context"]["user"] = json!("aviary-controller");
        }
    }
    let path = dir.join(format!("aviary-controller-{namespace}.kubeconfig"));
    let mut f = std::fs::File::create(&path)?;
    f.write_all(serde_norway::to_string(&kubeconfig)?.as_bytes())?;
    Ok(path)
}

/// Polls `check` until it returns Some, or fails after `timeout` naming what it waited for.
pub async fn eventually_ok<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A metrics endpoint on loopback that web metrics query: `{"ok": <bool>, "value": <f64>}`.
#[derive(Clone)]
pub struct Metrics {
    pub addr: std::net::SocketAddr,
    value: Arc<AtomicU64>,
    pub hits: Arc<AtomicU64>,
}

impl Metrics {
    pub async fn start(value: f64) -> Metrics {
        let state = Arc::new(AtomicU64::new(value.to_bits()));
        let hits = Arc::new(AtomicU64::new(0));
        let (s, h) = (state.clone(), hits.clone());
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let v = f64::from_bits(s.load(Ordering::SeqCst));
                h.fetch_add(1, Ordering::SeqCst);
                async move { axum::Json(json!({"value": v, "ok": v >= 0.9})) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Metrics { addr, value: state, hits }
    }

    pub fn set(&self, v: f64) {
        self.value.store(v.to_bits(), Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

/// Creates an object from JSON in the test namespace.
pub async fn create<K>(ns: &TestNamespace, value: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(value).expect("valid object");
    ns.api::<K>().create(&PostParams::default(), &obj).await.expect("create")
}

/// A Rollout manifest: `replicas` pods of `image`, canary with `steps`, plus `extra` merged into
/// the canary strategy.
pub fn rollout(name: &str, replicas: i32, image: &str, steps: Value, extra: Value) -> Value {
    let mut canary = json!({"steps": steps});
    if let (Some(c), Some(e)) = (canary.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            },
            "strategy": {"canary": canary}
        }
    })
}

/// A small xorshift generator for the kill tests: seeded from `AVIARY_KILL_SEED` or the clock,
/// and the seed printed, so a failing sequence of kills can be replayed.
pub struct KillRng {
    state: u64,
    /// The seed, for failure messages.
    pub seed: u64,
}

impl KillRng {
    /// Seeds from `AVIARY_KILL_SEED`, else from the clock, and prints the seed.
    pub fn from_env() -> Self {
        let seed = std::env::var("AVIARY_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
        });
        println!("kill seed {seed} (AVIARY_KILL_SEED={seed} replays the delays)");
        KillRng { state: seed, seed }
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

/// A web AnalysisTemplate: every `interval`, `count` measurements, success when `ok` is true.
pub fn web_template(name: &str, url: &str, interval: &str, count: i32) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"metrics": [{
            "name": "ok",
            "interval": interval,
            "count": count,
            "successCondition": "result == true",
            "provider": {"web": {"url": url, "jsonPath": "{$.ok}"}}
        }]}
    })
}

/// The rollout's status phase and message.
pub async fn phase(ns: &TestNamespace, name: &str) -> (String, String) {
    let r: Rollout = ns.api::<Rollout>().get(name).await.expect("rollout");
    let s = r.status.unwrap_or_default();
    (s.phase.map(|p| format!("{p:?}")).unwrap_or_default(), s.message)
}

/// Waits until the rollout reaches `phase` (Healthy, Paused, Degraded, Progressing).
pub async fn wait_phase(ns: &TestNamespace, name: &str, phase: &str, timeout: Duration) -> Rollout {
    let api = ns.api::<Rollout>();
    let result = eventually_ok(&format!("rollout {name} to be {phase}"), timeout, || {
        let api = api.clone();
        async move {
            let r = api.get(name).await.ok()?;
            let s = r.status.clone()?;
            let observed = s.observed_generation == r.metadata.generation.unwrap_or(0).to_string();
            (observed && s.phase.map(|p| format!("{p:?}")).as_deref() == Some(phase)).then_some(r)
        }
    })
    .await;
    match result {
        Ok(r) => r,
        Err(e) => {
            let r = api.get(name).await.ok();
            panic!(
                "{e}\nstatus: {}\ncontroller log:\n{}",
                serde_json::to_string_pretty(&r.and_then(|r| r.status)).unwrap_or_default(),
                env().await.log_tail(60)
            )
        }
    }
}

/// The rollout's ReplicaSets by pod-template-hash: (spec replicas, available).
pub async fn replica_sets(ns: &TestNamespace, rollout: &str) -> BTreeMap<String, (i32, i32)> {
    let list =
        ns.api::<ReplicaSet>().list(&kube::api::ListParams::default().labels(&format!("app={rollout}"))).await.unwrap();
    list.items
        .into_iter()
        .map(|rs| {
            let h = rs.labels().get("rollouts-pod-template-hash").cloned().unwrap_or_default();
            let spec = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            let avail = rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
            (h, (spec, avail))
        })
        .collect()
}

/// Sets the image of the rollout's container (what `kubectl argo rollouts set image` does).
pub async fn set_image(ns: &TestNamespace, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    ns.api::<Rollout>().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("set image");
}

/// Patches the rollout's status subresource (what Argo's CLI does for promote and abort).
pub async fn patch_status(ns: &TestNamespace, name: &str, patch: Value) {
    ns.api::<Rollout>().patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch status");
}

/// Patches the rollout's spec (pause, restart, undo).
pub async fn patch_spec(ns: &TestNamespace, name: &str, patch: Value) {
    ns.api::<Rollout>().patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch spec");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_documents_keeps_every_crd_of_a_multi_document_manifest_and_skips_the_rest() {
        let text = "\
# a comment before the first document
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: as.example.com, annotations: {\"helm.sh/resource-policy\": keep}}
spec: {group: example.com, x-unknown-field: kept}
---
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: not-a-crd}
---
resources: [a.yaml]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: bs.example.com}
";
        let crds = crd_documents(text).unwrap();
        let names: Vec<_> = crds.iter().map(|c| c["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["as.example.com", "bs.example.com"]);
        assert_eq!(crds[0]["spec"]["x-unknown-field"], "kept", "applied as written, not through a typed copy");
        assert_eq!(crds[0]["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
    }

    #[test]
    fn crd_documents_rejects_a_crd_without_a_name_and_invalid_yaml() {
        let nameless = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {}\n";
        assert!(crd_documents(nameless).is_err());
        assert!(crd_documents("kind: [unclosed\n").is_err());
    }

    #[test]
    fn crd_files_walks_subdirectories_in_path_order_and_skips_hidden_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["smi/split.yaml", "gateway-api/b.yaml", "gateway-api/a.yml", "istio/x.json", ".stamp", ".tmp/c.yaml"]
        {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let files: Vec<_> = crd_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(files, ["gateway-api/a.yml", "gateway-api/b.yaml", "smi/split.yaml"]);
    }
}
