//! The host's side of a traffic-router call: what the controller asks ([`RouterOperation`]),
//! for which Rollout ([`RouterCall`]), and what comes back ([`RouterReply`], [`RouterError`]).
//! These types are free of any WIT version, so the controller never depends on one.

use std::fmt;

use crate::failure::Failure;

/// A destination besides the canary and the stable (an experiment's template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightDestination {
    /// The Service selecting its pods.
    pub service_name: String,
    /// Its ReplicaSet's pod-template-hash.
    pub pod_template_hash: String,
    /// Its weight out of maxTrafficWeight.
    pub weight: i32,
}

/// One operation of Argo's router interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterOperation {
    /// Point the routing at these ReplicaSets (by pod-template hash).
    UpdateHash {
        /// The canary's hash, empty when there is none.
        canary_hash: String,
        /// The stable's hash, empty when there is none.
        stable_hash: String,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
    /// Send `weight` to the canary.
    SetWeight {
        /// Out of maxTrafficWeight.
        weight: i32,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
    /// A `setHeaderRoute` step, as JSON.
    SetHeaderRoute(String),
    /// A `setMirrorRoute` step, as JSON.
    SetMirrorRoute(String),
    /// Whether `weight` is in effect.
    VerifyWeight {
        /// Out of maxTrafficWeight.
        weight: i32,
        /// Experiment destinations.
        additional: Vec<WeightDestination>,
    },
    /// Remove the header and mirror routes.
    RemoveManagedRoutes,
}

impl RouterOperation {
    /// The operation's name in the WIT, in metrics and in messages.
    pub fn name(&self) -> &'static str {
        match self {
            RouterOperation::UpdateHash { .. } => "update-hash",
            RouterOperation::SetWeight { .. } => "set-weight",
            RouterOperation::SetHeaderRoute(_) => "set-header-route",
            RouterOperation::SetMirrorRoute(_) => "set-mirror-route",
            RouterOperation::VerifyWeight { .. } => "verify-weight",
            RouterOperation::RemoveManagedRoutes => "remove-managed-routes",
        }
    }
}

/// For which Rollout a router is called.
#[derive(Debug, Clone, Copy)]
pub struct RouterCall<'a> {
    /// The Rollout's namespace: every Kubernetes call of the router is confined to it.
    pub namespace: &'a str,
    /// The Rollout's name.
    pub rollout_name: &'a str,
    /// The Rollout as JSON.
    pub rollout: &'a str,
    /// The router's configuration as JSON.
    pub config: &'a str,
    /// What the router returned as its state last time, if anything.
    pub state: Option<&'a str>,
}

/// Whether a router confirmed a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// It cannot tell.
    NotImplemented,
    /// In effect.
    Verified,
    /// Not yet.
    NotVerified,
}

impl Verification {
    /// `status.canary.weights.verified`: none when the router cannot tell.
    pub fn as_status(self) -> Option<bool> {
        match self {
            Verification::NotImplemented => None,
            Verification::Verified => Some(true),
            Verification::NotVerified => Some(false),
        }
    }
}

/// A Kubernetes Event the router asked to record on the Rollout (`record-event`), already
/// bounded by the host: a valid reason, a message of at most 1024 bytes, at most 16 per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterEvent {
    /// A `Warning` event when true, a `Normal` one otherwise.
    pub warning: bool,
    /// The Event's reason (`UpdatedDestinationRule`).
    pub reason: String,
    /// The Event's message.
    pub message: String,
}

/// A successful operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouterReply {
    /// The state to keep for the Rollout; none keeps the previous one.
    pub state: Option<String>,
    /// The answer of `verify-weight`; none for the other operations.
    pub verification: Option<Verification>,
    /// The Events the router recorded during the call, in order: the caller records them on the
    /// Rollout.
    pub events: Vec<RouterEvent>,
}

/// The reason of the Warning Event a router call carries when the host refused one of its
/// Kubernetes requests (the first of the call), whatever the router did with the refusal.
pub const ACCESS_DENIED_REASON: &str = "PluginAccessDenied";

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterError {
    /// The sandbox ended the call (timeout, memory, trap) or the plugin is unavailable.
    Plugin(Failure),
    /// The router answered with an error (its words).
    Router {
        /// The router's name.
        plugin: String,
        /// The operation.
        operation: &'static str,
        /// Its message.
        message: String,
        /// The Events the router recorded before answering the error (Argo's routers warn
        /// `VirtualServiceNotFound` and then fail): the caller records them too.
        events: Vec<RouterEvent>,
    },
}

impl RouterError {
    /// The stable reason, as in the call metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RouterError::Plugin(f) => f.reason(),
            RouterError::Router { .. } => "router_error",
        }
    }

    /// The Events recorded before the error: the router's own, for [`RouterError::Router`];
    /// none when the sandbox ended the call ([`RouterError::Plugin`]).
    pub fn events(&self) -> &[RouterEvent] {
        match self {
            RouterError::Plugin(_) => &[],
            RouterError::Router { events, .. } => events,
        }
    }
}

impl fmt::Display for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouterError::Plugin(failure) => write!(f, "{failure}"),
            RouterError::Router { plugin, operation, message, .. } => write!(f, "{plugin} {operation}: {message}"),
        }
    }
}

impl std::error::Error for RouterError {}
