//! The plugin kit as a user drives it: `plugin test` against recordings (and `--record` from a
//! real run on loopback), `plugin inspect`'s registry entry, and `plugin new`.

mod common;

use std::path::Path;

use common::{aviary, serve, text};
use serde_json::{Value, json};

fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn a_replay_passes_when_every_measurement_is_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let replay = write_json(
        dir.path(),
        "replay.json",
        &json!({"measurements": [
            {"at": "2025-01-01T00:00:00Z",
             "exchanges": [{"request": {"method": "GET", "url": "http://metrics.example/rate"},
                            "response": {"status": 200, "json": {"rate": 0.2}}}],
             "expect": {"phase": "Successful", "value": "0.2"}},
            {"at": "2025-01-01T00:00:10Z",
             "exchanges": [{"request": {"method": "GET", "url": "http://metrics.example/rate"},
                            "response": {"status": 200, "json": {"rate": 3}}}],
             "expect": {"phase": "Failed", "value": "3"}},
        ]}),
    );
    let config = r#"{"url": "http://metrics.example/rate", "jsonPath": "{$.rate}"}"#;
    let out = aviary(&["plugin", "test", "web", "--config", config, "--replay", &replay, "--success", "result < 1"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("measurement 1: ok  phase=Successful value=0.2"), "{stdout}");
    assert!(stdout.contains("measurement 2: ok  phase=Failed value=3"), "{stdout}");
    assert!(stdout.trim_end().ends_with("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_request_the_recording_lacks_fails_the_test_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let replay = write_json(
        dir.path(),
        "replay.json",
        &json!({"measurements": [{"at": "2025-01-01T00:00:00Z",
            "exchanges": [{"request": {"method": "GET", "url": "http://metrics.example/rate?service=a"},
                           "response": {"status": 200, "json": 1}}]}]}),
    );
    let config = r#"{"url": "http://metrics.example/rate?service=b"}"#;
    let out = aviary(&["plugin", "test", "web", "--config", config, "--replay", &replay, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["passed"].as_u64(), v["failed"].as_u64()), (Some(0), Some(1)), "{v}");
    assert_eq!(
        v["measurements"][0]["problems"],
        json!(["request not in the recording: GET http://metrics.example/rate?service=b"])
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never requested: GET http://metrics.example/rate?service=a")
    );
}

#[test]
fn an_unexpected_outcome_fails_the_test_with_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let replay = write_json(
        dir.path(),
        "replay.json",
        &json!({"measurements": [{"at": "2025-01-01T00:00:00Z",
            "exchanges": [{"request": {"method": "GET", "url": "http://metrics.example/rate"},
                           "response": {"status": 200, "json": 5}}],
            "expect": {"phase": "Successful", "value": "1"}}]}),
    );
    let out = aviary(&[
        "plugin",
        "test",
        "web",
        "--config",
        r#"{"url": "http://metrics.example/rate"}"#,
        "--replay",
        &replay,
        "--success",
        "result < 2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL: phase is Failed, expected Successful"), "{stdout}");
    assert!(stdout.contains("FAIL: value is 5, expected 1"), "{stdout}");
    assert!(stdout.trim_end().ends_with("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_recorded_run_is_a_test_that_replays_green_without_the_server() {
    let addr = serve(r#"{"data": {"successRate": 0.97}}"#);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recorded.json").display().to_string();
    let config = format!(r#"{{"url": "http://{addr}/metrics", "jsonPath": "{{$.data.successRate}}"}}"#);
    let args = ["--config", &config, "--success", "result > 0.9"];
    let out = aviary(
        &[&["plugin", "test", "web", "--record", &file, "--count", "2", "--interval", "10ms"], &args[..]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let measurements = recorded["measurements"].as_array().unwrap();
    assert_eq!(measurements.len(), 2);
    assert_eq!(measurements[0]["exchanges"][0]["response"]["json"], json!({"data": {"successRate": 0.97}}));
    assert_eq!(measurements[0]["expect"]["phase"], "Successful");
    assert_eq!(measurements[0]["expect"]["value"], "0.97");
    // No request header is kept: that is where credentials travel.
    assert!(measurements[0]["exchanges"][0]["request"].get("headers").is_none());

    // The server's port is closed to the replay: only the recording answers, and the allow-list
    // that `web` gets from its config still applies.
    let out = aviary(&[&["plugin", "test", "web", "--replay", &file], &args[..]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 passed, 0 failed"));
}

#[test]
fn inspect_prints_size_digest_and_a_registry_entry_that_validates() {
    let wasm = Path::new(aviary_plugins::GUEST_DIR).join("aviary_test_hostile.wasm");
    let wasm = wasm.to_str().unwrap();
    let out = aviary(&[
        "plugin",
        "inspect",
        wasm,
        "--name",
        "acme/steady",
        "--location",
        "https://plugins.acme.example/steady.wasm",
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = std::fs::read(wasm).unwrap();
    assert_eq!(v["size"].as_u64(), Some(bytes.len() as u64));
    let entry = &v["registryEntry"];
    assert_eq!(entry["name"], "acme/steady");
    assert_eq!(entry["kind"], "metric-provider");
    assert_eq!(entry["location"], "https://plugins.acme.example/steady.wasm");
    assert_eq!(entry["sha256"], v["sha256"]);
    let file: aviary_plugins::RegistryFile = serde_json::from_value(json!({"plugins": [entry]})).unwrap();
    assert!(file.plugins[0].validate().is_ok());

    let out = aviary(&["plugin", "inspect", wasm]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("registry entry"), "{stdout}");
    assert!(stdout.contains("- name: example/aviary-test-hostile"), "{stdout}");
    assert!(stdout.contains(&format!("location: file://{}", std::fs::canonicalize(wasm).unwrap().display())));
}

#[test]
fn inspect_entry_prints_only_a_registry_file_with_the_allowed_hosts() {
    let wasm = Path::new(aviary_plugins::GUEST_DIR).join("aviary_test_hostile.wasm");
    let wasm = wasm.to_str().unwrap();
    let out = aviary(&[
        "plugin",
        "inspect",
        wasm,
        "--name",
        "acme/steady",
        "--allow-host",
        "metrics.example",
        "--allow-host",
        "127.0.0.1:8099",
        "--entry",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // The whole output is the value of plugins.yaml: it parses as a registry file and validates.
    let file: aviary_plugins::RegistryFile = serde_norway::from_slice(&out.stdout).expect("a registry file");
    assert_eq!(file.plugins.len(), 1);
    let entry = &file.plugins[0];
    assert_eq!(entry.allowed_hosts, ["metrics.example", "127.0.0.1:8099"]);
    let spec = entry.validate().unwrap();
    assert!(spec.allowed_hosts.allows("127.0.0.1", 8099) && !spec.allowed_hosts.allows("127.0.0.1", 8098));

    let bad = aviary(&["plugin", "inspect", wasm, "--allow-host", "metrics.example:99999", "--entry"]);
    assert!(!bad.status.success(), "an allowedHosts entry the controller would refuse: {}", text(&bad));
    assert!(text(&bad).contains("allowedHosts"), "{}", text(&bad));
}

#[test]
fn plugin_new_writes_a_project_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("error-rate");
    let target_s = target.to_str().unwrap();
    let out = aviary(&["plugin", "new", "error-rate", target_s, "--lang", "python"]);
    assert!(out.status.success(), "{}", text(&out));
    for file in ["README.md", "wit/plugin.wit", "app.py", "provider.py", "test_provider.py", "test/replay.json"] {
        assert!(target.join(file).is_file(), "{file} missing");
    }
    let wit = std::fs::read_to_string(target.join("wit/plugin.wit")).unwrap();
    assert_eq!(wit, include_str!("../../../wit/v0.1/plugin.wit"));
    let readme = std::fs::read_to_string(target.join("README.md")).unwrap();
    assert!(readme.contains("componentize-py -d wit -w metric-provider componentize app -o error_rate.wasm"));
    let again = aviary(&["plugin", "new", "error-rate", target_s, "--lang", "js"]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists and is not empty"), "{}", text(&again));
}

/// Runs `cargo ARGS` in `dir` with its own target directory (the outer `cargo test` holds the
/// workspace's), kept between runs so that only the first one compiles the dependencies.
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target");
    std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo")
}

/// `plugin new --kind traffic-router`, then what its README says: the tests pass natively, the
/// component builds for wasm32-wasip2, `plugin inspect` sees a 0.2.0 traffic router, and the
/// host runs it: its set-weight creates the TrafficSplit through the kubernetes import, within
/// the grants the README lists. `plugin run` refuses it, saying who calls routers.
#[test]
fn plugin_new_traffic_router_builds_a_router_the_host_runs() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my-router");
    let out = aviary(&[
        "plugin",
        "new",
        "my-router",
        project.to_str().unwrap(),
        "--lang",
        "rust",
        "--kind",
        "traffic-router",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("created my-router (Rust traffic-router)"), "{}", text(&out));
    let wit = std::fs::read_to_string(project.join("wit/plugin.wit")).unwrap();
    assert_eq!(wit, include_str!("../../../wit/v0.2/plugin.wit"));
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    for step in ["cargo test", "cargo build --release --target wasm32-wasip2", "kind: traffic-router"] {
        assert!(readme.contains(step), "the README says {step:?}:\n{readme}");
    }

    let tested = cargo(&project, &["test"]);
    let log = format!("{}{}", String::from_utf8_lossy(&tested.stdout), String::from_utf8_lossy(&tested.stderr));
    assert!(tested.status.success(), "cargo test failed:\n{log}");
    assert!(log.contains("test result: ok. 2 passed"), "{log}");

    let built = cargo(&project, &["build", "--release", "--target", "wasm32-wasip2"]);
    assert!(built.status.success(), "the wasm32-wasip2 build failed:\n{}", String::from_utf8_lossy(&built.stderr));
    let wasm = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target/wasm32-wasip2/release/my_router.wasm");
    let wasm_s = wasm.to_str().unwrap();

    let out = aviary(&["plugin", "inspect", wasm_s, "--name", "acme/my-router", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["world"].as_str(), v["version"].as_str()), (Some("traffic-router"), Some("0.2.0")), "{v}");
    assert_eq!(v["registryEntry"]["kind"], "traffic-router");
    let shown = text(&aviary(&["plugin", "inspect", wasm_s]));
    assert!(shown.contains("world:     traffic-router\ncontract:  aviary:plugin@0.2.0\n"), "{shown}");
    assert!(shown.contains("  kubernetes: []"), "{shown}");

    let run = aviary(&["plugin", "run", wasm_s, "--config", "{}"]);
    assert!(!run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("is a traffic-router: routers are called by the controller"), "{}", text(&run));

    // The component in the host, registered with the grants of its README.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let host = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig::default()).unwrap();
        let registry = aviary_plugins::RegistryFile::parse(&format!(
            "plugins:\n- {{name: acme/my-router, kind: traffic-router, location: 'file://{wasm_s}',\n   \
             kubernetes: [{{apiGroup: split.smi-spec.io, kinds: [TrafficSplit], verbs: [get, create, patch]}}]}}\n"
        ))
        .unwrap();
        for (name, result) in host.load_registry(&registry).await {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let api = std::sync::Arc::new(aviary_test_support::kubernetes_memory::MemoryApi::default());
        let rollout = json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "web-uid"},
            "spec": {"strategy": {"canary": {"stableService": "web-stable", "canaryService": "web-canary"}}},
        })
        .to_string();
        for weight in [10, 30] {
            let call = aviary_plugins::RouterCall {
                namespace: "shop",
                rollout_name: "web",
                rollout: &rollout,
                config: r#"{"rootService": "web"}"#,
                state: None,
            };
            let op = aviary_plugins::RouterOperation::SetWeight { weight, additional: Vec::new() };
            host.route("acme/my-router", call, &op, api.clone()).await.unwrap();
        }
        let verbs: Vec<String> = api.calls().iter().map(|c| format!("{:?}", c.verb)).collect();
        assert_eq!(verbs, ["Get", "Create", "Get", "Patch"]);
        let split = api.object("TrafficSplit", "web").expect("the TrafficSplit");
        assert_eq!(split["metadata"]["namespace"], "shop");
        assert_eq!(split["spec"]["service"], "web");
        assert_eq!(
            split["spec"]["backends"],
            json!([{"service": "web-canary", "weight": 30}, {"service": "web-stable", "weight": 70}])
        );
    });
}

/// `plugin new --kind step`, then what its README says: the tests pass natively, the component
/// builds for wasm32-wasip2, `plugin inspect` sees a 0.2.0 step plugin with a `kind: step`
/// entry, and the host runs it: its run waits (Running, with the status counting its checks)
/// until the approval ConfigMap it reads through the kubernetes import, within the grants the
/// README lists, says approved. `plugin run` refuses it, saying who runs steps.
#[test]
fn plugin_new_step_builds_a_step_the_host_runs() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my-gate");
    let out = aviary(&["plugin", "new", "my-gate", project.to_str().unwrap(), "--lang", "rust", "--kind", "step"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("created my-gate (Rust step)"), "{}", text(&out));
    let wit = std::fs::read_to_string(project.join("wit/plugin.wit")).unwrap();
    assert_eq!(wit, include_str!("../../../wit/v0.2/plugin.wit"));
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    for step in ["cargo test", "cargo build --release --target wasm32-wasip2", "kind: step"] {
        assert!(readme.contains(step), "the README says {step:?}:\n{readme}");
    }
    let refused = aviary(&["plugin", "new", "my-gate", "--lang", "python", "--kind", "step"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("a step project is Rust only: use --lang rust"), "{}", text(&refused));

    let tested = cargo(&project, &["test"]);
    let log = format!("{}{}", String::from_utf8_lossy(&tested.stdout), String::from_utf8_lossy(&tested.stderr));
    assert!(tested.status.success(), "cargo test failed:\n{log}");
    assert!(log.contains("test result: ok. 3 passed"), "{log}");

    let built = cargo(&project, &["build", "--release", "--target", "wasm32-wasip2"]);
    assert!(built.status.success(), "the wasm32-wasip2 build failed:\n{}", String::from_utf8_lossy(&built.stderr));
    let wasm = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target/wasm32-wasip2/release/my_gate.wasm");
    let wasm_s = wasm.to_str().unwrap();

    let out = aviary(&["plugin", "inspect", wasm_s, "--name", "acme/my-gate", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["world"].as_str(), v["version"].as_str()), (Some("step"), Some("0.2.0")), "{v}");
    assert_eq!(v["registryEntry"]["kind"], "step");
    assert_eq!(v["registryEntry"]["name"], "acme/my-gate");
    let shown = text(&aviary(&["plugin", "inspect", wasm_s]));
    assert!(shown.contains("world:     step\ncontract:  aviary:plugin@0.2.0\n"), "{shown}");
    assert!(shown.contains("  kind: step\n"), "{shown}");
    assert!(shown.contains("  allowedHosts: []") && shown.contains("  kubernetes: []"), "{shown}");

    let run = aviary(&["plugin", "run", wasm_s, "--config", "{}"]);
    assert!(!run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("is a step plugin: it is run by the controller"), "{}", text(&run));

    // The component in the host, registered with the grants of its README.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let host = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig::default()).unwrap();
        let registry = aviary_plugins::RegistryFile::parse(&format!(
            "plugins:\n- {{name: acme/my-gate, kind: step, location: 'file://{wasm_s}',\n   \
             kubernetes: [{{apiGroup: '', kinds: [ConfigMap], verbs: [get]}}]}}\n"
        ))
        .unwrap();
        for (name, result) in host.load_registry(&registry).await {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let api = std::sync::Arc::new(aviary_test_support::kubernetes_memory::MemoryApi::default());
        let rollout = json!({"metadata": {"name": "web", "namespace": "shop", "uid": "web-uid"}}).to_string();
        let run = |status: Option<String>| {
            let (host, api, rollout) = (host.clone(), api.clone(), rollout.clone());
            async move {
                let call = aviary_plugins::StepCall {
                    namespace: "shop",
                    rollout_name: "web",
                    rollout: &rollout,
                    config: r#"{"interval": "15s"}"#,
                    step_index: 1,
                    status: status.as_deref(),
                };
                host.step("acme/my-gate", call, aviary_plugins::StepOperation::Run, api).await.unwrap()
            }
        };
        let first = run(None).await;
        assert_eq!(first.phase, aviary_plugins::StepPhase::Running, "{first:?}");
        assert_eq!(first.requeue_after, Some(std::time::Duration::from_secs(15)));
        assert_eq!(first.status.as_deref(), Some(r#"{"checks":1}"#));
        api.insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-approval"},
                          "data": {"approved": "true"}}));
        let second = run(first.status).await;
        assert_eq!(second.phase, aviary_plugins::StepPhase::Successful, "{second:?}");
        assert_eq!(second.message, "approved by ConfigMap \"web-approval\"");
        assert_eq!(second.status.as_deref(), Some(r#"{"checks":2}"#));
        let calls = api.calls();
        assert!(calls.iter().all(|c| c.namespace == "shop" && c.kind == "ConfigMap"), "{calls:?}");
        assert_eq!(calls.len(), 2);
    });
}
