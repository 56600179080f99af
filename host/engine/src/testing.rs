//! Builders for rollouts in tests, benchmarks and property tests.
//!
//! Reference rows describe rollouts tersely ("N=10, setWeight 20, surge 2, stable 10/10"); the
//! builder lets each test say exactly that and nothing more. The status it builds follows the
//! reference's convention: `stableRS = "stable"`, `currentPodHash = "canary"`, step index 0.

use aviary_api::IntOrString;
use aviary_api::rollout::{
    BlueGreenStrategy, CanaryStep, CanaryStrategy, NginxTrafficRouting, ReplicaProgressThreshold,
    ReplicaProgressThresholdType, Rollout, RolloutPause, RolloutSpec, RolloutStrategy, RolloutTrafficRouting,
    SetCanaryScale,
};
use aviary_api::rollout_status::RolloutStatus;

/// Builds a [`Rollout`] for a test.
#[derive(Clone, Debug)]
pub struct RolloutBuilder {
    rollout: Rollout,
}

impl RolloutBuilder {
    /// A canary rollout with `replicas` pods, no steps, stable "stable" and current "canary".
    pub fn canary(replicas: i32) -> Self {
        let mut rollout = Rollout::new(
            "demo",
            RolloutSpec {
                replicas: Some(replicas),
                strategy: RolloutStrategy { canary: Some(CanaryStrategy::default()), ..Default::default() },
                ..Default::default()
            },
        );
        rollout.status = Some(RolloutStatus {
            stable_rs: "stable".into(),
            current_pod_hash: "canary".into(),
            current_step_index: Some(0),
            ..Default::default()
        });
        RolloutBuilder { rollout }
    }

