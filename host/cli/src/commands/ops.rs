//! The operations of `kubectl argo rollouts`, writing exactly the fields Argo's CLI writes, so
//! that either CLI works with either controller:
//!
//! | command            | patch                                                                  |
//! |--------------------|------------------------------------------------------------------------|
//! | `promote`          | status `{"pauseConditions":null}` when paused by the controller (and  |
//! |                    | spec `{"paused":false}` if spec.paused); else for a canary status      |
//! |                    | `{"pauseConditions":null,"currentStepIndex":N+1}` (capped at the steps) |
//! | `promote --full`   | status `{"promoteFull":true}`, only while the update is not stable     |
//! | `abort`            | status `{"abort":true}`                                                |
//! | `retry rollout`    | status `{"abort":false}`                                               |
//! | `retry experiment` | `{"status":null}` on the Experiment itself (no status subresource)      |
//! | `terminate experiment`, `terminate analysisrun` | `{"spec":{"terminate":true}}`             |
//! | `pause`            | spec `{"paused":true}`                                                 |
//! | `restart [--in D]` | spec `{"restartAt":"<RFC 3339, now + D>"}`                             |
//! | `set image C=I`    | JSON patch of each matching container's `image` in spec.template       |
//! | `undo`             | JSON patch: spec.template = the template of the revision's ReplicaSet  |
//!
//! Status patches are merge patches of the `status` subresource, sent before spec patches, as
//! Argo's CLI sends them.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use aviary_api::rollout::POD_TEMPLATE_HASH_LABEL;
use aviary_api::{AnalysisRun, Experiment, Rollout};
use aviary_engine::weight::current_step;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::{Value, json};

use super::kubeargs::{Connection, KubeArgs};
use crate::render::info::REVISION_ANNOTATION;

/// The patches one operation sends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patches {
    /// A merge patch of the status subresource, sent first.
    pub status: Option<Value>,
    /// A merge patch of the object (spec).
    pub spec: Option<Value>,
}

/// `retry experiment`: Argo's CLI clears the whole status, so that the controller starts the
/// experiment over (new ReplicaSets and AnalysisRuns). Sent to the object itself, not a status
/// subresource: the Experiment CRD has none.
pub const RETRY_EXPERIMENT_PATCH: &str = r#"{"status":null}"#;
/// `terminate experiment` and `terminate analysisrun`.
pub const TERMINATE_PATCH: &str = r#"{"spec":{"terminate":true}}"#;

/// `promote` and `promote --full` (Argo's `getPatches`).
pub fn promote_patches(ro: &Rollout, full: bool) -> Patches {
    let st = ro.status.clone().unwrap_or_default();
    if full {
        let status = (st.current_pod_hash != st.stable_rs).then(|| json!({"status": {"promoteFull": true}}));
        return Patches { status, spec: None };
    }
    let spec = ro.spec.paused.then(|| json!({"spec": {"paused": false}}));
    let status = if !st.pause_conditions.is_empty() {
        Some(json!({"status": {"pauseConditions": null}}))
    } else if let Some(canary) = ro.spec.canary() {
        // Promoting a rollout in the middle of an analysis or experiment step moves to the next
        // step; the index never goes past the number of steps.
        current_step(ro).1.map(|index| {
            let steps = i32::try_from(canary.steps.len()).unwrap_or(i32::MAX);
            let next = if index < steps { index + 1 } else { index };
            json!({"status": {"pauseConditions": null, "currentStepIndex": next}})
        })
    } else {
        None
    };
    Patches { status, spec }
}

/// `restart`: the time, in RFC 3339 with whole seconds, at which the pods restart.
pub fn restart_patch(at: DateTime<Utc>) -> Value {
    json!({"spec": {"restartAt": at.to_rfc3339_opts(SecondsFormat::Secs, true)}})
}

