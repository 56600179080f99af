//! Argo's Rollout validation (`pkg/apis/rollouts/validation`): rules and messages.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{FieldError, quoted};
use crate::analysis::int_or_string_value;
use crate::rollout::{AntiAffinity, CanaryStrategy, Rollout, RolloutAnalysis, StringMatch};

/// Argo's validation messages, word for word.
pub mod messages {
    /// `MissingFieldMessage` (a format with one `%s`).
    pub fn missing_field(field: &str) -> String {
        format!("Rollout has missing field '{field}'")
    }
    /// `InvalidSetWeightMessage`, for the rollout's maxTrafficWeight.
    pub fn invalid_set_weight(max: i32) -> String {
        format!("SetWeight needs to be between 0 and {max}")
    }
    /// `InvalidCanaryExperimentTemplateWeightWithoutTrafficRouting`.
    pub const EXPERIMENT_WEIGHT_WITHOUT_TRAFFIC_ROUTING: &str =
        "Experiment template weight cannot be set unless TrafficRouting is enabled";
    /// Experiment weight with an unsupported router.
    pub const EXPERIMENT_WEIGHT_UNSUPPORTED_ROUTER: &str =
        "Experiment template weight is only available for TrafficRouting with SMI, ALB, and Istio at this time";
    /// `InvalidSetCanaryScaleTrafficPolicy`.
    pub const SET_CANARY_SCALE_TRAFFIC_POLICY: &str = "SetCanaryScale requires TrafficRouting to be set";
    /// `InvalidSetHeaderRouteTrafficPolicy`.
    pub const SET_HEADER_ROUTE_TRAFFIC_POLICY: &str =
        "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix";
    /// `InvalidSetMirrorRouteTrafficPolicy`.
    pub const SET_MIRROR_ROUTE_TRAFFIC_POLICY: &str =
        "SetMirrorRoute requires TrafficRouting, supports Istio and Plugins";
    /// `InvalidStringMatchMultipleValuePolicy`.
    pub const STRING_MATCH_MULTIPLE_VALUES: &str =
        "StringMatch match value must have exactly one of the following: exact, regex, prefix";
    /// `InvalidStringMatchMissedValuePolicy`.
    pub const STRING_MATCH_MISSED_VALUE: &str =
        "StringMatch value missed, match value must have one of the following: exact, regex, prefix";
    /// `InvalidSetHeaderRouteALBValuePolicy`.
    pub const SET_HEADER_ROUTE_ALB_VALUE: &str = "SetHeaderRoute match value invalid. ALB supports 'exact' value only";
    /// `InvalidDurationMessage`.
    pub const INVALID_DURATION: &str = "Duration needs to be greater than 0";
    /// `InvalidMaxSurgeMaxUnavailable`.
    pub const MAX_SURGE_MAX_UNAVAILABLE_ZERO: &str = "MaxSurge and MaxUnavailable both can not be zero";
    /// `InvalidStepMessage`.
    pub const INVALID_STEP: &str =
        "Step must have one of the following set: experiment, setWeight, setCanaryScale or pause";
    /// `InvalidStrategyMessage`.
    pub const MULTIPLE_STRATEGIES: &str = "Multiple Strategies can not be listed";
    /// `DuplicatedServicesBlueGreenMessage`.
    pub const DUPLICATED_SERVICES_BLUE_GREEN: &str = "This rollout uses the same service for the active and preview services, but two different services are required.";
    /// `DuplicatedServicesCanaryMessage`.
    pub const DUPLICATED_SERVICES_CANARY: &str = "This rollout uses the same service for the stable and canary services, but two different services are required.";
    /// `InvalidAntiAffinityStrategyMessage`.
    pub const ANTI_AFFINITY_STRATEGY: &str = "AntiAffinity must have exactly one strategy listed";
    /// `InvalidAntiAffinityWeightMessage`.
    pub const ANTI_AFFINITY_WEIGHT: &str = "AntiAffinity weight must be between 1-100";
    /// `ScaleDownLimitLargerThanRevisionLimit`.
    pub const SCALE_DOWN_LIMIT_LARGER_THAN_REVISION_LIMIT: &str =
        "This rollout's revision history limit can not be smaller than the rollout's scale down limit";
    /// `InvalidTrafficRoutingMessage`.
    pub const TRAFFIC_ROUTING_SERVICES: &str =
        "Canary service and Stable service must to be set to use Traffic Routing";
    /// `InvalidAnalysisArgsMessage`.
    pub const ANALYSIS_ARGS: &str = "Analyses arguments must refer to valid object metadata supported by downwardAPI";
    /// `InvalidCanaryScaleDownDelay`.
    pub const CANARY_SCALE_DOWN_DELAY: &str = "Canary scaleDownDelaySeconds can only be used with traffic routing";
    /// `InvalidCanaryDynamicStableScale`.
    pub const CANARY_DYNAMIC_STABLE_SCALE: &str = "Canary dynamicStableScale can only be used with traffic routing";
    /// `InvalidCanaryDynamicStableScaleWithScaleDownDelay`.
    pub const DYNAMIC_STABLE_SCALE_WITH_SCALE_DOWN_DELAY: &str =
        "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds";
    /// `InvalidPingPongProvidedMessage`.
    pub const PING_PONG_PROVIDED: &str = "Ping service and Pong service must to be set to use Ping-Pong feature";
    /// `DuplicatedPingPongServicesMessage`.
    pub const DUPLICATED_PING_PONG: &str =
        "This rollout uses the same service for the ping and pong services, but two different services are required.";
    /// `MissedAlbRootServiceMessage`.
    pub const ALB_ROOT_SERVICE: &str =
        "Root service field is required for the configuration with ALB and ping-pong feature enabled";
    /// `PingPongWithRouterOnlyMessage`.
    pub const PING_PONG_ROUTER_ONLY: &str =
        "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only";
    /// `InvalideStepRouteNameNotFoundInManagedRoutes`.
    pub const ROUTE_NOT_IN_MANAGED_ROUTES: &str =
        "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes";
    /// Kubernetes' `ValidateNonnegativeField`.
    pub const NON_NEGATIVE: &str = "must be greater than or equal to 0";
    /// maxTrafficWeight must be positive for weights to mean anything.
    pub const MAX_TRAFFIC_WEIGHT: &str = "must be greater than 0";
}

