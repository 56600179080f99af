//! Builds the Wasm guests under `plugins/`, so that one `cargo build` (or `cargo test`) from a
//! fresh clone produces a host with its first-party plugins embedded.
//!
//! The guests are built by a nested cargo in a target directory of their own (sharing the outer
//! one would deadlock on cargo's build lock), next to the outer target directory so that it is
//! kept between builds. The components are gathered in `<guest target>/plugins`, whose path
//! reaches the crate through `AVIARY_WASM_DIR`.
//!
//! Most guests are built for `wasm32-wasip2`, whose standard library imports WASI (the host
//! links a deny-all WASI for them). The guests in [`WASI_FREE`] use nothing of WASI, so they are
//! built for `wasm32-unknown-unknown` and made into components here with `wit-component`: a
//! component without WASI imports is one core instance instead of three and instantiates about
//! 7 µs faster, which matters for `aviary/expr`, run twice per measurement.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guests built for `wasm32-wasip2`: first-party plugins (embedded) and test components.
const GUESTS: &[&str] = &[
    "aviary-plugin-web",
    "aviary-plugin-prometheus",
    "aviary-plugin-datadog",
    "aviary-plugin-cloudwatch",
    "aviary-plugin-graphite",
    "aviary-plugin-influxdb",
    "aviary-plugin-wavefront",
    "aviary-plugin-newrelic",
    "aviary-plugin-kayenta",
    "aviary-plugin-skywalking",
    "aviary-example-json-number",
    "aviary-test-hostile",
    "aviary-test-hostile-condition",
    "aviary-test-looping-init",
];

/// Guests of contract 0.2.0 (traffic routers), built for `wasm32-wasip2` by a cargo invocation
/// of their own: built together with the 0.1.0 guests, the SDK's `v0-1` and `router` features
/// would unify, and every component would carry the type information (type-only imports) of the
/// other contract's worlds.
const ROUTER_GUESTS: &[&str] = &[
    "aviary-router-gateway-api",
    "aviary-router-nginx",
    "aviary-router-smi",
    "aviary-router-istio",
    "aviary-test-hostile-router",
];

/// Metric providers of contract 0.2.0 (the `kubernetes` import), built by a cargo invocation of
/// their own for the same reason as the routers: the SDK's `provider-v0-2` feature must not
/// unify with `router` (nor with `v0-1`).
const PROVIDER_V0_2_GUESTS: &[&str] = &["aviary-plugin-job"];

/// Step plugins of contract 0.2.0 (the `step` world): the first-party `aviary/wait-for-http`
/// (embedded) and the test component `aviary-test-step` (Argo's e2e step plugin, not embedded).
/// A cargo invocation of their own, as for the routers: the SDK's `step` feature must not unify
/// with `router`, `provider-v0-2` or `v0-1`.
const STEP_GUESTS: &[&str] = &["aviary-step-wait-for-http", "aviary-test-step"];

/// Notification services of contract 0.2.0 (the `notifier` world): Argo's services as
/// `aviary/<type>` (`aviary/webhook`, `aviary/slack`, ...), embedded. A cargo invocation of their own, as for the routers: the SDK's
/// `notifier` feature must not unify with the other worlds' features.
const NOTIFIER_GUESTS: &[&str] = &[
    "aviary-notifier-webhook",
    "aviary-notifier-slack",
    "aviary-notifier-pagerdutyv2",
    "aviary-notifier-opsgenie",
    "aviary-notifier-alertmanager",
    "aviary-notifier-telegram",
    "aviary-notifier-pushover",
    "aviary-notifier-teams",
    "aviary-notifier-mattermost",
    "aviary-notifier-webex",
    "aviary-notifier-googlechat",
    "aviary-notifier-teams-workflows",
    "aviary-notifier-grafana",
    "aviary-notifier-newrelic",
    "aviary-notifier-pagerduty",
    "aviary-notifier-rocketchat",
    "aviary-notifier-github",
    "aviary-notifier-awssqs",
];

