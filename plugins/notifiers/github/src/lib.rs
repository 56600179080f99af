//! `aviary/github`: Argo notifications-engine's `github` service (`pkg/services/github.go`, over
//! go-github v69 and ghinstallation v2.14): authenticates as a GitHub App installation, then sets
//! a commit status, a deployment, pull request comments, a check run and a repository dispatch,
//! as the template's `github` block asks.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.github: |
//!   appID: 12345
//!   installationID: 67890
//!   privateKey: $github-privateKey
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   github:
//!     repoURLPath: "{{.rollout.spec.template.metadata.annotations.repoURL}}"
//!     revisionPath: "{{.rollout.spec.template.metadata.annotations.revision}}"
//!     status:
//!       state: success
//!       label: continuous-delivery/{{.rollout.metadata.name}}
//!       targetURL: https://argo.example.com/rollouts/{{.rollout.metadata.name}}
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-completed.github: ""
//! ```
//!
//! # Config (`service.github`)
//!
//! - `appID`, `installationID`: numbers, or strings Go's `cast.ToInt64E` reads (`"12345"`,
//!   `"0x10"`, `"12.0"`; `true` is 1); anything else is `unable to cast "<v>" of type string to
//!   int64`.
//! - `privateKey`: the App's private key, PEM (PKCS #1 or PKCS #8; usually a `$key` of the
//!   notification secret). Not PEM: `could not parse private key: invalid key: Key must be a PEM
//!   encoded PKCS1 or PKCS8 key`.
//! - `enterpriseBaseURL`: a GitHub Enterprise server, else `https://api.github.com`. As in Argo,
//!   the installation token is asked for at `<enterpriseBaseURL>/app/installations/<id>/
//!   access_tokens` (the URL as written, trailing `/` dropped), and the API is called under
//!   go-github's enterprise base URL: `<enterpriseBaseURL>/` plus `api/v3/` unless the path ends
//!   in `/api/v3/` or the host starts with `api.` or contains `.api.`. Its host must be allowed by
//!   the plugin's registry entry (the host grants this component the host of
//!   `enterpriseBaseURL`, or api.github.com).
//! - `insecureSkipVerify`: only `false` is honoured (the host always verifies TLS certificates);
//!   `true` logs a warning. Argo's client tuning (`maxIdleConns`, ...) and any other field are
//!   ignored.
//!
//! # What the service receives
//!
//! The template's `github` block, every string in it rendered by the host: `repoURLPath` and
//! `revisionPath` are Go templates Argo evaluates over the notified object, so the rendered
//! block carries the repository URL and the revision themselves. When the template has none (or
//! an empty one), Argo uses Argo CD's `{{.app.spec.source.repoURL}}` and
//! `{{.app.status.operationState.syncResult.revision}}`, which over a Rollout (there is no
//! `app`) render as Go's `<no value>`: that is what is used here too, so such a template fails as
//! in Argo, `GitHub.repoURL (<no value>) does not have a `/``. The recipient is ignored, as in
//! Argo. A template without a `github` block is `config is empty`.
//!
//! The repository is the first two segments of the URL's path (`git@github.com:o/r.git`,
//! `https://github.com/o/r/tree/main`, `o/r`: `o/r`), parsed as Argo's git-urls does.
//!
//! # The requests
//!
//! In Argo's order, each only when its block is there:
//!
//! 1. `status`: `POST repos/<o>/<r>/statuses/<revision>` with `state`, `target_url`,
//!    `description` (the message, cut to 140 characters as Argo cuts it: 137 and `...`) and
//!    `context` (`label`). A 422 is `too many commit statuses for sha <revision> and context
//!    <label>`.
//! 2. `deployment`: `GET repos/<o>/<r>/deployments?environment=<e>&ref=<revision>`; the first
//!    deployment listed, else a new one (`POST repos/<o>/<r>/deployments` with `ref` (`reference`,
//!    else the revision), `auto_merge` (default `true`), `required_contexts` (as written; `null`
//!    when absent), `environment`, `transient_environment` (default `false`)); then `POST
//!    repos/<o>/<r>/deployments/<id>/statuses` with `state`, `log_url`, `description`,
//!    `environment`, `environment_url`.
//! 3. `pullRequestComment`: `GET repos/<o>/<r>/commits/<revision>/pulls`; for each pull
//!    request, a comment (`POST repos/<o>/<r>/issues/<n>/comments`, the content cut to 65536
//!    characters). With a `commentTag`, the content ends with `<!-- argocd-notifications <tag>
//!    -->`, the pull request's comments are listed first and the first one holding that tag is
//!    edited instead (`PATCH repos/<o>/<r>/issues/comments/<id>`, the comment as listed, re-encoded
//!    as go-github's `IssueComment`, its body replaced); the tag is appended once more to the body
//!    of each edit and of each comment created after none was found, as Argo does.
//! 4. `checkRun`: `POST repos/<o>/<r>/check-runs` with `name`, `head_sha`, `details_url`,
//!    `external_id: "argocd-notifications"`, `status` (`completed` when only a `conclusion` is
//!    given), `conclusion`, `started_at`, `completed_at` (RFC 3339, checked and re-written as Go
//!    does) and `output` (`title`, `summary`, `text`).
//! 5. `repositoryDispatch`: `POST repos/<o>/<r>/dispatches` with `event_type` and
//!    `client_payload` (the JSON text, compacted as Go does; not JSON: Go's marshalling error).
//!
//! Each is go-github's request: the body encoded as its encoder does (no HTML escaping, a final
//! newline), `Accept` as go-github sets it per API, `User-Agent: go-github/v69.2.0`,
//! `X-Github-Api-Version: 2022-11-28`, `Authorization: token <installation token>`. The token is
//! asked for before the first of them (none when the block asks for nothing): `POST
//! .../app/installations/<id>/access_tokens` with `Authorization: Bearer <JWT>` (the App's JWT,
//! RS256, `iss` the App ID, `iat` 30 s back, `exp` two minutes later, signed in the sandbox),
//! `Accept: application/vnd.github.v3+json` twice and the body `null`, as ghinstallation sends it.
//!
//! # The answers
//!
//! As go-github judges them: a 2xx but 202 is accepted and its body decoded (Go's decoding
//! errors are the notification's); a 202 is `job scheduled on GitHub side; try again later`;
//! anything else is `<METHOD> <url>: <status> <message> [<errors>]` (go-github's
//! `ErrorResponse`, its secondary-rate-limit and rate-limit forms included). A token that cannot
//! be had is `<Method> "<url>": could not refresh installation id <id>'s token: <why>`, no
//! response `<Method> "<url>": <why>`. The first error ends the notification, as in Argo; nothing
//! is retried.
//!
//! # Not as in Argo
//!
//! - Argo keeps the installation token for the service's life (until a minute before it
//!   expires); every notification asks for one here (a notifier keeps nothing between calls). For
//!   the same reason go-github's rate-limit memory (no request while a known limit lasts) is not
//!   kept.
//! - Answers are decoded as far as the service reads them: a deployment's `id`, a pull request's
//!   `number`, a comment whole (its user's `inherited_from` teams are dropped); a field of another
//!   object of the wrong type, which Go's decoding would report, is not. A listed deployment or a
//!   created one without an `id` (where Argo's service panics) is an error naming it.
//! - Redirects are followed by the host, as by Go's client; one it does not follow (no
//!   `Location`) is go-github's `RedirectionError`. Go's own `User-Agent` on the token request is
//!   not sent.

