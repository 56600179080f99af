//! Writes the CRDs generated from host/api into `deploy/crds/` (or the directory given as the
//! first argument), plus a kustomization listing them.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: creating {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut files: Vec<(String, String)> = Vec::new();
    for (file, crd) in aviary_api::crd::all() {
        match aviary_api::crd::render(&crd) {
            Ok(text) => files.push((file.to_string(), text)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    files.push(("kustomization.yaml".to_string(), aviary_api::crd::render_kustomization()));
    for (file, text) in files {
        let path = dir.join(&file);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
