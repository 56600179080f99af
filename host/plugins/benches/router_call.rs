//! Router-call benchmark: the numbers of docs/benchmarks.md ("Traffic routers: one router
//! operation").
//!
//! `cargo bench -p aviary-plugins --bench router_call` prints:
//! - p50/p99/p99.9 of one `set-weight` of the first-party `aviary/smi`, end to end as the
//!   controller calls it (`PluginHost::route`): a fresh instance, the Rollout
//!   (router_call_rollout.json) and the router's config and state in, one `get` and one `patch`
//!   of an existing TrafficSplit through the host's `kubernetes` import, answered from memory;
//! - the same operation when the weight is already set (one `get`, no write), and `update-hash`,
//!   which SMI does not use (no Kubernetes call: the instance, the context and the call alone);
//! - `set-weight` of the same component loaded without grants: its one `get` is refused by the
//!   host's grant check, so the call crosses the boundary and comes back without reaching the
//!   API or carrying an object;
//! - the in-memory API's own time per get and per patch, called natively;
//! - from these, what one call of the `kubernetes` import costs (host and guest together: the
//!   grant check, JSON across the boundary both ways, the guest decoding the answer), without
//!   the API server it would reach.
//!
//! The anchor, Argo Rollouts' router plugins (go-plugin processes called over net/rpc), is
//! measured by `go_plugin_router/run.sh` with the same Rollout.
//!
//! Each call is timed on its own (no batching), after warm-up calls. The four cases take turns,
//! one call each, and share the same in-memory API, so that the differences between them are the
//! router's and the host's, not the machine's.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::kubernetes::{KubernetesApi, KubernetesCall, KubernetesError, KubernetesResult, PatchKind, Verb};
use aviary_plugins::{HostConfig, PluginHost, RouterCall, RouterError, RouterOperation};
use serde_json::{Value, json};

const WARMUP: usize = 500;
const SAMPLES: usize = 20_000;
const ROLLOUT: &str = include_str!("router_call_rollout.json");

/// An API server that answers from memory: objects by kind and name, merge patches applied and
/// the resourceVersion bumped, as the controller's client would see them. Counts the calls.
#[derive(Default)]
struct Memory {
    objects: Mutex<HashMap<(String, String), Value>>,
    gets: Mutex<u64>,
    patches: Mutex<u64>,
}

impl Memory {
    fn answer(&self, call: KubernetesCall) -> KubernetesResult {
        let key = (call.kind.clone(), call.name.clone());
        let mut objects = self.objects.lock().unwrap();
        match call.verb {
            Verb::Get => {
                *self.gets.lock().unwrap() += 1;
                objects.get(&key).cloned().ok_or(KubernetesError::NotFound(call.name))
            }
            Verb::Create => {
                let mut body = call.body.unwrap_or_default();
                body["metadata"]["resourceVersion"] = json!("1");
                objects.insert(key, body.clone());
                Ok(body)
            }
            Verb::Patch => {
                *self.patches.lock().unwrap() += 1;
                let Some(o) = objects.get_mut(&key) else { return Err(KubernetesError::NotFound(call.name)) };
                assert_eq!(call.patch, Some(PatchKind::Merge));
                json_patch::merge(o, &call.body.unwrap_or_default());
                let version: u64 = o["metadata"]["resourceVersion"].as_str().unwrap_or("0").parse().unwrap_or(0);
                o["metadata"]["resourceVersion"] = json!((version + 1).to_string());
                Ok(o.clone())
            }
            other => Err(KubernetesError::Rejected { code: 405, message: format!("{other:?}") }),
        }
    }

    fn counts(&self) -> (u64, u64) {
        (*self.gets.lock().unwrap(), *self.patches.lock().unwrap())
    }
}