pub mod gotime;
pub mod jwt;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson::{self, Value as GoValue};
use aviary_plugin_sdk::http::{self, Request, Response, status_line};
use aviary_plugin_sdk::notifier::gostruct::{self, Field, Go, Kind, Struct};
use aviary_plugin_sdk::notifier::gourl::{self, Url, go_quote};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, or_default, template_block, warn_insecure_skip_verify,
};
use rsa::RsaPrivateKey;
use serde::Deserialize;
use serde_json::Value;

/// GitHub's API when the config names no `enterpriseBaseURL`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// go-github's `User-Agent`.
pub const USER_AGENT: &str = "go-github/v69.2.0";
/// go-github's API version header, as Go's canonical form spells it.
pub const API_VERSION_HEADER: &str = "X-Github-Api-Version";
/// go-github's API version.
pub const API_VERSION: &str = "2022-11-28";
/// go-github's default `Accept`.
pub const MEDIA_V3: &str = "application/vnd.github.v3+json";
/// The `Accept` of the deployment APIs.
pub const MEDIA_DEPLOYMENTS: &str =
    "application/vnd.github.ant-man-preview+json, application/vnd.github.flash-preview+json";
/// The `Accept` of the pull requests of a commit.
pub const MEDIA_PULLS_FOR_COMMIT: &str = "application/vnd.github.groot-preview+json";
/// The `Accept` of a pull request's comments.
pub const MEDIA_REACTIONS: &str = "application/vnd.github.squirrel-girl-preview";
/// The `Accept` of check runs.
pub const MEDIA_CHECK_RUNS: &str = "application/vnd.github.antiope-preview+json";
/// What Go's `text/template` renders Argo's default `repoURLPath` and `revisionPath` to over a
/// Rollout.
pub const NO_VALUE: &str = "<no value>";

/// The service's config: `service.github`, as Argo's `GitHubOptions`. Unknown fields are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The App's ID (any JSON, read as Go's `cast.ToInt64E` reads it).
    #[serde(rename = "appID")]
    pub app_id: Value,
    /// The installation's ID.
    #[serde(rename = "installationID")]
    pub installation_id: Value,
    /// The App's private key, PEM.
    #[serde(rename = "privateKey", deserialize_with = "or_default")]
    pub private_key: String,
    /// A GitHub Enterprise server.
    #[serde(rename = "enterpriseBaseURL", deserialize_with = "or_default")]
    pub enterprise_base_url: String,
    /// Not honoured: the host verifies TLS certificates.
    #[serde(rename = "insecureSkipVerify")]
    pub insecure_skip_verify: Option<bool>,
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, a base prefix (`0x`, `0o`, `0b`, `0` for octal),
/// underscores between digits when a prefix is there.
fn parse_int_base0(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (base, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        // Go's underscoreOK: only with a base prefix, each one after a digit or the prefix.
        let ok = prefixed && !digits.ends_with('_') && !digits.contains("__");
        if !ok {
            return None;
        }
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits, base).ok()?;
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// cast's `trimZeroDecimal`: `"12.00"` is `"12"`.
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    let mut i = b.len();
    while i > 0 {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
        i -= 1;
    }
    s
}

/// spf13/cast's `ToInt64E` over a config value as Go decodes YAML/JSON into `any` (numbers are
/// `float64`, truncated).
pub fn cast_int64(value: &Value) -> Result<i64, Error> {
    match value {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0) as i64),
        Value::String(s) => parse_int_base0(trim_zero_decimal(s))
            .ok_or_else(|| Error(format!("unable to cast {} of type string to int64", go_quote(s)))),
        Value::Array(_) => Err(Error(format!("unable to cast {value} of type []interface {{}} to int64"))),
        Value::Object(_) => Err(Error(format!("unable to cast {value} of type map[string]interface {{}} to int64"))),
    }
}

/// go-github's `WithEnterpriseURLs`: the API's base URL for an enterprise server.
pub fn enterprise_api_base(base: &str) -> Result<Url, Error> {
    let mut url = gourl::parse(base).map_err(Error)?;
    if !url.path.ends_with('/') {
        url.path.push('/');
    }
    if !url.path.ends_with("/api/v3/") && !url.host.starts_with("api.") && !url.host.contains(".api.") {
        url.path.push_str("api/v3/");
    }
    url.raw_path.clear();
    Ok(url)
}

/// Argo's `NewGitHubService`: the App, its installation and the API's URLs.
#[derive(Debug, Clone)]
pub struct App {
    /// The App's ID.
    pub app_id: i64,
    /// The installation's ID.
    pub installation_id: i64,
    key: RsaPrivateKey,
    /// The installation token's URL, as ghinstallation formats it.
    pub token_url: String,
    /// go-github's base URL (ends in `/`).
    pub api_base: Url,
}

