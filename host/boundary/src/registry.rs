//! The plugin registry: what an operator configures, and how each entry is checked.
//!
//! The controller reads the registry from its ConfigMap (`aviary-config`, key `plugins.yaml`),
//! the CLI from a file (`--plugins FILE`); both hold the same document:
//!
//! ```yaml
//! plugins:
//!   - name: acme/datadog            # org/name, how AnalysisTemplates refer to it
//!     kind: metric-provider         # or: condition, traffic-router
//!     location: https://plugins.acme.io/datadog-1.2.0.wasm
//!     sha256: 3f4c...               # mandatory for http(s); verified before use
//!     allowedHosts: [api.datadoghq.com]
//!     timeout: 30s                  # deadline of one call
//!     memoryLimit: 64Mi             # linear memory cap
//!     kubernetes:                   # objects it may touch through the host (aviary:plugin@0.2.0)
//!       - apiGroup: batch
//!         kinds: [Job]
//!         verbs: [create, get, delete]
//!   - name: acme/judge
//!     kind: condition
//!     location: oci://ghcr.io/acme/judge:1.0.0   # or @sha256:...; a tag is resolved once
//!     pullSecret: ghcr-creds        # a kubernetes.io/dockerconfigjson Secret (controller's namespace)
//!     verify:
//!       key: k8s://aviary-system/acme-cosign   # or the PEM text of a cosign public key
//! policy:
//!   requireSignature: true          # every entry but the first-party ones needs `verify`
//! ```
//!
//! Every entry is validated on its own: a bad entry is reported by name with the field and the
//! reason, and the other entries keep working. Fetching and loading are the host's
//! (`aviary_plugins::registry::fetch`); this module needs no network and no Wasm runtime.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::capability::AllowedHosts;
use crate::kubernetes::{KubernetesGrant, KubernetesGrants};
use crate::limits::{Limits, parse_bytes, parse_duration};
use crate::oci::OciLocation;
use crate::{Error, Invalid};

/// What a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// The `metric-provider` world.
    MetricProvider,
    /// The `condition` world.
    Condition,
    /// The `traffic-router` world (contract 0.2.0 and later).
    TrafficRouter,
    /// The `step` world: a canary `plugin:` step (contract 0.2.0 and later).
    Step,
    /// The `notifier` world: a notification service (contract 0.2.0 and later).
    Notifier,
}

impl PluginKind {
    /// The worlds that exist from contract 0.2.0 on (there is no 0.1.0 form of them).
    pub fn since_0_2(self) -> bool {
        matches!(self, PluginKind::TrafficRouter | PluginKind::Step | PluginKind::Notifier)
    }

    /// The WIT world name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::MetricProvider => "metric-provider",
            PluginKind::Condition => "condition",
            PluginKind::TrafficRouter => "traffic-router",
            PluginKind::Step => "step",
            PluginKind::Notifier => "notifier",
        }
    }
}

/// One registry entry, as written by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryEntry {
    /// `org/name`; AnalysisTemplates refer to the plugin by it.
    pub name: String,
    /// What the component implements.
    pub kind: PluginKind,
    /// `file:///path/x.wasm`, `https://...` (with `sha256`), `oci://REGISTRY/REPO:TAG` or
    /// `...@sha256:...` (see [`crate::oci`]), or `builtin:aviary/<name>` to re-configure a
    /// first-party plugin.
    pub location: String,
    /// Hex sha256 of the component; mandatory for http(s) locations, checked for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Hosts the plugin may reach (see [`crate::capability`]). Empty: no network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// Deadline of one call (`30s`); default 30 s for providers, 1 s for conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Memory cap (`64Mi`); default 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
    /// Kubernetes objects the plugin may touch through the host (see [`crate::kubernetes`]).
    /// Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes: Vec<KubernetesGrant>,
    /// A step plugin switched off cluster-wide (Argo's `disabled` of its `stepPlugins`): its
    /// steps complete at once without a call, and its component is not loaded. Step plugins only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// The Secret (type `kubernetes.io/dockerconfigjson`, in the controller's namespace) holding
    /// the credentials of an `oci://` location's registry; without it the pull is anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// The cosign signature an `oci://` component must carry to be loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// `verify` of an entry: whose signature the component must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verify {
    /// The cosign public key: its PEM text, or `k8s://NAMESPACE/NAME` for the key `cosign.pub`
    /// of a Secret (cosign's own notation), which must be in the controller's namespace.
    pub key: String,
}

