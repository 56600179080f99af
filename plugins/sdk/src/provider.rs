//! Metric providers: the [`Provider`] trait and the glue that exports it as the
//! `metric-provider` world.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aviary_value::Value;
use serde::de::DeserializeOwned;

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

/// Where a measurement stands; see the `phase` enum of the WIT for the meaning of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A value was obtained; the host judges it with the metric's conditions.
    Measured,
    /// In flight; the host calls [`Provider::resume`] later.
    Running,
    /// Judged by the provider itself: passed.
    Successful,
    /// Judged by the provider itself: failed.
    Failed,
    /// Judged by the provider itself: neither.
    Inconclusive,
    /// Could not be measured.
    Error,
}

/// A measurement as a provider returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Where it stands.
    pub phase: Phase,
    /// The value, if any.
    pub value: Option<Value>,
    /// Explanation shown to users.
    pub message: String,
    /// Details shown with the measurement; also the only place to keep state for `resume`.
    pub metadata: BTreeMap<String, String>,
    /// With [`Phase::Running`]: when to call `resume`.
    pub resume_after: Option<Duration>,
}

impl Measurement {
    /// A value for the host to judge with the metric's success and failure conditions.
    pub fn measured(value: Value) -> Self {
        Self::with_phase(Phase::Measured, Some(value))
    }

    /// A measurement still in flight; `resume` is called after `after`.
    pub fn running(after: Duration) -> Self {
        Self { resume_after: Some(after), ..Self::with_phase(Phase::Running, None) }
    }

    /// A measurement the provider judged itself.
    pub fn judged(phase: Phase, value: Option<Value>) -> Self {
        Self::with_phase(phase, value)
    }

    /// A measurement that could not be taken.
    pub fn error(message: impl Into<String>) -> Self {
        Self { message: message.into(), ..Self::with_phase(Phase::Error, None) }
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    fn with_phase(phase: Phase, value: Option<Value>) -> Self {
        Self { phase, value, message: String::new(), metadata: BTreeMap::new(), resume_after: None }
    }
}

/// Why a provider could not measure; becomes an `Error` measurement with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error(message.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::http::Error> for Error {
    fn from(e: crate::http::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
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

fn parse_config<P: Provider>(config: &str) -> Result<P::Config, Error> {
    serde_json::from_str(config).map_err(|e| Error(format!("invalid config: {e}")))
}

fn finish(result: Result<Measurement, Error>) -> wit::Measurement {
    to_wit(result.unwrap_or_else(|e| Measurement::error(e.0)))
}

/// Runs [`Provider::measure`] for the exported glue.
#[doc(hidden)]
pub fn run_measure<P: Provider>(ctx: wit::Context, config: String) -> wit::Measurement {
    finish(parse_config::<P>(&config).and_then(|c| P::measure(&from_wit_context(ctx), c)))
}

/// Runs [`Provider::resume`] for the exported glue.
#[doc(hidden)]
pub fn run_resume<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(parse_config::<P>(&config).and_then(|c| P::resume(&from_wit_context(ctx), c, from_wit(m)?)))
}

/// Runs [`Provider::terminate`] for the exported glue.
#[doc(hidden)]
pub fn run_terminate<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(parse_config::<P>(&config).and_then(|c| P::terminate(&from_wit_context(ctx), c, from_wit(m)?)))
}

fn from_wit_context(c: wit::Context) -> Context {
    Context { namespace: c.namespace, run_name: c.run_name, metric_name: c.metric_name }
}

fn to_wit(m: Measurement) -> wit::Measurement {
    wit::Measurement {
        phase: match m.phase {
            Phase::Measured => wit::Phase::Measured,
            Phase::Running => wit::Phase::Running,
            Phase::Successful => wit::Phase::Successful,
            Phase::Failed => wit::Phase::Failed,
            Phase::Inconclusive => wit::Phase::Inconclusive,
            Phase::Error => wit::Phase::Error,
        },
        value: m.value.map(|v| v.to_string()),
        message: m.message,
        metadata: m.metadata.into_iter().collect(),
        resume_after_ms: m.resume_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

fn from_wit(m: wit::Measurement) -> Result<Measurement, Error> {
    let value = match m.value {
        Some(text) => Some(Value::parse(&text).map_err(|e| Error(format!("invalid value from host: {e}")))?),
        None => None,
    };
    Ok(Measurement {
        phase: match m.phase {
            wit::Phase::Measured => Phase::Measured,
            wit::Phase::Running => Phase::Running,
            wit::Phase::Successful => Phase::Successful,
            wit::Phase::Failed => Phase::Failed,
            wit::Phase::Inconclusive => Phase::Inconclusive,
            wit::Phase::Error => Phase::Error,
        },
        value,
        message: m.message,
        metadata: m.metadata.into_iter().collect(),
        resume_after: m.resume_after_ms.map(Duration::from_millis),
    })
}

/// Exports a [`Provider`] implementation as this component's `metric-provider` world.
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        #[doc(hidden)]
        struct __AviaryProviderExport;

        impl $crate::provider::bindings::Guest for __AviaryProviderExport {
            fn measure(
                context: $crate::provider::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
            ) -> $crate::provider::bindings::aviary::plugin::types::Measurement {
                $crate::provider::run_measure::<$provider>(context, config)
            }
            fn resume(
                context: $crate::provider::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
                measurement: $crate::provider::bindings::aviary::plugin::types::Measurement,
            ) -> $crate::provider::bindings::aviary::plugin::types::Measurement {
                $crate::provider::run_resume::<$provider>(context, config, measurement)
            }
            fn terminate(
                context: $crate::provider::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
                measurement: $crate::provider::bindings::aviary::plugin::types::Measurement,
            ) -> $crate::provider::bindings::aviary::plugin::types::Measurement {
                $crate::provider::run_terminate::<$provider>(context, config, measurement)
            }
        }

        $crate::provider::bindings::__aviary_export_metric_provider!(
            __AviaryProviderExport with_types_in $crate::provider::bindings
        );
    };
}