/// Validates a Rollout with Argo's rules. An empty list means valid.
pub fn validate_rollout(rollout: &Rollout) -> Vec<FieldError> {
    validate(rollout, false)
}

/// [`validate_rollout`] for a Rollout whose `workloadRef` the controller resolved: its pod
/// template (from the workload) is validated, and the rule that a referencing Rollout's own
/// template be empty was checked before resolving.
pub fn validate_resolved_rollout(rollout: &Rollout) -> Vec<FieldError> {
    validate(rollout, true)
}

fn validate(rollout: &Rollout, resolved: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &rollout.spec;
    let replicas = spec.replicas_or_default();
    non_negative(&mut errs, "spec.replicas", i64::from(replicas));

    if spec.workload_ref.is_none() {
        match &spec.selector {
            None => errs.push(FieldError::required("spec.selector", messages::missing_field(".spec.selector"))),
            Some(sel) => {
                validate_label_selector(&mut errs, sel, "spec.selector");
                if selector_terms(sel) == 0 {
                    errs.push(FieldError::invalid("spec.selector", "{}", "empty selector is invalid for deployment"));
                }
            }
        }
    }

    let template_has_metadata = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).is_some_and(|m| {
        m.labels.as_ref().is_some_and(|l| !l.is_empty()) || m.annotations.as_ref().is_some_and(|a| !a.is_empty())
    });
    if spec.workload_ref.is_some() && template_has_metadata && !resolved {
        errs.push(FieldError::internal("spec.template", "template must be empty for workload reference rollout"));
    }
    if spec.workload_ref.is_none() || resolved {
        validate_pod_template(&mut errs, rollout);
    }

    non_negative(&mut errs, "spec.minReadySeconds", i64::from(spec.min_ready_seconds));
    non_negative(&mut errs, "spec.revisionHistoryLimit", i64::from(spec.revision_history_limit_or_default()));
    let pds = spec.progress_deadline_seconds_or_default();
    non_negative(&mut errs, "spec.progressDeadlineSeconds", i64::from(pds));
    if pds <= spec.min_ready_seconds {
        errs.push(FieldError::invalid(
            "spec.progressDeadlineSeconds",
            pds.to_string(),
            "must be greater than minReadySeconds",
        ));
    }

    match (&spec.strategy.blue_green, &spec.strategy.canary) {
        (None, None) => errs.push(FieldError::required(
            "spec.strategy",
            messages::missing_field(".spec.strategy.canary or .spec.strategy.blueGreen"),
        )),
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            "spec.strategy",
            quoted("blueGreen: true canary: true"),
            messages::MULTIPLE_STRATEGIES,
        )),
        (Some(bg), None) => {
            let path = "spec.strategy.blueGreen";
            if bg.active_service.is_empty() {
                errs.push(FieldError::required(format!("{path}.activeService"), ""));
            }
            if bg.active_service == bg.preview_service {
                errs.push(FieldError::invalid(
                    format!("{path}.activeService"),
                    quoted(&bg.active_service),
                    messages::DUPLICATED_SERVICES_BLUE_GREEN,
                ));
            }
            if let Some(limit) = bg.scale_down_delay_revision_limit
                && spec.revision_history_limit_or_default() < limit
            {
                errs.push(FieldError::invalid(
                    format!("{path}.scaleDownDelayRevisionLimit"),
                    limit.to_string(),
                    messages::SCALE_DOWN_LIMIT_LARGER_THAN_REVISION_LIMIT,
                ));
            }
            if let Some(n) = bg.preview_replica_count {
                non_negative(&mut errs, &format!("{path}.previewReplicaCount"), i64::from(n));
            }
            validate_rollout_analysis_args(
                &mut errs,
                rollout,
                bg.pre_promotion_analysis.as_ref(),
                &format!("{path}.prePromotionAnalysis"),
            );
            validate_rollout_analysis_args(
                &mut errs,
                rollout,
                bg.post_promotion_analysis.as_ref(),
                &format!("{path}.postPromotionAnalysis"),
            );
            validate_anti_affinity(&mut errs, bg.anti_affinity.as_ref(), &format!("{path}.antiAffinity"));
        }
        (None, Some(canary)) => validate_canary(&mut errs, rollout, canary),
    }
    errs
}

