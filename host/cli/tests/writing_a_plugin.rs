//! docs/writing-a-plugin.md, run as a new user would run it: every ```sh block of the page, in
//! order, as one bash script in an empty directory, with the `aviary` under test first on PATH
//! and kubectl pointed at a real control plane where aviary-controller runs (the e2e harness).
//! The commands are read from the page itself, so the page cannot drift from what works; the
//! test then checks that the walk did what the page says: the plugin registered by name gated
//! the canary, which went to 100% after two measurements of 42.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, Rollout};
use aviary_test_support::cluster;
use aviary_test_support::e2e::{self, free_port};
use kube::Api;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks of a Markdown page, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    fenced(markdown, "sh")
}

/// The blocks fenced as ```LANG, in order.
fn fenced(markdown: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, l) if l == open => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unterminated ```{lang} block");
    blocks
}

#[test]
fn blocks_are_extracted_in_order_and_other_fences_are_not() {
    let page = "x\n```sh\na 1\nb\n```\n```text\nnot run\n```\n```yaml\nk: v\n```\n```sh\nc\n```\n";
    assert_eq!(sh_blocks(page), ["a 1\nb\n", "c\n"]);
    assert_eq!(fenced(page, "text"), ["not run\n"]);
}

/// Whether `line` of a sample output, where `…` stands for any text, is a line of `output`.
fn shown(line: &str, output: &str) -> bool {
    let parts: Vec<&str> = line.split('…').collect();
    output.lines().any(|l| {
        let mut rest = l;
        for (i, part) in parts.iter().enumerate() {
            match rest.find(part) {
                Some(at) if i > 0 || at == 0 => rest = &rest[at + part.len()..],
                _ => return false,
            }
        }
        rest.is_empty() || line.ends_with('…')
    })
}

#[test]
fn sample_output_lines_match_with_ellipses() {
    let out = "measurement 1: ok\n  aviary.dev/plugin: /tmp/x/error_rate.wasm@sha256:ab12\n";
    assert!(shown("measurement 1: ok", out));
    assert!(shown("  aviary.dev/plugin: …/error_rate.wasm@sha256:…", out));
    assert!(!shown("measurement 1: ok  phase=Error", out));
    assert!(!shown("  aviary.dev/plugin: …/other.wasm@…", out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_from_plugin_new_to_a_canary_gated_by_the_plugin_works_as_written() -> e2e::TestResult {
    let page = std::fs::read_to_string(repo().join("docs/writing-a-plugin.md"))?;
    let blocks = sh_blocks(&page);
    assert!(blocks.len() >= 8, "the page has {} sh blocks", blocks.len());
    let joined = blocks.concat();
    for step in [
        "aviary plugin new",
        "plugin test",
        "plugin inspect",
        "aviary-config",
        "acme/error-rate",
        "plugin push",
        "plugin sign",
    ] {
        assert!(joined.contains(step), "the walk no longer runs {step:?}");
    }

    e2e::env_with(&e2e::controller_binary()).await;
    let kubeconfig = cluster().await?.kubeconfig_path().to_path_buf();
    let dir = tempfile::tempdir()?;
    // Background jobs of the page (its metrics server) end with the script.
    let script = format!("set -euxo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{joined}");
    std::fs::write(dir.path().join("walk.sh"), &script)?;
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aviary")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let port = free_port();
    // The registry the page publishes to.
    let oci_registry = aviary_test_support::registry::Registry::start()?;
    let out = tokio::time::timeout(
        Duration::from_secs(900),
        tokio::process::Command::new("bash")
            .arg("walk.sh")
            .current_dir(dir.path())
            .env("PATH", path)
            .env("KUBECONFIG", &kubeconfig)
            .env("PORT", port.to_string())
            .env("REGISTRY", oci_registry.addr())
            // No Docker config of this machine's user: the registry is anonymous.
            .env("DOCKER_CONFIG", dir.path())
            .env("NO_COLOR", "1")
            .env("AVIARY_CACHE_DIR", e2e::plugin_cache())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| "the walk took more than 15 minutes")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = |s: &str| s.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(
        out.status.success(),
        "the walk failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- controller\n{}",
        out.status,
        tail(&stdout),
        tail(&stderr),
        e2e::env().await.log_tail(40)
    );

    // The sample outputs the page shows are what the commands print.
    for block in fenced(&page, "text") {
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            assert!(shown(line, &stdout), "the page shows {line:?}, the walk printed:\n{stdout}");
        }
    }
    // What the page promises, step by step.
    assert!(dir.path().join("error-rate/src/lib.rs").is_file(), "plugin new made the project");
    assert!(stdout.contains("2 passed, 0 failed"), "plugin test --replay passed:\n{stdout}");
    assert!(stdout.contains("phase:   Successful\nvalue:   42\n"), "plugin run measured 42 and judged it:\n{stdout}");
    let registry = std::fs::read_to_string(dir.path().join("error-rate/plugins.yaml"))?;
    assert!(registry.contains("name: acme/error-rate") && registry.contains(&format!("127.0.0.1:{port}")));

    let client = cluster().await?.client().await?;
    let rollout: Rollout = Api::default_namespaced(client.clone()).get("checkout").await?;
    let status = rollout.status.unwrap_or_default();
    assert_eq!(format!("{:?}", status.phase), "Some(Healthy)");
    let image = rollout.spec.template.and_then(|t| t.spec).map(|s| s.containers[0].image.clone());
    assert_eq!(image, Some(Some("nginx:1.21".to_string())));
    let runs: Vec<AnalysisRun> = Api::default_namespaced(client.clone()).list(&Default::default()).await?.items;
    assert_eq!(runs.len(), 2, "one analysis per update: the file:// plugin's, then the oci:// one's");
    for run in &runs {
        let status = run.status.clone().unwrap_or_default();
        assert_eq!(status.phase, AnalysisPhase::Successful, "{}", status.message);
        let values: Vec<&str> = status.metric_results[0].measurements.iter().map(|m| m.value.as_str()).collect();
        assert_eq!(values, ["42", "42"]);
    }
    // The second update's measurements came from the component pulled from the registry.
    let registry_entry = std::fs::read_to_string(dir.path().join("error-rate/plugins.yaml"))?;
    assert!(registry_entry.contains(&format!("location: oci://{}/acme/error-rate:0.1.0@sha256:", oci_registry.addr())));
    assert!(registry_entry.contains("BEGIN PUBLIC KEY"), "the entry requires the signature:\n{registry_entry}");
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        Api::namespaced(client, aviary_test_support::e2e::CONTROLLER_NS).get("aviary-config").await?;
    assert!(cm.data.unwrap_or_default().get("plugins.yaml").is_some_and(|p| p.contains("oci://")));
    assert!(stdout.contains("Successful"), "the page's last command shows the run:\n{stdout}");
    Ok(())
}
