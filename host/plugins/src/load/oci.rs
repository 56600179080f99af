//! Plugins in OCI registries: pull, push, sign, verify and inspect, in the layout the Wasm
//! ecosystem uses (wasm-pkg-tools / `wkg`, the CNCF TAG Runtime's Wasm OCI artifact): a manifest
//! whose config has media type `application/vnd.wasm.config.v0+json` and whose one layer is the
//! component (`application/wasm`). Signatures are cosign's, stored in the registry beside the
//! artifact (`sha256-<digest>.sig`), made and checked with the `sigstore` crate, so `cosign
//! verify --key` accepts what `aviary plugin sign` made and the reverse.
//!
//! The registry is spoken to over HTTPS, except one on this machine (`localhost`, 127.0.0.0/8,
//! `[::1]`) over plain HTTP, as Docker does.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use aviary_boundary::oci::{OciLocation, OciSyntax, SCHEME};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{CosignCapabilities, SignatureLayer};

/// The config media type of a Wasm artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the component layer.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer media type of the older wasm-to-oci layout, accepted when pulling.
pub const LEGACY_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// Manifest annotation: the `aviary:plugin` world the component implements.
pub const ANNOTATION_WORLD: &str = "dev.aviary.plugin.world";
/// Manifest annotation: the contract version it was built against.
pub const ANNOTATION_CONTRACT: &str = "dev.aviary.plugin.contract";
/// Largest component pulled.
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;
/// Deadline of one registry request (connect and each read).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How to authenticate to a registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP Basic (or the token exchange a registry asks for, with these).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
        }
    }
}

/// Why a registry operation failed. Each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The registry could not be reached or refused a request.
    #[error("registry: {0}")]
    Registry(String),
    /// The artifact is not a Wasm component in the expected layout.
    #[error("not a Wasm component artifact: {0}")]
    Layout(String),
    /// The component is larger than the host accepts.
    #[error("the component is {size} bytes, more than the {MAX_COMPONENT_BYTES} accepted")]
    TooLarge {
        /// Its size, as the manifest declares it.
        size: i64,
    },
    /// No signature of the artifact verifies with the key.
    #[error("no cosign signature of {digest} verifies with the key ({detail})")]
    Unsigned {
        /// The manifest digest checked.
        digest: String,
        /// What was found instead.
        detail: String,
    },
    /// A key that cannot be read.
    #[error("key: {0}")]
    Key(String),
    /// Credentials that cannot be read.
    #[error("credentials: {0}")]
    Credentials(String),
}

/// A pulled component.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The component.
    pub bytes: Vec<u8>,
    /// The location at the manifest digest it was pulled at (its tag kept): what a tag resolved to.
    pub resolved: OciLocation,
    /// Whether a signature was verified.
    pub verified: bool,
}

/// What `inspect` reads from a registry without running anything.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The location at its manifest digest.
    pub resolved: String,
    /// The manifest digest.
    pub digest: String,
    /// The config's media type.
    pub config_media_type: String,
    /// The component layer's digest and size.
    pub layer_digest: String,
    /// Its size in bytes.
    pub layer_size: i64,
    /// The manifest's annotations (world, contract version, creation time...).
    pub annotations: BTreeMap<String, String>,
    /// How many cosign signatures the registry holds for this digest.
    pub signatures: usize,
}

/// The part of the Wasm config an Aviary push writes (the CNCF layout's fields).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig {
    created: String,
    architecture: String,
    os: String,
    layer_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    component: Option<ComponentConfig>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ComponentConfig {
    exports: Vec<String>,
    imports: Vec<String>,
}

fn client_config(location: &OciLocation) -> ClientConfig {
    ClientConfig {
        protocol: if location.is_loopback() { ClientProtocol::Http } else { ClientProtocol::Https },
        read_timeout: Some(REQUEST_TIMEOUT),
        connect_timeout: Some(REQUEST_TIMEOUT),
        ..ClientConfig::default()
    }
}

fn client(location: &OciLocation) -> Client {
    Client::new(client_config(location))
}

