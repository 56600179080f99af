//! The Aviary plugin SDK: write a metric provider or a condition evaluator in Rust.
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

pub mod auth;
pub mod condition;
pub mod http;
pub mod log;
pub mod preinit;
pub mod provider;

pub use aviary_value::Value;
pub use condition::Condition;
pub use provider::{Context, Error, Measurement, Phase, Provider};

/// The contract version this SDK builds against.
pub const CONTRACT_VERSION: &str = "0.1.0";
