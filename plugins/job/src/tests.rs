//! The provider against an in-memory cluster holding exactly its grants: the Job as Argo makes
//! it, adoption, the verdicts of resume, terminate and the garbage collection.

use aviary_plugin_sdk::kubernetes::Verb;
use aviary_plugin_sdk::kubernetes::fake::FakeCluster;

use super::*;

const UID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn config() -> Config {
    serde_json::from_value(json!({
        "metadata": {"labels": {"team": "shop"}, "annotations": {"purpose": "smoke"}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "smoke", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}}
        }
    }))
    .unwrap()
}

fn cluster() -> FakeCluster {
    FakeCluster::new("shop").granting(GRANTS)
}

fn ctx<'a>(cluster: &'a FakeCluster, sequence: u32) -> Context<'a> {
    Context::new("shop", "checkout-abc-2", "smoke-test", UID, sequence, cluster)
}

fn job(cluster: &FakeCluster, name: &str) -> Value {
    cluster.object("batch/v1", "Job", name).unwrap_or_else(|| panic!("Job {name} exists"))
}

#[test]
fn measure_creates_the_job_argo_creates_and_is_running() {
    let c = cluster();
    let m = Job::measure(&ctx(&c, 3), config()).unwrap();
    let name = format!("{UID}.smoke-test.3");
    assert_eq!(m.phase, Phase::Running);
    assert_eq!(m.metadata.get(JOB_NAME_KEY), Some(&name));
    assert_eq!(m.metadata.get(JOB_NAMESPACE_KEY), Some(&"shop".to_string()));
    let j = job(&c, &name);
    assert_eq!(j["metadata"]["labels"], json!({"team": "shop", RUN_UID_LABEL: UID}));
    assert_eq!(
        j["metadata"]["annotations"],
        json!({"purpose": "smoke", RUN_NAME_ANNOTATION: "checkout-abc-2", RUN_NAMESPACE_ANNOTATION: "shop",
               METRIC_ANNOTATION: "smoke-test"})
    );
    let owner = &j["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "AnalysisRun");
    assert_eq!(owner["uid"], UID);
    assert_eq!(owner["controller"], true);
    assert_eq!(j["spec"]["template"]["metadata"]["labels"][RUN_UID_LABEL], UID);
    assert_eq!(j["spec"]["backoffLimit"], 0);
}

#[test]
fn names_are_cut_in_the_metric_part_to_63_characters() {
    let long = "a-metric-name-long-enough-to-overflow-the-limit";
    let name = job_name_for(UID, long, 12);
    assert_eq!(name.len(), NAME_LIMIT);
    assert!(name.starts_with(&format!("{UID}.a-metric")), "{name}");
    assert!(name.ends_with(".12"), "{name}");
    assert_eq!(job_name_for(UID, "m", 1), format!("{UID}.m.1"));
    assert_eq!(job_name_for(UID, "m", 0), format!("{UID}.m.1"), "an unknown number is the first");
}

#[test]
fn a_job_of_our_run_is_adopted_and_another_runs_job_is_an_error() {
    let c = cluster();
    let first = Job::measure(&ctx(&c, 1), config()).unwrap();
    let again = Job::measure(&ctx(&c, 1), config()).unwrap();
    assert_eq!(again.metadata, first.metadata, "a measurement taken again adopts its Job");

    let other = cluster();
    let mut foreign = new_job(&ctx(&other, 1), &config()).unwrap();
    foreign["metadata"]["ownerReferences"][0]["uid"] = json!("another-run");
    other.insert(foreign);
    let err = Job::measure(&ctx(&other, 1), config()).unwrap_err();
    assert!(err.0.starts_with(&format!("job create {UID}.smoke-test.1 failed: ")), "{err}");
}

#[test]
fn a_config_without_a_spec_names_the_field() {
    let c = cluster();
    let err = Job::measure(&ctx(&c, 1), Config::default()).unwrap_err();
    assert!(err.0.contains("provider.job.spec"), "{err}");
    assert!(c.objects_of("Job").is_empty());
}

fn running(c: &FakeCluster) -> (Measurement, String) {
    let m = Job::measure(&ctx(c, 1), config()).unwrap();
    let name = m.metadata[JOB_NAME_KEY].clone();
    (m, name)
}

fn set_status(c: &FakeCluster, name: &str, status: Value) {
    let mut j = job(c, name);
    j["status"] = status;
    j["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}});
    c.insert(j);
}

#[test]
fn resume_follows_the_job_conditions() {
    let c = cluster();
    let (m, name) = running(&c);
    let polled = Job::resume(&ctx(&c, 1), config(), m.clone()).unwrap();
    assert_eq!(polled.phase, Phase::Running);
    assert!(polled.resume_after.is_some_and(|d| d >= Duration::from_secs(1)));

    set_status(
        &c,
        &name,
        json!({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                                  {"type": "Complete", "status": "True"}]}),
    );
    let done = Job::resume(&ctx(&c, 1), config(), m.clone()).unwrap();
    assert_eq!(done.phase, Phase::Successful);
    assert_eq!(done.metadata, m.metadata);

    set_status(
        &c,
        &name,
        json!({"conditions": [{"type": "FailureTarget", "status": "True"},
                                                  {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
    );
    assert_eq!(Job::resume(&ctx(&c, 1), config(), m).unwrap().phase, Phase::Failed);
}

#[test]
fn a_pod_that_cannot_pull_its_image_is_inconclusive() {
    let c = cluster();
    let (m, name) = running(&c);
    set_status(&c, &name, json!({"active": 1}));
    c.insert(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "smoke-x7k2p", "labels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
        "status": {"containerStatuses": [{"name": "smoke", "state": {"waiting": {
            "reason": "ImagePullBackOff", "message": "Back-off pulling image \"busybox:nope\""}}}]}
    }));
    // Another job's pod with the same trouble is not ours.
    c.insert(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "other", "labels": {"batch.kubernetes.io/controller-uid": "other"}},
        "status": {"containerStatuses": [{"name": "x", "state": {"waiting": {"reason": "ErrImagePull"}}}]}
    }));
    let m = Job::resume(&ctx(&c, 1), config(), m).unwrap();
    assert_eq!(m.phase, Phase::Inconclusive);
    assert_eq!(
        m.message,
        "Pod smoke-x7k2p, container smoke has terminal error (ImagePullBackOff): Back-off pulling image \"busybox:nope\""
    );
}

