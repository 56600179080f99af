//! `aviary:plugin@0.2.0`: the host bindings of `wit/v0.2`, which adds the `kubernetes` import and
//! the `traffic-router` world. Its `types`, `http` and `log` interfaces are those of 0.1.0 under
//! a new version, so the host serves them by converting to and from the 0.1.0 bindings: one
//! implementation of each import, whatever the version.

use wasmtime::Store;
use wasmtime::component::Component;

use crate::call::measurement::{CallContext, Measurement};
use crate::call::notify::NotifyCall;
use crate::call::router::{RouterCall, RouterOperation, RouterReply, Verification, WeightDestination};
use crate::call::step::{StepCall, StepOperation, StepPhase, StepReply};
use crate::call::store::StoreState;
use crate::contract::v0_1;
use crate::kubernetes::{CallError, KubernetesError, PatchKind, create_call, object_call};
use crate::load::engine::Linkers;
use crate::load::registry::PluginKind;
use aviary_boundary::kubernetes::Verb;

/// Version string of this contract, as it appears in import names.
pub const VERSION: &str = "0.2.0";

/// The `metric-provider` world (with the `kubernetes` import).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod provider {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2",
        world: "metric-provider",
        imports: {
            "aviary:plugin/http.send": async,
            "aviary:plugin/kubernetes": async,
            default: trappable,
        },
        exports: { default: async },
    });
}

/// The `condition` world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod condition {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2",
        world: "condition",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "aviary:plugin/log": super::provider::aviary::plugin::log,
            "aviary:plugin/types": super::provider::aviary::plugin::types,
        },
    });
}

/// The `traffic-router` world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod router {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2",
        world: "traffic-router",
        // `http` and `kubernetes` (async) come from the provider's bindings, through `with`.
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "aviary:plugin/log": super::provider::aviary::plugin::log,
            "aviary:plugin/types": super::provider::aviary::plugin::types,
            "aviary:plugin/http": super::provider::aviary::plugin::http,
            "aviary:plugin/kubernetes": super::provider::aviary::plugin::kubernetes,
        },
    });
}

/// The `step` world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod step {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2",
        world: "step",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "aviary:plugin/log": super::provider::aviary::plugin::log,
            "aviary:plugin/types": super::provider::aviary::plugin::types,
            "aviary:plugin/http": super::provider::aviary::plugin::http,
            "aviary:plugin/kubernetes": super::provider::aviary::plugin::kubernetes,
        },
    });
}

/// The `notifier` world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2",
        world: "notifier",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "aviary:plugin/log": super::provider::aviary::plugin::log,
            "aviary:plugin/types": super::provider::aviary::plugin::types,
            "aviary:plugin/http": super::provider::aviary::plugin::http,
        },
    });
}

pub use notifier::aviary::plugin::notifications;
pub use provider::aviary::plugin::{http, kubernetes, log, types};
pub use router::aviary::plugin::routing;
pub use step::aviary::plugin::steps;

/// A component linked against one world of this version.
#[derive(Clone)]
pub(crate) enum Pre {
    /// The `metric-provider` world.
    Provider(provider::MetricProviderPre<StoreState>),
    /// The `condition` world.
    Condition(condition::ConditionPre<StoreState>),
    /// The `traffic-router` world.
    Router(router::TrafficRouterPre<StoreState>),
    /// The `step` world.
    Step(step::StepPre<StoreState>),
    /// The `notifier` world.
    Notifier(notifier::NotifierPre<StoreState>),
}

