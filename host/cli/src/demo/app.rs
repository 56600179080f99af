//! The demo's application: a Rollout with a canary (25% → analysis → 50% → analysis → 100%) or,
//! with `--blue-green`, a blue-green Rollout (the preview comes up, a pre-promotion analysis
//! runs against it, the active Service switches), an AnalysisTemplate whose metric uses the
//! first-party `web` provider, and the metrics endpoint that metric reads, served by this process
//! on loopback.
//!
//! The endpoint reports the error rate of the version being rolled out: 1%, and with `--fail`
//! 12% from the second measurement of the second analysis on (the template fails above 5%): the canary looks fine at
//! 25% and goes bad at 50%, so the user watches a promotion or an automatic abort mid-way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// The demo's namespace.
pub const NAMESPACE: &str = "aviary-demo";
/// The rollout's name.
pub const ROLLOUT: &str = "demo";
/// The container whose image the demo updates.
pub const CONTAINER: &str = "web";
/// The image deployed first.
pub const IMAGE_V1: &str = "registry.example/aviary-demo/web:1.0";
/// The image the demo rolls out.
pub const IMAGE_V2: &str = "registry.example/aviary-demo/web:2.0";
/// The error rate above which the analysis fails.
pub const MAX_ERROR_RATE: f64 = 0.05;

/// The metrics endpoint: `GET /metrics` → `{"errorRate": <f64>, "requests": <n>}`.
#[derive(Clone)]
pub struct Metrics {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    error_rate: Arc<AtomicU64>,
    bad_after: Arc<AtomicU64>,
    hits: Arc<AtomicU64>,
}

/// The error rate served with `--fail` once it goes bad.
pub const BAD_ERROR_RATE: f64 = 0.12;
/// Measurements per analysis.
pub const MEASUREMENTS: u64 = 3;

impl Metrics {
    /// Serves the endpoint on 127.0.0.1 until the runtime ends.
    pub async fn start(error_rate: f64) -> anyhow::Result<Metrics> {
        let rate = Arc::new(AtomicU64::new(error_rate.to_bits()));
        let bad_after = Arc::new(AtomicU64::new(u64::MAX));
        let hits = Arc::new(AtomicU64::new(0));
        let (r, b, h) = (rate.clone(), bad_after.clone(), hits.clone());
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let n = h.fetch_add(1, Ordering::SeqCst) + 1;
                if n > b.load(Ordering::SeqCst) {
                    r.store(BAD_ERROR_RATE.to_bits(), Ordering::SeqCst);
                }
                let v = f64::from_bits(r.load(Ordering::SeqCst));
                async move { axum::Json(json!({"errorRate": v, "requests": n})) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Metrics { addr, error_rate: rate, bad_after, hits })
    }

    /// The URL the analysis queries.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The error rate served.
    pub fn error_rate(&self) -> f64 {
        f64::from_bits(self.error_rate.load(Ordering::SeqCst))
    }

    /// Serve [`BAD_ERROR_RATE`] from the second measurement of the next-but-one analysis on.
    pub fn go_bad_after_one_analysis(&self) {
        // The second analysis passes its first measurement, then fails: the user sees it run.
        self.go_bad_after(MEASUREMENTS + 1);
    }

    /// Serve [`BAD_ERROR_RATE`] once `n` more measurements were taken.
    pub fn go_bad_after(&self, n: u64) {
        self.bad_after.store(self.hits() + n, Ordering::SeqCst);
    }

    /// How many times the endpoint was queried.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The AnalysisTemplate: three measurements three seconds apart, each must be ≤ 5%.
pub fn analysis_template(url: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "error-rate", "namespace": NAMESPACE},
        "spec": {"metrics": [{
            "name": "error-rate",
            "interval": "3s",
            "count": MEASUREMENTS,
            "failureLimit": 0,
            "successCondition": format!("result <= {MAX_ERROR_RATE}"),
            "provider": {"web": {"url": url, "jsonPath": "{$.errorRate}"}}
        }]}
    })
}

/// The Rollout: 4 pods, canary 25% → analysis → 50% → analysis → 100%.
pub fn rollout() -> Value {
    let analysis = json!({"analysis": {"templates": [{"templateName": "error-rate"}]}});
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": ROLLOUT, "namespace": NAMESPACE},
        "spec": {
            "replicas": 4,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": {"app": ROLLOUT}},
            "template": {
                "metadata": {"labels": {"app": ROLLOUT}},
                "spec": {"containers": [{"name": CONTAINER, "image": IMAGE_V1, "ports": [{"containerPort": 8080}]}]}
            },
            "strategy": {"canary": {"steps": [
                {"setWeight": 25}, analysis.clone(),
                {"setWeight": 50}, analysis,
                {"setWeight": 100}
            ]}}
        }
    })
}

/// The blue-green demo's Services: `demo-active` takes the users' traffic, `demo-preview` lets
/// the team (and the analysis) reach the new version before it does.
pub const ACTIVE_SERVICE: &str = "demo-active";
/// See [`ACTIVE_SERVICE`].
pub const PREVIEW_SERVICE: &str = "demo-preview";

/// A Service selecting the demo's pods (the controller adds the pod-template hash).
pub fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": ROLLOUT}, "ports": [{"port": 80, "targetPort": 8080}]}
    })
}

/// The blue-green Rollout: 4 pods; the new version comes up behind the preview Service, a
/// pre-promotion analysis must pass, then the active Service switches to it (automatically) and
/// the previous version is scaled down 5 s later.
pub fn blue_green_rollout() -> Value {
    let mut ro = rollout();
    ro["spec"]["strategy"] = json!({"blueGreen": {
        "activeService": ACTIVE_SERVICE,
        "previewService": PREVIEW_SERVICE,
        "prePromotionAnalysis": {"templates": [{"templateName": "error-rate"}]},
        "scaleDownDelaySeconds": 5,
        "abortScaleDownDelaySeconds": 5
    }});
    ro
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_manifests_are_valid_argo_objects() {
        for doc in [rollout(), blue_green_rollout(), analysis_template("http://127.0.0.1:1/metrics")] {
            let errors = aviary_api::crd::check_manifest(&doc).expect("one of our kinds");
            assert!(errors.is_empty(), "{errors:?}");
        }
        for doc in [rollout(), blue_green_rollout()] {
            let ro: aviary_api::Rollout = serde_json::from_value(doc).unwrap();
            assert!(aviary_api::validation::validate_rollout(&ro).is_empty());
        }
    }
}