impl KubernetesApi for Memory {
    fn call(&self, call: KubernetesCall) -> Pin<Box<dyn Future<Output = KubernetesResult> + Send + '_>> {
        Box::pin(async move { self.answer(call) })
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    p999: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Stats { p50: at(0.50), p99: at(0.99), p999: at(0.999), mean }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let rollout: Value = serde_json::from_str(ROLLOUT).unwrap();
    let rollout = rollout.to_string();
    let config = r#"{"rootService": "checkout", "trafficSplitName": "checkout"}"#;
    let cache = tempfile::tempdir().unwrap();
    let host =
        PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
    let api = Arc::new(Memory::default());
    let call = |state: Option<&'static str>| RouterCall {
        namespace: "shop",
        rollout_name: "checkout",
        rollout: &rollout,
        config,
        state,
    };
    let set_weight = |weight| RouterOperation::SetWeight { weight, additional: Vec::new() };

    // The first call compiles aviary/smi and creates the TrafficSplit (Argo's v1alpha1 first);
    // its state, the version found, goes back in every later call, as the controller does.
    let first = host.route("aviary/smi", call(None), &set_weight(5), api.clone()).await.unwrap();
    let state: &'static str = Box::leak(first.state.expect("smi keeps the version it found").into_boxed_str());
    let split = api.objects.lock().unwrap()[&("TrafficSplit".to_string(), "checkout".to_string())].clone();
    println!("## Traffic routers: one router operation (aviary-plugins)\n");
    println!(
        "Rollout {} bytes of JSON, TrafficSplit {} bytes, state {state}; {SAMPLES} timed calls after {WARMUP}\n",
        rollout.len(),
        split.to_string().len()
    );

    // A second TrafficSplit, kept at weight 20, for the operation that finds nothing to change.
    let steady_config = r#"{"rootService": "checkout", "trafficSplitName": "checkout-steady"}"#;
    let steady = |state: Option<&'static str>| RouterCall { config: steady_config, ..call(state) };
    host.route("aviary/smi", steady(None), &set_weight(20), api.clone()).await.unwrap();

    // The same component without grants (loaded by bytes, as `aviary plugin run ./x.wasm` would):
    // its get is refused by the host before any API call, and the router gives up.
    let smi = aviary_plugins::builtin::find("aviary/smi").unwrap();
    host.load_bytes("bench/smi-without-grants", smi.bytes, AllowedHosts::none()).unwrap();

    let update_hash = RouterOperation::UpdateHash {
        canary_hash: "7c9f6d5b8".into(),
        stable_hash: "6d4c8b9f7".into(),
        additional: Vec::new(),
    };
    // The four cases take turns, one call each, so that they share the machine's moods (this
    // 2-core VM is shared and bimodal): their differences are the router's and the host's.
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let before = api.counts();
    for i in 0..WARMUP + SAMPLES {
        // set-weight with a new weight each time (10, 20, 10, ...): one get and one patch.
        let op = set_weight(if i % 2 == 0 { 10 } else { 20 });
        let t = Instant::now();
        let r = host.route("aviary/smi", call(Some(state)), &op, api.clone()).await;
        let write = t.elapsed();
        assert_eq!(r.map(|r| r.state), Ok(None));

        // set-weight with the weight already in place: one get, no write.
        let t = Instant::now();
        let r = host.route("aviary/smi", steady(Some(state)), &set_weight(20), api.clone()).await;
        let read = t.elapsed();
        assert!(r.is_ok(), "{r:?}");

        // update-hash: SMI routes by Service, not by hash; no Kubernetes call at all.
        let t = Instant::now();
        let r = host.route("aviary/smi", call(Some(state)), &update_hash, api.clone()).await;
        let none = t.elapsed();
        assert!(r.is_ok(), "{r:?}");

        // set-weight without grants: one get, refused by the host.
        let t = Instant::now();
        let r = host.route("bench/smi-without-grants", call(Some(state)), &set_weight(30), api.clone()).await;
        let denied = t.elapsed();
        assert!(matches!(&r, Err(RouterError::Router { message, .. }) if message.contains("not granted")), "{r:?}");

        if i >= WARMUP {
            for (s, d) in samples.iter_mut().zip([write, read, none, denied]) {
                s.push(d);
            }
        }
    }
    let after = api.counts();
    let n = (WARMUP + SAMPLES) as u64;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (2 * n, n),
        "per turn: a get and a patch, a get, nothing, and a refused get that never reaches the API"
    );
    let [write, read, none, denied] = samples.map(stats);

    // The in-memory API on its own, called natively: what the import's figure includes of it.
    let get = KubernetesCall {
        verb: Verb::Get,
        api_version: "split.smi-spec.io/v1alpha1".into(),
        kind: "TrafficSplit".into(),
        namespace: "shop".into(),
        name: "checkout".into(),
        label_selector: None,
        body: None,
        patch: None,
    };
    let mut get_samples = Vec::with_capacity(SAMPLES);
    let mut patch_samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let weight = if i % 2 == 0 { "10" } else { "20" };
        let patch = KubernetesCall {
            verb: Verb::Patch,
            body: Some(json!({"spec": {"backends": [
                {"service": "checkout-canary", "weight": weight},
                {"service": "checkout-stable", "weight": "80"},
            ]}})),
            patch: Some(PatchKind::Merge),
            ..get.clone()
        };
        let t = Instant::now();
        api.call(get.clone()).await.unwrap();
        let g = t.elapsed();
        let t = Instant::now();
        api.call(patch).await.unwrap();
        let p = t.elapsed();
        if i >= WARMUP {
            get_samples.push(g);
            patch_samples.push(p);
        }
    }
    let api_get = stats(get_samples);
    let api_patch = stats(patch_samples);

    println!("| operation (aviary/smi, fresh instance per call) | Kubernetes calls | p50 | p99 | p99.9 | mean |");
    println!("|---|---|---|---|---|---|");
    for (name, calls, s) in [
        ("set-weight, new weight", "get + patch", &write),
        ("set-weight, weight already set", "get", &read),
        ("update-hash (SMI: nothing to do)", "none", &none),
        ("set-weight without grants (the get refused by the host)", "get, refused", &denied),
    ] {
        println!(
            "| {name} | {calls} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs |",
            us(s.p50),
            us(s.p99),
            us(s.p999),
            us(s.mean)
        );
    }
    println!();
    println!("in-memory API alone (native): get p50 {:.1} µs, patch p50 {:.1} µs", us(api_get.p50), us(api_patch.p50));
    println!(
        "kubernetes import, a refused call (the crossing and the grant check, no API, no object): {:.1} µs",
        us(denied.p50) - us(none.p50)
    );
    let per_get = us(read.p50) - us(none.p50);
    let per_patch = us(write.p50) - us(read.p50);
    println!(
        "kubernetes import, per call (p50 differences, the router's own work on the answer included): \
         get {per_get:.1} µs ({:.1} µs without the API's own), patch {per_patch:.1} µs ({:.1} µs without the API's own)",
        per_get - us(api_get.p50),
        per_patch - us(api_patch.p50)
    );
    println!(
        "router operation with one get and one patch: p50 {:.1} µs, of which the instance, the context and the call \
         {:.1} µs and the two imports {:.1} µs",
        us(write.p50),
        us(none.p50),
        us(write.p50) - us(none.p50)
    );
}