fn reference(location: &OciLocation) -> Result<Reference, OciError> {
    location.reference().parse().map_err(|e| OciError::Registry(format!("{location}: {e}")))
}

fn auth(credentials: &Credentials) -> RegistryAuth {
    match credentials {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic { username, password } => RegistryAuth::Basic(username.clone(), password.clone()),
    }
}

fn sigstore_auth(credentials: &Credentials) -> sigstore::registry::Auth {
    match credentials {
        Credentials::Anonymous => sigstore::registry::Auth::Anonymous,
        Credentials::Basic { username, password } => {
            sigstore::registry::Auth::Basic(username.clone(), password.clone())
        }
    }
}

fn registry_error(e: impl std::fmt::Display) -> OciError {
    OciError::Registry(e.to_string())
}

/// The manifest digest a location names: its digest, or what its tag points to now.
pub async fn resolve(location: &OciLocation, credentials: &Credentials) -> Result<String, OciError> {
    if let Some(d) = &location.digest {
        return Ok(d.clone());
    }
    client(location).fetch_manifest_digest(&reference(location)?, &auth(credentials)).await.map_err(registry_error)
}

/// Pulls the component a location names, resolving a tag once, checking the layout, the size and
/// every digest on the way, and, with `key`, that a cosign signature of the manifest digest
/// verifies with it (before any byte of the component is fetched).
pub async fn pull(location: &OciLocation, credentials: &Credentials, key: Option<&str>) -> Result<Pulled, OciError> {
    let digest = resolve(location, credentials).await?;
    let resolved = location.at_digest(&digest);
    let pinned = OciLocation { tag: None, ..resolved.clone() };
    if let Some(key) = key {
        verify(&pinned, credentials, key).await?;
    }
    let client = client(&pinned);
    let reference = reference(&pinned)?;
    let auth = auth(credentials);
    let (manifest, _, _) = client.pull_manifest_and_config(&reference, &auth).await.map_err(registry_error)?;
    let layer = component_layer(&manifest)?;
    let mut bytes = Vec::with_capacity(usize::try_from(layer.size).unwrap_or_default());
    // The client checks the blob against the layer's digest, which the manifest digest (checked
    // against the reference, and signed) covers.
    client.pull_blob(&reference, &layer, &mut bytes).await.map_err(registry_error)?;
    if bytes.len() as u64 > MAX_COMPONENT_BYTES {
        return Err(OciError::TooLarge { size: i64::try_from(bytes.len()).unwrap_or(i64::MAX) });
    }
    Ok(Pulled { bytes, resolved, verified: key.is_some() })
}

/// The one component layer of a Wasm artifact's manifest, refusing any other layout.
fn component_layer(manifest: &OciImageManifest) -> Result<OciDescriptor, OciError> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(OciError::Layout(format!(
            "the config's media type is {:?}, not {CONFIG_MEDIA_TYPE:?}",
            manifest.config.media_type
        )));
    }
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == LAYER_MEDIA_TYPE || l.media_type == LEGACY_LAYER_MEDIA_TYPE)
        .collect();
    let [layer] = wasm.as_slice() else {
        return Err(OciError::Layout(format!(
            "{} layers of media type {LAYER_MEDIA_TYPE:?}, expected exactly one",
            wasm.len()
        )));
    };
    if layer.size < 0 || layer.size as u64 > MAX_COMPONENT_BYTES {
        return Err(OciError::TooLarge { size: layer.size });
    }
    Ok((*layer).clone())
}

fn cosign_client(location: &OciLocation) -> Result<sigstore::cosign::Client, OciError> {
    let protocol = if location.is_loopback() {
        sigstore::registry::ClientProtocol::Http
    } else {
        sigstore::registry::ClientProtocol::Https
    };
    sigstore::cosign::ClientBuilder::default()
        .with_oci_client_config(sigstore::registry::ClientConfig { protocol, ..Default::default() })
        .build()
        .map_err(|e| OciError::Registry(format!("cannot set up the signature client: {e}")))
}

fn sigstore_reference(location: &OciLocation) -> Result<sigstore::registry::OciReference, OciError> {
    location.reference().parse().map_err(|e| OciError::Registry(format!("{location}: {e}")))
}

