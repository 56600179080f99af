//! Pre-initialisation: work a plugin would otherwise repeat at the start of every call, done
//! once when the host loads it.
//!
//! Every call runs in a fresh instance, so a table built lazily on first use is rebuilt on every
//! call. Export an init function with [`crate::export_initialize!`] and the host runs it once at
//! load time (in the same sandbox as a call), snapshots the memory it leaves (Wizer), and starts
//! every call from that snapshot. The init function must be deterministic and must not keep
//! handles to anything outside the instance (open streams, clocks read for later use): only
//! memory survives the snapshot.

/// Bindings for the `wizer-initialize` export. This world is the SDK's, not part of the
/// `aviary:plugin` contract: a host that does not pre-initialise simply never calls it.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        inline: "package aviary:sdk@0.1.0;\nworld preinit {\n  export wizer-initialize: func();\n}\n",
        world: "preinit",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_preinit",
        default_bindings_module: "aviary_plugin_sdk::preinit::bindings",
    });
}

/// Exports `init` (a `fn()`) as the component's `wizer-initialize` function, next to the
/// component's [`crate::export_condition!`] or [`crate::export_provider!`] world.
#[macro_export]
macro_rules! export_initialize {
    ($init:path) => {
        #[doc(hidden)]
        struct __AviaryPreinitExport;

        impl $crate::preinit::bindings::Guest for __AviaryPreinitExport {
            fn wizer_initialize() {
                $init()
            }
        }

        $crate::preinit::bindings::__aviary_export_preinit!(
            __AviaryPreinitExport with_types_in $crate::preinit::bindings
        );
    };
}
