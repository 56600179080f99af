//! Argo Rollouts' notifications: an Event recorded on a Rollout fires the trigger named after
//! its reason (`RolloutCompleted` → `on-rollout-completed`), and each destination subscribed to
//! that trigger is sent the trigger's templates, rendered for the Rollout, through the
//! notification service the destination names (Argo's `sendNotifications`).
//!
//! The configuration is Argo's, unchanged ([`config`]); subscriptions are Argo's annotations
//! and global subscriptions ([`subscriptions`]); templates are Go templates ([`render`]). Each
//! service type is a Wasm component of the `notifier` world: Argo's services are the first-party
//! `aviary/<type>` (`aviary/webhook`, `aviary/slack`, ...); a service config may name another
//! component with `plugin: <registry name>`. A service that fails is a Warning Event
//! (`NotificationFailed`) on the Rollout and the metric `notification_send_error`, never a
//! delayed reconcile: notifications are sent by one task of their own, fed by the Event
//! recorder's caller. What is promised is kept on the Rollout ([`outbox`]) so that a restart or
//! a failover neither loses nor repeats a notification.

pub mod config;
pub mod outbox;
pub mod render;
pub mod subscriptions;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::context::Context;
use config::Config;
use outbox::{Entry, Send, State};

/// The reason of the Warning Event recorded when a notification was not delivered (never itself
/// a trigger).
pub const FAILED_REASON: &str = "NotificationFailed";

/// Notifications waiting for the sender; past it new ones are dropped with an error log and the
/// error metric (an API server or a notifier that stopped answering).
const QUEUE: usize = 1024;

/// A test hook: `AVIARY_NOTIFICATIONS_CRASH=before-send` (or `after-send`) makes the process exit
/// at once when it reaches that point of a notification, as a `kill -9` would, so that tests can
/// show what a restart does then.
const CRASH_ENV: &str = "AVIARY_NOTIFICATIONS_CRASH";

/// One Event of a Rollout, as the recorder's caller saw it.
struct Job {
    rollout: Value,
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    reason: String,
    warning: bool,
    at: DateTime<Utc>,
}

/// Work for the sender.
enum Work {
    /// A new Event.
    Event(Box<Job>),
    /// An entry a previous leader left `pending`.
    Resume { namespace: String, name: String, entry: Entry },
}

/// The notifications side of the controller.
pub struct Notifier {
    config: RwLock<Option<Arc<Config>>>,
    sender: mpsc::Sender<Work>,
    receiver: Mutex<Option<mpsc::Receiver<Work>>>,
    /// Each Rollout's outbox as this controller last wrote it (it is the only writer).
    outboxes: Mutex<HashMap<(String, String), Vec<Entry>>>,
    seq: AtomicU64,
    crash: Option<String>,
    /// Argo's self-service notifications: a Rollout's own namespace may hold a configuration
    /// too, used beside the controller's.
    pub self_service: bool,
}

impl Default for Notifier {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            config: RwLock::new(None),
            sender,
            receiver: Mutex::new(Some(receiver)),
            outboxes: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            crash: std::env::var(CRASH_ENV).ok().filter(|v| !v.is_empty()),
            self_service: false,
        }
    }
}

impl Notifier {
    /// The configuration in force (`None`: no ConfigMap).
    pub fn config(&self) -> Option<Arc<Config>> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_config(&self, config: Option<Config>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config.map(Arc::new);
    }

