//! `aviary plugin push|sign|verify`: publish a component to an OCI registry and sign it with a
//! cosign key, so that a team's CI needs no other tool; `plugin inspect oci://...` (in the
//! parent module) reads it back.
//!
//! Credentials: `--username` with `--password-stdin`, else the Docker config
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, as `docker login` writes it), else
//! anonymous. A signing key's password comes from `COSIGN_PASSWORD`, as cosign reads it.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use aviary_boundary::oci::OciLocation;
use aviary_plugins::oci::{self, Credentials};
use aviary_plugins::registry::{OciAccess, PluginSpec};
use serde::Serialize;

use crate::commands::output::{OutputFormat, print_json};
use crate::commands::plugins::PluginOptions;

/// Registry login flags shared by the registry commands.
#[derive(Debug, Clone, clap::Args)]
pub struct Login {
    /// The registry user [default: from the Docker config, else anonymous].
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the password (or token) from stdin.
    #[arg(long, requires = "username")]
    password_stdin: bool,
}

impl Login {
    /// The credentials for `location`'s registry.
    pub fn credentials(&self, location: &OciLocation) -> anyhow::Result<Credentials> {
        if let Some(username) = &self.username {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from stdin")?;
            return Ok(Credentials::Basic { username: username.clone(), password: password.trim_end().to_string() });
        }
        docker_credentials(location)
    }
}

/// The Docker config's credentials for the location's registry; anonymous without a config.
pub fn docker_credentials(location: &OciLocation) -> anyhow::Result<Credentials> {
    let path = std::env::var_os("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")));
    let Some(path) = path.filter(|p| p.is_file()) else { return Ok(Credentials::Anonymous) };
    let json = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    oci::credentials_from_docker_config(&json, &location.registry).with_context(|| path.display().to_string())
}

/// What the CLI can supply for an `oci://` entry of a `--plugins` file: the Docker config's
/// credentials; a `verify.key` kept in a Secret is the controller's to read.
pub fn access_for(spec: &PluginSpec) -> OciAccess {
    let credentials = match &spec.location {
        aviary_plugins::registry::Location::Oci(l) => docker_credentials(l).unwrap_or_else(|e| {
            eprintln!("warning: {e:#}; pulling {l} anonymously");
            Credentials::Anonymous
        }),
        _ => Credentials::Anonymous,
    };
    OciAccess { credentials, key: None }
}

fn parse_location(text: &str) -> anyhow::Result<OciLocation> {
    OciLocation::parse(text).with_context(|| format!("{text:?} is not an oci:// location"))
}

/// Flags of `plugin push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The component (.wasm).
    file: PathBuf,
    /// Where to push it: `oci://REGISTRY/REPOSITORY:TAG`.
    location: String,
    #[command(flatten)]
    login: Login,
    #[command(flatten)]
    plugins: PluginOptions,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: OutputFormat,
}

/// What `plugin push -o json` prints.
#[derive(Debug, Serialize)]
struct PushOutput {
    /// The pushed location at its digest.
    location: String,
    digest: String,
    world: String,
    contract: String,
    sha256: String,
}

/// Pushes a component with its world and contract version in the manifest's annotations.
pub fn push(args: PushArgs) -> anyhow::Result<ExitCode> {
    let location = parse_location(&args.location)?;
    if location.tag.is_none() || location.digest.is_some() {
        bail!("{location}: push to a tag (oci://REGISTRY/REPOSITORY:TAG); the digest is the registry's to give");
    }
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let credentials = args.login.credentials(&location)?;
    let runtime = super::super::runtime()?;
    let out = runtime.block_on(async {
        let host = args.plugins.host().await?;
        let info = host.inspect(&args.file.display().to_string(), &bytes)?;
        let Some(world) = info.world else { bail!("{} is not an Aviary plugin", args.file.display()) };
        let contract = super::contract_version(&info, world).to_string();
        let title = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let annotations = BTreeMap::from([
            (oci::ANNOTATION_WORLD.to_string(), world.as_str().to_string()),
            (oci::ANNOTATION_CONTRACT.to_string(), contract.clone()),
            ("org.opencontainers.image.title".to_string(), title),
        ]);
        let pushed =
            oci::push(&bytes, &location, &credentials, annotations, (info.exports.clone(), info.imports.clone()))
                .await
                .with_context(|| format!("pushing to {location}"))?;
        anyhow::Ok(PushOutput {
            digest: pushed.digest.clone().unwrap_or_default(),
            location: pushed.to_string(),
            world: world.as_str().to_string(),
            contract,
            sha256: info.sha256,
        })
    })?;
    match args.output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text => {
            println!("pushed {}", out.location);
            println!("world:    {} (aviary:plugin@{})", out.world, out.contract);
            println!("sha256:   {} (the component)", out.sha256);
            println!("Sign it:  COSIGN_PASSWORD=... aviary plugin sign {} --key cosign.key", out.location);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Flags of `plugin sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The artifact: `oci://REGISTRY/REPOSITORY:TAG` (resolved to its digest now) or `@sha256:...`.
    location: String,
    /// The cosign private key (`cosign generate-key-pair`'s cosign.key); its password is read
    /// from COSIGN_PASSWORD.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    login: Login,
}

/// Signs an artifact's digest with a cosign key and stores the signature beside it.
pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let location = parse_location(&args.location)?;
    let key = std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    let credentials = args.login.credentials(&location)?;
    let digest = super::super::runtime()?
        .block_on(oci::sign(&location, &credentials, &key, password.as_bytes()))
        .with_context(|| format!("signing {location}"))?;
    println!("signed {}", location.at_digest(&digest));
    Ok(ExitCode::SUCCESS)
}

