//! The plugin host: loads plugins and runs each call in a fresh, limited sandbox.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::Serialize;
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wasmtime::{Engine, Store, Trap};

use crate::Error;
use crate::builtin::{self, Builtin};
use crate::cache::{CompileCache, CompileError, Origin, sha256_hex};
use crate::capability::AllowedHosts;
use crate::contract::{self, Pre};
use crate::engine::{Linkers, new_engine};
use crate::failure::Failure;
use crate::http::{self, Grant};
use crate::inspect::{self, Binary, ComponentInfo};
use crate::kubernetes::{KubernetesApi, KubernetesGrant};
use crate::limits::Limits;
use crate::measurement::{CallContext, Measurement};
use crate::notify::{NotifyCall, NotifyError};
use crate::preinit;
use crate::recording::HttpMode;
use crate::registry::{self, Location, PluginKind, PluginSpec, RegistryFile};
use crate::router::{RouterCall, RouterError, RouterOperation, RouterReply};
use crate::step::{StepCall, StepError, StepOperation, StepReply};
use crate::store::StoreState;
use aviary_boundary::kubernetes::KubernetesGrants;

/// How the host is set up.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where compiled artifacts and downloaded components are kept; `None`: memory only.
    pub cache_dir: Option<PathBuf>,
    /// Plugin calls running at once, across all plugins. Each holds a Store whose memory is
    /// capped by its plugin's limit, so this bounds the host's worst-case plugin memory.
    pub max_concurrent_calls: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self { cache_dir: None, max_concurrent_calls: 64 }
    }
}

/// Measurement metadata key naming the plugin and the digest of the component that took it.
pub const PLUGIN_METADATA_KEY: &str = "aviary.dev/plugin";

/// Extra time the host waits past a plugin's deadline before abandoning a call that is stuck in
/// a host import; the epoch deadline normally ends it first.
const GRACE: Duration = Duration::from_millis(250);

/// What `plugins()` and `plugin inspect` report about a loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    /// `org/name` (or the file path for a plugin run by path).
    pub name: String,
    /// The world.
    pub kind: PluginKind,
    /// Hex sha256 of the component.
    pub sha256: String,
    /// Component size in bytes.
    pub size: usize,
    /// Where it was loaded from.
    pub location: String,
    /// The contract version it was built against.
    pub version: String,
    /// Deadline of one call.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Memory cap in bytes.
    pub memory_limit: u64,
    /// Allowed hosts, as configured (first-party plugins add the host of their config).
    pub allowed_hosts: String,
    /// Whether the compiled code came from the cache.
    pub cached: bool,
    /// Whether calls start from the snapshot of its init function (see `preinit`).
    pub preinitialised: bool,
    /// Time to compile or load it.
    #[serde(with = "humantime_serde_compat")]
    pub load_time: Duration,
    /// A step plugin its entry switched off: not loaded (no digest, no size), its steps complete
    /// without a call.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// Why a condition evaluation gave no bool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// The expression did not compile, failed, or did not yield a bool (the evaluator's words).
    Expression(String),
    /// The evaluator plugin itself failed (timeout, trap...) or is not available.
    Plugin(Failure),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Expression(m) => f.write_str(m),
            EvalError::Plugin(failure) => write!(f, "{failure}"),
        }
    }
}

/// A loaded plugin. Calls hold an `Arc` to it, so replacing or removing a plugin never disturbs
/// calls already running: they finish with the version they started with.
struct Plugin {
    kind: PluginKind,
    limits: Limits,
    allowed: AllowedHosts,
    /// Set for first-party plugins whose entry (if any) did not list allowedHosts: they may also
    /// reach the host named in their config.
    builtin_hosts: Option<&'static Builtin>,
    /// The Kubernetes objects its calls may touch (the entry's grants, or a first-party
    /// router's own).
    kubernetes: Arc<KubernetesGrants>,
    pre: Pre,
    info: PluginInfo,
}

impl Plugin {
    fn allowed_for(&self, config: &str) -> AllowedHosts {
        let mut allowed = self.allowed.clone();
        if let Some(b) = self.builtin_hosts
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(config)
        {
            allowed.extend(b.default_hosts(&value));
        }
        allowed
    }
}

struct Inner {
    metrics: Arc<crate::metrics::PluginMetrics>,
    engine: Engine,
    linkers: Linkers,
    cache: CompileCache,
    client: reqwest::Client,
    plugins: RwLock<HashMap<String, Arc<Plugin>>>,
    broken: RwLock<HashMap<String, String>>,
    /// Step plugins whose entry says `disabled`: known, not loaded.
    disabled: RwLock<HashMap<String, PluginInfo>>,
    /// Pre-initialisations that failed, by digest and limits, with the reason: a component whose
    /// init loops or explodes costs its timeout once, not at every reload of the registry.
    preinit_failed: RwLock<HashMap<String, String>>,
    calls: Semaphore,
    /// Held while a first-party plugin is compiled on first use, so that the calls that need it
    /// at once wait for one compile rather than each starting its own.
    builtin_compile: tokio::sync::Mutex<()>,
}

/// The plugin host. Cheap to clone; all clones share the engine, the cache and the plugins.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
    /// Where this handle's calls send their HTTP requests (see [`PluginHost::with_http`]).
    http: HttpMode,
    /// The cluster this handle's metric providers reach through the `kubernetes` import (see
    /// [`PluginHost::with_kubernetes`]); `None`: every such call is denied.
    kubernetes: Option<Arc<dyn KubernetesApi>>,
}

impl fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginHost").field("plugins", &self.plugins().len()).finish_non_exhaustive()
    }
}

