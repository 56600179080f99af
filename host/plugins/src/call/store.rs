//! What each Store carries: the sandbox's WASI context (deny-all), the memory limiter, the
//! network grant, the Kubernetes grant, and the host side of the `log` and `http` imports.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::contract::v0_1::{http as wit_http, log as wit_log, types as wit_types};
use crate::http::{self, Grant};
use crate::kubernetes::{CallError, KubernetesCall, KubernetesGrant};
use crate::limits::MemoryLimiter;
use crate::recording::PinnedClock;
use crate::router::{ACCESS_DENIED_REASON, RouterEvent};

/// Guests may write this much to stdout and stderr per call; the text is logged after the call.
const STDIO_CAPACITY: usize = 64 << 10;
/// At most this many log lines per call reach the host's logs; the rest are counted.
const MAX_LOG_LINES: u32 = 200;
/// Longer log lines are cut.
const MAX_LOG_LINE: usize = 4 << 10;
/// At most this many HTTP requests per call (redirect hops of one request count once, and are
/// bounded by the `http` module). The deadline bounds a call's time; this bounds the load a
/// looping plugin can put on the services it was granted: a provider that needs more than a few
/// queries per measurement is doing a batch job, not a measurement.
pub(crate) const MAX_REQUESTS_PER_CALL: u32 = 32;
/// At most this many Events per router call; the rest are dropped.
pub(crate) const MAX_EVENTS_PER_CALL: usize = 16;
/// An Event's message is cut to this many bytes.
pub(crate) const MAX_EVENT_MESSAGE: usize = 1024;
/// An Event's reason is at most this many characters (the API server's limit).
pub(crate) const MAX_EVENT_REASON: usize = 128;

/// Sets the deadline of a Store's guest code, checked at every epoch tick: past it the guest is
/// interrupted; before it the guest yields to the executor at each tick, so even a guest spinning
/// in a loop leaves the worker thread to other tasks.
pub(crate) fn set_deadline(store: &mut Store<StoreState>, deadline: Instant) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Yield(1)) }
    });
}

/// The data of one Store (one plugin call).
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) plugin: Arc<str>,
    grant: Option<Grant>,
    backend: http::Backend,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    log_lines: u32,
    requests: u32,
    /// Access to Kubernetes for this call (routers, the Job provider); none denies every call.
    pub(crate) kubernetes: Option<KubernetesGrant>,
    kubernetes_calls: u32,
    /// The Events a router recorded in this call (bounded by [`MAX_EVENTS_PER_CALL`]).
    events: Vec<RouterEvent>,
    events_dropped: u32,
    /// Whether this call's first refused Kubernetes request was already reported as an Event.
    denial_reported: bool,
}

impl StoreState {
    /// A deny-all sandbox: no environment, no arguments, no preopened directories, no sockets,
    /// no name lookups, empty stdin; stdout and stderr captured. When the backend replays or
    /// records, the guest's wall clock is pinned to the measurement's time.
    pub(crate) fn new(plugin: Arc<str>, memory: u64, grant: Option<Grant>, backend: http::Backend) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        if let Some(at) = backend.mode.pinned_time() {
            builder.wall_clock(PinnedClock(at));
        }
        let wasi = builder.build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { limit: memory, hit: false },
            plugin,
            grant,
            backend,
            stdout,
            stderr,
            log_lines: 0,
            requests: 0,
            kubernetes: None,
            kubernetes_calls: 0,
            events: Vec::new(),
            events_dropped: 0,
            denial_reported: false,
        }
    }

    /// What the guest wrote to stderr, for trap messages (a Rust panic prints its message there).
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// One call of the `kubernetes` import: checked against the grant and sent, or refused.
    pub(crate) async fn kubernetes_call(&mut self, call: KubernetesCall) -> Result<serde_json::Value, CallError> {
        self.kubernetes_calls = self.kubernetes_calls.saturating_add(1);
        let answer = match &self.kubernetes {
            Some(grant) => grant.send(call, self.kubernetes_calls).await,
            None => Err(CallError::Denied(format!(
                "{} {}: this call has no Kubernetes access (only traffic routers and providers of contract 0.2.0 whose entry grants it)",
                call.verb, call.kind
            ))),
        };
        if let Err(CallError::Denied(why)) = &answer {
            self.report_denial(why);
        }
        answer
    }

    /// Keeps the call's first refusal as a Warning Event ([`ACCESS_DENIED_REASON`]) for the
    /// object the call is for, whatever the plugin then does with the error: a plugin that
    /// reaches for what it was not granted is the operator's to hear of, even when it swallows
    /// the refusal or fails an operation whose error Argo records nowhere. Recorded ahead of
    /// the guest's own Events and outside their bound, so a guest cannot crowd it out.
    fn report_denial(&mut self, why: &str) {
        if std::mem::replace(&mut self.denial_reported, true) {
            return;
        }
        let message = format!("plugin {}: refused: {why}", self.plugin);
        let event = RouterEvent { warning: true, reason: ACCESS_DENIED_REASON.to_string(), message };
        self.events.insert(0, event);
    }

    /// One `record-event` of a router: kept for the caller when within the bounds (see the
    /// WIT), dropped with a warning otherwise.
    pub(crate) fn record_event(&mut self, warning: bool, reason: String, message: String) {
        if let Err(why) = valid_event_reason(&reason) {
            tracing::warn!(target: "aviary::plugin", plugin = %self.plugin, reason = %reason.escape_debug(), "event dropped: {why}");
            return;
        }
        if self.events.len() >= MAX_EVENTS_PER_CALL {
            self.events_dropped = self.events_dropped.saturating_add(1);
            if self.events_dropped == 1 {
                tracing::warn!(target: "aviary::plugin", plugin = %self.plugin, "event limit of {MAX_EVENTS_PER_CALL} per call reached; dropping the rest");
            }
            return;
        }
        let mut message = message;
        if message.len() > MAX_EVENT_MESSAGE {
            let mut cut = MAX_EVENT_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut = cut.saturating_sub(1);
            }
            message.truncate(cut);
        }
        self.events.push(RouterEvent { warning, reason, message });
    }

    /// The Events recorded so far in this call, leaving none.
    pub(crate) fn take_events(&mut self) -> Vec<RouterEvent> {
        std::mem::take(&mut self.events)
    }

    /// Sends what the guest printed to the host's logs.
    pub(crate) fn flush_stdio(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.is_empty()) {
                tracing::info!(target: "aviary::plugin", plugin = %self.plugin, stream, "{line}");
            }
        }
    }
}

