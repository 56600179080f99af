//! Go's `net/url.Parse`, as far as Argo's services lean on it: the parts of a URL (`scheme`
//! lower-cased, `user`, `host`, `path` unescaped, `raw_query`, `fragment`) and Go's errors for a
//! URL it refuses (`parse "<url>": invalid port ":x" after host`), so that a bad URL in a config
//! fails with Argo's words and a good one is split as Go splits it.

/// A URL as Go's `url.Parse` splits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoUrl {
    /// The scheme, lower-cased (empty when there is none).
    pub scheme: String,
    /// What `//` introduces up to the path, without the user information.
    pub host: String,
    /// The user information before an `@` in the authority, as written.
    pub user: Option<String>,
    /// The path, unescaped.
    pub path: String,
    /// The query, as written, without its `?`.
    pub raw_query: String,
    /// Whether the URL ends in a lone `?`.
    pub force_query: bool,
    /// What follows `#`, as written.
    pub fragment: Option<String>,
    /// Whether there is an authority (`//`).
    pub has_authority: bool,
}

/// Go's `strconv.Quote` of a URL, as its errors show it.
pub fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if ('\u{80}'..='\u{a0}').contains(&c) || matches!(c, '\u{ad}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `unescape` in path mode: `%XX` decoded; an invalid escape is Go's error.
fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(hex) = hex else {
                let end = (i + 3).min(bytes.len());
                let shown = String::from_utf8_lossy(&bytes[i..end]);
                return Err(format!("invalid URL escape {}", go_quote(&shown)));
            };
            let hex = std::str::from_utf8(hex).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `getScheme`: the scheme and the rest, or Go's error for a URL starting with `:`.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".to_string()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `validOptionalPort`.
fn valid_port(port: &str) -> bool {
    port.is_empty() || port.strip_prefix(':').is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `parseHost`, the checks it makes on the host of an authority.
fn check_host(host: &str) -> Result<(), String> {
    if let Some(rest) = host.strip_prefix('[') {
        let Some(close) = rest.rfind(']') else { return Err("missing ']' in host".to_string()) };
        let port = &rest[close + 1..];
        if !valid_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
    } else if let Some(colon) = host.rfind(':') {
        let port = &host[colon..];
        if !valid_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
    }
    if host.contains('%') {
        unescape(host)?;
    }
    Ok(())
}

/// Go's `url.Parse(raw)`: the URL's parts, or Go's error (`parse "<raw>": <why>`).
pub fn parse(raw: &str) -> Result<GoUrl, String> {
    parse_parts(raw).map_err(|why| format!("parse {}: {why}", go_quote(raw)))
}

fn parse_parts(raw: &str) -> Result<GoUrl, String> {
    let (before, fragment) = match raw.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (raw, None),
    };
    if before.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let (scheme, rest) = split_scheme(before)?;
    let mut url = GoUrl { scheme: scheme.to_ascii_lowercase(), ..GoUrl::default() };
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        &rest[..rest.len() - 1]
    } else {
        match rest.split_once('?') {
            Some((rest, query)) => {
                url.raw_query = query.to_string();
                rest
            }
            None => rest,
        }
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // An opaque URL (`mailto:x`): Go keeps it whole; nothing of it is a path.
            url.path = String::new();
            url.fragment = fragment.map(str::to_string);
            return Ok(url);
        }
        if rest.split('/').next().is_some_and(|segment| segment.contains(':')) {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    let mut path = rest;
    if rest.starts_with("//") && (!url.scheme.is_empty() || !rest.starts_with("///")) {
        let authority = &rest[2..];
        let (authority, after) = match authority.find('/') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        };
        let (user, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        check_host(host)?;
        url.user = user.map(str::to_string);
        url.host = host.to_string();
        url.has_authority = true;
        path = after;
    }
    url.path = unescape(path)?;
    if let Some(fragment) = fragment {
        unescape(fragment)?;
        url.fragment = Some(fragment.to_string());
    }
    Ok(url)
}

impl GoUrl {
    /// Go's `URL.Hostname`: the host without its port and brackets.
    pub fn hostname(&self) -> &str {
        let host = &self.host;
        if let Some(rest) = host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        match host.rfind(':') {
            Some(i) if valid_port(&host[i..]) => &host[..i],
            _ => host,
        }
    }
}

/// Go's `escape(path, encodePath)`: every byte but letters, digits, `-_.~` and `$&+,/:;=@`
/// as `%XX`.
pub fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b'&'
            | b'+'
            | b','
            | b'/'
            | b':'
            | b';'
            | b'='
            | b'@' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
