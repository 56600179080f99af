//! Builds the Wasm guests under `plugins/` for `wasm32-wasip2`, so that one `cargo build` (or
//! `cargo test`) from a fresh clone produces a host with its first-party plugins embedded.
//!
//! The guests are built by a nested cargo in a target directory of their own (sharing the outer
//! one would deadlock on cargo's build lock), next to the outer target directory so that it is
//! kept between builds. Their paths reach the crate through `AVIARY_WASM_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every guest crate: the first-party plugins (embedded) and the test components (used by tests).
const GUESTS: &[&str] = &[
    "aviary-plugin-expr",
    "aviary-plugin-web",
    "aviary-plugin-prometheus",
    "aviary-plugin-datadog",
    "aviary-example-json-number",
    "aviary-test-hostile",
    "aviary-test-hostile-condition",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..").canonicalize().expect("the workspace root exists");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = guest_target_dir(&out_dir);

    for watched in ["plugins", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=AVIARY_WASM_DIR_OVERRIDE");

    // Packagers who build the guests separately can point at their output instead.
    if let Ok(dir) = std::env::var("AVIARY_WASM_DIR_OVERRIDE") {
        println!("cargo:rustc-env=AVIARY_WASM_DIR={dir}");
        return;
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--profile", "wasm-release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    for guest in GUESTS {
        cmd.args(["-p", guest]);
    }
    // The outer build's settings are for the host; none of them apply to the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("cannot run cargo to build the Wasm plugins");
    if !status.success() {
        panic!(
            "building the Wasm plugins under plugins/ failed (see above). If the error is about a \
             missing `core` or `std` crate, add the target: `rustup target add wasm32-wasip2`."
        );
    }
    let wasm_dir = target_dir.join("wasm32-wasip2").join("wasm-release");
    println!("cargo:rustc-env=AVIARY_WASM_DIR={}", wasm_dir.display());
}

/// `<target>/<profile>/build/<pkg>/out` → `<target>/aviary-wasm` (shared by all profiles).
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build"));
    match build.and_then(Path::parent).and_then(Path::parent) {
        Some(target) => target.join("aviary-wasm"),
        None => out_dir.join("aviary-wasm"),
    }
}
