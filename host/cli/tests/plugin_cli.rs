//! `aviary plugin run` and `aviary plugin inspect`, run as a user runs them, against a real HTTP
//! server on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{aviary, json, serve};

fn component(file: &str) -> PathBuf {
    Path::new(aviary_plugins::GUEST_DIR).join(file)
}

#[test]
fn run_measures_with_web_and_judges_with_the_conditions() {
    let addr = serve(r#"{"data": {"successRate": 0.97}}"#);
    let config = format!(r#"{{"url": "http://{addr}/metrics", "jsonPath": "{{$.data.successRate}}"}}"#);
    let v = json(&aviary(&["plugin", "run", "web", "--config", &config, "--success", "result >= 0.95", "-o", "json"]));
    let digest = v["metadata"]["aviary.dev/plugin"].as_str().unwrap_or_default().to_string();
    assert!(digest.starts_with("aviary/web@sha256:"), "{v}");
    assert_eq!(
        v,
        serde_json::json!({"phase": "Successful", "value": "0.97", "message": "", "metadata": {"aviary.dev/plugin": digest}})
    );
    let v = json(&aviary(&["plugin", "run", "web", "--config", &config, "--success", "result >= 0.99", "-o", "json"]));
    assert_eq!(v["phase"], "Failed");
}

#[test]
fn a_component_run_by_path_has_no_network_unless_granted() {
    let addr = serve(r#"{}"#);
    let hostile = component("aviary_test_hostile.wasm");
    let path = hostile.to_str().unwrap();
    let config = format!(r#"{{"mode": "http", "url": "http://{addr}/"}}"#);
    let v = json(&aviary(&["plugin", "run", path, "--config", &config, "-o", "json"]));
    assert_eq!(v["phase"], "Error");
    assert_eq!(v["message"], format!("denied host: {addr} is not in the plugin's allowed hosts"));
    let v = json(&aviary(&["plugin", "run", path, "--config", &config, "--allow-host", &addr, "-o", "json"]));
    assert_eq!(v["phase"], "Successful", "{v}");
    assert_eq!(v["value"], "200");
}

#[test]
fn a_registered_plugin_runs_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("plugins.yaml");
    std::fs::write(
        &registry,
        format!(
            "plugins:\n- name: acme/steady\n  kind: metric-provider\n  location: file://{}\n",
            component("aviary_test_hostile.wasm").display()
        ),
    )
    .unwrap();
    let v = json(&aviary(&[
        "plugin",
        "run",
        "acme/steady",
        "--plugins",
        registry.to_str().unwrap(),
        "--config",
        r#"{"value": [0.5, 0.7]}"#,
        "--success",
        "all(result, # < 1)",
        "-o",
        "json",
    ]));
    assert_eq!((v["phase"].as_str(), v["value"].as_str()), (Some("Successful"), Some("[0.5,0.7]")));
    // A broken registry entry stops the command and names the entry and the field.
    std::fs::write(
        &registry,
        "plugins:\n- name: acme/steady\n  kind: metric-provider\n  location: 'https://x.example/p.wasm'\n",
    )
    .unwrap();
    let out = aviary(&["plugin", "run", "acme/steady", "--plugins", registry.to_str().unwrap(), "--config", "{}"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin \"acme/steady\": sha256: is required for a remote location"), "{err}");
}

#[test]
fn inspect_describes_components_and_refuses_others() {
    let out = aviary(&["plugin", "inspect", component("aviary_test_hostile.wasm").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("world:     metric-provider"), "{text}");
    assert!(text.contains("contract:  aviary:plugin@0.1.0"), "{text}");
    assert!(text.contains("  aviary:plugin/http@0.1.0"), "{text}");
    assert!(text.contains("  measure"), "{text}");
    let v = json(&aviary(&["plugin", "inspect", component("aviary_plugin_expr.wasm").to_str().unwrap(), "-o", "json"]));
    assert_eq!(v["world"], "condition");

    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let out = aviary(&["plugin", "inspect", core.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a core WebAssembly module, not a component"));
}

/// For a first-party plugin, `plugin inspect` says what it may touch: the host of which config
/// field, which Kubernetes objects.
#[test]
fn inspect_says_what_a_first_party_plugin_may_touch() {
    let text = |args: &[&str]| {
        let out = aviary(args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let job = text(&["plugin", "inspect", "job"]);
    assert!(job.contains("first-party (Argo's \"job\"):"), "{job}");
    assert!(job.contains("  may reach: no network"), "{job}");
    assert!(job.contains("  kubernetes: Job (batch): get, list, create, delete, in the object's namespace"), "{job}");
    assert!(job.contains("  kubernetes: Pod (core): list, in the object's namespace"), "{job}");
    let graphite = text(&["plugin", "inspect", "graphite"]);
    assert!(graphite.contains("  may reach: the host of its `address` field"), "{graphite}");
    assert!(graphite.contains("  kubernetes: nothing"), "{graphite}");
    let datadog = text(&["plugin", "inspect", "aviary/datadog"]);
    assert!(
        datadog.contains("  may reach: the host of its `address` field, else https://api.datadoghq.com"),
        "{datadog}"
    );
}

/// `plugin inspect` takes what `plugin run` takes: a first-party name (Argo's or Aviary's) and a
/// name registered in `--plugins`, as well as a path; the printed entry is the one that
/// registers it.
#[test]
fn inspect_takes_registry_names_as_run_does() {
    let v = json(&aviary(&["plugin", "inspect", "web", "-o", "json"]));
    assert_eq!(v["world"], "metric-provider", "{v}");
    assert_eq!(v["registryEntry"]["name"], "aviary/web", "{v}");
    assert_eq!(v["registryEntry"]["location"], "builtin:aviary/web", "{v}");
    let expr = json(&aviary(&["plugin", "inspect", "aviary/expr", "-o", "json"]));
    assert_eq!(expr["world"], "condition", "{expr}");
    // The embedded component is the very one built under plugins/.
    let by_path =
        json(&aviary(&["plugin", "inspect", component("aviary_plugin_expr.wasm").to_str().unwrap(), "-o", "json"]));
    assert_eq!(expr["sha256"], by_path["sha256"]);

    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("plugins.yaml");
    let hostile = component("aviary_test_hostile.wasm");
    std::fs::write(
        &registry,
        format!(
            "plugins:\n- name: acme/steady\n  kind: metric-provider\n  location: file://{}\n  allowedHosts: [metrics.acme.example]\n",
            hostile.display()
        ),
    )
    .unwrap();
    let v = json(&aviary(&["plugin", "inspect", "acme/steady", "--plugins", registry.to_str().unwrap(), "-o", "json"]));
    assert_eq!(v["registryEntry"]["name"], "acme/steady", "{v}");
    assert_eq!(v["registryEntry"]["location"], format!("file://{}", hostile.display()));
    assert_eq!(v["registryEntry"]["allowedHosts"], serde_json::json!(["metrics.acme.example"]));
    assert_eq!(v["registryEntry"]["sha256"], v["sha256"]);

    // An unknown name says where it was looked for.
    let out = aviary(&["plugin", "inspect", "acme/nothing", "--plugins", registry.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"acme/nothing\" is neither a file, nor registered in"), "{err}");
    assert!(err.contains("web (aviary/web)"), "{err}");
}

/// `aviary plugin inspect web | head -1`: the reader goes away; the command ends quietly with
/// SIGPIPE's status, not a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["plugin", "inspect", "web"])
        .env("AVIARY_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aviary");
    // Close the read end before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A provider that stays Running, asking to be polled again in 285,000 years, ends as an Error
/// at the follow limit: the command returns, whatever the plugin asks for.
#[test]
fn a_plugin_that_stays_running_ends_at_the_follow_limit() {
    let hostile = component("aviary_test_hostile.wasm");
    let path = hostile.to_str().unwrap();
    let started = std::time::Instant::now();
    let out =
        aviary(&["plugin", "run", path, "--config", r#"{"mode": "resume-far"}"#, "--follow-limit", "3s", "-o", "json"]);
    let took = started.elapsed();
    let v = json(&out);
    assert_eq!(v["phase"], "Error", "{v}");
    assert_eq!(v["message"], "measurement still Running after 3s (the follow limit); the provider said: still running");
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
    // A provider polled every second (the shortest delay the host allows) is resumed until then.
    let v = json(&aviary(&[
        "plugin",
        "run",
        path,
        "--config",
        r#"{"mode": "resume-now"}"#,
        "--follow-limit",
        "2s",
        "-o",
        "json",
    ]));
    assert_eq!(v["phase"], "Error", "{v}");
}
