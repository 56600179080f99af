//! `aviary/job` through the plugin host: its Kubernetes calls reach the embedder only for Jobs
//! (and the listing of pods), in the AnalysisRun's namespace; without a cluster handed to the
//! host, or with grants that do not cover Jobs, it creates nothing and says why.

mod common;

use std::sync::Arc;

use aviary_plugins::kubernetes::Verb;
use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{CallContext, Phase};
use aviary_test_support::kubernetes_memory::MemoryApi;
use serde_json::json;

const UID: &str = "6a1f0c2e-0000-4000-8000-00000000beef";

fn ctx() -> CallContext {
    CallContext {
        namespace: "shop".into(),
        run_name: "checkout-2".into(),
        metric_name: "smoke".into(),
        run_uid: UID.into(),
        sequence: 4,
    }
}

fn config() -> String {
    json!({"spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "smoke", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}}}})
    .to_string()
}

#[tokio::test]
async fn the_job_provider_creates_only_jobs_in_the_runs_namespace() {
    let api = Arc::new(MemoryApi::default());
    let host = common::host().with_kubernetes(api.clone());
    let m = host.measure("job", &ctx(), &config()).await;
    assert_eq!(m.phase, Phase::Running, "{}", m.message);
    let name = format!("{UID}.smoke.4");
    assert_eq!(m.metadata.get("job-name"), Some(&name));
    let job = api.object("Job", &name).expect("the Job reached the API");
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], UID);
    let calls = api.calls();
    assert!(calls.iter().all(|c| c.namespace == "shop"), "{calls:?}");
    assert!(calls.iter().all(|c| c.kind == "Job"), "{calls:?}");
    assert_eq!(calls[0].verb, Verb::Create);
}

#[tokio::test]
async fn without_a_cluster_or_a_grant_for_jobs_nothing_is_created() {
    // No cluster handed to the host: the call is denied, the measurement an Error naming why.
    let m = common::host().measure("job", &ctx(), &config()).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.contains("denied"), "{}", m.message);

    // The same component registered with grants for Pods only: denied before reaching the API.
    let api = Arc::new(MemoryApi::default());
    let host = common::host().with_kubernetes(api.clone());
    let registry = RegistryFile::parse(
        "plugins:\n\
         - {name: aviary/job, kind: metric-provider, location: 'builtin:aviary/job',\n\
            kubernetes: [{apiGroup: '', kinds: [Pod], verbs: [create, list]}]}\n",
    )
    .unwrap();
    for (name, result) in host.load_registry(&registry).await {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let m = host.measure("aviary/job", &ctx(), &config()).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.contains("denied"), "{}", m.message);
    assert!(api.calls().is_empty(), "{:?}", api.calls());
}
