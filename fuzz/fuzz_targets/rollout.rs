//! A Rollout as a user (or another controller) may write it, with a cluster state: decoded and
//! schema-checked as `aviary plan` and the controller read it, validated as Argo validates it,
//! and every replica decision the engine makes for it. Nothing may panic.
#![no_main]

use aviary_engine::plan::{Scenario, check_valid, desired_now, walk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenario) = Scenario::from_yaml_checked(text, "fuzz") else { return };
    let _ = aviary_api::validation::validate_rollout(&scenario.rollout);
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    match &scenario.state {
        Some(state) => {
            let _ = desired_now(&scenario.rollout, state, now);
        }
        // A walk simulates every pod of the update: keep it to sizes a person would plan.
        None if scenario.rollout.spec.replicas_or_default() <= 200
            && scenario.rollout.spec.canary().is_none_or(|c| c.steps.len() <= 40) =>
        {
            if check_valid(&scenario.rollout).is_ok() {
                let _ = walk(&scenario.rollout, now);
            }
        }
        None => {}
    }
});
