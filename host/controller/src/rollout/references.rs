//! Argo's validation of what a Rollout refers to (`getRolloutReferencedResources` and
//! `ValidateRolloutReferencedResources`): its Services exist, select the Rollout's pods and are
//! not managed by another Rollout; its analysis templates exist, nested ones included; a step's
//! analysis ends; a background analysis gets every argument it needs. The first failure becomes
//! the InvalidSpec condition, in Argo's words and with Argo's field paths, so that a user
//! switching controllers reads the same message.

use aviary_api::Rollout;
use aviary_api::analysis::{AnalysisTemplate, AnalysisTemplateSpec, ClusterAnalysisTemplate, Metric};
use aviary_api::rollout::AnalysisTemplateRef;
use aviary_api::validation::FieldError;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Api, ResourceExt};

use super::services::MANAGED_BY;
use crate::context::Context;
use crate::error::Error;

/// Which analysis of the Rollout a set of templates serves (Argo's `AnalysisTemplateType`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// A canary step's `analysis`: must end on its own.
    Step(usize),
    /// `canary.analysis`: runs in the background, its arguments come from the Rollout.
    Background,
    /// `blueGreen.prePromotionAnalysis`: must end, like a step's.
    PrePromotion,
    /// `blueGreen.postPromotionAnalysis`: must end, like a step's.
    PostPromotion,
}

impl Use {
    fn path(self) -> String {
        match self {
            Use::Step(i) => format!("spec.strategy.canary.steps[{i}].analysis.templates"),
            Use::Background => "spec.strategy.canary.analysis.templates".into(),
            Use::PrePromotion => "spec.strategy.blueGreen.prePromotionAnalysis.templates".into(),
            Use::PostPromotion => "spec.strategy.blueGreen.postPromotionAnalysis.templates".into(),
        }
    }
}

/// The first reason the Rollout's references are invalid, or `None`.
pub async fn first_error(ctx: &Context, rollout: &Rollout) -> Result<Option<FieldError>, Error> {
    let ns = rollout.namespace().unwrap_or_default();
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    // Argo's getReferencedServices, in its order.
    let referenced: Vec<(&String, &str)> = if let Some(bg) = rollout.spec.blue_green() {
        vec![
            (&bg.active_service, "spec.strategy.blueGreen.activeService"),
            (&bg.preview_service, "spec.strategy.blueGreen.previewService"),
        ]
    } else if let Some(canary) = rollout.spec.canary() {
        let mut services = vec![
            (&canary.stable_service, "spec.strategy.canary.stableService"),
            (&canary.canary_service, "spec.strategy.canary.canaryService"),
        ];
        if let Some(pp) = &canary.ping_pong {
            services.push((&pp.ping_service, "spec.strategy.canary.pingPong.pingService"));
            services.push((&pp.pong_service, "spec.strategy.canary.pingPong.pongService"));
        }
        services
    } else {
        return Ok(None);
    };
    let mut found = Vec::new();
    for (name, field) in referenced {
        if name.is_empty() {
            continue;
        }
        match services.get_opt(name).await.map_err(Error::kube("reading a Service"))? {
            Some(svc) => found.push((svc, field)),
            None => {
                return Ok(Some(FieldError::invalid(field, quoted(name), format!("service {name:?} not found"))));
            }
        }
    }
    let mut uses: Vec<(Use, &[AnalysisTemplateRef])> = Vec::new();
    if let Some(canary) = rollout.spec.canary() {
        for (i, step) in canary.steps.iter().enumerate() {
            if let Some(a) = &step.analysis {
                uses.push((Use::Step(i), &a.templates));
            }
        }
        if let Some(a) = &canary.analysis {
            uses.push((Use::Background, &a.analysis.templates));
        }
    }
    if let Some(bg) = rollout.spec.blue_green() {
        if let Some(a) = &bg.pre_promotion_analysis {
            uses.push((Use::PrePromotion, &a.templates));
        }
        if let Some(a) = &bg.post_promotion_analysis {
            uses.push((Use::PostPromotion, &a.templates));
        }
    }
    let mut resolved = Vec::new();
    for (usage, refs) in uses {
        match templates(ctx, &ns, refs, &usage.path()).await? {
            Ok(specs) => resolved.push((usage, specs)),
            Err(e) => return Ok(Some(e)),
        }
    }
    // Argo fetches every reference before validating any of them.
    for (svc, field) in &found {
        if let Some(e) = service_error(rollout, svc, field) {
            return Ok(Some(e));
        }
    }
    for (usage, specs) in &resolved {
        for (name, spec) in specs {
            if let Some(e) = template_error(rollout, *usage, name, spec) {
                return Ok(Some(e));
            }
        }
    }
    Ok(None)
}

