//! A metric provider that misbehaves on request. Tests use it to prove that a plugin which loops,
//! exhausts memory, panics, probes the filesystem or the environment, calls a host it was not
//! granted, or answers garbage costs one `Error` measurement and never the host.
//!
//! `config.mode` picks the behaviour; `ok` (the default) measures `config.value` honestly, so
//! the same component also shows that the host keeps working after each misbehaviour.

use std::time::Duration;

use aviary_plugin_sdk::provider::bindings;
use aviary_plugin_sdk::provider::bindings::aviary::plugin::types as wit;
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, Value, http, log};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    variable: Option<String>,
}

struct Hostile;

impl Provider for Hostile {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        match config.mode.as_str() {
            "" | "ok" => Ok(Measurement::measured(Value::from_json(config.value.unwrap_or(1.into())))),
            "loop" => {
                log::info("looping forever");
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xA5; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the plugin panicked on purpose"),
            "read-file" => {
                let path = config.path.unwrap_or_else(|| "/etc/hostname".into());
                let text = std::fs::read_to_string(&path).map_err(|e| Error(format!("reading {path}: {e}")))?;
                Ok(Measurement::measured(Value::String(text)))
            }
            "read-env" => {
                let name = config.variable.unwrap_or_else(|| "PATH".into());
                let all: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                match std::env::var(&name) {
                    Ok(v) => Ok(Measurement::measured(Value::String(v))),
                    Err(_) => Err(Error(format!("environment variable {name} not visible ({} visible)", all.len()))),
                }
            }
            "http" => {
                let url = config.url.ok_or_else(|| Error::msg("mode http needs url"))?;
                let resp = http::Request::get(url).timeout(Duration::from_secs(60)).send()?;
                Ok(Measurement::measured(Value::Number(f64::from(resp.status))))
            }
            "flood" => {
                // Asks for far more requests than one call may make; answers how many got a
                // response and the last refusal.
                let url = config.url.ok_or_else(|| Error::msg("mode flood needs url"))?;
                let mut answered = 0u32;
                let mut last_error = String::new();
                for _ in 0..1000 {
                    match http::Request::get(url.clone()).send() {
                        Ok(_) => answered += 1,
                        Err(e) => last_error = e.to_string(),
                    }
                }
                Ok(Measurement::measured(Value::Number(f64::from(answered))).with_message(last_error))
            }
            "sleep-http" => {
                // Blocks in a host call: the host's own deadline must still end it.
                let url = config.url.ok_or_else(|| Error::msg("mode sleep-http needs url"))?;
                let resp = http::Request::get(url).timeout(Duration::from_secs(3600)).send()?;
                Ok(Measurement::measured(Value::Number(f64::from(resp.status))))
            }
            other => Err(Error(format!("unknown mode {other:?}"))),
        }
    }
}

/// The export glue, written by hand (instead of `export_provider!`) so that the lying modes can
/// answer what the SDK's encoder would never produce; the host must bound or refuse each one:
///
/// | mode            | answer                                                             |
/// |-----------------|--------------------------------------------------------------------|
/// | `garbage`       | a value that is not (extended) JSON                                |
/// | `resume-far`    | `running`, resume after 9·10¹⁵ ms (about 285,000 years), forever    |
/// | `resume-max`    | `running`, resume after `u64::MAX` ms, forever                     |
/// | `resume-now`    | `running`, resume after 0 ms, forever                              |
/// | `huge-metadata` | one metadata value of 1 MiB                                        |
/// | `wide-metadata` | 100,000 metadata entries                                           |
/// | `huge-message`  | a message of 1 MiB                                                 |
/// | `deep-value`    | a value nested 10,000 arrays deep                                  |
/// | `float-limits`  | the largest, smallest and negative-zero floats, and 2⁵³+1          |
/// | `float-overflow`| `1e400`, which no 64-bit float holds                               |
/// | `fat`           | a value, message and metadata each just inside the host's bounds    |
struct Export;

fn lie(mode: &str) -> Option<wit::Measurement> {
    let answer = |phase, value: Option<String>, message: String, metadata, resume_after_ms| wit::Measurement {
        phase,
        value,
        message,
        metadata,
        resume_after_ms,
    };
    let measured = |value: &str| answer(wit::Phase::Measured, Some(value.to_string()), String::new(), vec![], None);
    let running = |ms| answer(wit::Phase::Running, None, "still running".into(), vec![], Some(ms));
    Some(match mode {
        "garbage" => measured("{not json"),
        "resume-far" => running(9_000_000_000_000_000),
        "resume-max" => running(u64::MAX),
        "resume-now" => running(0),
        "huge-metadata" => {
            answer(wit::Phase::Measured, Some("1".into()), String::new(), vec![("k".into(), "v".repeat(1 << 20))], None)
        }
        "wide-metadata" => answer(
            wit::Phase::Measured,
            Some("1".into()),
            String::new(),
            (0..100_000).map(|i| (format!("k{i}"), String::new())).collect(),
            None,
        ),
        "huge-message" => answer(wit::Phase::Measured, Some("1".into()), "m".repeat(1 << 20), vec![], None),
        "deep-value" => measured(&format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000))),
        "float-limits" => measured("[1.7976931348623157e308,-1.7976931348623157e308,5e-324,-0,9007199254740993]"),
        "float-overflow" => measured("1e400"),
        "fat" => answer(
            wit::Phase::Measured,
            Some(format!("\"{}\"", "v".repeat(32_000))),
            "m".repeat(4000),
            (0..64).map(|i| (format!("k{i:03}"), "x".repeat(250))).collect(),
            None,
        ),
        _ => return None,
    })
}

fn mode_of(config: &str) -> String {
    serde_json::from_str::<Config>(config).map(|c| c.mode).unwrap_or_default()
}

impl bindings::Guest for Export {
    fn measure(context: wit::Context, config: String) -> wit::Measurement {
        if let Some(answer) = lie(&mode_of(&config)) {
            return answer;
        }
        aviary_plugin_sdk::provider::run_measure::<Hostile>(context, config)
    }

    fn resume(context: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
        if let Some(answer) = lie(&mode_of(&config)) {
            return answer;
        }
        aviary_plugin_sdk::provider::run_resume::<Hostile>(context, config, m)
    }

    fn terminate(context: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
        aviary_plugin_sdk::provider::run_terminate::<Hostile>(context, config, m)
    }
}

bindings::__aviary_export_metric_provider!(Export with_types_in aviary_plugin_sdk::provider::bindings);
