//! Go's `net/url` query encoding, as Argo's providers build their request URLs: `QueryEscape`
//! and `Values.Encode`, so a URL a provider sends is byte for byte the one Argo sends (recordings
//! replay only when it is), and the RFC 3986 escaping of everything but the unreserved
//! characters that AWS signing and path segments use.

/// Go's `url.QueryEscape`: unreserved characters stay, a space is `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            _ if is_unreserved(b) => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: `name=value` pairs, both query-escaped, sorted by name (stably: a
/// repeated name keeps its values' order), joined with `&`.
pub fn encode_values<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<&(K, V)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let encoded: Vec<String> =
        sorted.iter().map(|(k, v)| format!("{}={}", query_escape(k.as_ref()), query_escape(v.as_ref()))).collect();
    encoded.join("&")
}

/// RFC 3986 encoding of everything but the unreserved characters, upper-case hex (a space is
/// `%20`).
pub fn escape_unreserved(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 3986's unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_is_gos() {
        // Go: url.QueryEscape("a b/c?d=e&f~g_h.i-j%é") == "a+b%2Fc%3Fd%3De%26f~g_h.i-j%25%C3%A9"
        assert_eq!(query_escape("a b/c?d=e&f~g_h.i-j%é"), "a+b%2Fc%3Fd%3De%26f~g_h.i-j%25%C3%A9");
    }

    #[test]
    fn values_are_sorted_stably_by_name_and_escaped() {
        let pairs = [("target", "b(x)"), ("format", "json"), ("target", "a y")];
        assert_eq!(encode_values(&pairs), "format=json&target=b%28x%29&target=a+y");
    }

    #[test]
    fn unreserved_escaping_keeps_only_unreserved_characters() {
        assert_eq!(escape_unreserved("a b/c~d"), "a%20b%2Fc~d");
    }
}