fn non_negative(errs: &mut Vec<FieldError>, field: &str, v: i64) {
    if v < 0 {
        errs.push(FieldError::invalid(field, v.to_string(), messages::NON_NEGATIVE));
    }
}

fn validate_label_selector(errs: &mut Vec<FieldError>, sel: &LabelSelector, path: &str) {
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{p}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{p}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => {
                errs.push(FieldError::invalid(format!("{p}.operator"), quoted(other), "not a valid selector operator"))
            }
        }
    }
}

/// Whether a selector selects a set of labels (Kubernetes' LabelSelectorAsSelector + Matches).
pub(crate) fn selector_matches(sel: &LabelSelector, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let labels_ok = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let got = labels.get(&req.key);
        match req.operator.as_str() {
            "In" => got.is_some_and(|v| values.contains(v)),
            "NotIn" => got.is_none_or(|v| !values.contains(v)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

fn validate_pod_template(errs: &mut Vec<FieldError>, rollout: &Rollout) {
    let spec = &rollout.spec;
    let Some(template) = &spec.template else {
        errs.push(FieldError::required("spec.template.spec.containers", ""));
        return;
    };
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    if let Some(sel) = &spec.selector
        && selector_terms(sel) > 0
        && !selector_matches(sel, &labels)
    {
        let shown = serde_json::to_string(&labels).unwrap_or_default();
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            shown,
            "`selector` does not match template `labels`",
        ));
    }
    let containers = template.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    if containers == 0 {
        errs.push(FieldError::required("spec.template.spec.containers", ""));
    }
    for (i, c) in template.spec.iter().flat_map(|s| s.containers.iter()).enumerate() {
        if c.name.is_empty() {
            errs.push(FieldError::required(format!("spec.template.spec.containers[{i}].name"), ""));
        }
    }
}

/// Argo's `getIntOrPercentValue`: a valid percent string gives its number, anything else Go's
/// `IntValue()` (so "0" is 0 and "abc" is 0).
fn int_or_percent_value(v: &IntOrString) -> i64 {
    if let IntOrString::String(s) = v
        && let Some(num) = s.strip_suffix('%')
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
    {
        return num.parse().unwrap_or(0);
    }
    int_or_string_value(v)
}

fn validate_canary(errs: &mut Vec<FieldError>, rollout: &Rollout, canary: &CanaryStrategy) {
    let path = "spec.strategy.canary";
    let surge = canary.max_surge_or_default();
    if int_or_percent_value(&surge) == 0 && int_or_percent_value(&canary.max_unavailable_or_default()) == 0 {
        let shown = match &surge {
            IntOrString::Int(i) => i.to_string(),
            IntOrString::String(s) => quoted(s),
        };
        errs.push(FieldError::invalid(format!("{path}.maxSurge"), shown, messages::MAX_SURGE_MAX_UNAVAILABLE_ZERO));
    }
    if !canary.canary_service.is_empty() && canary.canary_service == canary.stable_service {
        errs.push(FieldError::invalid(
            format!("{path}.stableService"),
            quoted(&canary.stable_service),
            messages::DUPLICATED_SERVICES_CANARY,
        ));
    }
    let tr = canary.traffic_routing.as_ref();
    if let Some(pp) = &canary.ping_pong {
        if tr.is_some_and(|t| t.alb.is_none() && t.istio.is_none() && t.plugins.is_empty()) {
            errs.push(FieldError::invalid(
                format!("{path}.trafficRouting.alb"),
                "null",
                messages::PING_PONG_ROUTER_ONLY,
            ));
        }
        if pp.ping_service.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.pingPong.pingService"),
                quoted(""),
                messages::PING_PONG_PROVIDED,
            ));
        }
        if pp.pong_service.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.pingPong.pongService"),
                quoted(""),
                messages::PING_PONG_PROVIDED,
            ));
        }
        if pp.ping_service == pp.pong_service {
            errs.push(FieldError::invalid(
                format!("{path}.pingPong.pingService"),
                quoted(&pp.ping_service),
                messages::DUPLICATED_PING_PONG,
            ));
        }
        if let Some(alb) = tr.and_then(|t| t.alb.as_ref())
            && alb.root_service.is_empty()
        {
            errs.push(FieldError::invalid(
                format!("{path}.trafficRouting.alb.rootService"),
                quoted(""),
                messages::ALB_ROOT_SERVICE,
            ));
        }
    }
    let requires_services = match tr {
        None => false,
        // Argo's requireCanaryStableServices: ALB and host-level Istio unless ping-pong names the
        // Services, and every other built-in router always; router plugins never.
        Some(t) => {
            let ping_pong = canary.ping_pong.is_some();
            (!ping_pong && (t.alb.is_some() || t.istio.as_ref().is_some_and(|i| i.destination_rule.is_none())))
                || t.smi.is_some()
                || t.apisix.is_some()
                || t.ambassador.is_some()
                || t.nginx.is_some()
                || t.app_mesh.is_some()
                || t.traefik.is_some()
        }
    };
    if requires_services {
        if canary.stable_service.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.stableService"),
                quoted(""),
                messages::TRAFFIC_ROUTING_SERVICES,
            ));
        }
        if canary.canary_service.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.canaryService"),
                quoted(""),
                messages::TRAFFIC_ROUTING_SERVICES,
            ));
        }
    }
    match tr {
        None => {
            if let Some(d) = canary.scale_down_delay_seconds {
                errs.push(FieldError::invalid(
                    format!("{path}.scaleDownDelaySeconds"),
                    d.to_string(),
                    messages::CANARY_SCALE_DOWN_DELAY,
                ));
            }
            if canary.dynamic_stable_scale {
                errs.push(FieldError::invalid(
                    format!("{path}.dynamicStableScale"),
                    "true",
                    messages::CANARY_DYNAMIC_STABLE_SCALE,
                ));
            }
        }
        Some(t) => {
            if canary.scale_down_delay_seconds.is_some() && canary.dynamic_stable_scale {
                errs.push(FieldError::invalid(
                    format!("{path}.dynamicStableScale"),
                    "true",
                    messages::DYNAMIC_STABLE_SCALE_WITH_SCALE_DOWN_DELAY,
                ));
            }
            if let Some(w) = t.max_traffic_weight
                && w <= 0
            {
                errs.push(FieldError::invalid(
                    format!("{path}.trafficRouting.maxTrafficWeight"),
                    w.to_string(),
                    messages::MAX_TRAFFIC_WEIGHT,
                ));
            }
        }
    }
    if let Some(n) = canary.min_pods_per_replica_set {
        non_negative(errs, &format!("{path}.minPodsPerReplicaSet"), i64::from(n));
    }

    let max_weight = canary.max_traffic_weight();
    for (i, step) in canary.steps.iter().enumerate() {
        let sp = format!("{path}.steps[{i}]");
        let kinds = [
            step.set_weight.is_some(),
            step.pause.is_some(),
            step.experiment.is_some(),
            step.analysis.is_some(),
            step.set_canary_scale.is_some(),
            step.set_header_route.is_some(),
            step.set_mirror_route.is_some(),
            step.plugin.is_some(),
        ];
        let set = kinds.iter().filter(|k| **k).count();
        if set == 0 {
            errs.push(FieldError::invalid(&sp, "{}", messages::INVALID_STEP));
        } else if set > 1 {
            let shown = format!(
                "step.Experiment: {} step.Pause: {} step.SetWeight: {} step.Analysis: {}",
                step.experiment.is_some(),
                step.pause.is_some(),
                step.set_weight.is_some(),
                step.analysis.is_some()
            );
            errs.push(FieldError::invalid(&sp, quoted(&shown), messages::INVALID_STEP));
        }
        if let Some(w) = step.set_weight
            && (w < 0 || w > max_weight)
        {
            errs.push(FieldError::invalid(
                format!("{sp}.setWeight"),
                w.to_string(),
                messages::invalid_set_weight(max_weight),
            ));
        }
        if let Some(p) = &step.pause {
            let secs = p.duration_seconds();
            if secs < 0 {
                errs.push(FieldError::invalid(
                    format!("{sp}.pause.duration"),
                    secs.to_string(),
                    messages::INVALID_DURATION,
                ));
            }
        }
        if step.set_canary_scale.is_some() && tr.is_none() {
            errs.push(FieldError::required(
                format!("{path}.trafficRouting"),
                messages::SET_CANARY_SCALE_TRAFFIC_POLICY,
            ));
        }
        if let Some(hr) = &step.set_header_route {
            match tr {
                // Argo v1.10: router plugins (the Gateway API's) take header routes too.
                Some(t) if t.istio.is_some() || t.alb.is_some() || t.apisix.is_some() || !t.plugins.is_empty() => {
                    for (j, m) in hr.match_.iter().enumerate() {
                        let mp = format!("{sp}.setHeaderRoute.match[{j}]");
                        if t.alb.is_some() {
                            alb_string_match(errs, m.header_value.as_ref(), &mp);
                        } else {
                            single_string_match(errs, m.header_value.as_ref(), &mp);
                        }
                    }
                }
                _ => errs.push(FieldError::invalid(
                    format!("{sp}.setHeaderRoute"),
                    quoted(&hr.name),
                    messages::SET_HEADER_ROUTE_TRAFFIC_POLICY,
                )),
            }
        }
        if let Some(mr) = &step.set_mirror_route {
            if tr.is_none_or(|t| t.istio.is_none() && t.plugins.is_empty()) {
                errs.push(FieldError::invalid(
                    format!("{sp}.setMirrorRoute"),
                    quoted(&mr.name),
                    messages::SET_MIRROR_ROUTE_TRAFFIC_POLICY,
                ));
            }
            for (j, m) in mr.match_.iter().enumerate() {
                let mp = format!("{sp}.setMirrorRoute.match[{j}]");
                if m.method.is_some() {
                    single_string_match(errs, m.method.as_ref(), &mp);
                }
                if m.path.is_some() {
                    single_string_match(errs, m.path.as_ref(), &mp);
                }
                for hv in m.headers.values() {
                    single_string_match(errs, Some(hv), &mp);
                }
            }
        }
        if let Some(t) = tr
            && (step.set_header_route.is_some() || step.set_mirror_route.is_some())
        {
            if t.managed_routes.is_empty() {
                errs.push(FieldError::required(
                    format!("{path}.trafficRouting.managedRoutes"),
                    messages::missing_field("spec.strategy.canary.trafficRouting.managedRoutes"),
                ));
            } else {
                let names: Vec<&str> = t.managed_routes.iter().map(|r| r.name.as_str()).collect();
                if let Some(hr) = &step.set_header_route
                    && !names.contains(&hr.name.as_str())
                {
                    errs.push(FieldError::invalid(
                        format!("{sp}.setHeaderRoute"),
                        quoted(&hr.name),
                        messages::ROUTE_NOT_IN_MANAGED_ROUTES,
                    ));
                }
                if let Some(mr) = &step.set_mirror_route
                    && !names.contains(&mr.name.as_str())
                {
                    errs.push(FieldError::invalid(
                        format!("{sp}.setMirrorRoute"),
                        quoted(&mr.name),
                        messages::ROUTE_NOT_IN_MANAGED_ROUTES,
                    ));
                }
            }
        }
        if let Some(exp) = &step.experiment {
            for (j, t) in exp.templates.iter().enumerate() {
                if let Some(w) = t.weight {
                    let wp = format!("{sp}.experiment.templates[{j}].weight");
                    match tr {
                        None => errs.push(FieldError::invalid(
                            wp,
                            w.to_string(),
                            messages::EXPERIMENT_WEIGHT_WITHOUT_TRAFFIC_ROUTING,
                        )),
                        Some(r) if r.alb.is_none() && r.smi.is_none() && r.istio.is_none() => errs.push(
                            FieldError::invalid(wp, w.to_string(), messages::EXPERIMENT_WEIGHT_UNSUPPORTED_ROUTER),
                        ),
                        _ => {}
                    }
                }
            }
            if !exp.duration.is_empty()
                && let Err(e) = crate::duration::parse_go_duration(&exp.duration)
            {
                errs.push(FieldError::invalid(
                    format!("{sp}.experiment.duration"),
                    quoted(&exp.duration),
                    e.to_string(),
                ));
            }
            let args: Vec<_> = exp.analyses.iter().flat_map(|a| a.args.iter()).collect();
            for arg in args {
                check_field_ref_arg(
                    errs,
                    rollout,
                    arg.value_from.as_ref().and_then(|v| v.field_ref.as_ref()),
                    &format!("{sp}.analyses"),
                );
            }
        }
        if let Some(a) = &step.analysis {
            validate_rollout_analysis_args(errs, rollout, Some(a), &format!("{sp}.analyses"));
        }
        if let Some(p) = &step.plugin
            && p.name.is_empty()
        {
            errs.push(FieldError::required(format!("{sp}.plugin.name"), ""));
        }
    }
    if let Some(bg) = &canary.analysis {
        validate_rollout_analysis_args(errs, rollout, Some(&bg.analysis), &format!("{path}.analysis"));
    }
    validate_anti_affinity(errs, canary.anti_affinity.as_ref(), &format!("{path}.antiAffinity"));
}