/// Checks that a cosign signature of the location's manifest digest verifies with `key` (the
/// PEM text of a cosign public key: ECDSA P-256 as `cosign generate-key-pair` makes, or RSA,
/// Ed25519).
pub async fn verify(location: &OciLocation, credentials: &Credentials, key: &str) -> Result<(), OciError> {
    let verifier = PublicKeyVerifier::try_from(key.as_bytes()).map_err(|e| OciError::Key(e.to_string()))?;
    let digest = resolve(location, credentials).await?;
    let pinned = OciLocation { tag: None, ..location.at_digest(&digest) };
    let mut cosign = cosign_client(&pinned)?;
    let layers = cosign
        .trusted_signature_layers(&sigstore_auth(credentials), &sigstore_reference(&pinned)?)
        .await
        .map_err(registry_error)?;
    if layers.is_empty() {
        return Err(OciError::Unsigned { digest, detail: "the registry holds no signature of it".into() });
    }
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter()).map_err(|_| OciError::Unsigned {
        digest,
        detail: format!("{} signature(s), none made with this key", layers.len()),
    })
}

/// Pushes a component to `location` (which must name a tag) in the Wasm layout, with the world
/// and contract version in the manifest's annotations; returns the location at the pushed
/// manifest's digest.
pub async fn push(
    bytes: &[u8],
    location: &OciLocation,
    credentials: &Credentials,
    annotations: BTreeMap<String, String>,
    component: (Vec<String>, Vec<String>),
) -> Result<OciLocation, OciError> {
    if location.tag.is_none() || location.digest.is_some() {
        return Err(OciError::Registry(format!("{location}: push to a tag (oci://REGISTRY/REPO:TAG)")));
    }
    let layer = ImageLayer::new(bytes.to_vec(), LAYER_MEDIA_TYPE.to_string(), None);
    let config = WasmConfig {
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer.sha256_digest()],
        component: Some(ComponentConfig { exports: component.0, imports: component.1 }),
    };
    let config_bytes = serde_json::to_vec(&config).map_err(|e| OciError::Layout(e.to_string()))?;
    let config = Config::new(config_bytes, CONFIG_MEDIA_TYPE.to_string(), None);
    let mut all = annotations;
    all.entry("org.opencontainers.image.created".into()).or_insert_with(|| config_created(&config));
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(all));
    let client = client(location);
    let reference = reference(location)?;
    client
        .push(&reference, std::slice::from_ref(&layer), config, &auth(credentials), Some(manifest))
        .await
        .map_err(registry_error)?;
    let digest = resolve(&OciLocation { digest: None, ..location.clone() }, credentials).await?;
    Ok(location.at_digest(&digest))
}

fn config_created(config: &Config) -> String {
    serde_json::from_slice::<WasmConfig>(&config.data).map(|c| c.created).unwrap_or_default()
}