/// Guests without WASI, built for `wasm32-unknown-unknown` and componentized here.
const WASI_FREE: &[&str] = &["aviary-plugin-expr", "aviary-plugin-judge"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..").canonicalize().expect("the workspace root exists");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = guest_target_dir(&out_dir);

    for watched in ["plugins", "wit", "third_party", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=AVIARY_WASM_DIR_OVERRIDE");

    // Packagers who build the guests separately can point at their output instead.
    if let Ok(dir) = std::env::var("AVIARY_WASM_DIR_OVERRIDE") {
        println!("cargo:rustc-env=AVIARY_WASM_DIR={dir}");
        return;
    }

    for target in ["wasm32-wasip2", "wasm32-unknown-unknown"] {
        ensure_target(target);
    }
    nested_build(&root, &target_dir, "wasm32-wasip2", GUESTS);
    nested_build(&root, &target_dir, "wasm32-wasip2", ROUTER_GUESTS);
    nested_build(&root, &target_dir, "wasm32-wasip2", PROVIDER_V0_2_GUESTS);
    nested_build(&root, &target_dir, "wasm32-wasip2", STEP_GUESTS);
    nested_build(&root, &target_dir, "wasm32-wasip2", NOTIFIER_GUESTS);
    nested_build(&root, &target_dir, "wasm32-unknown-unknown", WASI_FREE);

    let out = target_dir.join("plugins");
    std::fs::create_dir_all(&out).expect("cannot create the guest output directory");
    for guest in
        GUESTS.iter().chain(ROUTER_GUESTS).chain(PROVIDER_V0_2_GUESTS).chain(STEP_GUESTS).chain(NOTIFIER_GUESTS)
    {
        let file = artifact(guest);
        let from = target_dir.join("wasm32-wasip2/wasm-release").join(&file);
        // Copied, not linked: cargo's own file must stay as cargo wrote it.
        std::fs::copy(&from, out.join(&file)).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
    for guest in WASI_FREE {
        let file = artifact(guest);
        let from = target_dir.join("wasm32-unknown-unknown/wasm-release").join(&file);
        let core = std::fs::read(&from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let component = wit_component::ComponentEncoder::default()
            .module(&core)
            .and_then(|encoder| encoder.validate(true).encode())
            .unwrap_or_else(|e| panic!("making a component of {}: {e:#}", from.display()));
        std::fs::write(out.join(&file), component).expect("cannot write the component");
    }
    println!("cargo:rustc-env=AVIARY_WASM_DIR={}", out.display());
}

/// Installs `target`'s standard library with rustup when the compiler has none, so that a fresh
/// clone builds without a `rustup target add` typed first. rust-toolchain.toml lists the targets,
/// but rustup installs them only when it may install (not with `RUSTUP_AUTO_INSTALL=0`); without
/// rustup (a distribution's Rust) the nested build's error names the target to add.
fn ensure_target(target: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output();
    let Ok(sysroot) = sysroot else { return };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(target).exists() {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", target]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    println!(
        "cargo:warning=installing the Rust target {target} for the first-party Wasm plugins (rustup target add {target})"
    );
    match rustup.status() {
        Ok(status) if status.success() => {}
        Ok(status) => println!("cargo:warning=rustup target add {target} failed ({status})"),
        Err(e) => println!("cargo:warning=rustup is not available ({e}); add the target {target} to your Rust"),
    }
}

/// `aviary-plugin-expr` → `aviary_plugin_expr.wasm`.
fn artifact(guest: &str) -> String {
    format!("{}.wasm", guest.replace('-', "_"))
}

/// Builds `guests` for `target` with the `wasm-release` profile in `target_dir`.
fn nested_build(root: &Path, target_dir: &Path, target: &str, guests: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--profile", "wasm-release", "--target", target, "--target-dir"])
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    for guest in guests {
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
            "building the Wasm plugins under plugins/ for {target} failed (see above). If the error is \
             about a missing `core` or `std` crate, add the target: `rustup target add {target}`."
        );
    }
}

/// `<target>/<profile>/build/<pkg>/out` → `<target>/aviary-wasm` (shared by all profiles).
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build"));
    match build.and_then(Path::parent).and_then(Path::parent) {
        Some(target) => target.join("aviary-wasm"),
        None => out_dir.join("aviary-wasm"),
    }
}
