//! Metric providers: the [`Provider`] trait and the glue that exports it as the
//! `metric-provider` world.

use serde::de::DeserializeOwned;

pub use crate::measurement::{Error, Measurement, Phase};

/// Bindings generated from `wit/v0.1` for the `metric-provider` world. Public so that
/// [`crate::export_provider!`] can name them from the plugin's crate; not meant for direct use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.1",
        world: "metric-provider",
        pub_export_macro: true,
        export_macro_name: "__aviary_export_metric_provider",
        default_bindings_module: "aviary_plugin_sdk::provider::bindings",
    });
}

use bindings::aviary::plugin::types as wit;

/// Which analysis asks for a measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Namespace of the AnalysisRun.
    pub namespace: String,
    /// Name of the AnalysisRun.
    pub run_name: String,
    /// Name of the metric in the run.
    pub metric_name: String,
}

impl From<crate::http::Error> for Error {
    fn from(e: crate::http::Error) -> Self {
        Error(e.to_string())
    }
}

/// A metric provider. Implement it for a unit type and export it with
/// [`crate::export_provider!`].
pub trait Provider {
    /// The provider's configuration: the JSON under the metric's provider block, with
    /// `{{args.*}}` already substituted. A config that does not deserialize becomes an `Error`
    /// measurement naming the problem, before `measure` is called.
    type Config: DeserializeOwned;

    /// Takes one measurement.
    fn measure(ctx: &Context, config: Self::Config) -> Result<Measurement, Error>;

    /// Polls a measurement left [`Phase::Running`]. Providers that never return `Running` keep
    /// the default, which reports that they do not poll.
    fn resume(ctx: &Context, config: Self::Config, measurement: Measurement) -> Result<Measurement, Error> {
        let _ = (ctx, config, measurement);
        Err(Error::msg("this provider does not take asynchronous measurements"))
    }

    /// Stops a running measurement because the run is terminating. The default records it as
    /// successful with Argo's message "Metric Terminated".
    fn terminate(ctx: &Context, config: Self::Config, measurement: Measurement) -> Result<Measurement, Error> {
        let _ = (ctx, config);
        Ok(Measurement { phase: Phase::Successful, message: "Metric Terminated".into(), ..measurement })
    }
}

/// Runs [`Provider::measure`] for the exported glue.
#[doc(hidden)]
pub fn run_measure<P: Provider>(ctx: wit::Context, config: String) -> wit::Measurement {
    finish(crate::measurement::parse_config::<P::Config>(&config).and_then(|c| P::measure(&from_wit_context(ctx), c)))
}

/// Runs [`Provider::resume`] for the exported glue.
#[doc(hidden)]
pub fn run_resume<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(
        crate::measurement::parse_config::<P::Config>(&config)
            .and_then(|c| P::resume(&from_wit_context(ctx), c, from_wit(m)?)),
    )
}

/// Runs [`Provider::terminate`] for the exported glue.
#[doc(hidden)]
pub fn run_terminate<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(
        crate::measurement::parse_config::<P::Config>(&config)
            .and_then(|c| P::terminate(&from_wit_context(ctx), c, from_wit(m)?)),
    )
}

fn from_wit_context(c: wit::Context) -> Context {
    Context { namespace: c.namespace, run_name: c.run_name, metric_name: c.metric_name }
}

crate::measurement::wit_conversions!(wit);

/// Exports a [`Provider`] implementation as this component's `metric-provider` world.
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        $crate::__export_provider_glue!($provider, provider, __aviary_export_metric_provider);
    };
}
