//! Snapshot of the `get rollout` view of a canary in the middle of an analysis step, at a fixed
//! time and terminal width, plus the rules that the snapshot alone would not pin.
//!
//! Set `UPDATE_SNAPSHOTS=1` to rewrite the snapshot after an intended change, then review the
//! diff like any other change.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::info::{Objects, rollout_info};
use super::tree::{Style, render};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:10:00Z").unwrap().with_timezone(&Utc)
}

fn owner(kind: &str, name: &str, uid: &str) -> serde_json::Value {
    json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "name": name, "uid": uid, "controller": true}])
}

fn replica_set(hash: &str, revision: &str, image: &str, replicas: i32, created: &str) -> serde_json::Value {
    json!({
        "metadata": {
            "name": format!("guestbook-{hash}"), "namespace": "shop", "uid": format!("rs-{hash}"),
            "creationTimestamp": created, "generation": 1,
            "labels": {"app": "guestbook", "rollouts-pod-template-hash": hash},
            "annotations": {"rollout.argoproj.io/revision": revision},
            "ownerReferences": owner("Rollout", "guestbook", "ro-1"),
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "guestbook"}},
                 "template": {"metadata": {"labels": {"app": "guestbook"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 1}
    })
}

fn pod(hash: &str, suffix: &str, created: &str, ready: bool) -> serde_json::Value {
    let state = if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "ContainerCreating"}}) };
    json!({
        "metadata": {"name": format!("guestbook-{hash}-{suffix}"), "namespace": "shop", "creationTimestamp": created,
                     "ownerReferences": owner("ReplicaSet", &format!("guestbook-{hash}"), &format!("rs-{hash}"))},
        "spec": {"containers": [{"name": "web", "image": "x"}]},
        "status": {"phase": if ready { "Running" } else { "Pending" },
                   "containerStatuses": [{"name": "web", "ready": ready, "restartCount": 0, "image": "x", "imageID": "",
                                          "state": state}]}
    })
}

/// A canary of 4 pods at step 1 of 5 (analysis after setWeight 25), the analysis running with
/// two successful measurements.
pub fn canary_mid_step() -> Objects {
    let rollout = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "guestbook", "namespace": "shop", "uid": "ro-1", "generation": 2,
                     "creationTimestamp": "2026-03-01T10:00:00Z"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "guestbook"}},
            "template": {"metadata": {"labels": {"app": "guestbook"}},
                         "spec": {"containers": [{"name": "web", "image": "shop/guestbook:2.0"}]}},
            "strategy": {"canary": {"steps": [
                {"setWeight": 25}, {"analysis": {"templates": [{"templateName": "error-rate"}]}},
                {"setWeight": 50}, {"pause": {"duration": "1m"}}, {"setWeight": 100}
            ]}}
        },
        "status": {
            "observedGeneration": "2", "currentStepIndex": 1, "currentPodHash": "7d9c5b6f48", "stableRS": "5f8b7c9d6",
            "replicas": 5, "updatedReplicas": 1, "readyReplicas": 5, "availableReplicas": 5,
            "phase": "Progressing", "message": "more replicas need to be updated",
            "canary": {"currentStepAnalysisRunStatus": {"name": "guestbook-7d9c5b6f48-2-1", "status": "Running"}}
        }
    }))
    .unwrap();
    let replica_sets = [
        replica_set("5f8b7c9d6", "1", "shop/guestbook:1.0", 4, "2026-03-01T10:00:00Z"),
        replica_set("7d9c5b6f48", "2", "shop/guestbook:2.0", 1, "2026-03-01T12:08:30Z"),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    let pods = [
        pod("5f8b7c9d6", "4xkzq", "2026-03-01T10:00:05Z", true),
        pod("5f8b7c9d6", "9wv2m", "2026-03-01T10:00:05Z", true),
        pod("5f8b7c9d6", "bq7rt", "2026-03-01T10:00:06Z", true),
        pod("5f8b7c9d6", "tt5nd", "2026-03-01T10:00:06Z", true),
        pod("7d9c5b6f48", "hj2ps", "2026-03-01T12:08:31Z", true),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    let run = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "guestbook-7d9c5b6f48-2-1", "namespace": "shop", "creationTimestamp": "2026-03-01T12:09:40Z",
                     "annotations": {"rollout.argoproj.io/revision": "2"},
                     "ownerReferences": owner("Rollout", "guestbook", "ro-1")},
        "spec": {"metrics": [{"name": "error-rate", "interval": "10s", "count": 3, "successCondition": "result <= 0.05",
                              "provider": {"web": {"url": "http://metrics/", "jsonPath": "{$.errorRate}"}}}]},
        "status": {"phase": "Running", "metricResults": [{
            "name": "error-rate", "phase": "Running", "count": 2, "successful": 2,
            "measurements": [
                {"phase": "Successful", "value": "0.012", "startedAt": "2026-03-01T12:09:41Z", "finishedAt": "2026-03-01T12:09:41Z"},
                {"phase": "Successful", "value": "0.009", "startedAt": "2026-03-01T12:09:51Z", "finishedAt": "2026-03-01T12:09:51Z"}
            ]}]}
    });
    Objects {
        rollout,
        replica_sets,
        pods,
        analysis_runs: vec![serde_json::from_value(run).unwrap()],
        experiments: Vec::new(),
    }
}

