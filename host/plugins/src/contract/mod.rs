//! The plugin contract: one folder per released WIT version ([`v0_1`], [`v0_2`]) and the one
//! enum that dispatches on the version a component was built against ([`Pre`]), the way Zed's
//! extension host does: a later version is added beside the first, and plugins built for an
//! older one keep working.

pub mod v0_1;
pub mod v0_2;

use wasmtime::Store;
use wasmtime::component::Component;

use crate::call::measurement::{CallContext, Measurement};
use crate::call::router::{RouterCall, RouterOperation, RouterReply};
use crate::call::step::{StepCall, StepOperation, StepReply};
use crate::call::store::StoreState;
use crate::load::engine::Linkers;
use crate::load::registry::PluginKind;

/// A component type-checked against one version of one world, keyed by the version: it
/// instantiates cheaply for every call.
#[derive(Clone)]
pub(crate) enum Pre {
    /// `aviary:plugin@0.1.0`.
    V0_1(v0_1::Pre),
    /// `aviary:plugin@0.2.0`.
    V0_2(v0_2::Pre),
}

/// The version a host talks of when a component matches none.
pub(crate) const NEWEST: &str = v0_2::VERSION;

impl Pre {
    /// Type-checks `component` against the `kind` world of the version it imports (`version`,
    /// from its import names); a component importing none of our interfaces is tried against
    /// each version, newest first, and the error is the newest version's. A traffic router
    /// and a step plugin exist from 0.2.0 on.
    pub(crate) fn link(
        linkers: &Linkers,
        component: &Component,
        kind: PluginKind,
        version: Option<&str>,
    ) -> wasmtime::Result<Self> {
        match version {
            Some(v0_1::VERSION) if !kind.since_0_2() => v0_1::Pre::link(linkers, component, kind).map(Pre::V0_1),
            Some(_) => v0_2::Pre::link(linkers, component, kind).map(Pre::V0_2),
            None => v0_2::Pre::link(linkers, component, kind).map(Pre::V0_2).or_else(|newest| {
                if kind.since_0_2() {
                    return Err(newest);
                }
                v0_1::Pre::link(linkers, component, kind).map(Pre::V0_1).map_err(|_| newest)
            }),
        }
    }

    /// The world the component implements.
    pub(crate) fn kind(&self) -> PluginKind {
        match self {
            Pre::V0_1(p) => p.kind(),
            Pre::V0_2(p) => p.kind(),
        }
    }

    /// One traffic-router operation on a fresh instance in `store`. `None` when the component
    /// is not a router.
    pub(crate) async fn route(
        &self,
        store: &mut Store<StoreState>,
        call: &RouterCall<'_>,
        operation: &RouterOperation,
    ) -> Option<wasmtime::Result<Result<RouterReply, String>>> {
        match self {
            Pre::V0_1(_) => None,
            Pre::V0_2(p) => p.route(store, call, operation).await,
        }
    }

    /// One step-plugin operation on a fresh instance in `store`. `None` when the component is
    /// not a step plugin.
    pub(crate) async fn step(
        &self,
        store: &mut Store<StoreState>,
        plugin_name: &str,
        call: &StepCall<'_>,
        operation: StepOperation,
    ) -> Option<wasmtime::Result<Result<StepReply, String>>> {
        match self {
            Pre::V0_1(_) => None,
            Pre::V0_2(p) => p.step(store, plugin_name, call, operation).await,
        }
    }

    /// One notification on a fresh instance in `store`. `None` when the component is not a
    /// notifier.
    pub(crate) async fn notify(
        &self,
        store: &mut Store<StoreState>,
        call: &crate::notify::NotifyCall<'_>,
    ) -> Option<wasmtime::Result<Result<(), String>>> {
        match self {
            Pre::V0_1(_) => None,
            Pre::V0_2(p) => p.notify(store, call).await,
        }
    }

    /// `measure`, `resume` (with `previous`) or `terminate` on a fresh instance in `store`; the
    /// guest's answer validated. `None` when the component is not a metric provider.
    pub(crate) async fn provide(
        &self,
        store: &mut Store<StoreState>,
        plugin: &str,
        ctx: &CallContext,
        config: &str,
        previous: Option<&Measurement>,
        terminate: bool,
    ) -> Option<wasmtime::Result<Measurement>> {
        match self {
            Pre::V0_1(p) => p.provide(store, plugin, ctx, config, previous, terminate).await,
            Pre::V0_2(p) => p.provide(store, plugin, ctx, config, previous, terminate).await,
        }
    }

    /// `evaluate` on a fresh instance in `store`: the condition's value, or the evaluation
    /// error as the condition language words it. `None` when the component is not a condition.
    pub(crate) async fn evaluate(
        &self,
        store: &mut Store<StoreState>,
        expression: &str,
        value: &str,
    ) -> Option<wasmtime::Result<Result<bool, String>>> {
        match self {
            Pre::V0_1(p) => p.evaluate(store, expression, value).await,
            Pre::V0_2(p) => p.evaluate(store, expression, value).await,
        }
    }
}
