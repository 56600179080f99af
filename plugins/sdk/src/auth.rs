//! Authentication helpers shared by providers: Argo's `basicAuth` and `oauth2` blocks.

use base64::Engine;
use serde::Deserialize;

use crate::http::Request;
use crate::provider::Error;

/// Argo's `authentication.basicAuth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
}

impl BasicAuth {
    /// The `Authorization` header value.
    pub fn header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Argo's `authentication.oauth2` (client-credentials grant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// Token endpoint.
    #[serde(default)]
    pub token_url: String,
    /// Client id.
    #[serde(default)]
    pub client_id: String,
    /// Client secret.
    #[serde(default)]
    pub client_secret: String,
    /// Requested scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

impl OAuth2 {
    /// Fetches an access token and returns the `Authorization` header value. The token URL's
    /// host must be among the plugin's allowed hosts like any other.
    pub fn header(&self) -> Result<String, Error> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        form.append_pair("client_id", &self.client_id);
        form.append_pair("client_secret", &self.client_secret);
        if !self.scopes.is_empty() {
            form.append_pair("scope", &self.scopes.join(" "));
        }
        let response = Request::post(&self.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.finish())
            .send()?;
        if !response.is_success() {
            return Err(Error(format!("oauth2 token request to {} returned HTTP {}", self.token_url, response.status)));
        }
        let token: TokenResponse =
            response.json().map_err(|e| Error(format!("oauth2 token response from {}: {e}", self.token_url)))?;
        Ok(format!("Bearer {}", token.access_token))
    }
}
