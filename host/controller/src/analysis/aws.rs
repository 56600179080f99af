//! AWS credentials for the providers that sign AWS requests themselves: `cloudWatch` and
//! Prometheus with `authentication.sigv4` (Amazon Managed Prometheus).
//!
//! Argo's providers take them from the AWS SDK's default chain in the controller's process, and
//! so does Aviary, through the AWS SDK for Rust (`aws-config`): the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the shared config and
//! credentials files (`AWS_PROFILE`, `credential_process`, `role_arn` with `source_profile`), web
//! identity (IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`, through STS
//! AssumeRoleWithWebIdentity), the ECS container endpoint and EC2 instance metadata (IMDSv2); the
//! region from `AWS_REGION`/`AWS_DEFAULT_REGION`, the profile or instance metadata. Prometheus's
//! `sigv4.profile` picks the profile and `sigv4.roleArn` assumes that role (STS AssumeRole) with
//! the chain's credentials, as `prometheus/common/sigv4` does for Argo. The endpoints honour the
//! SDK's overrides (`AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`,
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
//!
//! The controller resolves the credentials (cached until shortly before they expire), adds them
//! to the plugin's config, and the component signs with them; the secret key and session token
//! are redacted from every message. SSO profiles are not read (the SDK's `sso` feature is left
//! out: a controller's pod has no browser to log in with).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use aviary_api::analysis::{MetricProvider, PrometheusMetric};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::tls;

/// CloudWatch's endpoint override, then the SDK-wide one (the profile's `endpoint_url` too).
pub const CLOUDWATCH_ENDPOINT: &str = "AWS_ENDPOINT_URL_CLOUDWATCH";

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);
/// Credentials without an expiry (static keys) are read again after this long, so that a
/// rotated credentials file is picked up.
const STATIC_TTL: Duration = Duration::from_secs(300);

/// The keys a component signs with, and the region.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// The access key id (not a secret: it shows in every signed request).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// The region of the chain (environment, profile, instance metadata).
    pub region: Option<String>,
    /// The endpoint the SDK would use for CloudWatch, when overridden.
    pub cloudwatch_endpoint: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("cloudwatch_endpoint", &self.cloudwatch_endpoint)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// The values to redact from messages.
    pub fn secrets(&self) -> Vec<String> {
        std::iter::once(&self.secret_access_key).chain(&self.session_token).cloned().collect()
    }
}

/// Where credentials come from: the chain of a profile, optionally a role assumed with them.
type Source = (String, String);

struct Cached {
    credentials: Credentials,
    fetched: Instant,
}

impl Cached {
    fn fresh(&self, now: SystemTime) -> bool {
        match self.credentials.expiry() {
            Some(expiry) => now.checked_add(REFRESH_BEFORE_EXPIRY).is_some_and(|soon| soon < expiry),
            None => self.fetched.elapsed() < STATIC_TTL,
        }
    }
}

/// The controller's AWS credentials: the credentials of each (profile, role) cached until shortly
/// before they expire, each fetch with the profile's SDK configuration loaded afresh.
pub struct AwsCredentials {
    configs: tokio::sync::Mutex<HashMap<String, SdkConfig>>,
    cache: Mutex<HashMap<Source, Cached>>,
}

impl Default for AwsCredentials {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsCredentials {
    /// Nothing is read until a metric needs credentials.
    pub fn new() -> Self {
        Self { configs: tokio::sync::Mutex::new(HashMap::new()), cache: Mutex::new(HashMap::new()) }
    }

    /// The SDK configuration of `profile` ("" for the default: `AWS_PROFILE`, else `default`),
    /// loaded afresh when `reload` (or the first time): the SDK parses the environment and the
    /// shared files when it loads, so credentials fetched with a new load see a rotated file.
    async fn config(&self, profile: &str, reload: bool) -> SdkConfig {
        let mut configs = self.configs.lock().await;
        if !reload && let Some(c) = configs.get(profile) {
            return c.clone();
        }
        // The SDK's own HTTPS client, with ring (the rest of the controller's TLS) rather than
        // aws-lc; used for STS, the ECS endpoint and instance metadata.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if !profile.is_empty() {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        configs.insert(profile.to_string(), config.clone());
        config
    }

    /// The keys of `profile`'s chain, or of `role_arn` assumed with them (both may be "").
    pub async fn keys(&self, profile: &str, role_arn: &str) -> Result<Keys, String> {
        let source = (profile.to_string(), role_arn.to_string());
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.get(&source).filter(|c| c.fresh(SystemTime::now())).map(|c| c.credentials.clone())
        };
        let (config, credentials) = match cached {
            Some(c) => (self.config(profile, false).await, c),
            None => {
                let config = self.config(profile, true).await;
                let fetched = fetch(&config, role_arn).await?;
                let entry = Cached { credentials: fetched.clone(), fetched: Instant::now() };
                self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(source, entry);
                (config, fetched)
            }
        };
        let endpoint = std::env::var(CLOUDWATCH_ENDPOINT)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| config.endpoint_url().map(str::to_string));
        Ok(Keys {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().map(str::to_string),
            region: config.region().map(|r| r.to_string()),
            cloudwatch_endpoint: endpoint,
        })
    }
}

