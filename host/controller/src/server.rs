//! The controller's HTTP endpoints: `/metrics` on the metrics port (Argo's 8090) and `/healthz`
//! (liveness) and `/readyz` (readiness) on the health port (Argo's 8080).
//!
//! Readiness means something: it is false until this process leads (when leader election is on)
//! and its caches have synced, so a Service or a rollout of the controller itself only counts a
//! replica that is actually reconciling.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// What readiness depends on.
#[derive(Debug, Default)]
pub struct Health {
    /// This process holds the lease (always true without leader election).
    pub leader: AtomicBool,
    /// The watch caches have their initial lists.
    pub synced: AtomicBool,
}

impl Health {
    fn ready(&self) -> bool {
        self.leader.load(Ordering::SeqCst) && self.synced.load(Ordering::SeqCst)
    }
}

/// Serves `/metrics` on `metrics` and the health endpoints on `health` (both may be the same
/// address). Errors binding a port are returned; serving errors are logged.
pub async fn serve(
    metrics: SocketAddr,
    health_addr: SocketAddr,
    registry: Arc<Registry>,
    health: Arc<Health>,
) -> std::io::Result<()> {
    let health_routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(h): State<Arc<Health>>| async move {
                if h.ready() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
            }),
        )
        .with_state(health);
    let metrics_routes = Router::new()
        .route(
            "/metrics",
            get(|State(r): State<Arc<Registry>>| async move {
                let mut body = String::new();
                match prometheus_client::encoding::text::encode(&mut body, &r) {
                    Ok(()) => (
                        StatusCode::OK,
                        [("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                        body,
                    ),
                    Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "text/plain")], String::new()),
                }
            }),
        )
        .with_state(registry);
    if metrics == health_addr {
        let listener = tokio::net::TcpListener::bind(metrics).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, health_routes.merge(metrics_routes)).await {
                tracing::error!("metrics/health server: {e}");
            }
        });
        return Ok(());
    }
    let m = tokio::net::TcpListener::bind(metrics).await?;
    let h = tokio::net::TcpListener::bind(health_addr).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(m, metrics_routes).await {
            tracing::error!("metrics server: {e}");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(h, health_routes).await {
            tracing::error!("health server: {e}");
        }
    });
    Ok(())
}