/// Flags of `plugin verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The artifact: `oci://REGISTRY/REPOSITORY:TAG` or `@sha256:...`.
    location: String,
    /// The cosign public key (cosign.pub).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    login: Login,
}

/// Checks that the artifact carries a signature made with the key; exits 1 when it does not.
pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let location = parse_location(&args.location)?;
    let key = read_key(&args.key)?;
    let credentials = args.login.credentials(&location)?;
    let runtime = super::super::runtime()?;
    let digest = runtime.block_on(oci::resolve(&location, &credentials)).with_context(|| location.to_string())?;
    let pinned = location.at_digest(&digest);
    match runtime.block_on(oci::verify(&pinned, &credentials, &key)) {
        Ok(()) => {
            println!("verified {pinned}: signed with {}", args.key.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(oci::OciError::Unsigned { detail, .. }) => {
            println!("NOT verified {pinned}: {detail}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).with_context(|| format!("verifying {pinned}")),
    }
}

/// Flags of `plugin keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    output_key_prefix: String,
}

/// Writes a cosign key pair (the private key encrypted with COSIGN_PASSWORD), refusing to
/// overwrite a key.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (private, public) = (format!("{}.key", args.output_key_prefix), format!("{}.pub", args.output_key_prefix));
    for path in [&private, &public] {
        if Path::new(path).exists() {
            bail!("{path} exists: keygen never overwrites a key");
        }
    }
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    if password.is_empty() {
        eprintln!("warning: COSIGN_PASSWORD is empty: the private key is encrypted with an empty password");
    }
    let (private_pem, public_pem) = oci::generate_key_pair(password.as_bytes())?;
    write_private(Path::new(&private), &private_pem)?;
    std::fs::write(&public, public_pem).with_context(|| format!("writing {public}"))?;
    println!("Private key written to {private}");
    println!("Public key written to {public}");
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(pem.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// A key file's text, its lines ending with LF whatever wrote it (cosign writes LF, a key saved
/// on Windows or by sigstore-rs has CRLF), so that a key copied into a registry entry is the
/// same text the controller reads from a Secret.
pub fn read_key(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.replace("\r\n", "\n"))
}

/// What `plugin inspect oci://... -o json` adds: the registry's view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryView {
    #[serde(flatten)]
    pub inspection: oci::Inspection,
    /// `verified`, `not verified: ...` (with `--key`), or `not checked` (without).
    pub signature: String,
}

/// Reads an artifact for `plugin inspect`: the registry's view, and the component's bytes
/// (fetched and checked, never run).
pub async fn inspect(
    location: &OciLocation,
    key: Option<&Path>,
) -> anyhow::Result<(RegistryView, Vec<u8>, OciLocation)> {
    let credentials = docker_credentials(location)?;
    let inspection = oci::inspect(location, &credentials).await.with_context(|| location.to_string())?;
    let pinned = location.at_digest(&inspection.digest);
    let signature = match key {
        None => "not checked (pass --key cosign.pub)".to_string(),
        Some(path) => match oci::verify(&pinned, &credentials, &read_key(path)?).await {
            Ok(()) => format!("verified with {}", path.display()),
            Err(oci::OciError::Unsigned { detail, .. }) => format!("NOT verified with {}: {detail}", path.display()),
            Err(e) => return Err(e).context("verifying"),
        },
    };
    let pulled = oci::pull(&pinned, &credentials, None).await.with_context(|| format!("pulling {pinned}"))?;
    Ok((RegistryView { inspection, signature }, pulled.bytes, pinned))
}
