//! Which hosts a plugin may reach: the whole network policy of a guest, in one small file.
//!
//! A plugin's registry entry lists `allowedHosts`; the host checks every request, and every
//! redirect hop, against it before anything leaves the process. Entries:
//!
//! | entry                    | allows                                          |
//! |--------------------------|-------------------------------------------------|
//! | `api.example.com`        | that host, any port                             |
//! | `api.example.com:8443`   | that host, that port only                       |
//! | `*.example.com`          | any subdomain (not `example.com` itself)        |
//! | `127.0.0.1:9090`, `[::1]` | an IP address, with or without a port          |
//! | `https://api.example.com` | a URL: its host and its port (443 here)        |
//! | `*`                      | anything (for trusted plugins only)             |
//!
//! Host names compare case-insensitively. An empty list allows nothing.

use std::fmt;

use url::{Host, Url};

use crate::Invalid;

/// A plugin's network allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    host: Pattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    /// `*.suffix`: stored as `.suffix`.
    Subdomain(String),
}

impl AllowedHosts {
    /// Allows nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a list of entries; the error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, Invalid> {
        let rules = entries.iter().map(|e| parse_rule(e.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// Adds the rules of `other`.
    pub fn extend(&mut self, other: AllowedHosts) {
        self.rules.extend(other.rules);
    }

    /// True when no host is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a request to `url` may leave the process.
    pub fn allows_url(&self, url: &Url) -> bool {
        match (url.host(), url.port_or_known_default()) {
            (Some(host), Some(port)) => self.allows(&host_text(&host), port),
            _ => false,
        }
    }

    /// Whether `host:port` is allowed. `host` is a name or an IP (IPv6 without brackets).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.rules.iter().any(|r| {
            r.port.is_none_or(|p| p == port)
                && match &r.host {
                    Pattern::Any => true,
                    Pattern::Exact(h) => *h == host,
                    Pattern::Subdomain(suffix) => host.ends_with(suffix.as_str()) && host.len() > suffix.len(),
                }
        })
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .rules
            .iter()
            .map(|r| {
                let host = match &r.host {
                    Pattern::Any => "*".to_string(),
                    Pattern::Exact(h) if h.contains(':') => format!("[{h}]"),
                    Pattern::Exact(h) => h.clone(),
                    Pattern::Subdomain(s) => format!("*{s}"),
                };
                match r.port {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// The `host:port` a URL targets, as the allow-list and error messages name it.
pub fn host_port(url: &Url) -> String {
    let host = url.host().map(|h| host_text(&h)).unwrap_or_default();
    let port = url.port_or_known_default().map(|p| p.to_string()).unwrap_or_default();
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn host_text(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    }
}

fn parse_rule(entry: &str) -> Result<Rule, Invalid> {
    let e = entry.trim();
    let entry = || entry.to_string();
    if e.is_empty() {
        return Err(Invalid::EmptyHost { entry: entry() });
    }
    if e == "*" {
        return Ok(Rule { host: Pattern::Any, port: None });
    }
    if e.contains("://") {
        let url = Url::parse(e).map_err(|source| Invalid::HostSyntax { entry: entry(), source })?;
        let host = url.host().ok_or_else(|| Invalid::NoHost { entry: entry() })?;
        return Ok(Rule { host: Pattern::Exact(host_text(&host)), port: url.port_or_known_default() });
    }
    // Let the URL parser handle names, bracketed IPv6 and ports uniformly. The probe scheme has
    // no default port, so an explicit `:80` or `:443` is kept rather than read as "any port".
    let wildcard = e.starts_with("*.");
    let probe = if wildcard { format!("aviary://wildcard{}", &e[1..]) } else { format!("aviary://{e}") };
    let url = Url::parse(&probe).map_err(|source| Invalid::HostSyntax { entry: entry(), source })?;
    if !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(Invalid::NotAHost { entry: entry() });
    }
    let host = url.host().ok_or_else(|| Invalid::NoHost { entry: entry() })?;
    let port = url.port();
    let pattern = if wildcard {
        let name = host_text(&host);
        Pattern::Subdomain(name.trim_start_matches("wildcard").to_string())
    } else {
        Pattern::Exact(host_text(&host))
    };
    Ok(Rule { host: pattern, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], url: &str) -> bool {
        AllowedHosts::parse(entries).unwrap().allows_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn allow_list_table() {
        let table: &[(&[&str], &str, bool)] = &[
            (&[], "http://127.0.0.1/", false),
            (&["api.example.com"], "https://api.example.com/x", true),
            (&["api.example.com"], "http://API.Example.com:8080/", true),
            (&["api.example.com"], "https://evil.example.com/", false),
            (&["api.example.com"], "https://api.example.com.evil.io/", false),
            (&["api.example.com:8443"], "https://api.example.com:8443/", true),
            (&["api.example.com:8443"], "https://api.example.com/", false),
            (&["*.example.com"], "https://a.b.example.com/", true),
            (&["*.example.com"], "https://example.com/", false),
            (&["*.example.com"], "https://badexample.com/", false),
            (&["127.0.0.1:9090"], "http://127.0.0.1:9090/api", true),
            (&["127.0.0.1:9090"], "http://127.0.0.1:9091/api", false),
            (&["127.0.0.1:9090"], "http://127.0.0.2:9090/api", false),
            (&["[::1]:80"], "http://[::1]/", true),
            (&["[::1]:80"], "http://[::1]:8080/", false),
            (&["example.com:80"], "http://example.com:8080/", false),
            (&["example.com:443"], "https://example.com/", true),
            (&["https://api.datadoghq.com"], "https://api.datadoghq.com/api/v1/query", true),
            (&["https://api.datadoghq.com"], "http://api.datadoghq.com/", false),
            (&["*"], "http://anything.at.all:1/", true),
            (&["a.com", "b.com:81"], "http://b.com:81/", true),
        ];
        for (entries, url, want) in table {
            assert_eq!(allows(entries, url), *want, "{entries:?} vs {url}");
        }
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["", "http://", "host/path", "user@host", "a b"] {
            let err = AllowedHosts::parse(&[bad]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("allowedHosts entry {bad:?}: ")), "{err}");
        }
        let err = AllowedHosts::parse(&["a b"]).unwrap_err();
        assert!(matches!(err, Invalid::HostSyntax { source: url::ParseError::InvalidDomainCharacter, .. }), "{err:?}");
    }

    #[test]
    fn host_port_names_the_target() {
        assert_eq!(host_port(&Url::parse("https://x.io/a").unwrap()), "x.io:443");
        assert_eq!(host_port(&Url::parse("http://[::1]:8080/").unwrap()), "[::1]:8080");
    }

    #[test]
    fn display_lists_the_rules() {
        let a = AllowedHosts::parse(&["a.com", "*.b.com:81", "[::1]:80"]).unwrap();
        assert_eq!(a.to_string(), "a.com, *.b.com:81, [::1]:80");
    }
}
