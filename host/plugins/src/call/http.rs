//! The `http` import: requests a guest asks for, performed by the host with reqwest.
//!
//! Redirects are followed here, hop by hop, rather than by reqwest, so that every hop is checked
//! against the plugin's allow-list: a redirect to a host the plugin may not reach is refused as
//! `denied-host`, exactly like a direct request to it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use crate::capability::{AllowedHosts, host_port};
use crate::contract::v0_1::http::{Error as HttpError, Request, Response};
use crate::recording::HttpMode;

/// At most this many redirects are followed, as browsers and reqwest do.
const MAX_REDIRECTS: usize = 10;

/// What one call may do on the network.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) plugin: Arc<str>,
    pub(crate) metrics: Arc<crate::metrics::PluginMetrics>,
    pub(crate) allowed: Arc<AllowedHosts>,
    pub(crate) max_response_bytes: u64,
    /// The call's deadline: no request outlives it, whatever timeout the guest asks for.
    pub(crate) deadline: Instant,
    /// Skip TLS certificate verification ([`skips_tls_verification`]).
    pub(crate) skip_tls_verification: bool,
}

/// The first-party plugins whose config may turn TLS verification off, as Argo's `insecure` does
/// for its `web` and `prometheus` providers (by where they were loaded from: a plugin of anyone
/// else never can, whatever its config says).
pub(crate) const MAY_SKIP_TLS_VERIFICATION: &[&str] = &["builtin:aviary/web", "builtin:aviary/prometheus"];

/// Whether a call of the plugin loaded from `location` with `config` skips TLS verification:
/// only for [`MAY_SKIP_TLS_VERIFICATION`] with `insecure: true` in the config.
pub(crate) fn skips_tls_verification(location: &str, config: &str) -> bool {
    MAY_SKIP_TLS_VERIFICATION.contains(&location)
        && serde_json::from_str::<serde_json::Value>(config)
            .is_ok_and(|c| c.get("insecure").and_then(serde_json::Value::as_bool) == Some(true))
}

/// The client for calls that skip TLS verification: otherwise the same as [`client`]. Built on
/// first use (few installations ever need it) and shared.
fn insecure_client() -> Result<reqwest::Client, HttpError> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("aviary-plugin-host/", env!("CARGO_PKG_VERSION")))
                .danger_accept_invalid_certs(true)
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| HttpError::Transport(format!("cannot build the HTTP client without TLS verification: {e}")))
}

/// Builds the client shared by all plugin calls. Redirects are disabled: [`send`] follows them
/// itself. No proxy from the environment: a guest's traffic must go where the allow-list says.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("aviary-plugin-host/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Where one call's requests go: the client shared by all calls, and the [`HttpMode`] of the
/// host that makes the call (the network, or a recording).
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub(crate) client: reqwest::Client,
    pub(crate) mode: HttpMode,
}

/// Performs one guest request under `grant`.
pub(crate) async fn send(backend: &Backend, grant: &Grant, request: Request) -> Result<Response, HttpError> {
    let asked = request.timeout_ms.and_then(|ms| Instant::now().checked_add(Duration::from_millis(u64::from(ms))));
    let deadline = asked.map_or(grant.deadline, |a| a.min(grant.deadline));
    let first = (request.method.clone(), request.url.clone(), request.body.clone());
    match tokio::time::timeout_at(deadline, follow(backend, grant, request)).await {
        Ok(result) => result,
        Err(_) => {
            if let (HttpMode::Record(recorder), Ok(url)) = (&backend.mode, Url::parse(&first.1)) {
                recorder.keep(&first.0, &url, first.2.as_deref(), &Err(HttpError::Timeout));
            }
            Err(HttpError::Timeout)
        }
    }
}

