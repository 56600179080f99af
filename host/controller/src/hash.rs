//! The pod template hash: the `rollouts-pod-template-hash` label of a Rollout's ReplicaSets and
//! pods, and the suffix of the ReplicaSet's name.
//!
//! Kubernetes (and Argo) hash a pod template with FNV-32a, add the collision count, and encode
//! the number with `SafeEncodeString` so that the label never looks like a word. Argo feeds the
//! hash with Go's `spew` rendering of the struct, which cannot be reproduced outside Go; Aviary
//! feeds it the template's JSON. The label is only an identity: which ReplicaSet belongs to the
//! current template is decided by comparing templates (see `rollout::replicasets`), so
//! ReplicaSets created by Argo are recognised after a switch of controllers.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Kubernetes' `rand.SafeEncodeString` alphabet: no vowels, no confusable digits.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of `template` with `collision_count` mixed in, as a label value.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serialising a PodTemplateSpec cannot fail: it holds no maps with non-string keys.
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut h = fnv32a(0x811c_9dc5, &json);
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
        h = fnv32a(h, &bytes);
    }
    safe_encode(&h.to_string())
}

fn fnv32a(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let a = pod_template_hash(&template("nginx:1"), None);
        assert_eq!(a, pod_template_hash(&template("nginx:1"), None));
        assert_ne!(a, pod_template_hash(&template("nginx:2"), None));
        assert_ne!(a, pod_template_hash(&template("nginx:1"), Some(1)));
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)), "{a}");
        assert!(!a.is_empty() && a.len() <= 10);
    }
}
