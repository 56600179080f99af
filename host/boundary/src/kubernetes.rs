//! Which Kubernetes objects a plugin may touch: the `kubernetes` grants of its registry entry,
//! for the `kubernetes` import of `aviary:plugin@0.2.0` (traffic routers, the Job provider, step
//! plugins).
//!
//! ```yaml
//! plugins:
//!   - name: aviary/gateway-api
//!     kind: traffic-router
//!     kubernetes:
//!       - apiGroup: gateway.networking.k8s.io
//!         kinds: [HTTPRoute, GRPCRoute]
//!         verbs: [get, patch]
//! ```
//!
//! Every call a plugin makes is checked here before the host sends it, and the answer is the
//! same whatever the controller's own RBAC would allow:
//!
//! - the object must be in the namespace of the object the call is for (the Rollout or the
//!   AnalysisRun): a plugin never reaches another team's namespace, nor a cluster-scoped kind;
//! - its group, kind and verb must be granted, by exact names (no wildcards: an operator reads
//!   a grant and knows what it allows);
//! - Secrets are never granted: credentials reach a plugin only through the host, for the
//!   entries that name them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// What a call does to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read the objects of a kind in the namespace.
    List,
    /// Create an object.
    Create,
    /// Change an object (merge or JSON patch).
    Patch,
    /// Delete an object.
    Delete,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        })
    }
}

/// One grant of a registry entry: these verbs on these kinds of one API group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesGrant {
    /// The API group (`gateway.networking.k8s.io`; empty for the core group).
    #[serde(default)]
    pub api_group: String,
    /// The kinds, as written in manifests (`HTTPRoute`).
    pub kinds: Vec<String>,
    /// The verbs.
    pub verbs: Vec<Verb>,
}

/// One call a plugin asks the host to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubernetesRequest<'a> {
    /// The object's `apiVersion` (`gateway.networking.k8s.io/v1`, `v1`).
    pub api_version: &'a str,
    /// The object's kind.
    pub kind: &'a str,
    /// The namespace the plugin asked for.
    pub namespace: &'a str,
    /// What it wants to do.
    pub verb: Verb,
}

impl KubernetesRequest<'_> {
    /// The API group of `apiVersion` (`apps/v1` → `apps`, `v1` → the core group, empty).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }
}

/// Why the host refused a plugin's call; the guest sees the message, the plugin metrics count
/// it as `denied`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The call names another namespace than the one of the object it is for.
    #[error(
        "{verb} {kind} in namespace {asked:?}: a plugin may only act in namespace {allowed:?}, the one of the object the call is for"
    )]
    Namespace {
        /// The verb.
        verb: Verb,
        /// The kind.
        kind: String,
        /// The namespace asked for.
        asked: String,
        /// The namespace of the call.
        allowed: String,
    },
    /// Secrets are never handed to a plugin this way.
    #[error("{verb} Secret: plugins never read Secrets; credentials reach a plugin only through the host")]
    Secret {
        /// The verb.
        verb: Verb,
    },
    /// The registry entry does not grant this verb on this kind.
    #[error("{verb} {kind} ({group}): not granted to this plugin; its registry entry grants {granted}")]
    NotGranted {
        /// The verb.
        verb: Verb,
        /// The kind.
        kind: String,
        /// The group, `core` for the core group.
        group: String,
        /// What the entry grants, for the operator reading the message.
        granted: String,
    },
}

/// The `kubernetes` grants of a registry entry, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesGrants {
    grants: Vec<KubernetesGrant>,
}

fn valid_kind(kind: &str) -> bool {
    kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && kind.chars().all(|c| c.is_ascii_alphanumeric())
}