    /// Hands a Rollout's Event to the sender when something may be subscribed to it: the Rollout
    /// has subscription annotations, or the ConfigMap has global subscriptions (with self-service
    /// notifications, any Rollout: its namespace's ConfigMap may subscribe it). Never waits.
    pub fn offer<K: Resource<DynamicType = ()> + serde::Serialize>(
        &self,
        metrics: &crate::metrics::Metrics,
        object: &K,
        warning: bool,
        reason: &str,
    ) {
        if K::kind(&()) != "Rollout" || reason == FAILED_REASON {
            return;
        }
        let meta = object.meta();
        let annotations = meta.annotations.clone().unwrap_or_default();
        if !self.self_service {
            let Some(config) = self.config() else { return };
            if config.subscriptions.is_empty() && !subscriptions::subscribed(&annotations) {
                return;
            }
        }
        let (namespace, name) = (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
        let job = Job {
            rollout: serde_json::to_value(object).unwrap_or(Value::Null),
            namespace,
            name,
            labels: meta.labels.clone().unwrap_or_default(),
            annotations,
            reason: reason.to_string(),
            warning,
            at: Utc::now(),
        };
        if let Err(e) = self.sender.try_send(Work::Event(Box::new(job))) {
            let job = match e.into_inner() {
                Work::Event(job) => job,
                Work::Resume { .. } => return,
            };
            tracing::error!(rollout = %job.name, reason = %job.reason, "notification queue full: not sent");
            metrics.notification_sent(&job.namespace, &job.name, job.warning, &job.reason, false, None);
        }
    }
}

/// Follows the ConfigMap: an edit applies to the next Event. Keys that do not parse are logged
/// and recorded as a Warning Event on the ConfigMap; the others apply.
pub async fn watch_config(ctx: Arc<Context>) {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let wc = watcher::Config::default().fields(&format!("metadata.name={}", config::CONFIG_MAP));
    let mut stream = watcher(api, wc).boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                let (cfg, errors) = config::parse(cm.data.as_ref().unwrap_or(&BTreeMap::new()));
                for e in &errors {
                    tracing::warn!("{e}");
                    ctx.event(&cm, true, "InvalidNotificationConfig", e.to_string()).await;
                }
                tracing::info!(
                    services = cfg.services.len(),
                    triggers = cfg.triggers.len(),
                    templates = cfg.templates.len(),
                    "notification configuration loaded"
                );
                ctx.notifier.set_config(Some(cfg));
            }
            Ok(watcher::Event::Delete(_)) => ctx.notifier.set_config(None),
            Ok(_) => {}
            Err(e) => tracing::warn!("watching the {} ConfigMap: {e}", config::CONFIG_MAP),
        }
    }
}

/// The sender: once the caches are synced, picks up what a previous leader left pending, then
/// sends each Event's notifications in the order they were recorded.
pub async fn run(ctx: Arc<Context>, mut synced: tokio::sync::watch::Receiver<bool>) {
    let Some(mut receiver) = ctx.notifier.receiver.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    if synced.wait_for(|s| *s).await.is_err() {
        return;
    }
    resume(&ctx).await;
    while let Some(work) = receiver.recv().await {
        match work {
            // The configurations are read once per Event: deciding and sending use the same.
            Work::Event(job) => {
                let configs = configs(&ctx, &job.namespace).await;
                if let Some(entry) = decide(&ctx, &job, &configs).await {
                    send(&ctx, &job.namespace, &job.name, entry, Some(&job.rollout), &configs).await;
                }
            }
            Work::Resume { namespace, name, entry } => {
                let configs = configs(&ctx, &namespace).await;
                send(&ctx, &namespace, &name, entry, None, &configs).await;
            }
        }
    }
}

/// Reads the outboxes of every cached Rollout: `pending` entries are queued again, `sending`
/// ones are dropped (they may have been delivered).
async fn resume(ctx: &Context) {
    for cached in ctx.rollouts.state() {
        let Some(rollout) = cached.decoded() else { continue };
        let entries = outbox::read(rollout.annotations());
        if entries.is_empty() {
            continue;
        }
        let (ns, name) = (rollout.namespace().unwrap_or_default(), rollout.name_any());
        let (pending, sending): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|e| e.state == State::Pending);
        for e in &sending {
            tracing::warn!(
                rollout = %name, namespace = %ns, trigger = %e.trigger,
                "a notification was being sent when the previous leader stopped; it may have been delivered and is not sent again"
            );
        }
        ctx.notifier
            .outboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((ns.clone(), name.clone()), pending.clone());
        if !sending.is_empty() {
            persist(ctx, &ns, &name).await;
        }
        for entry in pending {
            tracing::info!(rollout = %name, namespace = %ns, trigger = %entry.trigger, "sending a notification left pending");
            let _ = ctx.notifier.sender.try_send(Work::Resume { namespace: ns.clone(), name: name.clone(), entry });
        }
    }
}

