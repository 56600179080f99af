//! The Experiment commands of `aviary` against a real API server, with the real
//! `kubectl-argo-rollouts` (v1.10.1) as the oracle: both CLIs read the same objects and must print
//! the same text. No controller runs here: the Experiment and AnalysisRun CRDs have no status
//! subresource, so the tests write the objects with their status as a controller would have, and
//! nothing changes them behind the tests' back (the pods of the ReplicaSets are the test
//! cluster's, made by its ReplicaSet controller and run by its fake kubelet).
//!
//! What `aviary` adds to Argo's output is left out of the comparison, nothing else: the `Metric`
//! rows under an AnalysisRun, the rollout's `Waiting for:` line, and blanks at the end of lines.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use aviary_api::{AnalysisRun, Experiment, Rollout};
use aviary_test_support::e2e::{self, TestResult, create};
use aviary_test_support::{TestNamespace, cluster, namespace, oracle};
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

async fn crds() {
    let client = cluster().await.expect("cluster").client().await.expect("client");
    e2e::install_crds_from(&client, &e2e::repo().join("deploy/crds"), "aviary-cli-e2e", Duration::from_secs(60))
        .await
        .expect("CRDs");
}

/// Runs `program ARGS --kubeconfig ADMIN -n NS` without colour.
async fn run(program: PathBuf, ns: &TestNamespace, args: &[&str]) -> Output {
    let kubeconfig = cluster().await.expect("cluster").kubeconfig_path().to_path_buf();
    tokio::process::Command::new(&program)
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", ns.name()])
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

fn stdout_of(what: &str, args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn aviary(ns: &TestNamespace, args: &[&str]) -> String {
    stdout_of("aviary", args, &run(PathBuf::from(env!("CARGO_BIN_EXE_aviary")), ns, args).await)
}

async fn argo(ns: &TestNamespace, args: &[&str]) -> String {
    let bin = oracle::argo_dir().expect("the kubectl-argo-rollouts binary").join("kubectl-argo-rollouts");
    stdout_of("kubectl-argo-rollouts", args, &run(bin, ns, args).await)
}

/// `text` without what only Aviary prints (see the module docs) and without trailing blanks.
fn comparable(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Waiting for:"))
        .filter(|l| !l.contains("  Metric  "))
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs both CLIs with the same arguments (Argo's with `argo_extra` too) until their comparable
/// outputs agree: ages are printed to the second, and the two runs may straddle one. Returns
/// Aviary's output; fails with both outputs if they never agree.
async fn same_as_argo(ns: &TestNamespace, args: &[&str], argo_extra: &[&str]) -> String {
    let argo_args: Vec<&str> = args.iter().chain(argo_extra).copied().collect();
    let mut last = (String::new(), String::new());
    for _ in 0..5 {
        let ours = aviary(ns, args).await;
        let theirs = argo(ns, &argo_args).await;
        if comparable(&ours) == comparable(&theirs) {
            return ours;
        }
        last = (ours, theirs);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "aviary {args:?} differs from kubectl-argo-rollouts:\n--- aviary\n{}\n--- kubectl-argo-rollouts\n{}",
        last.0, last.1
    );
}

fn owner(kind: &str, name: &str, uid: &str) -> Value {
    json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "name": name, "uid": uid, "controller": true}])
}

fn template(name: &str, labels: &Value, image: &str) -> Value {
    json!({"name": name, "replicas": 1, "selector": {"matchLabels": labels},
           "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}}})
}

/// An Experiment `name` (owned by `owner_ref` if any, of `revision` if any) as a controller leaves
/// it Running: two templates with their ReplicaSets (one pod each) and one AnalysisRun with a
/// web metric and a job metric. Waits until the pods are available.
async fn running_experiment(ns: &TestNamespace, name: &str, owner_ref: Option<Value>, revision: Option<&str>) {
    let now = chrono::Utc::now();
    let at = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let labels = |t: &str| json!({"app": format!("{name}-{t}")});
    let mut metadata = json!({"name": name});
    if let Some(o) = owner_ref {
        metadata["ownerReferences"] = o;
    }
    if let Some(r) = revision {
        metadata["annotations"] = json!({"rollout.argoproj.io/revision": r});
    }
    let exp: Experiment = create(
        ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment", "metadata": metadata,
            "spec": {"duration": "1h", "templates": [
                template("baseline", &labels("baseline"), "nginx:1.19"),
                template("canary", &labels("canary"), "nginx:1.20")
            ], "analyses": [{"name": "checks", "templateName": "checks"}]},
            "status": {
                "phase": "Running", "message": "waiting for the analysis",
                "availableAt": at(30),
                "templateStatuses": [
                    {"name": "baseline", "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "status": "Running"},
                    {"name": "canary", "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "status": "Running"}
                ],
                "analysisRuns": [{"name": "checks", "analysisRun": format!("{name}-checks"), "phase": "Running"}]
            }
        }),
    )
    .await;
    let uid = exp.metadata.uid.clone().unwrap();
    for (t, image) in [("baseline", "nginx:1.19"), ("canary", "nginx:1.20")] {
        let rs_labels = labels(t);
        let _: ReplicaSet = create(
            ns,
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("{name}-{t}"), "labels": rs_labels,
                             "annotations": {"experiment.argoproj.io/name": name,
                                             "experiment.argoproj.io/template-name": t},
                             "ownerReferences": owner("Experiment", name, &uid)},
                "spec": {"replicas": 1, "selector": {"matchLabels": rs_labels},
                         "template": {"metadata": {"labels": rs_labels},
                                      "spec": {"containers": [{"name": "app", "image": image}]}}}
            }),
        )
        .await;
    }
    let _: AnalysisRun = create(
        ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": format!("{name}-checks"), "ownerReferences": owner("Experiment", name, &uid)},
            "spec": {"metrics": [
                {"name": "ok", "interval": "10s", "provider": {"web": {"url": "http://127.0.0.1:1/"}}},
                {"name": "smoke", "provider": {"job": {"spec": {"template": {"spec": {
                    "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
            ]},
            "status": {"phase": "Running", "startedAt": at(25), "metricResults": [
                {"name": "ok", "phase": "Running", "count": 2, "successful": 2, "measurements": [
                    {"phase": "Successful", "value": "true", "startedAt": at(20), "finishedAt": at(20)},
                    {"phase": "Successful", "value": "true", "startedAt": at(10), "finishedAt": at(10)}]},
                {"name": "smoke", "phase": "Running", "count": 1, "measurements": [
                    {"phase": "Running", "startedAt": at(15),
                     "metadata": {"job-name": format!("{uid}.smoke.1"), "job-namespace": ns.name()}}]}
            ]}
        }),
    )
    .await;
    e2e::eventually_ok("the experiment's pods available", Duration::from_secs(120), || async {
        let list = ns.api::<ReplicaSet>().list(&Default::default()).await.ok()?;
        let owned = list.items.iter().filter(|rs| rs.metadata.name.as_deref().is_some_and(|n| n.starts_with(name)));
        let available: Vec<i32> =
            owned.map(|rs| rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)).collect();
        (available == [1, 1]).then_some(())
    })
    .await
    .expect("pods");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_list_experiments_print_what_kubectl_argo_rollouts_prints() -> TestResult {
    crds().await;
    let ns = namespace("cli-exp-get").await?;
    running_experiment(&ns, "exp", None, None).await;

    let text = same_as_argo(&ns, &["get", "experiment", "exp"], &["--no-color"]).await;
    for expected in [
        "Status:          ◌ Running",
        "Message:         waiting for the analysis",
        "Images:          nginx:1.19 (Σ:baseline)",
        "Σ exp ",
        "├──⧉ exp-baseline ",
        "└──α exp-checks ",
        "   └──⊞ ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // The same data as JSON, and the Metric rows only Aviary prints.
    assert!(text.contains("⊙ smoke"), "{text}");
    let json: Value = serde_json::from_str(&aviary(&ns, &["get", "experiment", "exp", "-o", "json"]).await)?;
    assert_eq!(json["status"], "Running");
    assert_eq!(json["replicaSets"][1]["template"], "canary");
    assert_eq!(json["analysisRuns"][0]["jobs"][0]["status"], "Running");
    // `exp` is an alias, as in Argo's CLI.
    assert!(aviary(&ns, &["get", "exp", "exp"]).await.starts_with("Name:            exp\n"));

    let table = same_as_argo(&ns, &["list", "experiments"], &[]).await;
    assert!(
        table.starts_with("NAME        STATUS   DURATION  REMAINING  AGE\nexp         Running  60m       59m"),
        "{table}"
    );
    let rows: Value = serde_json::from_str(&aviary(&ns, &["list", "experiments", "-o", "json"]).await)?;
    assert_eq!(rows[0]["name"], "exp");
    assert_eq!(rows[0]["duration"], "60m");
    let all = aviary(&ns, &["list", "experiments", "-A"]).await;
    let header: Vec<&str> = all.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "STATUS", "DURATION", "REMAINING", "AGE"], "{all}");
    let ours = |l: &&str| l.split_whitespace().take(3).collect::<Vec<_>>() == [ns.name(), "exp", "Running"];
    assert!(all.lines().any(|l| ours(&l)), "{all}");

    // --watch: a first frame at once (no terminal: printed once while nothing but ages change),
    // then exit code 2 at the timeout.
    let watched =
        run(PathBuf::from(env!("CARGO_BIN_EXE_aviary")), &ns, &["get", "exp", "exp", "-w", "--timeout", "3s"]).await;
    assert_eq!(watched.status.code(), Some(2), "{}", String::from_utf8_lossy(&watched.stderr));
    let frames = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(frames.matches("Name:            exp\n").count(), 1, "{frames}");
    assert!(frames.contains("└──α exp-checks "), "{frames}");

    let missing = run(PathBuf::from(env!("CARGO_BIN_EXE_aviary")), &ns, &["get", "experiment", "nope"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("experiment \"nope\" not found"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_and_retry_write_what_argos_cli_writes() -> TestResult {
    crds().await;
    let ns = namespace("cli-exp-ops").await?;
    running_experiment(&ns, "exp", None, None).await;
    let experiments = ns.api::<Experiment>();

    let out = aviary(&ns, &["terminate", "experiment", "exp"]).await;
    assert!(experiments.get("exp").await?.spec.terminate, "terminate sets spec.terminate");
    assert_eq!(out, argo(&ns, &["terminate", "experiment", "exp"]).await, "the same line as Argo's CLI");
    assert_eq!(out, "experiment 'exp' retried\n", "Argo's terminate says \"retried\"");

    let out = aviary(&ns, &["terminate", "analysisrun", "exp-checks"]).await;
    assert_eq!(out, "analysisRun 'exp-checks' terminated\n");
    assert!(ns.api::<AnalysisRun>().get("exp-checks").await?.spec.terminate);
    assert_eq!(out, argo(&ns, &["terminate", "analysisrun", "exp-checks"]).await);

    let out = aviary(&ns, &["retry", "experiment", "exp"]).await;
    assert_eq!(out, "experiment 'exp' retried\n");
    let exp = experiments.get("exp").await?;
    assert_eq!(exp.status, None, "retry clears the whole status");
    assert!(exp.spec.terminate, "and nothing else");
    assert_eq!(out, argo(&ns, &["retry", "experiment", "exp"]).await);

    // One error stops the list, after the names before it.
    let failed = run(PathBuf::from(env!("CARGO_BIN_EXE_aviary")), &ns, &["retry", "experiment", "exp", "nope"]).await;
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&failed.stdout), "experiment 'exp' retried\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_shows_its_experiment_as_kubectl_argo_rollouts_does() -> TestResult {
    crds().await;
    let ns = namespace("cli-exp-rollout").await?;
    let steps = json!([{"experiment": {"templates": [
        {"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}]}}, {"setWeight": 100}]);
    let ro: Rollout = create(&ns, e2e::rollout("app", 1, "nginx:1.20", steps, json!({}))).await;
    let uid = ro.metadata.uid.clone().unwrap();
    // The rollout's own ReplicaSets: revision 1 stable and serving, revision 2 the canary at 0.
    let template = ro.spec.template.clone().unwrap();
    for (hash, revision, replicas, image) in [("h1", "1", 1, "nginx:1.19"), ("h2", "2", 0, "nginx:1.20")] {
        let mut t = serde_json::to_value(&template)?;
        t["metadata"]["labels"]["rollouts-pod-template-hash"] = json!(hash);
        t["spec"]["containers"][0]["image"] = json!(image);
        let _: ReplicaSet = create(
            &ns,
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("app-{hash}"),
                             "labels": {"app": "app", "rollouts-pod-template-hash": hash},
                             "annotations": {"rollout.argoproj.io/revision": revision},
                             "ownerReferences": owner("Rollout", "app", &uid)},
                "spec": {"replicas": replicas,
                         "selector": {"matchLabels": {"app": "app", "rollouts-pod-template-hash": hash}},
                         "template": t}
            }),
        )
        .await;
    }
    running_experiment(&ns, "app-h2-2-0", Some(owner("Rollout", "app", &uid)), Some("2")).await;
    let generation = ns.api::<Rollout>().get("app").await?.metadata.generation.unwrap_or(1);
    ns.api::<Rollout>()
        .patch_status(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "observedGeneration": generation.to_string(), "currentPodHash": "h2", "stableRS": "h1",
                "currentStepIndex": 0, "currentStepHash": "s", "replicas": 1, "updatedReplicas": 0,
                "readyReplicas": 1, "availableReplicas": 1, "phase": "Progressing",
                "message": "more replicas need to be updated",
                "canary": {"currentExperiment": "app-h2-2-0"},
                "conditions": []
            }})),
        )
        .await?;
    e2e::eventually_ok("app-h1's pod available", Duration::from_secs(120), || async {
        let rs = ns.api::<ReplicaSet>().get("app-h1").await.ok()?;
        (rs.status?.available_replicas == Some(1)).then_some(())
    })
    .await?;

    let text = same_as_argo(&ns, &["get", "rollout", "app"], &["--no-color"]).await;
    for expected in [
        "Images:          nginx:1.19 (stable, Σ:baseline)",
        "                 nginx:1.20 (Σ:canary)",
        "├──# revision:2",
        "│  ├──⧉ app-h2 ",
        "│  └──Σ app-h2-2-0 ",
        "│     ├──⧉ app-h2-2-0-baseline ",
        "│     └──α app-h2-2-0-checks ",
        "└──# revision:1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let json: Value = serde_json::from_str(&aviary(&ns, &["get", "rollout", "app", "-o", "json"]).await)?;
    assert_eq!(json["revisions"][0]["experiments"][0]["name"], "app-h2-2-0");
    // --watch follows the experiments too; the frame has the experiment's tree.
    let args = ["get", "rollout", "app", "-w", "--timeout", "3s"];
    let watched = run(PathBuf::from(env!("CARGO_BIN_EXE_aviary")), &ns, &args).await;
    assert_eq!(watched.status.code(), Some(2), "{}", String::from_utf8_lossy(&watched.stderr));
    assert!(String::from_utf8_lossy(&watched.stdout).contains("│  └──Σ app-h2-2-0 "));
    assert_eq!(json["revisions"][1]["experiments"], json!([]));
    Ok(())
}
