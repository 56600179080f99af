//! The hashes Argo names things by: the pod template hash (the `rollouts-pod-template-hash` label
//! of a Rollout's ReplicaSets and pods, the suffix of the ReplicaSet's name and
//! `status.currentPodHash`) and the step hash (`status.currentStepHash`).
//!
//! Both are Argo's (argo-rollouts v1.10 `utils/hash.ComputePodTemplateHash` and
//! `utils/conditions.ComputeStepHash`): FNV-32a over Go's `encoding/json` of the template (or of
//! the canary steps), the collision count mixed in as eight bytes (its little-endian `uint32` and
//! four zero bytes) when the status has one, the number in decimal, encoded with Kubernetes'
//! `SafeEncodeString`. The JSON is written as Go writes it ([`crate::gojson`]), so the same
//! manifest gets the same names under either controller: a user who switches controllers, in
//! either direction, mid-rollout, keeps their ReplicaSets and their step.
//!
//! The template hashed is the Rollout's own, as read from the API server (the server has applied
//! the CRD's defaults; nothing else is added), exactly as Argo hashes it.

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::gojson::{self, GoJsonError, Root};
use crate::rollout::Rollout;

/// Kubernetes' `rand.SafeEncodeString` alphabet: no vowels, no confusable digits.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of `template` with `collision_count` mixed in, as a label value.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> Result<String, GoJsonError> {
    let value = serde_json::to_value(template).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })?;
    let json = gojson::encode(Root::PodTemplateSpec, &value)?;
    let mut h = fnv32a(0x811c_9dc5, json.as_bytes());
    if let Some(c) = collision_count {
        // The uint32 in little-endian order, then four zero bytes: a u64 of it, little-endian.
        h = fnv32a(h, &u64::from(c as u32).to_le_bytes());
    }
    Ok(safe_encode(&h.to_string()))
}

/// `template` as Argo writes it back when it updates a Rollout (Go's encoding/json of its
/// `PodTemplateSpec`: every field Go always writes, quantities in canonical form).
pub fn normalized_template(template: &PodTemplateSpec) -> Result<serde_json::Value, GoJsonError> {
    let value = serde_json::to_value(template).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })?;
    let json = gojson::encode(Root::PodTemplateSpec, &value)?;
    serde_json::from_str(&json).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })
}

/// A Rollout's `spec` (as stored, unknown fields and all) as Argo writes it back when it updates
/// the Rollout for a new revision: Go's encoding of its `RolloutSpec`, which drops the fields Go
/// omits when empty (`steps: []`, `paused: false`) and the ones its types do not know, and writes
/// the template the way [`normalized_template`] does.
pub fn normalized_spec(spec: &serde_json::Value) -> Result<serde_json::Value, GoJsonError> {
    let json = gojson::encode(Root::RolloutSpec, spec)?;
    serde_json::from_str(&json).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })
}

/// An AnalysisRun's `spec` as Argo writes it when it creates the run: Go's encoding of its
/// `AnalysisRunSpec`, with the empty structs Go always writes (a job metric's `metadata: {}`,
/// its containers' `resources: {}`), so that a run looks the same whichever controller made it.
pub fn normalized_analysis_run_spec(spec: &serde_json::Value) -> Result<serde_json::Value, GoJsonError> {
    let json = gojson::encode(Root::AnalysisRunSpec, spec)?;
    serde_json::from_str(&json).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })
}

/// The hash of a canary's steps (`status.currentStepHash`); empty for a blue-green Rollout, as
/// Argo's.
pub fn step_hash(rollout: &Rollout) -> Result<String, GoJsonError> {
    let Some(canary) = rollout.spec.canary() else { return Ok(String::new()) };
    if rollout.spec.blue_green().is_some() {
        return Ok(String::new());
    }
    let steps = if canary.steps.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(&canary.steps).map_err(|e| GoJsonError { path: "$".into(), reason: e.to_string() })?
    };
    let json = gojson::encode(Root::CanarySteps, &steps)?;
    Ok(safe_encode(&fnv32a(0x811c_9dc5, json.as_bytes()).to_string()))
}

