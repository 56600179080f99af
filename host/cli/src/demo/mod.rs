//! `aviary demo`: the whole product on a fresh machine, in one command.
//!
//! It starts a real control plane (tests/cluster), installs the CRDs, runs `aviary-controller`,
//! serves a metrics endpoint on loopback, deploys the demo Rollout ([`app`]), rolls out a new
//! image and shows the live `get rollout --watch` view until the update is promoted (or, with
//! `--fail`, aborted by a failing analysis). Everything it started is stopped on exit, on error
//! and on Ctrl-C.

pub mod app;
pub mod processes;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aviary_api::{AnalysisTemplate, Rollout};
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::json;

use crate::commands::follow::{Ended, Flow, fetch, follow};
use crate::commands::kubeargs::{Connection, install_crypto_provider};
use crate::commands::ops;
use crate::render::info::{RolloutInfo, rollout_info};
use crate::render::screen::Screen;
use crate::render::tree::{Style, render};
use crate::render::{stdout_color, stdout_width};

/// The controller's namespace in the demo (its ConfigMap would live there).
const CONTROLLER_NAMESPACE: &str = "argo-rollouts";
/// The field manager of everything the demo applies.
const MANAGER: &str = "aviary-demo";

/// How the demo is run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Make the analysis fail, so the update is aborted.
    pub fail: bool,
    /// Release blue-green instead of canary.
    pub blue_green: bool,
    /// Print one line per change instead of the live view (for CI and logs).
    pub no_watch: bool,
    /// Give up after this long.
    pub timeout: Duration,
}

/// How the demo ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// What the demo set out to show happened (promotion, or abort with `--fail`).
    Shown,
    /// The rollout ended the other way.
    Unexpected,
    /// The timeout passed.
    TimedOut,
    /// Ctrl-C.
    Interrupted,
}

fn say(started: Instant, what: &str) {
    eprintln!("demo [{:>5.1}s] {what}", started.elapsed().as_secs_f64());
}

/// Runs the demo; everything it started is stopped before it returns.
pub async fn run(options: Options) -> anyhow::Result<Outcome> {
    let body = demo(options);
    tokio::pin!(body);
    tokio::select! {
        r = &mut body => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ndemo: interrupted; stopping the controller and the control plane...");
            Ok(Outcome::Interrupted)
        }
    }
}

