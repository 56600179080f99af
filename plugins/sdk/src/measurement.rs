//! The measurement a provider returns, shared by the providers of both contracts
//! ([`crate::provider`], 0.1.0, and `provider2`, 0.2.0): their WIT types differ only by version,
//! so one Rust type serves both and [`wit_conversions!`] converts to and from each binding.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aviary_value::Value;

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

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

/// A provider's config from the JSON the host hands it; what does not deserialize becomes the
/// `Error` measurement's message, before the provider runs.
pub(crate) fn parse_config<C: serde::de::DeserializeOwned>(config: &str) -> Result<C, Error> {
    serde_json::from_str(config).map_err(|e| Error(format!("invalid config: {e}")))
}

/// `finish`, `to_wit` and `from_wit` between [`Measurement`] and the `types` interface of one contract's
/// bindings (`$wit`), for that contract's export glue.
macro_rules! wit_conversions {
    ($wit:ident) => {
        /// A provider's answer for the host: an error is an `Error` measurement with its message.
        fn finish(result: Result<$crate::measurement::Measurement, $crate::measurement::Error>) -> $wit::Measurement {
            to_wit(result.unwrap_or_else(|e| $crate::measurement::Measurement::error(e.0)))
        }

        fn to_wit(m: $crate::measurement::Measurement) -> $wit::Measurement {
            use $crate::measurement::Phase;
            $wit::Measurement {
                phase: match m.phase {
                    Phase::Measured => $wit::Phase::Measured,
                    Phase::Running => $wit::Phase::Running,
                    Phase::Successful => $wit::Phase::Successful,
                    Phase::Failed => $wit::Phase::Failed,
                    Phase::Inconclusive => $wit::Phase::Inconclusive,
                    Phase::Error => $wit::Phase::Error,
                },
                value: m.value.map(|v| v.to_string()),
                message: m.message,
                metadata: m.metadata.into_iter().collect(),
                resume_after_ms: m.resume_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            }
        }

        fn from_wit(m: $wit::Measurement) -> Result<$crate::measurement::Measurement, $crate::measurement::Error> {
            use $crate::measurement::{Error, Measurement, Phase};
            let value = match m.value {
                Some(text) => Some(
                    ::aviary_value::Value::parse(&text).map_err(|e| Error(format!("invalid value from host: {e}")))?,
                ),
                None => None,
            };
            Ok(Measurement {
                phase: match m.phase {
                    $wit::Phase::Measured => Phase::Measured,
                    $wit::Phase::Running => Phase::Running,
                    $wit::Phase::Successful => Phase::Successful,
                    $wit::Phase::Failed => Phase::Failed,
                    $wit::Phase::Inconclusive => Phase::Inconclusive,
                    $wit::Phase::Error => Phase::Error,
                },
                value,
                message: m.message,
                metadata: m.metadata.into_iter().collect(),
                resume_after: m.resume_after_ms.map(::std::time::Duration::from_millis),
            })
        }
    };
}
pub(crate) use wit_conversions;

/// The export glue of a provider module (`provider`, contract 0.1.0; `provider2`, 0.2.0): the
/// world's `Guest` calling the module's `run_*`, then the bindings' export macro. One body for
/// both contracts, whose worlds export the same three functions.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_provider_glue {
    ($provider:ty, $module:ident, $export:ident) => {
        #[doc(hidden)]
        struct __AviaryProviderExport;

        impl $crate::$module::bindings::Guest for __AviaryProviderExport {
            fn measure(
                context: $crate::$module::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
            ) -> $crate::$module::bindings::aviary::plugin::types::Measurement {
                $crate::$module::run_measure::<$provider>(context, config)
            }
            fn resume(
                context: $crate::$module::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
                measurement: $crate::$module::bindings::aviary::plugin::types::Measurement,
            ) -> $crate::$module::bindings::aviary::plugin::types::Measurement {
                $crate::$module::run_resume::<$provider>(context, config, measurement)
            }
            fn terminate(
                context: $crate::$module::bindings::aviary::plugin::types::Context,
                config: ::std::string::String,
                measurement: $crate::$module::bindings::aviary::plugin::types::Measurement,
            ) -> $crate::$module::bindings::aviary::plugin::types::Measurement {
                $crate::$module::run_terminate::<$provider>(context, config, measurement)
            }
        }

        $crate::$module::bindings::$export!(__AviaryProviderExport with_types_in $crate::$module::bindings);
    };
}