/// `set image`: JSON patch operations replacing the image of every container named `container`
/// (`*`: all) among init, regular and ephemeral containers; an error when none matches.
pub fn set_image_ops(ro: &Rollout, container: &str, image: &str) -> anyhow::Result<Vec<Value>> {
    let spec = ro.spec.template.as_ref().and_then(|t| t.spec.as_ref());
    let mut ops = Vec::new();
    let mut push = |list: &str, names: Vec<&str>| {
        for (i, name) in names.into_iter().enumerate() {
            if name == container || container == "*" {
                ops.push(
                    json!({"op": "replace", "path": format!("/spec/template/spec/{list}/{i}/image"), "value": image}),
                );
            }
        }
    };
    if let Some(spec) = spec {
        push("initContainers", spec.init_containers.iter().flatten().map(|c| c.name.as_str()).collect());
        push("containers", spec.containers.iter().map(|c| c.name.as_str()).collect());
        push("ephemeralContainers", spec.ephemeral_containers.iter().flatten().map(|c| c.name.as_str()).collect());
    }
    if ops.is_empty() {
        bail!("unable to find container named \"{container}\"");
    }
    Ok(ops)
}

/// `undo`: the ReplicaSet of revision `to` (0: the one before the newest) among `owned`.
pub fn undo_source(owned: &[ReplicaSet], to: i64) -> anyhow::Result<&ReplicaSet> {
    let revision = |rs: &ReplicaSet| -> i64 {
        rs.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION_ANNOTATION))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    if to > 0 {
        return owned
            .iter()
            .find(|rs| revision(rs) == to)
            .with_context(|| format!("unable to find specified revision {to} in history"));
    }
    let mut sorted: Vec<&ReplicaSet> = owned.iter().collect();
    sorted.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
    sorted.get(1).copied().context("no revision found to roll back to")
}

/// The pod template of `rs` without the `rollouts-pod-template-hash` label, as JSON.
pub fn template_without_hash(rs: &ReplicaSet) -> anyhow::Result<Value> {
    let template = rs.spec.as_ref().and_then(|s| s.template.clone()).context("the ReplicaSet has no template")?;
    let mut value = serde_json::to_value(template)?;
    if let Some(labels) = value.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    Ok(value)
}

/// Kubernetes' semantic `DeepDerivative(a, b)`: every field set in `a` has the same value in
/// `b` (unset fields of `a` match anything, e.g. defaults the API server filled into `b`).
pub fn derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::Object(a), Value::Object(b)) => {
            a.iter().all(|(k, v)| v.is_null() || b.get(k).is_some_and(|w| derivative(v, w)) || is_empty(v))
        }
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| derivative(x, y)),
        (a, b) => a == b,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// `aviary promote|abort|retry|undo|pause|restart|set` share the connection flags.
#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The rollout.
    pub name: String,
    #[command(flatten)]
    kube: KubeArgs,
}

/// Flags of `promote`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    # Promote a paused rollout (or one in the middle of an analysis step) to its next step\n  \
    aviary promote guestbook\n\n  \
    # Skip the remaining steps, pauses and analyses\n  \
    aviary promote guestbook --full")]
pub struct PromoteArgs {
    #[command(flatten)]
    target: NameArgs,
    /// Promote fully: skip the remaining steps, pauses and analyses.
    #[arg(long)]
    full: bool,
}

/// Flags of `abort`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  aviary abort guestbook\n\n\
    The stable ReplicaSet takes all traffic back. spec.template still holds the new version:\n\
    `aviary retry rollout` tries it again, `aviary undo` reverts it.")]
pub struct AbortArgs {
    #[command(flatten)]
    target: NameArgs,
}

/// `retry ...`
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    #[command(subcommand)]
    command: RetryCommand,
}

#[derive(Debug, Subcommand)]
enum RetryCommand {
    /// Retry an aborted rollout (clears status.abort).
    #[command(visible_alias = "ro", after_help = "Example:\n  aviary retry rollout guestbook")]
    Rollout(NameArgs),
    /// Retry a failed experiment (clears its status: the controller runs it again).
    #[command(visible_aliases = ["exp", "experiments"], after_help = "Example:\n  aviary retry experiment my-experiment")]
    Experiment(NamesArgs),
}

