//! `aviary:plugin@0.1.0`: the host bindings of the frozen `wit/v0.1` folder, and the mapping
//! between its measurement type and the host's ([`convert`]).

pub mod convert;

use wasmtime::Store;
use wasmtime::component::Component;

use crate::call::measurement::{CallContext, Measurement};
use crate::call::store::StoreState;
use crate::load::engine::Linkers;
use crate::load::registry::PluginKind;

/// Version string of this contract, as it appears in import names.
pub const VERSION: &str = "0.1.0";

/// The `metric-provider` world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod provider {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1",
        world: "metric-provider",
        imports: {
            "aviary:plugin/http.send": async,
            default: trappable,
        },
        exports: { default: async },
    });
}

/// The `condition` world; shares the interfaces generated for the provider world.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod condition {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1",
        world: "condition",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "aviary:plugin/log": super::provider::aviary::plugin::log,
            "aviary:plugin/types": super::provider::aviary::plugin::types,
        },
    });
}

pub use provider::aviary::plugin::{http, log, types};

/// A component linked against one world of this version.
#[derive(Clone)]
pub(crate) enum Pre {
    /// The `metric-provider` world.
    Provider(provider::MetricProviderPre<StoreState>),
    /// The `condition` world.
    Condition(condition::ConditionPre<StoreState>),
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
            PluginKind::TrafficRouter | PluginKind::Step | PluginKind::Notifier => {
                return Err(wasmtime::Error::msg(format!(
                    "the {} world exists from aviary:plugin@0.2.0 on",
                    kind.as_str()
                )));
            }
        })
    }

    pub(crate) fn kind(&self) -> PluginKind {
        match self {
            Pre::Provider(_) => PluginKind::MetricProvider,
            Pre::Condition(_) => PluginKind::Condition,
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
        };
        let previous = previous.map(convert::to_wit);
        // The bindings take the `json` type alias by `&String`.
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
        Some(answer.map(|m| convert::from_wit(plugin, m)))
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
}