impl Pre {
    pub(crate) fn link(linkers: &Linkers, component: &Component, kind: PluginKind) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::MetricProvider => {
                Pre::Provider(provider::MetricProviderPre::new(linkers.provider.instantiate_pre(component)?)?)
            }
            PluginKind::Condition => {
                Pre::Condition(condition::ConditionPre::new(linkers.condition.instantiate_pre(component)?)?)
            }
            PluginKind::TrafficRouter => {
                Pre::Router(router::TrafficRouterPre::new(linkers.router.instantiate_pre(component)?)?)
            }
            PluginKind::Step => Pre::Step(step::StepPre::new(linkers.step.instantiate_pre(component)?)?),
            PluginKind::Notifier => {
                Pre::Notifier(notifier::NotifierPre::new(linkers.notifier.instantiate_pre(component)?)?)
            }
        })
    }

    pub(crate) fn kind(&self) -> PluginKind {
        match self {
            Pre::Provider(_) => PluginKind::MetricProvider,
            Pre::Condition(_) => PluginKind::Condition,
            Pre::Router(_) => PluginKind::TrafficRouter,
            Pre::Step(_) => PluginKind::Step,
            Pre::Notifier(_) => PluginKind::Notifier,
        }
    }

    pub(crate) async fn provide(
        &self,
        store: &mut Store<StoreState>,
        plugin: &str,
        ctx: &CallContext,
        config: &str,
        previous: Option<&Measurement>,
        terminate: bool,
    ) -> Option<wasmtime::Result<Measurement>> {
        let Pre::Provider(pre) = self else { return None };
        let wit_ctx = types::Context {
            namespace: ctx.namespace.clone(),
            run_name: ctx.run_name.clone(),
            metric_name: ctx.metric_name.clone(),
            run_uid: ctx.run_uid.clone(),
            sequence: ctx.sequence,
        };
        let previous = previous.map(|m| measurement_to_wit(&v0_1::convert::to_wit(m)));
        let config = config.to_string();
        let answer = async {
            let instance = pre.instantiate_async(&mut *store).await?;
            match (&previous, terminate) {
                (None, _) => instance.call_measure(&mut *store, &wit_ctx, &config).await,
                (Some(m), false) => instance.call_resume(&mut *store, &wit_ctx, &config, m).await,
                (Some(m), true) => instance.call_terminate(&mut *store, &wit_ctx, &config, m).await,
            }
        }
        .await;
        Some(answer.map(|m| v0_1::convert::from_wit(plugin, measurement_from_wit(m))))
    }

    pub(crate) async fn evaluate(
        &self,
        store: &mut Store<StoreState>,
        expression: &str,
        value: &str,
    ) -> Option<wasmtime::Result<Result<bool, String>>> {
        let Pre::Condition(pre) = self else { return None };
        let answer = async {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance.call_evaluate(&mut *store, expression, &value.to_string()).await
        }
        .await;
        Some(answer)
    }

    /// One router operation on a fresh instance: the router's reply, or its error message.
    pub(crate) async fn route(
        &self,
        store: &mut Store<StoreState>,
        call: &RouterCall<'_>,
        operation: &RouterOperation,
    ) -> Option<wasmtime::Result<Result<RouterReply, String>>> {
        let Pre::Router(pre) = self else { return None };
        let ctx = routing::RouterContext {
            namespace: call.namespace.to_string(),
            rollout_name: call.rollout_name.to_string(),
            rollout: call.rollout.to_string(),
            config: call.config.to_string(),
            state: call.state.map(str::to_string),
        };
        let destinations = |d: &[WeightDestination]| -> Vec<routing::WeightDestination> {
            d.iter()
                .map(|d| routing::WeightDestination {
                    service_name: d.service_name.clone(),
                    pod_template_hash: d.pod_template_hash.clone(),
                    weight: d.weight,
                })
                .collect()
        };
        let state_only =
            |r: Result<Option<String>, String>| r.map(|state| RouterReply { state, ..RouterReply::default() });
        let answer = async {
            let instance = pre.instantiate_async(&mut *store).await?;
            let s = &mut *store;
            Ok(match operation {
                RouterOperation::UpdateHash { canary_hash, stable_hash, additional } => state_only(
                    instance.call_update_hash(s, &ctx, canary_hash, stable_hash, &destinations(additional)).await?,
                ),
                RouterOperation::SetWeight { weight, additional } => {
                    state_only(instance.call_set_weight(s, &ctx, *weight, &destinations(additional)).await?)
                }
                RouterOperation::SetHeaderRoute(route) => {
                    state_only(instance.call_set_header_route(s, &ctx, route).await?)
                }
                RouterOperation::SetMirrorRoute(route) => {
                    state_only(instance.call_set_mirror_route(s, &ctx, route).await?)
                }
                RouterOperation::VerifyWeight { weight, additional } => instance
                    .call_verify_weight(s, &ctx, *weight, &destinations(additional))
                    .await?
                    .map(|(v, state)| RouterReply {
                        state,
                        events: Vec::new(),
                        verification: Some(match v {
                            routing::Verification::NotImplemented => Verification::NotImplemented,
                            routing::Verification::Verified => Verification::Verified,
                            routing::Verification::NotVerified => Verification::NotVerified,
                        }),
                    }),
                RouterOperation::RemoveManagedRoutes => state_only(instance.call_remove_managed_routes(s, &ctx).await?),
            })
        }
        .await;
        Some(answer)
    }
}