/// The media type of a cosign signature layer (a simple-signing payload).
const SIGNATURE_LAYER_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation of a signature layer holding the base64 signature.
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Signs the manifest `location` names (its tag resolved now) with a cosign private key (PEM,
/// encrypted with `password` as `cosign generate-key-pair` writes it, or unencrypted), and
/// stores the signature where cosign keeps them (`sha256-<digest>.sig` in the same repository),
/// beside the signatures already there, as `cosign sign` does. Returns the signed digest.
pub async fn sign(
    location: &OciLocation,
    credentials: &Credentials,
    private_key: &[u8],
    password: &[u8],
) -> Result<String, OciError> {
    use sigstore::cosign::constraint::{Constraint, PrivateKeySigner};
    use sigstore::crypto::SigningScheme;
    use sigstore::crypto::signing_key::SigStoreKeyPair;

    let pair = if password.is_empty() && !is_encrypted(private_key) {
        SigStoreKeyPair::from_pem(private_key)
    } else {
        SigStoreKeyPair::from_encrypted_pem(private_key, password)
    }
    .map_err(|e| OciError::Key(format!("cannot read the private key: {e}")))?;
    let scheme = match &pair {
        SigStoreKeyPair::ECDSA(_) => SigningScheme::ECDSA_P256_SHA256_ASN1,
        SigStoreKeyPair::ED25519(_) => SigningScheme::ED25519,
        SigStoreKeyPair::RSA(_) => SigningScheme::RSA_PKCS1_SHA256(0),
    };
    let signer = pair.to_sigstore_signer(&scheme).map_err(|e| OciError::Key(e.to_string()))?;
    let digest = resolve(location, credentials).await?;
    // The simple-signing payload names the repository (cosign's `docker-reference`) and digest.
    let repository = sigstore_reference(&OciLocation { tag: None, digest: None, ..location.clone() })?;
    let mut layer = SignatureLayer::new_unsigned(&repository, &digest).map_err(registry_error)?;
    let applied = PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .map_err(|e| OciError::Key(format!("cannot sign: {e}")))?;
    let Some(signature) = layer.signature.filter(|_| applied) else {
        return Err(OciError::Key("the signer did not sign".into()));
    };
    let signed = ImageLayer::new(
        layer.raw_data,
        SIGNATURE_LAYER_MEDIA_TYPE.to_string(),
        Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), signature)])),
    );
    let signatures =
        OciLocation { tag: Some(format!("{}.sig", digest.replace(':', "-"))), digest: None, ..location.clone() };
    let client = client(&signatures);
    let reference = reference(&signatures)?;
    let auth = auth(credentials);
    // The signatures there already, kept byte for byte (another key's, cosign's).
    let mut layers = match client.pull(&reference, &auth, vec![SIGNATURE_LAYER_MEDIA_TYPE]).await {
        Ok(existing) => existing.layers,
        Err(oci_client::errors::OciDistributionError::ImageManifestNotFoundError(_)) => Vec::new(),
        Err(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
            if envelope.errors.iter().any(|e| e.code == oci_client::errors::OciErrorCode::ManifestUnknown) =>
        {
            Vec::new()
        }
        Err(e) => return Err(registry_error(format!("reading the signatures there: {e}"))),
    };
    if !layers.iter().any(|l| l.data == signed.data && l.annotations == signed.annotations) {
        layers.push(signed);
    }
    let config = Config::oci_v1(b"{}".to_vec(), None);
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_string());
    client.push(&reference, &layers, config, &auth, Some(manifest)).await.map_err(registry_error)?;
    Ok(digest)
}

/// A new cosign key pair, as `cosign generate-key-pair` makes one: an ECDSA P-256 private key
/// encrypted with `password` (cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" PEM) and its public key.
pub fn generate_key_pair(password: &[u8]) -> Result<(String, String), OciError> {
    use sigstore::crypto::SigningScheme;
    let key = |e: sigstore::errors::SigstoreError| OciError::Key(e.to_string());
    let pair =
        SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().and_then(|s| s.to_sigstore_keypair()).map_err(key)?;
    // The PEM lines end with LF, as cosign writes them (the crate writes CRLF).
    let lf = |pem: &str| pem.replace("\r\n", "\n");
    Ok((lf(&pair.private_key_to_encrypted_pem(password).map_err(key)?), lf(&pair.public_key_to_pem().map_err(key)?)))
}

fn is_encrypted(pem: &[u8]) -> bool {
    String::from_utf8_lossy(pem).contains("ENCRYPTED")
}

/// Reads what a registry holds at `location`: its digest, layout, annotations and how many
/// signatures it has, without fetching or running the component.
pub async fn inspect(location: &OciLocation, credentials: &Credentials) -> Result<Inspection, OciError> {
    let digest = resolve(location, credentials).await?;
    let pinned = OciLocation { tag: None, ..location.at_digest(&digest) };
    let client = client(&pinned);
    let (manifest, _) = client.pull_manifest(&reference(&pinned)?, &auth(credentials)).await.map_err(registry_error)?;
    let OciManifest::Image(manifest) = manifest else {
        return Err(OciError::Layout("an image index, not a component artifact".into()));
    };
    let layer = component_layer(&manifest)?;
    let mut cosign = cosign_client(&pinned)?;
    let signatures = cosign
        .trusted_signature_layers(&sigstore_auth(credentials), &sigstore_reference(&pinned)?)
        .await
        .map(|l| l.len())
        .unwrap_or_default();
    Ok(Inspection {
        resolved: location.at_digest(&digest).to_string(),
        digest,
        config_media_type: manifest.config.media_type.clone(),
        layer_digest: layer.digest.clone(),
        layer_size: layer.size,
        annotations: manifest.annotations.clone().unwrap_or_default(),
        signatures,
    })
}