fn check_snapshot(file: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/render/snapshots").join(file);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} differs (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn a_canary_mid_analysis_renders_as_the_snapshot_at_100_columns() {
    let info = rollout_info(&canary_mid_step(), now());
    check_snapshot("canary_mid_step.txt", &render(&info, Style { width: Some(100), color: false }));
}

#[test]
fn narrow_terminals_get_cut_lines_never_wrapped_ones() {
    let info = rollout_info(&canary_mid_step(), now());
    let text = render(&info, Style { width: Some(40), color: false });
    assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    assert!(text.lines().any(|l| l.ends_with('…')), "{text}");
}

#[test]
fn colour_is_only_escape_codes_around_the_same_text() {
    let info = rollout_info(&canary_mid_step(), now());
    let plain = render(&info, Style { width: Some(100), color: false });
    let colored = render(&info, Style { width: Some(100), color: true });
    assert!(colored.contains("\u{1b}["), "no escape codes at all");
    let stripped: String = {
        let mut out = String::new();
        let mut chars = colored.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(stripped, plain);
}

#[test]
fn the_view_knows_step_weights_and_what_it_waits_for() {
    let info = rollout_info(&canary_mid_step(), now());
    assert_eq!(info.status, "Progressing");
    assert_eq!(info.step.as_deref(), Some("1/5"));
    assert_eq!(info.set_weight, Some(25));
    // 1 canary pod of 5 available ones.
    assert_eq!(info.actual_weight, Some(20));
    assert_eq!(info.waiting_for.as_deref(), Some("analysis guestbook-7d9c5b6f48-2-1 (Running, 2 measurements so far)"));
    assert_eq!(info.revisions.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![2, 1]);
    let metric = &info.revisions[0].analysis_runs[0].metrics[0];
    assert_eq!(metric.last.iter().map(|m| m.value.as_str()).collect::<Vec<_>>(), vec!["0.012", "0.009"]);
}

#[test]
fn a_timed_pause_counts_down() {
    let mut objects = canary_mid_step();
    let st = objects.rollout.status.as_mut().unwrap();
    st.current_step_index = Some(3);
    st.phase = Some(aviary_api::RolloutPhase::Paused);
    st.message = "CanaryPauseStep".into();
    st.pause_conditions = vec![aviary_api::rollout_status::PauseCondition {
        reason: aviary_api::rollout_status::PauseReason::CanaryPauseStep,
        start_time: aviary_api::Time::parse("2026-03-01T12:09:45Z").unwrap(),
    }];
    let info = rollout_info(&objects, now());
    assert_eq!(info.waiting_for.as_deref(), Some("the pause to end in 45s"));
}

/// Argo's TestGetCanaryPingPongRollout: with ping-pong, the stable and canary ReplicaSets are
/// tagged with the Service carrying them (`stablePingPong: pong` here), in the tree and the images.
#[test]
fn ping_pong_services_tag_the_stable_and_canary_replica_sets() {
    let mut objects = canary_mid_step();
    objects.rollout.spec.strategy.canary.as_mut().unwrap().ping_pong =
        Some(aviary_api::rollout::PingPongSpec { ping_service: "ping".into(), pong_service: "pong".into() });
    objects.rollout.status.as_mut().unwrap().canary.stable_ping_pong = "pong".into();
    let info = rollout_info(&objects, now());
    let text = render(&info, Style { width: Some(120), color: false });
    let line = |name: &str| text.lines().find(|l| l.contains(name) && l.contains("ReplicaSet")).unwrap().to_string();
    assert!(line("guestbook-7d9c5b6f48").trim_end().ends_with("canary,ping"), "{text}");
    assert!(line("guestbook-5f8b7c9d6").trim_end().ends_with("stable,pong"), "{text}");
    assert!(text.contains("shop/guestbook:2.0 (canary, ping)"), "{text}");
    assert!(text.contains("shop/guestbook:1.0 (stable, pong)"), "{text}");
    // Without ping-pong, the same status field changes nothing.
    let mut plain = canary_mid_step();
    plain.rollout.status.as_mut().unwrap().canary.stable_ping_pong = "pong".into();
    let text = render(&rollout_info(&plain, now()), Style { width: Some(120), color: false });
    assert!(!text.contains("ping") && !text.contains("pong"), "{text}");
}

#[test]
fn the_jobs_of_job_metrics_show_under_their_analysis_run_as_argo_prints_them() {
    let mut objects = canary_mid_step();
    let run = &mut objects.analysis_runs[0];
    let status = run.status.as_mut().unwrap();
    let job = |name: &str, phase: &str, started: &str| {
        serde_json::from_value::<aviary_api::Measurement>(json!({"phase": phase, "startedAt": started,
            "metadata": {"job-name": name, "job-namespace": "shop"}}))
        .unwrap()
    };
    let mut smoke: aviary_api::MetricResult =
        serde_json::from_value(json!({"name": "smoke", "phase": "Running"})).unwrap();
    smoke.measurements = vec![
        job("run-1.smoke.1", "Failed", "2026-03-01T12:09:41Z"),
        job("run-1.smoke.2", "Running", "2026-03-01T12:10:01Z"),
    ];
    status.metric_results.push(smoke);
    let info = rollout_info(&objects, now());
    let runs = |info: &super::info::RolloutInfo| {
        info.revisions.iter().flat_map(|r| r.analysis_runs.clone()).collect::<Vec<_>>()
    };
    let jobs = &runs(&info)[0].jobs;
    assert_eq!(
        jobs.iter().map(|j| (j.name.as_str(), j.status.as_str(), j.metric_name.as_str())).collect::<Vec<_>>(),
        vec![("run-1.smoke.1", "Failed", "smoke"), ("run-1.smoke.2", "Running", "smoke")]
    );
    let text = render(&info, Style { width: Some(120), color: false });
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("Job")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].contains("├──⊞ run-1.smoke.1") && rows[0].contains("Job") && rows[0].contains("✖ Failed"),
        "{text}"
    );
    assert!(rows[1].contains("└──⊞ run-1.smoke.2") && rows[1].contains("◌ Running"), "{text}");
    // A web metric's measurements have no job-name: no Job rows.
    assert!(runs(&rollout_info(&canary_mid_step(), now()))[0].jobs.is_empty());
}

