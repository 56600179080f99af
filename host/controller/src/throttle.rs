//! Client-side throttling of API requests, as client-go's `--qps` and `--burst` do for Argo's
//! controller: a token bucket refilled at `qps` per second holding at most `burst` requests.
//! A controller that reconciles thousands of Rollouts at startup, or a hot loop in one of them,
//! is held to a rate the API server was sized for instead of being rejected by it (429s, or
//! API Priority and Fairness starving other clients). The bucket itself is `governor`'s.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Argo's defaults (`defaults.DefaultQPS`, `defaults.DefaultBurst`).
pub const DEFAULT_QPS: f32 = 40.0;
/// See [`DEFAULT_QPS`].
pub const DEFAULT_BURST: u32 = 80;
/// Argo's controller throttles each of its clients on its own: one for Kubernetes' objects
/// (ReplicaSets, Services, Events, Leases), one for its own kinds (Rollouts, AnalysisRuns,
/// Experiments), each at `--qps`/`--burst`. Aviary makes the same requests through one client,
/// which gets the budget of both (measured in docs/benchmarks.md, "Side by side with Argo").
pub const ARGO_CLIENTS: u8 = 2;

/// A tower layer that waits for a token before each request.
#[derive(Clone)]
pub struct ThrottleLayer {
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl ThrottleLayer {
    /// `qps` requests per second on average, `burst` at once; `None` when `qps` is not a
    /// positive number (client-go then does not throttle either).
    pub fn new(qps: f32, burst: u32) -> Option<Self> {
        if !(qps.is_finite() && qps > 0.0) {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / f64::from(qps));
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst.max(1))?);
        Some(Self { limiter: Arc::new(RateLimiter::direct(quota)) })
    }
}

impl<S> tower::Layer<S> for ThrottleLayer {
    type Service = Throttled<S>;
    fn layer(&self, inner: S) -> Throttled<S> {
        Throttled { inner, limiter: self.limiter.clone(), waiting: None, permitted: false }
    }
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The service of [`ThrottleLayer`]: not ready until a token is taken.
pub struct Throttled<S> {
    inner: S,
    limiter: Arc<DefaultDirectRateLimiter>,
    waiting: Option<Wait>,
    permitted: bool,
}

impl<S, R> tower::Service<R> for Throttled<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.permitted {
            let limiter = self.limiter.clone();
            let wait = self.waiting.get_or_insert_with(|| Box::pin(async move { limiter.until_ready().await }));
            match wait.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    self.waiting = None;
                    self.permitted = true;
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // The token taken in `poll_ready` is spent by this request.
        self.permitted = false;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_rates_throttle() {
        assert!(ThrottleLayer::new(0.0, 10).is_none());
        assert!(ThrottleLayer::new(-1.0, 10).is_none());
        assert!(ThrottleLayer::new(f32::NAN, 10).is_none());
        assert!(ThrottleLayer::new(0.5, 1).is_some());
    }

    #[test]
    fn a_burst_passes_at_once_and_the_next_request_waits() {
        let layer = ThrottleLayer::new(1.0, 3).expect("a valid quota");
        for _ in 0..3 {
            assert!(layer.limiter.check().is_ok(), "within the burst");
        }
        assert!(layer.limiter.check().is_err(), "the bucket is empty until the next token");
    }
}
