//! Plugins in an OCI registry, against a real registry on loopback (tests/registry:
//! go-containerregistry's): push, pull by tag and by digest, a moved tag, a private repository,
//! cosign signatures required (checked against the real cosign both ways), a layer tampered with
//! on the way, and the registry gone.

mod common;

use std::collections::BTreeMap;

use aviary_boundary::oci::OciLocation;
use aviary_plugins::oci::{self, Credentials, OciError};
use aviary_plugins::registry::{OciAccess, RegistryFile};
use aviary_plugins::{CallContext, Error, HostConfig, Phase, PluginHost};
use aviary_test_support::registry::{self as test_registry, Registry};
use sigstore::crypto::SigningScheme;

/// A metric provider that measures the `value` of its config.
const COMPONENT: &str = "aviary_test_hostile.wasm";
/// Another component, for a tag that moves.
const OTHER: &str = "aviary_plugin_web.wasm";

fn location(text: &str) -> OciLocation {
    OciLocation::parse(text).unwrap()
}

fn private() -> Credentials {
    Credentials::Basic { username: test_registry::USER.into(), password: test_registry::PASSWORD.into() }
}

fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([
        (oci::ANNOTATION_WORLD.to_string(), "metric-provider".to_string()),
        (oci::ANNOTATION_CONTRACT.to_string(), "0.1.0".to_string()),
    ])
}

async fn push(bytes: &[u8], at: &str, credentials: &Credentials) -> OciLocation {
    oci::push(bytes, &location(at), credentials, annotations(), (vec![], vec![])).await.unwrap()
}

/// A cosign key pair: (encrypted private PEM, public PEM), as `cosign generate-key-pair` writes.
fn key_pair(password: &[u8]) -> (String, String) {
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().unwrap();
    let pair = signer.to_sigstore_keypair().unwrap();
    (pair.private_key_to_encrypted_pem(password).unwrap().to_string(), pair.public_key_to_pem().unwrap())
}

fn host_with_cache(dir: &std::path::Path) -> PluginHost {
    PluginHost::new(HostConfig { cache_dir: Some(dir.to_path_buf()), ..HostConfig::default() }).unwrap()
}

async fn measured(host: &PluginHost, name: &str) -> Option<String> {
    let m = host.measure(name, &CallContext::default(), r#"{"value": 7}"#).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    m.value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_component_is_pulled_by_tag_and_by_digest_and_runs() {
    let registry = Registry::start().unwrap();
    let bytes = common::read_component(COMPONENT);
    let pushed = push(&bytes, &format!("{}:1.0", registry.location("acme/value")), &Credentials::Anonymous).await;
    let digest = pushed.digest.clone().unwrap();
    assert_eq!(pushed.tag.as_deref(), Some("1.0"));

    // What the registry holds, read without running anything.
    let seen = oci::inspect(&location(&format!("{}:1.0", registry.location("acme/value"))), &Credentials::Anonymous)
        .await
        .unwrap();
    assert_eq!(seen.digest, digest);
    assert_eq!(seen.config_media_type, oci::CONFIG_MEDIA_TYPE);
    assert_eq!(seen.layer_digest, format!("sha256:{}", aviary_plugins::cache::sha256_hex(&bytes)));
    assert_eq!(seen.layer_size, bytes.len() as i64);
    assert_eq!(seen.annotations.get(oci::ANNOTATION_WORLD).map(String::as_str), Some("metric-provider"));
    assert_eq!(seen.signatures, 0);

    let dir = tempfile::tempdir().unwrap();
    let host = host_with_cache(dir.path());
    let doc = RegistryFile::parse(&format!(
        "plugins:\n\
         - {{name: acme/by-tag, kind: metric-provider, location: '{loc}:1.0'}}\n\
         - {{name: acme/by-digest, kind: metric-provider, location: '{loc}@{digest}'}}\n",
        loc = registry.location("acme/value")
    ))
    .unwrap();
    let results = host.load_registry(&doc).await;
    for (name, result) in &results {
        let info = result.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.sha256, aviary_plugins::cache::sha256_hex(&bytes), "{name}");
    }
    // The tag is recorded with the digest it resolved to.
    assert_eq!(results[0].1.as_ref().unwrap().location, format!("{}:1.0@{digest}", registry.location("acme/value")));
    assert_eq!(measured(&host, "acme/by-tag").await.as_deref(), Some("7"));
    assert_eq!(measured(&host, "acme/by-digest").await.as_deref(), Some("7"));
}

