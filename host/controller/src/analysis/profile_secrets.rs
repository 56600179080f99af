//! Credentials of Argo's `influxdb`, `wavefront` and `newRelic` providers, read from the Secrets
//! Argo reads (always in the controller's namespace) and added to the plugin's config, so that the
//! components never reach the Kubernetes API and templates never hold a key.
//!
//! - `influxdb`: the Secret named by `profile` (default `influxdb`), keys `address`, `authToken`
//!   and `org`, added as the same fields.
//! - `wavefront`: the Secret `wavefront-api-tokens`, whose keys are Wavefront addresses and
//!   values their tokens; the metric's `address` picks one, added as `token`.
//! - `newRelic`: the Secret named by `profile` (default `newrelic`), keys `personal-api-key`,
//!   `account-id`, `region` (default `us`), `base-url-rest` and `base-url-nerdgraph`, added as
//!   `personalApiKey`, `accountId`, `region`, `baseUrlRest` and `baseUrlNerdgraph`. Without
//!   `base-url-nerdgraph`, `baseUrlNerdgraph` is the region's NerdGraph URL (or the controller's
//!   `NEW_RELIC_NERDGRAPH_BASE_URL`, which newrelic-client-go honours too): the plugin host grants
//!   a first-party plugin exactly the host of that field.
//!
//! Tokens and keys are returned for redaction from every message. Values are trimmed (a Secret
//! made with `kubectl create secret --from-file` ends in a newline).

use std::collections::BTreeMap;

use aviary_api::analysis::Metric;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::credentials::SecretLookup;

/// The Secret Argo's influxdb provider reads when `profile` is empty.
pub const INFLUXDB_SECRET: &str = "influxdb";
/// The Secret mapping Wavefront addresses to API tokens.
pub const WAVEFRONT_SECRET: &str = "wavefront-api-tokens";
/// The Secret Argo's newRelic provider reads when `profile` is empty.
pub const NEWRELIC_SECRET: &str = "newrelic";
/// The environment variable that replaces the region's NerdGraph URL in newrelic-client-go.
pub const NEWRELIC_NERDGRAPH_ENV: &str = "NEW_RELIC_NERDGRAPH_BASE_URL";

/// A config with credentials added, and the values to redact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The plugin's config (JSON).
    pub config: String,
    /// Values that must never appear in a message.
    pub secrets: Vec<String>,
}

/// Which Secret a metric's provider needs, by name: `None` for providers without one here.
pub fn secret_name(metric: &Metric) -> Option<&str> {
    let p = &metric.provider;
    if let Some(i) = &p.influxdb {
        return Some(if i.profile.is_empty() { INFLUXDB_SECRET } else { i.profile.as_str() });
    }
    if p.wavefront.is_some() {
        return Some(WAVEFRONT_SECRET);
    }
    if let Some(n) = &p.new_relic {
        return Some(if n.profile.is_empty() { NEWRELIC_SECRET } else { n.profile.as_str() });
    }
    None
}

/// Reads the Secret the metric's provider needs from the controller's namespace and adds its
/// credentials to `config`; `None` when the provider needs none of these Secrets.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    metric: &Metric,
    config: &str,
) -> Option<Result<Resolved, String>> {
    let name = secret_name(metric)?;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get_opt(name).await;
    let lookup = match &secret {
        Ok(Some(s)) => SecretLookup::Found(s.data.as_ref()),
        Ok(None) => SecretLookup::NotFound,
        Err(e) => SecretLookup::Unreadable(e.to_string()),
    };
    Some(add_credentials(metric, config, &(namespace.to_string(), name.to_string()), lookup, |k| std::env::var(k).ok()))
}

