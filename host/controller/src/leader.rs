//! Leader election on a coordination Lease, with the semantics (and the flags) of client-go's
//! leader elector that Argo Rollouts uses: candidates retry every `retryPeriod`; a lease is free
//! once `leaseDuration` has passed since its holder was last *seen* renewing it (measured on this
//! process's clock, so clock skew between nodes does not matter); the leader renews every
//! `retryPeriod` and gives up if it could not renew for `renewDeadline`. Writes carry the Lease's
//! resourceVersion, so two candidates can never both win.

use std::time::{Duration, Instant};

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;

use crate::error::{Error, is_already_exists};

/// Leader election settings (Argo's defaults: 15 s, 10 s, 2 s).
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace (the controller's).
    pub namespace: String,
    /// This process's identity (pod name and a random suffix).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// How often candidates try and the leader renews.
    pub retry_period: Duration,
}

/// A candidate for (and then holder of) the lease.
pub struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    /// The last lease record seen (holder and renew time) and when this process saw it change.
    observed: Option<(String, Instant)>,
    /// The Lease as this process last wrote it while leading: a renewal updates it directly,
    /// without reading it first (client-go's fast path); a conflict falls back to a read.
    held: Option<Lease>,
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This process holds the lease.
    Leader,
    /// Another process holds a live lease.
    Follower(String),
}

impl Elector {
    /// A candidate using `client`.
    pub fn new(client: kube::Client, config: LeaderConfig) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config, observed: None, held: None }
    }

    /// Waits until this process is the leader.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leader) => {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.lease_name, "became the leader");
                    return;
                }
                Ok(Attempt::Follower(holder)) => tracing::debug!(%holder, "lease held by another controller"),
                Err(e) => tracing::warn!("leader election: {e}"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the lease until a renewal has failed for `renewDeadline`; returns when leadership
    /// is lost (the caller must stop writing at once).
    pub async fn hold(&mut self) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leader) => last_renewal = Instant::now(),
                Ok(Attempt::Follower(holder)) => {
                    tracing::error!(%holder, "leadership lost to another controller");
                    return;
                }
                Err(e) => tracing::warn!("renewing the lease: {e}"),
            }
            if last_renewal.elapsed() >= self.config.renew_deadline {
                tracing::error!(
                    "could not renew the lease within {:?}; giving up leadership",
                    self.config.renew_deadline
                );
                return;
            }
        }
    }

    /// Gives the lease up (on a clean shutdown), so that another controller takes over at once
    /// rather than after the lease expires.
    pub async fn release(&mut self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.lease_name).await {
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() == Some(&self.config.identity) {
                spec.holder_identity = None;
                spec.lease_duration_seconds = Some(1);
                let _ = self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await;
            }
        }
    }

    /// One attempt, as client-go's `tryAcquireOrRenew`.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let duration = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let mine = |acquire: Option<MicroTime>, transitions: i32| LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(duration),
            acquire_time: acquire,
            renew_time: Some(now.clone()),
            lease_transitions: Some(transitions),
            ..Default::default()
        };
        if let Some(mut lease) = self.held.take() {
            let spec = lease.spec.clone().unwrap_or_default();
            lease.spec = Some(mine(spec.acquire_time, spec.lease_transitions.unwrap_or(0)));
            if let Ok(written) = self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await {
                self.held = Some(written);
                return Ok(Attempt::Leader);
            }
        }
        let Some(mut lease) =
            self.api.get_opt(&self.config.lease_name).await.map_err(Error::kube("reading the leader Lease"))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(mine(Some(now.clone()), 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(written) => {
                    self.held = Some(written);
                    Ok(Attempt::Leader)
                }
                Err(e) if is_already_exists(&e) => Ok(Attempt::Follower("unknown".into())),
                Err(e) => Err(Error::kube("creating the leader Lease")(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let record = format!("{holder}@{:?}", spec.renew_time.as_ref().map(|t| t.0));
        let seen_at = match &self.observed {
            Some((r, at)) if *r == record => *at,
            _ => {
                self.observed = Some((record, Instant::now()));
                Instant::now()
            }
        };
        let held_by_me = holder == self.config.identity;
        let lease_secs = u64::try_from(spec.lease_duration_seconds.unwrap_or(duration)).unwrap_or(0);
        let expired = holder.is_empty() || seen_at.elapsed() >= Duration::from_secs(lease_secs);
        if !held_by_me && !expired {
            return Ok(Attempt::Follower(holder));
        }
        let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(i32::from(!held_by_me));
        let acquire = if held_by_me { spec.acquire_time.clone() } else { Some(now.clone()) };
        lease.spec = Some(mine(acquire, transitions));
        match self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await {
            Ok(written) => {
                self.observed = None;
                self.held = Some(written);
                Ok(Attempt::Leader)
            }
            // Someone else wrote the lease first: they won this round.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Follower(holder)),
            Err(e) => Err(Error::kube("updating the leader Lease")(e)),
        }
    }
}

/// A unique identity: the pod's name when set, plus a random suffix so two processes never share
/// one.
pub fn identity() -> String {
    let host =
        std::env::var("POD_NAME").ok().or_else(|| std::env::var("HOSTNAME").ok()).unwrap_or_else(|| "aviary".into());
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!("{host}_{:08x}{:04x}", nanos, std::process::id() & 0xffff)
}
