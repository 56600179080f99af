//! Host bindings of each released contract version.
//!
//! One module per frozen `wit/vX.Y` folder (only 0.1 exists). A later version gets its own module
//! next to this one, and the host dispatches on the version a component was built against, so
//! plugins built for an old contract keep working (Zed's extension host does the same).

/// `aviary:plugin@0.1.0`.
pub mod v0_1 {
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
}
