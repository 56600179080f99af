//! `aviary/cloudwatch` (Argo's `cloudWatch` provider): runs CloudWatch `GetMetricData` over the
//! last `interval` and hands the results to the metric's conditions, as Argo does.
//!
//! Fields are Argo's: `interval` (a Go duration, default `5m`) and `metricDataQueries`, each with
//! `id`, `expression` or `metricStat` (`metric` {`namespace`, `metricName`, `dimensions`},
//! `period`, `stat`, `unit`), `label`, `period` and `returnData`. Argo hands its conditions the
//! SDK's `MetricDataResults`, so `result` here is the same list of objects with the same field
//! names: `result[0].Values`, `result[0].Id`, `result[0].Label`, `result[0].StatusCode`,
//! `result[0].Timestamps` (RFC 3339 strings) and `result[0].Messages`.
//!
//! The request uses CloudWatch's AWS JSON 1.0 protocol (`POST /` with `X-Amz-Target:
//! GraniteServiceVersion20100801.GetMetricData`), which the service model lists beside the older
//! query protocol and RPC v2 CBOR; it is signed here with SigV4 (`aviary_plugin_sdk::sigv4`).
//! Credentials never come from the template: the host adds `region`, `accessKeyId`,
//! `secretAccessKey`, `sessionToken` and `endpoint` to the config from the controller's AWS
//! environment, the way Argo's AWS SDK reads it, and redacts the secrets from every message.

pub mod request;
pub mod response;

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::sigv4::{self, Credentials};
use aviary_plugin_sdk::{Context, Error, Measurement, Provider, export_provider, http, log};
use serde::Deserialize;

pub use request::Query;

/// The service name CloudWatch is signed for.
pub const SERVICE: &str = "monitoring";
/// The JSON 1.0 target of GetMetricData.
pub const TARGET: &str = "GraniteServiceVersion20100801.GetMetricData";
/// The JSON 1.0 content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// How long one GetMetricData call may take (the host's call deadline applies too).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The provider block, as Argo writes it, plus what the host adds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The query window, a Go duration (default `5m`).
    #[serde(default)]
    pub interval: String,
    /// The queries, as Argo's `CloudWatchMetricDataQuery`.
    #[serde(default)]
    pub metric_data_queries: Vec<request::MetricDataQuery>,
    /// Added by the host: the AWS region.
    #[serde(default)]
    pub region: String,
    /// Added by the host: the service endpoint (`AWS_ENDPOINT_URL_CLOUDWATCH`,
    /// `AWS_ENDPOINT_URL`, else `https://monitoring.<region>.amazonaws.com`).
    #[serde(default)]
    pub endpoint: String,
    /// Added by the host from the controller's environment.
    #[serde(flatten)]
    pub aws: sigv4::HostCredentials,
}

impl Config {
    /// The endpoint the request goes to.
    pub fn endpoint(&self) -> String {
        if self.endpoint.is_empty() {
            format!("https://monitoring.{}.amazonaws.com/", self.region)
        } else {
            let e = self.endpoint.trim_end_matches('/');
            format!("{e}/")
        }
    }

    fn credentials(&self) -> Result<Credentials, Error> {
        let Some(credentials) = self.aws.credentials() else {
            return Err(Error::msg(
                "no AWS credentials: the controller needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 in its environment for the cloudWatch provider",
            ));
        };
        if self.region.is_empty() {
            return Err(Error::msg(
                "no AWS region: the controller needs AWS_REGION (or AWS_DEFAULT_REGION) in its environment \
                 for the cloudWatch provider",
            ));
        }
        Ok(credentials)
    }
}

/// Builds the signed GetMetricData request for the window ending at `now`.
pub fn signed_request(config: &Config, query: &Query, now: SystemTime) -> Result<http::Request, Error> {
    let credentials = config.credentials()?;
    let url = config.endpoint();
    let body = query.body(now).to_string();
    let headers = vec![
        ("Content-Type".to_string(), CONTENT_TYPE.to_string()),
        ("X-Amz-Target".to_string(), TARGET.to_string()),
        // CloudWatch is "query compatible": with this header its errors carry the query
        // protocol's codes (`InvalidParameterValue`), the ones Argo's messages show.
        ("X-Amzn-Query-Mode".to_string(), "true".to_string()),
    ];
    let to_sign = sigv4::Request { method: "POST", url: &url, headers: &headers, body: body.as_bytes() };
    let signed = sigv4::sign(&credentials, &config.region, SERVICE, &to_sign, now).map_err(Error::msg)?;
    let mut request = http::Request::post(url).body(body).timeout(TIMEOUT);
    for (name, value) in headers.into_iter().chain(signed.headers) {
        request = request.header(name, value);
    }
    Ok(request)
}

struct CloudWatch;

impl Provider for CloudWatch {
    type Config = Config;

    fn measure(_ctx: &Context, config: Config) -> Result<Measurement, Error> {
        let query = Query::new(&config).map_err(Error)?;
        let response = signed_request(&config, &query, SystemTime::now())?.send()?;
        let output = response::parse(&response).map_err(Error)?;
        for message in &output.messages {
            log::warn(&format!("CloudWatch returned the following messages: {message}"));
        }
        let mut m = Measurement::measured(output.value());
        if !output.messages.is_empty() {
            m = m.with_metadata("messages", output.messages.join("; "));
        }
        Ok(m)
    }
}

export_provider!(CloudWatch);
