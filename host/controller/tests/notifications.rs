//! Argo Rollouts' notifications, configured with Argo's own catalog (its ConfigMap, unchanged)
//! and sent to loopback receivers through the first-party `aviary/webhook` and `aviary/slack`
//! notifiers: each trigger fires once per Event with its template rendered; a service that
//! fails is a Warning Event and a metric while the rollout goes on.

mod common;

use std::time::Duration;

use aviary_api::{AnalysisTemplate, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::notify::{Receiver, configure, subscribe_all, wait_loaded};
use common::*;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use serde_json::json;
use tokio::sync::OnceCell;

const T: Duration = Duration::from_secs(150);

/// This binary's controller, with Argo's self-service notifications on.
async fn env() -> &'static Env {
    let options = Options { args: vec!["--self-service-notification-enabled".into()], env: Vec::new() };
    env_with_options(std::path::Path::new(env!("CARGO_BIN_EXE_aviary-controller")), options).await
}

/// One receiver and one configuration for the whole binary (the ConfigMap is the controller's).
async fn setup() -> &'static Receiver {
    static RECEIVER: OnceCell<Receiver> = OnceCell::const_new();
    RECEIVER
        .get_or_init(|| async {
            let env = env().await;
            let before = std::fs::metadata(&env.log).map_or(0, |m| m.len() as usize);
            let receiver = Receiver::start().await;
            let client = aviary_test_support::cluster().await.expect("cluster").client().await.expect("client");
            configure(&client, &receiver).await;
            wait_loaded(&env.log, before).await;
            receiver
        })
        .await
}

fn subscribed(
    name: &str,
    steps: serde_json::Value,
    annotations: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let mut r = rollout(name, 2, "nginx:1.19", steps, json!({}));
    r["metadata"]["annotations"] = serde_json::Value::Object(annotations);
    r
}

/// The webhook bodies the receiver got for `rollout` (Argo's catalog names it in every message).
fn messages(receiver: &Receiver, path: &str, rollout: &str) -> Vec<String> {
    receiver
        .at(path)
        .into_iter()
        .map(|r| r.body)
        .filter(|b| b.contains(&format!("Rollout {rollout} ")) || b.contains(&format!("Rollout {rollout}'s")))
        .collect()
}

fn count(all: &[String], message: &str) -> usize {
    all.iter().filter(|m| m.as_str() == message).count()
}