impl App {
    /// The App of `config`, checked in Argo's order (the IDs, the key, the enterprise URL), with
    /// Argo's errors.
    pub fn new(config: &Config) -> Result<App, Error> {
        let base = if config.enterprise_base_url.is_empty() { DEFAULT_API_URL } else { &config.enterprise_base_url };
        let app_id = cast_int64(&config.app_id)?;
        let installation_id = cast_int64(&config.installation_id)?;
        warn_insecure_skip_verify("github", config.insecure_skip_verify);
        let key = jwt::parse_private_key(&config.private_key)
            .map_err(|e| Error(format!("could not parse private key: {e}")))?;
        let api_base = if config.enterprise_base_url.is_empty() {
            gourl::parse("https://api.github.com/").map_err(Error)?
        } else {
            enterprise_api_base(&config.enterprise_base_url)?
        };
        let token_url = format!("{}/app/installations/{installation_id}/access_tokens", base.trim_end_matches('/'));
        Ok(App { app_id, installation_id, key, token_url, api_base })
    }

    /// The App's JWT at Unix time `now`.
    pub fn jwt(&self, now: i64) -> String {
        jwt::sign(&self.key, &jwt::claims(self.app_id, now))
    }
}

/// The template's `github.status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusBlock {
    /// `pending`, `success`, `error` or `failure`.
    #[serde(deserialize_with = "or_default")]
    pub state: String,
    /// The status's context.
    #[serde(deserialize_with = "or_default")]
    pub label: String,
    /// The status's link.
    #[serde(rename = "targetURL", deserialize_with = "or_default")]
    pub target_url: String,
}

/// The template's `github.deployment`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DeploymentBlock {
    /// The deployment status's state.
    #[serde(deserialize_with = "or_default")]
    pub state: String,
    /// The environment.
    #[serde(deserialize_with = "or_default")]
    pub environment: String,
    /// The environment's URL.
    #[serde(rename = "environmentURL", deserialize_with = "or_default")]
    pub environment_url: String,
    /// The deployment's log URL.
    #[serde(rename = "logURL", deserialize_with = "or_default")]
    pub log_url: String,
    /// The status contexts that must pass (`null` when absent, as Argo sends it).
    #[serde(rename = "requiredContexts")]
    pub required_contexts: Option<Vec<String>>,
    /// Default `true`.
    #[serde(rename = "autoMerge")]
    pub auto_merge: Option<bool>,
    /// Default `false`.
    #[serde(rename = "transientEnvironment")]
    pub transient_environment: Option<bool>,
    /// The ref to deploy; empty: the revision.
    #[serde(deserialize_with = "or_default")]
    pub reference: String,
}

/// The template's `github.pullRequestComment`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CommentBlock {
    /// The comment.
    #[serde(deserialize_with = "or_default")]
    pub content: String,
    /// A tag that makes the comment one per pull request, edited in place.
    #[serde(rename = "commentTag", deserialize_with = "or_default")]
    pub comment_tag: String,
}

/// The template's `github.checkRun.output`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CheckRunOutput {
    /// The title.
    #[serde(deserialize_with = "or_default")]
    pub title: String,
    /// The summary.
    #[serde(deserialize_with = "or_default")]
    pub summary: String,
    /// The details.
    #[serde(deserialize_with = "or_default")]
    pub text: String,
}

/// The template's `github.checkRun`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CheckRunBlock {
    /// The check's name.
    #[serde(deserialize_with = "or_default")]
    pub name: String,
    /// The details URL.
    #[serde(deserialize_with = "or_default")]
    pub details_url: String,
    /// `queued`, `in_progress` or `completed`.
    #[serde(deserialize_with = "or_default")]
    pub status: String,
    /// The conclusion.
    #[serde(deserialize_with = "or_default")]
    pub conclusion: String,
    /// RFC 3339.
    #[serde(deserialize_with = "or_default")]
    pub started_at: String,
    /// RFC 3339.
    #[serde(deserialize_with = "or_default")]
    pub completed_at: String,
    /// The output, sent when present (even empty).
    pub output: Option<CheckRunOutput>,
}

/// The template's `github.repositoryDispatch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DispatchBlock {
    /// The event's type.
    #[serde(deserialize_with = "or_default")]
    pub event_type: String,
    /// The event's payload, JSON text.
    #[serde(deserialize_with = "or_default")]
    pub client_payload: String,
}

/// The template's `github` block (rendered), as Argo's `GitHubNotification`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GitHubTemplate {
    /// The repository URL (rendered); absent or empty: `<no value>`.
    #[serde(rename = "repoURLPath", deserialize_with = "or_default")]
    pub repo_url_path: String,
    /// The revision (rendered); absent or empty: `<no value>`.
    #[serde(rename = "revisionPath", deserialize_with = "or_default")]
    pub revision_path: String,
    /// A commit status.
    pub status: Option<StatusBlock>,
    /// A deployment.
    pub deployment: Option<DeploymentBlock>,
    /// Pull request comments.
    #[serde(rename = "pullRequestComment")]
    pub pull_request_comment: Option<CommentBlock>,
    /// A check run.
    #[serde(rename = "checkRun")]
    pub check_run: Option<CheckRunBlock>,
    /// A repository dispatch.
    #[serde(rename = "repositoryDispatch")]
    pub repository_dispatch: Option<DispatchBlock>,
}

/// Argo's `trunc`: more than `n` characters are cut to `n - 3` and `...`.
pub fn trunc(message: &str, n: usize) -> String {
    if message.chars().count() > n {
        let kept: String = message.chars().take(n.saturating_sub(3)).collect();
        format!("{kept}...")
    } else {
        message.to_string()
    }
}

/// git-urls' scp syntax (`[user@]host:path[?query]`): the path.
fn scp_path(raw: &str) -> Option<&str> {
    if raw.len() > 2048 {
        return None;
    }
    let user_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
    let host_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    let path_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/' | b'_' | b'-');
    let b = raw.as_bytes();
    let try_from = |start: usize| -> Option<&str> {
        let mut i = start;
        while i < b.len() && host_char(b[i]) {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b':') {
            return None;
        }
        let path_start = i + 1;
        let mut j = path_start;
        while j < b.len() && path_char(b[j]) {
            j += 1;
        }
        if j == path_start || raw[j..].contains('\n') {
            return None;
        }
        Some(&raw[path_start..j])
    };
    // The optional `user@` first (Go's leftmost-first), then without it.
    let mut u = 0;
    while u < b.len() && user_char(b[u]) {
        u += 1;
    }
    if u > 0
        && b.get(u) == Some(&b'@')
        && let Some(path) = try_from(u + 1)
    {
        return Some(path);
    }
    try_from(0)
}

