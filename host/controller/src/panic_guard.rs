//! Defence in depth: a panic in one object's reconcile never ends the process.
//!
//! Nothing a plugin answers or an object holds should reach a panic: the boundary bounds plugin
//! answers, the lints of this crate deny `unwrap`, `expect`, indexing and unchecked arithmetic,
//! and fuzzing covers the decoders. Should a bug slip through anyway, [`guarded`] catches the
//! unwind at the edge of one reconcile: the panic is logged with the object, counted in
//! `aviary_reconcile_panics_total{kind}`, and the object is retried with exponential back-off
//! (5 s doubling to 5 min), while every other object keeps being reconciled. Argo's controller,
//! like most Go controllers, crashes on such a panic and takes every Rollout with it.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;

use crate::error::Error;

/// The first retry after a panic; each further panic of the same object doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between retries of an object that keeps panicking.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// The test-only fault hook: a process started with `AVIARY_TEST_PANIC_IN_RECONCILE=<ns>/<name>`
/// (or just `<name>`, in any namespace) panics in every reconcile of the object of that name (of
/// either kind), so that end-to-end tests can show the guard at work. Unset, it costs nothing.
pub const PANIC_HOOK_ENV: &str = "AVIARY_TEST_PANIC_IN_RECONCILE";

/// Consecutive panics per object, for the back-off.
#[derive(Debug, Default)]
pub struct PanicGuard {
    streaks: Mutex<HashMap<String, u32>>,
    inject: Option<String>,
}

impl PanicGuard {
    /// A guard; reads the fault hook ([`PANIC_HOOK_ENV`]) once.
    pub fn from_env() -> Self {
        let inject = std::env::var(PANIC_HOOK_ENV).ok().filter(|v| !v.is_empty());
        if let Some(object) = &inject {
            tracing::warn!("test fault hook {PANIC_HOOK_ENV} set: every reconcile of {object} will panic");
        }
        Self { streaks: Mutex::new(HashMap::new()), inject }
    }

    /// How long to wait before retrying `key` after its latest panic (exponential, capped).
    pub fn retry_after(&self, key: &str) -> Duration {
        let streak = self.streaks.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied().unwrap_or(1);
        let factor = 1u32.checked_shl(streak.saturating_sub(1)).unwrap_or(u32::MAX);
        FIRST_RETRY.saturating_mul(factor).min(MAX_RETRY)
    }

    fn panicked(&self, key: &str) {
        let mut streaks = self.streaks.lock().unwrap_or_else(|p| p.into_inner());
        let streak = streaks.entry(key.to_string()).or_insert(0);
        *streak = streak.saturating_add(1);
    }

    fn finished(&self, key: &str) {
        let mut streaks = self.streaks.lock().unwrap_or_else(|p| p.into_inner());
        if !streaks.is_empty() {
            streaks.remove(key);
        }
    }
}

/// The key of an object in the guard and in its log lines: `Kind namespace/name`.
pub fn key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind} {namespace}/{name}")
}

/// Runs one reconcile of the object `key`, turning a panic into [`Error::Panic`].
pub async fn guarded<F>(
    guard: &PanicGuard,
    metrics: &crate::metrics::Metrics,
    kind: &'static str,
    object: (&str, &str),
    reconcile: F,
) -> Result<kube::runtime::controller::Action, Error>
where
    F: Future<Output = Result<kube::runtime::controller::Action, Error>>,
{
    let key = key(kind, object.0, object.1);
    let injected = guard.inject.as_deref().is_some_and(|o| match o.split_once('/') {
        Some((namespace, name)) => (namespace, name) == object,
        None => o == object.1,
    });
    let run = async move {
        if injected {
            inject_panic();
        }
        reconcile.await
    };
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(result) => {
            guard.finished(&key);
            result
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            guard.panicked(&key);
            metrics.reconcile_panicked(kind);
            tracing::error!(object = %key, "reconcile panicked (retrying with back-off; other objects are unaffected): {message}");
            Err(Error::Panic { object: key, message })
        }
    }
}

/// The fault hook's panic: the one deliberate panic of this crate, reachable only from the test
/// environment variable, never from an object or a plugin.
#[allow(clippy::panic)]
fn inject_panic() {
    panic!("injected by {PANIC_HOOK_ENV}");
}

/// The message of a panic payload (`&str` or `String`, as `panic!` makes them).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::controller::Action;

    #[tokio::test]
    async fn a_panic_becomes_an_error_naming_the_object_and_is_counted() {
        let guard = PanicGuard::default();
        let metrics = crate::metrics::Metrics::default();
        let result = guarded(&guard, &metrics, "Rollout", ("ns", "web"), async {
            let v: Vec<u8> = Vec::new();
            #[allow(clippy::indexing_slicing)]
            let _ = v[3];
            Ok(Action::await_change())
        })
        .await;
        match result {
            Err(Error::Panic { object, message }) => {
                assert_eq!(object, "Rollout ns/web");
                assert!(message.contains("index out of bounds"), "{message}");
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert_eq!(metrics.reconcile_panics("Rollout"), 1);
    }

    #[tokio::test]
    async fn retries_back_off_exponentially_and_reset_after_a_clean_reconcile() {
        let guard = PanicGuard::default();
        let metrics = crate::metrics::Metrics::default();
        let key = key("AnalysisRun", "ns", "run");
        let mut waits = Vec::new();
        for _ in 0..8 {
            let _ = guarded(&guard, &metrics, "AnalysisRun", ("ns", "run"), async {
                inject_panic();
                Ok(Action::await_change())
            })
            .await;
            waits.push(guard.retry_after(&key).as_secs());
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        let ok = guarded(&guard, &metrics, "AnalysisRun", ("ns", "run"), async { Ok(Action::await_change()) }).await;
        assert!(ok.is_ok());
        assert_eq!(guard.retry_after(&key), FIRST_RETRY);
    }

    #[tokio::test]
    async fn the_fault_hook_panics_only_for_its_object() {
        let guard = PanicGuard { inject: Some("ns/bad".into()), ..PanicGuard::default() };
        let metrics = crate::metrics::Metrics::default();
        let bad = guarded(&guard, &metrics, "Rollout", ("ns", "bad"), async { Ok(Action::await_change()) }).await;
        assert!(matches!(bad, Err(Error::Panic { .. })));
        let good = guarded(&guard, &metrics, "Rollout", ("ns", "good"), async { Ok(Action::await_change()) }).await;
        assert!(good.is_ok());
    }
}
