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

/// The export glue, written by hand (instead of `export_provider!`) so that mode `garbage` can
/// answer a value that is not (extended) JSON, which the SDK's encoder would never produce: the
/// host must refuse it as an invalid value.
struct Export;

impl bindings::Guest for Export {
    fn measure(context: wit::Context, config: String) -> wit::Measurement {
        let garbage = serde_json::from_str::<Config>(&config).is_ok_and(|c| c.mode == "garbage");
        if garbage {
            return wit::Measurement {
                phase: wit::Phase::Measured,
                value: Some("{not json".into()),
                message: String::new(),
                metadata: Vec::new(),
                resume_after_ms: None,
            };
        }
        aviary_plugin_sdk::provider::run_measure::<Hostile>(context, config)
    }

    fn resume(context: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
        aviary_plugin_sdk::provider::run_resume::<Hostile>(context, config, m)
    }

    fn terminate(context: wit::Context, config: String, m: wit::Measurement) -> wit::Measurement {
        aviary_plugin_sdk::provider::run_terminate::<Hostile>(context, config, m)
    }
}

bindings::__aviary_export_metric_provider!(Export with_types_in aviary_plugin_sdk::provider::bindings);
