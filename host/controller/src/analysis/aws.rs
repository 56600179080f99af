//! AWS credentials for the providers that sign AWS requests themselves: `cloudWatch` and
//! Prometheus with `authentication.sigv4` (Amazon Managed Prometheus).
//!
//! Argo's providers take them from the AWS SDK's default chain in the controller's process; the
//! part of that chain Aviary reads is the environment, as Argo's CloudWatch documentation sets
//! it up (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`, and
//! `AWS_REGION` or `AWS_DEFAULT_REGION`; the SDK's `AWS_ENDPOINT_URL_CLOUDWATCH` /
//! `AWS_ENDPOINT_URL` override the endpoint). The controller adds them to the plugin's config,
//! the component signs with them, and the secret key and session token are redacted from every
//! message. Shared credentials files, web identity (IRSA) and instance metadata are not read:
//! without the environment, the measurement is an error that says which variables are missing.

use aviary_api::analysis::{MetricProvider, PrometheusMetric};

/// The environment variables read, in the order the AWS SDK reads them.
pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// See [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// See [`ACCESS_KEY_ID`].
pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// See [`ACCESS_KEY_ID`].
pub const REGION: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];
/// CloudWatch's endpoint override, then the SDK-wide one.
pub const CLOUDWATCH_ENDPOINT: [&str; 2] = ["AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL"];

/// What the controller's environment holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AwsEnvironment {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL_CLOUDWATCH`, else `AWS_ENDPOINT_URL`.
    pub cloudwatch_endpoint: Option<String>,
}

impl std::fmt::Debug for AwsEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsEnvironment")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("cloudwatch_endpoint", &self.cloudwatch_endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsEnvironment {
    /// Reads the variables through `env` (the process environment in the controller).
    pub fn read(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let first = |keys: &[&str]| keys.iter().find_map(|k| get(k));
        Self {
            access_key_id: get(ACCESS_KEY_ID),
            secret_access_key: get(SECRET_ACCESS_KEY),
            session_token: get(SESSION_TOKEN),
            region: first(&REGION),
            cloudwatch_endpoint: first(&CLOUDWATCH_ENDPOINT),
        }
    }

    fn keys(&self, provider: &str) -> Result<(String, String), String> {
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
            _ => Err(format!(
                "the {provider} provider needs AWS credentials, and the controller has no \
                 {ACCESS_KEY_ID}/{SECRET_ACCESS_KEY} in its environment (shared credentials files, web \
                 identity and instance metadata are not read by Aviary)"
            )),
        }
    }

    /// The values to redact from messages.
    pub fn secrets(&self) -> Vec<String> {
        self.secret_access_key.iter().chain(&self.session_token).cloned().collect()
    }
}

/// Whether a Prometheus metric signs its requests, as Argo decides it: an Amazon Managed
/// Prometheus address (`aps-workspaces`) and a non-empty `authentication.sigv4`.
pub fn prometheus_signs(p: &PrometheusMetric) -> bool {
    let sigv4 = p.authentication.as_ref().map(|a| &a.sigv4);
    p.address.contains("aps-workspaces") && sigv4.is_some_and(|s| *s != Default::default())
}

