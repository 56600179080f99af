//! Switching from Argo Rollouts' controller to Aviary's (and back) is a change of binary, not of
//! deployment: Aviary starts with the exact arguments of Argo's Deployment, and takes Argo's
//! leader-election Lease, so that while both run (a rolling migration, a rollback of it) only one
//! of them ever acts. Needs the real Argo controller (tests/argo/build.sh, or `AVIARY_ARGO_DIR`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aviary_test_support::Cluster;
use aviary_test_support::e2e::{eventually_ok, free_port, http_get};
use aviary_test_support::oracle::{self, CONTROLLER_NS, Crds};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const T: Duration = Duration::from_secs(90);
const LEASE: &str = "argo-rollouts-controller-lock";

/// Short leases on both, so that a handover takes seconds.
const LEASE_FLAGS: [&str; 6] = [
    "--leader-election-lease-duration",
    "4s",
    "--leader-election-renew-deadline",
    "3s",
    "--leader-election-retry-period",
    "1s",
];

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &Path, args: &[String], log: &Path, stdin: bool) -> std::io::Result<Killed> {
    let out = std::fs::File::create(log)?;
    let mut cmd = Command::new(binary);
    cmd.args(args).args(LEASE_FLAGS).env("POD_NAMESPACE", CONTROLLER_NS);
    if stdin {
        cmd.stdin(Stdio::piped());
    }
    Ok(Killed(cmd.stdout(out.try_clone()?).stderr(out).spawn()?))
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get_opt(LEASE).await.ok().flatten()?.spec?.holder_identity.filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aviary_runs_with_argos_arguments_and_leads_only_once_argo_has_gone() -> TestResult {
    let argo_dir = oracle::argo_dir()?;
    let cluster = Cluster::start().await?;
    let client = cluster.client().await?;
    oracle::install_crds(&client, Crds::Argo, &argo_dir).await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": CONTROLLER_NS}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), CONTROLLER_NS);
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let logs = cluster.dir().to_path_buf();

    // Argo's controller leads.
    let argo_args: Vec<String> = ["--kubeconfig", &kubeconfig, "--metricsPort", &free_port().to_string()]
        .into_iter()
        .chain(["--healthzPort", &free_port().to_string()])
        .map(str::to_string)
        .collect();
    let argo = spawn(&argo_dir.join("argo-rollouts-controller"), &argo_args, &logs.join("argo.log"), false)?;
    let argo_identity = eventually_ok("Argo holds its Lease", T, || holder(&leases)).await?;

    // Aviary, started with the arguments of Argo's Deployment (its Helm chart's among them), and
    // no flag of its own beyond the kubeconfig: it runs, and waits for the Lease.
    let (metrics, health) = (free_port(), free_port());
    let aviary_args: Vec<String> = [
        "--kubeconfig",
        &kubeconfig,
        "--metricsPort",
        &metrics.to_string(),
        "--healthzPort",
        &health.to_string(),
        "--loglevel",
        "info",
        "--logformat",
        "text",
        "--kloglevel",
        "0",
        "--qps",
        "50",
        "--burst",
        "100",
        "--rollout-resync",
        "60",
        "--rollout-threads",
        "5",
        "--analysis-threads",
        "10",
        "--experiment-threads",
        "2",
        "--controllers",
        "rollout,analysis",
        "--leader-elect",
        "--exit-on-stdin-close",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    let aviary_bin = Path::new(env!("CARGO_BIN_EXE_aviary-controller"));
    let _aviary = spawn(aviary_bin, &aviary_args, &logs.join("aviary.log"), true)?;
    eventually_ok("Aviary serving /healthz", T, || async {
        (http_get(health, "/healthz").await.0 == 200).then_some(())
    })
    .await?;
    // Several lease periods later Argo still leads, and Aviary is not ready (it does not act).
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(holder(&leases).await.as_deref(), Some(argo_identity.as_str()), "Argo keeps the Lease");
    assert_eq!(http_get(health, "/readyz").await.0, 503, "a follower is not ready");
    let log = std::fs::read_to_string(logs.join("aviary.log"))?;
    assert!(log.contains("waiting to become the leader"), "{log}");
    assert!(!log.contains("became the leader"), "{log}");

    // Argo goes (its pod deleted mid-migration): Aviary takes the Lease within the lease time.
    drop(argo);
    let took = std::time::Instant::now();
    let aviary_identity =
        eventually_ok("Aviary holds the Lease", T, || async { holder(&leases).await.filter(|h| *h != argo_identity) })
            .await?;
    eventually_ok("Aviary ready", T, || async { (http_get(health, "/readyz").await.0 == 200).then_some(()) }).await?;
    assert!(took.elapsed() < Duration::from_secs(20), "takeover took {:?}", took.elapsed());
    assert!(!aviary_identity.is_empty());
    Ok(())
}
