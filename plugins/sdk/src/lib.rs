//! The Aviary plugin SDK: write a metric provider, a condition evaluator, a traffic router, a
//! canary step plugin or a notification service in Rust.
//!
//! A provider is a type implementing [`Provider`] with its own `Config` type, exported with
//! [`export_provider!`]; a condition evaluator implements [`Condition`] and is exported with
//! [`export_condition!`]. Build the crate as a `cdylib` with
//! `cargo build --release --target wasm32-wasip2` and the result is a component of the
//! `aviary:plugin@0.1.0` contract (see `wit/v0.1/plugin.wit`), ready to register with Aviary.
//!
//! ```ignore
//! use aviary_plugin_sdk::{export_provider, http, Context, Error, Measurement, Provider, Value};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { url: String }
//!
//! struct Hits;
//! impl Provider for Hits {
//!     type Config = Config;
//!     fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
//!         let body: serde_json::Value = http::Request::get(&config.url).send()?.json()?;
//!         Ok(Measurement::measured(Value::from_json(body["hits"].clone())))
//!     }
//! }
//! export_provider!(Hits);
//! ```
//!
//! Every call runs in a fresh sandboxed instance: keep nothing in statics between calls, and put
//! what a polling measurement needs later into its metadata. Setup that every call would repeat
//! (tables, parsers) can run once at load time instead: see [`preinit`].
//!
//! # Traffic routers (`aviary:plugin@0.2.0`)
//!
//! With the `router` feature (and without the default `v0-1` one, which is contract 0.1.0's:
//! `default-features = false`), the `router` module exports a `Router` implementation as the
//! `traffic-router` world of contract 0.2.0 (`wit/v0.2/plugin.wit`) with `export_router!`, and
//! the `kubernetes` module reads and writes Kubernetes objects through the host. Router logic
//! takes its cluster from its context, so that with the `testing` feature (in
//! `[dev-dependencies]`) its tests run natively against `kubernetes::fake::FakeCluster`. A
//! router logs with `router::log`, the 0.2.0 import, not with [`log`].
//!
//! # Step plugins (`aviary:plugin@0.2.0`)
//!
//! With the `step` feature (again `default-features = false`), the `step` module exports a
//! `Step` implementation as the `step` world with `export_step!`: the step of a canary's
//! `plugin:` entry, as Argo Rollouts' step plugins are. The controller calls `run` until it
//! answers successful or failed (a running answer asks to be called again after a delay, with
//! the plugin's own status kept in the Rollout and handed back), and `terminate` or `abort` when
//! the rollout is promoted past the step or aborted. A step sends HTTP requests with [`http`]
//! (the 0.2.0 import, to the hosts its entry allows), reaches the Kubernetes objects its entry
//! grants through its context's cluster, and logs with `step::log`. Its logic is tested natively
//! like a router's: build a `step::Context` over `kubernetes::fake::FakeCluster` (feature
//! `testing`, which turns on no world of its own).
//!
//! # Notifiers (`aviary:plugin@0.2.0`)
//!
//! With the `notifier` feature (again `default-features = false`), the `notifier` module exports
//! a `Notifier` implementation as the `notifier` world with `export_notifier!`: a notification
//! service, as Argo's notifications engine's `webhook` and `slack` are. The controller renders a
//! triggered template for a subscribed destination and calls `send` with a `notifier::Notification`
//! (the service's name and type, its config, the recipient and the rendered template as JSON); an
//! error is recorded on the Rollout and never retried by the controller. A notifier sends its
//! requests with [`http`] (the 0.2.0 import, to the hosts its entry allows), has no Kubernetes
//! access, and logs with `notifier::log`. Build its requests in pure functions of the
//! notification so that they are tested natively.
//!
//! A notifier that ports a Go service sends what the Go code would, with the Go ports the
//! feature brings: `gojson` (Go's `encoding/json` over `any`, and a client's `json.Decoder`),
//! `notifier::gostruct` (`encoding/json` over Go structs described by field tables) and
//! `notifier::gourl` (Go's `net/url`: parsing with Go's errors, `String`, `ResolveReference`,
//! and `strconv.Quote` as Go's errors quote a URL).
//!
//! One world per crate: `router`, `provider-v0-2`, `step` and `notifier` each make the SDK's
//! shared modules (`kubernetes`, `http`) import their world's interfaces, so a crate enables
//! exactly one of them (and `v0-1` off), and host/plugins/build.rs builds each group in a cargo
//! invocation of its own so features never unify in a component.