/// git-urls' `Parse(raw).Path`: a URL of a git transport's scheme, else scp syntax, else a
/// local path.
pub fn git_url_path(raw: &str) -> String {
    const TRANSPORTS: [&str; 9] = ["ssh", "git", "git+ssh", "http", "https", "ftp", "ftps", "rsync", "file"];
    if let Ok(url) = gourl::parse(raw)
        && TRANSPORTS.contains(&url.scheme.as_str())
    {
        return url.path;
    }
    match scp_path(raw) {
        Some(path) => path.to_string(),
        None => raw.to_string(),
    }
}

/// Argo's `fullNameByRepoURL`: `owner/repo` from the URL's path (`.git` dropped), or the path.
pub fn full_name_by_repo_url(raw: &str) -> String {
    let path = git_url_path(raw);
    let path = path.strip_suffix(".git").unwrap_or(&path).to_string();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 2 { format!("{}/{}", parts[0], parts[1]) } else { path }
}

/// go-github's `refURLEscape`: each `/`-separated part path-escaped.
pub fn ref_url_escape(reference: &str) -> String {
    reference.split('/').map(gourl::path_escape).collect::<Vec<_>>().join("/")
}

/// go-github's `addOptions`: `s` parsed as a URL, its query replaced by the non-empty options
/// (sorted, query-escaped).
fn add_options(s: &str, options: &[(&str, &str)]) -> Result<String, Error> {
    let mut url = gourl::parse(s).map_err(Error)?;
    let mut pairs: Vec<&(&str, &str)> = options.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    url.raw_query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", gourl::query_escape(k), gourl::query_escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    url.force_query = false;
    Ok(url.to_string())
}

/// Go's `json.Compact` without HTML escaping (go-github's encoder), of JSON text Go's scanner
/// accepts; else Go's syntax error.
pub fn compact(text: &str) -> Result<String, String> {
    gojson::parse(text)?;
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Ok(out)
}

/// A JSON object written as go-github's encoder writes a struct: members in order, strings
/// without HTML escaping, a final newline.
#[derive(Default)]
struct Body(String);

impl Body {
    fn raw(mut self, name: &str, json: &str) -> Self {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        gostruct::write_string(&mut self.0, name, false);
        self.0.push(':');
        self.0.push_str(json);
        self
    }

    fn string(self, name: &str, value: &str) -> Self {
        let mut text = String::new();
        gostruct::write_string(&mut text, value, false);
        self.raw(name, &text)
    }

    fn done(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push_str("}\n");
        self.0
    }
}

/// One HTTP call, before it is sent: what the tests compare with Argo's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The method.
    pub method: String,
    /// The URL (no fragment).
    pub url: String,
    /// The headers, in the order they are set.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl Call {
    /// The HTTP request.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        match &self.body {
            Some(body) => request.body(body.clone().into_bytes()),
            None => request,
        }
    }
}

/// ghinstallation's `accessToken`, the fields read.
static ACCESS_TOKEN: Struct = Struct {
    name: "accessToken",
    go_type: "ghinstallation.accessToken",
    fields: &[
        Field { name: "token", kind: Kind::Str("string"), omitempty: false },
        Field { name: "expires_at", kind: Kind::Time("time.Time"), omitempty: false },
    ],
};

/// go-github's `Deployment`, the field read.
static DEPLOYMENT: Struct = Struct {
    name: "Deployment",
    go_type: "github.Deployment",
    fields: &[Field { name: "id", kind: Kind::Ptr(&Kind::Int("int64")), omitempty: true }],
};

/// go-github's `PullRequest`, the field read.
static PULL_REQUEST: Struct = Struct {
    name: "PullRequest",
    go_type: "github.PullRequest",
    fields: &[Field { name: "number", kind: Kind::Ptr(&Kind::Int("int")), omitempty: true }],
};

