//! `oci://` locations: a component stored in an OCI registry, by tag or by digest.
//!
//! The form is Docker's image reference with the registry always written out, so that a plugin
//! never comes from an implied registry: `oci://REGISTRY/REPOSITORY:TAG` or
//! `oci://REGISTRY/REPOSITORY@sha256:HEX` (both parts may be given: the digest then wins, as in
//! Docker). Only the syntax is checked here; pulling is the host's (`aviary_plugins::oci`).

use std::fmt;

/// A parsed `oci://` location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciLocation {
    /// `host[:port]`.
    pub registry: String,
    /// `path/to/repo`, lower case.
    pub repository: String,
    /// The tag, if written.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, if written.
    pub digest: Option<String>,
}

/// The URL scheme of registry locations.
pub const SCHEME: &str = "oci://";

/// Why a text is not an `oci://` location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciSyntax {
    /// No `oci://` in front.
    #[error("does not start with oci://")]
    Scheme,
    /// No `/` between the registry and the repository.
    #[error("names no repository (expected oci://REGISTRY/REPOSITORY:TAG or @sha256:...)")]
    NoRepository,
    /// An empty or malformed registry host.
    #[error("registry {0:?} is not a host or host:port")]
    Registry(String),
    /// A repository path with characters OCI does not allow.
    #[error("repository {0:?} must be lower-case path components of letters, digits and . _ -")]
    Repository(String),
    /// A tag OCI does not allow.
    #[error("tag {0:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")]
    Tag(String),
    /// A digest that is not `sha256:` and 64 hex digits.
    #[error("digest {0:?} must be sha256: and 64 hex digits")]
    Digest(String),
    /// Neither a tag nor a digest: Aviary does not imply `latest`.
    #[error("names neither a tag nor a digest (Aviary does not imply :latest)")]
    Unversioned,
}

impl OciLocation {
    /// Parses `oci://REGISTRY/REPO(:TAG)?(@sha256:HEX)?`.
    pub fn parse(text: &str) -> Result<Self, OciSyntax> {
        let rest = text.strip_prefix(SCHEME).ok_or(OciSyntax::Scheme)?;
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                let hex = d.strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
                    return Err(OciSyntax::Digest(d.to_string()));
                }
                (r, Some(d.to_string()))
            }
            None => (rest, None),
        };
        let (registry, path) = rest.split_once('/').ok_or(OciSyntax::NoRepository)?;
        if !valid_registry(registry) {
            return Err(OciSyntax::Registry(registry.to_string()));
        }
        // A tag follows the last ':' of the path (the registry's port is already split off).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) => (r, Some(t.to_string())),
            None => (path, None),
        };
        if !valid_repository(repository) {
            return Err(OciSyntax::Repository(repository.to_string()));
        }
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(OciSyntax::Tag(t.clone()));
        }
        if tag.is_none() && digest.is_none() {
            return Err(OciSyntax::Unversioned);
        }
        Ok(Self { registry: registry.to_string(), repository: repository.to_string(), tag, digest })
    }

    /// The same repository at `digest` (the tag kept for the reader): what a tag resolved to.
    pub fn at_digest(&self, digest: &str) -> Self {
        Self { digest: Some(digest.to_string()), ..self.clone() }
    }

    /// `REGISTRY/REPO[:TAG][@DIGEST]` without the scheme: the reference OCI clients take.
    pub fn reference(&self) -> String {
        let mut out = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        }
        out
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `[::1]`): spoken to
    /// over plain HTTP, as Docker treats such registries; every other registry over HTTPS.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => self.registry.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for OciLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.reference())
    }
}

fn valid_registry(registry: &str) -> bool {
    if registry.is_empty() {
        return false;
    }
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || registry.starts_with('[') => (h, Some(p)),
        _ => (registry, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    };
    port_ok && host_ok
}

/// OCI distribution's `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.len() <= 255
        && repository.split('/').all(|component| {
            let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
            let mut chars = component.chars().peekable();
            let mut previous_separator: Option<char> = None;
            let mut run = 0usize;
            if !component.starts_with(alnum) || !component.ends_with(alnum) {
                return false;
            }
            while let Some(c) = chars.next() {
                if alnum(c) {
                    previous_separator = None;
                    run = 0;
                    continue;
                }
                match (c, previous_separator) {
                    ('.', None) => previous_separator = Some('.'),
                    ('_', None) => previous_separator = Some('_'),
                    ('_', Some('_')) if run == 1 => {}
                    ('-', None | Some('-')) => previous_separator = Some('-'),
                    _ => return false,
                }
                run = run.saturating_add(1);
                if chars.peek().is_none() {
                    return false;
                }
            }
            true
        })
}