fn fnv32a(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            ALPHANUMS.get(usize::from(b).checked_rem(ALPHANUMS.len()).unwrap_or_default()).copied().unwrap_or(b'x')
                as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_written_back_as_go_writes_it() {
        let stored = serde_json::json!({
            "replicas": 3,
            "paused": false,
            "notAnArgoField": 1,
            "selector": {"matchLabels": {"app": "a"}},
            "strategy": {"canary": {"steps": []}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
        });
        let spec = normalized_spec(&stored).unwrap();
        assert_eq!(spec["replicas"], 3);
        assert!(spec.get("paused").is_none(), "false is omitted: {spec}");
        assert!(spec.get("notAnArgoField").is_none(), "unknown fields are dropped: {spec}");
        assert_eq!(spec["strategy"], serde_json::json!({"canary": {}}), "empty steps are omitted");
        // The template as Go writes it: every field Go always writes.
        assert_eq!(spec["template"]["spec"]["containers"][0]["resources"], serde_json::json!({}));
    }
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container { name: "app".into(), image: Some(image.into()), ..Default::default() }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(0x811c_9dc5, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(0x811c_9dc5, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(0x811c_9dc5, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hashes_are_stable_label_safe_and_change_with_the_template_and_collisions() {
        let hash = |image, collisions| pod_template_hash(&template(image), collisions).unwrap();
        let a = hash("nginx:1", None);
        assert_eq!(a, hash("nginx:1", None));
        assert_ne!(a, hash("nginx:2", None));
        assert_ne!(a, hash("nginx:1", Some(1)));
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)), "{a}");
        assert!(!a.is_empty() && a.len() <= 10);
    }

    /// The vectors hard-coded in Argo's own tests (utils/conditions, rollout/controller_test).
    #[test]
    fn argos_own_test_vectors() {
        assert_eq!(pod_template_hash(&PodTemplateSpec::default(), None).unwrap(), "658c46c486");
        let ro = |steps: serde_json::Value| -> Rollout {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
                "spec": {"strategy": {"canary": {"steps": steps}}}
            }))
            .unwrap()
        };
        assert_eq!(step_hash(&ro(serde_json::json!([{"pause": {}}]))).unwrap(), "6b9b86fbd5");
        assert_eq!(step_hash(&ro(serde_json::json!([{"pause": {}}, {"pause": {}}]))).unwrap(), "79c9b9f6bf");
        assert_eq!(step_hash(&ro(serde_json::json!([]))).unwrap(), "5ffbfbbd64");
    }

    /// Rollouts hashed by Argo's own functions (tests/argo `golden hashes`): the same template
    /// hash (with and without collision counts) and step hash.
    #[test]
    fn the_same_hashes_as_argo_for_every_golden_rollout() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Golden {
            file: String,
            pod_template_hash: String,
            with_collision_count0: String,
            with_collision_count3: String,
            step_hash: String,
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
        let golden: Vec<Golden> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("hashes.json")).unwrap()).unwrap();
        assert!(golden.len() >= 10);
        for g in golden {
            let text = std::fs::read_to_string(dir.join("rollouts").join(&g.file)).unwrap();
            let ro: Rollout = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", g.file));
            let t = &ro.spec.template.clone().unwrap_or_default();
            assert_eq!(pod_template_hash(t, None).unwrap(), g.pod_template_hash, "{}", g.file);
            assert_eq!(pod_template_hash(t, Some(0)).unwrap(), g.with_collision_count0, "{}", g.file);
            assert_eq!(pod_template_hash(t, Some(3)).unwrap(), g.with_collision_count3, "{}", g.file);
            assert_eq!(step_hash(&ro).unwrap(), g.step_hash, "{} steps", g.file);
        }
    }
}
