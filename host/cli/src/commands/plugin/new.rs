//! `aviary plugin new`: a ready plugin project, in Rust, Python or JavaScript.
//!
//! Every project holds the WIT of the contract its kind is written against (`wit/plugin.wit`:
//! `aviary:plugin@0.1.0` for providers and conditions, `0.2.0` for traffic routers and step
//! plugins), a config type, a test that passes, a README, and a build command that produces a
//! component. Traffic routers and step plugins have a Rust template only. Tool
//! versions are pinned in the project itself; the same versions are pinned for CI in
//! `plugins/examples/install-tools.sh` (a test checks they agree).
//!
//! A Rust project gets the SDK crate copied into `vendor/`: the SDK is not on crates.io, and a
//! copy of the SDK of the very contract version this binary serves is what a project made by it
//! needs, with nothing to fetch but crates.io packages.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use aviary_plugins::registry::PluginKind;

/// componentize-py, which builds Python components (PyPI).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// jco, which drives componentize-js and generates TypeScript types (npm).
pub const JCO_VERSION: &str = "1.24.6";
/// componentize-js, which builds JavaScript components (npm).
pub const COMPONENTIZE_JS_VERSION: &str = "0.21.0";
/// The contract the provider and condition templates are written against.
const CONTRACT: &str = aviary_plugins::inspect::SUPPORTED_VERSIONS[0];
/// The contract the traffic-router and step templates are written against (their worlds are new
/// in 0.2.0).
const ROUTER_CONTRACT: &str = aviary_plugins::inspect::SUPPORTED_VERSIONS[1];

/// Flags of `plugin new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's name: lower-case letters, digits and '-' (`error-rate`).
    name: String,
    /// Where to create the project (a directory that does not exist, or is empty)
    /// [default: ./NAME].
    path: Option<PathBuf>,
    /// The language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// What the plugin implements.
    #[arg(long, value_enum, default_value_t = Kind::MetricProvider)]
    kind: Kind,
}

/// The languages with a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the aviary-plugin-sdk crate.
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with jco and componentize-js.
    Js,
}

