//! Metric providers of contract 0.2.0 (feature `provider-v0-2`): the 0.1.0 [`Provider`] shape,
//! plus the `kubernetes` import, for providers that work through Kubernetes objects rather than
//! an HTTP API, as Argo's `job` provider does.
//!
//! The logic takes its cluster from its [`Context`], so that with the `testing` feature its
//! tests run natively against `kubernetes::fake::FakeCluster`; in the component the host's
//! `kubernetes::Host` serves it, confined to the AnalysisRun's namespace and to the kinds and
//! verbs of the plugin's grants.
//!
//! ```ignore
//! use aviary_plugin_sdk::provider2::{Context, Provider, export_provider_v0_2};
//! use aviary_plugin_sdk::measurement::{Error, Measurement};
//!
//! struct Smoke;
//! impl Provider for Smoke {
//!     type Config = serde_json::Value;
//!     fn measure(ctx: &Context<'_>, config: serde_json::Value) -> Result<Measurement, Error> {
//!         let job = ctx.cluster().create(&config)?;
//!         Ok(Measurement::running(std::time::Duration::from_secs(1)))
//!     }
//! }
//! export_provider_v0_2!(Smoke);
//! ```

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::kubernetes::Cluster;
pub use crate::measurement::{Error, Measurement, Phase};

/// Bindings generated from `wit/v0.2` for the `metric-provider` world. Public so that
/// [`crate::export_provider_v0_2!`] can name them from the plugin's crate; not meant for direct
/// use.
#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    // A world of its own name that is contract 0.2.0's `metric-provider`: the generated glue is
    // named after the world, and 0.1.0's `metric-provider` (feature `v0-1`, on in the same
    // compilation whenever a workspace builds both kinds of plugin) would collide with it.
    wit_bindgen::generate!({
        inline: "package aviary:sdk;\nworld metric-provider-v0-2 {\n    include aviary:plugin/metric-provider@0.2.0;\n}\n",
        path: "../../wit/v0.2",
        world: "aviary:sdk/metric-provider-v0-2",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__aviary_export_metric_provider_v0_2",
        default_bindings_module: "aviary_plugin_sdk::provider2::bindings",
    });
}

use bindings::aviary::plugin::types as wit;

/// The contract version of this module's world.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Which analysis asks for a measurement, and the cluster the provider may reach for it.
pub struct Context<'a> {
    /// Namespace of the AnalysisRun (every Kubernetes call acts in it).
    pub namespace: String,
    /// Name of the AnalysisRun.
    pub run_name: String,
    /// Name of the metric in the run.
    pub metric_name: String,
    /// UID of the AnalysisRun.
    pub run_uid: String,
    /// The 1-based number of this measurement of the metric, errors included; 0 when unknown.
    pub sequence: u32,
    cluster: &'a dyn Cluster,
}

impl<'a> Context<'a> {
    /// A context over `cluster` (the host's, or a fake one in tests).
    pub fn new(
        namespace: impl Into<String>,
        run_name: impl Into<String>,
        metric_name: impl Into<String>,
        run_uid: impl Into<String>,
        sequence: u32,
        cluster: &'a dyn Cluster,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            run_name: run_name.into(),
            metric_name: metric_name.into(),
            run_uid: run_uid.into(),
            sequence,
            cluster,
        }
    }

    /// The cluster, confined to [`Context::namespace`].
    pub fn cluster(&self) -> &dyn Cluster {
        self.cluster
    }

    /// The controller reference to the AnalysisRun: what an object the provider creates names
    /// as its owner, so that it goes with the run.
    pub fn controller_reference(&self) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "name": self.run_name,
            "uid": self.run_uid,
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }
}

impl From<crate::kubernetes::Error> for Error {
    fn from(e: crate::kubernetes::Error) -> Self {
        Error(e.to_string())
    }
}

/// A metric provider of contract 0.2.0. Implement it for a unit type and export it with
/// [`crate::export_provider_v0_2!`].
pub trait Provider {
    /// The provider's configuration: the JSON under the metric's provider block.
    type Config: DeserializeOwned;

    /// Takes one measurement.
    fn measure(ctx: &Context<'_>, config: Self::Config) -> Result<Measurement, Error>;

    /// Polls a measurement left [`Phase::Running`]; the default reports that the provider does
    /// not poll.
    fn resume(ctx: &Context<'_>, config: Self::Config, measurement: Measurement) -> Result<Measurement, Error> {
        let _ = (ctx, config, measurement);
        Err(Error::msg("this provider does not take asynchronous measurements"))
    }

    /// Stops a running measurement because the run is terminating; the default records it as
    /// successful with Argo's message "Metric Terminated".
    fn terminate(ctx: &Context<'_>, config: Self::Config, measurement: Measurement) -> Result<Measurement, Error> {
        let _ = (ctx, config);
        Ok(Measurement { phase: Phase::Successful, message: "Metric Terminated".into(), ..measurement })
    }
}

fn context(c: wit::Context) -> Context<'static> {
    Context::new(c.namespace, c.run_name, c.metric_name, c.run_uid, c.sequence, &crate::kubernetes::Host)
}

/// Runs [`Provider::measure`] for the exported glue.
#[doc(hidden)]
pub fn run_measure<P: Provider>(ctx: wit::Context, config: String) -> wit::Measurement {
    finish(crate::measurement::parse_config::<P::Config>(&config).and_then(|c| P::measure(&context(ctx), c)))
}

/// Runs [`Provider::resume`] for the exported glue.
#[doc(hidden)]
pub fn run_resume<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(
        crate::measurement::parse_config::<P::Config>(&config).and_then(|c| P::resume(&context(ctx), c, from_wit(m)?)),
    )
}

/// Runs [`Provider::terminate`] for the exported glue.
#[doc(hidden)]
pub fn run_terminate<P: Provider>(ctx: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
    finish(
        crate::measurement::parse_config::<P::Config>(&config)
            .and_then(|c| P::terminate(&context(ctx), c, from_wit(m)?)),
    )
}

crate::measurement::wit_conversions!(wit);

/// Exports a [`Provider`] implementation as this component's `metric-provider` world of
/// contract 0.2.0.
#[macro_export]
macro_rules! export_provider_v0_2 {
    ($provider:ty) => {
        $crate::__export_provider_glue!($provider, provider2, __aviary_export_metric_provider_v0_2);
    };
}
