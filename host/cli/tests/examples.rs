//! Three languages, one contract: the json-number provider of plugins/examples, written from the
//! Rust, Python and JavaScript templates, passes the same test through the CLI a user runs:
//! `aviary plugin run` against a loopback JSON endpoint (the number, judged; a host it was not
//! granted refused), and `aviary plugin test --replay` with the examples' recording (a value and
//! an HTTP 503).
//!
//! The Rust component is built with the other guests (host/plugins/build.rs); the Python and
//! JavaScript ones by plugins/examples/build.sh, which this test runs unless
//! `AVIARY_EXAMPLES_DIR` names its output (scripts/test.sh builds them first and times it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{aviary, serve, text};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory with json_number_python.wasm and json_number_js.wasm.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("AVIARY_EXAMPLES_DIR") {
            return PathBuf::from(dir);
        }
        let out =
            Command::new(repo().join("plugins/examples/build.sh")).output().expect("run plugins/examples/build.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "plugins/examples/build.sh failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(stdout.lines().last().expect("build.sh prints the directory").trim())
    })
}

/// The component of the example in `lang`.
fn component(lang: &str) -> PathBuf {
    let path = match lang {
        "rust" => Path::new(aviary_plugins::GUEST_DIR).join("aviary_example_json_number.wasm"),
        other => examples_dir().join(format!("json_number_{other}.wasm")),
    };
    assert!(path.is_file(), "the {lang} example was not built: {} is missing", path.display());
    path
}

/// `aviary plugin run -o json` of the example in `lang`.
fn run(lang: &str, config: &Value, extra: &[&str]) -> Value {
    let wasm = component(lang);
    let config = config.to_string();
    let mut args = vec!["plugin", "run", wasm.to_str().unwrap(), "--config", &config, "-o", "json"];
    args.extend_from_slice(extra);
    let out = aviary(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{lang}: not JSON ({e}):\n{}", text(&out)))
}

/// The one test every language passes.
fn the_contract(lang: &str) {
    let addr = serve(r#"{"data": {"hits": [12, {"rate": "0.37"}]}, "name": "checkout"}"#);
    let url = format!("http://{addr}/stats");
    let allow = ["--allow-host", addr.as_str()];

    let mut args = allow.to_vec();
    args.extend(["--success", "result < 1"]);
    let ok = run(lang, &json!({"url": url, "path": "data.hits.1.rate"}), &args);
    assert_eq!((ok["phase"].as_str(), ok["value"].as_str()), (Some("Successful"), Some("0.37")), "{lang}: {ok}");

    let mut args = allow.to_vec();
    args.extend(["--success", "result < 10"]);
    let failed = run(lang, &json!({"url": url, "path": "data.hits.0"}), &args);
    assert_eq!((failed["phase"].as_str(), failed["value"].as_str()), (Some("Failed"), Some("12")), "{lang}: {failed}");

    let missing = run(lang, &json!({"url": url, "path": "name"}), &allow);
    assert_eq!(missing["phase"], "Error", "{lang}: {missing}");
    assert_eq!(missing["message"], "no number at name", "{lang}: {missing}");

    // No --allow-host: a component run by path has no network.
    let denied = run(lang, &json!({"url": url}), &[]);
    assert_eq!(denied["phase"], "Error", "{lang}: {denied}");
    let message = denied["message"].as_str().unwrap_or_default();
    assert!(message.contains("denied host") && message.contains(&addr), "{lang}: {message}");

    // The examples' recording: a value, then an HTTP 503.
    let wasm = component(lang);
    let test_dir = repo().join("plugins/examples/python/test");
    let config = format!("@{}", test_dir.join("config.json").display());
    let replay = test_dir.join("replay.json");
    let out = aviary(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        "--config",
        &config,
        "--replay",
        replay.to_str().unwrap(),
        "--allow-host",
        "metrics.example",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{lang}: {t}");
    assert!(t.contains("measurement 1: ok  phase=Successful value=42"), "{lang}: {t}");
    assert!(t.contains("message: GET http://metrics.example/stats: HTTP 503"), "{lang}: {t}");
    assert!(t.contains("2 passed, 0 failed"), "{lang}: {t}");
}

#[test]
fn the_rust_example_passes_the_contract() {
    the_contract("rust");
}

#[test]
fn the_python_example_passes_the_contract() {
    the_contract("python");
}

#[test]
fn the_javascript_example_passes_the_contract() {
    the_contract("js");
}

#[test]
fn the_examples_share_one_recording() {
    // The replay above reads python/test/; the JavaScript example ships the same files.
    for file in ["config.json", "replay.json"] {
        let read = |lang: &str| std::fs::read_to_string(repo().join(format!("plugins/examples/{lang}/test/{file}")));
        assert_eq!(read("python").unwrap(), read("js").unwrap(), "{file} differs between python and js");
    }
}
