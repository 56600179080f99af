//! Provider credentials that live in Secrets, resolved by the controller so that a plugin never
//! needs access to the Kubernetes API (and a template never holds a key).
//!
//! Argo's `datadog` provider reads its API key, application key and (optionally) site address
//! from a Secret: by default the one named `datadog` in the controller's namespace, with the keys
//! `api-key`, `app-key` and `address`. `secretRef.name` names another Secret;
//! `secretRef.namespaced: true` looks it up in the AnalysisRun's namespace instead. When the
//! Secret cannot be read, Argo falls back to the controller's `DD_API_KEY`, `DD_APP_KEY` and
//! `DD_ADDRESS` environment variables; so does Aviary. The values are added to the plugin's
//! config as `apiKey`, `appKey` and `address` (the fields `aviary/datadog` reads).

use std::collections::BTreeMap;

use aviary_api::analysis::SecretRef;
use k8s_openapi::ByteString;

/// The Secret Argo's datadog provider reads when `secretRef.name` is empty.
pub const DATADOG_SECRET: &str = "datadog";
/// The Secret key holding Datadog's API key.
pub const DATADOG_API_KEY: &str = "api-key";
/// The Secret key holding Datadog's application key.
pub const DATADOG_APP_KEY: &str = "app-key";
/// The Secret key holding the Datadog site's address (optional; default api.datadoghq.com).
pub const DATADOG_ADDRESS: &str = "address";
/// The environment variables Argo falls back to when the Secret cannot be read.
pub const DATADOG_ENV: [&str; 3] = ["DD_API_KEY", "DD_APP_KEY", "DD_ADDRESS"];

/// Where a datadog metric's Secret is: `(namespace, name)`.
pub fn datadog_secret_location(secret_ref: &SecretRef, controller_ns: &str, run_ns: &str) -> (String, String) {
    let name = if secret_ref.name.is_empty() { DATADOG_SECRET } else { secret_ref.name.as_str() };
    let ns = if secret_ref.namespaced { run_ns } else { controller_ns };
    (ns.to_string(), name.to_string())
}

/// Datadog credentials as the plugin receives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatadogCredentials {
    /// `DD-API-KEY`.
    pub api_key: String,
    /// `DD-APPLICATION-KEY`.
    pub app_key: String,
    /// The site's address, when the Secret (or `DD_ADDRESS`) sets one.
    pub address: Option<String>,
}

impl DatadogCredentials {
    /// Adds the credentials to the plugin config (a JSON object) as `apiKey`, `appKey` and
    /// `address`. An address already in the config is kept only when the Secret has none.
    pub fn merge_into(&self, config: &str) -> Result<String, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(config).map_err(|e| format!("the datadog provider config is not JSON: {e}"))?;
        let object = value.as_object_mut().ok_or("the datadog provider config is not an object")?;
        object.insert("apiKey".into(), self.api_key.clone().into());
        object.insert("appKey".into(), self.app_key.clone().into());
        if let Some(address) = &self.address {
            object.insert("address".into(), address.clone().into());
        }
        Ok(value.to_string())
    }

    /// The values to redact from every message.
    pub fn secrets(&self) -> Vec<String> {
        vec![self.api_key.clone(), self.app_key.clone()]
    }
}

/// What reading the Secret gave.
#[derive(Debug)]
pub enum SecretLookup<'a> {
    /// The Secret's data.
    Found(Option<&'a BTreeMap<String, ByteString>>),
    /// There is no such Secret.
    NotFound,
    /// The API server refused or failed (the message says why).
    Unreadable(String),
}