#[test]
fn terminate_deletes_the_job_and_is_inconclusive() {
    let c = cluster();
    let (m, name) = running(&c);
    let t = Job::terminate(&ctx(&c, 1), config(), m.clone()).unwrap();
    assert_eq!(t.phase, Phase::Inconclusive);
    assert!(c.object("batch/v1", "Job", &name).is_none());
    // Already gone: still terminated.
    assert_eq!(Job::terminate(&ctx(&c, 1), config(), m).unwrap().phase, Phase::Inconclusive);
    let err = Job::terminate(&ctx(&c, 1), config(), Measurement::running(Duration::ZERO)).unwrap_err();
    assert_eq!(err.0, "job metadata reference missing");
}

#[test]
fn only_the_newest_jobs_of_the_metric_are_kept() {
    let c = cluster();
    // Another metric's Job of the same run is never collected.
    let other = Context::new("shop", "checkout-abc-2", "other-metric", UID, 1, &c);
    Job::measure(&other, config()).unwrap();
    for n in 1..=(KEEP as u32 + 2) {
        Job::measure(&ctx(&c, n), config()).unwrap();
    }
    let mut names: Vec<String> =
        c.objects_of("Job").iter().map(|j| j["metadata"]["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names.len(), KEEP + 1, "{names:?}");
    assert!(!names.contains(&format!("{UID}.smoke-test.1")) && !names.contains(&format!("{UID}.smoke-test.2")));
    assert!(names.contains(&format!("{UID}.smoke-test.12")));
    assert!(names.contains(&format!("{UID}.other-metric.1")));
}

#[test]
fn the_grants_are_enough_and_nothing_else_is_touched() {
    let c = cluster();
    let (m, name) = running(&c);
    set_status(&c, &name, json!({"active": 1}));
    Job::resume(&ctx(&c, 1), config(), m.clone()).unwrap();
    Job::terminate(&ctx(&c, 1), config(), m).unwrap();
    assert!(c.verbs().iter().all(|v| matches!(v, Verb::Create | Verb::Get | Verb::List | Verb::Delete)));
}