static PLAN: Struct = Struct {
    name: "Plan",
    go_type: "github.Plan",
    fields: &[
        Field { name: "name", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field { name: "space", kind: Kind::Ptr(&Kind::Int("int")), omitempty: true },
        Field { name: "collaborators", kind: Kind::Ptr(&Kind::Int("int")), omitempty: true },
        Field { name: "private_repos", kind: Kind::Ptr(&Kind::Int("int64")), omitempty: true },
        Field { name: "filled_seats", kind: Kind::Ptr(&Kind::Int("int")), omitempty: true },
        Field { name: "seats", kind: Kind::Ptr(&Kind::Int("int")), omitempty: true },
    ],
};

static MATCH: Struct = Struct {
    name: "Match",
    go_type: "github.Match",
    fields: &[
        Field { name: "text", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field { name: "indices", kind: Kind::Slice(&Kind::Int("int"), "[]int"), omitempty: true },
    ],
};

static TEXT_MATCH: Struct = Struct {
    name: "TextMatch",
    go_type: "github.TextMatch",
    fields: &[
        Field { name: "object_url", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field { name: "object_type", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field { name: "property", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field { name: "fragment", kind: Kind::Ptr(&Kind::Str("string")), omitempty: true },
        Field {
            name: "matches",
            kind: Kind::Slice(&Kind::Ptr(&Kind::Struct(&MATCH)), "[]*github.Match"),
            omitempty: true,
        },
    ],
};

const TIMESTAMP: Kind = Kind::Ptr(&Kind::Time("github.Timestamp"));
const STRING: Kind = Kind::Ptr(&Kind::Str("string"));
const INT: Kind = Kind::Ptr(&Kind::Int("int"));
const INT64: Kind = Kind::Ptr(&Kind::Int("int64"));
const BOOL: Kind = Kind::Ptr(&Kind::Bool);

/// go-github's `User` (`inherited_from` left out).
static USER: Struct = Struct {
    name: "User",
    go_type: "github.User",
    fields: &[
        Field { name: "login", kind: STRING, omitempty: true },
        Field { name: "id", kind: INT64, omitempty: true },
        Field { name: "node_id", kind: STRING, omitempty: true },
        Field { name: "avatar_url", kind: STRING, omitempty: true },
        Field { name: "html_url", kind: STRING, omitempty: true },
        Field { name: "gravatar_id", kind: STRING, omitempty: true },
        Field { name: "name", kind: STRING, omitempty: true },
        Field { name: "company", kind: STRING, omitempty: true },
        Field { name: "blog", kind: STRING, omitempty: true },
        Field { name: "location", kind: STRING, omitempty: true },
        Field { name: "email", kind: STRING, omitempty: true },
        Field { name: "hireable", kind: BOOL, omitempty: true },
        Field { name: "bio", kind: STRING, omitempty: true },
        Field { name: "twitter_username", kind: STRING, omitempty: true },
        Field { name: "public_repos", kind: INT, omitempty: true },
        Field { name: "public_gists", kind: INT, omitempty: true },
        Field { name: "followers", kind: INT, omitempty: true },
        Field { name: "following", kind: INT, omitempty: true },
        Field { name: "created_at", kind: TIMESTAMP, omitempty: true },
        Field { name: "updated_at", kind: TIMESTAMP, omitempty: true },
        Field { name: "suspended_at", kind: TIMESTAMP, omitempty: true },
        Field { name: "type", kind: STRING, omitempty: true },
        Field { name: "site_admin", kind: BOOL, omitempty: true },
        Field { name: "total_private_repos", kind: INT64, omitempty: true },
        Field { name: "owned_private_repos", kind: INT64, omitempty: true },
        Field { name: "private_gists", kind: INT, omitempty: true },
        Field { name: "disk_usage", kind: INT, omitempty: true },
        Field { name: "collaborators", kind: INT, omitempty: true },
        Field { name: "two_factor_authentication", kind: BOOL, omitempty: true },
        Field { name: "plan", kind: Kind::Ptr(&Kind::Struct(&PLAN)), omitempty: true },
        Field { name: "ldap_dn", kind: STRING, omitempty: true },
        Field { name: "url", kind: STRING, omitempty: true },
        Field { name: "events_url", kind: STRING, omitempty: true },
        Field { name: "following_url", kind: STRING, omitempty: true },
        Field { name: "followers_url", kind: STRING, omitempty: true },
        Field { name: "gists_url", kind: STRING, omitempty: true },
        Field { name: "organizations_url", kind: STRING, omitempty: true },
        Field { name: "received_events_url", kind: STRING, omitempty: true },
        Field { name: "repos_url", kind: STRING, omitempty: true },
        Field { name: "starred_url", kind: STRING, omitempty: true },
        Field { name: "subscriptions_url", kind: STRING, omitempty: true },
        Field {
            name: "text_matches",
            kind: Kind::Slice(&Kind::Ptr(&Kind::Struct(&TEXT_MATCH)), "[]*github.TextMatch"),
            omitempty: true,
        },
        Field { name: "permissions", kind: Kind::Map(&Kind::Bool, "map[string]bool"), omitempty: true },
        Field { name: "role_name", kind: STRING, omitempty: true },
        Field { name: "assignment", kind: STRING, omitempty: true },
    ],
};

static REACTIONS: Struct = Struct {
    name: "Reactions",
    go_type: "github.Reactions",
    fields: &[
        Field { name: "total_count", kind: INT, omitempty: true },
        Field { name: "+1", kind: INT, omitempty: true },
        Field { name: "-1", kind: INT, omitempty: true },
        Field { name: "laugh", kind: INT, omitempty: true },
        Field { name: "confused", kind: INT, omitempty: true },
        Field { name: "heart", kind: INT, omitempty: true },
        Field { name: "hooray", kind: INT, omitempty: true },
        Field { name: "rocket", kind: INT, omitempty: true },
        Field { name: "eyes", kind: INT, omitempty: true },
        Field { name: "url", kind: STRING, omitempty: true },
    ],
};

/// go-github's `IssueComment`: read whole, as a tagged comment is sent back whole.
pub static ISSUE_COMMENT: Struct = Struct {
    name: "IssueComment",
    go_type: "github.IssueComment",
    fields: &[
        Field { name: "id", kind: INT64, omitempty: true },
        Field { name: "node_id", kind: STRING, omitempty: true },
        Field { name: "body", kind: STRING, omitempty: true },
        Field { name: "user", kind: Kind::Ptr(&Kind::Struct(&USER)), omitempty: true },
        Field { name: "reactions", kind: Kind::Ptr(&Kind::Struct(&REACTIONS)), omitempty: true },
        Field { name: "created_at", kind: TIMESTAMP, omitempty: true },
        Field { name: "updated_at", kind: TIMESTAMP, omitempty: true },
        Field { name: "author_association", kind: STRING, omitempty: true },
        Field { name: "url", kind: STRING, omitempty: true },
        Field { name: "html_url", kind: STRING, omitempty: true },
        Field { name: "issue_url", kind: STRING, omitempty: true },
    ],
};

/// A response type whose fields the service does not read.
const fn opaque(go_type: &'static str) -> Struct {
    Struct { name: "", go_type, fields: &[] }
}

static REPO_STATUS: Struct = opaque("github.RepoStatus");
static DEPLOYMENT_STATUS: Struct = opaque("github.DeploymentStatus");
static CHECK_RUN: Struct = opaque("github.CheckRun");
static REPOSITORY: Struct = opaque("github.Repository");

static ACCESS_TOKEN_PTR: Kind = Kind::Ptr(&Kind::Struct(&ACCESS_TOKEN));
static DEPLOYMENT_PTR: Kind = Kind::Ptr(&Kind::Struct(&DEPLOYMENT));
static ISSUE_COMMENT_PTR: Kind = Kind::Ptr(&Kind::Struct(&ISSUE_COMMENT));
static DEPLOYMENTS: Kind = Kind::Slice(&Kind::Ptr(&Kind::Struct(&DEPLOYMENT)), "[]*github.Deployment");
static PULL_REQUESTS: Kind = Kind::Slice(&Kind::Ptr(&Kind::Struct(&PULL_REQUEST)), "[]*github.PullRequest");
static ISSUE_COMMENTS: Kind = Kind::Slice(&Kind::Ptr(&Kind::Struct(&ISSUE_COMMENT)), "[]*github.IssueComment");

/// go-github's `Error`, one of an `ErrorResponse`'s `errors`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct DetailError {
    resource: String,
    field: String,
    code: String,
    message: String,
}

/// go-github's `ErrorResponse` decoded as `CheckResponse` decodes it: all of it, or nothing.
fn decode_error_response(body: &[u8]) -> (String, Vec<DetailError>, String) {
    static ERROR: Struct = Struct {
        name: "Error",
        go_type: "github.Error",
        fields: &[
            Field { name: "resource", kind: Kind::Str("string"), omitempty: false },
            Field { name: "field", kind: Kind::Str("string"), omitempty: false },
            Field { name: "code", kind: Kind::Str("string"), omitempty: false },
            Field { name: "message", kind: Kind::Str("string"), omitempty: false },
        ],
    };
    static BLOCK: Struct = Struct {
        name: "ErrorBlock",
        go_type: "github.ErrorBlock",
        fields: &[
            Field { name: "reason", kind: Kind::Str("string"), omitempty: false },
            Field { name: "created_at", kind: TIMESTAMP, omitempty: true },
        ],
    };
    static RESPONSE: Struct = Struct {
        name: "ErrorResponse",
        go_type: "github.ErrorResponse",
        fields: &[
            Field { name: "message", kind: Kind::Str("string"), omitempty: false },
            Field { name: "errors", kind: Kind::Any, omitempty: false },
            Field { name: "block", kind: Kind::Ptr(&Kind::Struct(&BLOCK)), omitempty: true },
            Field { name: "documentation_url", kind: Kind::Str("string"), omitempty: true },
        ],
    };
    let empty = (String::new(), Vec::new(), String::new());
    let Ok(value) = gojson::parse(&String::from_utf8_lossy(body)) else { return empty };
    let (Some(decoded), None) = gostruct::decode(&value, &Kind::Struct(&RESPONSE)) else { return empty };
    let text = |name| decoded.field(&RESPONSE, name).map(Go::as_str).unwrap_or_default().to_string();
    let mut errors = Vec::new();
    match decoded.field(&RESPONSE, "errors") {
        None | Some(Go::Nil) => {}
        Some(Go::Any(GoValue::Array(items))) => {
            for item in items {
                // go-github's `Error.UnmarshalJSON`: the struct, else a string as the message.
                let detail = match gostruct::decode(item, &Kind::Struct(&ERROR)) {
                    (Some(d), None) => {
                        let f = |name| d.field(&ERROR, name).map(Go::as_str).unwrap_or_default().to_string();
                        DetailError {
                            resource: f("resource"),
                            field: f("field"),
                            code: f("code"),
                            message: f("message"),
                        }
                    }
                    (None, None) => DetailError::default(),
                    _ => match item {
                        GoValue::String(s) => DetailError { message: s.clone(), ..DetailError::default() },
                        _ => return empty,
                    },
                };
                errors.push(detail);
            }
        }
        Some(_) => return empty,
    }
    (text("message"), errors, text("documentation_url"))
}

/// `%+v` of go-github's `[]Error`.
fn format_errors(errors: &[DetailError]) -> String {
    let items: Vec<String> = errors
        .iter()
        .map(|e| format!("{{Resource:{} Field:{} Code:{} Message:{}}}", e.resource, e.field, e.code, e.message))
        .collect();
    format!("[{}]", items.join(" "))
}

/// go-github's `formatRateReset`.
fn format_rate_reset(seconds: i64) -> String {
    let total = seconds.unsigned_abs();
    let (minutes, secs) = (total / 60, total % 60);
    let text = if minutes > 0 { format!("{minutes}m{secs:02}s") } else { format!("{secs}s") };
    if seconds < 0 { format!("[rate limit was reset {text} ago]") } else { format!("[rate reset in {text}]") }
}

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// go-github's `ErrorResponse` (a status it has no other error for): the status and the text.
    Response(u16, String),
    /// Any other error.
    Other(String),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Response(_, text) | ApiError::Other(text) => Error(text),
        }
    }
}

/// go-github's `CheckResponse` on a non-2xx answer to `METHOD url`.
fn check_response(method: &str, url: &str, response: &Response, now: i64) -> ApiError {
    let status = response.status;
    if status == 202 {
        return ApiError::Other("job scheduled on GitHub side; try again later".to_string());
    }
    let (message, errors, documentation_url) = decode_error_response(&response.body);
    if status == 403 && response.header("x-ratelimit-remaining") == Some("0") {
        let reset = response.header("x-ratelimit-reset").and_then(|r| r.trim().parse::<i64>().ok()).unwrap_or(now);
        return ApiError::Other(format!("{method} {url}: {status} {message} {}", format_rate_reset(reset - now)));
    }
    if status == 403
        && (documentation_url.ends_with("#abuse-rate-limits") || documentation_url.ends_with("secondary-rate-limits"))
    {
        return ApiError::Other(format!("{method} {url}: {status} {message}"));
    }
    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let location = response
            .header("location")
            .filter(|l| !l.is_empty())
            .and_then(|l| gourl::parse(l).ok())
            .map_or_else(|| "<nil>".to_string(), |u| u.to_string());
        return ApiError::Other(format!("{method} {url}: {status} location {location}"));
    }
    let text = format!("{method} {url}: {status} {message} {}", format_errors(&errors));
    if status == 401 && response.header("x-github-otp").is_some_and(|v| v.starts_with("required")) {
        return ApiError::Other(text);
    }
    ApiError::Response(status, text)
}

