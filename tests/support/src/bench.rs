//! What the controller benchmarks share: a process's resources read from /proc, the
//! request counters of a controller's metrics, and many Rollouts created, updated and waited for.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// What a benchmark step can fail with.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// A process's resources at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Resident memory, KiB (VmRSS).
    pub rss_kib: u64,
    /// Peak resident memory so far, KiB (VmHWM).
    pub hwm_kib: u64,
    /// The anonymous part of the resident memory, KiB (RssAnon): heap, stacks, the allocator's
    /// arenas; what the process's data costs.
    pub anon_kib: u64,
    /// The file-backed part, KiB (RssFile): the program's code and read-only data and the shared
    /// libraries, as much of them as is mapped in; the same for any number of Rollouts.
    pub file_kib: u64,
    /// User plus system CPU, seconds.
    pub cpu_s: f64,
}

/// Reads a process's [`Usage`] from /proc (zeros when it is gone).
pub fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Usage {
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        anon_kib: kib("RssAnon:"),
        file_kib: kib("RssFile:"),
        cpu_s: ticks as f64 / 100.0,
    }
}

/// API requests by (resource, verb, status code), summed over any other label (Argo's counter
/// also names the object and its namespace).
pub type Requests = BTreeMap<(String, String, String), f64>;

/// The `controller_clientset_k8s_request_total` counters of a Prometheus text exposition. Argo
/// names resources by kind (`Rollout`) and verbs capitalised (`Get`); Aviary by resource path
/// (`rollouts`, `rollouts/status`) and verbs in lower case. Both are normalised to a lower-case
/// singular resource with the subresource kept, and a lower-case verb.
pub fn requests(text: &str) -> Requests {
    let mut out = Requests::new();
    for line in text.lines().filter(|l| l.starts_with("controller_clientset_k8s_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let label = |name: &str| {
            labels.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string()
        };
        // Argo's parser takes a subresource's path apart one segment short: `.../rollouts/NAME/status`
        // is counted with the Rollout's name as its kind and `status` as its name. Only
        // Rollouts have a status subresource in Argo's CRDs.
        // Its create requests are named by reading the body as JSON, so a create sent as
        // protobuf (client-go's typed clients: Argo's ReplicaSets) is counted with no kind.
        let kind = match (label("name").as_str(), label("kind").as_str()) {
            ("status", _) => "rollout/status".to_string(),
            (_, "") => "(a protobuf body, unnamed by Argo's counter)".to_string(),
            (_, kind) => resource(kind),
        };
        let key = (kind, label("verb").to_lowercase(), label("status_code"));
        *out.entry(key).or_default() += value;
    }
    out
}

fn resource(kind: &str) -> String {
    let (main, sub) = kind.split_once('/').map_or((kind, None), |(m, s)| (m, Some(s)));
    // Argo's kinds are singular already (`ReplicaSet`); Aviary's resources are plural.
    let singular = if main.starts_with(|c: char| c.is_ascii_uppercase()) {
        main.to_lowercase()
    } else if let Some(stem) = main.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        main.strip_suffix('s').unwrap_or(main).to_string()
    };
    match sub {
        Some(s) => format!("{singular}/{s}"),
        None => singular,
    }
}

