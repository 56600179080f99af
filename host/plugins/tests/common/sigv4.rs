//! The fake AWS services' side of the tests: the key the tests' controllers hold, checked with
//! aviary-test-support's SigV4 verifier.

pub use aviary_test_support::sigv4::Verified;
use axum::http::HeaderMap;

/// The example access key of AWS's documentation: the key the tests' controllers hold.
pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// Its secret.
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Recomputes the signature of a POST to `path` (with its query) signed for `service` in `region`
/// with [`ACCESS_KEY_ID`] and the session token it carries; `Err` says what does not match.
pub fn verify(headers: &HeaderMap, path: &str, body: &[u8], region: &str, service: &str) -> Result<Verified, String> {
    aviary_test_support::sigv4::verify(headers, path, body, region, service, |id| {
        (id == ACCESS_KEY_ID).then(|| SECRET.to_string())
    })
}
