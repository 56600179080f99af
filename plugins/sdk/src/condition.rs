//! Condition evaluators: the [`Condition`] trait and the glue that exports it as the `condition`
//! world.

use aviary_value::Value;

/// Bindings generated from `wit/v0.1` for the `condition` world. Public so that
/// [`crate::export_condition!`] can name them; not meant for direct use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.1",
        world: "condition",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_condition",
        default_bindings_module: "aviary_plugin_sdk::condition::bindings",
    });
}

/// A success/failure condition evaluator. Implement it for a unit type and export it with
/// [`crate::export_condition!`].
pub trait Condition {
    /// Evaluates `expression` with `result` bound to the measured value. An `Err` carries the
    /// message shown in the measurement (Argo's wording, e.g. `unknown name x`).
    fn evaluate(expression: &str, result: Value) -> Result<bool, String>;
}

/// Runs [`Condition::evaluate`] for the exported glue: the value text is decoded first, and a
/// value that does not decode is an error, never a guess.
#[doc(hidden)]
pub fn run_evaluate<C: Condition>(expression: String, value: String) -> Result<bool, String> {
    let value = Value::parse(&value).map_err(|e| format!("invalid value: {e}"))?;
    C::evaluate(&expression, value)
}

/// Exports a [`Condition`] implementation as this component's `condition` world.
#[macro_export]
macro_rules! export_condition {
    ($condition:ty) => {
        #[doc(hidden)]
        struct __AviaryConditionExport;

        impl $crate::condition::bindings::Guest for __AviaryConditionExport {
            fn evaluate(
                expression: ::std::string::String,
                value: ::std::string::String,
            ) -> ::std::result::Result<bool, ::std::string::String> {
                $crate::condition::run_evaluate::<$condition>(expression, value)
            }
        }

        $crate::condition::bindings::__aviary_export_condition!(
            __AviaryConditionExport with_types_in $crate::condition::bindings
        );
    };
}
