//! The GitHub App's JWT, as ghinstallation v2.14.0 signs it with golang-jwt v4: RS256 over
//! `{"alg":"RS256","typ":"JWT"}` and `{"iss":"<app ID>","exp":<iat + 120>,"iat":<now - 30 s>}`
//! (base64url without padding), the private key read as golang-jwt's
//! `ParseRSAPrivateKeyFromPEM` reads it (the first PEM block, PKCS #1 or PKCS #8).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, PrivateKeyInfo};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};

/// The JWT's header, as golang-jwt writes it.
pub const HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

/// golang-jwt's `ErrKeyMustBePEMEncoded`.
pub const NOT_PEM: &str = "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key";

/// The DER bytes of the first well-formed PEM block of `text`, as Go's `pem.Decode` finds it.
fn first_pem_block(text: &str) -> Option<Vec<u8>> {
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + "-----BEGIN ".len()..];
        let type_end = after.find("-----")?;
        let kind = &after[..type_end];
        if kind.contains('\n') {
            rest = after;
            continue;
        }
        let body_and_rest = &after[type_end + 5..];
        let end_marker = format!("-----END {kind}-----");
        let Some(end) = body_and_rest.find(&end_marker) else {
            rest = after;
            continue;
        };
        let body = &body_and_rest[..end];
        // Headers (`Proc-Type: ...`) come first, up to a blank line.
        let body = if body.contains(':') { body.split_once("\n\n").map_or(body, |(_, b)| b) } else { body };
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = STANDARD.decode(compact.as_bytes()) {
            return Some(der);
        }
        rest = after;
    }
    None
}

/// The RSA private key of a PEM text, or golang-jwt's error.
pub fn parse_private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    let der = first_pem_block(pem).ok_or_else(|| NOT_PEM.to_string())?;
    if let Ok(key) = RsaPrivateKey::from_pkcs1_der(&der) {
        return Ok(key);
    }
    match PrivateKeyInfo::try_from(der.as_slice()) {
        Ok(info) if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID => {
            Err("key is not a valid RSA private key".to_string())
        }
        Ok(_) => RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| format!("x509: failed to parse private key: {e}")),
        Err(e) => Err(format!("x509: failed to parse private key: {e}")),
    }
}

/// The claims for app `app_id` at Unix time `now`: `iat` 30 s back (whole seconds), `exp` two
/// minutes after it, as ghinstallation's `AppsTransport` sets them.
pub fn claims(app_id: i64, now: i64) -> String {
    let iat = now - 30;
    format!(r#"{{"iss":"{app_id}","exp":{},"iat":{iat}}}"#, iat + 120)
}

/// The signed JWT.
pub fn sign(key: &RsaPrivateKey, claims: &str) -> String {
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(claims));
    let signer = SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::RsaPublicKey;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    /// Verifies `jwt` with the test App's public key; its claims.
    pub fn verify(jwt: &str) -> String {
        let public = RsaPublicKey::from_public_key_pem(include_str!("testdata/app-key.pub.pem")).unwrap();
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(public).verify(input.as_bytes(), &signature).unwrap();
        let (header, claims) = input.split_once('.').unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(header).unwrap(), HEADER.as_bytes());
        String::from_utf8(URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
    }

    #[test]
    fn keys_are_read_as_golang_jwt_reads_them() {
        assert_eq!(parse_private_key("not a key").unwrap_err(), NOT_PEM);
        assert_eq!(parse_private_key("-----BEGIN X-----\n!!!\n-----END X-----\n").unwrap_err(), NOT_PEM);
        let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(parse_private_key(garbage).unwrap_err().starts_with("x509: failed to parse private key"));
    }

    #[test]
    fn jwts_verify_with_the_public_key() {
        let cases: Vec<serde_json::Value> = serde_json::from_str(include_str!("testdata/cases.json")).unwrap();
        let pem = cases[0]["config"]["privateKey"].as_str().unwrap();
        let key = parse_private_key(pem).unwrap();
        let jwt = sign(&key, &claims(12345, 1_796_271_967));
        assert_eq!(verify(&jwt), r#"{"iss":"12345","exp":1796272057,"iat":1796271937}"#);
    }
}
