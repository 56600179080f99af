//! Kubernetes JSONPath templates over a JSON document (feature `jsonpath`), as Argo's web
//! provider reads its `jsonPath`: `{$.data.ok}`, `{.data}`, or a bare `$.data.items[*].v`.
//!
//! One implementation for every plugin that takes such a field (`aviary/web`,
//! `aviary/wait-for-http`), so that a path that works in one works the same in the others.

use serde_json::Value;

/// Why a template cannot be evaluated: it is not a JSONPath expression. The text is the
/// parser's, for the plugin to put in its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPath(pub String);

impl std::fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidPath {}

/// The JSONPath expression of a Kubernetes template: the braces dropped and a leading `$`
/// added when missing (`{.data}` → `$.data`), as kubectl does.
pub fn expression(template: &str) -> String {
    let inner = template.trim();
    let inner = inner.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(inner).trim();
    if inner.starts_with('$') { inner.to_string() } else { format!("${inner}") }
}

/// Every node of `document` the template selects, in document order; empty when none matches.
pub fn query<'v>(document: &'v Value, template: &str) -> Result<Vec<&'v Value>, InvalidPath> {
    let path = serde_json_path::JsonPath::parse(&expression(template)).map_err(|e| InvalidPath(e.to_string()))?;
    Ok(path.query(document).all())
}

/// What the template selects as one value, as Argo's web provider hands it on: one match is
/// the value itself, several make an array, none is `None` (the caller words "not found").
pub fn select(document: &Value, template: &str) -> Result<Option<Value>, InvalidPath> {
    let found = query(document, template)?;
    Ok(match found.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_select_like_kubectl() {
        let body = json!({"data": {"ok": true, "items": [{"v": 1}, {"v": 2}]}});
        assert_eq!(select(&body, "{$}").unwrap(), Some(body.clone()));
        assert_eq!(select(&body, "{$.data.ok}").unwrap(), Some(json!(true)));
        assert_eq!(select(&body, "{.data.ok}").unwrap(), Some(json!(true)));
        assert_eq!(select(&body, "$.data.items[*].v").unwrap(), Some(json!([1, 2])));
        assert_eq!(select(&body, "{$.data.items[?(@.v > 1)].v}").unwrap(), Some(json!(2)));
        assert_eq!(select(&body, "{$.missing}").unwrap(), None);
        assert!(select(&body, "{$..[}").is_err());
    }
}