/// The configurations in force for a Rollout in `namespace`: the controller's, and with
/// self-service notifications its own namespace's (read when needed: Events are rare).
async fn configs(ctx: &Context, namespace: &str) -> Vec<(String, Arc<Config>)> {
    let mut out: Vec<(String, Arc<Config>)> = Vec::new();
    if let Some(c) = ctx.notifier.config() {
        out.push((String::new(), c));
    }
    if ctx.notifier.self_service && namespace != ctx.namespace {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
        match api.get_opt(config::CONFIG_MAP).await {
            Ok(Some(cm)) => {
                let (cfg, errors) = config::parse(cm.data.as_ref().unwrap_or(&BTreeMap::new()));
                for e in &errors {
                    tracing::warn!(namespace, "{e}");
                    ctx.event(&cm, true, "InvalidNotificationConfig", e.to_string()).await;
                }
                out.push((namespace.to_string(), Arc::new(cfg)));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(namespace, "cannot read the {} ConfigMap: {e}", config::CONFIG_MAP),
        }
    }
    out
}

/// The notifications an Event fires: in each configuration in force, its trigger's conditions
/// that hold, for each destination subscribed to it. `None` when nothing is to be sent. A
/// destination whose service only another configuration defines is that one's alone (Argo
/// would also try it in the configuration that lacks the service, and fail).
async fn decide(ctx: &Context, job: &Job, configs: &[(String, Arc<Config>)]) -> Option<Entry> {
    let trigger = subscriptions::trigger_of(&job.reason);
    let vars = json!({"rollout": job.rollout, "analysisRuns": analysis_runs(ctx, &job.rollout)});
    let mut sends = Vec::new();
    for (config_namespace, config) in configs {
        let defined_elsewhere = |service: &str| {
            !config.services.contains_key(service)
                && configs.iter().any(|(_, other)| other.services.contains_key(service))
        };
        let destinations: Vec<_> = subscriptions::destinations(config, &job.labels, &job.annotations, &trigger)
            .into_iter()
            .filter(|d| !defined_elsewhere(&d.service))
            .collect();
        if destinations.is_empty() {
            continue;
        }
        let Some(conditions) = config.triggers.get(&trigger) else {
            tracing::debug!(trigger, "no such trigger configured");
            continue;
        };
        sends.extend(fired(ctx, job, &trigger, conditions, &vars).await.into_iter().flat_map(|templates| {
            destinations.iter().map(move |d| Send {
                destination: d.clone(),
                templates: templates.clone(),
                config_namespace: config_namespace.clone(),
            })
        }));
    }
    if sends.is_empty() {
        return None;
    }
    let seq = ctx.notifier.seq.fetch_add(1, Ordering::Relaxed);
    Some(Entry {
        id: format!("{}-{seq}", job.at.timestamp_millis()),
        reason: job.reason.clone(),
        trigger,
        warning: job.warning,
        at: job.at,
        state: State::Pending,
        sends,
    })
}

/// The templates of each condition of a trigger that holds.
async fn fired(
    ctx: &Context,
    job: &Job,
    trigger: &str,
    conditions: &[config::Condition],
    vars: &Value,
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for c in conditions {
        let fired = c.when.trim().is_empty() || {
            match when(&c.when, vars) {
                Ok(b) => b,
                Err(e) => {
                    let message = format!("trigger {trigger}: condition {:?} cannot be evaluated: {e}", c.when);
                    record_failure(ctx, &job.namespace, &job.name, &message).await;
                    false
                }
            }
        };
        if fired {
            out.push(c.send.clone());
        }
    }
    out
}

/// A trigger's `when`, an expr expression over the notification's variables (Argo's triggers
/// use expr, as analysis conditions do). The ConfigMap is the operator's, so it is evaluated in
/// the controller, not in a sandbox: expr has no I/O and no unbounded loop.
fn when(expression: &str, vars: &Value) -> Result<bool, String> {
    let mut ctx = expr::Context::default();
    if let Value::Object(m) = vars {
        for (k, v) in m {
            ctx.insert(k.clone(), to_expr(v));
        }
    }
    let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expr::eval(expression, &ctx)))
        .map_err(|_| "the expression evaluator panicked".to_string())?;
    match evaluated.map_err(|e| e.to_string())? {
        expr::Value::Bool(b) => Ok(b),
        other => Err(format!("expected bool, but got {other:?}")),
    }
}

/// JSON as expr's values (integers stay integers, as Go decodes Kubernetes objects).
fn to_expr(v: &Value) -> expr::Value {
    match v {
        Value::Null => expr::Value::Nil,
        Value::Bool(b) => expr::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => expr::Value::Integer(i),
            None => expr::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => expr::Value::String(s.clone()),
        Value::Array(a) => expr::Value::Array(a.iter().map(to_expr).collect()),
        Value::Object(o) => expr::Value::Map(o.iter().map(|(k, v)| (k.clone(), to_expr(v))).collect()),
    }
}

/// The Rollout's AnalysisRuns of its current pod template and revision, newest first (Argo's
/// `analysisRuns` variable).
fn analysis_runs(ctx: &Context, rollout: &Value) -> Value {
    let ns = rollout.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let hash = rollout.pointer("/status/currentPodHash").and_then(Value::as_str).unwrap_or_default();
    let revision = rollout.pointer("/metadata/annotations/rollout.argoproj.io~1revision").and_then(Value::as_str);
    let mut runs: Vec<_> = ctx
        .analysis_runs
        .state()
        .into_iter()
        .filter(|r| r.meta().namespace.as_deref() == Some(ns))
        .filter(|r| r.labels().get("rollouts-pod-template-hash").map(String::as_str) == Some(hash))
        .filter(|r| r.annotations().get("rollout.argoproj.io/revision").map(String::as_str) == revision)
        .collect();
    runs.sort_by(|a, b| b.meta().creation_timestamp.cmp(&a.meta().creation_timestamp));
    serde_json::to_value(runs.iter().map(|r| &**r).collect::<Vec<_>>()).unwrap_or(Value::Null)
}