fn experiment_replica_set(template: &str, hash: &str, image: &str, created: &str) -> serde_json::Value {
    let name = format!("guestbook-exp-{template}");
    json!({
        "metadata": {
            "name": name, "namespace": "shop", "uid": format!("rs-exp-{template}"),
            "creationTimestamp": created, "generation": 1,
            "labels": {"app": "guestbook", "rollouts-pod-template-hash": hash},
            "annotations": {"experiment.argoproj.io/name": "guestbook-exp",
                            "experiment.argoproj.io/template-name": template},
            "ownerReferences": owner("Experiment", "guestbook-exp", "exp-1"),
        },
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "guestbook"}},
                 "template": {"metadata": {"labels": {"app": "guestbook"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1}
    })
}

/// [`canary_mid_step`] at an experiment step instead: the rollout owns a Running experiment of
/// revision 2 with a `baseline` and a `canary` template (one pod each) and one AnalysisRun.
pub fn canary_with_experiment() -> Objects {
    let mut objects = canary_mid_step();
    let experiment = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
        "metadata": {"name": "guestbook-exp", "namespace": "shop", "uid": "exp-1",
                     "creationTimestamp": "2026-03-01T12:09:00Z",
                     "annotations": {"rollout.argoproj.io/revision": "2"},
                     "ownerReferences": owner("Rollout", "guestbook", "ro-1")},
        "spec": {"duration": "5m", "templates": [
            {"name": "baseline", "selector": {"matchLabels": {"app": "guestbook"}},
             "template": {"metadata": {"labels": {"app": "guestbook"}}, "spec": {"containers": [{"name": "web", "image": "shop/guestbook:1.0"}]}}},
            {"name": "canary", "selector": {"matchLabels": {"app": "guestbook"}},
             "template": {"metadata": {"labels": {"app": "guestbook"}}, "spec": {"containers": [{"name": "web", "image": "shop/guestbook:2.0"}]}}}
        ]},
        "status": {"phase": "Running", "message": "", "availableAt": "2026-03-01T12:09:30Z",
                   "templateStatuses": [
                       {"name": "baseline", "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "status": "Running"},
                       {"name": "canary", "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "status": "Running"}],
                   "analysisRuns": [{"name": "error-rate", "analysisRun": "guestbook-exp-error-rate", "phase": "Pending"}]}
    });
    objects.experiments.push(serde_json::from_value(experiment).unwrap());
    for (template, hash, image) in
        [("canary", "6c8f9d7b5", "shop/guestbook:2.0"), ("baseline", "5f8b7c9d6", "shop/guestbook:1.0")]
    {
        objects.replica_sets.push(
            serde_json::from_value(experiment_replica_set(template, hash, image, "2026-03-01T12:09:01Z")).unwrap(),
        );
        let mut p = pod(hash, "x", "2026-03-01T12:09:02Z", true);
        p["metadata"]["name"] = json!(format!("guestbook-exp-{template}-q7w2z"));
        p["metadata"]["ownerReferences"] =
            owner("ReplicaSet", &format!("guestbook-exp-{template}"), &format!("rs-exp-{template}"));
        objects.pods.push(serde_json::from_value(p).unwrap());
    }
    let run = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "guestbook-exp-error-rate", "namespace": "shop", "creationTimestamp": "2026-03-01T12:09:31Z",
                     "ownerReferences": owner("Experiment", "guestbook-exp", "exp-1")},
        "spec": {"metrics": [{"name": "errors", "provider": {"web": {"url": "http://metrics/"}}}]},
        "status": {"phase": "Pending"}
    });
    objects.analysis_runs.push(serde_json::from_value(run).unwrap());
    objects
}

