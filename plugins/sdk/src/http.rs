//! Outbound HTTP through the host. The host decides which hosts are reachable (the plugin's
//! `allowedHosts`), enforces the deadline and caps the response size; a refusal comes back as an
//! [`Error`], never as a silent empty response.
//!
//! The same module serves contract 0.1.0's providers (feature `v0-1`) and 0.2.0's step plugins
//! (feature `step`) and notifiers (feature `notifier`): the two `http` imports have the same shape
//! and differ only by version, and a component built with one world's feature imports that
//! world's version only.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

#[cfg(all(feature = "notifier", not(feature = "v0-1"), not(feature = "step")))]
use crate::notifier::bindings::aviary::plugin::http as wit;
#[cfg(feature = "v0-1")]
use crate::provider::bindings::aviary::plugin::http as wit;
#[cfg(all(feature = "step", not(feature = "v0-1")))]
use crate::step::bindings::aviary::plugin::http as wit;

/// An HTTP request under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with any method.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self { method: method.into(), url: url.into(), headers: Vec::new(), body: None, timeout: None }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header (names may repeat).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(self, body: &serde_json::Value) -> Self {
        self.header("Content-Type", "application/json").body(body.to_string())
    }

    /// Gives up after `timeout` (the host also stops at the call's own deadline).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request through the host and waits for the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
        };
        match wit::send(&request) {
            Ok(r) => Ok(Response { status: r.status, headers: r.headers, body: r.body }),
            Err(wit::Error::DeniedHost(h)) => Err(Error::DeniedHost(h)),
            Err(wit::Error::Timeout) => Err(Error::Timeout),
            Err(wit::Error::Transport(m)) => Err(Error::Transport(m)),
            Err(wit::Error::TooLarge(n)) => Err(Error::TooLarge(n)),
        }
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Why a request got no response. The `Display` texts are stable: they end up in measurement
/// messages that users and alerts read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host (or a redirect target) is not in the plugin's allowed hosts.
    DeniedHost(String),
    /// No complete response in time.
    Timeout,
    /// Connection, TLS or protocol failure.
    Transport(String),
    /// The body exceeded the host's cap (in bytes).
    TooLarge(u64),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DeniedHost(h) => write!(f, "denied host: {h} is not in the plugin's allowed hosts"),
            Error::Timeout => f.write_str("timeout"),
            Error::Transport(m) => write!(f, "transport error: {m}"),
            Error::TooLarge(n) => write!(f, "response too large: over {n} bytes"),
        }
    }
}

impl std::error::Error for Error {}

/// Go's `Response.Status` (`"404 Not Found"`): the code and Go's `http.StatusText`, or the code
/// alone for one Go has no text for. Argo's providers put it in their error messages.
pub fn status_line(status: u16) -> String {
    let reason = match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => return status.to_string(),
    };
    format!("{status} {reason}")
}

#[cfg(test)]
mod tests {
    use super::status_line;

    #[test]
    fn status_lines_are_gos() {
        assert_eq!(status_line(401), "401 Unauthorized");
        assert_eq!(status_line(413), "413 Request Entity Too Large");
        assert_eq!(status_line(599), "599");
    }
}