/// What to load: bytes plus what the operator said about them.
struct Candidate<'a> {
    name: &'a str,
    bytes: &'a [u8],
    location: String,
    expected: Option<PluginKind>,
    limits: Option<Limits>,
    allowed: AllowedHosts,
    builtin_hosts: Option<&'static Builtin>,
    kubernetes: KubernetesGrants,
}

impl PluginHost {
    /// Creates a host: the engine, its epoch clock, the linkers and the compile cache.
    pub fn new(config: HostConfig) -> Result<Self, Error> {
        crate::install_crypto_provider();
        let engine = new_engine(config.max_concurrent_calls)?;
        let linkers = Linkers::new(&engine)?;
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::Cache { path: dir.clone(), reason: e.to_string() })?;
        }
        let cache = CompileCache::new(&engine, config.cache_dir.clone());
        let client = http::client().map_err(|e| Error::Engine(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                metrics: Arc::default(),
                engine,
                linkers,
                cache,
                client,
                plugins: RwLock::new(HashMap::new()),
                broken: RwLock::new(HashMap::new()),
                disabled: RwLock::new(HashMap::new()),
                preinit_failed: RwLock::new(HashMap::new()),
                calls: Semaphore::new(config.max_concurrent_calls.max(1)),
                builtin_compile: tokio::sync::Mutex::new(()),
            }),
            http: HttpMode::Network,
            kubernetes: None,
        })
    }

    /// Loads every entry of a registry document. Each entry succeeds or fails on its own; a
    /// failed entry is remembered so that calls naming it say why it is unavailable.
    pub async fn load_registry(&self, file: &RegistryFile) -> Vec<(String, Result<PluginInfo, Error>)> {
        self.load_registry_with(file, &|_| registry::OciAccess::default()).await
    }

    /// [`load_registry`](PluginHost::load_registry), with the credentials and keys `access`
    /// finds for each `oci://` entry (the CLI reads them from the Docker config).
    pub async fn load_registry_with(
        &self,
        file: &RegistryFile,
        access: &(dyn Fn(&PluginSpec) -> registry::OciAccess + Sync),
    ) -> Vec<(String, Result<PluginInfo, Error>)> {
        let mut out = Vec::with_capacity(file.plugins.len());
        for (i, entry) in file.plugins.iter().enumerate() {
            let name = entry.display_name(i);
            let result = match entry.validate_with(&file.policy) {
                Ok(spec) => self.load_with(&spec, &access(&spec)).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = &result {
                tracing::error!(plugin = %name, "plugin entry not loaded: {e}");
                write(&self.inner.broken).insert(name.clone(), e.to_string());
            }
            out.push((name, result));
        }
        out
    }

    /// The component bytes of a validated entry, fetched and verified exactly as [`load`] does
    /// (the download cache included), without registering it: what `aviary plugin inspect NAME`
    /// describes.
    ///
    /// [`load`]: PluginHost::load
    pub async fn fetch_bytes(&self, spec: &PluginSpec, access: &registry::OciAccess) -> Result<Vec<u8>, Error> {
        let download_dir = self.inner.cache.dir().map(|d| d.join("downloads"));
        Ok(registry::fetch(spec, &self.inner.client, download_dir.as_deref(), access).await?.bytes)
    }

    /// Fetches, verifies, compiles and registers one validated entry under its name, replacing
    /// any previous version of that name (calls in flight keep the old one).
    pub async fn load(&self, spec: &PluginSpec) -> Result<PluginInfo, Error> {
        self.load_with(spec, &registry::OciAccess::default()).await
    }

    /// [`load`](PluginHost::load) with the credentials and key an `oci://` entry needs. Its
    /// [`PluginInfo::location`] is the location at the digest a tag resolved to.
    pub async fn load_with(&self, spec: &PluginSpec, access: &registry::OciAccess) -> Result<PluginInfo, Error> {
        if spec.disabled {
            return Ok(self.disable(spec));
        }
        let download_dir = self.inner.cache.dir().map(|d| d.join("downloads"));
        let fetched = registry::fetch(spec, &self.inner.client, download_dir.as_deref(), access).await?;
        let (bytes, location) = (fetched.bytes, fetched.location);
        let builtin_hosts = match &spec.location {
            Location::Builtin(name) if !spec.allowed_hosts_set => builtin::find(name),
            _ => None,
        };
        // Compiling (seconds) and pre-initialising (up to the plugin's deadline) are CPU work:
        // they run on a blocking thread, never on a runtime worker that reconciles need.
        let host = self.clone();
        let (name, kind, limits, allowed) = (spec.name.clone(), spec.kind, spec.limits, spec.allowed_hosts.clone());
        // A first-party router keeps its own grants unless the entry lists some.
        let kubernetes = match &spec.location {
            Location::Builtin(name) if spec.kubernetes.is_empty() => {
                builtin::find(name).map(Builtin::grants).unwrap_or_default()
            }
            _ => spec.kubernetes.clone(),
        };
        let plugin = tokio::task::spawn_blocking(move || {
            host.compile(Candidate {
                name: &name,
                bytes: &bytes,
                location,
                expected: Some(kind),
                limits: Some(limits),
                allowed,
                builtin_hosts,
                kubernetes,
            })
        })
        .await
        .map_err(|e| Error::Compile { name: spec.name.clone(), cause: CompileError::Task(e) })??;
        Ok(self.insert(&spec.name, plugin))
    }

    /// Records a disabled step plugin (Argo's `disabled: true`): nothing is fetched or compiled,
    /// and a version loaded before is dropped.
    fn disable(&self, spec: &PluginSpec) -> PluginInfo {
        let info = PluginInfo {
            name: spec.name.clone(),
            kind: spec.kind,
            sha256: spec.sha256.clone().unwrap_or_default(),
            size: 0,
            location: spec.location.to_string(),
            version: String::new(),
            timeout: spec.limits.timeout,
            memory_limit: spec.limits.memory,
            allowed_hosts: spec.allowed_hosts.to_string(),
            cached: false,
            preinitialised: false,
            load_time: Duration::ZERO,
            disabled: true,
        };
        write(&self.inner.broken).remove(&spec.name);
        write(&self.inner.plugins).remove(&spec.name);
        write(&self.inner.disabled).insert(spec.name.clone(), info.clone());
        tracing::info!(plugin = %spec.name, "step plugin disabled");
        info
    }

    /// Whether `name` is a step plugin its entry disabled: its steps complete without a call.
    pub fn step_disabled(&self, name: &str) -> bool {
        read(&self.inner.disabled).contains_key(name)
    }

    /// Registers a component from bytes, for a plugin run by path (`aviary plugin run ./x.wasm`).
    /// Its kind comes from the component itself; it may reach only `allowed`.
    pub fn load_bytes(&self, name: &str, bytes: &[u8], allowed: AllowedHosts) -> Result<PluginInfo, Error> {
        let plugin = self.compile(Candidate {
            name,
            bytes,
            location: name.to_string(),
            expected: None,
            limits: None,
            allowed,
            builtin_hosts: None,
            kubernetes: KubernetesGrants::none(),
        })?;
        Ok(self.insert(name, plugin))
    }

    /// A handle on the same host (engine, cache, plugins) whose provider calls send their HTTP
    /// requests through `mode`: answered from a recording, or recorded while on the network.
    /// The allow-lists, deadlines and size caps apply in every mode. `aviary plugin test` uses
    /// it; the controller never does.
    pub fn with_http(&self, mode: HttpMode) -> PluginHost {
        PluginHost { inner: self.inner.clone(), http: mode, kubernetes: self.kubernetes.clone() }
    }

    /// A handle whose metric-provider calls reach `api` through the `kubernetes` import of
    /// contract 0.2.0 (Argo's `job` provider creates its Jobs so), each call confined to the
    /// AnalysisRun's namespace and to the kinds and verbs of the plugin's grants. Without it,
    /// or for a plugin with no grants, every such call is denied.
    pub fn with_kubernetes(&self, api: Arc<dyn KubernetesApi>) -> PluginHost {
        PluginHost { inner: self.inner.clone(), http: self.http.clone(), kubernetes: Some(api) }
    }

    /// Grants a loaded plugin more hosts (the CLI's `--allow-host`).
    pub fn allow_hosts(&self, name: &str, extra: AllowedHosts) -> Result<(), Error> {
        let plugin =
            self.resolve_now(name).map_err(|f| Error::NotFound { name: name.to_string(), detail: format!(": {f}") })?;
        let mut allowed = plugin.allowed.clone();
        allowed.extend(extra);
        let mut info = plugin.info.clone();
        info.allowed_hosts = allowed.to_string();
        let replacement = Plugin {
            kind: plugin.kind,
            limits: plugin.limits,
            allowed,
            builtin_hosts: plugin.builtin_hosts,
            kubernetes: plugin.kubernetes.clone(),
            pre: plugin.pre.clone(),
            info,
        };
        write(&self.inner.plugins).insert(plugin.info.name.clone(), Arc::new(replacement));
        Ok(())
    }

    /// Removes a plugin; calls already running finish with it.
    pub fn remove(&self, name: &str) -> bool {
        write(&self.inner.broken).remove(name);
        let disabled = write(&self.inner.disabled).remove(name).is_some();
        write(&self.inner.plugins).remove(name).is_some() || disabled
    }

    /// The loaded plugins, sorted by name.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        let mut v: Vec<PluginInfo> = read(&self.inner.plugins).values().map(|p| p.info.clone()).collect();
        v.extend(read(&self.inner.disabled).values().cloned());
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Records why `name` cannot be used (a pull under way, a failed load): calls naming it fail
    /// with that reason, unless a version loaded before still serves them.
    pub fn set_unavailable(&self, name: &str, reason: String) {
        write(&self.inner.broken).insert(name.to_string(), reason);
    }

    /// Entries that failed to load, with the reason.
    pub fn broken(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            read(&self.inner.broken).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        v
    }

    /// Describes a component without registering it; refuses (with the reason) bytes that are
    /// not a component of a supported world and version.
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Result<ComponentInfo, Error> {
        let kind = inspect::binary_kind(bytes);
        if kind != Binary::Component {
            return Err(Error::Incompatible { name: name.to_string(), cause: inspect::not_a_component(kind) });
        }
        let sha = sha256_hex(bytes);
        let (component, _) = self
            .inner
            .cache
            .load(&self.inner.engine, &sha, bytes)
            .map_err(|cause| Error::Compile { name: name.to_string(), cause })?;
        let info = inspect::describe(&self.inner.engine, &component, bytes);
        let world =
            inspect::check(&info, None).map_err(|cause| Error::Incompatible { name: name.to_string(), cause })?;
        self.link(name, &component, world, info.version.as_deref())?;
        Ok(info)
    }

    /// Whether `name` is a traffic router this host can call (a first-party one, or a loaded
    /// entry of that world); `Err` says why not, for the Rollout's InvalidSpec message.
    pub fn router_available(&self, name: &str) -> Result<(), String> {
        self.available(name, PluginKind::TrafficRouter)
    }

    /// Whether `name` is a plugin of world `kind` this host can call (a first-party one, a
    /// loaded entry, or a disabled step plugin); `Err` says why not.
    pub fn available(&self, name: &str, kind: PluginKind) -> Result<(), String> {
        let disabled = read(&self.inner.disabled).get(name).map(|i| i.kind);
        let found = match (self.registered(name), builtin::find(name), disabled) {
            (Some(p), _, _) => p.kind,
            (None, Some(b), _) => b.kind,
            (None, None, Some(k)) => k,
            (None, None, None) => {
                return Err(match read(&self.inner.broken).get(name) {
                    Some(reason) => format!("plugin {name:?} failed to load: {reason}"),
                    None => format!("no {} plugin {name:?} is registered", kind.as_str()),
                });
            }
        };
        if found != kind {
            return Err(format!("plugin {name:?} is a {} plugin, not a {}", found.as_str(), kind.as_str()));
        }
        Ok(())
    }

    /// The host's metrics (registered with [`PluginHost::register_metrics`]).
    pub fn metrics(&self) -> Arc<crate::metrics::PluginMetrics> {
        self.inner.metrics.clone()
    }

    /// Takes a measurement with provider `plugin` (a registered `org/name`, `aviary/<name>`, or
    /// Argo's `web` / `prometheus`). Never fails: a failure is an `Error` measurement.
    pub async fn measure(&self, plugin: &str, ctx: &CallContext, config: &str) -> Measurement {
        self.call_provider(plugin, ctx, config, None, false).await
    }

    /// Polls a measurement the provider left running.
    pub async fn resume(&self, plugin: &str, ctx: &CallContext, config: &str, m: &Measurement) -> Measurement {
        self.call_provider(plugin, ctx, config, Some(m), false).await
    }

    /// Stops a running measurement because its run is terminating.
    pub async fn terminate(&self, plugin: &str, ctx: &CallContext, config: &str, m: &Measurement) -> Measurement {
        self.call_provider(plugin, ctx, config, Some(m), true).await
    }

    /// Evaluates `expression` with condition plugin `plugin` (usually `aviary/expr`) and
    /// `value` (extended JSON text) bound as `result`.
    pub async fn evaluate(&self, plugin: &str, expression: &str, value: &str) -> Result<bool, EvalError> {
        let started = Instant::now();
        let result = self.evaluate_inner(plugin, expression, value).await;
        let outcome = match &result {
            Err(EvalError::Plugin(f)) => f.reason(),
            _ => "ok",
        };
        self.inner.metrics.record(plugin, "evaluate", outcome, started.elapsed());
        result
    }

    async fn evaluate_inner(&self, plugin: &str, expression: &str, value: &str) -> Result<bool, EvalError> {
        let p = self.resolve_kind(plugin, PluginKind::Condition).await.map_err(EvalError::Plugin)?;
        if p.pre.kind() != PluginKind::Condition {
            return Err(EvalError::Plugin(Failure::Unavailable {
                detail: format!("plugin {plugin:?} is not a condition"),
            }));
        }
        let _permit = self.inner.calls.acquire().await;
        let deadline = deadline_after(p.limits.timeout);
        let mut store = self.new_store(&p, None, deadline);
        let outcome = tokio::time::timeout_at(
            deadline_after(p.limits.timeout.saturating_add(GRACE)).into(),
            p.pre.evaluate(&mut store, expression, value),
        )
        .await;
        store.data().flush_stdio();
        match outcome {
            Err(_) => Err(EvalError::Plugin(timeout(&p))),
            Ok(None) => {
                Err(EvalError::Plugin(Failure::Unavailable { detail: format!("plugin {plugin:?} is not a condition") }))
            }
            Ok(Some(Err(e))) => Err(EvalError::Plugin(classify(&p, &store, e))),
            Ok(Some(Ok(result))) => result.map_err(EvalError::Expression),
        }
    }

    async fn call_provider(
        &self,
        plugin: &str,
        ctx: &CallContext,
        config: &str,
        previous: Option<&Measurement>,
        terminate: bool,
    ) -> Measurement {
        let started = Instant::now();
        let m = self.call_provider_inner(plugin, ctx, config, previous, terminate).await;
        let operation = match (previous, terminate) {
            (None, _) => "measure",
            (Some(_), false) => "resume",
            (Some(_), true) => "terminate",
        };
        let outcome = m.failure.as_ref().map_or("ok", Failure::reason);
        self.inner.metrics.record(plugin, operation, outcome, started.elapsed());
        m
    }

    async fn call_provider_inner(
        &self,
        plugin: &str,
        ctx: &CallContext,
        config: &str,
        previous: Option<&Measurement>,
        terminate: bool,
    ) -> Measurement {
        let p = match self.resolve_kind(plugin, PluginKind::MetricProvider).await {
            Ok(p) => p,
            Err(failure) => return Measurement::from_failure(failure),
        };
        if p.pre.kind() != PluginKind::MetricProvider {
            return Measurement::from_failure(Failure::Unavailable {
                detail: format!("plugin {plugin:?} is not a metric provider"),
            });
        }
        let _permit = self.inner.calls.acquire().await;
        let deadline = deadline_after(p.limits.timeout);
        let skip_tls_verification = http::skips_tls_verification(&p.info.location, config);
        if skip_tls_verification {
            tracing::warn!(plugin = %p.info.name, "TLS certificate verification skipped for this call: its config says insecure: true");
        }
        let grant = Grant {
            plugin: p.info.name.as_str().into(),
            metrics: self.inner.metrics.clone(),
            allowed: Arc::new(p.allowed_for(config)),
            max_response_bytes: p.limits.max_response_bytes,
            deadline: deadline.into(),
            skip_tls_verification,
        };
        let mut store = self.new_store(&p, Some(grant), deadline);
        if let Some(api) = &self.kubernetes {
            store.data_mut().kubernetes = Some(KubernetesGrant {
                plugin: p.info.name.as_str().into(),
                metrics: self.inner.metrics.clone(),
                grants: p.kubernetes.clone(),
                namespace: ctx.namespace.clone(),
                api: api.clone(),
                max_response_bytes: p.limits.max_response_bytes,
            });
        }
        let outcome = tokio::time::timeout_at(
            deadline_after(p.limits.timeout.saturating_add(GRACE)).into(),
            p.pre.provide(&mut store, &p.info.name, ctx, config, previous, terminate),
        )
        .await;
        store.data().flush_stdio();
        match outcome {
            Err(_) => Measurement::from_failure(timeout(&p)),
            Ok(None) => Measurement::from_failure(Failure::Unavailable {
                detail: format!("plugin {plugin:?} is not a metric provider"),
            }),
            Ok(Some(Err(e))) => Measurement::from_failure(classify(&p, &store, e)),
            Ok(Some(Ok(mut m))) => {
                // Which component took the measurement: with hot reloads, the audit trail of a
                // run says exactly which version judged each step.
                m.metadata.insert(
                    PLUGIN_METADATA_KEY.into(),
                    format!("{}@sha256:{}", p.info.name, p.info.sha256.get(..16).unwrap_or(&p.info.sha256)),
                );
                m
            }
        }
    }

    /// One operation of traffic router `plugin` for a Rollout: Argo's router interface, in a
    /// fresh sandbox whose Kubernetes calls go through `api`, confined to the Rollout's
    /// namespace and to the router's grants. Never panics: a sandbox failure is
    /// [`RouterError::Plugin`], the router's own error [`RouterError::Router`]. The Events the
    /// router recorded come back in [`RouterReply::events`], or with its own error
    /// ([`RouterError::events`]); they are dropped with a call the sandbox ended.
    pub async fn route(
        &self,
        plugin: &str,
        call: RouterCall<'_>,
        operation: &RouterOperation,
        api: Arc<dyn KubernetesApi>,
    ) -> Result<RouterReply, RouterError> {
        let started = Instant::now();
        let result = self.route_inner(plugin, call, operation, api).await;
        let outcome = result.as_ref().err().map_or("ok", RouterError::reason);
        self.inner.metrics.record(plugin, operation.name(), outcome, started.elapsed());
        result
    }

    async fn route_inner(
        &self,
        plugin: &str,
        call: RouterCall<'_>,
        operation: &RouterOperation,
        api: Arc<dyn KubernetesApi>,
    ) -> Result<RouterReply, RouterError> {
        let p = self.resolve_kind(plugin, PluginKind::TrafficRouter).await.map_err(RouterError::Plugin)?;
        let _permit = self.inner.calls.acquire().await;
        let mut store = self.store_with_kubernetes(&p, p.allowed.clone(), call.namespace, api);
        let outcome = tokio::time::timeout_at(
            deadline_after(p.limits.timeout.saturating_add(GRACE)).into(),
            p.pre.route(&mut store, &call, operation),
        )
        .await;
        store.data().flush_stdio();
        let not_a_router = || Failure::Unavailable { detail: format!("plugin {plugin:?} is not a traffic router") };
        match outcome {
            Err(_) => Err(RouterError::Plugin(timeout(&p))),
            Ok(None) => Err(RouterError::Plugin(not_a_router())),
            Ok(Some(Err(e))) => Err(RouterError::Plugin(classify(&p, &store, e))),
            Ok(Some(Ok(Err(message)))) => Err(RouterError::Router {
                plugin: p.info.name.clone(),
                operation: operation.name(),
                message: bounded(message),
                // Argo's routers warn before they fail (`VirtualServiceNotFound`): the Events of
                // a failed operation are the caller's to record too. Those of a call the sandbox
                // ended are dropped with it.
                events: store.data_mut().take_events(),
            }),
            Ok(Some(Ok(Ok(mut reply)))) => {
                // The state is kept in the controller's memory per Rollout: bound it like an
                // answer, so a router cannot grow the controller through it.
                if let Some(state) = &reply.state
                    && u64::try_from(state.len()).unwrap_or(u64::MAX) > MAX_ROUTER_STATE
                {
                    return Err(RouterError::Plugin(Failure::InvalidValue {
                        plugin: p.info.name.clone(),
                        detail: format!("its state is {} bytes, over the cap of {MAX_ROUTER_STATE}", state.len()),
                    }));
                }
                reply.state = reply.state.filter(|s| !s.is_empty());
                reply.events = store.data_mut().take_events();
                Ok(reply)
            }
        }
    }

    /// One operation of step plugin `plugin` for a step of a Rollout (Argo's step-plugin
    /// interface), in a fresh sandbox with the plugin's network and Kubernetes grants, the
    /// latter confined to the Rollout's namespace. Never panics: a plugin that is not loaded (or
    /// not a step plugin) is [`StepError::Plugin`] with [`Failure::Unavailable`], one the sandbox
    /// ended another [`StepError::Plugin`], the plugin's own error [`StepError::Step`]. The answer
    /// is bounded: a message of at most 1 KiB, a status of valid JSON of at most 64 KiB, a
    /// requeue of at most a day.
    pub async fn step(
        &self,
        plugin: &str,
        call: StepCall<'_>,
        operation: StepOperation,
        api: Arc<dyn KubernetesApi>,
    ) -> Result<StepReply, StepError> {
        let started = Instant::now();
        let result = self.step_inner(plugin, call, operation, api).await;
        let outcome = result.as_ref().err().map_or("ok", StepError::reason);
        self.inner.metrics.record(plugin, operation.name(), outcome, started.elapsed());
        result
    }

    async fn step_inner(
        &self,
        plugin: &str,
        call: StepCall<'_>,
        operation: StepOperation,
        api: Arc<dyn KubernetesApi>,
    ) -> Result<StepReply, StepError> {
        let p = self.resolve_kind(plugin, PluginKind::Step).await.map_err(StepError::Plugin)?;
        let _permit = self.inner.calls.acquire().await;
        let mut store = self.store_with_kubernetes(&p, p.allowed_for(call.config), call.namespace, api);
        let outcome = tokio::time::timeout_at(
            deadline_after(p.limits.timeout.saturating_add(GRACE)).into(),
            p.pre.step(&mut store, plugin, &call, operation),
        )
        .await;
        store.data().flush_stdio();
        let invalid = |detail: String| StepError::Plugin(Failure::InvalidValue { plugin: p.info.name.clone(), detail });
        match outcome {
            Err(_) => Err(StepError::Plugin(timeout(&p))),
            Ok(None) => Err(StepError::Plugin(Failure::Unavailable {
                detail: format!("plugin {plugin:?} is not a step plugin"),
            })),
            Ok(Some(Err(e))) => Err(StepError::Plugin(classify(&p, &store, e))),
            Ok(Some(Ok(Err(message)))) => Err(StepError::Step {
                plugin: p.info.name.clone(),
                operation: operation.name(),
                message: bounded(message),
            }),
            Ok(Some(Ok(Ok(mut reply)))) => {
                // The status is kept in the Rollout's status: bound it, and keep only JSON.
                if let Some(status) = &reply.status {
                    if u64::try_from(status.len()).unwrap_or(u64::MAX) > MAX_ROUTER_STATE {
                        return Err(invalid(format!(
                            "its status is {} bytes, over the cap of {MAX_ROUTER_STATE}",
                            status.len()
                        )));
                    }
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(status) {
                        return Err(invalid(format!("its status is not JSON: {e}")));
                    }
                }
                reply.message = bounded(reply.message);
                reply.requeue_after = reply.requeue_after.map(|d| d.min(MAX_STEP_REQUEUE));
                Ok(reply)
            }
        }
    }

    /// Sends one notification through notifier plugin `plugin`, in a fresh sandbox with the
    /// plugin's network grant (a first-party notifier: the host of its config's `url` or
    /// `apiURL`) and no Kubernetes access. Never panics: a plugin that is not loaded (or not a
    /// notifier) is [`NotifyError::Plugin`] with [`Failure::Unavailable`], one the sandbox ended
    /// another [`NotifyError::Plugin`], the notifier's own "not delivered" [`NotifyError::Service`].
    pub async fn notify(&self, plugin: &str, call: NotifyCall<'_>) -> Result<(), NotifyError> {
        let started = Instant::now();
        let result = self.notify_inner(plugin, call).await;
        let outcome = result.as_ref().err().map_or("ok", NotifyError::reason);
        self.inner.metrics.record(plugin, "send", outcome, started.elapsed());
        result
    }

    async fn notify_inner(&self, plugin: &str, call: NotifyCall<'_>) -> Result<(), NotifyError> {
        let p = self.resolve_kind(plugin, PluginKind::Notifier).await.map_err(NotifyError::Plugin)?;
        let _permit = self.inner.calls.acquire().await;
        let deadline = deadline_after(p.limits.timeout);
        let grant = Grant {
            plugin: p.info.name.as_str().into(),
            metrics: self.inner.metrics.clone(),
            allowed: Arc::new(p.allowed_for(call.config)),
            max_response_bytes: p.limits.max_response_bytes,
            deadline: deadline.into(),
            skip_tls_verification: false,
        };
        let mut store = self.new_store(&p, Some(grant), deadline);
        let outcome = tokio::time::timeout_at(
            deadline_after(p.limits.timeout.saturating_add(GRACE)).into(),
            p.pre.notify(&mut store, &call),
        )
        .await;
        store.data().flush_stdio();
        match outcome {
            Err(_) => Err(NotifyError::Plugin(timeout(&p))),
            Ok(None) => Err(NotifyError::Plugin(Failure::Unavailable {
                detail: format!("plugin {plugin:?} is not a notifier"),
            })),
            Ok(Some(Err(e))) => Err(NotifyError::Plugin(classify(&p, &store, e))),
            Ok(Some(Ok(Err(message)))) => {
                Err(NotifyError::Service { plugin: p.info.name.clone(), message: bounded(message) })
            }
            Ok(Some(Ok(Ok(())))) => Ok(()),
        }
    }

    /// The Store of a router or step call: the network grant `allowed` and Kubernetes access
    /// through `api` under the plugin's grants, confined to `namespace`, with the call's deadline.
    fn store_with_kubernetes(
        &self,
        p: &Plugin,
        allowed: AllowedHosts,
        namespace: &str,
        api: Arc<dyn KubernetesApi>,
    ) -> Store<StoreState> {
        let deadline = deadline_after(p.limits.timeout);
        let grant = Grant {
            plugin: p.info.name.as_str().into(),
            metrics: self.inner.metrics.clone(),
            allowed: Arc::new(allowed),
            max_response_bytes: p.limits.max_response_bytes,
            deadline: deadline.into(),
            skip_tls_verification: false,
        };
        let mut store = self.new_store(p, Some(grant), deadline);
        store.data_mut().kubernetes = Some(KubernetesGrant {
            plugin: p.info.name.as_str().into(),
            metrics: self.inner.metrics.clone(),
            grants: p.kubernetes.clone(),
            namespace: namespace.to_string(),
            api,
            max_response_bytes: p.limits.max_response_bytes,
        });
        store
    }

    /// A fresh Store for one call: deny-all WASI, memory cap, network grant, and a deadline
    /// checked at every epoch tick. Between ticks the guest yields to the executor, so even a
    /// guest spinning in a loop leaves the worker thread to other tasks.
    fn new_store(&self, p: &Plugin, grant: Option<Grant>, deadline: Instant) -> Store<StoreState> {
        self.store_for(&p.info.name, p.limits.memory, grant, deadline)
    }

    fn store_for(&self, plugin: &str, memory: u64, grant: Option<Grant>, deadline: Instant) -> Store<StoreState> {
        let backend = http::Backend { client: self.inner.client.clone(), mode: self.http.clone() };
        let state = StoreState::new(plugin.into(), memory, grant, backend);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        crate::store::set_deadline(&mut store, deadline);
        store
    }

    async fn resolve_kind(&self, name: &str, kind: PluginKind) -> Result<Arc<Plugin>, Failure> {
        let p = self.resolve(name).await?;
        if p.kind != kind {
            return Err(Failure::Unavailable {
                detail: format!("plugin {name:?} is a {} plugin, not a {}", p.kind.as_str(), kind.as_str()),
            });
        }
        Ok(p)
    }

    /// Finds a plugin by name; a first-party plugin is compiled on its first use, on a blocking
    /// thread (a compile takes seconds of CPU: on a runtime worker it would stall every
    /// reconcile, lease renewals included), once however many calls ask for it at the same time.
    async fn resolve(&self, name: &str) -> Result<Arc<Plugin>, Failure> {
        if let Some(p) = self.registered(name) {
            return Ok(p);
        }
        let Some(b) = builtin::find(name) else { return self.resolve_now(name) };
        let _one_at_a_time = self.inner.builtin_compile.lock().await;
        if let Some(p) = self.registered(name) {
            return Ok(p);
        }
        let host = self.clone();
        tokio::task::spawn_blocking(move || host.compile_builtin(b))
            .await
            .map_err(|e| Failure::Unavailable { detail: format!("compiling {name:?} failed: {e}") })?
    }

    fn registered(&self, name: &str) -> Option<Arc<Plugin>> {
        let plugins = read(&self.inner.plugins);
        plugins.get(name).or_else(|| builtin::find(name).and_then(|b| plugins.get(b.name))).cloned()
    }

    /// [`Self::resolve`] on the calling thread, for configuration paths (the CLI's
    /// `--allow-host`), not for calls.
    fn resolve_now(&self, name: &str) -> Result<Arc<Plugin>, Failure> {
        if let Some(p) = self.registered(name) {
            return Ok(p);
        }
        if let Some(b) = builtin::find(name) {
            return self.compile_builtin(b);
        }
        if let Some(reason) = read(&self.inner.broken).get(name) {
            return Err(Failure::Unavailable { detail: format!("plugin {name:?} failed to load: {reason}") });
        }
        Err(Failure::Unavailable { detail: format!("plugin {name:?} is not registered") })
    }

    fn compile_builtin(&self, b: &'static Builtin) -> Result<Arc<Plugin>, Failure> {
        let plugin = self
            .compile(Candidate {
                name: b.name,
                bytes: b.bytes,
                location: format!("builtin:{}", b.name),
                expected: Some(b.kind),
                limits: None,
                allowed: AllowedHosts::none(),
                builtin_hosts: Some(b),
                kubernetes: b.grants(),
            })
            .map_err(|e| Failure::Unavailable { detail: e.to_string() })?;
        let plugin = Arc::new(plugin);
        write(&self.inner.plugins).insert(b.name.to_string(), plugin.clone());
        Ok(plugin)
    }

    fn compile(&self, c: Candidate<'_>) -> Result<Plugin, Error> {
        let started = Instant::now();
        let kind = inspect::binary_kind(c.bytes);
        if kind != Binary::Component {
            return Err(Error::Incompatible { name: c.name.to_string(), cause: inspect::not_a_component(kind) });
        }
        let sha = sha256_hex(c.bytes);
        let snapshot = self.preinitialised(&c, &sha);
        let preinitialised = snapshot.is_some();
        let (component, origin) = match snapshot {
            Some(loaded) => loaded,
            None => self
                .inner
                .cache
                .load(&self.inner.engine, &sha, c.bytes)
                .map_err(|cause| Error::Compile { name: c.name.to_string(), cause })?,
        };
        let description = inspect::describe(&self.inner.engine, &component, c.bytes);
        let world = inspect::check(&description, c.expected)
            .map_err(|cause| Error::Incompatible { name: c.name.to_string(), cause })?;
        let pre = self.link(c.name, &component, world, description.version.as_deref())?;
        let limits = c.limits.unwrap_or_else(|| Limits::defaults(world));
        let info = PluginInfo {
            name: c.name.to_string(),
            kind: world,
            sha256: sha,
            size: c.bytes.len(),
            location: c.location,
            version: description.version.unwrap_or_else(|| contract::NEWEST.to_string()),
            timeout: limits.timeout,
            memory_limit: limits.memory,
            allowed_hosts: match (c.allowed.is_empty(), c.builtin_hosts) {
                (true, Some(b)) => format!("the host in its `{}`", b.host_field.unwrap_or("config")),
                (true, None) => "none".into(),
                (false, Some(b)) => format!("{}, the host in its `{}`", c.allowed, b.host_field.unwrap_or("config")),
                (false, None) => c.allowed.to_string(),
            },
            cached: origin != Origin::Compiled,
            preinitialised,
            load_time: started.elapsed(),
            disabled: false,
        };
        Ok(Plugin {
            kind: world,
            limits,
            allowed: c.allowed,
            builtin_hosts: c.builtin_hosts,
            kubernetes: Arc::new(c.kubernetes),
            pre,
            info,
        })
    }

    /// The pre-initialised form of a component that exports [`preinit::INIT_EXPORT`]: from the
    /// compile cache (keyed by the original's digest), or made now and cached. `None` when the
    /// component does not ask for it, or when its init fails: then it is loaded as it is, which
    /// is slower per call but correct, and the reason is logged.
    fn preinitialised(&self, c: &Candidate<'_>, sha: &str) -> Option<(Component, Origin)> {
        let exports = preinit::top_level_exports(c.bytes);
        if !exports.iter().any(|e| e == preinit::INIT_EXPORT) {
            return None;
        }
        let key = format!("{sha}-preinit");
        if let Some(found) = self.inner.cache.cached(&self.inner.engine, &key) {
            return Some(found);
        }
        // A component of neither world is not pre-initialised; compiling it reports why.
        let world = c.expected.or_else(|| inspect::world_of(&exports))?;
        let linker = self.inner.linkers.of(world);
        let limits = c.limits.unwrap_or_else(|| Limits::defaults(world));
        let failed_key = format!("{sha}/{}ms/{}", limits.timeout.as_millis(), limits.memory);
        if let Some(reason) = read(&self.inner.preinit_failed).get(&failed_key) {
            tracing::debug!(plugin = %c.name, "pre-initialisation failed before for this digest, loading as it is: {reason}");
            return None;
        }
        let mut store = self.store_for(c.name, limits.memory, None, deadline_after(limits.timeout));
        let started = Instant::now();
        // Synchronous like the compile around it; the init runs on wasmtime's fiber and needs no
        // reactor. A panic inside the snapshotting (a component shape it mishandles) is a failed
        // pre-initialisation, never the host's.
        let made = futures::executor::block_on(
            std::panic::AssertUnwindSafe(preinit::snapshot(
                &self.inner.engine,
                linker,
                &mut store,
                c.bytes,
                limits.timeout,
            ))
            .catch_unwind(),
        )
        .unwrap_or_else(|_| Err("the snapshot panicked".to_string()));
        store.data().flush_stdio();
        let loaded = made
            .and_then(|snapshot| self.inner.cache.load(&self.inner.engine, &key, &snapshot).map_err(|e| e.to_string()));
        match loaded {
            Ok((component, origin)) => {
                tracing::info!(plugin = %c.name, took = ?started.elapsed(), "plugin pre-initialised");
                Some((component, origin))
            }
            Err(reason) => {
                tracing::warn!(plugin = %c.name, "pre-initialisation failed, loading the plugin as it is: {reason}");
                write(&self.inner.preinit_failed).insert(failed_key, reason);
                None
            }
        }
    }

    /// Type-checks a component against the world's linker once; the result instantiates cheaply.
    fn link(&self, name: &str, component: &Component, world: PluginKind, version: Option<&str>) -> Result<Pre, Error> {
        Pre::link(&self.inner.linkers, component, world, version).map_err(|source| Error::Link {
            name: name.to_string(),
            world,
            source,
        })
    }

    fn insert(&self, name: &str, plugin: Plugin) -> PluginInfo {
        let info = plugin.info.clone();
        tracing::info!(plugin = %name, sha256 = %info.sha256, cached = info.cached, load_time = ?info.load_time, "plugin loaded");
        write(&self.inner.broken).remove(name);
        write(&self.inner.disabled).remove(name);
        write(&self.inner.plugins).insert(name.to_string(), Arc::new(plugin));
        info
    }
}

