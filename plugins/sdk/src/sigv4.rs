//! AWS Signature Version 4, computed inside the component: a provider that calls an AWS API
//! (CloudWatch, Amazon Managed Prometheus) signs its own requests with the credentials the host
//! put in its config, so no AWS SDK and no signing proxy is needed on the host side.
//!
//! [`sign`] takes the request as it will be sent (method, URL, the headers to sign, the body) and
//! returns the headers to add: `X-Amz-Date`, `X-Amz-Security-Token` with temporary credentials,
//! and `Authorization`. It follows AWS's published algorithm (canonical request, string to sign,
//! derived signing key) for every service but S3 (whose paths are encoded once, not twice); the
//! primitives are RustCrypto's `sha2` and `hmac`. The module is pure: it needs no host import, so
//! it is tested natively against AWS's own test suite and usable by a test server that checks
//! what a component sent.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS credentials: an access key, its secret, and the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`; never printed ([`fmt::Debug`] hides it).
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, sent as `X-Amz-Security-Token` and signed.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The credentials the host adds to an AWS provider's config from the controller's environment
/// (`accessKeyId`, `secretAccessKey`, `sessionToken`; never from the template), for the config
/// to `#[serde(flatten)]`: every provider that signs reads them the same way.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    #[serde(default)]
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`; never printed ([`fmt::Debug`] hides it).
    #[serde(default)]
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN` of temporary credentials; empty for none.
    #[serde(default)]
    pub session_token: String,
}

impl HostCredentials {
    /// The credentials to sign with; `None` when the host added no key or no secret.
    pub fn credentials(&self) -> Option<Credentials> {
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return None;
        }
        Some(Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: Some(self.session_token.clone()).filter(|t| !t.is_empty()),
        })
    }
}

impl fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .finish()
    }
}

/// Why a request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The URL is not `http(s)://host[:port]/path[?query]`.
    InvalidUrl(String),
    /// A credential or the scope is empty (the message names which).
    Missing(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(u) => write!(f, "cannot sign a request to {u:?}: not an http(s) URL"),
            Error::Missing(what) => write!(f, "cannot sign the request: no {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// The request to sign, as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The full URL, percent-encoded as sent.
    pub url: &'a str,
    /// The headers to sign besides `host` and `x-amz-date` (e.g. `content-type`,
    /// `x-amz-target`); all of them must be sent as given.
    pub headers: &'a [(String, String)],
    /// The body (empty for none).
    pub body: &'a [u8],
}

/// A signature and the intermediate texts, for tests and for diagnosing a mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` (temporary
    /// credentials only) and `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The `Authorization` value.
    pub authorization: String,
    /// The hex signature.
    pub signature: String,
    /// The canonical request (step 1 of the algorithm).
    pub canonical_request: String,
    /// The string to sign (step 2).
    pub string_to_sign: String,
}

