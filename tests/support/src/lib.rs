//! A real Kubernetes control plane for Aviary's tests.
//!
//! A controller is only as trustworthy as the API server it was tested against, so tests talk to
//! the real thing: `tests/cluster` builds `testcluster`, which runs an embedded etcd, the real
//! kube-apiserver, kube-controller-manager and kube-scheduler on loopback, plus fake nodes and a
//! fake kubelet that plays the pods (see `tests/cluster/internal/kubelet`).
//!
//! Starting a control plane takes seconds, so [`cluster`] starts one per test binary, shared by all
//! its tests; each test isolates itself in its own [`namespace`]. Tests that disturb the cluster
//! itself (such as [`Cluster::restart_apiserver`]) start a private one with [`Cluster::start`].
//!
//! ```no_run
//! # async fn example() -> Result<(), aviary_test_support::Error> {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! let ns = aviary_test_support::namespace("example").await?;
//! let config_maps: Api<ConfigMap> = Api::namespaced(ns.client().clone(), ns.name());
//! # Ok(())
//! # }
//! ```
//!
//! Environment:
//! - `AVIARY_TESTCLUSTER`: path of a prebuilt `testcluster` binary; otherwise
//!   `tests/cluster/build.sh` is run (seconds when nothing changed, many minutes when cold).
//! - `AVIARY_TESTCLUSTER_TIMEOUT`: seconds to wait for the cluster to be ready (default 180).
//! - `AVIARY_KEEP_CLUSTER=1`: keep the cluster directory (logs, etcd data) after the tests.
//! - `AVIARY_TEST_REGISTRY`: a prebuilt `tests/registry` binary (see [`registry`]).
//! - `AVIARY_ROUTING_CRDS`: the directory of the traffic routers' CRDs (Gateway API, Istio, SMI)
//!   that [`Cluster::install_routing_crds`] installs; otherwise `tests/cluster/routing-crds.sh` is
//!   run (a moment when its cache is warm, seconds when cold).

pub mod bench;
pub mod e2e;
pub mod kubernetes_memory;
pub mod oracle;
pub mod registry;
pub mod sigv4;

