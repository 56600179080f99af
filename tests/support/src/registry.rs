//! A real OCI registry on loopback: `tests/registry` (go-containerregistry's registry, the one
//! `crane registry serve` runs), whose repositories under `private/` need the user
//! [`USER`] and the password [`PASSWORD`].
//!
//! Environment: `AVIARY_TEST_REGISTRY`, the path of a prebuilt binary; otherwise
//! `tests/registry/build.sh` is run (a second when its Go cache is warm). `AVIARY_COSIGN`: a
//! prebuilt cosign, the signatures' oracle ([`cosign`]); otherwise `tests/cosign/build.sh`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::{Error, Result, io_err};

/// The user of the private repositories.
pub const USER: &str = "aviary";
/// Its password.
pub const PASSWORD: &str = "s3cret";

/// A running registry; killed when dropped.
pub struct Registry {
    child: Child,
    addr: String,
}

impl Registry {
    /// Starts a registry on a free loopback port.
    pub fn start() -> Result<Self> {
        Self::start_on("127.0.0.1:0")
    }

    /// Starts a registry on `listen` (`127.0.0.1:PORT`): a restarted registry comes back on its
    /// old address. Its content is in memory: a new process starts empty.
    pub fn start_on(listen: &str) -> Result<Self> {
        let binary = binary()?;
        let mut child = Command::new(&binary)
            .args(["-listen", listen, "-user", USER, "-password", PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io_err(format!("start {}", binary.display())))?;
        let stdout =
            child.stdout.take().ok_or_else(|| Error::Build { script: binary.clone(), detail: "no stdout".into() })?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(io_err("read the registry's address"))?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            return Err(Error::Build { script: binary, detail: format!("unexpected first line {line:?}") });
        };
        Ok(Self { addr: addr.to_string(), child })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `oci://127.0.0.1:PORT/<repository>`.
    pub fn location(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.addr)
    }

    /// Stops it (its content is lost).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Docker config (`.dockerconfigjson`) with the private repositories' credentials for `addr`.
pub fn docker_config(addr: &str) -> String {
    serde_json::json!({"auths": {addr: {"username": USER, "password": PASSWORD}}}).to_string()
}

fn binary() -> Result<PathBuf> {
    crate::prebuilt_or_build("AVIARY_TEST_REGISTRY", "registry")
}

/// The cosign binary of tests/cosign (the sigstore project's own, built from its Go module):
/// `$AVIARY_COSIGN`, else what `tests/cosign/build.sh` builds.
pub fn cosign() -> Result<PathBuf> {
    crate::prebuilt_or_build("AVIARY_COSIGN", "cosign")
}