/// Argo's `ValidateService`: the selector's labels (but the pod-template hash) are the pods',
/// and no other Rollout manages the Service.
fn service_error(rollout: &Rollout, svc: &Service, field: &str) -> Option<FieldError> {
    let name = svc.name_any();
    let labels = rollout.spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref());
    let selector = svc.spec.as_ref().and_then(|s| s.selector.as_ref());
    for (key, value) in selector.into_iter().flatten() {
        if key == super::replicasets::HASH_LABEL {
            continue;
        }
        if labels.and_then(|l| l.get(key)) != Some(value) {
            return Some(FieldError::invalid(
                field,
                quoted(&name),
                format!("Service {name:?} has unmatch label {key:?} in rollout"),
            ));
        }
    }
    match svc.annotations().get(MANAGED_BY) {
        Some(owner) if *owner != rollout.name_any() => {
            Some(FieldError::invalid(field, quoted(&name), format!("Service {name:?} is managed by another Rollout")))
        }
        _ => None,
    }
}

/// Argo's `ValidateAnalysisTemplateWithType`: a step's metrics must end (a count, or no
/// interval); a background analysis must get a value for every argument without one.
fn template_error(rollout: &Rollout, usage: Use, name: &str, spec: &AnalysisTemplateSpec) -> Option<FieldError> {
    let field = usage.path();
    match usage {
        Use::Step(_) | Use::PrePromotion | Use::PostPromotion => {
            spec.metrics.iter().find(|m| runs_indefinitely(m)).map(|m| {
                FieldError::invalid(
                    &field,
                    quoted(name),
                    format!(
                        "AnalysisTemplate {name} has metric {} which runs indefinitely. Invalid value for count: {}",
                        m.name,
                        go_count(m.count.as_ref())
                    ),
                )
            })
        }
        Use::Background => {
            let given = rollout.spec.canary().and_then(|c| c.analysis.as_ref()).map(|a| &a.analysis.args);
            for arg in spec.args.iter().filter(|a| a.value.is_none() && a.value_from.is_none()) {
                match given {
                    None => {
                        return Some(FieldError::invalid(
                            &field,
                            quoted(name),
                            "missing analysis arguments in rollout spec",
                        ));
                    }
                    Some(args) if !args.iter().any(|a| a.name == arg.name) => {
                        return Some(FieldError::invalid(&field, quoted(name), arg.name.clone()));
                    }
                    Some(_) => {}
                }
            }
            None
        }
    }
}

/// Argo's `EffectiveCount() == nil`, with arguments standing for non-numbers as Argo's
/// placeholder value does.
fn runs_indefinitely(m: &Metric) -> bool {
    m.effective_count().is_none()
}

/// How Go's `%s` prints a `*IntOrString`.
fn go_count(count: Option<&IntOrString>) -> String {
    match count {
        None => "<nil>".into(),
        Some(IntOrString::Int(i)) => i.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
    }
}

/// The templates `refs` name, nested ones included (their path is the template's
/// `spec.templates`, as Argo reports it), each once, in Argo's order (depth first; the
/// namespaced templates, then the cluster ones: the order of the run's metrics); a missing one
/// is the error.
pub async fn templates(
    ctx: &Context,
    namespace: &str,
    refs: &[AnalysisTemplateRef],
    field: &str,
) -> Result<Result<Vec<(String, AnalysisTemplateSpec)>, FieldError>, Error> {
    let (mut namespaced, mut cluster): (Vec<(String, AnalysisTemplateSpec)>, Vec<_>) = (Vec::new(), Vec::new());
    let mut queue: Vec<(AnalysisTemplateRef, String)> =
        refs.iter().rev().map(|r| (r.clone(), field.to_string())).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some((r, path)) = queue.pop() {
        if !seen.insert((r.cluster_scope, r.template_name.clone())) {
            continue;
        }
        let (kind, spec) = if r.cluster_scope {
            let api: Api<ClusterAnalysisTemplate> = Api::all(ctx.client.clone());
            let t = api.get_opt(&r.template_name).await.map_err(Error::kube("reading a ClusterAnalysisTemplate"))?;
            ("ClusterAnalysisTemplate", t.map(|t| t.spec.template))
        } else {
            let api: Api<AnalysisTemplate> = Api::namespaced(ctx.client.clone(), namespace);
            let t = api.get_opt(&r.template_name).await.map_err(Error::kube("reading an AnalysisTemplate"))?;
            ("AnalysisTemplate", t.map(|t| t.spec))
        };
        let Some(spec) = spec else {
            return Ok(Err(FieldError::invalid(
                path,
                quoted(&r.template_name),
                format!("{kind} '{}' not found", r.template_name),
            )));
        };
        queue.extend(spec.templates.iter().rev().map(|t| (t.clone(), "spec.templates".to_string())));
        let list = if r.cluster_scope { &mut cluster } else { &mut namespaced };
        list.push((r.template_name.clone(), spec));
    }
    namespaced.append(&mut cluster);
    Ok(Ok(namespaced))
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}