/// Signs `request` for `service` in `region` at time `at`.
pub fn sign(
    credentials: &Credentials,
    region: &str,
    service: &str,
    request: &Request<'_>,
    at: SystemTime,
) -> Result<Signed, Error> {
    if credentials.access_key_id.is_empty() {
        return Err(Error::Missing("access key id"));
    }
    if credentials.secret_access_key.is_empty() {
        return Err(Error::Missing("secret access key"));
    }
    if region.is_empty() {
        return Err(Error::Missing("region"));
    }
    let url = Url::parse(request.url).ok_or_else(|| Error::InvalidUrl(request.url.to_string()))?;
    let amz_date = amz_date(at);
    let date = &amz_date[..8];

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("authorization"))
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_header_value(v)))
        .collect();
    headers.push(("host".into(), url.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    // Repeated names are one canonical header with the values joined by commas, in order.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        match merged.last_mut() {
            Some((last, values)) if *last == name => {
                values.push(',');
                values.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let canonical_headers: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = merged.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");

    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(url.path),
        canonical_query(url.query),
        hex::encode(Sha256::digest(request.body)),
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign =
        format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{}", credentials.secret_access_key).into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    let mut out = vec![("X-Amz-Date".to_string(), amz_date)];
    if let Some(token) = &credentials.session_token {
        out.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    out.push(("Authorization".into(), authorization.clone()));
    Ok(Signed { headers: out, authorization, signature, canonical_request, string_to_sign })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `20150830T123600Z`: the UTC time to the second, as SigV4 writes it.
pub fn amz_date(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::civil::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// A header value as SigV4 canonicalises it: trimmed, inner runs of spaces made one.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with each segment URI-encoded (again: the path arrives encoded as sent, which is
/// what every service but S3 expects) and `.`/`..` segments resolved.
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return "/".into();
    }
    segments.iter().map(|s| format!("/{}", uri_encode(s))).collect()
}

/// The query's parameters decoded, encoded the SigV4 way and sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(name)), uri_encode(&percent_decode(value)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&")
}

/// RFC 3986 encoding of everything but the unreserved characters, upper-case hex.
pub use crate::url::escape_unreserved as uri_encode;

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of a URL that SigV4 reads.
struct Url<'a> {
    /// `host[:port]`, the port only when it is not the scheme's default (as HTTP clients send
    /// the `Host` header).
    host: String,
    path: &'a str,
    query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => "443",
            "http" => "80",
            _ => return None,
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if authority.is_empty() {
            return None;
        }
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if port == default_port => h.to_string(),
            _ => authority.to_string(),
        };
        let tail = &rest[end..];
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let path = if path.is_empty() { "/" } else { path };
        Some(Self { host: host.to_ascii_lowercase(), path, query })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, the `.authz` files of its
    // `get-vanilla` and `post-x-www-form-urlencoded` cases), as AWS ships it with the JavaScript
    // SDK's signer: `@aws-sdk/signature-v4`, `suite.fixture` (credentials AKIDEXAMPLE, region
    // us-east-1, service `service`, 2015-08-30T12:36:00Z). The canonical request and string to
    // sign of get-vanilla are the suite's `.creq` and `.sts`, as awslabs/aws-c-auth carries them
    // (tests/aws-signing-test-suite/v4/get-vanilla).
    const GET_VANILLA: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
        SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    const POST_FORM: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, \
        Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a";
    const QUERY_ORDER: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
        SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500";

    fn suite() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    /// 2015-08-30T12:36:00Z.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn signed(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> Signed {
        let request = Request { method, url, headers, body };
        sign(&suite(), "us-east-1", "service", &request, suite_time()).unwrap()
    }

    #[test]
    fn get_vanilla_matches_the_aws_test_suite() {
        let s = signed("GET", "https://example.amazonaws.com/", &[], b"");
        assert_eq!(s.authorization, GET_VANILLA);
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            s.headers,
            vec![
                ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
                ("Authorization".into(), GET_VANILLA.into())
            ]
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_matches_the_aws_test_suite() {
        let headers = [("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string())];
        let s = signed("POST", "https://example.amazonaws.com/", &headers, b"Param1=value1");
        assert_eq!(s.authorization, POST_FORM);
    }

    #[test]
    fn query_parameters_are_sorted_as_the_suite_expects() {
        let s = signed("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", &[], b"");
        assert_eq!(s.authorization, QUERY_ORDER);
    }

    #[test]
    fn any_change_to_what_is_signed_changes_the_signature() {
        let base = signed("GET", "https://example.amazonaws.com/", &[], b"").signature;
        assert_ne!(signed("GET", "https://example.amazonaws.com/x", &[], b"").signature, base);
        assert_ne!(signed("GET", "https://example.amazonaws.com:8443/", &[], b"").signature, base);
        assert_ne!(signed("POST", "https://example.amazonaws.com/", &[], b"").signature, base);
        assert_eq!(signed("GET", "https://example.amazonaws.com:443/", &[], b"").signature, base, "default port");
        let with_token = Credentials { session_token: Some("token".into()), ..suite() };
        let request = Request { method: "GET", url: "https://example.amazonaws.com/", headers: &[], body: b"" };
        let s = sign(&with_token, "us-east-1", "service", &request, suite_time()).unwrap();
        assert!(s.authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"), "{s:?}");
        assert_eq!(s.headers[1], ("X-Amz-Security-Token".to_string(), "token".to_string()));
        assert_ne!(s.signature, base);
    }

    #[test]
    fn header_values_are_trimmed_and_repeated_names_joined() {
        let h = |n: &str, v: &str| (n.to_string(), v.to_string());
        let s =
            signed("GET", "https://example.amazonaws.com/", &[h("My-Header1", "  a   b "), h("my-header1", "c")], b"");
        assert!(s.canonical_request.contains("\nmy-header1:a b,c\n"), "{}", s.canonical_request);
    }

    #[test]
    fn paths_are_encoded_twice_and_normalised() {
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a/./b/../c"), "/a/c");
        assert_eq!(canonical_uri("/api/v1/query%20x"), "/api/v1/query%2520x");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("q=up%7Bjob%3D%22x%22%7D+1"), "q=up%7Bjob%3D%22x%22%7D%201");
    }

    #[test]
    fn bad_input_is_named() {
        let request = Request { method: "GET", url: "ftp://x/", headers: &[], body: b"" };
        assert_eq!(sign(&suite(), "r", "s", &request, suite_time()), Err(Error::InvalidUrl("ftp://x/".into())));
        let request = Request { method: "GET", url: "https://x/", headers: &[], body: b"" };
        assert_eq!(sign(&suite(), "", "s", &request, suite_time()), Err(Error::Missing("region")));
        let no_secret = Credentials { secret_access_key: String::new(), ..suite() };
        assert_eq!(
            sign(&no_secret, "r", "s", &request, suite_time()).unwrap_err().to_string(),
            "cannot sign the request: no secret access key"
        );
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(amz_date(suite_time()), "20150830T123600Z");
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(amz_date(UNIX_EPOCH + Duration::from_secs(951_782_400)), "20000229T000000Z");
        assert_eq!(amz_date(UNIX_EPOCH + Duration::from_secs(1_735_689_599)), "20241231T235959Z");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let text = format!("{:?}", Credentials { session_token: Some("tok".into()), ..suite() });
        assert!(!text.contains("EXAMPLEKEY") && !text.contains("tok\""), "{text}");
    }
}