/// `after - before`, entry by entry.
pub fn requests_between(before: &Requests, after: &Requests) -> Requests {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// The total of a [`Requests`].
pub fn total(requests: &Requests) -> f64 {
    requests.values().sum()
}

/// Creates Rollouts from `manifest(name)`, 32 at a time.
pub async fn create_all<K, F>(api: &Api<K>, names: impl Iterator<Item = String>, manifest: F) -> Result<(), BenchError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    F: Fn(&str) -> Result<K, BenchError>,
{
    let objects: Vec<K> = names.map(|n| manifest(&n)).collect::<Result<_, _>>()?;
    futures::stream::iter(objects)
        .map(|o| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &o).await.map(|_| ()) }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// Sets the image of container `app` in every named Rollout, 32 at a time; returns when each
/// update was accepted (milliseconds since the epoch), by name.
pub async fn set_images<K>(
    api: &Api<K>,
    names: impl Iterator<Item = String>,
    image: &str,
) -> Result<BTreeMap<String, i64>, BenchError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    let sent = futures::stream::iter(names)
        .map(|name| {
            let (api, patch) = (api.clone(), patch.clone());
            async move {
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                Ok::<_, kube::Error>((name, chrono::Utc::now().timestamp_millis()))
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    Ok(sent)
}

/// How many Rollouts run `image` and are Healthy on it (status for the current generation,
/// stable is the current pod hash), read page by page.
pub async fn count_healthy(api: &Api<kube::api::DynamicObject>, image: &str) -> Result<usize, BenchError> {
    let mut healthy = 0;
    let mut continue_token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(2000);
        if let Some(t) = &continue_token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await?;
        healthy += page.items.iter().filter(|r| healthy_on(&r.data, r.metadata.generation, image)).count();
        continue_token = page.metadata.continue_.filter(|t| !t.is_empty());
        if continue_token.is_none() {
            return Ok(healthy);
        }
    }
}

fn healthy_on(rollout: &Value, generation: Option<i64>, image: &str) -> bool {
    let s = |p: &str| rollout.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    s("/spec/template/spec/containers/0/image") == image
        && s("/status/phase") == "Healthy"
        && s("/status/observedGeneration") == generation.unwrap_or(0).to_string()
        && !s("/status/stableRS").is_empty()
        && s("/status/stableRS") == s("/status/currentPodHash")
}

/// Waits until `n` Rollouts are Healthy on `image`; returns how long it took.
pub async fn wait_healthy(
    api: &Api<kube::api::DynamicObject>,
    image: &str,
    n: usize,
    timeout: Duration,
) -> Result<Duration, BenchError> {
    let started = Instant::now();
    loop {
        let healthy = count_healthy(api, image).await?;
        if healthy >= n {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            return Err(format!("only {healthy}/{n} Healthy on {image} after {timeout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_and_aviary_counters_are_read_alike() {
        let text = "# HELP x\n\
            controller_clientset_k8s_request_total{kind=\"Rollout\",name=\"a\",namespace=\"n\",status_code=\"200\",verb=\"Get\"} 3\n\
            controller_clientset_k8s_request_total{kind=\"Rollout\",name=\"b\",namespace=\"n\",status_code=\"200\",verb=\"Get\"} 2\n\
            controller_clientset_k8s_request_total{kind=\"rollouts/status\",verb=\"patch\",status_code=\"409\"} 4\n\
            controller_clientset_k8s_request_total{kind=\"r1\",name=\"status\",namespace=\"n\",status_code=\"200\",verb=\"Update\"} 7\n\
            controller_clientset_k8s_request_total{kind=\"replicasets\",verb=\"create\",status_code=\"201\"} 1\n\
            controller_clientset_k8s_request_total{kind=\"\",name=\"\",namespace=\"\",status_code=\"201\",verb=\"Create\"} 2\n";
        let r = requests(text);
        assert_eq!(r.get(&("rollout".into(), "get".into(), "200".into())), Some(&5.0));
        assert_eq!(r.get(&("rollout/status".into(), "patch".into(), "409".into())), Some(&4.0));
        assert_eq!(r.get(&("replicaset".into(), "create".into(), "201".into())), Some(&1.0));
        assert_eq!(r.get(&("rollout/status".into(), "update".into(), "200".into())), Some(&7.0));
        let unnamed = ("(a protobuf body, unnamed by Argo's counter)".to_string(), "create".into(), "201".into());
        assert_eq!(r.get(&unnamed), Some(&2.0));
        assert_eq!(total(&r), 19.0);
        assert_eq!(resource("services"), "service");
        assert_eq!(resource("ingresses"), "ingress");
        assert_eq!(resource("Service"), "service");
        let later = requests(&text.replace("} 1\n", "} 6\n"));
        assert_eq!(total(&requests_between(&r, &later)), 5.0);
    }
}