use std::{
    fmt,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::{
    Api, Client, Config, Resource,
    api::{DeleteParams, ObjectMeta, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{Condition, await_condition},
};
use serde::de::DeserializeOwned;

/// Everything that can go wrong while providing a cluster to a test.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `tests/cluster/build.sh` failed or printed no binary path.
    #[error("building testcluster with {script} failed: {detail}")]
    Build {
        /// The build script that was run.
        script: PathBuf,
        /// Its exit status and output.
        detail: String,
    },
    /// `testcluster up` ended before the cluster was ready.
    #[error("testcluster up exited during startup ({status}); its log ({log_path}) ends with:\n{log}")]
    Exited {
        /// How the process ended.
        status: String,
        /// Where its whole log is (kept on failure).
        log_path: PathBuf,
        /// The last lines of that log.
        log: String,
    },
    /// The cluster did not write its kubeconfig in time.
    #[error("testcluster up not ready after {timeout:?}; its log ({log_path}) ends with:\n{log}")]
    StartTimeout {
        /// How long we waited.
        timeout: Duration,
        /// Where its whole log is.
        log_path: PathBuf,
        /// The last lines of that log.
        log: String,
    },
    /// The shared cluster of this test binary failed to start; every test gets the same cause.
    #[error("the shared test cluster is unavailable: {0}")]
    SharedCluster(Arc<Error>),
    /// The traffic routers' CRDs could not be fetched or installed.
    #[error("installing the traffic-routing CRDs failed: {0}")]
    RoutingCrds(String),
    /// `testcluster restart-apiserver` failed.
    #[error("restarting the kube-apiserver failed: {0}")]
    Restart(String),
    /// A condition awaited by a test did not hold in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    WaitTimeout {
        /// What was awaited, for the failure message.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The kubeconfig written by the cluster could not be used.
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A request to the API server failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A watch used for waiting failed.
    #[error("watch failed: {0}")]
    Wait(#[from] kube::runtime::wait::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// A running `testcluster up`: a real control plane on 127.0.0.1.
///
/// Dropping it stops the cluster. The shared cluster of [`cluster`] lives in a static, which Rust
/// never drops, so its lifetime is tied to the test process another way: `up` runs with
/// `--exit-on-stdin-eof` and we hold the write end of its stdin, which the kernel closes when this
/// process ends for any reason (normal exit, panic, SIGKILL); `up` then stops everything it
/// started and deletes its directory.
pub struct Cluster {
    dir: PathBuf,
    kubeconfig: PathBuf,
    binary: PathBuf,
    child: Mutex<Option<Child>>,
    stdin: Mutex<Option<ChildStdin>>,
    /// Set once [`Cluster::install_routing_crds`] has installed them: the CRDs' names.
    routing_crds: tokio::sync::OnceCell<Vec<String>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").field("dir", &self.dir).finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<Cluster, Arc<Error>>> = OnceLock::new();

/// The cluster shared by all tests of this test binary, started on first use.
///
/// Tests must not depend on each other's objects: create everything in a [`namespace`] of your own.
/// If the cluster cannot start, every caller gets the same error.
pub async fn cluster() -> Result<&'static Cluster> {
    // Starting blocks (process spawn, waiting for a file); keep it off the test's async thread.
    // A std OnceLock rather than a runtime-bound cell: every #[tokio::test] has its own runtime.
    let shared = tokio::task::spawn_blocking(|| SHARED.get_or_init(|| Cluster::start_blocking().map_err(Arc::new)))
        .await
        .expect("starting the test cluster panicked");
    shared.as_ref().map_err(|e| Error::SharedCluster(e.clone()))
}

impl Cluster {
    /// Starts a private cluster, for tests that disturb the cluster itself (e.g. restarting the
    /// apiserver) and would break the other tests of the shared one. Costs a full startup.
    pub async fn start() -> Result<Cluster> {
        tokio::task::spawn_blocking(Cluster::start_blocking).await.expect("starting the test cluster panicked")
    }

    /// Blocking variant of [`Cluster::start`]: locates (or builds) the binary, runs `testcluster up`
    /// in a new temporary directory and waits until it has written its kubeconfig.
    pub fn start_blocking() -> Result<Cluster> {
        let binary = testcluster_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("aviary-testcluster-")
            .tempdir()
            .map_err(io_err("create the cluster directory"))?
            .keep(); // `up --remove-dir-on-exit` deletes it, even after this process is gone
        let log_path = dir.join("testcluster.log");
        let log = std::fs::File::create(&log_path).map_err(io_err(format!("create {}", log_path.display())))?;
        let log2 = log.try_clone().map_err(io_err("duplicate the log file"))?;
        let keep = std::env::var_os("AVIARY_KEEP_CLUSTER").is_some_and(|v| !v.is_empty() && v != "0");

        let mut cmd = Command::new(&binary);
        cmd.arg("up").arg("--dir").arg(&dir).arg("--exit-on-stdin-eof");
        if !keep {
            cmd.arg("--remove-dir-on-exit");
        }
        cmd.stdin(Stdio::piped()).stdout(log).stderr(log2);
        let mut child = cmd.spawn().map_err(io_err(format!("run {} up", binary.display())))?;
        let stdin = child.stdin.take();

        let timeout = std::env::var("AVIARY_TESTCLUSTER_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(Duration::from_secs(180), Duration::from_secs);
        let kubeconfig = dir.join("kubeconfig");
        let started = Instant::now();
        loop {
            // `up` writes the kubeconfig atomically and last: its existence means "ready".
            if kubeconfig.exists() {
                break;
            }
            if let Some(status) = child.try_wait().map_err(io_err("wait for testcluster up"))? {
                return Err(Error::Exited { status: status.to_string(), log: log_tail(&log_path), log_path });
            }
            if started.elapsed() > timeout {
                drop(stdin); // asks `up` to stop
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::StartTimeout { timeout, log: log_tail(&log_path), log_path });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        tracing::info!(dir = %dir.display(), elapsed = ?started.elapsed(), "test cluster is up");
        Ok(Cluster {
            dir,
            kubeconfig,
            binary,
            child: Mutex::new(Some(child)),
            stdin: Mutex::new(stdin),
            routing_crds: tokio::sync::OnceCell::new(),
        })
    }

    /// A new client for this cluster, bound to the calling test's tokio runtime.
    ///
    /// A `kube::Client` spawns its connection machinery on the runtime that creates it, and every
    /// `#[tokio::test]` has its own runtime, so clients are made per call (cheap) and never shared.
    pub async fn client(&self) -> Result<Client> {
        install_crypto_provider();
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }

    /// The admin kubeconfig (server `https://127.0.0.1:PORT`), e.g. for a controller under test.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster directory: `logs/` has the logs of etcd and every component.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Installs the traffic routers' CRDs on this cluster ([`e2e::install_routing_crds`]: Gateway
    /// API, Istio, SMI TrafficSplit), once: later calls, from any test sharing the cluster, return
    /// the names of the first at once. Only tests of traffic routing call it, so the others start
    /// no slower.
    pub async fn install_routing_crds(&self) -> Result<&[String]> {
        let names = self
            .routing_crds
            .get_or_try_init(|| async {
                let client = self.client().await?;
                e2e::install_routing_crds(&client).await.map_err(|e| Error::RoutingCrds(e.to_string()))
            })
            .await?;
        Ok(names)
    }

    /// Kills the kube-apiserver and starts a new one on the same port; returns when it is ready.
    ///
    /// Every open connection breaks, so watches see a real disconnection. This disturbs every test
    /// that uses the cluster: use it on a private [`Cluster::start`] cluster, not on [`cluster`].
    pub async fn restart_apiserver(&self) -> Result<()> {
        let binary = self.binary.clone();
        let dir = self.dir.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(&binary).arg("restart-apiserver").arg("--dir").arg(&dir).output()
        })
        .await
        .expect("restart-apiserver panicked")
        .map_err(io_err("run testcluster restart-apiserver"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::Restart(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim())))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing stdin asks `up` to stop gracefully (and delete its directory); kill it only if it
        // does not manage within a few seconds.
        drop(self.stdin.lock().map(|mut s| s.take()).ok().flatten());
        let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// kube's rustls backend needs a process-wide crypto provider when more than one could be chosen.
fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // An error only means another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The `testcluster` binary: `$AVIARY_TESTCLUSTER`, or whatever `tests/cluster/build.sh` builds.
fn testcluster_binary() -> Result<PathBuf> {
    prebuilt_or_build("AVIARY_TESTCLUSTER", "cluster")
}

/// A tool of the tests built from Go: the path in `$env` when set (CI builds each once), else
/// what `tests/<dir>/build.sh` builds (seconds when nothing changed).
pub(crate) fn prebuilt_or_build(env: &str, dir: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    run_build_script(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir).join("build.sh"))
}

/// Runs one of the tests' Go build scripts and returns the path it prints last.
pub(crate) fn run_build_script(script: &Path) -> Result<PathBuf> {
    let script = script.to_path_buf();
    // stderr is inherited: a cold build takes many minutes and says so.
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(io_err(format!("run {}", script.display())))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default();
    if !output.status.success() || last.is_empty() {
        return Err(Error::Build { script, detail: format!("{}; stdout: {}", output.status, stdout.trim()) });
    }
    Ok(PathBuf::from(last))
}

/// The last ~60 lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(8192)));
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// A namespace that belongs to one test, on the shared [`cluster`].
///
/// Dropping it deletes the namespace in the background (best effort); the namespace controller
/// then removes everything in it, so a long test binary does not accumulate objects.
pub struct TestNamespace {
    name: String,
    client: Client,
    kubeconfig: PathBuf,
}

impl fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestNamespace").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Creates a uniquely named namespace `PREFIX-N-XXXX` on the shared [`cluster`] for one test, and
/// waits until pods can be created in it (its `default` ServiceAccount exists: until then the
/// ServiceAccount admission plugin rejects pods).
pub async fn namespace(prefix: &str) -> Result<TestNamespace> {
    let cluster = cluster().await?;
    let client = cluster.client().await?;
    let name = unique_name(prefix);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("aviary.dev/test".to_string(), "true".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces.create(&PostParams::default(), &ns).await?;
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    wait_for_object(&service_accounts, "default", Duration::from_secs(60), |sa: Option<&ServiceAccount>| sa.is_some())
        .await?;
    Ok(TestNamespace { name, client, kubeconfig: cluster.kubeconfig.clone() })
}

impl TestNamespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client bound to the runtime of the test that created this namespace.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An [`Api`] for namespaced objects of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and the test's own runtime may be single-threaded and busy dropping
        // us, so the deletion runs on a thread with its own runtime and client, and is not joined.
        let name = std::mem::take(&mut self.name);
        let kubeconfig = self.kubeconfig.clone();
        let _ = std::thread::Builder::new().name("delete-test-namespace".into()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                install_crypto_provider();
                let Ok(kc) = Kubeconfig::read_from(&kubeconfig) else {
                    return;
                };
                let Ok(config) = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await else {
                    return;
                };
                let Ok(client) = Client::try_from(config) else {
                    return;
                };
                let namespaces: Api<Namespace> = Api::all(client);
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    namespaces.delete(&name, &DeleteParams::background()),
                )
                .await;
            });
        });
    }
}

/// A DNS-1123 label `PREFIX-N-XXXX`, unique within this process (counter) and across processes
/// (time and pid), at most 63 characters.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut clean: String =
        prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    clean.truncate(40);
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "test" } else { clean };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xfffff;
    format!("{clean}-{n}-{salt:05x}")
}

/// Waits, through a real watch, until the object `name` satisfies `cond` (which also sees `None`
/// while the object does not exist), and returns it. Fails after `timeout` with a message that
/// names the object, so a test never needs a fixed sleep.
pub async fn wait_for_object<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    cond: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Clone + fmt::Debug + Send + DeserializeOwned + Resource + 'static,
    <K as Resource>::DynamicType: Default,
{
    let what = format!("{} {name}", K::kind(&Default::default()));
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, cond)).await {
        Ok(found) => Ok(found?),
        Err(_) => Err(Error::WaitTimeout { what, timeout }),
    }
}

/// Polls `check` every 200 ms until it returns `Some`, for conditions over several objects (e.g.
/// "no pod left with this label"). Fails after `timeout` with `what` in the message.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::WaitTimeout { what: what.to_string(), timeout });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