/// Whether `reason` may be an Event's reason: 1 to [`MAX_EVENT_REASON`] characters, starting
/// with an ASCII letter, of ASCII letters, digits, `_`, `-`, `.`, `:` and single inner spaces.
/// Kubernetes only bounds the length; this keeps reasons the machine-readable words `kubectl`
/// and alerting match on, while accepting Argo's `Updated VirtualService`.
pub(crate) fn valid_event_reason(reason: &str) -> Result<(), String> {
    if reason.is_empty() {
        return Err("empty reason".into());
    }
    if reason.len() > MAX_EVENT_REASON {
        return Err(format!("reason longer than {MAX_EVENT_REASON} characters"));
    }
    if !reason.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("reason does not start with an ASCII letter".into());
    }
    if reason.ends_with(' ') || reason.contains("  ") {
        return Err("reason has a trailing or double space".into());
    }
    if let Some(c) = reason.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | ' '))) {
        return Err(format!("reason has the character {c:?}"));
    }
    Ok(())
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit_types::Host for StoreState {}

impl wit_log::Host for StoreState {
    fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines = self.log_lines.saturating_add(1);
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(target: "aviary::plugin", plugin = %self.plugin, "log limit of {MAX_LOG_LINES} lines per call reached; dropping the rest");
            }
            return Ok(());
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut = cut.saturating_sub(1);
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            wit_log::Level::Trace => tracing::trace!(target: "aviary::plugin", plugin, "{message}"),
            wit_log::Level::Debug => tracing::debug!(target: "aviary::plugin", plugin, "{message}"),
            wit_log::Level::Info => tracing::info!(target: "aviary::plugin", plugin, "{message}"),
            wit_log::Level::Warn => tracing::warn!(target: "aviary::plugin", plugin, "{message}"),
            wit_log::Level::Error => tracing::error!(target: "aviary::plugin", plugin, "{message}"),
        }
        Ok(())
    }
}

impl wit_http::Host for StoreState {
    async fn send(&mut self, request: wit_http::Request) -> Result<wit_http::Response, wit_http::Error> {
        self.requests = self.requests.saturating_add(1);
        match &self.grant {
            Some(grant) if self.requests > MAX_REQUESTS_PER_CALL => {
                if self.requests == MAX_REQUESTS_PER_CALL.saturating_add(1) {
                    tracing::warn!(target: "aviary::plugins::http", plugin = %grant.plugin, "request budget of {MAX_REQUESTS_PER_CALL} per call spent; refusing further requests");
                }
                grant.metrics.denied_budget(&grant.plugin);
                Err(wit_http::Error::Transport(format!(
                    "request budget spent: at most {MAX_REQUESTS_PER_CALL} HTTP requests per call"
                )))
            }
            Some(grant) => http::send(&self.backend, grant, request).await,
            None => {
                let target =
                    url::Url::parse(&request.url).map(|u| crate::capability::host_port(&u)).unwrap_or(request.url);
                Err(wit_http::Error::DeniedHost(target))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_reasons_are_short_words() {
        for ok in ["UpdatedDestinationRule", "Updated VirtualService", "TrafficSplitCreated", "a-b_c.d:e9"] {
            assert_eq!(valid_event_reason(ok), Ok(()), "{ok}");
        }
        let long = "A".repeat(MAX_EVENT_REASON + 1);
        for bad in ["", "9Lives", " Lead", "Trail ", "Two  Spaces", "New\nLine", "Émoji", long.as_str()] {
            assert!(valid_event_reason(bad).is_err(), "{bad:?}");
        }
        assert_eq!(valid_event_reason(&long[..MAX_EVENT_REASON]), Ok(()));
    }
}
