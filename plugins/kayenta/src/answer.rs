//! Reading Kayenta's answers the way Argo's provider reads them: the canary config's id from the
//! config list, the execution id from the start answer, and from the execution's status whether
//! it is complete and its score.

use aviary_plugin_sdk::Phase;
use serde::Deserialize;
use serde_json::Value;

use crate::config::Threshold;
use crate::error::KayentaError;

/// One entry of `GET /canaryConfig` (Kayenta's `CanaryConfigIndex`; Argo reads `id` and `name`).
#[derive(Debug, Clone, Deserialize)]
struct ConfigIndex {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

/// The id of the canary config named `name` in a `GET /canaryConfig` answer.
pub fn config_id(body: &[u8], name: &str) -> Result<String, KayentaError> {
    let list: Vec<ConfigIndex> = serde_json::from_slice(body)
        .map_err(|e| KayentaError::Decode { what: "cannot read the canary config list", reason: e.to_string() })?;
    list.into_iter().find(|c| c.name == name).map(|c| c.id).ok_or(KayentaError::ConfigNotFound)
}

/// The `canaryExecutionId` of a start answer (a string; a number is kept as Go prints it).
pub fn execution_id(body: &[u8]) -> Result<String, KayentaError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| KayentaError::Decode { what: "cannot read the canary execution", reason: e.to_string() })?;
    let id = match answer.get("canaryExecutionId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if id.is_empty() { Err(KayentaError::ExecutionId) } else { Ok(id) }
}

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Execution {
    /// `complete` is false: poll again later.
    Running,
    /// Complete with this score, truncated to an integer as Argo does.
    Scored(i64),
}

/// Reads `GET /canary/{id}` (Kayenta's `CanaryExecutionStatusResponse`): `complete`, then
/// `result.judgeResult.score.score`.
pub fn execution(body: &[u8]) -> Result<Execution, KayentaError> {
    let status: Value = serde_json::from_slice(body)
        .map_err(|e| KayentaError::Decode { what: "cannot read the canary execution status", reason: e.to_string() })?;
    match nested(&status, &["complete"])? {
        None => return Err(KayentaError::MissingComplete),
        Some(Value::Bool(false)) => return Ok(Execution::Running),
        Some(Value::Bool(true)) => {}
        Some(other) => return Err(accessor(&["complete"], other, "bool")),
    }
    let path = ["result", "judgeResult", "score", "score"];
    match nested(&status, &path)? {
        None => Err(KayentaError::MissingScore),
        // Go's int(float64): truncation toward zero.
        Some(Value::Number(n)) => Ok(Execution::Scored(n.as_f64().unwrap_or(0.0) as i64)),
        Some(other) => Err(accessor(&path, other, "float64")),
    }
}

/// Argo's `evaluateResult`: at or above `pass` passes, at or above `marginal` is inconclusive,
/// anything lower fails.
pub fn judge(score: i64, threshold: Threshold) -> Phase {
    if score >= threshold.pass {
        Phase::Successful
    } else if score >= threshold.marginal {
        Phase::Inconclusive
    } else {
        Phase::Failed
    }
}

/// `unstructured.NestedFieldNoCopy`: `None` when a key is absent, an error when something on
/// the way is not an object.
fn nested<'a>(v: &'a Value, path: &[&str]) -> Result<Option<&'a Value>, KayentaError> {
    let mut here = v;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = here else {
            return Err(accessor(&path[..i], here, "map[string]interface{}"));
        };
        match map.get(*key) {
            Some(next) => here = next,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

fn accessor(path: &[&str], value: &Value, expected: &'static str) -> KayentaError {
    let found = match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    };
    let path = path.iter().map(|k| format!(".{k}")).collect::<String>();
    KayentaError::Accessor { path, value: value.to_string(), found, expected }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Argo's test answer (metricproviders/kayenta/kayenta_test.go).
    const CONFIGS: &str = r#"[
      {"id": "69a6c352-7033-4ca1-858b-02497e5cc672", "name": "ValidationCanaryConfigWF", "updatedTimestamp": 1556747152000,
       "updatedTimestampIso": "2019-05-01T21:45:52Z", "applications": ["guestbook"]},
      {"id": "bf9795c0-170f-403e-bb7f-fef3f9a44d42", "name": "ValidationCanaryConfigTest3", "updatedTimestamp": 1553707842000,
       "updatedTimestampIso": "2019-03-27T17:30:42Z", "applications": ["guestbook"]}
    ]"#;

    #[test]
    fn the_config_is_found_by_its_exact_name() {
        assert_eq!(
            config_id(CONFIGS.as_bytes(), "ValidationCanaryConfigTest3").unwrap(),
            "bf9795c0-170f-403e-bb7f-fef3f9a44d42"
        );
        assert_eq!(config_id(CONFIGS.as_bytes(), "validationcanaryconfigtest3"), Err(KayentaError::ConfigNotFound));
        let err = config_id(br#"{"this is bad": "yee"}"#, "x").unwrap_err();
        assert!(err.to_string().starts_with("cannot read the canary config list: invalid type: map"), "{err}");
    }

    #[test]
    fn the_execution_id_must_be_there() {
        assert_eq!(
            execution_id(br#"{"canaryExecutionId" : "01DS50WVHAWSTAQACJKB1VKDQB"}"#).unwrap(),
            "01DS50WVHAWSTAQACJKB1VKDQB"
        );
        assert_eq!(execution_id(br#"{"canaryExecutionId": ""}"#), Err(KayentaError::ExecutionId));
        assert_eq!(execution_id(br#"{"id": "x"}"#), Err(KayentaError::ExecutionId));
    }

    #[test]
    fn an_incomplete_execution_is_running_and_a_complete_one_has_its_score_truncated() {
        assert_eq!(execution(br#"{"complete": false, "status": "running"}"#), Ok(Execution::Running));
        let done = br#"{"complete": true, "executionStatus": "SUCCEEDED",
                        "result": {"judgeResult": {"score": {"score": 89.9, "classification": "Marginal"}}}}"#;
        assert_eq!(execution(done), Ok(Execution::Scored(89)));
    }

    #[test]
    fn missing_or_mistyped_fields_carry_argos_messages() {
        assert_eq!(execution(br#"{"status": "running"}"#).unwrap_err().to_string(), "Missing Complete Status");
        assert_eq!(execution(br#"{"complete": true, "result": {}}"#).unwrap_err().to_string(), "Missing Score");
        assert_eq!(
            execution(br#"{"complete": "yes"}"#).unwrap_err().to_string(),
            r#".complete accessor error: "yes" is of the type string, expected bool"#
        );
        assert_eq!(
            execution(br#"{"complete": true, "result": null}"#).unwrap_err().to_string(),
            ".result accessor error: null is of the type <nil>, expected map[string]interface{}"
        );
        assert_eq!(
            execution(br#"{"complete": true, "result": {"judgeResult": {"score": {"score": "90"}}}}"#)
                .unwrap_err()
                .to_string(),
            r#".result.judgeResult.score.score accessor error: "90" is of the type string, expected float64"#
        );
    }

    #[test]
    fn scores_map_to_phases_as_argos_evaluate_result() {
        let t = Threshold { pass: 90, marginal: 75 };
        assert_eq!(judge(90, t), Phase::Successful);
        assert_eq!(judge(100, t), Phase::Successful);
        assert_eq!(judge(89, t), Phase::Inconclusive);
        assert_eq!(judge(75, t), Phase::Inconclusive);
        assert_eq!(judge(74, t), Phase::Failed);
        assert_eq!(judge(0, t), Phase::Failed);
    }
}