/// Asks the chain (and STS for a role) for credentials.
async fn fetch(config: &SdkConfig, role_arn: &str) -> Result<Credentials, String> {
    let Some(chain) = config.credentials_provider() else {
        return Err("the AWS SDK has no credentials provider".into());
    };
    let result = if role_arn.is_empty() {
        chain.provide_credentials().await
    } else {
        aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(format!("aviary-{}", chrono::Utc::now().timestamp_millis()))
            .configure(config)
            .build()
            .await
            .provide_credentials()
            .await
    };
    result.map_err(|e| {
        let what = if role_arn.is_empty() {
            "the AWS SDK's default chain (environment, shared config and credentials files, web identity, ECS, \
             instance metadata) gave no credentials"
                .to_string()
        } else {
            format!("assuming role {role_arn} failed")
        };
        format!("{what}: {}", error_chain(&e))
    })
}

/// An error and its sources, as one line (the SDK's messages are spread over the chain).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether a Prometheus metric signs its requests, as Argo decides it: an Amazon Managed
/// Prometheus address (`aps-workspaces`) and a non-empty `authentication.sigv4`.
pub fn prometheus_signs(p: &PrometheusMetric) -> bool {
    let sigv4 = p.authentication.as_ref().map(|a| &a.sigv4);
    p.address.contains("aps-workspaces") && sigv4.is_some_and(|s| *s != Default::default())
}

/// Where a metric's provider gets its AWS credentials: `Some((profile, roleArn))` for
/// `cloudWatch` (the default chain) and signing Prometheus metrics, `None` for the rest.
pub fn source(provider: &MetricProvider) -> Option<Source> {
    if provider.cloud_watch.is_some() {
        return Some(Default::default());
    }
    let prometheus = provider.prometheus.as_ref().filter(|p| prometheus_signs(p))?;
    let sigv4 = prometheus.authentication.as_ref().map(|a| a.sigv4.clone()).unwrap_or_default();
    Some((sigv4.profile, sigv4.role_arn))
}