/// The credentials for `registry` in a Docker config (`.dockerconfigjson` of a
/// `kubernetes.io/dockerconfigjson` Secret, or `~/.docker/config.json`): an entry named by the
/// registry's host, with or without scheme and path; anonymous when none matches.
pub fn credentials_from_docker_config(json: &[u8], registry: &str) -> Result<Credentials, OciError> {
    #[derive(Deserialize)]
    struct DockerConfig {
        #[serde(default)]
        auths: BTreeMap<String, DockerAuth>,
    }
    #[derive(Deserialize)]
    struct DockerAuth {
        #[serde(default)]
        auth: Option<String>,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
    }
    let config: DockerConfig =
        serde_json::from_slice(json).map_err(|e| OciError::Credentials(format!("not a Docker config: {e}")))?;
    let host_of = |key: &str| {
        let key = key.split_once("://").map_or(key, |(_, rest)| rest);
        key.split('/').next().unwrap_or(key).to_string()
    };
    let Some((key, entry)) = config.auths.iter().find(|(k, _)| host_of(k) == registry) else {
        return Ok(Credentials::Anonymous);
    };
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Credentials::Basic { username: username.clone(), password: password.clone() });
    }
    let encoded = entry.auth.as_deref().unwrap_or_default();
    let decoded = base64_decode(encoded)
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(|| OciError::Credentials(format!("auths[{key:?}].auth is not base64 of user:password")))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| OciError::Credentials(format!("auths[{key:?}].auth is not base64 of user:password")))?;
    Ok(Credentials::Basic { username: username.to_string(), password: password.to_string() })
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// A pulled component kept on disk by manifest digest, with the layer digest and the keys whose
/// signature was verified, so that a restart loads it without the registry.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheRecord {
    layer: String,
    #[serde(default)]
    verified_keys: Vec<String>,
}

/// The fingerprint a verified key is recorded under.
pub fn key_fingerprint(key: &str) -> String {
    crate::cache::sha256_hex(key.trim().as_bytes())
}

fn cache_paths(dir: &Path, digest: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let hex = digest.trim_start_matches("sha256:");
    (dir.join(format!("oci-{hex}.wasm")), dir.join(format!("oci-{hex}.json")))
}

/// The component cached for a manifest digest, if it is intact and, with `key`, was verified
/// with that key when pulled.
pub async fn cached(dir: &Path, digest: &str, key: Option<&str>) -> Option<Vec<u8>> {
    let (wasm, record) = cache_paths(dir, digest);
    let record: CacheRecord = serde_json::from_slice(&tokio::fs::read(&record).await.ok()?).ok()?;
    if let Some(key) = key
        && !record.verified_keys.contains(&key_fingerprint(key))
    {
        return None;
    }
    let bytes = tokio::fs::read(&wasm).await.ok()?;
    (format!("sha256:{}", crate::cache::sha256_hex(&bytes)) == record.layer).then_some(bytes)
}