/// Go's `urlErrorOp`: `POST` is `Post`.
fn url_error_op(method: &str) -> String {
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => first.to_string() + &chars.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// go-github's client on ghinstallation's transport: the installation token asked for when a
/// call needs it (again when it is a minute from expiring), each call sent through `send`.
pub struct Api<'a, S> {
    app: &'a App,
    now: i64,
    token: Option<(String, i64)>,
    send: S,
}

impl<'a, S: FnMut(&Call) -> Result<Response, http::Error>> Api<'a, S> {
    /// A client for `app` at Unix time `now`, sending through `send`.
    pub fn new(app: &'a App, now: i64, send: S) -> Self {
        Api { app, now, token: None, send }
    }

    /// ghinstallation's `Token`: the cached token, or a new one (errors are what its
    /// `RoundTrip` returns).
    fn token(&mut self) -> Result<String, String> {
        if let Some((token, expires)) = &self.token
            && expires - 60 >= self.now
        {
            return Ok(token.clone());
        }
        let id = self.app.installation_id;
        let refresh = |e: String| format!("could not refresh installation id {id}'s token: {e}");
        let url = gourl::parse(&self.app.token_url).map_err(|e| refresh(format!("could not create request: {e}")))?;
        let url_text = url.to_string();
        let call = Call {
            method: "POST".to_string(),
            url: url_text.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), MEDIA_V3.into()),
                ("Authorization".into(), format!("Bearer {}", self.app.jwt(self.now))),
                ("Accept".into(), MEDIA_V3.into()),
            ],
            body: Some("null\n".to_string()),
        };
        let response = (self.send)(&call).map_err(|e| {
            refresh(format!("could not get access_tokens from GitHub API for installation ID {id}: {e}"))
        })?;
        if response.status / 100 != 2 {
            return Err(refresh(format!(
                "received non 2xx response status {} when fetching {url_text}",
                go_quote(&status_line(response.status))
            )));
        }
        let decoded = gostruct::decode_stream(&response.body, &ACCESS_TOKEN_PTR).map_err(&refresh)?;
        let token = decoded.as_ref().and_then(|d| d.field(&ACCESS_TOKEN, "token")).map(Go::as_str).unwrap_or_default();
        let expires = decoded
            .as_ref()
            .and_then(|d| match d.field(&ACCESS_TOKEN, "expires_at") {
                Some(Go::Time(t)) => gotime::parse(t).ok().map(|t| t.unix()),
                _ => None,
            })
            .unwrap_or(i64::MIN / 2);
        self.token = Some((token.to_string(), expires));
        Ok(token.to_string())
    }

    /// One go-github call: `relative` resolved against the base URL, the token, the request,
    /// `CheckResponse`, and the answer decoded as `kind`.
    pub fn call(
        &mut self,
        method: &str,
        relative: &str,
        accept: &str,
        body: Option<String>,
        kind: &Kind,
    ) -> Result<Option<Go>, ApiError> {
        let reference = gourl::parse(relative).map_err(ApiError::Other)?;
        let resolved = self.app.api_base.resolve_relative(&reference);
        let url = gourl::parse(&resolved.to_string()).map_err(ApiError::Other)?;
        let shown = url.to_string();
        let mut sent = url.clone();
        sent.fragment.clear();
        sent.raw_fragment.clear();
        let op = url_error_op(method);
        let token = self.token().map_err(|e| ApiError::Other(format!("{op} {}: {e}", go_quote(&shown))))?;
        let mut headers = Vec::new();
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        headers.push(("Accept".to_string(), accept.to_string()));
        headers.push(("User-Agent".to_string(), USER_AGENT.to_string()));
        headers.push((API_VERSION_HEADER.to_string(), API_VERSION.to_string()));
        headers.push(("Authorization".to_string(), format!("token {token}")));
        let call = Call { method: method.to_string(), url: sent.to_string(), headers, body };
        let response = (self.send)(&call).map_err(|e| ApiError::Other(format!("{op} {}: {e}", go_quote(&shown))))?;
        if response.status == 202 || !(200..=299).contains(&response.status) {
            return Err(check_response(method, &shown, &response, self.now));
        }
        gostruct::decode_stream(&response.body, kind).map_err(ApiError::Other)
    }
}