    /// A blue-green rollout with `replicas` pods.
    pub fn blue_green(replicas: i32) -> Self {
        let mut rollout = Rollout::new(
            "demo",
            RolloutSpec {
                replicas: Some(replicas),
                strategy: RolloutStrategy {
                    blue_green: Some(BlueGreenStrategy {
                        active_service: "active".into(),
                        preview_service: "preview".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        rollout.status =
            Some(RolloutStatus { stable_rs: "stable".into(), current_pod_hash: "canary".into(), ..Default::default() });
        RolloutBuilder { rollout }
    }

    fn canary_mut(&mut self) -> &mut CanaryStrategy {
        self.rollout.spec.strategy.canary.get_or_insert_with(Default::default)
    }

    fn status_mut(&mut self) -> &mut RolloutStatus {
        self.rollout.status.get_or_insert_with(Default::default)
    }

    /// Appends a step.
    pub fn step(mut self, step: CanaryStep) -> Self {
        self.canary_mut().steps.push(step);
        self
    }

    /// Appends `setWeight: w`.
    pub fn set_weight(self, w: i32) -> Self {
        self.step(CanaryStep { set_weight: Some(w), ..Default::default() })
    }

    /// Appends an indefinite `pause: {}`.
    pub fn pause(self) -> Self {
        self.step(CanaryStep { pause: Some(RolloutPause::default()), ..Default::default() })
    }

    /// Appends `setCanaryScale: {weight: w}`.
    pub fn canary_scale_weight(self, w: i32) -> Self {
        self.step(CanaryStep {
            set_canary_scale: Some(SetCanaryScale { weight: Some(w), ..Default::default() }),
            ..Default::default()
        })
    }

    /// Appends `setCanaryScale: {replicas: r}`.
    pub fn canary_scale_replicas(self, r: i32) -> Self {
        self.step(CanaryStep {
            set_canary_scale: Some(SetCanaryScale { replicas: Some(r), ..Default::default() }),
            ..Default::default()
        })
    }

    /// Appends a setCanaryScale step as given.
    pub fn canary_scale(self, scs: SetCanaryScale) -> Self {
        self.step(CanaryStep { set_canary_scale: Some(scs), ..Default::default() })
    }

    /// Adds NGINX traffic routing (stable/canary services set).
    pub fn traffic_routing(mut self) -> Self {
        let c = self.canary_mut();
        c.canary_service = "canary-svc".into();
        c.stable_service = "stable-svc".into();
        c.traffic_routing = Some(RolloutTrafficRouting {
            nginx: Some(NginxTrafficRouting { stable_ingress: "ingress".into(), ..Default::default() }),
            ..Default::default()
        });
        self
    }

    /// Sets `trafficRouting.maxTrafficWeight` (adds traffic routing if needed).
    pub fn max_traffic_weight(mut self, w: i32) -> Self {
        if self.canary_mut().traffic_routing.is_none() {
            self = self.traffic_routing();
        }
        if let Some(tr) = self.canary_mut().traffic_routing.as_mut() {
            tr.max_traffic_weight = Some(w);
        }
        self
    }

    /// Sets `maxSurge`.
    pub fn max_surge(mut self, v: IntOrString) -> Self {
        self.canary_mut().max_surge = Some(v);
        self
    }

    /// Sets `maxUnavailable`.
    pub fn max_unavailable(mut self, v: IntOrString) -> Self {
        self.canary_mut().max_unavailable = Some(v);
        self
    }

    /// Sets both fenceposts to ints.
    pub fn fenceposts(self, surge: i32, unavailable: i32) -> Self {
        self.max_surge(IntOrString::Int(surge)).max_unavailable(IntOrString::Int(unavailable))
    }

    /// Turns on `dynamicStableScale`.
    pub fn dynamic_stable_scale(mut self) -> Self {
        self.canary_mut().dynamic_stable_scale = true;
        self
    }

    /// Sets `abortScaleDownDelaySeconds`.
    pub fn abort_scale_down_delay(mut self, s: i32) -> Self {
        self.canary_mut().abort_scale_down_delay_seconds = Some(s);
        self
    }

    /// Sets `minPodsPerReplicaSet`.
    pub fn min_pods_per_replica_set(mut self, n: i32) -> Self {
        self.canary_mut().min_pods_per_replica_set = Some(n);
        self
    }

    /// Sets `replicaProgressThreshold`.
    pub fn replica_progress_threshold(mut self, type_: ReplicaProgressThresholdType, value: i32) -> Self {
        self.canary_mut().replica_progress_threshold = Some(ReplicaProgressThreshold { type_, value });
        self
    }

    /// Sets `canaryService` and `stableService`.
    pub fn services(mut self, canary: &str, stable: &str) -> Self {
        let c = self.canary_mut();
        c.canary_service = canary.into();
        c.stable_service = stable.into();
        self
    }

    /// Sets `status.currentStepIndex`.
    pub fn index(mut self, i: i32) -> Self {
        self.status_mut().current_step_index = Some(i);
        self
    }

    /// Sets `status.abort`.
    pub fn abort(mut self) -> Self {
        self.status_mut().abort = true;
        self
    }

    /// Sets `status.promoteFull`.
    pub fn promote_full(mut self) -> Self {
        self.status_mut().promote_full = true;
        self
    }

    /// Sets `status.stableRS`.
    pub fn stable_hash(mut self, h: &str) -> Self {
        self.status_mut().stable_rs = h.into();
        self
    }

    /// Records traffic weights in `status.canary.weights`.
    pub fn weights(mut self, canary: i32, stable: i32) -> Self {
        self.status_mut().canary.weights = Some(crate::weight::traffic_weights(canary, stable));
        self
    }

    /// Sets `spec.paused`.
    pub fn paused(mut self) -> Self {
        self.rollout.spec.paused = true;
        self
    }

    /// Adds the selector and pod template a valid Rollout needs (`app: demo`, one container).
    pub fn with_pods(mut self) -> Self {
        use aviary_api::k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
        use aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
        let labels: std::collections::BTreeMap<String, String> = [("app".to_string(), "demo".to_string())].into();
        self.rollout.spec.selector = Some(LabelSelector { match_labels: Some(labels.clone()), ..Default::default() });
        self.rollout.spec.template = Some(PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
            spec: Some(PodSpec {
                containers: vec![Container { name: "app".into(), image: Some("nginx".into()), ..Default::default() }],
                ..Default::default()
            }),
        });
        self
    }

    /// The rollout.
    pub fn build(self) -> Rollout {
        self.rollout
    }
}
