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
use crate::wit::v0_1::http::{Error as HttpError, Request, Response};

/// At most this many redirects are followed, as browsers and reqwest do.
const MAX_REDIRECTS: usize = 10;

/// What one call may do on the network.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) allowed: Arc<AllowedHosts>,
    pub(crate) max_response_bytes: u64,
    /// The call's deadline: no request outlives it, whatever timeout the guest asks for.
    pub(crate) deadline: Instant,
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

/// Performs one guest request under `grant`.
pub(crate) async fn send(client: &reqwest::Client, grant: &Grant, request: Request) -> Result<Response, HttpError> {
    let asked = request.timeout_ms.map(|ms| Instant::now() + Duration::from_millis(u64::from(ms)));
    let deadline = asked.map_or(grant.deadline, |a| a.min(grant.deadline));
    match tokio::time::timeout_at(deadline, follow(client, grant, request)).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout),
    }
}

async fn follow(client: &reqwest::Client, grant: &Grant, request: Request) -> Result<Response, HttpError> {
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
            tracing::warn!(target: "aviary::plugins::http", host = %host_port(&url), "plugin request to a host it may not reach refused");
            return Err(HttpError::DeniedHost(host_port(&url)));
        }
        let mut builder = client.request(method.clone(), url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(b) = &body {
            builder = builder.body(b.clone());
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response.headers().get(reqwest::header::LOCATION)
        {
            let location =
                location.to_str().map_err(|_| HttpError::Transport("redirect location is not text".into()))?;
            url = url
                .join(location)
                .map_err(|e| HttpError::Transport(format!("bad redirect location {location:?}: {e}")))?;
            // 303, and 301/302 after a POST, turn into a GET without a body (RFC 9110 §15.4).
            if status.as_u16() == 303 || (matches!(status.as_u16(), 301 | 302) && method == Method::POST) {
                method = Method::GET;
                body = None;
            }
            continue;
        }
        return read(response, grant.max_response_bytes).await;
    }
    Err(HttpError::Transport(format!("more than {MAX_REDIRECTS} redirects")))
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
        if body.len() as u64 + chunk.len() as u64 > cap {
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
    // The innermost cause says what actually happened (connection refused, TLS...).
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    HttpError::Transport(msg)
}
