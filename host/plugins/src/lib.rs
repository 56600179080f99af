//! The Wasm plugin host: Aviary's metric providers and condition evaluators run here.
//!
//! Every plugin is a WebAssembly component of the `aviary:plugin` contract (`wit/`). The host
//! keeps one wasmtime [`Engine`](wasmtime::Engine) for the process, compiles each component once
//! (and caches the native code on disk, keyed by the component's sha256 and the engine's
//! compatibility hash), prepares one `InstancePre` per plugin, and runs **every call in a fresh
//! Store**, with a deadline (epoch interruption, checked every 10 ms) and a memory cap. A plugin
//! that loops, exhausts its memory, traps or answers garbage produces one failed call with a
//! stable reason ([`Failure`]); the host carries on.
//!
//! Guests get no filesystem, no environment, no sockets and no processes. Their only network is
//! the `http` import, which the host performs with reqwest, only towards the hosts their
//! registry entry allows (redirects included), with a deadline and a response-size cap.
//!
//! What plugins answer and what operators configure is checked by `aviary-boundary` (re-exported
//! here): [`measurement`] (the bounds on an answer), [`registry`] (what the operator configures),
//! [`capability`] (the host allow-list, table-tested). The host's own code is split by what it
//! serves: load time (`load`: [`registry`], [`cache`], pre-initialisation, [`inspect`],
//! [`builtin`]), the call path (`call`: the Store, limits, the `http` import, [`recording`],
//! [`measurement`], [`metrics`]) and the contract (`contract`: one folder per WIT version and
//! the enum that dispatches on it); [`host`] ties them together.

// No panic reachable from input (plugin answers, object content, API responses): see
// docs/plugin-boundary.md. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod call;
mod contract;
mod error;
pub mod host;
mod load;

pub(crate) use call::{http, limits, store};
pub use call::{kubernetes, measurement, metrics, notify, recording, router, step};
pub use load::{builtin, cache, inspect, oci, registry};
pub(crate) use load::{engine, preinit};

pub use aviary_boundary::{capability, failure};
pub use error::Error;
pub use failure::Failure;
pub use host::{EvalError, HostConfig, PluginHost, PluginInfo};
pub use limits::Limits;
pub use measurement::{CallContext, Measurement, Phase};
pub use notify::{NotifyCall, NotifyError};
pub use recording::HttpMode;
pub use registry::{PluginKind, RegistryEntry, RegistryFile};
pub use router::{
    ACCESS_DENIED_REASON, RouterCall, RouterError, RouterEvent, RouterOperation, RouterReply, Verification,
    WeightDestination,
};
pub use step::{StepCall, StepError, StepOperation, StepPhase, StepReply};

/// Where the build script put the guest components, first-party and test-only alike. Tests of
/// other crates load the test components (`aviary_test_hostile.wasm`, ...) from here.
pub const GUEST_DIR: &str = env!("AVIARY_WASM_DIR");

/// Installs the process-wide rustls crypto provider (ring) that reqwest and kube use for TLS.
/// Call once at start-up of every binary; later calls are harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
