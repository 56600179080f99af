//! `restart-apiserver` on a private cluster (it would disturb every test of a shared one): open
//! watches must see a real disconnection, and the same kubeconfig must work afterwards.

use std::time::Duration;

use aviary_test_support::{Cluster, wait_for_object};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    Api,
    api::{PostParams, WatchEvent, WatchParams},
};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[tokio::test]
async fn restarting_the_apiserver_breaks_watches_and_keeps_the_kubeconfig_valid() -> TestResult {
    let cluster = Cluster::start().await?;
    let client = cluster.client().await?;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(client.clone());

    // A raw watch (no automatic re-list/re-watch, unlike kube::runtime::watcher), with a server-side
    // timeout far beyond the test, so the stream can only end through the disconnection.
    let params = WatchParams::default().timeout(290);
    let mut watch = config_maps.watch(&params, "0").await?.boxed();
    config_maps
        .create(&PostParams::default(), &serde_json::from_value(serde_json::json!({"metadata": {"name": "before"}}))?)
        .await?;
    let added = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match watch.try_next().await? {
                Some(WatchEvent::Added(cm)) => return Ok::<_, kube::Error>(cm),
                Some(WatchEvent::Bookmark(_)) => {}
                other => panic!("expected the Added event of the watch, got {other:?}"),
            }
        }
    })
    .await??;
    assert_eq!(added.metadata.name.as_deref(), Some("before"));

    cluster.restart_apiserver().await?;

    // The watch must end (or fail) by itself: the connection was cut.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match watch.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(WatchEvent::Error(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch did not notice the apiserver restart");

    // The same client and kubeconfig work against the new apiserver, and the data survived (etcd).
    let fresh: Api<ConfigMap> = Api::default_namespaced(cluster.client().await?);
    assert!(fresh.get("before").await.is_ok(), "object created before the restart is still there");
    config_maps
        .create(&PostParams::default(), &serde_json::from_value(serde_json::json!({"metadata": {"name": "after"}}))?)
        .await?;

    // The controller-manager, scheduler and fake kubelet reconnected too: a Deployment still works.
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "after-restart"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "after-restart"}},
            "template": {
                "metadata": {"labels": {"app": "after-restart"}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.19-alpine"}]}
            }
        }
    }))?;
    deployments.create(&PostParams::default(), &deployment).await?;
    let available =
        |d: Option<&Deployment>| d.and_then(|d| d.status.as_ref()).is_some_and(|s| s.available_replicas == Some(1));
    wait_for_object(&deployments, "after-restart", Duration::from_secs(90), available).await?;
    Ok(())
}