/// The `debug`, `info`, `warn` and `error` functions of a `log` module, over the `Level` and
/// `log` in scope where it is invoked (a world's `aviary:plugin/log` import, or its native
/// stand-in): one copy for the 0.1.0 `log` module and each 0.2.0 world's `log` module.
#[allow(unused_macros)]
macro_rules! log_functions {
    () => {
        /// Logs at debug level.
        pub fn debug(message: &str) {
            log(Level::Debug, message);
        }

        /// Logs at info level.
        pub fn info(message: &str) {
            log(Level::Info, message);
        }

        /// Logs at warn level.
        pub fn warn(message: &str) {
            log(Level::Warn, message);
        }

        /// Logs at error level.
        pub fn error(message: &str) {
            log(Level::Error, message);
        }
    };
}

/// The body of a 0.2.0 world's `log` module (`router::log`, `step::log`, `notifier::log`): the
/// `debug`, `info`, `warn` and `error` functions over the `aviary:plugin/log@0.2.0` import of the
/// world's own bindings (`super::bindings`, which differ per world, so the functions cannot be
/// shared as items), and natively (in unit tests) onto stderr. Written once here so that the
/// worlds log alike.
#[cfg(any(feature = "router", feature = "step", feature = "notifier"))]
macro_rules! world_log {
    () => {
        #[cfg(target_arch = "wasm32")]
        use super::bindings::aviary::plugin::log::{Level, log};

        #[cfg(not(target_arch = "wasm32"))]
        enum Level {
            Debug,
            Info,
            Warn,
            Error,
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn log(level: Level, message: &str) {
            let level = match level {
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            };
            eprintln!("[{level}] {message}");
        }

        log_functions!();
    };
}

#[cfg(feature = "v0-1")]
pub mod auth;
pub mod civil;
#[cfg(feature = "v0-1")]
pub mod condition;
pub mod duration;
#[cfg(feature = "notifier")]
pub mod gojson;
#[cfg(any(feature = "v0-1", feature = "step", feature = "notifier"))]
pub mod http;
#[cfg(feature = "jsonpath")]
pub mod jsonpath;
#[cfg(any(feature = "router", feature = "provider-v0-2", feature = "step"))]
pub mod kubernetes;
#[cfg(feature = "v0-1")]
pub mod log;
#[cfg(any(feature = "v0-1", feature = "provider-v0-2"))]
pub mod measurement;
#[cfg(feature = "notifier")]
pub mod notifier;
pub mod preinit;
#[cfg(feature = "v0-1")]
pub mod provider;
#[cfg(feature = "provider-v0-2")]
pub mod provider2;
#[cfg(feature = "router")]
pub mod router;
#[cfg(feature = "sigv4")]
pub mod sigv4;
#[cfg(feature = "step")]
pub mod step;
#[cfg(any(feature = "v0-1", feature = "sigv4"))]
pub mod url;

pub use aviary_value::Value;
#[cfg(feature = "v0-1")]
pub use condition::Condition;
#[cfg(feature = "notifier")]
pub use notifier::Notifier;
#[cfg(feature = "v0-1")]
pub use provider::{Context, Error, Measurement, Phase, Provider};
#[cfg(feature = "router")]
pub use router::Router;
#[cfg(feature = "step")]
pub use step::Step;

/// The contract version this SDK's providers and conditions build against (routers, steps and
/// notifiers: `router::CONTRACT_VERSION`, `step::CONTRACT_VERSION`, `notifier::CONTRACT_VERSION`).
pub const CONTRACT_VERSION: &str = "0.1.0";
