//! `aviary demo --no-watch`, headless as CI runs it: a real control plane, the controller and the
//! demo canary, for both endings. Each run starts its own cluster, so the two run one at a time.

use std::process::Output;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How the demo runs the controller.
enum Controller {
    /// As a user's `cargo run -p aviary-cli -- demo` does: `aviary controller`, in the CLI's
    /// own binary.
    InProcess,
    /// The `aviary-controller` binary (`$AVIARY_CONTROLLER_BIN`).
    Binary,
}

fn demo(extra: &[&str], controller: Controller) -> Output {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aviary"));
    cmd.args(["demo", "--no-watch", "--timeout", "4m"]).args(extra);
    match controller {
        Controller::InProcess => cmd.env_remove("AVIARY_CONTROLLER_BIN"),
        Controller::Binary => cmd.env("AVIARY_CONTROLLER_BIN", aviary_test_support::e2e::controller_binary()),
    };
    cmd.output().expect("run aviary demo")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_demo_promotes_the_canary_through_25_50_100_with_analysis() {
    let out = demo(&[], Controller::InProcess);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The steps the user watches, in order: 25%, its analysis, 50%, its analysis, Healthy.
    let at = |needle: &str| stdout.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{}", show(&out)));
    assert!(at("weight set 25 / actual 25") < at("weight set 50 / actual 50"));
    assert!(at("step 1/5") < at("step 3/5"));
    assert!(at("waiting for: analysis demo-") < at("Healthy  step 5/5"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Revision 2 (registry.example/aviary-demo/web:2.0) is stable")
    );
    // The dashboard's URL, to watch the same rollout in a browser.
    assert!(String::from_utf8_lossy(&out.stderr).contains("the dashboard: http://127.0.0.1:"), "{}", show(&out));
}

#[test]
fn the_demo_with_fail_shows_an_automatic_abort() {
    let out = demo(&["--fail"], Controller::Binary);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("weight set 50"), "the first analysis passes and the canary reaches 50%:\n{}", show(&out));
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains("Degraded") && last.contains("actual 0") && last.contains("RolloutAborted"),
        "{}",
        show(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Aviary aborted the update"));
}

#[test]
fn the_blue_green_demo_switches_after_the_pre_promotion_analysis() {
    let out = demo(&["--blue-green"], Controller::InProcess);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = |needle: &str| stdout.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{}", show(&out)));
    // The preview is analysed before the switch; the rollout ends Healthy.
    assert!(at("waiting for: analysis demo-") < at("Healthy"), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the active Service switched"), "{}", show(&out));
}

#[test]
fn the_blue_green_demo_with_fail_never_switches() {
    let out = demo(&["--blue-green", "--fail"], Controller::Binary);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    assert!(last.contains("Degraded") && last.contains("RolloutAborted"), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never left revision 1"), "{}", show(&out));
}