/// `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A metric provider: takes measurements.
    MetricProvider,
    /// A condition evaluator: judges values.
    Condition,
    /// A traffic router: shifts a canary's traffic by editing routing objects (Rust only;
    /// contract 0.2.0).
    TrafficRouter,
    /// A step plugin: a canary `plugin:` step that waits for a condition or does a task (Rust
    /// only; contract 0.2.0).
    Step,
}

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    let files = project(&args.name, args.lang, args.kind)?;
    write_project(&dir, &files)?;
    let lang = match args.lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
    };
    println!("created {} ({lang} {}) in {}", args.name, kind(args.kind).as_str(), dir.display());
    println!("next: cd {} and read README.md (build, test, register)", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn kind(k: Kind) -> PluginKind {
    match k {
        Kind::MetricProvider => PluginKind::MetricProvider,
        Kind::Condition => PluginKind::Condition,
        Kind::TrafficRouter => PluginKind::TrafficRouter,
        Kind::Step => PluginKind::Step,
    }
}

/// The files of a new project, as (relative path, content).
pub fn project(name: &str, lang: Lang, k: Kind) -> anyhow::Result<Vec<(String, String)>> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-');
    if !valid {
        bail!("{name:?} is not a plugin name: use lower-case letters, digits and '-', starting with a letter");
    }
    let v0_2 = matches!(k, Kind::TrafficRouter | Kind::Step);
    if v0_2 && lang != Lang::Rust {
        bail!(
            "a {} project is Rust only: use --lang rust (the Python and JavaScript templates \
             are metric providers and conditions, contract 0.1.0)",
            kind(k).as_str()
        );
    }
    let provider = k == Kind::MetricProvider;
    let contract = if v0_2 { ROUTER_CONTRACT } else { CONTRACT };
    let crate_name = name.replace('-', "_");
    let world = kind(k).as_str();
    let wasm = match lang {
        Lang::Rust => format!("target/wasm32-wasip2/release/{crate_name}.wasm"),
        _ => format!("{crate_name}.wasm"),
    };
    let (language, tools, build, unit_test) = match lang {
        Lang::Rust => (
            "Rust",
            "Rust 1.85 or later with the WebAssembly target: `rustup target add wasm32-wasip2`. The SDK\n\
             (aviary-plugin-sdk) is in `vendor/`, copied by `aviary plugin new`."
                .to_string(),
            "cargo build --release --target wasm32-wasip2".to_string(),
            "cargo test".to_string(),
        ),
        Lang::Python => (
            "Python",
            format!(
                "Python 3.10 or later and componentize-py {COMPONENTIZE_PY_VERSION} (PyPI), best in a virtualenv:\n\n\
                 ```sh\npython3 -m venv .venv && . .venv/bin/activate\npip install componentize-py=={COMPONENTIZE_PY_VERSION}\n```"
            ),
            format!("componentize-py -d wit -w {world} componentize app -o {wasm}"),
            "python3 -m unittest".to_string(),
        ),
        Lang::Js => (
            "JavaScript",
            format!(
                "Node.js 20 or later. `npm install` installs the versions pinned in package.json:\n\
                 jco {JCO_VERSION} and componentize-js {COMPONENTIZE_JS_VERSION} (npm). `npm run types` writes\n\
                 TypeScript declarations of the WIT to `types/` for your editor."
            ),
            "npm install\nnpm run build".to_string(),
            "npm test".to_string(),
        ),
    };
    let vars: Vec<(&str, String)> = vec![
        ("name", name.to_string()),
        ("crate", crate_name.clone()),
        ("world", world.to_string()),
        ("wasm", wasm),
        ("contract", contract.to_string()),
        ("language", language.to_string()),
        ("tools", tools),
        ("build", build),
        ("unit_test", unit_test),
        ("componentize_py", COMPONENTIZE_PY_VERSION.to_string()),
        ("jco", JCO_VERSION.to_string()),
        ("componentize_js", COMPONENTIZE_JS_VERSION.to_string()),
    ];
    let render = |text: &str| render(text, &vars, provider);
    let (readme, wit) = match k {
        Kind::TrafficRouter => (templates::README_ROUTER, templates::WIT_V0_2),
        Kind::Step => (templates::README_STEP, templates::WIT_V0_2),
        Kind::MetricProvider | Kind::Condition => (templates::README, templates::WIT),
    };
    let mut files = vec![("README.md".to_string(), render(readme)), ("wit/plugin.wit".to_string(), wit.to_string())];
    if provider {
        files.push(("test/config.json".into(), templates::CONFIG.to_string()));
        files.push(("test/replay.json".into(), templates::REPLAY.to_string()));
    }
    match lang {
        Lang::Rust => {
            let (cargo, lib) = match k {
                Kind::MetricProvider => (templates::rust::CARGO, templates::rust::PROVIDER),
                Kind::Condition => (templates::rust::CARGO, templates::rust::CONDITION),
                Kind::TrafficRouter => (templates::rust::ROUTER_CARGO, templates::rust::ROUTER),
                Kind::Step => (templates::rust::STEP_CARGO, templates::rust::STEP),
            };
            files.push(("Cargo.toml".into(), render(cargo)));
            files.push(("src/lib.rs".into(), render(lib)));
            files.push((".gitignore".into(), "/target\n".into()));
            files.extend(vendored_sdk());
        }
        Lang::Python => {
            let (app, module, test) = if provider {
                (
                    templates::python::APP_PROVIDER,
                    ("provider.py", templates::python::PROVIDER),
                    templates::python::TEST_PROVIDER,
                )
            } else {
                (
                    templates::python::APP_CONDITION,
                    ("condition.py", templates::python::CONDITION),
                    templates::python::TEST_CONDITION,
                )
            };
            files.push(("app.py".into(), render(app)));
            files.push((module.0.into(), render(module.1)));
            files.push((format!("test_{}", module.0), render(test)));
            files.push((".gitignore".into(), "*.wasm\n__pycache__/\n.venv/\n".into()));
        }
        Lang::Js => {
            let (app, test) = if provider {
                (templates::js::APP_PROVIDER, templates::js::TEST_PROVIDER)
            } else {
                (templates::js::APP_CONDITION, templates::js::TEST_CONDITION)
            };
            files.push(("package.json".into(), render(templates::js::PACKAGE)));
            files.push(("app.js".into(), render(app)));
            files.push(("test/app.test.js".into(), render(test)));
            files.push(("test/host.js".into(), templates::js::HOST.to_string()));
            files.push(("test/register.js".into(), templates::js::REGISTER.to_string()));
            files.push((".gitignore".into(), "*.wasm\nnode_modules/\ntypes/\n".into()));
        }
    }
    Ok(files)
}

