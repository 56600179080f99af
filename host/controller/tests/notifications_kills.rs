//! Notifications across a controller that dies: one that stops after deciding a notification
//! and before sending it sends it after its restart; one that stops after sending it and before
//! recording so does not send it again (Argo never sends twice). The controller is stopped at
//! those points by its test hook `AVIARY_NOTIFICATIONS_CRASH`, which exits as a `kill -9` would.

mod common;

use std::time::Duration;

use aviary_api::Rollout;
use aviary_test_support::namespace;
use common::notify::{Receiver, configure, wait_loaded};
use common::*;
use kube::ResourceExt;
use serde_json::json;

const T: Duration = Duration::from_secs(150);
const OUTBOX: &str = "notifications.aviary.dev/outbox";

fn updated(receiver: &Receiver) -> usize {
    receiver.at("/hooks").iter().filter(|r| r.body == "Rollout app has been updated.").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_notification_is_sent_after_a_restart_and_a_sent_one_is_not_sent_again() -> TestResult {
    let env = env().await;
    let before = std::fs::metadata(&env.log).map_or(0, |m| m.len() as usize);
    let receiver = Receiver::start().await;
    let client = aviary_test_support::cluster().await?.client().await?;
    configure(&client, &receiver).await;
    wait_loaded(&env.log, before).await;
    let ns = namespace("notify-kills").await?;
    let mut r = rollout("app", 2, "nginx:1.19", json!([{"setWeight": 50}, {"setWeight": 100}]), json!({}));
    r["metadata"]["annotations"] = json!({"notifications.argoproj.io/subscribe.on-rollout-updated.hook": ""});
    let _: Rollout = create(&ns, r).await;
    wait_phase(&ns, "app", "Healthy", T).await;
    // The first deploy is an update too: told once before the kills start.
    eventually_ok("the first deploy told", T, || async { (updated(&receiver) == 1).then_some(()) }).await?;
    let outbox = |r: &Rollout| r.annotations().get(OUTBOX).cloned();

    // 1. Stopped between deciding and sending: the notification is left pending on the Rollout.
    let mark = std::fs::metadata(&env.log).map_or(0, |m| m.len() as usize);
    env.restart_controller_with_env(&[], &[("AVIARY_NOTIFICATIONS_CRASH", "before-send")]);
    wait_loaded(&env.log, mark).await;
    set_image(&ns, "app", "nginx:1.20").await;
    eventually_ok("the controller stopped before sending", T, || async { env.controller_exited().map(|_| ()) }).await?;
    let left = ns.api::<Rollout>().get("app").await?;
    let pending = outbox(&left).ok_or("the notification is recorded as promised")?;
    assert!(pending.contains("\"state\":\"pending\"") && pending.contains("on-rollout-updated"), "{pending}");
    assert_eq!(updated(&receiver), 1, "nothing was sent");
    env.restart_controller();
    eventually_ok("the pending notification sent after the restart", T, || async {
        (updated(&receiver) == 2).then_some(())
    })
    .await?;
    eventually_ok("the outbox emptied", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        outbox(&r).is_none().then_some(())
    })
    .await?;
    wait_phase(&ns, "app", "Healthy", T).await;

    // 2. Stopped between sending and recording: the next leader does not send it again.
    let mark = std::fs::metadata(&env.log).map_or(0, |m| m.len() as usize);
    env.restart_controller_with_env(&[], &[("AVIARY_NOTIFICATIONS_CRASH", "after-send")]);
    wait_loaded(&env.log, mark).await;
    set_image(&ns, "app", "nginx:1.21").await;
    eventually_ok("the controller stopped after sending", T, || async { env.controller_exited().map(|_| ()) }).await?;
    assert_eq!(updated(&receiver), 3, "the second update was sent once");
    let left = ns.api::<Rollout>().get("app").await?;
    let sending = outbox(&left).ok_or("the notification is recorded as being sent")?;
    assert!(sending.contains("\"state\":\"sending\""), "{sending}");
    env.restart_controller();
    eventually_ok("the unconfirmed entry dropped", T, || async {
        let r = ns.api::<Rollout>().get("app").await.ok()?;
        outbox(&r).is_none().then_some(())
    })
    .await?;
    wait_phase(&ns, "app", "Healthy", T).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(updated(&receiver), 3, "not sent twice: {:#?}", receiver.at("/hooks"));
    Ok(())
}