impl Pre {
    /// One step operation on a fresh instance: the plugin's answer, or its error message.
    pub(crate) async fn step(
        &self,
        store: &mut Store<StoreState>,
        plugin_name: &str,
        call: &StepCall<'_>,
        operation: StepOperation,
    ) -> Option<wasmtime::Result<Result<StepReply, String>>> {
        let Pre::Step(pre) = self else { return None };
        let ctx = steps::StepContext {
            namespace: call.namespace.to_string(),
            rollout_name: call.rollout_name.to_string(),
            rollout: call.rollout.to_string(),
            plugin_name: plugin_name.to_string(),
            config: call.config.to_string(),
            step_index: call.step_index,
            status: call.status.map(str::to_string),
        };
        let answer = async {
            let instance = pre.instantiate_async(&mut *store).await?;
            let s = &mut *store;
            match operation {
                StepOperation::Run => instance.call_run(s, &ctx).await,
                StepOperation::Terminate => instance.call_terminate(s, &ctx).await,
                StepOperation::Abort => instance.call_abort(s, &ctx).await,
            }
        }
        .await;
        Some(answer.map(|r| {
            r.map(|r| StepReply {
                phase: match r.phase {
                    steps::StepPhase::Running => StepPhase::Running,
                    steps::StepPhase::Successful => StepPhase::Successful,
                    steps::StepPhase::Failed => StepPhase::Failed,
                    steps::StepPhase::Error => StepPhase::Error,
                },
                message: r.message,
                requeue_after: r.requeue_after_ms.map(std::time::Duration::from_millis),
                status: r.status,
            })
        }))
    }
}

impl Pre {
    /// One notification on a fresh instance: `Ok(Err(_))` is the notifier's own "not
    /// delivered".
    pub(crate) async fn notify(
        &self,
        store: &mut Store<StoreState>,
        call: &NotifyCall<'_>,
    ) -> Option<wasmtime::Result<Result<(), String>>> {
        let Pre::Notifier(pre) = self else { return None };
        let n = notifications::Notification {
            service: call.service.to_string(),
            service_type: call.service_type.to_string(),
            config: call.config.to_string(),
            recipient: call.recipient.to_string(),
            template: call.template.to_string(),
        };
        let answer = async {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance.call_notify(&mut *store, &n).await
        }
        .await;
        Some(answer)
    }
}

/// The 0.1.0 measurement under its 0.2.0 name (the record is the same).
fn measurement_to_wit(m: &v0_1::types::Measurement) -> types::Measurement {
    types::Measurement {
        phase: match m.phase {
            v0_1::types::Phase::Measured => types::Phase::Measured,
            v0_1::types::Phase::Running => types::Phase::Running,
            v0_1::types::Phase::Successful => types::Phase::Successful,
            v0_1::types::Phase::Failed => types::Phase::Failed,
            v0_1::types::Phase::Inconclusive => types::Phase::Inconclusive,
            v0_1::types::Phase::Error => types::Phase::Error,
        },
        value: m.value.clone(),
        message: m.message.clone(),
        metadata: m.metadata.clone(),
        resume_after_ms: m.resume_after_ms,
    }
}

fn measurement_from_wit(m: types::Measurement) -> v0_1::types::Measurement {
    v0_1::types::Measurement {
        phase: match m.phase {
            types::Phase::Measured => v0_1::types::Phase::Measured,
            types::Phase::Running => v0_1::types::Phase::Running,
            types::Phase::Successful => v0_1::types::Phase::Successful,
            types::Phase::Failed => v0_1::types::Phase::Failed,
            types::Phase::Inconclusive => v0_1::types::Phase::Inconclusive,
            types::Phase::Error => v0_1::types::Phase::Error,
        },
        value: m.value,
        message: m.message,
        metadata: m.metadata,
        resume_after_ms: m.resume_after_ms,
    }
}