/// Substitutes `{{var}}` and keeps `{{#provider}}...{{/provider}}` or
/// `{{#condition}}...{{/condition}}` sections (each on lines of their own) by kind.
fn render(text: &str, vars: &[(&str, String)], provider: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut keep = true;
    for line in text.split_inclusive('\n') {
        match line.trim_end() {
            "{{#provider}}" => keep = provider,
            "{{#condition}}" => keep = !provider,
            "{{/provider}}" | "{{/condition}}" => keep = true,
            _ if keep => out.push_str(line),
            _ => {}
        }
    }
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

/// The SDK and the value crate, as a project outside Aviary's workspace builds them.
fn vendored_sdk() -> Vec<(String, String)> {
    let sdk = "vendor/aviary-plugin-sdk";
    // The SDK finds the WIT two levels up, as in Aviary's tree (wit/v0.1 for providers and
    // conditions, wit/v0.2 for routers and steps); here that is the project's wit/, which holds
    // the WIT of the project's contract (the other version's modules are behind a feature it
    // leaves off).
    let wit_path = |s: &str| {
        s.replace("path: \"../../wit/v0.1\"", "path: \"../../wit\"")
            .replace("path: \"../../wit/v0.2\"", "path: \"../../wit\"")
    };
    let mut files = vec![
        (format!("{sdk}/Cargo.toml"), templates::sdk::CARGO.to_string()),
        ("vendor/aviary-value/Cargo.toml".to_string(), templates::sdk::VALUE_CARGO.to_string()),
        ("vendor/aviary-value/src/lib.rs".to_string(), templates::sdk::VALUE_LIB.to_string()),
        ("vendor/aviary-value/src/duration.rs".to_string(), templates::sdk::VALUE_DURATION.to_string()),
    ];
    for (file, text) in templates::sdk::SOURCES {
        files.push((format!("{sdk}/src/{file}"), wit_path(text)));
    }
    files
}

fn write_project(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty", dir.display());
    }
    for (path, text) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// The template files, embedded in the binary.
mod templates {
    pub const README: &str = include_str!("../../../templates/common/README.md");
    pub const README_ROUTER: &str = include_str!("../../../templates/common/README.router.md");
    pub const README_STEP: &str = include_str!("../../../templates/common/README.step.md");
    pub const CONFIG: &str = include_str!("../../../templates/common/config.json");
    pub const REPLAY: &str = include_str!("../../../templates/common/replay.json");
    pub const WIT: &str = include_str!("../../../../../wit/v0.1/plugin.wit");
    pub const WIT_V0_2: &str = include_str!("../../../../../wit/v0.2/plugin.wit");

    pub mod rust {
        pub const CARGO: &str = include_str!("../../../templates/rust/Cargo.toml");
        pub const PROVIDER: &str = include_str!("../../../templates/rust/provider.rs");
        pub const CONDITION: &str = include_str!("../../../templates/rust/condition.rs");
        pub const ROUTER_CARGO: &str = include_str!("../../../templates/rust/router.Cargo.toml");
        pub const ROUTER: &str = include_str!("../../../templates/rust/router.rs");
        pub const STEP_CARGO: &str = include_str!("../../../templates/rust/step.Cargo.toml");
        pub const STEP: &str = include_str!("../../../templates/rust/step.rs");
    }

    pub mod python {
        pub const APP_PROVIDER: &str = include_str!("../../../templates/python/app_provider.py");
        pub const PROVIDER: &str = include_str!("../../../templates/python/provider.py");
        pub const TEST_PROVIDER: &str = include_str!("../../../templates/python/test_provider.py");
        pub const APP_CONDITION: &str = include_str!("../../../templates/python/app_condition.py");
        pub const CONDITION: &str = include_str!("../../../templates/python/condition.py");
        pub const TEST_CONDITION: &str = include_str!("../../../templates/python/test_condition.py");
    }

    pub mod js {
        pub const PACKAGE: &str = include_str!("../../../templates/js/package.json");
        pub const APP_PROVIDER: &str = include_str!("../../../templates/js/app_provider.js");
        pub const TEST_PROVIDER: &str = include_str!("../../../templates/js/test_provider.js");
        pub const APP_CONDITION: &str = include_str!("../../../templates/js/app_condition.js");
        pub const TEST_CONDITION: &str = include_str!("../../../templates/js/test_condition.js");
        pub const HOST: &str = include_str!("../../../templates/js/host.js");
        pub const REGISTER: &str = include_str!("../../../templates/js/register.js");
    }

    pub mod sdk {
        pub const CARGO: &str = include_str!("../../../templates/rust/sdk.Cargo.toml");
        pub const VALUE_CARGO: &str = include_str!("../../../templates/rust/value.Cargo.toml");
        pub const VALUE_LIB: &str = include_str!("../../../../../common/value/src/lib.rs");
        pub const VALUE_DURATION: &str = include_str!("../../../../../common/value/src/duration.rs");
        pub const SOURCES: &[(&str, &str)] = &[
            ("lib.rs", include_str!("../../../../../plugins/sdk/src/lib.rs")),
            ("auth.rs", include_str!("../../../../../plugins/sdk/src/auth.rs")),
            ("civil.rs", include_str!("../../../../../plugins/sdk/src/civil.rs")),
            ("condition.rs", include_str!("../../../../../plugins/sdk/src/condition.rs")),
            ("duration.rs", include_str!("../../../../../plugins/sdk/src/duration.rs")),
            ("fake.rs", include_str!("../../../../../plugins/sdk/src/fake.rs")),
            ("gojson.rs", include_str!("../../../../../plugins/sdk/src/gojson.rs")),
            ("http.rs", include_str!("../../../../../plugins/sdk/src/http.rs")),
            ("jsonpath.rs", include_str!("../../../../../plugins/sdk/src/jsonpath.rs")),
            ("kubernetes.rs", include_str!("../../../../../plugins/sdk/src/kubernetes.rs")),
            ("log.rs", include_str!("../../../../../plugins/sdk/src/log.rs")),
            ("measurement.rs", include_str!("../../../../../plugins/sdk/src/measurement.rs")),
            ("notifier.rs", include_str!("../../../../../plugins/sdk/src/notifier.rs")),
            ("notifier/gostruct.rs", include_str!("../../../../../plugins/sdk/src/notifier/gostruct.rs")),
            ("notifier/gourl.rs", include_str!("../../../../../plugins/sdk/src/notifier/gourl.rs")),
            ("notifier/retry.rs", include_str!("../../../../../plugins/sdk/src/notifier/retry.rs")),
            ("preinit.rs", include_str!("../../../../../plugins/sdk/src/preinit.rs")),
            ("provider.rs", include_str!("../../../../../plugins/sdk/src/provider.rs")),
            ("provider2.rs", include_str!("../../../../../plugins/sdk/src/provider2.rs")),
            ("router.rs", include_str!("../../../../../plugins/sdk/src/router.rs")),
            ("sigv4.rs", include_str!("../../../../../plugins/sdk/src/sigv4.rs")),
            ("step.rs", include_str!("../../../../../plugins/sdk/src/step.rs")),
            ("url.rs", include_str!("../../../../../plugins/sdk/src/url.rs")),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_kept_by_kind_and_variables_substituted() {
        let text = "a {{name}}\n{{#provider}}\np\n{{/provider}}\n{{#condition}}\nc\n{{/condition}}\nz\n";
        let vars = [("name", "x".to_string())];
        assert_eq!(render(text, &vars, true), "a x\np\nz\n");
        assert_eq!(render(text, &vars, false), "a x\nc\nz\n");
    }

    #[test]
    fn names_must_be_plain() {
        assert!(project("error-rate", Lang::Rust, Kind::MetricProvider).is_ok());
        for bad in ["", "Error", "-x", "x-", "a_b", "a/b", "1x"] {
            assert!(project(bad, Lang::Js, Kind::Condition).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_project_has_the_wit_a_readme_and_no_placeholder_left() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            for k in [Kind::MetricProvider, Kind::Condition] {
                let files = project("error-rate", lang, k).unwrap();
                let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
                assert!(names.contains(&"wit/plugin.wit") && names.contains(&"README.md"), "{lang:?} {k:?}");
                for (path, text) in &files {
                    if path.starts_with("vendor/") || path == "wit/plugin.wit" {
                        continue;
                    }
                    for bad in ["{{name", "{{crate", "{{world", "{{wasm", "{{#", "{{/"] {
                        assert!(!text.contains(bad), "{lang:?} {k:?} {path}: {bad}");
                    }
                }
            }
        }
        let rust = project("error-rate", Lang::Rust, Kind::MetricProvider).unwrap();
        let provider = rust.iter().find(|(p, _)| p == "vendor/aviary-plugin-sdk/src/provider.rs").unwrap();
        assert!(provider.1.contains("path: \"../../wit\""));
    }

    fn file<'a>(files: &'a [(String, String)], path: &str) -> &'a str {
        files.iter().find(|(p, _)| p == path).map(|(_, t)| t.as_str()).unwrap_or_else(|| panic!("no {path}"))
    }

    #[test]
    fn a_router_project_is_rust_against_contract_0_2_0() {
        let files = project("my-router", Lang::Rust, Kind::TrafficRouter).unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for expected in ["README.md", "wit/plugin.wit", "Cargo.toml", "src/lib.rs", ".gitignore"] {
            assert!(names.contains(&expected), "{expected} missing: {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("test/")), "no HTTP recording for a router: {names:?}");
        for (path, text) in files.iter().filter(|(p, _)| !p.starts_with("vendor/") && p != "wit/plugin.wit") {
            assert!(!text.contains("{{"), "{path}: a placeholder is left");
        }
        let wit = file(&files, "wit/plugin.wit");
        assert!(wit.contains(&format!("package aviary:plugin@{ROUTER_CONTRACT};")), "the WIT is 0.2.0's");
        assert!(wit.contains("world traffic-router"));
        let cargo = file(&files, "Cargo.toml");
        assert!(cargo.contains("name = \"my_router\""), "{cargo}");
        assert!(cargo.contains("aviary:plugin@0.2.0, world `traffic-router`"), "{cargo}");
        assert!(cargo.contains("default-features = false, features = [\"router\"]"), "{cargo}");
        assert!(file(&files, "src/lib.rs").contains("export_router!(Split);"));
        let readme = file(&files, "README.md");
        assert!(readme.contains("`aviary:plugin@0.2.0`, world `traffic-router`"), "{readme}");
        assert!(readme.contains("target/wasm32-wasip2/release/my_router.wasm"), "{readme}");
        assert!(readme.contains("kind: traffic-router"), "{readme}");
        // The vendored SDK's router finds the project's wit/, as its providers do.
        let router = file(&files, "vendor/aviary-plugin-sdk/src/router.rs");
        assert!(router.contains("path: \"../../wit\","), "the router bindings read the project's wit/");
        assert!(!router.contains("\"../../wit/v0."));
    }

    #[test]
    fn a_router_in_another_language_is_refused_naming_rust() {
        for lang in [Lang::Python, Lang::Js] {
            let err = project("my-router", lang, Kind::TrafficRouter).unwrap_err().to_string();
            assert!(err.contains("Rust only") && err.contains("--lang rust"), "{lang:?}: {err}");
        }
    }

    #[test]
    fn a_step_project_is_rust_against_contract_0_2_0() {
        let files = project("my-gate", Lang::Rust, Kind::Step).unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for expected in ["README.md", "wit/plugin.wit", "Cargo.toml", "src/lib.rs", ".gitignore"] {
            assert!(names.contains(&expected), "{expected} missing: {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("test/")), "no HTTP recording for a step: {names:?}");
        for (path, text) in files.iter().filter(|(p, _)| !p.starts_with("vendor/") && p != "wit/plugin.wit") {
            assert!(!text.contains("{{"), "{path}: a placeholder is left");
        }
        let wit = file(&files, "wit/plugin.wit");
        assert!(wit.contains(&format!("package aviary:plugin@{ROUTER_CONTRACT};")), "the WIT is 0.2.0's");
        assert!(wit.contains("world step"));
        let cargo = file(&files, "Cargo.toml");
        assert!(cargo.contains("name = \"my_gate\""), "{cargo}");
        assert!(cargo.contains("aviary:plugin@0.2.0, world `step`"), "{cargo}");
        assert!(cargo.contains("default-features = false, features = [\"step\"]"), "{cargo}");
        assert!(cargo.contains("default-features = false, features = [\"step\", \"testing\"]"), "{cargo}");
        assert!(!cargo.contains("\"router\""), "a step's tests do not pull in the router world: {cargo}");
        assert!(file(&files, "src/lib.rs").contains("export_step!(Approval);"));
        let readme = file(&files, "README.md");
        assert!(readme.contains("`aviary:plugin@0.2.0`, world `step`"), "{readme}");
        assert!(readme.contains("target/wasm32-wasip2/release/my_gate.wasm"), "{readme}");
        assert!(readme.contains("kind: step") && readme.contains("name: acme/my-gate"), "{readme}");
        // The vendored SDK's step module finds the project's wit/, and the SDK has its feature.
        let step = file(&files, "vendor/aviary-plugin-sdk/src/step.rs");
        assert!(step.contains("path: \"../../wit\","), "the step bindings read the project's wit/");
        assert!(!step.contains("\"../../wit/v0."));
        let sdk = file(&files, "vendor/aviary-plugin-sdk/Cargo.toml");
        assert!(sdk.contains("\nstep = [") && sdk.contains("\ntesting = [\"dep:json-patch\"]"), "{sdk}");
    }

    #[test]
    fn a_step_in_another_language_is_refused_naming_rust() {
        for lang in [Lang::Python, Lang::Js] {
            let err = project("my-gate", lang, Kind::Step).unwrap_err().to_string();
            assert!(err.starts_with("a step project is Rust only: use --lang rust"), "{lang:?}: {err}");
        }
    }

    #[test]
    fn each_kind_names_the_contract_of_its_wit() {
        let package = |wit: &str| {
            wit.lines()
                .find_map(|l| l.strip_prefix("package aviary:plugin@"))
                .map(|v| v.trim_end_matches(';').to_string())
        };
        assert_eq!(package(templates::WIT).as_deref(), Some(CONTRACT));
        assert_eq!(package(templates::WIT_V0_2).as_deref(), Some(ROUTER_CONTRACT));
        assert_eq!(ROUTER_CONTRACT, "0.2.0");
    }

    /// A generated project vendors the SDK: every source file of plugins/sdk/src must be in it.
    #[test]
    fn every_sdk_source_file_is_vendored() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/sdk/src"));
        // Every .rs file below src/, as a path relative to it (`notifier/retry.rs`).
        let mut on_disk: Vec<String> = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
                if e.is_dir() {
                    pending.push(e);
                } else if e.extension().is_some_and(|x| x == "rs") {
                    on_disk.push(e.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut vendored: Vec<String> = templates::sdk::SOURCES.iter().map(|(n, _)| n.to_string()).collect();
        vendored.sort();
        assert_eq!(vendored, on_disk);
    }

    #[test]
    fn the_pinned_tool_versions_are_the_ones_ci_installs() {
        let script = include_str!("../../../../../plugins/examples/install-tools.sh");
        for (var, version) in [
            ("COMPONENTIZE_PY_VERSION", COMPONENTIZE_PY_VERSION),
            ("JCO_VERSION", JCO_VERSION),
            ("COMPONENTIZE_JS_VERSION", COMPONENTIZE_JS_VERSION),
        ] {
            assert!(script.contains(&format!("\n{var}={version}\n")), "{var} is not {version} in install-tools.sh");
        }
    }
}
