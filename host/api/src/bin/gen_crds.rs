//! Writes what is generated under `deploy/` (or the directory given as the first argument): the
//! CRDs from host/api into `crds/`, the single-file installs `install.yaml` and
//! `namespace-install.yaml`, and the Helm chart's copies of the CRDs and RBAC rules
//! (aviary_api::install).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let deploy = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy"));
    match generate(&deploy) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(deploy: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut crds = Vec::new();
    for (file, crd) in aviary_api::crd::all() {
        crds.push((file.to_string(), aviary_api::crd::render(&crd)?));
    }
    for (relative, text) in aviary_api::install::generated(deploy, &crds)? {
        let path = deploy.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