/// OCI distribution's `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_into_their_parts() {
        let table: [(&str, &str, &str, Option<&str>, bool); 5] = [
            ("oci://ghcr.io/acme/dd:1.2.0", "ghcr.io", "acme/dd", Some("1.2.0"), false),
            ("oci://127.0.0.1:5000/plugins/web:v1", "127.0.0.1:5000", "plugins/web", Some("v1"), false),
            ("oci://localhost:5000/a/b/c:latest", "localhost:5000", "a/b/c", Some("latest"), false),
            ("oci://registry.example.com/a__b/c-d.e:_x", "registry.example.com", "a__b/c-d.e", Some("_x"), false),
            ("oci://[::1]:5000/acme/dd@sha256:", "[::1]:5000", "acme/dd", None, true),
        ];
        for (text, registry, repository, tag, digest) in table {
            let text = if digest { format!("{text}{HEX}") } else { text.to_string() };
            let l = OciLocation::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((l.registry.as_str(), l.repository.as_str(), l.tag.as_deref()), (registry, repository, tag));
            assert_eq!(l.digest.is_some(), digest);
            assert_eq!(l.to_string(), text, "the location prints as written");
        }
        let both = OciLocation::parse(&format!("oci://r.io/a/b:1@sha256:{HEX}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("1"));
        assert_eq!(both.reference(), format!("r.io/a/b:1@sha256:{HEX}"));
    }

    #[test]
    fn each_malformed_part_is_named() {
        let table = [
            ("https://ghcr.io/a:1", OciSyntax::Scheme),
            ("oci://ghcr.io", OciSyntax::NoRepository),
            ("oci:///a:1", OciSyntax::Registry(String::new())),
            ("oci://bad_host/a:1", OciSyntax::Registry("bad_host".into())),
            ("oci://r.io:port/a:1", OciSyntax::Registry("r.io:port".into())),
            ("oci://r.io/Acme/dd:1", OciSyntax::Repository("Acme/dd".into())),
            ("oci://r.io/a//b:1", OciSyntax::Repository("a//b".into())),
            ("oci://r.io/a-:1", OciSyntax::Repository("a-".into())),
            ("oci://r.io/a..b:1", OciSyntax::Repository("a..b".into())),
            ("oci://r.io/a___b:1", OciSyntax::Repository("a___b".into())),
            ("oci://r.io/a:-1", OciSyntax::Tag("-1".into())),
            ("oci://r.io/a:", OciSyntax::Tag(String::new())),
            ("oci://r.io/a@sha256:abc", OciSyntax::Digest("sha256:abc".into())),
            ("oci://r.io/a@md5:abc", OciSyntax::Digest("md5:abc".into())),
            ("oci://r.io/a", OciSyntax::Unversioned),
        ];
        for (text, expected) in table {
            assert_eq!(OciLocation::parse(text), Err(expected), "{text}");
        }
        let upper = format!("oci://r.io/a@sha256:{}", HEX.to_uppercase());
        assert!(matches!(OciLocation::parse(&upper), Err(OciSyntax::Digest(_))));
    }

    #[test]
    fn only_this_machines_registries_are_loopback() {
        for (registry, loopback) in [
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("ghcr.io", false),
            ("10.0.0.1:5000", false),
            ("localhost.evil.io", false),
        ] {
            let l = OciLocation::parse(&format!("oci://{registry}/a:1")).unwrap();
            assert_eq!(l.is_loopback(), loopback, "{registry}");
        }
    }

    #[test]
    fn a_resolved_tag_keeps_the_tag_and_gains_the_digest() {
        let l = OciLocation::parse("oci://r.io/acme/dd:1.0").unwrap();
        let digest = format!("sha256:{HEX}");
        assert_eq!(l.at_digest(&digest).to_string(), format!("oci://r.io/acme/dd:1.0@{digest}"));
    }
}
