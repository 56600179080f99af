//! The shared end-to-end harness (aviary-test-support's `e2e`), started with this crate's
//! controller binary.
#![allow(dead_code, unused_imports, missing_docs)]

pub use aviary_test_support::e2e::*;

/// Starts (once per test binary) the cluster and this crate's controller.
pub async fn env() -> &'static Env {
    env_with(std::path::Path::new(env!("CARGO_BIN_EXE_aviary-controller"))).await
}
pub mod notify;
