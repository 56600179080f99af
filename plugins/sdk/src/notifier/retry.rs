//! go-retryablehttp's default retry policy, as Argo's `webhook` service and opsgenie-go-sdk-v2
//! (under Argo's `opsgenie`) use it, fitted to a notifier call's deadline: which outcomes are
//! retried, how long to wait, and the error of the last attempt. One copy, so that every
//! retrying notifier retries alike.
//!
//! A transport error (a connection refused, a reset, a TLS failure), a 429 and a 5xx other than
//! 501 are retried; anything else is final. Not retried, unlike go-retryablehttp: a timeout (the
//! host's timeout is the call's deadline, which a retry cannot beat) and a host the registry entry
//! does not allow. The waits double from [`FIRST_WAIT`], are capped at [`MAX_WAIT`] each (a
//! `Retry-After` in seconds on a 429 or 503 is used instead, under the same cap), and stop when
//! they would add up to more than [`WAIT_BUDGET`].

use std::time::Duration;

use super::{Error, log, status_error};
use crate::http::{self, Request, Response};

/// The first wait between attempts; each next one doubles.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest single wait between attempts (go-retryablehttp's default `RetryWaitMax` is 30 s
/// and Argo's webhook's 5 s; the call's deadline asks for less).
pub const MAX_WAIT: Duration = Duration::from_secs(2);
/// The most all the waits of one notification may add up to, so that the retries fit in the
/// call's deadline (15 s by default).
pub const WAIT_BUDGET: Duration = Duration::from_secs(4);

/// Whether go-retryablehttp's default policy retries after this outcome: a transport error, a
/// 429, a 5xx other than 501. A timeout, a denied host and a response over the host's cap are
/// final here.
pub fn retryable(outcome: &Result<Response, http::Error>) -> bool {
    match outcome {
        Ok(r) => r.status == 429 || (r.status >= 500 && r.status != 501),
        Err(http::Error::Transport(_)) => true,
        Err(_) => false,
    }
}

/// A `Retry-After` in whole seconds on a 429 or a 503 (an HTTP date is not read: the wait
/// doubles as without one).
pub fn retry_after(response: &Response) -> Option<Duration> {
    if response.status != 429 && response.status != 503 {
        return None;
    }
    response.header("retry-after")?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The wait before retry number `retry` (0 for the first), after `waited` in all so far:
/// `Retry-After` when given, else [`FIRST_WAIT`] doubled `retry` times; capped at [`MAX_WAIT`]
/// and at what is left of [`WAIT_BUDGET`]. `None` when the budget is spent: no more retries.
pub fn backoff(retry: u32, retry_after: Option<Duration>, waited: Duration) -> Option<Duration> {
    let left = WAIT_BUDGET.saturating_sub(waited);
    if left.is_zero() {
        return None;
    }
    let doubled = FIRST_WAIT.checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).unwrap_or(MAX_WAIT);
    Some(retry_after.unwrap_or(doubled).min(MAX_WAIT).min(left))
}

/// The verdict on the last attempt's outcome at `target` (`<METHOD> <url>`), after `attempts`
/// attempts: `Ok` for a 2xx, the [`status_error`] of another status, and go-retryablehttp's
/// `<target> giving up after <n> attempt(s): <why>` when no response came.
pub fn verdict(target: &str, outcome: Result<Response, http::Error>, attempts: u32) -> Result<(), Error> {
    match outcome {
        Ok(r) if r.is_success() => Ok(()),
        Ok(r) => Err(status_error(target, &r)),
        Err(e) => Err(Error(format!("{target} giving up after {attempts} attempt(s): {e}"))),
    }
}

/// Sends the request `request` builds (afresh for each attempt) with `send`, retrying as the
/// module docs say for up to `retries` retries and waiting with `sleep` between attempts; the
/// result is the [`verdict`] on the last attempt at `target` (`<METHOD> <url>`, as messages name
/// the request). The network and the clock are passed in so that tests run it natively.
pub fn deliver(
    target: &str,
    retries: u32,
    request: impl Fn() -> Request,
    mut send: impl FnMut(Request) -> Result<Response, http::Error>,
    mut sleep: impl FnMut(Duration),
) -> Result<(), Error> {
    let mut waited = Duration::ZERO;
    let mut retry = 0u32;
    loop {
        let outcome = send(request());
        let attempts = retry + 1;
        if !retryable(&outcome) || retry >= retries {
            return verdict(target, outcome, attempts);
        }
        let after = outcome.as_ref().ok().and_then(retry_after);
        let Some(wait) = backoff(retry, after, waited) else {
            return verdict(target, outcome, attempts);
        };
        let what = match &outcome {
            Ok(r) => format!("status {}", r.status),
            Err(e) => e.to_string(),
        };
        log::debug(&format!("{target}: {what}: retrying in {}ms ({} left)", wait.as_millis(), retries - retry));
        sleep(wait);
        waited += wait;
        retry += 1;
    }
}
