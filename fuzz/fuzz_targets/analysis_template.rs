//! An AnalysisTemplate (or ClusterAnalysisTemplate, or AnalysisRun) as a user may write it:
//! decoded and schema-checked, validated as Argo validates it, and run through the analysis state
//! machine with recorded measurements for each metric (values, errors, NaN). Nothing may panic.
#![no_main]

use aviary_api::AnalysisPhase;
use aviary_engine::replay::{Recorded, Recording, load_template, replay};
use aviary_value::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(template) = load_template(text, "fuzz") else { return };
    let _ = aviary_api::validation::validate_analysis_template(&template);
    let feed = || {
        vec![
            Recorded::Value(Value::Number(0.97)),
            Recorded::Value(Value::Number(f64::NAN)),
            Recorded::Phase { phase: AnalysisPhase::Error, message: "boom".into() },
            Recorded::Value(Value::Array(vec![])),
            Recorded::Phase { phase: AnalysisPhase::Failed, message: String::new() },
        ]
    };
    let recording = Recording {
        args: template.args.iter().map(|a| (a.name.clone(), "x".to_string())).collect(),
        measurements: template.metrics.iter().map(|m| (m.name.clone(), feed())).collect(),
        start: None,
    };
    // Conditions are the condition plugin's: here every one holds unless it says `false`.
    let evaluate = |expression: &str, _value: &str| -> Result<bool, String> {
        if expression.contains("false") { Ok(false) } else { Ok(true) }
    };
    let _ = replay(&template, &recording, &evaluate);
});