/// A tag moved to another component changes nothing for a location resolved before (it is at its
/// digest now); resolving again finds the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_tag_does_not_change_a_resolved_location() {
    let registry = Registry::start().unwrap();
    let tag = format!("{}:stable", registry.location("acme/moving"));
    let first = push(&common::read_component(COMPONENT), &tag, &Credentials::Anonymous).await;
    let second = push(&common::read_component(OTHER), &tag, &Credentials::Anonymous).await;
    assert_ne!(first.digest, second.digest);

    let old = oci::pull(&first, &Credentials::Anonymous, None).await.unwrap();
    assert_eq!(old.bytes, common::read_component(COMPONENT), "the recorded digest still names the first");
    let now = oci::pull(&location(&tag), &Credentials::Anonymous, None).await.unwrap();
    assert_eq!(now.bytes, common::read_component(OTHER));
    assert_eq!(now.resolved.digest, second.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_repository_needs_the_credentials_of_its_secret() {
    let registry = Registry::start().unwrap();
    let tag = format!("{}:1", registry.location("private/acme/value"));
    let refused = oci::push(
        &common::read_component(COMPONENT),
        &location(&tag),
        &Credentials::Anonymous,
        annotations(),
        (vec![], vec![]),
    )
    .await;
    assert!(
        matches!(&refused, Err(OciError::Registry(m)) if m.contains("401") || m.to_lowercase().contains("unauthorized")),
        "{refused:?}"
    );
    push(&common::read_component(COMPONENT), &tag, &private()).await;

    let anonymous = oci::pull(&location(&tag), &Credentials::Anonymous, None).await.unwrap_err();
    assert!(matches!(anonymous, OciError::Registry(_)), "{anonymous}");

    // The credentials as a kubernetes.io/dockerconfigjson Secret holds them.
    let config = test_registry::docker_config(registry.addr());
    let credentials = oci::credentials_from_docker_config(config.as_bytes(), registry.addr()).unwrap();
    assert_eq!(credentials, private());
    let host = common::host();
    let doc = RegistryFile::parse(&format!(
        "plugins: [{{name: acme/private, kind: metric-provider, location: '{tag}', pullSecret: registry-creds}}]"
    ))
    .unwrap();
    let results = host
        .load_registry_with(&doc, &|spec| {
            assert_eq!(spec.pull_secret.as_deref(), Some("registry-creds"));
            OciAccess { credentials: credentials.clone(), key: None }
        })
        .await;
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    assert_eq!(measured(&host, "acme/private").await.as_deref(), Some("7"));
}

/// With `verify`, only a component signed with the key loads; the signature is cosign's, made by
/// `oci::sign` (what `aviary plugin sign` runs) with an encrypted cosign key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_component_signed_with_the_key_loads() {
    let registry = Registry::start().unwrap();
    let (private_pem, public_pem) = key_pair(b"hunter2");
    let (_, stranger_pem) = key_pair(b"");
    let tag = format!("{}:1", registry.location("acme/signed"));
    let pushed = push(&common::read_component(COMPONENT), &tag, &Credentials::Anonymous).await;

    let unsigned = oci::pull(&location(&tag), &Credentials::Anonymous, Some(&public_pem)).await.unwrap_err();
    assert!(matches!(&unsigned, OciError::Unsigned { detail, .. } if detail.contains("no signature")), "{unsigned}");

    let wrong_password = oci::sign(&location(&tag), &Credentials::Anonymous, private_pem.as_bytes(), b"nope").await;
    assert!(matches!(wrong_password, Err(OciError::Key(_))), "{wrong_password:?}");
    let signed = oci::sign(&location(&tag), &Credentials::Anonymous, private_pem.as_bytes(), b"hunter2").await.unwrap();
    assert_eq!(Some(signed), pushed.digest);

    oci::verify(&location(&tag), &Credentials::Anonymous, &public_pem).await.unwrap();
    let stranger = oci::verify(&location(&tag), &Credentials::Anonymous, &stranger_pem).await.unwrap_err();
    assert!(
        matches!(&stranger, OciError::Unsigned { detail, .. } if detail.contains("none made with this key")),
        "{stranger}"
    );
    assert_eq!(oci::inspect(&location(&tag), &Credentials::Anonymous).await.unwrap().signatures, 1);

    let host = common::host();
    let doc = RegistryFile::parse(&format!(
        "policy: {{requireSignature: true}}\n\
         plugins:\n\
         - {{name: acme/signed, kind: metric-provider, location: '{tag}', verify: {{key: {public_pem:?}}}}}\n\
         - {{name: acme/stranger, kind: metric-provider, location: '{tag}', verify: {{key: {stranger_pem:?}}}}}\n\
         - {{name: acme/unverified, kind: metric-provider, location: '{tag}'}}\n"
    ))
    .unwrap();
    let results = host.load_registry(&doc).await;
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    let stranger = results[1].1.as_ref().unwrap_err().to_string();
    assert!(stranger.starts_with("plugin \"acme/stranger\": oci://"), "{stranger}");
    assert!(stranger.contains("no cosign signature of sha256:"), "{stranger}");
    let unverified = results[2].1.as_ref().unwrap_err().to_string();
    assert!(unverified.contains("verify: is required"), "{unverified}");
    assert_eq!(measured(&host, "acme/signed").await.as_deref(), Some("7"));

    // The tag moved to an unsigned component: refused, and the signed version keeps serving.
    push(&common::read_component(OTHER), &tag, &Credentials::Anonymous).await;
    let spec = doc.plugins[0].validate_with(&doc.policy).unwrap();
    let moved = host.load(&spec).await.unwrap_err();
    assert!(matches!(&moved, Error::Oci { cause: OciError::Unsigned { .. }, .. }), "{moved}");
    assert_eq!(measured(&host, "acme/signed").await.as_deref(), Some("7"));
}