async fn follow(backend: &Backend, grant: &Grant, request: Request) -> Result<Response, HttpError> {
    let mut url =
        Url::parse(&request.url).map_err(|e| HttpError::Transport(format!("invalid url {:?}: {e}", request.url)))?;
    let mut method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| HttpError::Transport(format!("invalid method {:?}", request.method)))?;
    let mut body = request.body;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Transport(format!("unsupported scheme {:?}", url.scheme())));
        }
        if !grant.allowed.allows_url(&url) {
            tracing::warn!(target: "aviary::plugins::http", plugin = %grant.plugin, host = %host_port(&url), "plugin request to a host it may not reach refused");
            grant.metrics.denied_host(&grant.plugin);
            return Err(HttpError::DeniedHost(host_port(&url)));
        }
        // One hop, from the network or from a recording; the allow-list above applies to both.
        let response = match &backend.mode {
            HttpMode::Replay(replay) => {
                let r = replay.answer(method.as_str(), &url, body.as_deref())?;
                if r.body.len() as u64 > grant.max_response_bytes {
                    return Err(HttpError::TooLarge(grant.max_response_bytes));
                }
                r
            }
            mode => {
                let outcome = hop(backend, grant, &method, &url, &request.headers, body.as_deref()).await;
                if let HttpMode::Record(recorder) = mode {
                    recorder.keep(method.as_str(), &url, body.as_deref(), &outcome);
                }
                outcome?
            }
        };
        let location = response.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("location"));
        if (300..400).contains(&response.status)
            && let Some((_, location)) = location
        {
            url = url
                .join(location)
                .map_err(|e| HttpError::Transport(format!("bad redirect location {location:?}: {e}")))?;
            // 303, and 301/302 after a POST, turn into a GET without a body (RFC 9110 §15.4).
            if response.status == 303 || (matches!(response.status, 301 | 302) && method == Method::POST) {
                method = Method::GET;
                body = None;
            }
            continue;
        }
        return Ok(response);
    }
    Err(HttpError::Transport(format!("more than {MAX_REDIRECTS} redirects")))
}

/// One request on the network, without following redirects.
async fn hop(
    backend: &Backend,
    grant: &Grant,
    method: &Method,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let insecure;
    let client = if grant.skip_tls_verification && url.scheme() == "https" {
        insecure = insecure_client()?;
        &insecure
    } else {
        &backend.client
    };
    let mut builder = client.request(method.clone(), url.clone());
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(b) = body {
        builder = builder.body(b.to_vec());
    }
    let response = builder.send().await.map_err(transport)?;
    read(response, grant.max_response_bytes).await
}

async fn read(mut response: reqwest::Response, cap: u64) -> Result<Response, HttpError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(HttpError::TooLarge(cap));
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > cap {
            return Err(HttpError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, headers, body })
}

fn transport(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    if let Some(go) = go_dial_error(&e) {
        return HttpError::Transport(go);
    }
    // The innermost cause says what actually happened (connection refused, TLS...).
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    HttpError::Transport(msg)
}

/// A failed connection as Go's net package words it (`dial tcp 127.0.0.1:9: connect: connection
/// refused`): Argo's providers are Go programs, and their measurement messages quote that text, so
/// ours do too. `None` for anything else (TLS, protocol), which keeps the full cause chain.
fn go_dial_error(e: &reqwest::Error) -> Option<String> {
    let url = e.url()?;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let what = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect: connection refused",
                std::io::ErrorKind::ConnectionReset => "connect: connection reset by peer",
                std::io::ErrorKind::HostUnreachable => "connect: no route to host",
                std::io::ErrorKind::NetworkUnreachable => "connect: network is unreachable",
                _ => return None,
            };
            return Some(format!("dial tcp {}: {what}", aviary_boundary::capability::host_port(url)));
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::skips_tls_verification;

    #[test]
    fn only_first_party_web_and_prometheus_may_skip_tls_verification() {
        assert!(skips_tls_verification("builtin:aviary/web", r#"{"url":"https://x","insecure":true}"#));
        assert!(skips_tls_verification("builtin:aviary/prometheus", r#"{"address":"https://x","insecure":true}"#));
        assert!(!skips_tls_verification("builtin:aviary/web", r#"{"insecure":false}"#));
        assert!(!skips_tls_verification("builtin:aviary/web", r#"{"insecure":"true"}"#));
        assert!(!skips_tls_verification("builtin:aviary/datadog", r#"{"insecure":true}"#));
        assert!(!skips_tls_verification("./web.wasm", r#"{"insecure":true}"#));
        assert!(!skips_tls_verification("acme/web", r#"{"insecure":true}"#));
    }
}