/// `retry experiment` and `terminate ...` take one name or more, as Argo's CLI does.
#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    /// The objects, one or more.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    kube: KubeArgs,
}

/// `terminate ...`
#[derive(Debug, clap::Args)]
pub struct TerminateArgs {
    #[command(subcommand)]
    command: TerminateCommand,
}

#[derive(Debug, Subcommand)]
enum TerminateCommand {
    /// Terminate a running AnalysisRun (sets spec.terminate).
    #[command(
        visible_aliases = ["ar", "analysisruns"],
        after_help = "Example:\n  aviary terminate analysisrun guestbook-877894d5b-4-success-rate.1"
    )]
    Analysisrun(NamesArgs),
    /// Terminate a running experiment (sets spec.terminate): its ReplicaSets are scaled down and
    /// its AnalysisRuns terminated.
    #[command(visible_aliases = ["exp", "experiments"], after_help = "Example:\n  aviary terminate experiment my-experiment")]
    Experiment(NamesArgs),
}

/// Flags of `undo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  aviary undo guestbook\n  aviary undo guestbook --to-revision 3")]
pub struct UndoArgs {
    #[command(flatten)]
    target: NameArgs,
    /// The revision to roll back to (default: the previous one).
    #[arg(long, default_value_t = 0)]
    to_revision: i64,
}

/// Flags of `pause`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  aviary pause guestbook        # resume with: aviary promote guestbook")]
pub struct PauseArgs {
    #[command(flatten)]
    target: NameArgs,
}

/// Flags of `restart`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  aviary restart guestbook\n  aviary restart guestbook --in 10s")]
pub struct RestartArgs {
    #[command(flatten)]
    target: NameArgs,
    /// Restart after this long (e.g. 30s, 5m) rather than now.
    #[arg(short = 'i', long = "in", value_parser = humantime::parse_duration)]
    in_: Option<Duration>,
}

/// `set ...`
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(subcommand)]
    command: SetCommand,
}

#[derive(Debug, Subcommand)]
enum SetCommand {
    /// Set the image of a container of the rollout's pod template (`*` for all containers).
    #[command(
        after_help = "Examples:\n  aviary set image guestbook app=nginx:1.27\n  aviary set image guestbook '*=nginx:1.27'"
    )]
    Image(SetImageArgs),
}

/// Flags of `set image`.
#[derive(Debug, clap::Args)]
pub struct SetImageArgs {
    #[command(flatten)]
    target: NameArgs,
    /// CONTAINER=IMAGE.
    #[arg(value_name = "CONTAINER=IMAGE")]
    image: String,
}

fn rollouts(conn: &Connection) -> Api<Rollout> {
    Api::namespaced(conn.client.clone(), &conn.namespace)
}

/// Sends `patches`: status first, then spec, as merge patches.
pub async fn apply(conn: &Connection, name: &str, patches: &Patches) -> anyhow::Result<()> {
    let api = rollouts(conn);
    if let Some(p) = &patches.status {
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(p))
            .await
            .with_context(|| format!("patching the status of rollout {name}"))?;
    }
    if let Some(p) = &patches.spec {
        api.patch(name, &PatchParams::default(), &Patch::Merge(p))
            .await
            .with_context(|| format!("patching rollout {name}"))?;
    }
    Ok(())
}

async fn get(conn: &Connection, name: &str) -> anyhow::Result<Rollout> {
    rollouts(conn)
        .get(name)
        .await
        .with_context(|| format!("reading rollout {name:?} in namespace {:?}", conn.namespace))
}

/// Sends a JSON patch guarded by the rollout's resourceVersion (`test` op), so that it never
/// applies to a template that changed since it was computed; retried a few times on conflict.
async fn json_patch(
    conn: &Connection,
    name: &str,
    mut ops_for: impl FnMut(&Rollout) -> anyhow::Result<Vec<Value>>,
) -> anyhow::Result<()> {
    let api = rollouts(conn);
    let mut last_err = None;
    for _ in 0..5 {
        let ro = get(conn, name).await?;
        let mut ops =
            vec![json!({"op": "test", "path": "/metadata/resourceVersion", "value": ro.metadata.resource_version})];
        ops.extend(ops_for(&ro)?);
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))?;
        match api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 422 => last_err = Some(e),
            Err(e) => return Err(e).with_context(|| format!("patching rollout {name}")),
        }
    }
    Err(anyhow::anyhow!("rollout {name} kept changing: {:?}", last_err))
}