/// A proxy that flips one byte of every blob it relays: the pull fails on the layer's digest,
/// and nothing is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_tampered_with_on_the_way_is_refused() {
    let registry = Registry::start().unwrap();
    let tag = format!("{}:1", registry.location("acme/tampered"));
    push(&common::read_component(COMPONENT), &tag, &Credentials::Anonymous).await;
    let upstream = format!("http://{}", registry.addr());
    let client = reqwest::Client::new();
    let proxy = common::serve(
        "127.0.0.1",
        axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move {
                let path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                let mut forwarded = client.request(request.method().clone(), format!("{upstream}{path}"));
                for (name, value) in request.headers() {
                    if name != "host" {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let answer = forwarded.send().await.unwrap();
                let status = answer.status();
                let headers = answer.headers().clone();
                let mut body = answer.bytes().await.unwrap().to_vec();
                if path.contains("/blobs/") && body.len() > 100 {
                    body[100] ^= 0xff;
                }
                let mut response = axum::response::Response::new(axum::body::Body::from(body));
                *response.status_mut() = status;
                for (name, value) in &headers {
                    if name != "content-length" && name != "docker-content-digest" {
                        response.headers_mut().insert(name, value.clone());
                    }
                }
                response
            }
        }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let host = host_with_cache(dir.path());
    let doc = RegistryFile::parse(&format!(
        "plugins: [{{name: acme/tampered, kind: metric-provider, location: 'oci://{proxy}/acme/tampered:1'}}]"
    ))
    .unwrap();
    let results = host.load_registry(&doc).await;
    let err = results[0].1.as_ref().unwrap_err().to_string();
    assert!(err.starts_with("plugin \"acme/tampered\": oci://"), "{err}");
    assert!(err.to_lowercase().contains("digest"), "{err}");
    let kept = std::fs::read_dir(dir.path().join("downloads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(kept, 0, "nothing of a tampered pull is kept");
    let broken = host.measure("acme/tampered", &CallContext::default(), "{}").await;
    assert_eq!(broken.phase, Phase::Error);
}

/// A component pulled once by digest loads from the disk cache when its registry is gone (a
/// restart needs no registry), and one never pulled fails with the registry's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_component_loads_without_its_registry_after_a_restart() {
    let mut registry = Registry::start().unwrap();
    let (_, public_pem) = key_pair(b"");
    let pushed = push(
        &common::read_component(COMPONENT),
        &format!("{}:1", registry.location("acme/kept")),
        &Credentials::Anonymous,
    )
    .await;
    let never =
        push(&common::read_component(OTHER), &format!("{}:2", registry.location("acme/kept")), &Credentials::Anonymous)
            .await;
    let dir = tempfile::tempdir().unwrap();
    let entry = |name: &str, at: &OciLocation| {
        RegistryFile::parse(&format!("plugins: [{{name: {name}, kind: metric-provider, location: '{at}'}}]")).unwrap()
    };
    let first = host_with_cache(dir.path());
    assert!(first.load_registry(&entry("acme/kept", &pushed)).await[0].1.is_ok());
    registry.stop();

    let restarted = host_with_cache(dir.path());
    let results = restarted.load_registry(&entry("acme/kept", &pushed)).await;
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    assert_eq!(measured(&restarted, "acme/kept").await.as_deref(), Some("7"));
    // Verified with a key it never was verified with: that needs the registry.
    let doc = RegistryFile::parse(&format!(
        "plugins: [{{name: acme/kept-verified, kind: metric-provider, location: '{pushed}', verify: {{key: {public_pem:?}}}}}]"
    ))
    .unwrap();
    assert!(restarted.load_registry(&doc).await[0].1.is_err());
    let missing = restarted.load_registry(&entry("acme/never", &never)).await;
    let err = missing[0].1.as_ref().unwrap_err().to_string();
    assert!(err.contains("registry: "), "{err}");
}

/// Runs cosign (tests/cosign: the sigstore project's own) with `args` in `dir`; its success and
/// output.
fn cosign(dir: &std::path::Path, password: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(test_registry::cosign().unwrap())
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", password)
        // Its own cache, never the user's.
        .env("TUF_ROOT", dir.join("tuf"))
        .env("HOME", dir)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The signatures are cosign's: cosign verifies what Aviary signs, Aviary verifies what cosign
/// signs, and each tool's key pair serves the other (cosign's encrypted key format is one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_and_aviary_verify_each_others_signatures() {
    let registry = Registry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (aviary_private, aviary_public) = oci::generate_key_pair(b"pw").unwrap();
    std::fs::write(dir.path().join("aviary.key"), &aviary_private).unwrap();
    std::fs::write(dir.path().join("aviary.pub"), &aviary_public).unwrap();
    let (ok, out) = cosign(dir.path(), "pw", &["generate-key-pair", "--output-key-prefix", "cosign"]);
    assert!(ok, "{out}");
    let cosign_private = std::fs::read(dir.path().join("cosign.key")).unwrap();
    let cosign_public = std::fs::read_to_string(dir.path().join("cosign.pub")).unwrap();
    // Offline, on loopback only: no transparency log, and an empty trusted root instead of
    // sigstore.dev's TUF repository.
    std::fs::write(
        dir.path().join("trusted-root.json"),
        r#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    let verify = |image: &str, key: &str| {
        cosign(
            dir.path(),
            "",
            &[
                "verify",
                "--key",
                key,
                "--insecure-ignore-tlog=true",
                "--trusted-root",
                "trusted-root.json",
                "--allow-http-registry",
                image,
            ],
        )
    };
    let sign = |image: &str, key: &str| {
        cosign(
            dir.path(),
            "pw",
            &["sign", "--key", key, "--tlog-upload=false", "--allow-http-registry", "--yes", image],
        )
    };
    let image = |at: &OciLocation| format!("{}/{}@{}", at.registry, at.repository, at.digest.clone().unwrap());

    // Aviary signs (with its key, then with cosign's): cosign verifies with the right key only.
    let by_aviary = push(
        &common::read_component(COMPONENT),
        &format!("{}:1", registry.location("acme/by-aviary")),
        &Credentials::Anonymous,
    )
    .await;
    oci::sign(&by_aviary, &Credentials::Anonymous, aviary_private.as_bytes(), b"pw").await.unwrap();
    let (ok, out) = verify(&image(&by_aviary), "aviary.pub");
    assert!(ok && out.contains("The signatures were verified against the specified public key"), "{out}");
    let (ok, out) = verify(&image(&by_aviary), "cosign.pub");
    assert!(!ok && out.contains("no matching signatures"), "{out}");
    oci::sign(&by_aviary, &Credentials::Anonymous, &cosign_private, b"pw").await.unwrap();
    let (ok, out) = verify(&image(&by_aviary), "cosign.pub");
    assert!(ok, "a cosign key, used by Aviary: {out}");
    let (ok, out) = verify(&image(&by_aviary), "aviary.pub");
    assert!(ok, "a second signature keeps the first: {out}");
    assert!(!out.contains("TUF"), "cosign stayed offline: {out}");

    // cosign signs (with its key, then with Aviary's): Aviary verifies with the right key only.
    let by_cosign = push(
        &common::read_component(COMPONENT),
        &format!("{}:1", registry.location("acme/by-cosign")),
        &Credentials::Anonymous,
    )
    .await;
    let (ok, out) = sign(&image(&by_cosign), "cosign.key");
    assert!(ok, "{out}");
    oci::verify(&by_cosign, &Credentials::Anonymous, &cosign_public).await.unwrap();
    let refused = oci::verify(&by_cosign, &Credentials::Anonymous, &aviary_public).await.unwrap_err();
    assert!(matches!(refused, OciError::Unsigned { .. }), "{refused}");
    let (ok, out) = sign(&image(&by_cosign), "aviary.key");
    assert!(ok, "an Aviary key, used by cosign: {out}");
    oci::verify(&by_cosign, &Credentials::Anonymous, &aviary_public).await.unwrap();
}
