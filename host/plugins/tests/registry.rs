//! Registry entries load on their own: a bad entry is reported by name, the others work.

mod common;

use aviary_plugins::registry::RegistryFile;
use aviary_plugins::{CallContext, Error, Phase};

const HOSTILE: &str = "aviary_test_hostile.wasm";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_entry_works_beside_a_wrong_digest_and_a_missing_file() {
    let host = common::host();
    let path = common::test_component(HOSTILE);
    let digest = aviary_plugins::cache::sha256_hex(&common::read_component(HOSTILE));
    let wrong = "0".repeat(64);
    let registry = RegistryFile::parse(&format!(
        "plugins:\n\
         - {{name: test/good, kind: metric-provider, location: 'file://{p}', sha256: {digest}}}\n\
         - {{name: test/wrong-digest, kind: metric-provider, location: 'file://{p}', sha256: '{wrong}'}}\n\
         - {{name: test/missing, kind: metric-provider, location: 'file:///nonexistent/plugin.wasm'}}\n",
        p = path.display()
    ))
    .unwrap();
    let results = host.load_registry(&registry).await;
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["test/good", "test/wrong-digest", "test/missing"]);
    assert_eq!(results[0].1.as_ref().unwrap().sha256, digest);
    match &results[1].1 {
        Err(e @ Error::DigestMismatch { name, actual, .. }) => {
            assert_eq!(name, "test/wrong-digest");
            assert_eq!(actual, &digest);
            assert!(e.to_string().starts_with("plugin \"test/wrong-digest\": sha256 mismatch"), "{e}");
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    match &results[2].1 {
        Err(e @ Error::Fetch { name, .. }) => {
            assert_eq!(name, "test/missing");
            assert!(e.to_string().contains("/nonexistent/plugin.wasm"), "{e}");
        }
        other => panic!("expected a fetch error, got {other:?}"),
    }

    let ctx = CallContext::default();
    let good = host.measure("test/good", &ctx, r#"{"value": 7}"#).await;
    assert_eq!((good.phase, good.value.as_deref()), (Phase::Measured, Some("7")));
    // Runs that name a broken entry get an Error measurement naming it and why.
    let broken = host.measure("test/wrong-digest", &ctx, "{}").await;
    assert_eq!(broken.phase, Phase::Error);
    assert!(
        broken.message.starts_with("unavailable: plugin \"test/wrong-digest\" failed to load: "),
        "{}",
        broken.message
    );
    assert!(broken.message.contains("sha256 mismatch"), "{}", broken.message);
    assert_eq!(host.broken().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_component_is_verified_before_use_and_kept_for_restarts() {
    let bytes = common::read_component(HOSTILE);
    let digest = aviary_plugins::cache::sha256_hex(&bytes);
    let served = bytes.clone();
    let addr = common::serve(
        "127.0.0.1",
        axum::Router::new().route("/p.wasm", axum::routing::get(move || async move { served })),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let host = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let doc = format!(
        "plugins: [{{name: test/remote, kind: metric-provider, location: 'http://{addr}/p.wasm', sha256: {digest}}}]"
    );
    let results = host.load_registry(&RegistryFile::parse(&doc).unwrap()).await;
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    assert!(dir.path().join("downloads").join(format!("{digest}.wasm")).exists());

    // A tampered download is refused.
    let tampered = format!(
        "plugins: [{{name: test/tampered, kind: metric-provider, location: 'http://{addr}/p.wasm', sha256: '{}'}}]",
        "1".repeat(64)
    );
    let results = host.load_registry(&RegistryFile::parse(&tampered).unwrap()).await;
    assert!(matches!(results[0].1, Err(Error::DigestMismatch { .. })), "{:?}", results[0].1);

    // A restart while the server is gone still loads the verified copy.
    let host2 = aviary_plugins::PluginHost::new(aviary_plugins::HostConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let gone = format!(
        "plugins: [{{name: test/remote, kind: metric-provider, location: 'http://127.0.0.1:9/p.wasm', sha256: {digest}}}]"
    );
    let results = host2.load_registry(&RegistryFile::parse(&gone).unwrap()).await;
    let info = results[0].1.as_ref().expect("loaded from the download cache");
    assert!(info.cached, "the compiled artifact should come from the compile cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_of_the_wrong_kind_or_not_components_are_refused() {
    let host = common::host();
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let doc = format!(
        "plugins:\n\
         - {{name: test/core, kind: condition, location: 'file://{}'}}\n\
         - {{name: test/kind, kind: condition, location: 'file://{}'}}\n",
        core.display(),
        common::test_component(HOSTILE).display()
    );
    let results = host.load_registry(&RegistryFile::parse(&doc).unwrap()).await;
    let msg = |i: usize| results[i].1.as_ref().unwrap_err().to_string();
    assert!(msg(0).contains("a core WebAssembly module, not a component"), "{}", msg(0));
    assert!(
        msg(1).contains("declared as a condition plugin, but the component implements the metric-provider world"),
        "{}",
        msg(1)
    );
}

#[test]
fn inspect_reports_world_version_and_interfaces() {
    let host = common::host();
    let info = host.inspect("hostile", &common::read_component(HOSTILE)).unwrap();
    assert_eq!(info.world, Some(aviary_plugins::PluginKind::MetricProvider));
    assert_eq!(info.version.as_deref(), Some("0.1.0"));
    assert!(info.imports.iter().any(|i| i == "aviary:plugin/http@0.1.0"), "{:?}", info.imports);
    assert!(info.exports.iter().any(|e| e == "measure"));
    let expr = aviary_plugins::builtin::find("aviary/expr").unwrap();
    let info = host.inspect("expr", expr.bytes).unwrap();
    assert_eq!(info.world, Some(aviary_plugins::PluginKind::Condition));
    assert!(
        !info.imports.iter().any(|i| i.starts_with("aviary:plugin/http")),
        "a condition has no network: {:?}",
        info.imports
    );
}