/// Adds the credentials found in the Secret at `location` (`(namespace, name)`) to `config`.
pub fn add_credentials(
    metric: &Metric,
    config: &str,
    location: &(String, String),
    secret: SecretLookup<'_>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved, String> {
    let (ns, name) = location;
    let provider = if metric.provider.influxdb.is_some() {
        "influxdb"
    } else if metric.provider.wavefront.is_some() {
        "wavefront"
    } else {
        "newRelic"
    };
    let data = match secret {
        SecretLookup::Found(data) => Data { data, ns, name },
        SecretLookup::NotFound => {
            return Err(format!("Secret {ns}/{name} not found (the {provider} provider's credentials)"));
        }
        SecretLookup::Unreadable(e) => return Err(format!("cannot read Secret {ns}/{name}: {e}")),
    };
    let mut value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the {provider} provider config is not JSON: {e}"))?;
    let object = value.as_object_mut().ok_or_else(|| format!("the {provider} provider config is not an object"))?;
    let mut secrets = Vec::new();
    if metric.provider.influxdb.is_some() {
        let (address, token, org) = (data.get("address")?, data.get("authToken")?, data.get("org")?);
        let (Some(address), Some(token), Some(org)) = (address, token, org) else {
            return Err(format!("authToken, org, or address not found in Secret {ns}/{name}"));
        };
        object.insert("address".into(), address.into());
        object.insert("authToken".into(), token.clone().into());
        object.insert("org".into(), org.into());
        secrets.push(token);
    } else if let Some(wavefront) = &metric.provider.wavefront {
        let Some(token) = data.get(&wavefront.address)? else {
            return Err(format!("API token not found for address {:?} in Secret {ns}/{name}", wavefront.address));
        };
        object.insert("token".into(), token.clone().into());
        secrets.push(token);
    } else {
        let (Some(key), Some(account)) = (data.get("personal-api-key")?, data.get("account-id")?) else {
            return Err(format!("account ID or personal API key not found in Secret {ns}/{name}"));
        };
        let region = data.get("region")?.unwrap_or_else(|| "us".into());
        let nerdgraph = match data.raw("base-url-nerdgraph")? {
            Some(url) if url.is_empty() => return Err("nerdgraph base URL can not be empty".into()),
            Some(url) => url,
            None => env(NEWRELIC_NERDGRAPH_ENV)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| nerdgraph_url(&region).to_string()),
        };
        object.insert("personalApiKey".into(), key.clone().into());
        object.insert("accountId".into(), account.into());
        object.insert("region".into(), region.into());
        object.insert("baseUrlNerdgraph".into(), nerdgraph.into());
        if let Some(rest) = data.get("base-url-rest")? {
            object.insert("baseUrlRest".into(), rest.into());
        }
        secrets.push(key);
    }
    Ok(Resolved { config: value.to_string(), secrets })
}

/// NerdGraph's URL per region, as newrelic-client-go's region table has it (an unknown region is
/// the US one). The same table is in plugins/newrelic, for configs that do not come through the
/// controller.
pub fn nerdgraph_url(region: &str) -> &'static str {
    match region.to_ascii_lowercase().as_str() {
        "eu" => "https://api.eu.newrelic.com/graphql",
        "staging" => "https://staging-api.newrelic.com/graphql",
        "local" => "http://localhost:3000/graphql",
        _ => "https://api.newrelic.com/graphql",
    }
}

/// A Secret's data, read as trimmed UTF-8.
struct Data<'a> {
    data: Option<&'a BTreeMap<String, ByteString>>,
    ns: &'a str,
    name: &'a str,
}