/// The owner and repository of `repo_url`, as Argo's `Send` splits them.
pub fn owner_repo(repo_url: &str) -> Result<(String, String), Error> {
    let full = full_name_by_repo_url(repo_url);
    let parts: Vec<&str> = full.split('/').collect();
    if parts.len() < 2 {
        return Err(Error(format!("GitHub.repoURL ({repo_url}) does not have a `/`")));
    }
    Ok((parts[0].to_string(), parts[1].to_string()))
}

/// The check run's time field as go-github sends it, or Go's parse error.
fn timestamp(value: &str) -> Result<Option<String>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    gotime::parse(value).map(|t| Some(t.rfc3339_nano())).map_err(Error)
}

/// A deployment's id, which Argo dereferences.
fn deployment_id(deployment: Option<&Go>, what: &str) -> Result<i64, Error> {
    match deployment.and_then(|d| d.field(&DEPLOYMENT, "id")) {
        Some(Go::Int(id)) => Ok(*id),
        _ => Err(Error(format!("github: the {what} deployment has no id"))),
    }
}

/// Sends `notification` as Argo's `Send` does, every call through `send`, at Unix time `now`.
pub fn deliver(
    notification: &Notification,
    config: &Config,
    now: i64,
    send: impl FnMut(&Call) -> Result<Response, http::Error>,
) -> Result<(), Error> {
    let app = App::new(config)?;
    let block: GitHubTemplate = template_block(notification, "github")?.ok_or_else(|| Error::msg("config is empty"))?;
    let or_no_value = |s: &str| if s.is_empty() { NO_VALUE.to_string() } else { s.to_string() };
    let repo_url = or_no_value(&block.repo_url_path);
    let revision = or_no_value(&block.revision_path);
    let (owner, repo) = owner_repo(&repo_url)?;
    let repos = format!("repos/{owner}/{repo}");
    let mut api = Api::new(&app, now, send);

    if let Some(status) = &block.status {
        let body = Body::default()
            .string("state", &status.state)
            .string("target_url", &status.target_url)
            .string("description", &trunc(notification.message(), 140))
            .string("context", &status.label)
            .done();
        let path = format!("{repos}/statuses/{}", ref_url_escape(&revision));
        match api.call("POST", &path, MEDIA_V3, Some(body), &Kind::Struct(&REPO_STATUS)) {
            Err(ApiError::Response(422, _)) => {
                return Err(Error(format!("too many commit statuses for sha {revision} and context {}", status.label)));
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
    }

    if let Some(deployment) = &block.deployment {
        let description = trunc(notification.message(), 140);
        let list = add_options(
            &format!("{repos}/deployments"),
            &[("ref", &revision), ("environment", &deployment.environment)],
        )?;
        let listed = api.call("GET", &list, MEDIA_V3, None, &DEPLOYMENTS)?;
        let reference = if deployment.reference.is_empty() { &revision } else { &deployment.reference };
        let id = match listed {
            Some(Go::Slice(items)) if !items.is_empty() => deployment_id(items.first(), "listed")?,
            _ => {
                let contexts = match &deployment.required_contexts {
                    None => "null".to_string(),
                    Some(contexts) => {
                        let items: Vec<String> = contexts
                            .iter()
                            .map(|c| {
                                let mut s = String::new();
                                gostruct::write_string(&mut s, c, false);
                                s
                            })
                            .collect();
                        format!("[{}]", items.join(","))
                    }
                };
                let body = Body::default()
                    .string("ref", reference)
                    .raw("auto_merge", if deployment.auto_merge.unwrap_or(true) { "true" } else { "false" })
                    .raw("required_contexts", &contexts)
                    .string("environment", &deployment.environment)
                    .raw(
                        "transient_environment",
                        if deployment.transient_environment.unwrap_or(false) { "true" } else { "false" },
                    )
                    .done();
                let created =
                    api.call("POST", &format!("{repos}/deployments"), MEDIA_DEPLOYMENTS, Some(body), &DEPLOYMENT_PTR)?;
                deployment_id(created.as_ref(), "created")?
            }
        };
        let body = Body::default()
            .string("state", &deployment.state)
            .string("log_url", &deployment.log_url)
            .string("description", &description)
            .string("environment", &deployment.environment)
            .string("environment_url", &deployment.environment_url)
            .done();
        api.call(
            "POST",
            &format!("{repos}/deployments/{id}/statuses"),
            MEDIA_DEPLOYMENTS,
            Some(body),
            &Kind::Struct(&DEPLOYMENT_STATUS),
        )?;
    }

    if let Some(comment) = &block.pull_request_comment {
        let tag = &comment.comment_tag;
        let tag_pattern = format!("<!-- argocd-notifications {tag} -->");
        let content =
            if tag.is_empty() { comment.content.clone() } else { format!("{}\n{tag_pattern}", comment.content) };
        let mut body = trunc(&content, 65536);
        let prs = api.call(
            "GET",
            &format!("{repos}/commits/{revision}/pulls"),
            MEDIA_PULLS_FOR_COMMIT,
            None,
            &PULL_REQUESTS,
        )?;
        let prs = match prs {
            Some(Go::Slice(items)) => items,
            _ => Vec::new(),
        };
        for pr in prs {
            let number = match pr.field(&PULL_REQUEST, "number") {
                Some(Go::Int(n)) => *n,
                _ => 0,
            };
            if !tag.is_empty() {
                let list = if number == 0 {
                    format!("{repos}/issues/comments")
                } else {
                    format!("{repos}/issues/{number}/comments")
                };
                let comments = api.call("GET", &list, MEDIA_REACTIONS, None, &ISSUE_COMMENTS)?;
                let comments = match comments {
                    Some(Go::Slice(items)) => items,
                    _ => Vec::new(),
                };
                let existing = comments
                    .into_iter()
                    .find(|c| c.field(&ISSUE_COMMENT, "body").is_some_and(|b| b.as_str().contains(&tag_pattern)));
                if let Some(mut existing) = existing {
                    let id = match existing.field(&ISSUE_COMMENT, "id") {
                        Some(Go::Int(id)) => *id,
                        _ => 0,
                    };
                    existing.set_field(&ISSUE_COMMENT, "body", Go::Str(format!("{body}\n{tag_pattern}")));
                    let json = gostruct::to_string(&existing, &ISSUE_COMMENT_PTR, false) + "\n";
                    api.call(
                        "PATCH",
                        &format!("{repos}/issues/comments/{id}"),
                        MEDIA_V3,
                        Some(json),
                        &Kind::Struct(&ISSUE_COMMENT),
                    )?;
                    continue;
                }
                body = format!("{body}\n{tag_pattern}");
            }
            let json = Body::default().string("body", &body).done();
            api.call(
                "POST",
                &format!("{repos}/issues/{number}/comments"),
                MEDIA_V3,
                Some(json),
                &Kind::Struct(&ISSUE_COMMENT),
            )?;
        }
    }

    if let Some(check) = &block.check_run {
        let mut status = check.status.clone();
        let conclusion = check.conclusion.clone();
        if !conclusion.is_empty() && status.is_empty() {
            status = "completed".to_string();
        }
        if (status == "completed" || !check.completed_at.is_empty()) && conclusion.is_empty() {
            return Err(Error::msg(
                "github checkrun: conclusion is required when status is completed or completed_at is set",
            ));
        }
        let started = timestamp(&check.started_at)?;
        let completed = timestamp(&check.completed_at)?;
        let mut body = Body::default()
            .string("name", &check.name)
            .string("head_sha", &revision)
            .string("details_url", &check.details_url)
            .string("external_id", "argocd-notifications");
        if !status.is_empty() {
            body = body.string("status", &status);
        }
        if !conclusion.is_empty() {
            body = body.string("conclusion", &conclusion);
        }
        if let Some(started) = &started {
            body = body.string("started_at", started);
        }
        if let Some(completed) = &completed {
            body = body.string("completed_at", completed);
        }
        if let Some(output) = &check.output {
            let output = Body::default()
                .string("title", &output.title)
                .string("summary", &output.summary)
                .string("text", &output.text)
                .done();
            body = body.raw("output", output.trim_end());
        }
        api.call(
            "POST",
            &format!("{repos}/check-runs"),
            MEDIA_CHECK_RUNS,
            Some(body.done()),
            &Kind::Struct(&CHECK_RUN),
        )?;
    }

    if let Some(dispatch) = &block.repository_dispatch {
        let payload = compact(&dispatch.client_payload)
            .map_err(|e| Error(format!("json: error calling MarshalJSON for type *json.RawMessage: {e}")))?;
        let body = Body::default().string("event_type", &dispatch.event_type).raw("client_payload", &payload).done();
        api.call("POST", &format!("{repos}/dispatches"), MEDIA_V3, Some(body), &Kind::Struct(&REPOSITORY))?;
    }
    Ok(())
}

/// The current Unix time (the guest's wall clock, WASI's).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The service.
pub struct GitHub;

impl Notifier for GitHub {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        deliver(&notification, &config, now(), |call| call.request().send())
    }
}

export_notifier!(GitHub);

#[cfg(test)]
mod tests;