fn validate_rollout_analysis_args(
    errs: &mut Vec<FieldError>,
    rollout: &Rollout,
    a: Option<&RolloutAnalysis>,
    path: &str,
) {
    let Some(a) = a else { return };
    for arg in &a.args {
        check_field_ref_arg(errs, rollout, arg.value_from.as_ref().and_then(|v| v.field_ref.as_ref()), path);
    }
}

/// Argo accepts `metadata.*` field refs only when the downward API can extract them from the
/// Rollout (`metadata.name`, `.namespace`, `.uid`, `.labels`, `.annotations`, and one label or
/// annotation by key).
fn check_field_ref_arg(
    errs: &mut Vec<FieldError>,
    rollout: &Rollout,
    fr: Option<&crate::rollout::FieldRef>,
    path: &str,
) {
    let Some(fr) = fr else { return };
    if !fr.field_path.starts_with("metadata") {
        return;
    }
    if downward_api_metadata(rollout, &fr.field_path).is_none() {
        errs.push(FieldError::invalid(path, quoted(&fr.field_path), messages::ANALYSIS_ARGS));
    }
}

/// Kubernetes' `fieldpath.ExtractFieldPathAsString` for object metadata: the value, or `None`
/// when the path is not supported.
pub fn downward_api_metadata(rollout: &Rollout, path: &str) -> Option<String> {
    let meta = &rollout.metadata;
    if let Some(rest) = path.strip_prefix("metadata.annotations['").and_then(|r| r.strip_suffix("']")) {
        return Some(meta.annotations.as_ref().and_then(|a| a.get(rest).cloned()).unwrap_or_default());
    }
    if let Some(rest) = path.strip_prefix("metadata.labels['").and_then(|r| r.strip_suffix("']")) {
        return Some(meta.labels.as_ref().and_then(|a| a.get(rest).cloned()).unwrap_or_default());
    }
    let fmt_map = |m: Option<&std::collections::BTreeMap<String, String>>| {
        let mut lines: Vec<String> = m.into_iter().flatten().map(|(k, v)| format!("{k}={v:?}")).collect();
        lines.sort();
        lines.join("\n")
    };
    match path {
        "metadata.annotations" => Some(fmt_map(meta.annotations.as_ref())),
        "metadata.labels" => Some(fmt_map(meta.labels.as_ref())),
        "metadata.name" => Some(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => Some(meta.namespace.clone().unwrap_or_default()),
        "metadata.uid" => Some(meta.uid.clone().unwrap_or_default()),
        _ => None,
    }
}

fn alb_string_match(errs: &mut Vec<FieldError>, m: Option<&StringMatch>, path: &str) {
    match m {
        None => errs.push(FieldError::invalid(path, "null", messages::STRING_MATCH_MISSED_VALUE)),
        Some(m) if m.exact.is_empty() || !m.regex.is_empty() || !m.prefix.is_empty() => {
            errs.push(FieldError::invalid(path, show_match(m), messages::SET_HEADER_ROUTE_ALB_VALUE))
        }
        Some(_) => {}
    }
}

fn single_string_match(errs: &mut Vec<FieldError>, m: Option<&StringMatch>, path: &str) {
    let Some(m) = m else {
        errs.push(FieldError::invalid(path, "null", messages::STRING_MATCH_MISSED_VALUE));
        return;
    };
    let n = [!m.exact.is_empty(), !m.regex.is_empty(), !m.prefix.is_empty()].iter().filter(|b| **b).count();
    if n > 1 {
        errs.push(FieldError::invalid(path, show_match(m), messages::STRING_MATCH_MULTIPLE_VALUES));
    } else if n == 0 {
        errs.push(FieldError::invalid(path, show_match(m), messages::STRING_MATCH_MISSED_VALUE));
    }
}

fn show_match(m: &StringMatch) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

fn validate_anti_affinity(errs: &mut Vec<FieldError>, aa: Option<&AntiAffinity>, path: &str) {
    let Some(aa) = aa else { return };
    let preferred = aa.preferred_during_scheduling_ignored_during_execution.as_ref();
    let required = aa.required_during_scheduling_ignored_during_execution.as_ref();
    if preferred.is_some() == required.is_some() {
        let shown = format!(
            "antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: {} antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: {}",
            preferred.is_some(),
            required.is_some()
        );
        errs.push(FieldError::invalid(path, quoted(&shown), messages::ANTI_AFFINITY_STRATEGY));
    }
    if let Some(p) = preferred
        && !(1..=100).contains(&p.weight)
    {
        errs.push(FieldError::invalid(format!("{path}.weight"), p.weight.to_string(), messages::ANTI_AFFINITY_WEIGHT));
    }
}

/// How many terms a label selector has (matchLabels entries and matchExpressions).
fn selector_terms(sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> usize {
    sel.match_labels
        .as_ref()
        .map_or(0, |m| m.len())
        .saturating_add(sel.match_expressions.as_ref().map_or(0, |m| m.len()))
}
