//! Go's `net/url` (Go 1.26), the part Argo's services lean on: `url.Parse` and
//! `url.ParseRequestURI` with Go's validation and error texts (`parse "<url>": invalid port
//! ":x" after host`), `Hostname`, `Port`, `EscapedPath`, `String` and `ResolveReference` of a
//! relative reference, and `strconv.Quote` ([`go_quote`]) as Go's errors quote a URL. A service
//! that builds its URLs from a config's URL as Go does sends the same URL, and fails on the same
//! input with the same message.
//!
//! ```
//! use aviary_plugin_sdk::notifier::gourl;
//!
//! let mut url = gourl::parse("https://grafana.example.com/api?orgId=2").unwrap();
//! assert_eq!(url.hostname(), "grafana.example.com");
//! url.path.push_str("/annotations");
//! assert_eq!(url.to_string(), "https://grafana.example.com/api/annotations?orgId=2");
//! assert_eq!(
//!     gourl::parse("http://h:x/").unwrap_err(),
//!     r#"parse "http://h:x/": invalid port ":x" after host"#
//! );
//! ```
//!
//! Not ported: Go's `GODEBUG=urlstrictcolons=0` (colons in an http(s) host are refused, Go
//! 1.26's default).

use std::fmt::Write as _;

/// A parsed URL, as Go's `url.URL`: `path` and `fragment` unescaped, `raw_path` and
/// `raw_fragment` as written when they differ from Go's default escaping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// The scheme, lower-cased.
    pub scheme: String,
    /// The opaque part of `scheme:opaque` (no `//`).
    pub opaque: String,
    /// The user name and password of `user:password@`, unescaped.
    pub user: Option<(String, Option<String>)>,
    /// `host` or `host:port`, unescaped.
    pub host: String,
    /// The path, unescaped.
    pub path: String,
    /// The path as written, when Go's escaping of `path` would differ.
    pub raw_path: String,
    /// Whether a `?` with no query followed.
    pub force_query: bool,
    /// The query, as written.
    pub raw_query: String,
    /// The fragment, unescaped.
    pub fragment: String,
    /// The fragment as written, when Go's escaping of `fragment` would differ.
    pub raw_fragment: String,
    /// Whether `scheme:/path` had no `//` (Go's `OmitHost`).
    pub omit_host: bool,
}

/// The characters each of Go's escaping modes leaves alone (`encoding_table.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    PathSegment,
    Host,
    Zone,
    UserPassword,
    Fragment,
    QueryComponent,
}

fn allowed(c: u8, mode: Mode) -> bool {
    let set: &[u8] = match mode {
        Mode::Path => b"$&+,-./:;=@_~",
        Mode::PathSegment => b"$&+-.:=@_~",
        Mode::Host | Mode::Zone => b"!\"$&'()*+,-.:;<=>[]_~",
        Mode::UserPassword => b"$&+,-.;=_~",
        Mode::Fragment => b"!$&()*+,-./:;=?@_~",
        Mode::QueryComponent => b"-._~",
    };
    c.is_ascii_alphanumeric() || set.contains(&c)
}