fn valid_group(group: &str) -> bool {
    group.is_empty()
        || group.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl KubernetesGrants {
    /// Grants nothing: every call is denied.
    pub fn none() -> Self {
        Self::default()
    }

    /// Validates the entries: a kind is a manifest kind (`HTTPRoute`, no wildcard), a group a
    /// DNS name or empty, every grant names at least one kind and one verb, and no grant names
    /// Secrets.
    pub fn parse(grants: &[KubernetesGrant]) -> Result<Self, Invalid> {
        for (i, g) in grants.iter().enumerate() {
            let entry = format!("kubernetes[{i}]");
            if !valid_group(&g.api_group) {
                return Err(Invalid::Grant {
                    entry,
                    reason: format!("apiGroup {:?} is not an API group", g.api_group),
                });
            }
            if g.kinds.is_empty() || g.verbs.is_empty() {
                return Err(Invalid::Grant { entry, reason: "needs at least one kind and one verb".into() });
            }
            if let Some(k) = g.kinds.iter().find(|k| !valid_kind(k)) {
                return Err(Invalid::Grant {
                    entry,
                    reason: format!("kind {k:?} is not a Kubernetes kind such as HTTPRoute (no wildcards)"),
                });
            }
            if g.api_group.is_empty() && g.kinds.iter().any(|k| k == "Secret") {
                return Err(Invalid::Grant {
                    entry,
                    reason: "Secrets cannot be granted: credentials reach a plugin only through the host".into(),
                });
            }
        }
        Ok(Self { grants: grants.to_vec() })
    }

    /// True when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Whether the call may be made on behalf of an object in namespace `call_namespace`.
    pub fn check(&self, call_namespace: &str, request: &KubernetesRequest<'_>) -> Result<(), Denied> {
        if request.group().is_empty() && request.kind == "Secret" {
            return Err(Denied::Secret { verb: request.verb });
        }
        if call_namespace.is_empty() || request.namespace != call_namespace {
            return Err(Denied::Namespace {
                verb: request.verb,
                kind: request.kind.to_string(),
                asked: request.namespace.to_string(),
                allowed: call_namespace.to_string(),
            });
        }
        let granted = self.grants.iter().any(|g| {
            g.api_group == request.group()
                && g.kinds.iter().any(|k| k == request.kind)
                && g.verbs.contains(&request.verb)
        });
        if granted {
            return Ok(());
        }
        Err(Denied::NotGranted {
            verb: request.verb,
            kind: request.kind.to_string(),
            group: if request.group().is_empty() { "core".into() } else { request.group().to_string() },
            granted: self.to_string(),
        })
    }
}

impl fmt::Display for KubernetesGrants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.grants.is_empty() {
            return f.write_str("nothing");
        }
        let parts: Vec<String> = self
            .grants
            .iter()
            .map(|g| {
                let verbs: Vec<String> = g.verbs.iter().map(Verb::to_string).collect();
                let group = if g.api_group.is_empty() { "core" } else { g.api_group.as_str() };
                format!("{} {} ({group})", verbs.join(","), g.kinds.join(","))
            })
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> KubernetesGrants {
        KubernetesGrants::parse(&[KubernetesGrant {
            api_group: "gateway.networking.k8s.io".into(),
            kinds: vec!["HTTPRoute".into(), "GRPCRoute".into()],
            verbs: vec![Verb::Get, Verb::Patch],
        }])
        .unwrap()
    }

    fn req<'a>(api_version: &'a str, kind: &'a str, namespace: &'a str, verb: Verb) -> KubernetesRequest<'a> {
        KubernetesRequest { api_version, kind, namespace, verb }
    }

    #[test]
    fn a_granted_verb_on_a_granted_kind_in_the_call_s_namespace_is_allowed() {
        let g = routes();
        assert_eq!(g.check("shop", &req("gateway.networking.k8s.io/v1", "HTTPRoute", "shop", Verb::Patch)), Ok(()));
        assert_eq!(g.check("shop", &req("gateway.networking.k8s.io/v1beta1", "GRPCRoute", "shop", Verb::Get)), Ok(()));
    }

    #[test]
    fn another_namespace_is_denied_whatever_the_grants() {
        let err = routes().check("shop", &req("gateway.networking.k8s.io/v1", "HTTPRoute", "billing", Verb::Get));
        assert!(matches!(err, Err(Denied::Namespace { .. })), "{err:?}");
        assert!(err.unwrap_err().to_string().contains("may only act in namespace \"shop\""));
        // A cluster-scoped call (no namespace) is another namespace too.
        assert!(routes().check("shop", &req("gateway.networking.k8s.io/v1", "HTTPRoute", "", Verb::Get)).is_err());
    }

    #[test]
    fn an_ungranted_verb_kind_or_group_is_denied_with_what_is_granted() {
        let g = routes();
        for r in [
            req("gateway.networking.k8s.io/v1", "HTTPRoute", "shop", Verb::Delete),
            req("gateway.networking.k8s.io/v1", "TCPRoute", "shop", Verb::Get),
            req("networking.istio.io/v1", "HTTPRoute", "shop", Verb::Get),
            req("v1", "ConfigMap", "shop", Verb::Get),
        ] {
            let err = g.check("shop", &r).unwrap_err();
            assert!(matches!(err, Denied::NotGranted { .. }), "{r:?}: {err:?}");
            assert!(
                err.to_string().ends_with("grants get,patch HTTPRoute,GRPCRoute (gateway.networking.k8s.io)"),
                "{err}"
            );
        }
        assert!(KubernetesGrants::none().check("shop", &req("batch/v1", "Job", "shop", Verb::Create)).is_err());
    }

    #[test]
    fn secrets_are_never_reachable() {
        let all_core = KubernetesGrants::parse(&[KubernetesGrant {
            api_group: String::new(),
            kinds: vec!["ConfigMap".into()],
            verbs: vec![Verb::Get],
        }])
        .unwrap();
        assert!(matches!(all_core.check("shop", &req("v1", "Secret", "shop", Verb::Get)), Err(Denied::Secret { .. })));
        let err = KubernetesGrants::parse(&[KubernetesGrant {
            api_group: String::new(),
            kinds: vec!["Secret".into()],
            verbs: vec![Verb::Get],
        }])
        .unwrap_err();
        assert!(err.to_string().contains("Secrets cannot be granted"), "{err}");
    }

    #[test]
    fn grants_are_exact_names() {
        let bad = |group: &str, kind: &str, verbs: Vec<Verb>| {
            KubernetesGrants::parse(&[KubernetesGrant { api_group: group.into(), kinds: vec![kind.into()], verbs }])
        };
        assert!(bad("gateway.networking.k8s.io", "*", vec![Verb::Get]).is_err());
        assert!(bad("*", "HTTPRoute", vec![Verb::Get]).is_err());
        assert!(bad("Gateway.io", "HTTPRoute", vec![Verb::Get]).is_err());
        assert!(bad("batch", "job", vec![Verb::Get]).is_err());
        assert!(bad("batch", "Job", vec![]).is_err());
        assert!(bad("batch", "Job", vec![Verb::Create]).is_ok());
    }

    #[test]
    fn the_group_comes_from_the_api_version() {
        assert_eq!(req("apps/v1", "Deployment", "x", Verb::Get).group(), "apps");
        assert_eq!(req("v1", "Service", "x", Verb::Get).group(), "");
    }
}