fn crash_at(ctx: &Context, point: &str) {
    if ctx.notifier.crash.as_deref() == Some(point) {
        tracing::error!("{CRASH_ENV}={point}: exiting");
        std::process::exit(137);
    }
}

/// The cached Rollout `ns/name`, if any.
fn cached_rollout(ctx: &Context, ns: &str, name: &str) -> Option<Arc<aviary_api::Rollout>> {
    ctx.rollouts.get(&kube::runtime::reflector::ObjectRef::new(name).within(ns)).and_then(|c| c.decoded())
}

/// Records `entry` pending, then sending, sends it with `configs` (the configurations in force
/// for the Rollout), and removes it.
async fn send(
    ctx: &Context,
    ns: &str,
    name: &str,
    mut entry: Entry,
    rollout: Option<&Value>,
    configs: &[(String, Arc<Config>)],
) {
    let key = (ns.to_string(), name.to_string());
    let set = |e: &Entry| {
        let mut outboxes = ctx.notifier.outboxes.lock().unwrap_or_else(|p| p.into_inner());
        let list = outboxes.entry(key.clone()).or_default();
        match list.iter_mut().find(|x| x.id == e.id) {
            Some(x) => *x = e.clone(),
            None => list.push(e.clone()),
        }
    };
    if entry.state == State::Pending && rollout.is_some() {
        set(&entry);
        persist(ctx, ns, name).await;
    }
    crash_at(ctx, "before-send");
    entry.state = State::Sending;
    set(&entry);
    persist(ctx, ns, name).await;

    // The Rollout as the Event saw it; for an entry resumed after a restart, as it is now.
    let current;
    let rollout = match rollout {
        Some(r) => r,
        None => {
            current = cached_rollout(ctx, ns, name).and_then(|r| serde_json::to_value(&*r).ok()).unwrap_or(Value::Null);
            &current
        }
    };
    let runs = analysis_runs(ctx, rollout);
    let mut secrets: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for s in &entry.sends {
        let started = Instant::now();
        let namespace = if s.config_namespace.is_empty() { ctx.namespace.clone() } else { s.config_namespace.clone() };
        if !secrets.contains_key(&namespace) {
            secrets.insert(namespace.clone(), secret_data(ctx, &namespace).await);
        }
        let secret = secrets.get(&namespace).cloned().unwrap_or_default();
        let result = deliver(ctx, s, configs, rollout, &runs, &secret).await;
        let took = started.elapsed();
        ctx.metrics.notification_sent(ns, name, entry.warning, &entry.reason, result.is_ok(), Some(took));
        match result {
            Ok(()) => tracing::info!(
                rollout = %name, namespace = %ns, trigger = %entry.trigger, service = %s.destination.service,
                recipient = %s.destination.recipient, "notification sent"
            ),
            Err(e) => {
                let to = match s.destination.recipient.as_str() {
                    "" => s.destination.service.clone(),
                    r => format!("{}:{r}", s.destination.service),
                };
                record_failure(ctx, ns, name, &format!("notification {} to {to} not sent: {e}", entry.trigger)).await;
            }
        }
    }
    crash_at(ctx, "after-send");
    ctx.notifier
        .outboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default()
        .retain(|x| x.id != entry.id);
    persist(ctx, ns, name).await;
}

async fn record_failure(ctx: &Context, ns: &str, name: &str, message: &str) {
    tracing::warn!(rollout = %name, namespace = %ns, "{message}");
    let mut rollout = aviary_api::Rollout::default();
    rollout.metadata.namespace = Some(ns.to_string());
    rollout.metadata.name = Some(name.to_string());
    if let Some(uid) = cached_rollout(ctx, ns, name).and_then(|r| r.metadata.uid.clone()) {
        rollout.metadata.uid = Some(uid);
    }
    ctx.event(&rollout, true, FAILED_REASON, message.to_string()).await;
}