/// Sets the image of `container` (`*`: every container) of the rollout `name`.
pub async fn set_image(conn: &Connection, name: &str, container: &str, image: &str) -> anyhow::Result<()> {
    json_patch(conn, name, |ro| set_image_ops(ro, container, image)).await
}

/// Runs `promote`.
pub fn promote(args: PromoteArgs) -> anyhow::Result<ExitCode> {
    with_conn(&args.target, |conn, name| async move {
        let ro = get(&conn, &name).await?;
        apply(&conn, &name, &promote_patches(&ro, args.full)).await?;
        if args.full {
            println!("rollout '{name}' fully promoted");
        } else {
            println!("rollout '{name}' promoted");
        }
        Ok(())
    })
}

/// Runs `abort`.
pub fn abort(args: AbortArgs) -> anyhow::Result<ExitCode> {
    with_conn(&args.target, |conn, name| async move {
        apply(&conn, &name, &simple_patches("abort", Utc::now()).unwrap_or_default()).await?;
        println!("rollout '{name}' aborted");
        Ok(())
    })
}

/// Runs `retry rollout` and `retry experiment`.
pub fn retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let target = match args.command {
        RetryCommand::Rollout(target) => target,
        RetryCommand::Experiment(targets) => {
            return merge_patch_each::<Experiment>(&targets, RETRY_EXPERIMENT_PATCH, "experiment '{}' retried");
        }
    };
    with_conn(&target, |conn, name| async move {
        apply(&conn, &name, &simple_patches("retry", Utc::now()).unwrap_or_default()).await?;
        println!("rollout '{name}' retried");
        Ok(())
    })
}

/// Runs `pause`.
pub fn pause(args: PauseArgs) -> anyhow::Result<ExitCode> {
    with_conn(&args.target, |conn, name| async move {
        apply(&conn, &name, &simple_patches("pause", Utc::now()).unwrap_or_default()).await?;
        println!("rollout '{name}' paused");
        Ok(())
    })
}

/// Runs `restart`.
pub fn restart(args: RestartArgs) -> anyhow::Result<ExitCode> {
    let delay = args.in_.unwrap_or_default();
    with_conn(&args.target, |conn, name| async move {
        let at = Utc::now() + chrono::Duration::from_std(delay)?;
        apply(&conn, &name, &Patches { status: None, spec: Some(restart_patch(at)) }).await?;
        println!("rollout '{name}' restarts in {}", humantime::format_duration(delay));
        Ok(())
    })
}

/// Runs `set image`.
pub fn set(args: SetArgs) -> anyhow::Result<ExitCode> {
    let SetCommand::Image(args) = args.command;
    let Some((container, image)) = args.image.split_once('=').filter(|(c, i)| !c.is_empty() && !i.is_empty()) else {
        bail!("expected CONTAINER=IMAGE, got {:?}", args.image);
    };
    let (container, image) = (container.to_string(), image.to_string());
    with_conn(&args.target, |conn, name| async move {
        set_image(&conn, &name, &container, &image).await?;
        println!("rollout \"{name}\" image updated");
        Ok(())
    })
}

/// Runs `undo`.
pub fn undo(args: UndoArgs) -> anyhow::Result<ExitCode> {
    let to = args.to_revision;
    with_conn(&args.target, |conn, name| async move {
        println!("{}", undo_to(&conn, &name, to).await?);
        Ok(())
    })
}