/// Adds the credentials a metric's provider needs to its config (JSON); `Ok(None)` when it needs
/// none. The error says what is missing.
pub fn add_credentials(
    provider: &MetricProvider,
    config: &str,
    env: &AwsEnvironment,
) -> Result<Option<String>, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the provider config is not JSON: {e}"))?;
    if provider.cloud_watch.is_some() {
        let (id, secret) = env.keys("cloudWatch")?;
        let region = env.region.clone().ok_or_else(|| {
            "the cloudWatch provider needs an AWS region, and the controller has neither AWS_REGION nor \
             AWS_DEFAULT_REGION in its environment"
                .to_string()
        })?;
        let endpoint =
            env.cloudwatch_endpoint.clone().unwrap_or_else(|| format!("https://monitoring.{region}.amazonaws.com"));
        let object = value.as_object_mut().ok_or("the cloudWatch provider config is not an object")?;
        object.insert("region".into(), region.into());
        object.insert("endpoint".into(), endpoint.into());
        object.insert("accessKeyId".into(), id.into());
        object.insert("secretAccessKey".into(), secret.into());
        object.insert("sessionToken".into(), env.session_token.clone().unwrap_or_default().into());
        return Ok(Some(value.to_string()));
    }
    let Some(prometheus) = provider.prometheus.as_ref().filter(|p| prometheus_signs(p)) else { return Ok(None) };
    let sigv4 = prometheus.authentication.as_ref().map(|a| &a.sigv4).cloned().unwrap_or_default();
    if !sigv4.role_arn.is_empty() {
        return Err(format!(
            "authentication.sigv4.roleArn ({}) is not supported by Aviary: give the controller credentials for \
             that role in its environment ({ACCESS_KEY_ID}, {SECRET_ACCESS_KEY}, {SESSION_TOKEN}) and remove roleArn",
            sigv4.role_arn
        ));
    }
    let (id, secret) = env.keys("prometheus (authentication.sigv4)")?;
    let region =
        Some(sigv4.region.clone()).filter(|r| !r.is_empty()).or_else(|| env.region.clone()).ok_or_else(|| {
            "authentication.sigv4.region is empty and the controller has neither AWS_REGION nor AWS_DEFAULT_REGION"
                .to_string()
        })?;
    let target = value
        .pointer_mut("/authentication/sigv4")
        .and_then(|v| v.as_object_mut())
        .ok_or("the prometheus provider config has no authentication.sigv4 object")?;
    target.insert("region".into(), region.into());
    target.insert("accessKeyId".into(), id.into());
    target.insert("secretAccessKey".into(), secret.into());
    target.insert("sessionToken".into(), env.session_token.clone().unwrap_or_default().into());
    Ok(Some(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn env(pairs: &[(&str, &str)]) -> AwsEnvironment {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AwsEnvironment::read(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    fn provider(json: Value) -> MetricProvider {
        serde_json::from_value(json).unwrap()
    }

    const KEYS: [(&str, &str); 3] =
        [("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret/key"), ("AWS_SESSION_TOKEN", "tok")];

    #[test]
    fn cloudwatch_gets_the_environments_keys_region_and_endpoint() {
        let p = provider(json!({"cloudWatch": {"metricDataQueries": [{"id": "a", "expression": "x"}]}}));
        let e = env(&[KEYS[0], KEYS[1], KEYS[2], ("AWS_DEFAULT_REGION", "eu-west-1")]);
        let c: Value =
            serde_json::from_str(&add_credentials(&p, r#"{"interval":"5m"}"#, &e).unwrap().unwrap()).unwrap();
        assert_eq!(
            c,
            json!({"interval": "5m", "region": "eu-west-1", "endpoint": "https://monitoring.eu-west-1.amazonaws.com",
                   "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "secret/key", "sessionToken": "tok"})
        );
        assert_eq!(e.secrets(), vec!["secret/key".to_string(), "tok".to_string()]);
        let e = env(&[
            KEYS[0],
            KEYS[1],
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ]);
        let c: Value = serde_json::from_str(&add_credentials(&p, "{}", &e).unwrap().unwrap()).unwrap();
        assert_eq!((c["region"].as_str(), c["endpoint"].as_str()), (Some("us-east-1"), Some("http://127.0.0.1:4566")));
    }

    #[test]
    fn missing_credentials_or_region_say_which_variables() {
        let p = provider(json!({"cloudWatch": {"metricDataQueries": []}}));
        let e = add_credentials(&p, "{}", &env(&[("AWS_REGION", "us-east-1")])).unwrap_err();
        assert!(e.contains("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = add_credentials(&p, "{}", &env(&[KEYS[0], KEYS[1]])).unwrap_err();
        assert!(e.contains("neither AWS_REGION nor AWS_DEFAULT_REGION"), "{e}");
    }

    #[test]
    fn prometheus_signs_only_for_managed_prometheus_with_sigv4_as_argo_does() {
        let amp = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1";
        let p = provider(json!({"prometheus": {"address": amp, "query": "up",
            "authentication": {"sigv4": {"region": "us-west-2", "profile": "dev"}}}}));
        let config = serde_json::to_string(p.prometheus.as_ref().unwrap()).unwrap();
        let e = env(&[KEYS[0], KEYS[1]]);
        let c: Value = serde_json::from_str(&add_credentials(&p, &config, &e).unwrap().unwrap()).unwrap();
        assert_eq!(
            c["authentication"]["sigv4"],
            json!({"region": "us-west-2", "profile": "dev", "accessKeyId": "AKIDEXAMPLE",
                   "secretAccessKey": "secret/key", "sessionToken": ""})
        );
        let plain = provider(json!({"prometheus": {"address": "http://prom:9090", "query": "up",
            "authentication": {"sigv4": {"region": "us-west-2"}}}}));
        assert_eq!(add_credentials(&plain, "{}", &e), Ok(None));
        let no_sigv4 = provider(json!({"prometheus": {"address": amp, "query": "up"}}));
        assert_eq!(add_credentials(&no_sigv4, "{}", &e), Ok(None));
        let role = provider(json!({"prometheus": {"address": amp, "query": "up",
            "authentication": {"sigv4": {"roleArn": "arn:aws:iam::1:role/r"}}}}));
        let err = add_credentials(&role, "{}", &e).unwrap_err();
        assert!(err.starts_with("authentication.sigv4.roleArn (arn:aws:iam::1:role/r) is not supported"), "{err}");
    }

    #[test]
    fn cloudwatch_maps_to_its_plugin_and_web_headers_take_secret_arguments() {
        use crate::analysis::providers::plugin_for;
        use aviary_api::analysis::{Argument, Metric};
        use aviary_engine::analysis::args::{redact, resolve_metric_args, resolve_secrets};

        let m: Metric = serde_json::from_value(json!({"name": "m", "provider": {"cloudWatch": {
            "interval": "10m", "metricDataQueries": [{"id": "a", "expression": "x", "period": 60}]}}}))
        .unwrap();
        let (plugin, config) = plugin_for(&m).unwrap();
        assert_eq!(plugin, "cloudWatch");
        let config: Value = serde_json::from_str(&config).unwrap();
        assert_eq!(
            config,
            json!({"interval": "10m", "metricDataQueries": [{"id": "a", "expression": "x", "period": 60}]})
        );

        // A header from a Secret, as Argo does it: an argument with valueFrom.secretKeyRef.
        let args: Vec<Argument> = serde_json::from_value(
            json!([{"name": "token", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}]),
        )
        .unwrap();
        let (args, secrets) =
            resolve_secrets(&args, &mut |n, k| (n == "api" && k == "token").then(|| "s3cr3t".to_string())).unwrap();
        let m: Metric = serde_json::from_value(json!({"name": "m", "provider": {"web": {"url": "https://x/y",
            "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}], "insecure": true}}}))
        .unwrap();
        let (plugin, config) = plugin_for(&resolve_metric_args(&m, &args).unwrap()).unwrap();
        assert_eq!(plugin, "web");
        let parsed: Value = serde_json::from_str(&config).unwrap();
        assert_eq!(parsed["headers"][0]["value"], "Bearer s3cr3t");
        assert_eq!(parsed["insecure"], true);
        assert!(redact(&config, &secrets).contains("Bearer *****"));
    }

    #[test]
    fn the_debug_output_hides_the_secrets() {
        let text = format!("{:?}", env(&KEYS));
        assert!(!text.contains("secret/key") && !text.contains("tok"), "{text}");
    }
}
