//! The server side of AWS Signature Version 4 for the fake AWS services of the tests: a request
//! is accepted only when the signature recomputed with the secret the server knows matches.

use std::time::SystemTime;

use aviary_plugin_sdk::sigv4;
use axum::http::HeaderMap;

use super::header;

/// The example access key of AWS's documentation: the key the tests' controllers hold.
pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// Its secret.
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A request whose signature verified.
pub struct Verified {
    /// `SignedHeaders=`, as received.
    pub signed_headers: String,
    /// When it was signed (`X-Amz-Date`).
    pub at: SystemTime,
}

/// Recomputes the signature of a POST to `path` (with its query) signed for `service` in `region`
/// with [`ACCESS_KEY_ID`] and the session token it carries; `Err` says what does not match.
pub fn verify(headers: &HeaderMap, path: &str, body: &[u8], region: &str, service: &str) -> Result<Verified, String> {
    let authorization = header(headers, "authorization");
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("not SigV4")?;
    let field = |name: &str| {
        rest.split(", ").find_map(|p| p.strip_prefix(name)).map(str::to_string).ok_or(format!("no {name}"))
    };
    let (credential, signed, signature) = (field("Credential=")?, field("SignedHeaders=")?, field("Signature=")?);
    let d = header(headers, "x-amz-date");
    if d.len() != 16 {
        return Err(format!("x-amz-date {d:?} is not yyyymmddThhmmssZ"));
    }
    let scope = format!("{ACCESS_KEY_ID}/{}/{region}/{service}/aws4_request", &d[..8]);
    if credential != scope {
        return Err(format!("credential scope {credential} is not {scope}"));
    }
    // The signed headers as received, less the ones the signer adds itself.
    let to_sign: Vec<(String, String)> = signed
        .split(';')
        .filter(|h| !matches!(*h, "host" | "x-amz-date" | "x-amz-security-token"))
        .map(|h| (h.to_string(), header(headers, h).to_string()))
        .collect();
    let at = format!("{}-{}-{}T{}:{}:{}Z", &d[0..4], &d[4..6], &d[6..8], &d[9..11], &d[11..13], &d[13..15]);
    let at: SystemTime = humantime::parse_rfc3339(&at).map_err(|e| e.to_string())?;
    let credentials = sigv4::Credentials {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET.into(),
        session_token: Some(header(headers, "x-amz-security-token").to_string()).filter(|t| !t.is_empty()),
    };
    let url = format!("http://{}{path}", header(headers, "host"));
    let request = sigv4::Request { method: "POST", url: &url, headers: &to_sign, body };
    let expected = sigv4::sign(&credentials, region, service, &request, at).map_err(|e| e.to_string())?;
    if expected.signature != signature {
        return Err(format!("signature {signature}, expected {}", expected.signature));
    }
    Ok(Verified { signed_headers: signed, at })
}