impl types::Host for StoreState {}
impl steps::Host for StoreState {}
impl notifications::Host for StoreState {}
impl routing::Host for StoreState {
    fn record_event(&mut self, warning: bool, reason: String, message: String) -> wasmtime::Result<()> {
        StoreState::record_event(self, warning, reason, message);
        Ok(())
    }
}

impl log::Host for StoreState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => v0_1::log::Level::Trace,
            log::Level::Debug => v0_1::log::Level::Debug,
            log::Level::Info => v0_1::log::Level::Info,
            log::Level::Warn => v0_1::log::Level::Warn,
            log::Level::Error => v0_1::log::Level::Error,
        };
        v0_1::log::Host::log(self, level, message)
    }
}

impl http::Host for StoreState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::Error> {
        let request = v0_1::http::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        match v0_1::http::Host::send(self, request).await {
            Ok(r) => Ok(http::Response { status: r.status, headers: r.headers, body: r.body }),
            Err(v0_1::http::Error::DeniedHost(h)) => Err(http::Error::DeniedHost(h)),
            Err(v0_1::http::Error::Timeout) => Err(http::Error::Timeout),
            Err(v0_1::http::Error::Transport(t)) => Err(http::Error::Transport(t)),
            Err(v0_1::http::Error::TooLarge(n)) => Err(http::Error::TooLarge(n)),
        }
    }
}

impl kubernetes::Host for StoreState {
    async fn get(&mut self, object: kubernetes::ObjectRef) -> Result<String, kubernetes::Error> {
        let call = object_call(Verb::Get, object.api_version, object.kind, object.name);
        self.kubernetes_call(call).await.map(|v| v.to_string()).map_err(to_wit_error)
    }

    async fn list(
        &mut self,
        api_version: String,
        kind: String,
        label_selector: Option<String>,
    ) -> Result<Vec<String>, kubernetes::Error> {
        let mut call = object_call(Verb::List, api_version, kind, String::new());
        call.label_selector = label_selector;
        let answer = self.kubernetes_call(call).await.map_err(to_wit_error)?;
        Ok(match answer {
            serde_json::Value::Array(items) => items.iter().map(serde_json::Value::to_string).collect(),
            other => vec![other.to_string()],
        })
    }

    async fn create(&mut self, object: String) -> Result<String, kubernetes::Error> {
        let call = create_call(&object).map_err(|m| kubernetes::Error::Rejected((400, m)))?;
        self.kubernetes_call(call).await.map(|v| v.to_string()).map_err(to_wit_error)
    }

    async fn patch(
        &mut self,
        object: kubernetes::ObjectRef,
        patch_type: kubernetes::PatchType,
        patch: String,
    ) -> Result<String, kubernetes::Error> {
        let document: serde_json::Value = serde_json::from_str(&patch)
            .map_err(|e| kubernetes::Error::Rejected((400, format!("the patch is not JSON: {e}"))))?;
        let mut call = object_call(Verb::Patch, object.api_version, object.kind, object.name);
        call.body = Some(document);
        call.patch = Some(match patch_type {
            kubernetes::PatchType::Merge => PatchKind::Merge,
            kubernetes::PatchType::Json => PatchKind::Json,
        });
        self.kubernetes_call(call).await.map(|v| v.to_string()).map_err(to_wit_error)
    }

    async fn delete(&mut self, object: kubernetes::ObjectRef) -> Result<(), kubernetes::Error> {
        let call = object_call(Verb::Delete, object.api_version, object.kind, object.name);
        self.kubernetes_call(call).await.map(|_| ()).map_err(to_wit_error)
    }
}

fn to_wit_error(e: CallError) -> kubernetes::Error {
    match e {
        CallError::Denied(reason) => kubernetes::Error::Denied(reason),
        CallError::Failed(KubernetesError::NotFound(m)) => kubernetes::Error::NotFound(m),
        CallError::Failed(KubernetesError::Conflict(m)) => kubernetes::Error::Conflict(m),
        CallError::Failed(KubernetesError::Rejected { code, message }) => kubernetes::Error::Rejected((code, message)),
        CallError::Failed(KubernetesError::Unavailable(m)) => kubernetes::Error::Unavailable(m),
    }
}