/// Cap on the state a router may ask the controller to keep for one Rollout.
const MAX_ROUTER_STATE: u64 = 64 << 10;
/// Cap on the wait a step plugin may ask for between two `run` calls: a plugin asking for more is
/// polled daily rather than forgotten.
const MAX_STEP_REQUEUE: Duration = Duration::from_secs(86_400);
/// Cap on a router's error message (it becomes an event on the Rollout).
const MAX_ROUTER_MESSAGE: usize = 1024;

/// A router's message cut to [`MAX_ROUTER_MESSAGE`] bytes on a character boundary.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_ROUTER_MESSAGE {
        let mut cut = MAX_ROUTER_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut = cut.saturating_sub(1);
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// The instant `timeout` from now; a timeout too long for the clock is as good as none.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)).unwrap_or(now))
}

fn timeout(p: &Plugin) -> Failure {
    Failure::Timeout { plugin: p.info.name.clone(), deadline: p.limits.timeout }
}

/// Turns a wasmtime error into the stable reason users see.
fn classify(p: &Plugin, store: &Store<StoreState>, e: wasmtime::Error) -> Failure {
    let plugin = p.info.name.clone();
    if store.data().limiter.hit {
        return Failure::MemoryLimit { plugin, limit: p.limits.memory };
    }
    let detail = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return timeout(p),
        Some(Trap::UnreachableCodeReached) => match panic_message(&store.data().stderr_text()) {
            Some(msg) => format!("the plugin panicked: {msg}"),
            None => "wasm `unreachable` instruction executed (the plugin aborted)".to_string(),
        },
        Some(Trap::StackOverflow) => "stack overflow".to_string(),
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    };
    Failure::Trap { plugin, detail }
}

/// The message of a Rust panic, from what the guest printed to stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let _location = lines.next()?;
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    let message = message.join(" ").trim().to_string();
    (!message.is_empty()).then_some(message)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_stderr() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nthe plugin panicked on purpose\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("the plugin panicked on purpose"));
        assert_eq!(panic_message("nothing here"), None);
    }
}