/// Writes the Rollout's outbox annotation as this controller holds it.
async fn persist(ctx: &Context, ns: &str, name: &str) {
    let value = {
        let mut outboxes = ctx.notifier.outboxes.lock().unwrap_or_else(|p| p.into_inner());
        let key = (ns.to_string(), name.to_string());
        let value = outboxes.get(&key).and_then(|l| outbox::write(l));
        if value.is_none() {
            outboxes.remove(&key);
        }
        value
    };
    let patch = json!({"metadata": {"annotations": {outbox::ANNOTATION: value}}});
    let api: Api<aviary_api::Rollout> = Api::namespaced(ctx.client.clone(), ns);
    if let Err(e) = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        tracing::warn!(rollout = %name, namespace = %ns, "cannot record the notification outbox: {e}");
    }
}

/// The Secret's data in `namespace` as strings (empty without one).
async fn secret_data(ctx: &Context, namespace: &str) -> BTreeMap<String, String> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    match api.get_opt(config::SECRET).await {
        Ok(Some(s)) => s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect(),
        Ok(None) => BTreeMap::new(),
        Err(e) => {
            tracing::warn!("cannot read the {} Secret: {e}", config::SECRET);
            BTreeMap::new()
        }
    }
}

/// The notifier component of a service: the one its config names with `plugin:`, else the
/// first-party `aviary/<type>` (`aviary/webhook`, `aviary/slack`, ...; `aviary/newrelic-notifier`).
fn plugin_of(service: &config::Service) -> Result<String, String> {
    if let Some(plugin) = service.config.get("plugin").and_then(Value::as_str) {
        return Ok(plugin.to_string());
    }
    // `aviary/<type>`, or `aviary/<type>-notifier` where a provider has the plain name (newrelic).
    let first_party = [format!("aviary/{}", service.service_type), format!("aviary/{}-notifier", service.service_type)]
        .into_iter()
        .find(|name| {
            aviary_plugins::builtin::find(name).is_some_and(|b| b.kind == aviary_plugins::PluginKind::Notifier)
        });
    match first_party {
        Some(name) => Ok(name),
        None => Err(format!(
            "no notifier for service type {:?}: name its component with `plugin: <registry name>`",
            service.service_type
        )),
    }
}

/// Renders one send's templates (with the Rollout and its AnalysisRuns `runs`) and hands them to
/// its service's notifier.
async fn deliver(
    ctx: &Context,
    s: &Send,
    configs: &[(String, Arc<Config>)],
    rollout: &Value,
    runs: &Value,
    secret: &BTreeMap<String, String>,
) -> Result<(), String> {
    let config = configs.iter().find(|(ns, _)| *ns == s.config_namespace).map(|(_, c)| c).ok_or_else(|| {
        match s.config_namespace.as_str() {
            "" => "the notification ConfigMap is gone".to_string(),
            other => format!("the notification ConfigMap of namespace {other} is gone"),
        }
    })?;
    let service = config
        .services
        .get(&s.destination.service)
        .ok_or_else(|| format!("service {:?} is not configured", s.destination.service))?;
    let plugin = plugin_of(service)?;
    let chosen = s
        .templates
        .iter()
        .map(|t| {
            config.templates.get(t).map(|v| (t.as_str(), v)).ok_or_else(|| format!("template {t:?} is not configured"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let secrets = serde_json::to_value(secret).unwrap_or(Value::Null);
    let vars = render::vars(rollout, runs, &secrets)?;
    let rendered = render::render(&chosen, &vars)?;
    let service_config = config::resolve_secrets(&service.config, secret);
    let (config_text, template_text) = (service_config.to_string(), rendered.to_string());
    let call = aviary_plugins::NotifyCall {
        service: &s.destination.service,
        service_type: &service.service_type,
        config: &config_text,
        recipient: &s.destination.recipient,
        template: &template_text,
    };
    ctx.plugins.notify(&plugin, call).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_conditions_are_expr_over_the_variables() {
        let vars = json!({"rollout": {"status": {"phase": "Healthy", "currentStepIndex": 2},
                                      "spec": {"strategy": {"canary": {"steps": [1, 2, 3]}}}}});
        let cases = [
            ("rollout.status.phase == 'Healthy'", Ok(true)),
            ("rollout.status.currentStepIndex == 2", Ok(true)),
            ("rollout.status.currentStepIndex + 1 == len(rollout.spec.strategy.canary.steps)", Ok(true)),
            ("rollout.status.phase in ['Degraded', 'Paused']", Ok(false)),
        ];
        for (expression, expected) in cases {
            assert_eq!(when(expression, &vars), expected, "{expression}");
        }
        assert!(when("rollout.status.phase", &vars).unwrap_err().contains("expected bool"));
        assert!(when("rollout.status.phase ==", &vars).is_err());
    }
}
