//! `aviary dashboard` in a real browser (Debian's Chromium, driven over WebDriver by
//! chromium-driver), against a real control plane with `aviary-controller` running: the list
//! shows the namespace's Rollouts and follows a step change without a reload, the analysis page
//! charts the measured points, and the Promote and Abort buttons change the Rollout as `aviary
//! promote` and `aviary abort` do. Screenshots of the pages are saved to docs/dashboard/.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aviary_api::{AnalysisTemplate, Rollout};
use aviary_test_support::e2e::{
    self, Metrics, TestResult, create, eventually_ok, rollout, set_image, wait_phase, web_template,
};
use aviary_test_support::{cluster, namespace};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

/// A child process killed when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A W3C WebDriver session on chromium-driver.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Killed,
}

impl Browser {
    async fn start() -> Result<Browser, String> {
        let port = e2e::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("chromedriver (Debian's chromium-driver; scripts/prerequisites.sh installs it): {e}")
            })?;
        let driver = Killed(driver);
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}}}});
        let session = eventually_ok("a WebDriver session", T, || async {
            let r = http.post(format!("{root}/session")).body(caps.to_string()).send().await.ok()?;
            let v: Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
            v["value"]["sessionId"].as_str().map(str::to_string)
        })
        .await?;
        Ok(Browser { http, base: format!("{root}/session/{session}"), _driver: driver })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let r = request.send().await.expect("webdriver");
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("webdriver answer")).expect("JSON");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url})).await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    async fn js(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": []})).await
    }

    async fn click(&self, css: &str) {
        let el = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
        let id = el.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap_or_default().to_string();
        assert!(!id.is_empty(), "no element {css}: {el}");
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
    }

    async fn accept_alert(&self) {
        eventually_ok("the confirmation", T, || async {
            let v = self.call(reqwest::Method::POST, "/alert/accept", json!({})).await;
            v.is_null().then_some(())
        })
        .await
        .expect("a confirmation dialog");
    }

    /// Waits until `script` returns something truthy in the page.
    async fn until(&self, what: &str, script: &str) -> Value {
        eventually_ok(what, T, || async {
            let v = self.js(script).await;
            (!v.is_null() && v != json!(false) && v != json!("") && v != json!(0)).then_some(v)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Saves a screenshot to docs/dashboard/<name>.png.
    async fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let v = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("a PNG");
        let dir = e2e::repo().join("docs/dashboard");
        std::fs::create_dir_all(&dir).expect("docs/dashboard");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_charts_and_acts_in_a_real_browser() -> TestResult {
    e2e::env_with(&e2e::controller_binary()).await;
    let ns = namespace("dashboard").await?;
    let metrics = Metrics::start(0.97).await;
    let mut template = web_template("smoke", &metrics.url(), "1s", 4);
    template["spec"]["metrics"][0]["provider"]["web"]["jsonPath"] = json!("{$.value}");
    template["spec"]["metrics"][0]["successCondition"] = json!("result >= 0.9");
    let _: AnalysisTemplate = create(&ns, template).await;
    // Values that move, as a real metric's do (all above the threshold).
    let moving = metrics.clone();
    tokio::spawn(async move {
        for v in [0.95, 0.92, 0.98, 0.94, 0.99, 0.93].iter().cycle() {
            moving.set(*v);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    });
    let steps = json!([{"setWeight": 25}, {"pause": {}}, {"analysis": {"templates": [{"templateName": "smoke"}]}},
                       {"setWeight": 75}, {"pause": {}}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout("shop", 4, "nginx:1.19", steps, json!({}))).await;
    wait_phase(&ns, "shop", "Healthy", T).await;

    let kubeconfig = cluster().await?.kubeconfig_path().to_path_buf();
    let port = e2e::free_port();
    let dashboard = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["dashboard", "--port", &port.to_string(), "-n", ns.name()])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--controller-metrics", &format!("http://127.0.0.1:{}/metrics", e2e::env().await.ports.0)])
        .stdout(Stdio::null())
        .spawn()?;
    let _dashboard = Killed(dashboard);
    let url = format!("http://127.0.0.1:{port}");
    eventually_ok("the dashboard serving", T, || async {
        reqwest::get(&url).await.ok().filter(|r| r.status().is_success())
    })
    .await?;
    let browser = Browser::start().await?;

    // The list, live: the update's first step appears without a reload.
    browser.goto(&format!("{url}/#/ns/{}", ns.name())).await;
    let status = browser
        .until(
            "the rollout listed",
            "return document.querySelector('tr[data-rollout=shop] .status .badge')?.dataset.status",
        )
        .await;
    assert_eq!(status, "Healthy");
    browser.js("window.__marker = 'same page'; return true").await;
    set_image(&ns, "shop", "nginx:1.20").await;
    let step = browser
        .until(
            "the step change shown",
            "const s = document.querySelector('tr[data-rollout=shop] .step')?.textContent; return s === '1/6' && s",
        )
        .await;
    assert_eq!(step, "1/6");
    browser
        .until(
            "paused shown",
            "return document.querySelector('tr[data-rollout=shop] .status .badge')?.dataset.status === 'Paused'",
        )
        .await;
    assert_eq!(browser.js("return window.__marker").await, "same page", "no reload happened");
    browser.screenshot("rollouts").await;

    // Promote from the Rollout's page: what `aviary promote` does (the pause condition removed,
    // the next step taken).
    browser.goto(&format!("{url}/#/ns/{}/rollouts/shop", ns.name())).await;
    browser.until("the rollout page", "return document.querySelector('#step')?.textContent === '1/6'").await;
    browser.click("button[data-action=promote]").await;
    let promoted = eventually_ok("promoted past the pause", T, || async {
        let r: Rollout = ns.api::<Rollout>().get("shop").await.ok()?;
        let s = r.status?;
        (s.current_step_index >= Some(2)).then_some(s)
    })
    .await?;
    assert!(promoted.pause_conditions.is_empty() && !promoted.abort, "{promoted:?}");

    // The analysis step's run, charted point by point.
    let run = browser
        .until("the analysis run in the tree", "return document.querySelector('[data-analysisrun] a')?.textContent")
        .await;
    let run = run.as_str().unwrap_or_default().to_string();
    browser.goto(&format!("{url}/#/ns/{}/analysisruns/{run}", ns.name())).await;
    let points = browser
        .until("four measured points", "const n = document.querySelectorAll('[data-metric=ok] circle.point[data-phase=Successful]').length; return n >= 4 && n")
        .await;
    assert_eq!(points, 4);
    let conditions = browser.js("return document.querySelector('[data-metric=ok] .cond').textContent").await;
    assert!(conditions.as_str().unwrap_or_default().contains("result >= 0.9"), "{conditions}");
    browser.screenshot("analysis").await;

    // Abort at the second pause, confirmed: what `aviary abort` does.
    wait_phase(&ns, "shop", "Paused", T).await;
    browser.goto(&format!("{url}/#/ns/{}/rollouts/shop", ns.name())).await;
    browser.until("the second pause", "return document.querySelector('#step')?.textContent === '4/6'").await;
    browser.screenshot("rollout").await;
    browser.click("button[data-action=abort]").await;
    browser.accept_alert().await;
    let aborted = wait_phase(&ns, "shop", "Degraded", T).await;
    assert!(aborted.status.unwrap_or_default().abort, "status.abort set as `aviary abort` sets it");
    browser
        .until("Degraded shown", "return document.querySelector('#summary .badge')?.dataset.status === 'Degraded'")
        .await;

    // The plugin registry, with the controller's call counts.
    browser.goto(&format!("{url}/#/plugins")).await;
    let web = browser.until("aviary/web listed with its calls", "const r = document.querySelector('tr[data-plugin=\"aviary/web\"]'); return r && r.textContent.includes('ok:') && r.textContent").await;
    assert!(web.as_str().unwrap_or_default().contains("metric-provider"), "{web}");
    browser.screenshot("plugins").await;
    Ok(())
}

/// The dashboard reads and writes only the shared API: against Argo Rollouts' own controller
/// (built from its Go module by tests/argo), its set-image and promote actions move a canary
/// through its pause to Healthy, and its view shows each state as Argo wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_drives_argos_controller_too() -> TestResult {
    use aviary_test_support::oracle::{Controller, Crds, Side, argo_dir};
    let argo = argo_dir()?;
    let side = Side::start("argo", Crds::Argo, Controller::Argo, &argo, &e2e::controller_binary()).await?;
    let client = side.client().await?;
    let ns = "dashboard-argo";
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    namespaces.create(&Default::default(), &serde_json::from_value(json!({"metadata": {"name": ns}}))?).await?;
    let rollouts: kube::Api<Rollout> = kube::Api::namespaced(client.clone(), ns);
    let manifest: Rollout =
        serde_json::from_value(rollout("app", 2, "nginx:1.19", json!([{"setWeight": 50}, {"pause": {}}]), json!({})))?;
    rollouts.create(&Default::default(), &manifest).await?;

    let port = e2e::free_port();
    let dashboard = Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(["dashboard", "--port", &port.to_string(), "-n", ns])
        .arg("--kubeconfig")
        .arg(side.kubeconfig_path())
        .stdout(Stdio::null())
        .spawn()?;
    let _dashboard = Killed(dashboard);
    let api = format!("http://127.0.0.1:{port}/api/rollouts/app");
    let http = reqwest::Client::new();
    let view = |want: &'static str| {
        let (http, api) = (http.clone(), api.clone());
        async move {
            eventually_ok(&format!("Argo's rollout {want} in the dashboard"), T, || async {
                let r = http.get(&api).send().await.ok()?;
                let v: Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
                (v["status"] == want).then_some(v)
            })
            .await
        }
    };
    view("Healthy").await?;
    let post = |action: &'static str, body: Value| {
        let (http, api) = (http.clone(), api.clone());
        async move {
            let r = http
                .post(format!("{api}/{action}"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?;
            assert!(r.status().is_success(), "{action}: {}", r.text().await.unwrap_or_default());
            Ok::<_, reqwest::Error>(())
        }
    };
    post("set-image", json!({"container": "app", "image": "nginx:1.20"})).await?;
    let paused = view("Paused").await?;
    assert_eq!(paused["step"], "1/2", "{paused}");
    assert_eq!(paused["setWeight"], 50, "{paused}");
    post("promote", json!({})).await?;
    let done = view("Healthy").await?;
    assert!(done["images"].to_string().contains("nginx:1.20"), "{done}");
    let ro = rollouts.get("app").await?;
    let st = ro.status.unwrap_or_default();
    assert!(st.pause_conditions.is_empty() && st.stable_rs == st.current_pod_hash, "{st:?}");
    Ok(())
}