fn experiment_objects() -> super::info::ExperimentObjects {
    let objects = canary_with_experiment();
    super::info::ExperimentObjects {
        experiment: objects.experiments[0].clone(),
        replica_sets: objects.replica_sets,
        pods: objects.pods,
        analysis_runs: objects.analysis_runs,
    }
}

#[test]
fn an_experiment_renders_as_the_snapshot() {
    let info = super::info::experiment_view(&experiment_objects(), now());
    check_snapshot("experiment.txt", &super::tree::render_experiment(&info, Style { width: Some(100), color: false }));
}

#[test]
fn an_experiment_has_only_its_own_replica_sets_by_name_with_template_tags_on_its_images() {
    let info = super::info::experiment_view(&experiment_objects(), now());
    assert_eq!((info.status.as_str(), info.revision), ("Running", 2));
    // By name, as Argo sorts them; the rollout's own ReplicaSets are not the experiment's.
    let names: Vec<&str> = info.replica_sets.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["guestbook-exp-baseline", "guestbook-exp-canary"]);
    assert!(info.replica_sets.iter().all(|r| !r.stable && !r.canary && r.pods.len() == 1));
    assert_eq!(info.replica_sets[0].template.as_deref(), Some("baseline"));
    let images: Vec<(String, Vec<String>)> = info.images.iter().map(|i| (i.image.clone(), i.tags.clone())).collect();
    assert_eq!(
        images,
        [
            ("shop/guestbook:1.0".to_string(), vec!["Σ:baseline".to_string()]),
            ("shop/guestbook:2.0".to_string(), vec!["Σ:canary".to_string()])
        ]
    );
    assert_eq!(info.analysis_runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["guestbook-exp-error-rate"]);
    // An experiment the controller has not written a status for yet: no phase, a blank icon.
    let mut objects = experiment_objects();
    objects.experiment.status = None;
    let info = super::info::experiment_view(&objects, now());
    assert_eq!(info.status, "");
    let text = super::tree::render_experiment(&info, Style { width: None, color: false });
    assert!(text.lines().any(|l| l == "Status:"), "{text}");
}

#[test]
fn a_rollout_shows_its_experiment_under_its_revision_between_replica_sets_and_analysis_runs() {
    let info = rollout_info(&canary_with_experiment(), now());
    check_snapshot("canary_with_experiment.txt", &render(&info, Style { width: Some(110), color: false }));
    assert_eq!(info.revisions[0].experiments.len(), 1);
    assert!(info.revisions[1].experiments.is_empty());
    // The experiment's templates tag the images as Argo's `Images` does, merged with the roles.
    let image = |name: &str| info.images.iter().find(|i| i.image == name).unwrap().tags.clone();
    assert_eq!(image("shop/guestbook:1.0"), ["stable", "Σ:baseline"]);
    assert_eq!(image("shop/guestbook:2.0"), ["canary", "Σ:canary"]);
    // An experiment another rollout owns is not shown.
    let mut objects = canary_with_experiment();
    objects.experiments[0].metadata.owner_references.as_mut().unwrap()[0].uid = "ro-other".into();
    let info = rollout_info(&objects, now());
    assert!(info.revisions.iter().all(|r| r.experiments.is_empty()));
}

#[test]
fn pending_analysis_waits_rather_than_progresses() {
    use super::tree::analysis_icon;
    assert_eq!(analysis_icon("Pending"), "◷");
    assert_eq!(analysis_icon("Running"), "◌");
    assert_eq!(analysis_icon("Successful"), "✔");
    assert_eq!(analysis_icon("Failed"), "✖");
    assert_eq!(analysis_icon("Error"), "⚠");
    assert_eq!(analysis_icon("Inconclusive"), "?");
    assert_eq!(analysis_icon(""), " ");
}
