//! The two processes the demo runs: a real control plane (`testcluster up`, from
//! tests/cluster) and the controller (`aviary controller`); finding (or building) the control
//! plane's binary; stopping them.
//!
//! Both are started so that they cannot outlive the demo: each holds a pipe to us on stdin
//! (`--exit-on-stdin-eof`, `--exit-on-stdin-close`), which the kernel closes when this process
//! ends for any reason, and each then stops everything it started. [`Proc`]'s `Drop` also stops
//! them at once on a normal exit or Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The repository this binary was built from, if it is still there (it is for `cargo run`).
pub fn source_repo() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    repo.join("tests/cluster/build.sh").exists().then(|| repo.canonicalize().unwrap_or(repo))
}

/// The `testcluster` binary: `$AVIARY_TESTCLUSTER`, else what `tests/cluster/build.sh` builds
/// (seconds when warm; a cold build compiles Kubernetes and takes many minutes, and says so).
pub fn testcluster_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("AVIARY_TESTCLUSTER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let Some(repo) = source_repo() else {
        bail!(
            "the demo needs the `testcluster` binary (a real Kubernetes control plane): build it with \
             tests/cluster/build.sh in Aviary's repository (needs Go) and set AVIARY_TESTCLUSTER to the path it prints"
        );
    };
    eprintln!("demo: building the test control plane (tests/cluster/build.sh; the first build takes ~15-20 min)...");
    let output = Command::new("bash")
        .arg(repo.join("tests/cluster/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .context("running tests/cluster/build.sh (is bash installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default();
    if !output.status.success() || last.is_empty() {
        bail!("tests/cluster/build.sh failed ({}); it needs Go 1.26 on PATH", output.status);
    }
    Ok(PathBuf::from(last))
}

/// How the demo runs the controller: `$AVIARY_CONTROLLER_BIN` when set (an `aviary-controller`
/// built elsewhere), else this very binary as `aviary controller`, which runs the same controller
/// in-process. So `cargo run -p aviary-cli -- demo` needs no second build (building
/// `aviary-controller` on its own would compile the shared dependencies again with other
/// features: 13 minutes on 2 cores).
pub fn controller_command() -> anyhow::Result<Command> {
    if let Some(p) = std::env::var_os("AVIARY_CONTROLLER_BIN").filter(|p| !p.is_empty()) {
        return Ok(Command::new(p));
    }
    let exe = std::env::current_exe().context("locating the aviary binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("controller");
    Ok(cmd)
}

/// A child process that is stopped when dropped: its stdin is closed (asking it to stop
/// gracefully), then it is killed if it is still running after `grace`.
pub struct Proc {
    name: &'static str,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    grace: Duration,
}

impl Proc {
    /// Spawns `cmd` with a piped stdin, stdout and stderr to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path, grace: Duration) -> anyhow::Result<Proc> {
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::piped()).stdout(out.try_clone()?).stderr(out);
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let stdin = child.stdin.take();
        Ok(Proc { name, child: Some(child), stdin, grace })
    }

    /// Fails if the process has already exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("{} exited ({status})", self.name);
        }
        Ok(())
    }

    /// Stops the process (see the type's doc); idempotent.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let Some(mut child) = self.child.take() else { return };
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running control plane: `testcluster up` in a temporary directory it deletes on exit.
pub struct Cluster {
    /// The process (stopped on drop).
    pub proc: Proc,
    /// Its directory (logs, kubeconfig).
    pub dir: PathBuf,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
}

/// Starts `testcluster up` and waits until its kubeconfig exists (it is written last).
pub async fn start_cluster(binary: &Path) -> anyhow::Result<Cluster> {
    let dir = tempfile::Builder::new().prefix("aviary-demo-").tempdir()?.keep(); // `up` deletes it
    let mut cmd = Command::new(binary);
    cmd.arg("up").arg("--dir").arg(&dir).args(["--exit-on-stdin-eof", "--remove-dir-on-exit"]);
    let log = std::env::temp_dir().join(format!("aviary-demo-testcluster-{}.log", std::process::id()));
    let mut proc = Proc::spawn("testcluster", cmd, &log, Duration::from_secs(20))?;
    let kubeconfig = dir.join("kubeconfig");
    let started = Instant::now();
    while !kubeconfig.exists() {
        if let Err(e) = proc.check_running() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(20).collect();
            bail!(
                "{e}; its log ({}) ends with:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if started.elapsed() > Duration::from_secs(180) {
            bail!("the control plane was not ready after 180 s; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_file(&log);
    Ok(Cluster { proc, dir, kubeconfig })
}

/// Starts `aviary-controller` against `kubeconfig`, its config namespace `namespace`.
/// The controller's metrics port in the demo (its default, Argo's `--metricsPort`): the demo's
/// dashboard reads the plugins' calls from it.
pub const CONTROLLER_METRICS_PORT: u16 = 8090;

pub fn start_controller(mut cmd: Command, kubeconfig: &Path, namespace: &str, log: &Path) -> anyhow::Result<Proc> {
    let cache = std::env::var_os("AVIARY_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from).join(".cache/aviary/plugins")
    });
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--namespace", namespace, "--exit-on-stdin-close", "--cache-dir"])
        .arg(cache);
    Proc::spawn("aviary-controller", cmd, log, Duration::from_secs(5))
}
