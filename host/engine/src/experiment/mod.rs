//! Experiments, decided as Argo Rollouts decides them: the Experiment's own status
//! ([`status`]), the `{{templates.X.podTemplateHash}}`-style arguments of its analyses
//! ([`resolve_args`]), and the Experiment a canary's `experiment:` step creates ([`from_step`]).
//! The controller reads the cluster, calls these, and writes what they return.

pub mod from_step;
pub mod status;

use std::collections::BTreeMap;

use aviary_api::Argument;
use aviary_api::experiment::Experiment;

use crate::analysis::args::{ArgsError, resolve_tags};

/// The ReplicaSet of one template, as the argument tags see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateReplicaSet {
    /// Its name (`<experiment>-<template>`).
    pub name: String,
    /// Its `rollouts-pod-template-hash` label.
    pub pod_template_hash: String,
}

/// Argo's `ResolveAnalysisRunArgs`: each argument keeps its name and value, with the tags
/// `templates.<t>.podTemplateHash`, `templates.<t>.replicaset.name`, `experiment.availableAt`
/// and `experiment.finishedAt` substituted (`failed to resolve {{tag}}` for any other).
pub fn resolve_args(
    ex: &Experiment,
    args: &[Argument],
    replica_sets: &BTreeMap<String, TemplateReplicaSet>,
) -> Result<Vec<Argument>, ArgsError> {
    let status = ex.status.clone().unwrap_or_default();
    let rfc3339 = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    if let Some(at) = status.available_at {
        values.insert("experiment.availableAt".into(), rfc3339(at.0));
        if !ex.spec.duration.is_empty()
            && let Ok(d) = aviary_api::duration::parse_go_duration_chrono(&ex.spec.duration)
            && let Some(end) = at.0.checked_add_signed(d)
        {
            values.insert("experiment.finishedAt".into(), rfc3339(end));
        }
    }
    for t in &ex.spec.templates {
        if let Some(rs) = replica_sets.get(&t.name) {
            values.insert(format!("templates.{}.podTemplateHash", t.name), rs.pod_template_hash.clone());
            values.insert(format!("templates.{}.replicaset.name", t.name), rs.name.clone());
        }
    }
    args.iter()
        .map(|a| {
            let value = match &a.value {
                Some(v) => Some(resolve_tags(v, |key| values.get(key).cloned())?),
                None => None,
            };
            Ok(Argument { name: a.name.clone(), value, value_from: None })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::Time;
    use aviary_api::experiment::{ExperimentSpec, ExperimentStatus, TemplateSpec};

    #[test]
    fn template_and_experiment_tags_resolve_and_others_fail() {
        let mut ex = Experiment::new(
            "ex",
            ExperimentSpec {
                duration: "1m".into(),
                templates: vec![TemplateSpec { name: "baseline".into(), ..Default::default() }],
                ..Default::default()
            },
        );
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        ex.status = Some(ExperimentStatus { available_at: Some(Time(at)), ..Default::default() });
        let rs = BTreeMap::from([(
            "baseline".to_string(),
            TemplateReplicaSet { name: "ex-baseline".into(), pod_template_hash: "abc123".into() },
        )]);
        let arg = |v: &str| Argument { name: "a".into(), value: Some(v.into()), value_from: None };
        let got = resolve_args(
            &ex,
            &[
                arg("{{templates.baseline.podTemplateHash}}"),
                arg("{{ templates.baseline.replicaset.name }}"),
                arg("{{experiment.availableAt}}..{{experiment.finishedAt}}"),
                Argument { name: "none".into(), value: None, value_from: None },
            ],
            &rs,
        )
        .unwrap();
        let values: Vec<Option<String>> = got.into_iter().map(|a| a.value).collect();
        assert_eq!(
            values,
            vec![
                Some("abc123".into()),
                Some("ex-baseline".into()),
                Some("2026-01-01T00:00:00Z..2026-01-01T00:01:00Z".into()),
                None
            ]
        );
        let err = resolve_args(&ex, &[arg("{{templates.canary.podTemplateHash}}")], &rs).unwrap_err();
        assert_eq!(err.to_string(), "failed to resolve {{templates.canary.podTemplateHash}}");
    }
}