/// The credentials from the Secret at `location` (`(namespace, name)`), or, when it cannot be
/// read, from the environment as Argo does. The error names the Secret and the missing key.
pub fn datadog_credentials(
    location: &(String, String),
    secret: SecretLookup<'_>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<DatadogCredentials, String> {
    let (ns, name) = location;
    let why = match secret {
        SecretLookup::Found(data) => {
            let get = |key: &str| -> Result<Option<String>, String> {
                match data.and_then(|d| d.get(key)) {
                    None => Ok(None),
                    Some(bytes) => String::from_utf8(bytes.0.clone())
                        .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
                        .map_err(|_| format!("key {key:?} of Secret {ns}/{name} is not UTF-8")),
                }
            };
            let required = |key: &str, what: &str| -> Result<String, String> {
                get(key)?.ok_or_else(|| {
                    format!("Secret {ns}/{name} has no key {key:?} (the Datadog {what} of the datadog provider)")
                })
            };
            return Ok(DatadogCredentials {
                api_key: required(DATADOG_API_KEY, "API key")?,
                app_key: required(DATADOG_APP_KEY, "application key")?,
                address: get(DATADOG_ADDRESS)?,
            });
        }
        SecretLookup::NotFound => format!("Secret {ns}/{name} not found"),
        SecretLookup::Unreadable(e) => format!("cannot read Secret {ns}/{name}: {e}"),
    };
    let [api_env, app_env, address_env] = DATADOG_ENV;
    let from_env = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    match (from_env(api_env), from_env(app_env)) {
        (Some(api_key), Some(app_key)) => Ok(DatadogCredentials { api_key, app_key, address: from_env(address_env) }),
        _ => Err(format!(
            "{why}, and the controller has no {api_env}/{app_env}: the datadog provider needs a Secret with the \
             keys {DATADOG_API_KEY:?} and {DATADOG_APP_KEY:?} (and optionally {DATADOG_ADDRESS:?})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()
    }

    const LOC: fn() -> (String, String) = || ("aviary".to_string(), "datadog".to_string());

    #[test]
    fn the_secret_is_argos_datadog_in_the_controllers_namespace_unless_the_ref_says_otherwise() {
        let default = SecretRef::default();
        assert_eq!(
            datadog_secret_location(&default, "argo-rollouts", "team"),
            ("argo-rollouts".into(), "datadog".into())
        );
        let named = SecretRef { name: "dd-prod".into(), namespaced: false };
        assert_eq!(datadog_secret_location(&named, "aviary", "team"), ("aviary".into(), "dd-prod".into()));
        let namespaced = SecretRef { name: String::new(), namespaced: true };
        assert_eq!(datadog_secret_location(&namespaced, "aviary", "team"), ("team".into(), "datadog".into()));
    }

    #[test]
    fn keys_and_address_come_from_the_secret_and_go_into_the_config() {
        let d = data(&[("api-key", "k1\n"), ("app-key", "a1"), ("address", "http://127.0.0.1:9")]);
        let c = datadog_credentials(&LOC(), SecretLookup::Found(Some(&d)), |_| Some("env".into())).unwrap();
        assert_eq!(c.api_key, "k1", "a trailing newline (kubectl create secret --from-file) is trimmed");
        assert_eq!(c.address.as_deref(), Some("http://127.0.0.1:9"));
        let merged: serde_json::Value =
            serde_json::from_str(&c.merge_into(r#"{"query":"q","address":"ignored"}"#).unwrap()).unwrap();
        assert_eq!(
            merged,
            serde_json::json!({"query": "q", "apiKey": "k1", "appKey": "a1", "address": "http://127.0.0.1:9"})
        );
        let no_address = data(&[("api-key", "k1"), ("app-key", "a1")]);
        let c = datadog_credentials(&LOC(), SecretLookup::Found(Some(&no_address)), |_| None).unwrap();
        let merged: serde_json::Value = serde_json::from_str(&c.merge_into(r#"{"query":"q"}"#).unwrap()).unwrap();
        assert!(merged.get("address").is_none(), "the plugin's default site applies");
    }

    #[test]
    fn a_missing_key_names_the_secret_and_the_key() {
        let d = data(&[("api-key", "k1")]);
        let e = datadog_credentials(&LOC(), SecretLookup::Found(Some(&d)), |_| Some("env".into())).unwrap_err();
        assert_eq!(
            e,
            "Secret aviary/datadog has no key \"app-key\" (the Datadog application key of the datadog provider)"
        );
        let e = datadog_credentials(&LOC(), SecretLookup::Found(None), |_| None).unwrap_err();
        assert!(e.contains("has no key \"api-key\""), "{e}");
    }

    #[test]
    fn without_the_secret_the_environment_is_used_as_argo_does_else_the_error_names_the_secret() {
        let env = |k: &str| match k {
            "DD_API_KEY" => Some("ek".to_string()),
            "DD_APP_KEY" => Some("ea".to_string()),
            _ => None,
        };
        let c = datadog_credentials(&LOC(), SecretLookup::NotFound, env).unwrap();
        assert_eq!((c.api_key.as_str(), c.app_key.as_str(), c.address), ("ek", "ea", None));
        let e = datadog_credentials(&LOC(), SecretLookup::NotFound, |_| None).unwrap_err();
        assert!(
            e.starts_with("Secret aviary/datadog not found, and the controller has no DD_API_KEY/DD_APP_KEY"),
            "{e}"
        );
        assert!(e.contains("\"api-key\" and \"app-key\""), "{e}");
        let e = datadog_credentials(&LOC(), SecretLookup::Unreadable("forbidden".into()), |_| None).unwrap_err();
        assert!(e.starts_with("cannot read Secret aviary/datadog: forbidden"), "{e}");
    }
}