async fn demo(options: Options) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let testcluster = processes::testcluster_binary()?;
    let controller_cmd = processes::controller_command()?;
    say(started, "starting a Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, controllers, fake nodes)");
    let mut cluster = processes::start_cluster(&testcluster).await?;
    let client = client(&cluster.kubeconfig).await?;
    say(started, "installing the Argo Rollouts CRDs");
    install_crds(&client).await?;
    for ns in [CONTROLLER_NAMESPACE, app::NAMESPACE] {
        apply(
            &Api::<Namespace>::all(client.clone()),
            ns,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    say(started, "starting aviary-controller");
    let log = cluster.dir.join("aviary-controller.log");
    let mut controller = processes::start_controller(controller_cmd, &cluster.kubeconfig, CONTROLLER_NAMESPACE, &log)?;

    let metrics = app::Metrics::start(0.01).await?;
    say(started, &format!("serving the demo's metrics on {} (error rate 1%)", metrics.url()));
    let conn = Connection { client: client.clone(), namespace: app::NAMESPACE.to_string() };
    // The dashboard beside it, to watch the demo in a browser (port 3100, or any free one).
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:3100").await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let dashboard_url = crate::commands::dashboard::url(&listener, app::NAMESPACE)?;
    let metrics_url = format!("http://127.0.0.1:{}/metrics", processes::CONTROLLER_METRICS_PORT);
    tokio::spawn(crate::commands::dashboard::serve(
        listener,
        conn.clone(),
        CONTROLLER_NAMESPACE.to_string(),
        metrics_url,
        std::future::pending(),
    ));
    say(started, &format!("the dashboard: {dashboard_url} (open it to watch the rollout, promote or abort)"));
    wait_for_service_account(&client).await?;
    apply(
        &Api::<AnalysisTemplate>::namespaced(client.clone(), app::NAMESPACE),
        "error-rate",
        &app::analysis_template(&metrics.url()),
    )
    .await?;
    let manifest = if options.blue_green {
        for name in [app::ACTIVE_SERVICE, app::PREVIEW_SERVICE] {
            apply(&Api::<Service>::namespaced(client.clone(), app::NAMESPACE), name, &app::service(name)).await?;
        }
        app::blue_green_rollout()
    } else {
        app::rollout()
    };
    apply(&Api::<Rollout>::namespaced(client.clone(), app::NAMESPACE), app::ROLLOUT, &manifest).await?;
    say(started, &format!("deployed rollout {}/{} with {} (revision 1)", app::NAMESPACE, app::ROLLOUT, app::IMAGE_V1));
    wait_until(&conn, Duration::from_secs(120), |i| i.status == "Healthy", &mut controller).await?;

    let story = if options.fail && options.blue_green {
        metrics.go_bad_after(1);
        format!("its error rate will climb to {:.0}% while the preview is analysed", app::BAD_ERROR_RATE * 100.0)
    } else if options.fail {
        metrics.go_bad_after_one_analysis();
        format!("its error rate will climb to {:.0}% during the second analysis", app::BAD_ERROR_RATE * 100.0)
    } else {
        "its error rate stays at 1%".to_string()
    };
    say(
        started,
        &format!(
            "revision 1 is Healthy; rolling out {} (revision 2): {story} (the analysis allows {:.0}%)",
            app::IMAGE_V2,
            app::MAX_ERROR_RATE * 100.0
        ),
    );
    let update = Instant::now();
    ops::set_image(&conn, app::ROLLOUT, app::CONTAINER, app::IMAGE_V2).await?;

    let want = if options.fail { "Degraded" } else { "Healthy" };
    let outcome = watch(&conn, &metrics, options, want).await?;
    let took = update.elapsed().as_secs();
    match outcome {
        Outcome::Shown if options.fail && options.blue_green => eprintln!(
            "\n✖ The pre-promotion analysis measured a {:.0}% error rate (limit {:.0}%), so Aviary aborted the update after \
             {took} s: the active Service never left revision 1, and the preview's pods are gone.",
            metrics.error_rate() * 100.0,
            app::MAX_ERROR_RATE * 100.0
        ),
        Outcome::Shown if options.blue_green => eprintln!(
            "\n✔ Revision 2 ({}) is stable after {took} s: the preview came up, its analysis passed ({} measurements), \
             the active Service switched, and revision 1 was scaled down.",
            app::IMAGE_V2,
            metrics.hits()
        ),
        Outcome::Shown if options.fail => eprintln!(
            "\n✖ The analysis measured a {:.0}% error rate (limit {:.0}%), so Aviary aborted the update after {took} s: \
             every pod runs revision 1 again and the rollout is Degraded until you `aviary retry` or `aviary undo` it.",
            metrics.error_rate() * 100.0,
            app::MAX_ERROR_RATE * 100.0
        ),
        Outcome::Shown => eprintln!(
            "\n✔ Revision 2 ({}) is stable after {took} s: 25% → 50% → 100%, every analysis passed ({} measurements).",
            app::IMAGE_V2,
            metrics.hits()
        ),
        Outcome::Unexpected => eprintln!("\nthe rollout did not end {want}; the controller's log:\n{}", tail(&log, 30)),
        Outcome::TimedOut => {
            eprintln!("\ntimed out after {:?}; the controller's log:\n{}", options.timeout, tail(&log, 30));
        }
        Outcome::Interrupted => {}
    }
    say(started, "stopping the controller and the control plane");
    controller.stop();
    cluster.proc.stop();
    Ok(outcome)
}

/// Shows the rollout until it is `want` (or the other final status), live or line by line.
async fn watch(conn: &Connection, metrics: &app::Metrics, options: Options, want: &str) -> anyhow::Result<Outcome> {
    let mut screen = Screen::new();
    let color = stdout_color();
    let mut last_line = String::new();
    let mut result = Outcome::TimedOut;
    let started = Instant::now();
    let ended = follow(conn, app::ROLLOUT, Some(options.timeout), |objects| {
        let info = rollout_info(objects, chrono::Utc::now());
        // Done once the previous version's pods (or, aborted, the new version's) are gone, not
        // merely when the status says so.
        let only = |image: &str| !info.images.is_empty() && info.images.iter().all(|i| i.image == image);
        let finished = (info.status == "Healthy" && only(app::IMAGE_V2))
            || (info.status == "Degraded"
                && (info.actual_weight == Some(0) || (options.blue_green && only(app::IMAGE_V1))));
        if options.no_watch {
            let line = progress_line(&info);
            if line != last_line {
                println!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64());
                last_line = line;
            }
        } else {
            let style = Style { width: stdout_width(), color };
            let footer = format!(
                "\nmetrics endpoint {}: error rate {:.0}%, queried {} times · Ctrl-C to stop\n",
                metrics.url(),
                metrics.error_rate() * 100.0,
                metrics.hits()
            );
            let frame = render(&info, style) + &footer;
            let key = if screen.is_live() { String::new() } else { render(&info.without_ages(), style) + &footer };
            screen.draw_keyed(&frame, &key)?;
        }
        if finished {
            result = if info.status == want { Outcome::Shown } else { Outcome::Unexpected };
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    })
    .await?;
    screen.finish();
    Ok(match ended {
        Ended::Stopped => result,
        Ended::TimedOut => Outcome::TimedOut,
        Ended::Interrupted => Outcome::Interrupted,
    })
}

/// One line of `--no-watch`: status, step, weights and what the rollout waits for.
pub fn progress_line(info: &RolloutInfo) -> String {
    let mut line = info.status.clone();
    if let Some(step) = &info.step {
        line.push_str(&format!("  step {step}"));
    }
    if let (Some(set), Some(actual)) = (info.set_weight, info.actual_weight) {
        line.push_str(&format!("  weight set {set} / actual {actual}"));
    }
    // The message, unless "waiting for" already says it (it often rephrases the message).
    let message = info.message.strip_prefix("waiting for ").unwrap_or(&info.message);
    if !message.is_empty() && !info.waiting_for.as_deref().unwrap_or_default().contains(message) {
        line.push_str(&format!("  ({})", info.message));
    }
    if let Some(w) = &info.waiting_for {
        line.push_str(&format!("  waiting for: {w}"));
    }
    line
}

/// Polls until `done` holds for the rollout's view, failing if the controller dies.
async fn wait_until(
    conn: &Connection,
    timeout: Duration,
    done: impl Fn(&RolloutInfo) -> bool,
    controller: &mut processes::Proc,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        controller.check_running()?;
        if let Ok(objects) = fetch(conn, app::ROLLOUT).await
            && done(&rollout_info(&objects, chrono::Utc::now()))
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("rollout {} did not become ready within {timeout:?}", app::ROLLOUT);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn client(kubeconfig: &std::path::Path) -> anyhow::Result<Client> {
    install_crypto_provider();
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn apply<K>(api: &Api<K>, name: &str, value: &serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(value))
        .await
        .with_context(|| format!("applying {name}"))?;
    Ok(())
}

/// Server-side applies the CRDs (generated from the same types as deploy/crds/) and waits until
/// the API server serves them.
async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = aviary_api::crd::all();
    for (_, crd) in &crds {
        api.patch(&crd.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(crd)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (_, crd) in &crds {
        loop {
            let current = api.get(&crd.name_any()).await?;
            let established = current
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"));
            if established {
                break;
            }
            if Instant::now() > deadline {
                bail!("CRD {} not established after 60 s", crd.name_any());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Pods can only be created once the namespace's `default` ServiceAccount exists.
async fn wait_for_service_account(client: &Client) -> anyhow::Result<()> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), app::NAMESPACE);
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt("default").await?.is_none() {
        if Instant::now() > deadline {
            bail!("the default ServiceAccount of {} did not appear", app::NAMESPACE);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