/// Rules that apply to every entry of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Refuse every entry that is not first-party and has no `verify`: a cluster where only
    /// signed components run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signature: bool,
}

/// A registry document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    /// The entries.
    #[serde(default)]
    pub plugins: Vec<RegistryEntry>,
    /// Rules for every entry.
    #[serde(default, skip_serializing_if = "is_default")]
    pub policy: Policy,
}

fn is_default(policy: &Policy) -> bool {
    policy == &Policy::default()
}

impl RegistryFile {
    /// Parses a registry document (YAML or JSON); an empty text is an empty registry.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::from_text(text).map_err(Error::Document)
    }

    /// Reads and parses a registry file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
        Self::from_text(&text).map_err(|source| Error::Registry { path: path.to_path_buf(), source })
    }

    fn from_text(text: &str) -> Result<Self, serde_norway::Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(text)
    }
}

/// Where a component's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An http(s) URL; always with a pinned digest.
    Remote(Url),
    /// A first-party plugin embedded in the binary.
    Builtin(String),
    /// A component in an OCI registry.
    Oci(OciLocation),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Remote(u) => write!(f, "{u}"),
            Location::Builtin(n) => write!(f, "builtin:{n}"),
            Location::Oci(o) => write!(f, "{o}"),
        }
    }
}

/// Where a signature's public key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// The PEM text itself.
    Pem(String),
    /// The key `cosign.pub` of a Secret.
    Secret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// A validated entry, ready to fetch and load.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// `org/name`.
    pub name: String,
    /// The world.
    pub kind: PluginKind,
    /// Where the bytes are.
    pub location: Location,
    /// Pinned digest, lower-case hex.
    pub sha256: Option<String>,
    /// Network allow-list.
    pub allowed_hosts: AllowedHosts,
    /// Whether the entry listed `allowedHosts` at all (for first-party plugins, an entry without
    /// it keeps their default of "the host named in the config").
    pub allowed_hosts_set: bool,
    /// Deadline, memory cap, response cap.
    pub limits: Limits,
    /// The Kubernetes objects it may touch through the host.
    pub kubernetes: KubernetesGrants,
    /// A step plugin switched off: not loaded, its steps complete without a call.
    pub disabled: bool,
    /// The Secret with the registry's credentials (`oci://` only).
    pub pull_secret: Option<String>,
    /// The key whose signature the component must carry (`oci://` only).
    pub verify: Option<VerifyKey>,
}

/// Names under this prefix are the first-party plugins'.
pub const BUILTIN_PREFIX: &str = "aviary/";

impl RegistryEntry {
    /// The name to report errors under.
    pub fn display_name(&self, index: usize) -> String {
        if self.name.is_empty() { format!("#{index}") } else { self.name.clone() }
    }

    /// Validates the entry under no policy; the error names the entry and the field.
    pub fn validate(&self) -> Result<PluginSpec, Error> {
        self.validate_with(&Policy::default())
    }

