//! A namespaced install (deploy/namespace-install.yaml: a Role, `--namespaced`, here with its own
//! instance id) reconciles the Rollouts of its namespace with nothing but that Role, and leaves
//! every other namespace alone; the cluster-wide controller leaves objects labelled with another
//! instance id alone.

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::namespace;
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(120);
const INSTANCE_LABEL: &str = "argo-rollouts.argoproj.io/controller-instance-id";

fn labelled(name: &str, instance: &str) -> serde_json::Value {
    let mut r = rollout(name, 1, "nginx:1.0", json!([{"setWeight": 50}, {"pause": {"duration": "1s"}}]), json!({}));
    r["metadata"]["labels"] = json!({INSTANCE_LABEL: instance});
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespaced_controller_reconciles_its_namespace_only_under_its_role() -> TestResult {
    let env = env().await;
    let cluster = aviary_test_support::cluster().await?;
    let team = namespace("team").await?;
    let other = namespace("other").await?;

    // deploy/namespace-install.yaml in the team's namespace, applied as the README says.
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig_path())
        .args(["apply", "-n", team.name(), "-f"])
        .arg(repo().join("deploy/namespace-install.yaml"))
        .output()?;
    assert!(out.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir()?;
    let kubeconfig =
        service_account_kubeconfig_in(team.client(), cluster.kubeconfig_path(), dir.path(), team.name()).await?;
    let log = dir.path().join("namespaced.log");
    let ports = (free_port(), free_port());
    let mut controller = spawn_controller(
        &env.controller,
        &kubeconfig,
        &log,
        ports,
        &["--namespace", team.name(), "--namespaced", "--instance-id", "team"],
    )?;

    let _: Rollout = create(&team, labelled("app", "team")).await;
    let _: Rollout = create(&other, labelled("app", "team")).await;
    // Unlabelled, in the team's namespace: the cluster-wide controller's, not this one's.
    let _: Rollout = create(
        &team,
        rollout("plain", 1, "nginx:1.0", json!([{"setWeight": 50}, {"pause": {"duration": "1s"}}]), json!({})),
    )
    .await;

    wait_phase(&team, "app", "Healthy", T).await;
    set_image(&team, "app", "nginx:1.1").await;
    let done = wait_phase(&team, "app", "Healthy", T).await;
    let s = done.status.unwrap();
    assert_eq!(s.stable_rs, s.current_pod_hash);
    wait_phase(&team, "plain", "Healthy", T).await;

    // The same labels one namespace over: neither controller touches it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let untouched = other.api::<Rollout>().get("app").await?;
    assert!(untouched.status.is_none(), "another namespace was reconciled: {:?}", untouched.status);

    let text = std::fs::read_to_string(&log)?;
    let _ = controller.kill();
    let _ = controller.wait();
    assert!(!text.contains("forbidden"), "the Role is not enough:\n{text}");
    assert!(text.contains("namespaced=true"), "{text}");
    Ok(())
}
