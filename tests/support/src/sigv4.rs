//! The server side of AWS Signature Version 4 for the tests' fake AWS services (CloudWatch,
//! Amazon Managed Prometheus, STS): a request is accepted only when the signature recomputed with
//! the secret the server knows for its access key matches. The requests come from the
//! components' signer (the SDK's `sigv4`) and from the AWS SDK for Rust (the controller's STS
//! calls), so each checks the other.

use std::time::SystemTime;

use aviary_plugin_sdk::sigv4;
use axum::http::HeaderMap;

/// A request whose signature verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The access key id it was signed with.
    pub access_key_id: String,
    /// `SignedHeaders=`, as received.
    pub signed_headers: String,
    /// When it was signed (`X-Amz-Date`).
    pub at: SystemTime,
    /// `X-Amz-Security-Token`, when it carried one.
    pub session_token: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Recomputes the signature of a POST to `path` (with its query) signed for `service` in
/// `region`, with the secret `secret_of` knows for the access key it names and the session token
/// it carries; `Err` says what does not match.
pub fn verify(
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    region: &str,
    service: &str,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, String> {
    let authorization = header(headers, "authorization");
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("not SigV4")?;
    let field = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(name))
            .map(str::to_string)
            .ok_or(format!("no {name}"))
    };
    let (credential, signed, signature) = (field("Credential=")?, field("SignedHeaders=")?, field("Signature=")?);
    let d = header(headers, "x-amz-date");
    if d.len() != 16 {
        return Err(format!("x-amz-date {d:?} is not yyyymmddThhmmssZ"));
    }
    let access_key_id = credential.split('/').next().unwrap_or_default().to_string();
    let secret = secret_of(&access_key_id).ok_or(format!("the access key {access_key_id} is not known"))?;
    let scope = format!("{access_key_id}/{}/{region}/{service}/aws4_request", &d[..8]);
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
    let at: SystemTime = chrono::DateTime::parse_from_rfc3339(&at).map_err(|e| e.to_string())?.into();
    let session_token = Some(header(headers, "x-amz-security-token").to_string()).filter(|t| !t.is_empty());
    let credentials = sigv4::Credentials {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret,
        session_token: session_token.clone(),
    };
    let url = format!("http://{}{path}", header(headers, "host"));
    let request = sigv4::Request { method: "POST", url: &url, headers: &to_sign, body };
    let expected = sigv4::sign(&credentials, region, service, &request, at).map_err(|e| e.to_string())?;
    if expected.signature != signature {
        return Err(format!("signature {signature}, expected {}", expected.signature));
    }
    Ok(Verified { access_key_id, signed_headers: signed, at, session_token })
}