    /// Validates the entry under a document's policy; the error names the entry and the field.
    pub fn validate_with(&self, policy: &Policy) -> Result<PluginSpec, Error> {
        let invalid =
            |field: &'static str, cause: Invalid| Error::InvalidEntry { name: self.name.clone(), field, cause };
        if !valid_name(&self.name) {
            return Err(invalid("name", Invalid::Name { name: self.name.clone() }));
        }
        let location =
            if let Some(builtin) = self.location.strip_prefix("builtin:") {
                if self.name != builtin {
                    return Err(invalid(
                        "location",
                        Invalid::BuiltinName { location: self.location.clone(), builtin: builtin.to_string() },
                    ));
                }
                Location::Builtin(builtin.to_string())
            } else {
                if self.name.starts_with(BUILTIN_PREFIX) {
                    return Err(invalid("name", Invalid::ReservedName { name: self.name.clone() }));
                }
                let url = Url::parse(&self.location).map_err(|source| {
                    invalid("location", Invalid::Location { location: self.location.clone(), source })
                })?;
                match url.scheme() {
                    "file" => Location::File(url.to_file_path().map_err(|()| {
                        invalid("location", Invalid::NotALocalPath { location: self.location.clone() })
                    })?),
                    "https" | "http" => Location::Remote(url),
                    "oci" => Location::Oci(OciLocation::parse(&self.location).map_err(|cause| {
                        invalid("location", Invalid::Oci { location: self.location.clone(), cause })
                    })?),
                    other => return Err(invalid("location", Invalid::Scheme { scheme: other.to_string() })),
                }
            };
        let is_oci = matches!(location, Location::Oci(_));
        if self.pull_secret.is_some() && !is_oci {
            return Err(invalid("pullSecret", Invalid::OciOnly));
        }
        if let Some(secret) = &self.pull_secret
            && !valid_dns_subdomain(secret)
        {
            return Err(invalid("pullSecret", Invalid::SecretName { name: secret.clone() }));
        }
        let verify = match &self.verify {
            Some(_) if !is_oci => return Err(invalid("verify", Invalid::OciOnly)),
            Some(v) => Some(parse_key(&v.key).map_err(|e| invalid("verify", e))?),
            None if policy.require_signature && !matches!(location, Location::Builtin(_)) => {
                return Err(invalid("verify", Invalid::SignatureRequired));
            }
            None => None,
        };
        let sha256 = match &self.sha256 {
            Some(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => Some(s.to_ascii_lowercase()),
            Some(s) => return Err(invalid("sha256", Invalid::Digest { digest: s.clone() })),
            None if matches!(location, Location::Remote(_)) => return Err(invalid("sha256", Invalid::Unpinned)),
            None => None,
        };
        if self.disabled && self.kind != PluginKind::Step {
            return Err(invalid("disabled", Invalid::DisabledNotStep { kind: self.kind.as_str() }));
        }
        let allowed_hosts = AllowedHosts::parse(&self.allowed_hosts).map_err(|e| invalid("allowedHosts", e))?;
        let kubernetes = KubernetesGrants::parse(&self.kubernetes).map_err(|e| invalid("kubernetes", e))?;
        let mut limits = Limits::defaults(self.kind);
        if let Some(t) = &self.timeout {
            limits.timeout = parse_duration(t).map_err(|e| invalid("timeout", e))?;
            if limits.timeout.is_zero() {
                return Err(invalid("timeout", Invalid::ZeroTimeout));
            }
        }
        if let Some(m) = &self.memory_limit {
            limits.memory = parse_bytes(m).map_err(|e| invalid("memoryLimit", e))?;
            if limits.memory < (1 << 20) {
                return Err(invalid("memoryLimit", Invalid::TooLittleMemory { text: m.clone() }));
            }
        }
        Ok(PluginSpec {
            name: self.name.clone(),
            kind: self.kind,
            location,
            sha256,
            allowed_hosts,
            allowed_hosts_set: !self.allowed_hosts.is_empty(),
            limits,
            kubernetes,
            disabled: self.disabled,
            pull_secret: self.pull_secret.clone(),
            verify,
        })
    }
}

/// `verify.key`: PEM text, or `k8s://NAMESPACE/NAME`.
fn parse_key(key: &str) -> Result<VerifyKey, Invalid> {
    let key = key.trim();
    if let Some(rest) = key.strip_prefix("k8s://") {
        return match rest.split_once('/') {
            Some((namespace, name)) if valid_dns_subdomain(namespace) && valid_dns_subdomain(name) => {
                Ok(VerifyKey::Secret { namespace: namespace.to_string(), name: name.to_string() })
            }
            _ => Err(Invalid::VerifyKey { reason: format!("{key:?} is not k8s://NAMESPACE/NAME") }),
        };
    }
    if key.starts_with("-----BEGIN PUBLIC KEY-----") && key.ends_with("-----END PUBLIC KEY-----") {
        return Ok(VerifyKey::Pem(key.to_string()));
    }
    Err(Invalid::VerifyKey {
        reason: "is neither a PEM public key (-----BEGIN PUBLIC KEY-----) nor k8s://NAMESPACE/NAME".into(),
    })
}

/// A Kubernetes object name (RFC 1123 subdomain).
fn valid_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `org/name`, Argo's plugin naming rule.
pub fn valid_name(name: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    matches!(name.split_once('/'), Some((org, n)) if part(org) && part(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(yaml: &str) -> RegistryEntry {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn a_full_entry_validates() {
        let spec = entry(
            "{name: acme/dd, kind: metric-provider, location: 'https://x.io/dd.wasm', \
             sha256: 'ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789', \
             allowedHosts: [api.datadoghq.com], timeout: 10s, memoryLimit: 32Mi}",
        )
        .validate()
        .unwrap();
        assert_eq!(spec.limits.timeout, std::time::Duration::from_secs(10));
        assert_eq!(spec.limits.memory, 32 << 20);
        assert_eq!(spec.sha256.as_deref().map(|s| &s[..6]), Some("abcdef"));
        assert!(spec.allowed_hosts.allows("api.datadoghq.com", 443));
        assert!(spec.kubernetes.is_empty(), "no grants unless the entry lists them");
    }

    #[test]
    fn kubernetes_grants_are_read_and_checked() {
        let spec = entry(
            "{name: acme/job, kind: metric-provider, location: 'file:///job.wasm', \
             kubernetes: [{apiGroup: batch, kinds: [Job], verbs: [create, get, delete]}]}",
        )
        .validate()
        .unwrap();
        let job =
            |verb| crate::kubernetes::KubernetesRequest { api_version: "batch/v1", kind: "Job", namespace: "ns", verb };
        assert_eq!(spec.kubernetes.check("ns", &job(crate::kubernetes::Verb::Create)), Ok(()));
        assert!(spec.kubernetes.check("ns", &job(crate::kubernetes::Verb::Patch)).is_err());
        assert!(RegistryFile::parse("plugins: [{name: a/b, kind: condition, location: 'file:///x', kubernetes: [{kinds: [Job], verbs: [steal]}]}]").is_err());
    }

    #[test]
    fn each_bad_field_is_named() {
        let table = [
            ("{name: nope, kind: condition, location: 'file:///x.wasm'}", "name"),
            ("{name: aviary/x, kind: condition, location: 'file:///x.wasm'}", "name"),
            ("{name: a/b, kind: condition, location: 'ftp://x/y.wasm'}", "location"),
            ("{name: a/b, kind: condition, location: 'https://x/y.wasm'}", "sha256"),
            ("{name: a/b, kind: condition, location: 'file:///x.wasm', sha256: xyz}", "sha256"),
            ("{name: a/b, kind: condition, location: 'file:///x.wasm', allowedHosts: ['a b']}", "allowedHosts"),
            ("{name: a/b, kind: condition, location: 'file:///x.wasm', timeout: soon}", "timeout"),
            ("{name: a/b, kind: condition, location: 'file:///x.wasm', timeout: 0s}", "timeout"),
            ("{name: a/b, kind: condition, location: 'file:///x.wasm', memoryLimit: 10Ki}", "memoryLimit"),
            (
                "{name: a/b, kind: condition, location: 'file:///x.wasm', kubernetes: [{kinds: [Secret], verbs: [get]}]}",
                "kubernetes",
            ),
            (
                "{name: a/b, kind: condition, location: 'file:///x.wasm', kubernetes: [{apiGroup: batch, kinds: ['*'], verbs: [get]}]}",
                "kubernetes",
            ),
            ("{name: aviary/web, kind: metric-provider, location: 'builtin:aviary/expr'}", "location"),
        ];
        for (yaml, field) in table {
            match entry(yaml).validate() {
                Err(Error::InvalidEntry { field: f, .. }) => assert_eq!(f, field, "{yaml}"),
                other => panic!("{yaml}: expected an invalid {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn messages_name_the_entry_the_field_and_the_value() {
        let message = |yaml: &str| entry(yaml).validate().unwrap_err().to_string();
        assert_eq!(
            message("{name: aviary/x, kind: condition, location: 'file:///x.wasm'}"),
            "plugin \"aviary/x\": name: aviary/* is reserved for first-party plugins (use location builtin:aviary/x)"
        );
        assert_eq!(
            message("{name: a/b, kind: condition, location: 'https://x/y.wasm'}"),
            "plugin \"a/b\": sha256: is required for a remote location: Aviary never runs unpinned remote code"
        );
        assert_eq!(
            message("{name: a/b, kind: condition, location: 'file:///x.wasm', memoryLimit: 64MB}"),
            "plugin \"a/b\": memoryLimit: \"64MB\": unknown unit \"MB\" (use Ki, Mi, Gi, k, M or G)"
        );
        assert_eq!(
            message("{name: a/b, kind: condition, location: 'file:///x.wasm', allowedHosts: ['']}"),
            "plugin \"a/b\": allowedHosts: allowedHosts entry \"\": empty"
        );
        // The cause is kept, down to the parser's own error.
        let err =
            entry("{name: a/b, kind: condition, location: 'file:///x.wasm', timeout: soon}").validate().unwrap_err();
        let cause = std::error::Error::source(&err).unwrap();
        assert!(cause.to_string().starts_with("\"soon\" is not a duration such as 30s: "), "{cause}");
        assert!(cause.source().is_some());
    }

    #[test]
    fn documents_and_files_keep_the_parsers_error() {
        let err = RegistryFile::parse("plugins: [{name: a/b, kind: condition}]").unwrap_err();
        assert!(matches!(err, Error::Document(_)), "{err:?}");
        assert!(err.to_string().contains("location"), "{err}");
        let missing = Path::new("/nonexistent/aviary/plugins.yaml");
        let err = RegistryFile::read(missing).unwrap_err();
        assert!(err.to_string().starts_with("registry /nonexistent/aviary/plugins.yaml: "), "{err}");
        assert!(matches!(&err, Error::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::NotFound));
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        assert!(
            RegistryFile::parse("plugins: [{name: a/b, kind: condition, location: 'file:///x', allowedHost: [x]}]")
                .is_err()
        );
        assert!(RegistryFile::parse("plugins: [{name: a/b, kind: webhook, location: 'file:///x'}]").is_err());
        assert!(RegistryFile::parse("plugins: [{name: a/b, kind: traffic-router, location: 'file:///x'}]").is_ok());
        assert!(RegistryFile::parse("plugins: [{name: a/b, kind: step, location: 'file:///x'}]").is_ok());
        assert_eq!(RegistryFile::parse("").unwrap().plugins.len(), 0);
    }

    /// Argo's `disabled` is for step plugins only: a disabled step entry validates (and keeps
    /// the flag), any other kind is refused naming the field.
    #[test]
    fn only_step_plugins_can_be_disabled() {
        let step = entry("{name: a/gate, kind: step, location: 'file:///x.wasm', disabled: true}").validate().unwrap();
        assert!(step.disabled);
        assert_eq!(step.limits.timeout, std::time::Duration::from_secs(10), "a step's default deadline");
        let err = entry("{name: a/m, kind: metric-provider, location: 'file:///x.wasm', disabled: true}")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("disabled"), "{err}");
        assert!(err.contains("only a step plugin can be disabled"), "{err}");
    }

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----";

    #[test]
    fn oci_entries_validate_with_credentials_and_keys() {
        let spec = entry(&format!(
            "{{name: acme/judge, kind: condition, location: 'oci://ghcr.io/acme/judge:1.0', pullSecret: ghcr, \
             verify: {{key: {KEY:?}}}}}"
        ))
        .validate()
        .unwrap();
        let Location::Oci(oci) = &spec.location else { panic!("{:?}", spec.location) };
        assert_eq!((oci.registry.as_str(), oci.tag.as_deref()), ("ghcr.io", Some("1.0")));
        assert_eq!(spec.pull_secret.as_deref(), Some("ghcr"));
        assert_eq!(spec.verify, Some(VerifyKey::Pem(KEY.into())));
        assert_eq!(spec.sha256, None, "a tag needs no sha256: it is resolved to a digest once");
        let spec = entry(
            "{name: a/b, kind: condition, location: 'oci://r.io/a:1', verify: {key: 'k8s://aviary-system/cosign'}}",
        )
        .validate()
        .unwrap();
        assert_eq!(spec.verify, Some(VerifyKey::Secret { namespace: "aviary-system".into(), name: "cosign".into() }));
        assert_eq!(spec.location.to_string(), "oci://r.io/a:1");
    }

    #[test]
    fn oci_fields_are_checked_and_named() {
        let table = [
            ("{name: a/b, kind: condition, location: 'oci://r.io/a'}", "location", "names neither a tag nor a digest"),
            ("{name: a/b, kind: condition, location: 'oci://r.io/A:1'}", "location", "repository \"A\""),
            (
                "{name: a/b, kind: condition, location: 'file:///x.wasm', pullSecret: s}",
                "pullSecret",
                "oci:// locations only",
            ),
            (
                "{name: a/b, kind: condition, location: 'oci://r.io/a:1', pullSecret: Bad_Name}",
                "pullSecret",
                "\"Bad_Name\"",
            ),
            (
                "{name: a/b, kind: condition, location: 'https://x/y.wasm', sha256: '0000000000000000000000000000000000000000000000000000000000000000', verify: {key: x}}",
                "verify",
                "oci:// locations only",
            ),
            (
                "{name: a/b, kind: condition, location: 'oci://r.io/a:1', verify: {key: 'not a key'}}",
                "verify",
                "neither a PEM",
            ),
            (
                "{name: a/b, kind: condition, location: 'oci://r.io/a:1', verify: {key: 'k8s://only-a-name'}}",
                "verify",
                "k8s://NAMESPACE/NAME",
            ),
        ];
        for (yaml, field, needle) in table {
            match entry(yaml).validate() {
                Err(e @ Error::InvalidEntry { field: f, .. }) => {
                    assert_eq!(f, field, "{yaml}");
                    assert!(e.to_string().contains(needle), "{yaml}: {e}");
                }
                other => panic!("{yaml}: expected an invalid {field}, got {other:?}"),
            }
        }
    }

    /// `policy.requireSignature` refuses every entry without `verify` except first-party ones.
    #[test]
    fn the_policy_requires_a_signature_of_every_entry_but_first_party_ones() {
        let doc = RegistryFile::parse(&format!(
            "policy: {{requireSignature: true}}\nplugins:\n\
             - {{name: a/signed, kind: condition, location: 'oci://r.io/a:1', verify: {{key: {KEY:?}}}}}\n\
             - {{name: a/unsigned, kind: condition, location: 'oci://r.io/a:1'}}\n\
             - {{name: a/file, kind: condition, location: 'file:///x.wasm'}}\n\
             - {{name: aviary/web, kind: metric-provider, location: 'builtin:aviary/web', allowedHosts: [x.io]}}"
        ))
        .unwrap();
        assert!(doc.policy.require_signature);
        let results: Vec<Result<PluginSpec, Error>> =
            doc.plugins.iter().map(|e| e.validate_with(&doc.policy)).collect();
        assert!(results[0].is_ok());
        for refused in &results[1..3] {
            let err = refused.as_ref().unwrap_err();
            assert!(
                matches!(err, Error::InvalidEntry { field: "verify", cause: Invalid::SignatureRequired, .. }),
                "{err}"
            );
        }
        assert!(results[3].is_ok(), "first-party plugins are signed by being in the binary");
        assert!(doc.plugins[1].validate().is_ok(), "without the policy, no signature is needed");
        assert!(RegistryFile::parse("policy: {requireSignatures: true}").is_err(), "a misspelt policy is refused");
    }

    #[test]
    fn plugin_names_follow_argos_rule() {
        assert!(valid_name("argoproj-labs/sample-prometheus"));
        assert!(valid_name("acme/dd.v2"));
        for bad in ["", "a", "a/", "/b", "a/b/c", "a b/c"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