/// Rolls rollout `name` back to revision `to` (0: the previous one) and says what it did:
/// `undo` and the dashboard's Undo button.
pub async fn undo_to(conn: &Connection, name: &str, to: i64) -> anyhow::Result<String> {
    let ro = get(conn, name).await?;
    let uid = ro.metadata.uid.clone().unwrap_or_default();
    let selector = ro.spec.selector.as_ref().and_then(|s| s.match_labels.clone()).unwrap_or_default();
    let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let rs_api: Api<ReplicaSet> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let owned: Vec<ReplicaSet> = rs_api
        .list(&ListParams::default().labels(&selector.join(",")))
        .await?
        .items
        .into_iter()
        .filter(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
        .collect();
    let source = undo_source(&owned, to)?;
    let template = template_without_hash(source)?;
    let current = serde_json::to_value(&ro.spec.template)?;
    if derivative(&current, &template) {
        return Ok(format!("skipped rollback (current template already matches revision {to})"));
    }
    json_patch(conn, name, |_| Ok(vec![json!({"op": "replace", "path": "/spec/template", "value": template})])).await?;
    Ok(format!("rollout '{name}' undo"))
}

/// The patches of the actions that need nothing but the rollout's name, shared by the CLI and the
/// dashboard: `abort`, `retry`, `pause`, `restart` (at `now`). `None` for another name.
pub fn simple_patches(action: &str, now: DateTime<Utc>) -> Option<Patches> {
    Some(match action {
        "abort" => Patches { status: Some(json!({"status": {"abort": true}})), spec: None },
        "retry" => Patches { status: Some(json!({"status": {"abort": false}})), spec: None },
        "pause" => Patches { status: None, spec: Some(json!({"spec": {"paused": true}})) },
        "restart" => Patches { status: None, spec: Some(restart_patch(now)) },
        _ => return None,
    })
}

/// Reads rollout `name` (for the dashboard's actions).
pub async fn read(conn: &Connection, name: &str) -> anyhow::Result<Rollout> {
    get(conn, name).await
}

/// Runs `terminate analysisrun` and `terminate experiment`.
pub fn terminate(args: TerminateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TerminateCommand::Analysisrun(targets) => {
            merge_patch_each::<AnalysisRun>(&targets, TERMINATE_PATCH, "analysisRun '{}' terminated")
        }
        // Argo's CLI says "retried" here too (its terminate command reuses the retry message);
        // scripts written against it read exactly this line, so Aviary prints the same.
        TerminateCommand::Experiment(targets) => {
            merge_patch_each::<Experiment>(&targets, TERMINATE_PATCH, "experiment '{}' retried")
        }
    }
}

