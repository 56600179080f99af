//! Client-side throttling of API requests, as client-go's `--qps` and `--burst` do for Argo's
//! controller: a token bucket refilled at `qps` per second holding at most `burst` requests.
//! A controller that reconciles thousands of Rollouts at startup, or a hot loop in one of them,
//! is held to a rate the API server was sized for instead of being rejected by it (429s, or
//! API Priority and Fairness starving other clients). The bucket itself is `governor`'s.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Who goes first when the bucket is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    /// Reconciles' reads and writes: a rollout waits on them.
    Urgent,
    /// Events: a token only when no urgent request waits for one. In an update of thousands of
    /// Rollouts, Events are a third of the requests; sharing the bucket first-come, they held
    /// every Rollout back by as much (at 3,000 canaries, all Healthy 714 s after the patch, as
    /// long as the whole budget took to write everything). Argo keeps them apart by giving its
    /// Kubernetes client (Events among its requests) a budget of its own.
    Background,
}

/// A tower layer that waits for a token before each request.
#[derive(Clone)]
pub struct ThrottleLayer {
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Urgent requests waiting for a token now.
    urgent_waiting: Arc<AtomicUsize>,
    priority: Priority,
    /// How long a background request waits before looking again (one token's time).
    period: Duration,
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
        Some(Self {
            limiter: Arc::new(RateLimiter::direct(quota)),
            urgent_waiting: Arc::new(AtomicUsize::new(0)),
            priority: Priority::Urgent,
            period,
        })
    }

    /// The same budget for requests that give way to urgent ones (Events).
    pub fn background(&self) -> Self {
        Self { priority: Priority::Background, ..self.clone() }
    }

    /// A wait for this layer's next token.
    fn wait(&self) -> Wait {
        let (limiter, waiting, period) = (self.limiter.clone(), self.urgent_waiting.clone(), self.period);
        match self.priority {
            Priority::Urgent => Box::pin(async move {
                let _waiting = Waiting::new(waiting);
                limiter.until_ready().await;
            }),
            Priority::Background => Box::pin(async move {
                loop {
                    if waiting.load(Ordering::SeqCst) == 0 && limiter.check().is_ok() {
                        return;
                    }
                    tokio::time::sleep(period).await;
                }
            }),
        }
    }
}

/// Counts an urgent request as waiting for as long as it exists (a dropped wait stops counting).
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S> tower::Layer<S> for ThrottleLayer {
    type Service = Throttled<S>;
    fn layer(&self, inner: S) -> Throttled<S> {
        Throttled { inner, layer: self.clone(), waiting: None, permitted: false }
    }
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The service of [`ThrottleLayer`]: not ready until a token is taken.
pub struct Throttled<S> {
    inner: S,
    layer: ThrottleLayer,
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
            let layer = &self.layer;
            let wait = self.waiting.get_or_insert_with(|| layer.wait());
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

    #[tokio::test]
    async fn events_give_way_while_a_reconcile_waits_and_go_when_none_does() {
        let urgent = ThrottleLayer::new(20.0, 1).expect("a valid quota");
        let background = urgent.background();
        assert!(urgent.limiter.check().is_ok(), "the one token of the burst");
        // An urgent request waits for the next token.
        let mut reconcile = urgent.wait();
        assert!(futures::poll!(&mut reconcile).is_pending());
        assert_eq!(urgent.urgent_waiting.load(Ordering::SeqCst), 1);
        // However many tokens come meanwhile, an event does not take one while it waits.
        let mut event = tokio::spawn(background.wait());
        assert!(tokio::time::timeout(Duration::from_millis(300), &mut event).await.is_err(), "the event gives way");
        // Once no urgent request waits, the event goes.
        drop(reconcile);
        assert_eq!(urgent.urgent_waiting.load(Ordering::SeqCst), 0);
        let gone = tokio::time::timeout(Duration::from_secs(5), event).await;
        assert!(matches!(gone, Ok(Ok(()))), "the event took a token: {gone:?}");
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