fn should_escape(c: u8, mode: Mode) -> bool {
    !allowed(c, mode)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `unescape`: `%XX` decoded (and `+` as a space in a query component), checked as Go
/// checks it (`invalid URL escape "%zz"`, `invalid character " " in host name`).
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    let end = (i + 3).min(b.len());
                    return Err(format!("invalid URL escape {}", go_quote(&String::from_utf8_lossy(&b[i..end]))));
                }
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && &b[i..i + 3] != b"%25" {
                    return Err(format!("invalid URL escape {}", go_quote(&String::from_utf8_lossy(&b[i..i + 3]))));
                }
                if mode == Mode::Zone {
                    let v = (unhex(b[i + 1]) << 4) | unhex(b[i + 2]);
                    if &b[i..i + 3] != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(format!("invalid URL escape {}", go_quote(&String::from_utf8_lossy(&b[i..i + 3]))));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!("invalid character {} in host name", go_quote(&char::from(c).to_string())));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push((unhex(b[i + 1]) << 4) | unhex(b[i + 2]));
                i += 3;
            }
            b'+' if mode == Mode::QueryComponent => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `escape`: every byte the mode does not leave alone as `%XX` (a space as `+` in a query
/// component).
fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.bytes() {
        if !should_escape(c, mode) {
            out.push(char::from(c));
        } else if c == b' ' && mode == Mode::QueryComponent {
            out.push('+');
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// Go's `url.PathEscape`: a path segment's escaping.
pub fn path_escape(s: &str) -> String {
    escape(s, Mode::PathSegment)
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    escape(s, Mode::QueryComponent)
}

/// Go's `escape(path, encodePath)`, how `URL.EscapedPath` writes a path it has no `raw_path`
/// for: every byte but letters, digits, `-_.~` and `$&+,/:;=@` as `%XX`.
pub fn escape_path(s: &str) -> String {
    escape(s, Mode::Path)
}

/// Go's `validEncoded`: whether `s` is already escaped for `mode`.
fn valid_encoded(s: &str, mode: Mode) -> bool {
    s.bytes().all(|c| {
        matches!(c, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@')
            || matches!(c, b'[' | b']' | b'%')
            || !should_escape(c, mode)
    })
}

/// Go's `strconv.Quote`, as its errors quote a URL: `"` and `\` escaped, `\a \b \f \n \r \t \v`,
/// other ASCII control characters as `\x01`, and the characters Go does not print (see
/// [`is_go_print`]) as `\u00a0` or `\U000e0001`; other characters as they are.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint` (letters, marks, numbers, punctuation, symbols and the ASCII space),
/// as far as it is told without Unicode's tables: not printed are the control characters, the
/// separators other than U+0020 (U+00A0, U+2028, U+3000, ...), the format characters (U+00AD,
/// U+200B to U+200F, U+FEFF, ...), the private-use ranges and the noncharacters. An unassigned
/// code point, which Go escapes too, is taken as printable.
pub fn is_go_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let n = c as u32;
    let format = matches!(
        n,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private = matches!(n, 0xe000..=0xf8ff | 0xf_0000..=0xf_fffd | 0x10_0000..=0x10_fffd);
    let nonchar = matches!(n, 0xfdd0..=0xfdef) || n & 0xfffe == 0xfffe;
    !(format || private || nonchar)
}

/// Go's `getScheme`.
fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".to_string());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn valid_userinfo(s: &str) -> bool {
    s.chars().all(|r| {
        r.is_ascii_alphanumeric()
            || matches!(
                r,
                '-' | '.'
                    | '_'
                    | ':'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | '%'
                    | '@'
            )
    })
}

/// Go's `parseHost`.
fn parse_host(scheme: &str, host: &str) -> Result<String, String> {
    if let Some(open) = host.rfind('[') {
        if open > 0 {
            return Err("invalid IP-literal".to_string());
        }
        let close = host.rfind(']').ok_or_else(|| "missing ']' in host".to_string())?;
        let colon_port = &host[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
        let colon_port = unescape(colon_port, Mode::Host)?;
        let hostname = host.get(1..close).unwrap_or_default();
        let unescaped = match hostname.find("%25") {
            Some(zone) => unescape(&hostname[..zone], Mode::Host)? + &unescape(&hostname[zone..], Mode::Zone)?,
            None => unescape(hostname, Mode::Host)?,
        };
        let address = unescaped.split('%').next().unwrap_or_default();
        match address.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(_)) => {}
            Ok(std::net::IpAddr::V4(_)) => return Err("invalid IP-literal".to_string()),
            Err(_) => {
                return Err(format!("invalid host: ParseAddr({}): unable to parse IP", go_quote(&unescaped)));
            }
        }
        return Ok(format!("[{unescaped}]{colon_port}"));
    }
    if let Some(first) = host.find(':') {
        let last = host.rfind(':').unwrap_or(first);
        let i = if last != first && !(scheme == "http" || scheme == "https") { last } else { first };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

type Authority = (Option<(String, Option<String>)>, String);

/// Go's `parseAuthority`.
fn parse_authority(scheme: &str, authority: &str) -> Result<Authority, String> {
    let at = authority.rfind('@');
    let host = parse_host(scheme, at.map_or(authority, |i| &authority[i + 1..]))?;
    let Some(i) = at else { return Ok((None, host)) };
    let userinfo = &authority[..i];
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".to_string());
    }
    let user = match userinfo.split_once(':') {
        None => (unescape(userinfo, Mode::UserPassword)?, None),
        Some((name, password)) => (unescape(name, Mode::UserPassword)?, Some(unescape(password, Mode::UserPassword)?)),
    };
    Ok((Some(user), host))
}

impl Url {
    /// Go's `setPath`.
    fn set_path(&mut self, p: &str) -> Result<(), String> {
        self.path = unescape(p, Mode::Path)?;
        self.raw_path = if escape(&self.path, Mode::Path) == p { String::new() } else { p.to_string() };
        Ok(())
    }

    /// Go's `setFragment`.
    fn set_fragment(&mut self, f: &str) -> Result<(), String> {
        self.fragment = unescape(f, Mode::Fragment)?;
        self.raw_fragment = if escape(&self.fragment, Mode::Fragment) == f { String::new() } else { f.to_string() };
        Ok(())
    }

    /// Go's `URL.Hostname`: the host without its port and IPv6 brackets.
    pub fn hostname(&self) -> &str {
        split_host_port(&self.host).0
    }

    /// Go's `URL.Port`: the port's digits, or empty.
    pub fn port(&self) -> &str {
        split_host_port(&self.host).1
    }

    /// Go's `URL.EscapedPath`.
    pub fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && valid_encoded(&self.raw_path, Mode::Path)
            && unescape(&self.raw_path, Mode::Path).is_ok_and(|p| p == self.path)
        {
            return self.raw_path.clone();
        }
        if self.path == "*" {
            return "*".to_string();
        }
        escape(&self.path, Mode::Path)
    }

    /// Go's `URL.EscapedFragment`.
    fn escaped_fragment(&self) -> String {
        if !self.raw_fragment.is_empty()
            && valid_encoded(&self.raw_fragment, Mode::Fragment)
            && unescape(&self.raw_fragment, Mode::Fragment).is_ok_and(|f| f == self.fragment)
        {
            return self.raw_fragment.clone();
        }
        escape(&self.fragment, Mode::Fragment)
    }

    /// Go's `URL.ResolveReference` of a reference with no scheme and no host (a relative path
    /// and a query, as go-github resolves `repos/<owner>/<repo>/...` against its base URL).
    pub fn resolve_relative(&self, reference: &Url) -> Url {
        let mut out = reference.clone();
        out.scheme = self.scheme.clone();
        if reference.path.is_empty() && !reference.force_query && reference.raw_query.is_empty() {
            out.raw_query = self.raw_query.clone();
            if reference.fragment.is_empty() {
                out.fragment = self.fragment.clone();
                out.raw_fragment = self.raw_fragment.clone();
            }
        }
        out.host = self.host.clone();
        out.user = self.user.clone();
        // Go ignores setPath's error: the resolved path is escaped already.
        let _ = out.set_path(&resolve_path(&self.escaped_path(), &reference.escaped_path()));
        out
    }
}

/// Go's `resolvePath`: `reference` merged onto `base`'s directory, dot segments removed.
fn resolve_path(base: &str, reference: &str) -> String {
    let full = if reference.is_empty() {
        base.to_string()
    } else if !reference.starts_with('/') {
        let dir = base.rfind('/').map_or("", |i| &base[..=i]);
        format!("{dir}{reference}")
    } else {
        reference.to_string()
    };
    if full.is_empty() {
        return String::new();
    }
    let mut dst = String::from("/");
    let mut elem = "";
    let mut first = true;
    for segment in full.split('/') {
        elem = segment;
        match segment {
            "." => first = false,
            ".." => {
                match dst[1..].rfind('/') {
                    Some(i) => dst.truncate(i + 1),
                    None => dst.truncate(1),
                }
                first = dst.len() == 1;
            }
            _ => {
                if !first {
                    dst.push('/');
                }
                dst.push_str(segment);
                first = false;
            }
        }
    }
    if elem == "." || elem == ".." {
        dst.push('/');
    }
    if dst.len() > 1 && dst.as_bytes()[1] == b'/' {
        dst.remove(0);
    }
    dst
}

fn split_host_port(host_port: &str) -> (&str, &str) {
    let mut host = host_port;
    let mut port = "";
    if let Some(colon) = host.rfind(':')
        && valid_optional_port(&host[colon..])
    {
        port = &host[colon + 1..];
        host = &host[..colon];
    }
    if host.starts_with('[') && host.ends_with(']') && host.len() >= 2 {
        host = &host[1..host.len() - 1];
    }
    (host, port)
}

impl std::fmt::Display for Url {
    /// Go's `URL.String`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            let authority = !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
            if authority && !omitted {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.push_str("//");
                }
                if let Some((name, password)) = &self.user {
                    buf.push_str(&escape(name, Mode::UserPassword));
                    if let Some(password) = password {
                        buf.push(':');
                        buf.push_str(&escape(password, Mode::UserPassword));
                    }
                    buf.push('@');
                }
                if !self.host.is_empty() {
                    buf.push_str(&escape(&self.host, Mode::Host));
                }
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() && path.split('/').next().is_some_and(|s| s.contains(':')) {
                buf.push_str("./");
            }
            buf.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&self.escaped_fragment());
        }
        f.write_str(&buf)
    }
}