/// Sends the merge patch `patch` to each object named in `targets`, in order, printing `done`
/// (its `{}` replaced by the name) after each; stops at the first error, as Argo's CLI does.
fn merge_patch_each<K>(targets: &NamesArgs, patch: &str, done: &str) -> anyhow::Result<ExitCode>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let patch: Value = serde_json::from_str(patch)?;
    super::runtime()?.block_on(async {
        let conn = targets.kube.connect().await?;
        let api: Api<K> = Api::namespaced(conn.client.clone(), &conn.namespace);
        for name in &targets.names {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .with_context(|| format!("patching {} {name} in namespace {:?}", K::kind(&()), conn.namespace))?;
            println!("{}", done.replace("{}", name));
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn with_conn<F, Fut>(target: &NameArgs, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Connection, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    super::runtime()?.block_on(async {
        let conn = target.kube.connect().await?;
        f(conn, target.name.clone()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::rollout_status::{PauseCondition, PauseReason};

    fn canary(steps: usize, index: Option<i32>) -> Rollout {
        let steps: Vec<Value> = (0..steps).map(|_| json!({"pause": {}})).collect();
        let mut ro: Rollout = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "app"},
            "spec": {
                "selector": {"matchLabels": {"app": "app"}},
                "template": {"metadata": {"labels": {"app": "app"}},
                             "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
                                      "containers": [{"name": "app", "image": "nginx:1"}, {"name": "side", "image": "envoy"}]}},
                "strategy": {"canary": {"steps": steps}}
            }
        }))
        .unwrap();
        ro.status = Some(aviary_api::RolloutStatus { current_step_index: index, ..Default::default() });
        ro
    }

    #[test]
    fn promote_clears_pause_conditions_without_touching_the_step() {
        let mut ro = canary(3, Some(1));
        ro.status.as_mut().unwrap().pause_conditions.push(PauseCondition {
            reason: PauseReason::CanaryPauseStep,
            start_time: aviary_api::Time::parse("2024-01-01T00:00:00Z").unwrap(),
        });
        let p = promote_patches(&ro, false);
        assert_eq!(p.status, Some(json!({"status": {"pauseConditions": null}})));
        assert_eq!(p.spec, None);
    }

    #[test]
    fn promote_without_pause_conditions_moves_to_the_next_step_capped_at_the_step_count() {
        let p = promote_patches(&canary(3, Some(1)), false);
        assert_eq!(p.status, Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 2}})));
        let p = promote_patches(&canary(3, Some(3)), false);
        assert_eq!(p.status, Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 3}})));
        let p = promote_patches(&canary(3, None), false);
        assert_eq!(p.status, Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 1}})));
    }

    #[test]
    fn promote_unpauses_a_manually_paused_rollout() {
        let mut ro = canary(2, Some(0));
        ro.spec.paused = true;
        assert_eq!(promote_patches(&ro, false).spec, Some(json!({"spec": {"paused": false}})));
    }

    #[test]
    fn promote_full_is_sent_only_while_the_update_is_not_stable() {
        let mut ro = canary(2, Some(0));
        let st = ro.status.as_mut().unwrap();
        st.current_pod_hash = "new".into();
        st.stable_rs = "old".into();
        assert_eq!(promote_patches(&ro, true).status, Some(json!({"status": {"promoteFull": true}})));
        ro.status.as_mut().unwrap().stable_rs = "new".into();
        assert_eq!(promote_patches(&ro, true), Patches::default());
    }

    #[test]
    fn restart_writes_rfc3339_with_whole_seconds() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z").unwrap().with_timezone(&Utc);
        assert_eq!(restart_patch(at), json!({"spec": {"restartAt": "2026-01-02T03:04:05Z"}}));
    }

    #[test]
    fn set_image_replaces_matching_containers_only() {
        let ro = canary(1, None);
        let ops = set_image_ops(&ro, "app", "nginx:2").unwrap();
        assert_eq!(
            ops,
            vec![json!({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:2"})]
        );
        assert_eq!(set_image_ops(&ro, "*", "x").unwrap().len(), 3);
        let err = set_image_ops(&ro, "nope", "x").unwrap_err().to_string();
        assert_eq!(err, "unable to find container named \"nope\"");
    }

    fn rs(revision: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": format!("app-{revision}"), "annotations": {REVISION_ANNOTATION: revision}},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {"app": "app", POD_TEMPLATE_HASH_LABEL: "abc"}},
                     "spec": {"containers": [{"name": "app", "image": format!("nginx:{revision}"), "imagePullPolicy": "IfNotPresent"}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn undo_picks_the_previous_revision_or_the_one_asked_for() {
        let owned = vec![rs("1"), rs("3"), rs("2")];
        assert_eq!(undo_source(&owned, 0).unwrap().metadata.name.as_deref(), Some("app-2"));
        assert_eq!(undo_source(&owned, 1).unwrap().metadata.name.as_deref(), Some("app-1"));
        assert!(undo_source(&owned, 7).unwrap_err().to_string().contains("unable to find specified revision 7"));
        assert!(undo_source(&owned[..1], 0).is_err());
    }

    #[test]
    fn undo_writes_the_template_without_the_hash_label() {
        let t = template_without_hash(&rs("2")).unwrap();
        assert_eq!(t["metadata"]["labels"], json!({"app": "app"}));
        // The rollout's template (no defaults) is a derivative of the stored one (defaults filled).
        let mine = json!({"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": "nginx:2"}]}});
        assert!(derivative(&mine, &t));
        let other = json!({"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": "nginx:3"}]}});
        assert!(!derivative(&other, &t));
    }
}
