//! What crosses into Aviary from outside its trust, checked before anything else sees it.
//!
//! Two kinds of input are written by someone the controller cannot trust to be right: what a
//! plugin answers (a third-party component may loop, explode or lie, and the sandbox only
//! contains the first two) and what an operator configures in the plugin registry. This crate
//! holds both checks, without a Wasm runtime or an API client, so that they can be unit-tested,
//! fuzzed (`fuzz/`) and shared by the plugin host, the engine and the controller:
//!
//! - [`measurement`]: the bounds on a provider's answer and [`RawMeasurement::validate`], which
//!   turns any answer into either a bounded [`Measurement`] or an `Error` measurement naming
//!   the field and the bound (docs/plugin-boundary.md);
//! - [`failure`]: why a call failed, with stable reasons for messages and metrics;
//! - [`registry`], [`capability`], [`kubernetes`], [`limits`]: the registry's schema, its
//!   network allow-lists, its Kubernetes grants and its per-plugin limits, each entry validated
//!   on its own.

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

pub mod capability;
mod error;
pub mod failure;
pub mod kubernetes;
pub mod limits;
pub mod measurement;
pub mod oci;
pub mod registry;

pub use error::{Error, Invalid};
pub use failure::Failure;
pub use measurement::{CallContext, Measurement, Phase, RawMeasurement};