async fn warning_events(ns: &TestNamespace, reason: &str) -> Vec<Event> {
    ns.api::<Event>()
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_catalog_trigger_fires_once_with_its_rendered_template() -> TestResult {
    let receiver = setup().await;
    let ns = namespace("notify-catalog").await?;
    let metrics = Metrics::start(1.0).await;
    // Three measurements a second apart: the Rollout sees its run Running.
    let _: AnalysisTemplate = create(&ns, web_template("ok", &metrics.url(), "1s", 3)).await;
    let steps = json!([{"setWeight": 50}, {"pause": {}}, {"analysis": {"templates": [{"templateName": "ok"}]}}, {"setWeight": 100}]);
    let mut annotations = subscribe_all("hook");
    annotations
        .insert("notifications.argoproj.io/subscribe.on-rollout-completed.slack".into(), json!("deploys;oncall"));
    let _: Rollout = create(&ns, subscribed("shop", steps, annotations)).await;
    wait_phase(&ns, "shop", "Healthy", T).await;
    // The first deploy is told too (updated, scaled, completed): wait for its completion.
    let slack_posts = || receiver.at("/api/chat.postMessage").into_iter().filter(|r| r.body.contains("+shop+"));
    let (first, slack_first) = eventually_ok("the first deploy's notifications", T, || async {
        let all = messages(receiver, "/hooks", "shop");
        let slack = slack_posts().count();
        (all.iter().any(|m| m == "Rollout shop has been completed.") && slack == 2).then_some((all.len(), slack))
    })
    .await?;

    set_image(&ns, "shop", "nginx:1.20").await;
    wait_phase(&ns, "shop", "Paused", T).await;
    patch_status(&ns, "shop", json!({"status": {"pauseConditions": null}})).await;
    wait_phase(&ns, "shop", "Healthy", T).await;
    let all = eventually_ok("the completion's notification", T, || async {
        let all = messages(receiver, "/hooks", "shop");
        all.iter().skip(first).any(|m| m == "Rollout shop has been completed.").then_some(all)
    })
    .await?;
    let update: Vec<String> = all.into_iter().skip(first).collect();
    for (message, times) in [
        ("Rollout shop has been updated.", 1),
        ("Rollout shop step number 1/4 has been completed.", 1),
        ("Rollout shop has been paused.", 1),
        ("Rollout shop step number 2/4 has been completed.", 1),
        ("Rollout shop's analysis run is running.", 1),
        ("Rollout shop step number 3/4 has been completed.", 1),
        ("Rollout shop step number 4/4 has been completed.", 1),
        ("Rollout shop has been completed.", 1),
        ("Rollout shop has been aborted.", 0),
    ] {
        assert_eq!(count(&update, message), times, "{message:?} in {update:#?}");
    }
    let scaling = update.iter().filter(|m| m.starts_with("Scaling Rollout shop's replicaset to 2.")).count();
    assert!(scaling >= 2, "the ReplicaSets' scaling is told: {update:#?}");

    // Each request as Argo's webhook service makes it: GET (the catalog's templates name no
    // method), the Secret's header.
    let hook = receiver.at("/hooks").into_iter().find(|r| r.body == "Rollout shop has been completed.").unwrap();
    assert_eq!((hook.method.as_str(), hook.headers.get("x-token").map(String::as_str)), ("GET", Some("h00k")));

    // Slack: chat.postMessage once per recipient, with the token, the text and the rendered
    // attachments of the catalog's template (the container and its image).
    let slack: Vec<_> = eventually_ok("the update's Slack posts", T, || async {
        let posts: Vec<_> = slack_posts().skip(slack_first).collect();
        (posts.len() >= 2).then_some(posts)
    })
    .await?;
    let form = |r: &common::notify::Received| -> std::collections::BTreeMap<String, String> {
        form_urlencoded::parse(r.body.as_bytes()).into_owned().collect()
    };
    let mut channels: Vec<String> = slack.iter().map(|r| form(r).get("channel").cloned().unwrap_or_default()).collect();
    channels.sort();
    assert_eq!(channels, vec!["deploys", "oncall"], "{slack:#?}");
    let f = form(&slack[0]);
    assert_eq!(f.get("text").map(String::as_str), Some("Rollout shop has been completed."));
    assert_eq!(slack[0].headers.get("authorization").map(String::as_str), Some("Bearer xoxb-test"));
    let attachments: serde_json::Value = serde_json::from_str(f.get("attachments").map_or("null", |s| s.as_str()))?;
    assert_eq!(attachments[0]["title"], "shop");
    let fields = attachments[0]["fields"].as_array().cloned().unwrap_or_default();
    assert!(fields.iter().any(|f| f["title"] == "Strategy" && f["value"] == "Canary"), "{attachments}");
    assert!(fields.iter().any(|f| f["title"] == "app" && f["value"] == "nginx:1.20"), "{attachments}");
    // Nothing is left promised on the Rollout.
    let r: Rollout = ns.api::<Rollout>().get("shop").await?;
    assert!(!r.annotations().contains_key("notifications.aviary.dev/outbox"), "{:?}", r.annotations());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_errored_analysis_and_the_abort_are_told() -> TestResult {
    let receiver = setup().await;
    let ns = namespace("notify-abort").await?;
    let low = Metrics::start(0.1).await;
    let mut failing = web_template("low", &low.url(), "1s", 3);
    failing["spec"]["metrics"][0]["failureLimit"] = json!(1);
    let _: AnalysisTemplate = create(&ns, failing).await;
    let error_template = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "unreachable"},
        "spec": {"metrics": [{"name": "down", "consecutiveErrorLimit": 1, "successCondition": "result == true",
                              "provider": {"web": {"url": "http://127.0.0.1:9/nothing", "jsonPath": "{$.ok}"}}}]}});
    let _: AnalysisTemplate = create(&ns, error_template).await;
    for (name, template) in [("fails", "low"), ("errs", "unreachable")] {
        let steps =
            json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": template}]}}, {"setWeight": 100}]);
        let _: Rollout = create(&ns, subscribed(name, steps, subscribe_all("hook"))).await;
    }
    for name in ["fails", "errs"] {
        wait_phase(&ns, name, "Healthy", T).await;
        set_image(&ns, name, "nginx:1.20").await;
    }
    for name in ["fails", "errs"] {
        wait_phase(&ns, name, "Degraded", T).await;
    }
    for (name, analysis) in
        [("fails", "Rollout fails's analysis run failed."), ("errs", "Rollout errs's analysis run is in error state.")]
    {
        let aborted = format!("Rollout {name} has been aborted.");
        let all = eventually_ok("the abort's notification", T, || async {
            let all = messages(receiver, "/hooks", name);
            all.contains(&aborted).then_some(all)
        })
        .await
        .map_err(|e| format!("{e}: {:#?}", messages(receiver, "/hooks", name)))?;
        // What the update told (the first deploy was told too: updated, scaled, completed).
        let updated = format!("Rollout {name} has been updated.");
        let second = all.iter().enumerate().filter(|(_, m)| **m == updated).nth(1).map_or(all.len(), |(i, _)| i);
        let all: Vec<String> = all.get(second..).unwrap_or_default().to_vec();
        assert_eq!(count(&all, &aborted), 1, "{all:#?}");
        assert_eq!(count(&all, analysis), 1, "{all:#?}");
        assert_eq!(count(&all, &format!("Rollout {name}'s analysis run is running.")), 1, "{all:#?}");
        assert_eq!(count(&all, &format!("Rollout {name} has been completed.")), 0, "{all:#?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_is_an_event_and_a_metric_and_the_rollout_goes_on() -> TestResult {
    let env = env().await;
    let receiver = setup().await;
    let ns = namespace("notify-broken").await?;
    let _: Rollout =
        create(&ns, rollout("app", 2, "nginx:1.19", json!([{"setWeight": 50}, {"setWeight": 100}]), json!({}))).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    // Subscribed after the first deploy, so that one update is told.
    let subscribe = json!({"metadata": {"annotations": {
        "notifications.argoproj.io/subscribe.on-rollout-updated.broken": "",
        "notifications.argoproj.io/subscribe.on-rollout-updated.nosuchservice": ""}}});
    ns.api::<Rollout>().patch("app", &Default::default(), &kube::api::Patch::Merge(&subscribe)).await?;
    set_image(&ns, "app", "nginx:1.20").await;
    let healthy = wait_phase(&ns, "app", "Healthy", T).await;
    assert_ne!(healthy.status.unwrap_or_default().stable_rs, "", "the rollout completed its update");
    let events = eventually_ok("both failures recorded", T, || async {
        let e = warning_events(&ns, "NotificationFailed").await;
        (e.len() >= 2).then_some(e)
    })
    .await?;
    let notes: Vec<String> = events.iter().filter_map(|e| e.note.clone()).collect();
    assert!(
        notes.iter().any(|n| n.contains("on-rollout-updated to broken") && n.contains("error code 500")),
        "{notes:#?}"
    );
    assert!(notes.iter().any(|n| n.contains("service \"nosuchservice\" is not configured")), "{notes:#?}");
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    // retryMax 1: the service was tried twice.
    assert_eq!(receiver.at("/fail").len(), 2);
    let (_, text) = http_get(env.ports.0, "/metrics").await;
    let errors: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with("notification_send_error_total{") && l.contains(&format!("namespace=\"{}\"", ns.name()))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(errors, 2.0, "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("notification_send_error_total{")
            && l.contains("type=\"Normal\"")
            && l.contains("reason=\"RolloutUpdated\"")),
        "{text}"
    );
    Ok(())
}

/// Self-service notifications (`--self-service-notification-enabled`): a Rollout's own namespace
/// configures a service, template and trigger (and a Secret for its header) beside the
/// controller's configuration, which does not define that service and stays quiet about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollouts_own_namespace_configures_its_notifications() -> TestResult {
    let receiver = setup().await;
    let ns = namespace("notify-self").await?;
    let url = &receiver.url;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argo-rollouts-notification-configmap"},
        "data": {
            "service.webhook.team": format!("url: {url}/team\nheaders:\n- name: X-Token\n  value: $team-token\n"),
            "template.team-done": "message: team {{.rollout.metadata.name}} is done at {{.rollout.spec.template.spec.containers | len}} container(s)\n",
            "trigger.on-rollout-completed": "- send: [team-done]\n"}});
    let _: k8s_openapi::api::core::v1::ConfigMap = create(&ns, cm).await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argo-rollouts-notification-secret"},
        "stringData": {"team-token": "t34m"}});
    let _: k8s_openapi::api::core::v1::Secret = create(&ns, secret).await;
    let mut annotations = serde_json::Map::new();
    annotations.insert("notifications.argoproj.io/subscribe.on-rollout-completed.team".into(), json!(""));
    let _: Rollout = create(&ns, subscribed("own", json!([{"setWeight": 50}, {"setWeight": 100}]), annotations)).await;
    wait_phase(&ns, "own", "Healthy", T).await;
    let got = eventually_ok("the namespace's own notification", T, || async {
        receiver.at("/team").into_iter().find(|r| r.body == "team own is done at 1 container(s)")
    })
    .await?;
    assert_eq!(got.headers.get("x-token").map(String::as_str), Some("t34m"), "the namespace's Secret");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        warning_events(&ns, "NotificationFailed").await.is_empty(),
        "the controller's configuration lacks `team` and says nothing"
    );
    Ok(())
}