/// Go's `parse(rawURL, viaRequest)`, its error not yet wrapped.
fn parse_inner(raw: &str, via_request: bool) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    if raw.is_empty() && via_request {
        return Err("empty url".to_string());
    }
    let mut url = Url::default();
    if raw == "*" {
        url.path = "*".to_string();
        return Ok(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest.to_string();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest.pop();
    } else if let Some((path, query)) = rest.clone().split_once('?') {
        rest = path.to_string();
        url.raw_query = query.to_string();
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest;
            return Ok(url);
        }
        if via_request {
            return Err("invalid URI for request".to_string());
        }
        if rest.split('/').next().is_some_and(|s| s.contains(':')) {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    if (!url.scheme.is_empty() || !via_request && !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], after[i..].to_string()),
            None => (after, String::new()),
        };
        let (user, host) = parse_authority(&url.scheme, authority)?;
        url.user = user;
        url.host = host;
        rest = path;
    } else if !url.scheme.is_empty() && rest.starts_with('/') {
        url.omit_host = true;
    }
    url.set_path(&rest)?;
    Ok(url)
}

/// Go's `url.Parse`: errors are Go's `*url.Error` text, `parse "<url>": <why>`.
pub fn parse(raw: &str) -> Result<Url, String> {
    let (u, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    let mut url = parse_inner(u, false).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
    if fragment.is_empty() {
        return Ok(url);
    }
    url.set_fragment(fragment).map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
    Ok(url)
}

/// Go's `url.ParseRequestURI` (no fragment; an absolute URL or an absolute path).
pub fn parse_request_uri(raw: &str) -> Result<Url, String> {
    parse_inner(raw, true).map_err(|e| format!("parse {}: {e}", go_quote(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_gos() {
        let u = parse("HTTPS://user:p%40ss@Chat.Example.com:8443/r%20c/x?a=1#f").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!((u.hostname(), u.port()), ("Chat.Example.com", "8443"));
        assert_eq!(u.path, "/r c/x");
        assert_eq!(u.escaped_path(), "/r%20c/x");
        assert_eq!(u.to_string(), "https://user:p%40ss@Chat.Example.com:8443/r%20c/x?a=1#f");
        let v6 = parse("http://[::1]:80/a").unwrap();
        assert_eq!((v6.hostname(), v6.port()), ("::1", "80"));
        assert_eq!(parse("::bad").unwrap_err(), "parse \"::bad\": missing protocol scheme");
        assert_eq!(
            parse("http://a\nb").unwrap_err(),
            "parse \"http://a\\nb\": net/url: invalid control character in URL"
        );
        assert_eq!(
            parse("http://x.com:abc/").unwrap_err(),
            "parse \"http://x.com:abc/\": invalid port \":abc\" after host"
        );
        assert_eq!(parse("http://a b/").unwrap_err(), "parse \"http://a b/\": invalid character \" \" in host name");
        assert_eq!(parse("http://x.com%2F/").unwrap_err(), "parse \"http://x.com%2F/\": invalid URL escape \"%2F\"");
        assert_eq!(parse("a:b/c").unwrap().opaque, "b/c");
        assert_eq!(parse("x:y").unwrap().scheme, "x");
        assert_eq!(parse("1a:b").unwrap_err(), "parse \"1a:b\": first path segment in URL cannot contain colon");
        assert_eq!(parse("http://[::1/").unwrap_err(), "parse \"http://[::1/\": missing ']' in host");
        assert_eq!(parse_request_uri("favicon.ico").unwrap_err(), "parse \"favicon.ico\": invalid URI for request");
        assert_eq!(
            parse("http://::1:80/").unwrap_err(),
            "parse \"http://::1:80/\": invalid port \"::1:80\" after host"
        );
    }

    #[test]
    fn references_resolve_as_gos() {
        let base = parse("https://ghe.example.com/api/v3/").unwrap();
        let r = parse("repos/o/r/statuses/a%2Fb").unwrap();
        assert_eq!(base.resolve_relative(&r).to_string(), "https://ghe.example.com/api/v3/repos/o/r/statuses/a%2Fb");
        let r = parse("repos/o/r/deployments?environment=prod&ref=abc").unwrap();
        assert_eq!(
            base.resolve_relative(&r).to_string(),
            "https://ghe.example.com/api/v3/repos/o/r/deployments?environment=prod&ref=abc"
        );
        let r = parse("repos/../r/x").unwrap();
        assert_eq!(base.resolve_relative(&r).to_string(), "https://ghe.example.com/api/v3/r/x");
        assert_eq!(path_escape("a b/c"), "a%20b%2Fc");
        assert_eq!(query_escape("a b/c"), "a+b%2Fc");
    }

    #[test]
    fn parts_and_quotes_are_gos() {
        // What aviary/grafana, aviary/newrelic and aviary/teams-workflows read of a URL.
        let url = parse("HTTPS://u:p@[::1]:8443/a%20b/c?x=1#f").unwrap();
        assert_eq!(
            (url.scheme.as_str(), url.host.as_str(), url.hostname(), url.path.as_str(), url.raw_query.as_str()),
            ("https", "[::1]:8443", "::1", "/a b/c", "x=1")
        );
        assert_eq!(url.user, Some(("u".to_string(), Some("p".to_string()))));
        assert_eq!(url.fragment, "f");
        assert_eq!(parse("://x").unwrap_err(), r#"parse "://x": missing protocol scheme"#);
        assert_eq!(parse("a:b/c").map(|u| u.scheme), Ok("a".to_string()), "an opaque URL has a scheme");
        assert_eq!(parse("1a:b/c").unwrap_err(), r#"parse "1a:b/c": first path segment in URL cannot contain colon"#);
        assert_eq!(parse("http://h/%4").unwrap_err(), r#"parse "http://h/%4": invalid URL escape "%4""#);
        // An error in the fragment quotes the whole URL; one before it, the URL without it.
        assert_eq!(parse("http://h/a#%/x").unwrap_err(), r#"parse "http://h/a#%/x": invalid URL escape "%/x""#);
        assert_eq!(parse("http://h:x/a#f").unwrap_err(), r#"parse "http://h:x/a": invalid port ":x" after host"#);
        assert_eq!(escape_path("/a b/é?#!*'()$&+,;=:@~"), "/a%20b/%C3%A9%3F%23%21%2A%27%28%29$&+,;=:@~");
        assert_eq!(go_quote("a\"\\\n\u{85}é"), r#""a\"\\\n\u0085é""#);
        assert_eq!(
            go_quote("\u{1}\u{7f}\u{a0}\u{ad}\u{2028}\u{feff}\u{e000}"),
            r#""\x01\x7f\u00a0\u00ad\u2028\ufeff\ue000""#
        );
        assert_eq!(go_quote("\u{e0001}😀 x"), r#""\U000e0001😀 x""#);
    }
}