/// Adds `keys` to a metric's provider config (JSON) for the provider that needs them; `Ok(None)`
/// when it needs none. The error says what is missing.
pub fn add_credentials(provider: &MetricProvider, config: &str, keys: &Keys) -> Result<Option<String>, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the provider config is not JSON: {e}"))?;
    let token = keys.session_token.clone().unwrap_or_default();
    if provider.cloud_watch.is_some() {
        let region = keys.region.clone().ok_or_else(|| {
            "the cloudWatch provider needs an AWS region, and the AWS SDK's chain has none (AWS_REGION, \
             AWS_DEFAULT_REGION, the profile's region or instance metadata)"
                .to_string()
        })?;
        let endpoint =
            keys.cloudwatch_endpoint.clone().unwrap_or_else(|| format!("https://monitoring.{region}.amazonaws.com"));
        let object = value.as_object_mut().ok_or("the cloudWatch provider config is not an object")?;
        object.insert("region".into(), region.into());
        object.insert("endpoint".into(), endpoint.into());
        object.insert("accessKeyId".into(), keys.access_key_id.clone().into());
        object.insert("secretAccessKey".into(), keys.secret_access_key.clone().into());
        object.insert("sessionToken".into(), token.into());
        return Ok(Some(value.to_string()));
    }
    let Some(prometheus) = provider.prometheus.as_ref().filter(|p| prometheus_signs(p)) else { return Ok(None) };
    let sigv4 = prometheus.authentication.as_ref().map(|a| &a.sigv4).cloned().unwrap_or_default();
    let region =
        Some(sigv4.region.clone()).filter(|r| !r.is_empty()).or_else(|| keys.region.clone()).ok_or_else(|| {
            "authentication.sigv4.region is empty and the AWS SDK's chain has no region (AWS_REGION, \
             AWS_DEFAULT_REGION, the profile's region or instance metadata)"
                .to_string()
        })?;
    let target = value
        .pointer_mut("/authentication/sigv4")
        .and_then(|v| v.as_object_mut())
        .ok_or("the prometheus provider config has no authentication.sigv4 object")?;
    target.insert("region".into(), region.into());
    target.insert("accessKeyId".into(), keys.access_key_id.clone().into());
    target.insert("secretAccessKey".into(), keys.secret_access_key.clone().into());
    target.insert("sessionToken".into(), token.into());
    Ok(Some(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn provider(json: Value) -> MetricProvider {
        serde_json::from_value(json).unwrap()
    }

    fn keys(region: Option<&str>, endpoint: Option<&str>) -> Keys {
        Keys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret/key".into(),
            session_token: Some("tok".into()),
            region: region.map(str::to_string),
            cloudwatch_endpoint: endpoint.map(str::to_string),
        }
    }

    #[test]
    fn cloudwatch_gets_the_chains_keys_region_and_endpoint() {
        let p = provider(json!({"cloudWatch": {"metricDataQueries": [{"id": "a", "expression": "x"}]}}));
        assert_eq!(source(&p), Some((String::new(), String::new())));
        let k = keys(Some("eu-west-1"), None);
        let c: Value =
            serde_json::from_str(&add_credentials(&p, r#"{"interval":"5m"}"#, &k).unwrap().unwrap()).unwrap();
        assert_eq!(
            c,
            json!({"interval": "5m", "region": "eu-west-1", "endpoint": "https://monitoring.eu-west-1.amazonaws.com",
                   "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "secret/key", "sessionToken": "tok"})
        );
        assert_eq!(k.secrets(), vec!["secret/key".to_string(), "tok".to_string()]);
        let k = keys(Some("us-east-1"), Some("http://127.0.0.1:4566"));
        let c: Value = serde_json::from_str(&add_credentials(&p, "{}", &k).unwrap().unwrap()).unwrap();
        assert_eq!((c["region"].as_str(), c["endpoint"].as_str()), (Some("us-east-1"), Some("http://127.0.0.1:4566")));
    }

    #[test]
    fn a_missing_region_says_where_it_was_looked_for() {
        let p = provider(json!({"cloudWatch": {"metricDataQueries": []}}));
        let e = add_credentials(&p, "{}", &keys(None, None)).unwrap_err();
        assert!(e.contains("has none (AWS_REGION, AWS_DEFAULT_REGION, the profile's region"), "{e}");
        let amp = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1";
        let p = provider(json!({"prometheus": {"address": amp, "query": "up",
            "authentication": {"sigv4": {"profile": "dev"}}}}));
        let config = serde_json::to_string(p.prometheus.as_ref().unwrap()).unwrap();
        let e = add_credentials(&p, &config, &keys(None, None)).unwrap_err();
        assert!(e.starts_with("authentication.sigv4.region is empty"), "{e}");
    }

    #[test]
    fn prometheus_signs_only_for_managed_prometheus_with_sigv4_as_argo_does() {
        let amp = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1";
        let p = provider(json!({"prometheus": {"address": amp, "query": "up",
            "authentication": {"sigv4": {"region": "us-west-2", "profile": "dev", "roleArn": "arn:aws:iam::1:role/r"}}}}));
        assert_eq!(source(&p), Some(("dev".to_string(), "arn:aws:iam::1:role/r".to_string())));
        let config = serde_json::to_string(p.prometheus.as_ref().unwrap()).unwrap();
        let mut k = keys(Some("eu-west-1"), None);
        k.session_token = None;
        let c: Value = serde_json::from_str(&add_credentials(&p, &config, &k).unwrap().unwrap()).unwrap();
        assert_eq!(
            c["authentication"]["sigv4"],
            json!({"region": "us-west-2", "profile": "dev", "roleArn": "arn:aws:iam::1:role/r",
                   "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "secret/key", "sessionToken": ""})
        );
        let plain = provider(json!({"prometheus": {"address": "http://prom:9090", "query": "up",
            "authentication": {"sigv4": {"region": "us-west-2"}}}}));
        assert_eq!(source(&plain), None);
        assert_eq!(add_credentials(&plain, "{}", &k), Ok(None));
        let no_sigv4 = provider(json!({"prometheus": {"address": amp, "query": "up"}}));
        assert_eq!(source(&no_sigv4), None);
        assert_eq!(add_credentials(&no_sigv4, "{}", &k), Ok(None));
    }

    #[test]
    fn cached_credentials_are_fetched_again_before_they_expire() {
        let now = SystemTime::now();
        let expiring = |in_secs: u64| Cached {
            credentials: Credentials::new("id", "secret", None, Some(now + Duration::from_secs(in_secs)), "test"),
            fetched: Instant::now(),
        };
        assert!(expiring(3600).fresh(now));
        assert!(!expiring(30).fresh(now), "within a minute of expiry");
        let fixed =
            Cached { credentials: Credentials::new("id", "secret", None, None, "test"), fetched: Instant::now() };
        assert!(fixed.fresh(now));
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
        let text = format!("{:?}", keys(None, None));
        assert!(!text.contains("secret/key") && !text.contains("tok"), "{text}");
    }
}
