//! The plugin registry: the schema and validation ([`aviary_boundary::registry`]), and how a
//! validated entry's bytes are fetched and checked.

use std::path::Path;

use url::Url;

pub use aviary_boundary::registry::*;

use crate::Error;

/// Largest component fetched over the network.
const MAX_DOWNLOAD_BYTES: u64 = 256 << 20;

/// What the caller found for an `oci://` entry: the registry's credentials (from the entry's
/// `pullSecret`) and the public key text of a `verify.key` kept in a Secret.
#[derive(Debug, Clone, Default)]
pub struct OciAccess {
    /// Credentials for the entry's registry.
    pub credentials: crate::oci::Credentials,
    /// The PEM of `verify.key` when it names a Secret (a PEM written in the entry needs none).
    pub key: Option<String>,
}

/// A fetched component.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The component.
    pub bytes: Vec<u8>,
    /// Where it came from; for `oci://`, at the manifest digest a tag resolved to.
    pub location: String,
}

/// Fetches a spec's bytes and checks its digest. Remote components are kept in `download_dir`
/// (by digest) when given, so that a restart does not depend on the network: Argo Rollouts
/// refuses to start when a plugin download fails (argo-rollouts#3642); Aviary reuses what it
/// verified before. An `oci://` component is pulled with `access`, its signature verified first
/// when the entry asks, and kept by manifest digest.
pub async fn fetch(
    spec: &PluginSpec,
    client: &reqwest::Client,
    download_dir: Option<&Path>,
    access: &OciAccess,
) -> Result<Fetched, Error> {
    let fetch_err = |location: &str, reason: String| Error::Fetch {
        name: spec.name.clone(),
        location: location.to_string(),
        reason,
    };
    let (bytes, location) = match &spec.location {
        Location::Builtin(name) => {
            let b = crate::builtin::find(name).ok_or_else(|| fetch_err(name, "no such first-party plugin".into()))?;
            (b.bytes.to_vec(), format!("builtin:{name}"))
        }
        Location::File(path) => {
            let bytes =
                tokio::fs::read(path).await.map_err(|e| fetch_err(&path.display().to_string(), e.to_string()))?;
            (bytes, path.display().to_string())
        }
        Location::Remote(url) => {
            let pinned = spec.sha256.as_deref().unwrap_or_default();
            let cached = download_dir.map(|d| d.join(format!("{pinned}.wasm")));
            if let Some(path) = &cached
                && let Ok(bytes) = tokio::fs::read(path).await
                && crate::cache::sha256_hex(&bytes) == pinned
            {
                return Ok(Fetched { bytes, location: url.to_string() });
            }
            let bytes = download(client, url).await.map_err(|e| fetch_err(url.as_str(), e))?;
            verify(spec, &bytes, url.as_str())?;
            if let Some(path) = &cached
                && let Err(e) = save(path, &bytes).await
            {
                tracing::warn!(plugin = %spec.name, path = %path.display(), "cannot keep the downloaded plugin: {e}");
            }
            return Ok(Fetched { bytes, location: url.to_string() });
        }
        Location::Oci(oci) => return fetch_oci(spec, oci, download_dir, access).await,
    };
    verify(spec, &bytes, &location)?;
    Ok(Fetched { bytes, location })
}

async fn fetch_oci(
    spec: &PluginSpec,
    oci: &aviary_boundary::oci::OciLocation,
    download_dir: Option<&Path>,
    access: &OciAccess,
) -> Result<Fetched, Error> {
    let oci_err =
        |cause: crate::oci::OciError| Error::Oci { name: spec.name.clone(), location: oci.to_string(), cause };
    let key = match &spec.verify {
        None => None,
        Some(VerifyKey::Pem(pem)) => Some(pem.as_str()),
        Some(VerifyKey::Secret { namespace, name }) => Some(access.key.as_deref().ok_or_else(|| {
            oci_err(crate::oci::OciError::Key(format!("the Secret {namespace}/{name} was not read")))
        })?),
    };
    if let (Some(dir), Some(digest)) = (download_dir, &oci.digest)
        && let Some(bytes) = crate::oci::cached(dir, digest, key).await
    {
        verify(spec, &bytes, &oci.to_string())?;
        return Ok(Fetched { bytes, location: oci.to_string() });
    }
    let pulled = crate::oci::pull(oci, &access.credentials, key).await.map_err(oci_err)?;
    let location = pulled.resolved.to_string();
    verify(spec, &pulled.bytes, &location)?;
    if let Some(dir) = download_dir
        && let Err(e) = crate::oci::keep(dir, &pulled, key).await
    {
        tracing::warn!(plugin = %spec.name, dir = %dir.display(), "cannot keep the pulled plugin: {e}");
    }
    Ok(Fetched { bytes: pulled.bytes, location })
}

fn verify(spec: &PluginSpec, bytes: &[u8], location: &str) -> Result<(), Error> {
    if let Some(expected) = &spec.sha256 {
        let actual = crate::cache::sha256_hex(bytes);
        if &actual != expected {
            return Err(Error::DigestMismatch {
                name: spec.name.clone(),
                location: location.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

async fn download(client: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let mut response =
        client.get(url.clone()).timeout(std::time::Duration::from_secs(120)).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > MAX_DOWNLOAD_BYTES {
            return Err(format!("larger than {MAX_DOWNLOAD_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Writes a file atomically (a temporary file renamed over it).
pub(crate) async fn save(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}