/// Keeps a pulled component for [`cached`]; a failure only costs the next start a pull.
pub async fn keep(dir: &Path, pulled: &Pulled, key: Option<&str>) -> std::io::Result<()> {
    let Some(digest) = &pulled.resolved.digest else { return Ok(()) };
    let (wasm, record_path) = cache_paths(dir, digest);
    let mut record: CacheRecord = match tokio::fs::read(&record_path).await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
        Err(_) => CacheRecord::default(),
    };
    record.layer = format!("sha256:{}", crate::cache::sha256_hex(&pulled.bytes));
    if let Some(key) = key {
        let fp = key_fingerprint(key);
        if !record.verified_keys.contains(&fp) {
            record.verified_keys.push(fp);
        }
    }
    tokio::fs::create_dir_all(dir).await?;
    crate::registry::save(&wasm, &pulled.bytes).await?;
    crate::registry::save(&record_path, &serde_json::to_vec(&record).map_err(std::io::Error::other)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_configs_give_the_registrys_credentials() {
        let config = br#"{"auths": {
            "https://ghcr.io/v2/": {"auth": "dXNlcjpwYTpzcw=="},
            "127.0.0.1:5000": {"username": "u", "password": "p"},
            "bad.io": {"auth": "!!"}
        }}"#;
        let basic = |u: &str, p: &str| Credentials::Basic { username: u.into(), password: p.into() };
        assert_eq!(credentials_from_docker_config(config, "ghcr.io").unwrap(), basic("user", "pa:ss"));
        assert_eq!(credentials_from_docker_config(config, "127.0.0.1:5000").unwrap(), basic("u", "p"));
        assert_eq!(credentials_from_docker_config(config, "quay.io").unwrap(), Credentials::Anonymous);
        let err = credentials_from_docker_config(config, "bad.io").unwrap_err().to_string();
        assert!(err.contains("auths[\"bad.io\"].auth"), "{err}");
        assert!(credentials_from_docker_config(b"not json", "x").is_err());
        assert!(!format!("{:?}", basic("u", "secret")).contains("secret"), "Debug never prints a password");
    }

    fn manifest(config: &str, layers: &[(&str, i64)]) -> OciImageManifest {
        OciImageManifest {
            config: OciDescriptor { media_type: config.into(), ..Default::default() },
            layers: layers
                .iter()
                .map(|(m, size)| OciDescriptor { media_type: (*m).into(), size: *size, ..Default::default() })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_wasm_layout_is_accepted() {
        assert!(component_layer(&manifest(CONFIG_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, 10)])).is_ok());
        assert!(component_layer(&manifest(CONFIG_MEDIA_TYPE, &[(LEGACY_LAYER_MEDIA_TYPE, 10)])).is_ok());
        let table = [
            (manifest("application/vnd.oci.image.config.v1+json", &[(LAYER_MEDIA_TYPE, 1)]), "config's media type"),
            (manifest(CONFIG_MEDIA_TYPE, &[]), "0 layers"),
            (manifest(CONFIG_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, 1), (LAYER_MEDIA_TYPE, 1)]), "2 layers"),
            (manifest(CONFIG_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, (MAX_COMPONENT_BYTES + 1) as i64)]), "more than"),
            (manifest(CONFIG_MEDIA_TYPE, &[(LAYER_MEDIA_TYPE, -1)]), "-1 bytes"),
        ];
        for (m, needle) in table {
            let err = component_layer(&m).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[tokio::test]
    async fn the_disk_cache_keeps_intact_components_and_the_keys_they_were_verified_with() {
        let dir = tempfile::tempdir().unwrap();
        let digest = format!("sha256:{}", "a".repeat(64));
        let resolved = OciLocation::parse(&format!("oci://127.0.0.1:5000/p/x:1@{digest}")).unwrap();
        let pulled = Pulled { bytes: b"component".to_vec(), resolved, verified: true };
        keep(dir.path(), &pulled, Some("KEY")).await.unwrap();
        assert_eq!(cached(dir.path(), &digest, None).await.as_deref(), Some(&b"component"[..]));
        assert_eq!(cached(dir.path(), &digest, Some("KEY")).await.as_deref(), Some(&b"component"[..]));
        assert_eq!(cached(dir.path(), &digest, Some("OTHER")).await, None, "another key was never checked");
        let (wasm, _) = cache_paths(dir.path(), &digest);
        std::fs::write(&wasm, b"tampered").unwrap();
        assert_eq!(cached(dir.path(), &digest, None).await, None, "a changed file is not used");
        assert_eq!(cached(dir.path(), &format!("sha256:{}", "b".repeat(64)), None).await, None);
    }
}