impl Data<'_> {
    /// The trimmed value of `key` when present (even empty).
    fn raw(&self, key: &str) -> Result<Option<String>, String> {
        match self.data.and_then(|d| d.get(key)) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.0.clone())
                .map(|s| Some(s.trim().to_string()))
                .map_err(|_| format!("key {key:?} of Secret {}/{} is not UTF-8", self.ns, self.name)),
        }
    }

    /// The trimmed value of `key` when present and not empty.
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.raw(key)?.filter(|s| !s.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(provider: serde_json::Value) -> Metric {
        serde_json::from_value(serde_json::json!({"name": "m", "provider": provider})).unwrap()
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()
    }

    fn at(name: &str) -> (String, String) {
        ("argo-rollouts".to_string(), name.to_string())
    }

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn each_provider_reads_the_secret_argo_names() {
        let influx = metric(serde_json::json!({"influxdb": {"query": "q"}}));
        assert_eq!(secret_name(&influx), Some("influxdb"));
        let profiled = metric(serde_json::json!({"influxdb": {"query": "q", "profile": "influx-prod"}}));
        assert_eq!(secret_name(&profiled), Some("influx-prod"));
        let wf = metric(serde_json::json!({"wavefront": {"address": "a.wavefront.com", "query": "q"}}));
        assert_eq!(secret_name(&wf), Some("wavefront-api-tokens"));
        let nr = metric(serde_json::json!({"newRelic": {"query": "q"}}));
        assert_eq!(secret_name(&nr), Some("newrelic"));
        let nr = metric(serde_json::json!({"newRelic": {"query": "q", "profile": "nr-eu"}}));
        assert_eq!(secret_name(&nr), Some("nr-eu"));
        assert_eq!(secret_name(&metric(serde_json::json!({"graphite": {"address": "http://g"}}))), None);
    }

    #[test]
    fn influxdb_gets_address_token_and_org_and_the_token_is_secret() {
        let m = metric(serde_json::json!({"influxdb": {"query": "q"}}));
        let d = data(&[("address", "http://influx:8086\n"), ("authToken", "tok-123"), ("org", "acme")]);
        let r =
            add_credentials(&m, r#"{"query":"q"}"#, &at("influxdb"), SecretLookup::Found(Some(&d)), |_| None).unwrap();
        assert_eq!(
            json(&r.config),
            serde_json::json!({"query": "q", "address": "http://influx:8086", "authToken": "tok-123", "org": "acme"})
        );
        assert_eq!(r.secrets, vec!["tok-123".to_string()]);
        let partial = data(&[("address", "http://influx:8086"), ("authToken", "tok")]);
        let e = add_credentials(&m, "{}", &at("influxdb"), SecretLookup::Found(Some(&partial)), |_| None).unwrap_err();
        assert_eq!(e, "authToken, org, or address not found in Secret argo-rollouts/influxdb");
        let e = add_credentials(&m, "{}", &at("influxdb"), SecretLookup::NotFound, |_| None).unwrap_err();
        assert_eq!(e, "Secret argo-rollouts/influxdb not found (the influxdb provider's credentials)");
    }

    #[test]
    fn wavefront_takes_the_token_of_the_metrics_address() {
        let m = metric(serde_json::json!({"wavefront": {"address": "acme.wavefront.com", "query": "q"}}));
        let d = data(&[("other.wavefront.com", "wrong"), ("acme.wavefront.com", "right")]);
        let loc = at(WAVEFRONT_SECRET);
        let r =
            add_credentials(&m, r#"{"address":"acme.wavefront.com"}"#, &loc, SecretLookup::Found(Some(&d)), |_| None)
                .unwrap();
        assert_eq!(json(&r.config)["token"], "right");
        assert_eq!(r.secrets, vec!["right".to_string()]);
        let none = data(&[("other.wavefront.com", "wrong")]);
        let e = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&none)), |_| None).unwrap_err();
        assert_eq!(
            e,
            "API token not found for address \"acme.wavefront.com\" in Secret argo-rollouts/wavefront-api-tokens"
        );
    }

    #[test]
    fn newrelic_gets_key_account_region_and_the_nerdgraph_url() {
        let m = metric(serde_json::json!({"newRelic": {"query": "q"}}));
        let loc = at(NEWRELIC_SECRET);
        let d = data(&[("personal-api-key", "NRAK-1"), ("account-id", "42"), ("region", "eu")]);
        let r = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&d)), |_| None).unwrap();
        assert_eq!(
            json(&r.config),
            serde_json::json!({"personalApiKey": "NRAK-1", "accountId": "42", "region": "eu",
                               "baseUrlNerdgraph": "https://api.eu.newrelic.com/graphql"})
        );
        assert_eq!(r.secrets, vec!["NRAK-1".to_string()]);
        let us = data(&[("personal-api-key", "k"), ("account-id", "42")]);
        let r = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&us)), |_| None).unwrap();
        assert_eq!(json(&r.config)["baseUrlNerdgraph"], "https://api.newrelic.com/graphql");
        let env = |k: &str| (k == NEWRELIC_NERDGRAPH_ENV).then(|| "http://127.0.0.1:9/graphql".to_string());
        let r = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&us)), env).unwrap();
        assert_eq!(json(&r.config)["baseUrlNerdgraph"], "http://127.0.0.1:9/graphql");
        let custom = data(&[
            ("personal-api-key", "k"),
            ("account-id", "42"),
            ("base-url-nerdgraph", "https://nr-proxy.internal/graphql"),
            ("base-url-rest", "https://nr-proxy.internal/v2"),
        ]);
        let r = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&custom)), env).unwrap();
        let c = json(&r.config);
        assert_eq!(
            (c["baseUrlNerdgraph"].as_str(), c["baseUrlRest"].as_str()),
            (Some("https://nr-proxy.internal/graphql"), Some("https://nr-proxy.internal/v2"))
        );
        let no_key = data(&[("account-id", "42")]);
        let e = add_credentials(&m, "{}", &loc, SecretLookup::Found(Some(&no_key)), |_| None).unwrap_err();
        assert_eq!(e, "account ID or personal API key not found in Secret argo-rollouts/newrelic");
    }
}
