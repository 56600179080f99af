//! The three requests of a judgement, built as Argo's provider builds them: the canary config
//! lookup, the start of a canary execution (with its scopes and thresholds), and the status poll.

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::duration::parse_go_duration;
use aviary_plugin_sdk::url;
use serde::Serialize;

use crate::config::{Config, Scope, ScopeDetail};
use crate::error::KayentaError;

/// `GET {address}/canaryConfig?application=..&configurationAccountName=..`.
///
/// Argo fills `configurationAccountName` with the metric's `storageAccountName` here (and only
/// here): the lookup is the same request Argo sends, so a template finds the same config.
pub fn config_lookup_url(c: &Config, base: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("application", &c.application)
        .append_pair("configurationAccountName", &c.storage_account_name)
        .finish();
    format!("{base}/canaryConfig?{query}")
}

/// `POST {address}/canary/{canaryConfigId}?application=..&metricsAccountName=..&configurationAccountName=..&storageAccountName=..`.
pub fn start_url(c: &Config, base: &str, config_id: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("application", &c.application)
        .append_pair("metricsAccountName", &c.metrics_account_name)
        .append_pair("configurationAccountName", &c.configuration_account_name)
        .append_pair("storageAccountName", &c.storage_account_name)
        .finish();
    format!("{base}/canary/{}?{query}", url::escape_unreserved(config_id))
}

/// `GET {address}/canary/{canaryExecutionId}` (ids are ULIDs or UUIDs; anything else stays one
/// percent-encoded segment).
pub fn status_url(base: &str, execution_id: &str) -> String {
    format!("{base}/canary/{}", url::escape_unreserved(execution_id))
}

/// The body of the start request (Kayenta's `CanaryExecutionRequest`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartRequest {
    /// Scope name → its control and experiment scopes (a map: Kayenta keys scopes by name).
    pub scopes: std::collections::BTreeMap<String, ScopePair>,
    /// The thresholds, as given.
    pub thresholds: Thresholds,
}

/// One scope of the request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopePair {
    /// The baseline.
    pub control_scope: ScopeRequest,
    /// The canary.
    pub experiment_scope: ScopeRequest,
}

/// A scope as Kayenta takes it (`CanaryScope`): `region` is sent as `location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeRequest {
    /// The metrics query's scope.
    pub scope: String,
    /// The region.
    pub location: String,
    /// Seconds between points.
    pub step: i64,
    /// RFC 3339 start.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// RFC 3339 end.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// `thresholds` of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// The lowest passing score.
    pub pass: i64,
    /// The lowest inconclusive score.
    pub marginal: i64,
}

/// The start request for a measurement taken at `now`: each scope's missing `start` is one
/// `interval` before `now` (or the run's start with `lookback`), its missing `end` is `now`.
pub fn start_request(c: &Config, now: SystemTime) -> Result<StartRequest, KayentaError> {
    let mut scopes = std::collections::BTreeMap::new();
    for scope in &c.scopes {
        scopes.insert(scope.name.clone(), scope_pair(scope, c, now)?);
    }
    Ok(StartRequest { scopes, thresholds: Thresholds { pass: c.threshold.pass, marginal: c.threshold.marginal } })
}

/// Argo's `getScopeRequest`: starts and ends are set on both sides or on neither.
fn scope_pair(scope: &Scope, c: &Config, now: SystemTime) -> Result<ScopePair, KayentaError> {
    let (control, experiment) = (&scope.control_scope, &scope.experiment_scope);
    if control.start.is_empty() != experiment.start.is_empty() {
        return Err(KayentaError::OneSided("start"));
    }
    if control.end.is_empty() != experiment.end.is_empty() {
        return Err(KayentaError::OneSided("end"));
    }
    let start = if control.start.is_empty() { Some(start_time(c, now)?) } else { None };
    let end = control.end.is_empty().then(|| rfc3339(now));
    let side = |d: &ScopeDetail| ScopeRequest {
        scope: d.scope.clone(),
        location: d.region.clone(),
        step: d.step,
        start: start.clone().unwrap_or_else(|| d.start.clone()),
        end: end.clone().unwrap_or_else(|| d.end.clone()),
    };
    Ok(ScopePair { control_scope: side(control), experiment_scope: side(experiment) })
}

