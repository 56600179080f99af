//! Every way the README installs Aviary, applied to a real API server as an operator would, with
//! the real `kubectl` and the real `helm`: `kubectl apply -f deploy/crds/`, `kubectl apply -f
//! deploy/install.yaml` (and `-n argo-rollouts`), `kubectl apply -k deploy/`, `kubectl apply -n NS
//! -f deploy/namespace-install.yaml`, and the Helm chart rendered with its values and applied with
//! `--dry-run=server` (the API server validates every object, admission included, and keeps
//! nothing). The namespaced install is also run for real in namespaced.rs, and every other
//! end-to-end test runs the controller under install.yaml's ServiceAccount.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// `helm`: `$AVIARY_HELM`, else what tests/helm/build.sh builds (a Go build of the pinned Helm).
fn helm() -> PathBuf {
    if let Some(p) = std::env::var_os("AVIARY_HELM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let out = Command::new("bash")
        .arg(repo().join("tests/helm/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/helm/build.sh");
    assert!(out.status.success(), "tests/helm/build.sh failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).expect("a path"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn kubectl(kubeconfig: &Path) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).current_dir(repo());
    cmd
}

/// `kubectl apply --dry-run=server -f -` of `manifests`: what the API server accepted.
fn dry_run_apply(kubeconfig: &Path, namespace: &str, manifests: &[u8]) -> String {
    use std::io::Write;
    let mut child = kubectl(kubeconfig)
        .args(["apply", "--dry-run=server", "-n", namespace, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    child.stdin.take().expect("stdin").write_all(manifests).expect("write manifests");
    let out = child.wait_with_output().expect("kubectl apply");
    assert!(
        out.status.success(),
        "kubectl apply --dry-run=server refused the manifests:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_kubectl_installs_apply_to_a_real_api_server() -> TestResult {
    env().await;
    let cluster = aviary_test_support::cluster().await?;
    let kubeconfig = cluster.kubeconfig_path();

    // `kubectl apply -f deploy/crds/`: every file there is a CRD (the cluster already has them,
    // so this is an update to the same objects).
    let out = run(kubectl(kubeconfig).args(["apply", "-f", "deploy/crds/"]));
    let text = String::from_utf8_lossy(&out.stdout);
    for crd in ["rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns", "experiments"] {
        assert!(text.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{crd}.argoproj.io")), "{text}");
    }

    // The single-file install, both ways Argo's is applied, and kustomize's: the same objects.
    let install = std::fs::read_to_string(repo().join("deploy/install.yaml"))?;
    let plain = run(kubectl(kubeconfig).args(["apply", "--dry-run=server", "-f", "deploy/install.yaml"]));
    let with_ns = dry_run_apply(kubeconfig, "argo-rollouts", install.as_bytes());
    let kustomize = run(kubectl(kubeconfig).args(["apply", "--dry-run=server", "-k", "deploy/"]));
    let objects = |out: &str| {
        let mut v: Vec<String> = out.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
        v.sort();
        v
    };
    let from_file = objects(&String::from_utf8_lossy(&plain.stdout));
    assert_eq!(from_file, objects(&with_ns));
    assert_eq!(from_file, objects(&String::from_utf8_lossy(&kustomize.stdout)));
    for object in [
        "namespace/argo-rollouts",
        "serviceaccount/aviary-controller",
        "clusterrole.rbac.authorization.k8s.io/aviary-controller",
        "configmap/aviary-config",
        "deployment.apps/aviary-controller",
    ] {
        assert!(from_file.contains(&object.to_string()), "install.yaml did not apply {object}: {from_file:?}");
    }

    // The namespaced install goes wherever `-n` says.
    let team = aviary_test_support::namespace("install").await?;
    let namespaced = std::fs::read(repo().join("deploy/namespace-install.yaml"))?;
    let out = dry_run_apply(kubeconfig, team.name(), &namespaced);
    assert!(out.contains("role.rbac.authorization.k8s.io/aviary-controller"), "{out}");
    assert!(out.contains("deployment.apps/aviary-controller"), "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helm_chart_renders_what_its_values_say_and_the_api_server_accepts_it() -> TestResult {
    env().await;
    let cluster = aviary_test_support::cluster().await?;
    let kubeconfig = cluster.kubeconfig_path();
    let helm = helm();
    let chart = repo().join("deploy/helm/aviary");
    run(Command::new(&helm).arg("lint").arg(&chart));

    // Defaults: cluster-wide, in Argo's namespace, with the CRDs.
    let out = run(Command::new(&helm).args(["template", "aviary"]).arg(&chart).args([
        "-n",
        "argo-rollouts",
        "--include-crds",
    ]));
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(find(&docs, "CustomResourceDefinition").len(), 5);
    let role = find(&docs, "ClusterRole");
    assert_eq!(role.len(), 1);
    // The chart grants exactly what install.yaml grants.
    let install = documents(&std::fs::read_to_string(repo().join("deploy/install.yaml"))?);
    assert_eq!(role[0]["rules"], find(&install, "ClusterRole")[0]["rules"]);
    let deployment = find(&docs, "Deployment")[0];
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap();
    assert!(args.contains(&Value::from("--leader-elect=true")), "{args:?}");
    assert!(!args.contains(&Value::from("--namespaced")), "{args:?}");
    dry_run_apply(kubeconfig, "argo-rollouts", &out.stdout);

    // A namespaced release with two replicas, a registered plugin, resources and a ServiceMonitor.
    let team = aviary_test_support::namespace("helm").await?;
    let dir = tempfile::tempdir()?;
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        "replicas: 2\n\
         rbac: {scope: namespace}\n\
         image: {repository: registry.example.com/aviary-controller, tag: '9.9.9'}\n\
         resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}\n\
         plugins:\n\
         - name: acme/error-rate\n  kind: metric-provider\n  location: 'oci://ghcr.io/acme/error-rate:1.0.0'\n  \
           pullSecret: ghcr\n  verify: {key: 'k8s://aviary-system/acme-cosign'}\n  allowedHosts: [metrics.acme.example]\n\
         pluginPolicy: {requireSignature: true}\n\
         serviceMonitor: {enabled: true, labels: {release: prometheus}}\n\
         serviceAccount: {annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/aviary'}}\n\
         extraEnv:\n\
         - {name: AWS_REGION, value: eu-west-1}\n\
         - {name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: cloudwatch, key: access-key-id}}}\n",
    )?;
    let out =
        run(Command::new(&helm).args(["template", "aviary"]).arg(&chart).args(["-n", team.name(), "-f"]).arg(&values));
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    assert!(find(&docs, "ClusterRole").is_empty() && find(&docs, "ClusterRoleBinding").is_empty());
    assert_eq!(find(&docs, "Role")[0]["metadata"]["namespace"], team.name());
    let deployment = find(&docs, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/aviary-controller:9.9.9");
    assert_eq!(container["resources"]["limits"]["memory"], "256Mi");
    assert!(container["args"].as_array().unwrap().contains(&Value::from("--namespaced")));
    // extraEnv after the chart's own variables; IRSA's role on the ServiceAccount.
    let env = container["env"].as_array().unwrap();
    assert_eq!(env[env.len() - 2], serde_json::json!({"name": "AWS_REGION", "value": "eu-west-1"}));
    assert_eq!(env[env.len() - 1]["valueFrom"]["secretKeyRef"]["key"], "access-key-id");
    assert_eq!(env[0]["name"], "POD_NAMESPACE");
    let account = find(&docs, "ServiceAccount")[0];
    assert_eq!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/aviary"
    );
    // The registry the controller will read is one it accepts.
    let config = find(&docs, "ConfigMap")[0];
    let registry: aviary_plugins::registry::RegistryFile =
        serde_norway::from_str(config["data"]["plugins.yaml"].as_str().unwrap())?;
    assert_eq!(registry.plugins.len(), 1);
    assert!(registry.policy.require_signature, "pluginPolicy is the document's policy");
    registry.plugins[0].validate_with(&registry.policy)?;
    let monitor = find(&docs, "ServiceMonitor");
    assert_eq!(monitor.len(), 1);
    assert_eq!(monitor[0]["metadata"]["labels"]["release"], "prometheus");
    // Everything but the ServiceMonitor (whose CRD is Prometheus Operator's) against the server.
    let without_monitor: Vec<String> = docs
        .iter()
        .filter(|d| d["kind"] != "ServiceMonitor")
        .map(|d| serde_norway::to_string(d).expect("YAML"))
        .collect();
    dry_run_apply(kubeconfig, team.name(), without_monitor.join("---\n").as_bytes());

    // A scope that does not exist is refused by name.
    let out = Command::new(&helm)
        .args(["template", "aviary"])
        .arg(&chart)
        .args(["--set", "rbac.scope=everywhere"])
        .output()?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rbac.scope: \"everywhere\" is neither cluster nor namespace")
    );
    Ok(())
}
