//! How Argo writes a step and a label selector as text: in events, in the CLI and in
//! `status.selector`.

use aviary_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A label selector in the API's query form (`k=v,k2 in (a,b),!k3`): `status.selector`, and the
/// selector pods are listed with.
pub fn selector_string(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// How Argo names a step in events and in the CLI (`setWeight: 25`, `pause: 30s`): Argo's
/// `CanaryStepString`.
pub fn step_string(step: &aviary_api::CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight: {w}");
    }
    if let Some(p) = &step.pause {
        return match &p.duration {
            Some(aviary_api::IntOrString::Int(i)) => format!("pause: {i}"),
            Some(aviary_api::IntOrString::String(s)) => format!("pause: {s}"),
            None => "pause".into(),
        };
    }
    if step.experiment.is_some() {
        return "experiment".into();
    }
    if step.analysis.is_some() {
        return "analysis".into();
    }
    if let Some(scs) = &step.set_canary_scale {
        if let Some(w) = scs.weight {
            return format!("setCanaryScale{{weight: {w}}}");
        } else if scs.match_traffic_weight {
            return "setCanaryScale{matchTrafficWeight: true}".into();
        } else if let Some(r) = scs.replicas {
            return format!("setCanaryScale{{replicas: {r}}}");
        }
    }
    if let Some(p) = &step.plugin {
        return format!("plugin: {}", p.name);
    }
    if let Some(h) = &step.set_header_route {
        return format!("setHeaderRoute: {}", h.name);
    }
    if let Some(m) = &step.set_mirror_route {
        return format!("setMirrorRoute: {}", m.name);
    }
    "invalid".into()
}