/// Argo's `getStartTime`.
fn start_time(c: &Config, now: SystemTime) -> Result<String, KayentaError> {
    if c.lookback {
        let started = humantime::parse_rfc3339_weak(&c.run_started_at)
            .map_err(|_| KayentaError::RunStartedAt(c.run_started_at.clone()))?;
        return Ok(rfc3339(started));
    }
    let nanos = parse_go_duration(&c.interval)
        .map_err(|e| KayentaError::Interval { interval: c.interval.clone(), reason: e.to_string() })?;
    let back = Duration::from_nanos(nanos.unsigned_abs());
    let start = if nanos >= 0 { now.checked_sub(back) } else { now.checked_add(back) };
    Ok(rfc3339(start.unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// Go's `time.RFC3339` in UTC, whole seconds (`2019-03-29T01:08:34Z`).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Threshold;

    /// Argo's own test metric (metricproviders/kayenta/kayenta_test.go).
    fn argos_metric() -> Config {
        serde_json::from_value(serde_json::json!({
            "address": "https://kayenta.example.oom", "application": "guestbook",
            "canaryConfigName": "ValidationCanaryConfigTest3", "metricsAccountName": "wavefront-prod",
            "configurationAccountName": "intuit-kayenta", "storageAccountName": "intuit-kayenta",
            "threshold": {"pass": 90, "marginal": 75},
            "scopes": [{"name": "default",
                "controlScope": {"scope": "app=guestbook and rollouts-pod-template-hash=xxxx", "step": 60,
                                 "region": "us-=west-2", "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"},
                "experimentScope": {"scope": "app=guestbook and rollouts-pod-template-hash=yyyy", "step": 60,
                                    "region": "us-=west-2", "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}]
        }))
        .unwrap()
    }

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn urls_are_argos() {
        let c = argos_metric();
        let base = c.base().unwrap();
        assert_eq!(
            config_lookup_url(&c, base),
            "https://kayenta.example.oom/canaryConfig?application=guestbook&configurationAccountName=intuit-kayenta"
        );
        assert_eq!(
            start_url(&c, base, "bf9795c0-170f-403e-bb7f-fef3f9a44d42"),
            "https://kayenta.example.oom/canary/bf9795c0-170f-403e-bb7f-fef3f9a44d42?application=guestbook&metricsAccountName=wavefront-prod&configurationAccountName=intuit-kayenta&storageAccountName=intuit-kayenta"
        );
        assert_eq!(
            status_url(base, "01DS50WVHAWSTAQACJKB1VKDQB"),
            "https://kayenta.example.oom/canary/01DS50WVHAWSTAQACJKB1VKDQB"
        );
        assert_eq!(status_url(base, "a/b c"), "https://kayenta.example.oom/canary/a%2Fb%20c");
    }

    #[test]
    fn the_config_lookup_names_the_storage_account_as_argo_does() {
        let c = Config {
            application: "app".into(),
            configuration_account_name: "configs".into(),
            storage_account_name: "results".into(),
            ..argos_metric()
        };
        assert!(config_lookup_url(&c, "http://k").ends_with("configurationAccountName=results"));
        assert!(
            start_url(&c, "http://k", "id").contains("configurationAccountName=configs&storageAccountName=results")
        );
    }

    #[test]
    fn the_body_is_argos_expected_body() {
        let body = serde_json::to_value(start_request(&argos_metric(), at("2024-01-01T00:00:00Z")).unwrap()).unwrap();
        let expected = serde_json::json!({
            "scopes": {"default": {
                "controlScope": {"scope": "app=guestbook and rollouts-pod-template-hash=xxxx", "location": "us-=west-2",
                                 "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"},
                "experimentScope": {"scope": "app=guestbook and rollouts-pod-template-hash=yyyy", "location": "us-=west-2",
                                    "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}},
            "thresholds": {"pass": 90, "marginal": 75}
        });
        assert_eq!(body, expected);
    }

    fn without_times(c: &mut Config) {
        for s in &mut c.scopes {
            for d in [&mut s.control_scope, &mut s.experiment_scope] {
                d.start.clear();
                d.end.clear();
            }
        }
    }

    #[test]
    fn a_scope_without_times_looks_back_one_interval_from_now() {
        let mut c = argos_metric();
        without_times(&mut c);
        c.interval = "30m".into();
        let r = start_request(&c, at("2024-05-01T12:30:00Z")).unwrap();
        let pair = &r.scopes["default"];
        for side in [&pair.control_scope, &pair.experiment_scope] {
            assert_eq!((side.start.as_str(), side.end.as_str()), ("2024-05-01T12:00:00Z", "2024-05-01T12:30:00Z"));
        }
    }

    #[test]
    fn lookback_starts_at_the_runs_start() {
        let mut c = argos_metric();
        without_times(&mut c);
        c.lookback = true;
        c.run_started_at = "2024-05-01T11:02:03.456Z".into();
        let r = start_request(&c, at("2024-05-01T12:30:00Z")).unwrap();
        assert_eq!(r.scopes["default"].experiment_scope.start, "2024-05-01T11:02:03Z");
        c.run_started_at.clear();
        assert_eq!(
            start_request(&c, at("2024-05-01T12:30:00Z")).unwrap_err().to_string(),
            r#"lookback needs the AnalysisRun's start time (runStartedAt), got """#
        );
    }

    #[test]
    fn an_end_alone_is_filled_with_now_and_the_start_kept() {
        let mut c = argos_metric();
        for s in &mut c.scopes {
            s.control_scope.end.clear();
            s.experiment_scope.end.clear();
        }
        let r = start_request(&c, at("2024-05-01T12:30:00Z")).unwrap();
        assert_eq!(r.scopes["default"].control_scope.start, "2019-03-29T01:08:34Z");
        assert_eq!(r.scopes["default"].control_scope.end, "2024-05-01T12:30:00Z");
    }

    #[test]
    fn bad_scopes_and_intervals_carry_argos_messages() {
        let mut c = argos_metric();
        c.scopes[0].control_scope.start.clear();
        assert_eq!(
            start_request(&c, SystemTime::now()).unwrap_err().to_string(),
            "controlScope.start and experimentScope.start must both be set or be empty"
        );
        let mut c = argos_metric();
        c.scopes[0].experiment_scope.end.clear();
        assert_eq!(
            start_request(&c, SystemTime::now()).unwrap_err().to_string(),
            "controlScope.end and experimentScope.end must both be set or be empty"
        );
        let mut c = argos_metric();
        without_times(&mut c);
        assert_eq!(
            start_request(&c, SystemTime::now()).unwrap_err().to_string(),
            r#"Invalid duration "": time: invalid duration """#
        );
        c.interval = "5 minutes".into();
        assert!(
            start_request(&c, SystemTime::now()).unwrap_err().to_string().starts_with("Invalid duration \"5 minutes\"")
        );
    }

    #[test]
    fn thresholds_and_every_scope_are_sent() {
        let mut c = argos_metric();
        c.threshold = Threshold { pass: 95, marginal: 60 };
        let mut second = c.scopes[0].clone();
        second.name = "eu".into();
        c.scopes.push(second);
        let r = start_request(&c, SystemTime::now()).unwrap();
        assert_eq!(r.thresholds, Thresholds { pass: 95, marginal: 60 });
        assert_eq!(r.scopes.keys().collect::<Vec<_>>(), ["default", "eu"]);
    }
}
