//! Go's `encoding/json`, as far as a notifier that re-encodes JSON needs it: decoding rendered
//! JSON text into Go's `any` (numbers are `float64`, objects are maps) with Go's syntax error
//! messages, and encoding values back as `json.Marshal` writes them (map keys sorted, `<`, `>`
//! and `&` escaped, numbers in Go's float format). The services this crate ports decode a
//! template's JSON and send it re-encoded: these are the bytes they send.
//!
//! The SDK's `go_json` writes a serde value with Go's string escapes; re-encoding decoded JSON
//! also needs Go's decoding (every number a `float64`, Go's error messages) and Go's number
//! format (`1e+21`, `100000000000000000000`), hence this module, shared by the notifiers that
//! re-encode a template's JSON (`aviary/teams`, `aviary/mattermost`). [`decode_stream`] reads a
//! service's answer as a Go client's `json.Decoder` does; `notifier::gostruct` decodes into and
//! encodes Go structs on top of this module. Feature `notifier`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A JSON value as Go decodes it into `any`. Objects keep their keys in document order, with
/// duplicates (Go's map keeps the last one; [`write()`] does too); numbers keep their text, which
/// [`number`] reads as Go's `float64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: its members in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// What Go's `UnmarshalTypeError` calls a value of this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Go's first error decoding this value into `any`: a number out of `float64`'s range
    /// (`json: cannot unmarshal number 1e400 into Go value of type float64`), in document order.
    pub fn check_any(&self) -> Result<(), String> {
        match self {
            Value::Number(text) => number(text).map(|_| ()),
            Value::Array(items) => items.iter().try_for_each(Value::check_any),
            Value::Object(members) => members.iter().try_for_each(|(_, v)| v.check_any()),
            _ => Ok(()),
        }
    }
}

/// A number's text as Go's `float64`: `strconv.ParseFloat`, an overflow being Go's decode error.
pub fn number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err(format!("json: cannot unmarshal number {text} into Go value of type float64")),
    }
}

/// Decodes `text` as a JSON array of values of type `elem` (Go's name of it), as
/// `json.Unmarshal(text, &[]elem)` does: `None` for `null`, each element checked with `check`
/// (`Err` with Go's message for a value the element type cannot hold); `array` is Go's name of
/// the slice type. Syntax errors are Go's (`invalid character 'x' after array element`,
/// `unexpected end of JSON input`), and come before any type error, as in Go.
pub fn decode_array(
    text: &str,
    array: &str,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<Option<Vec<Value>>, String> {
    match parse(text)? {
        Value::Null => Ok(None),
        Value::Array(items) => {
            for item in &items {
                check(item)?;
            }
            Ok(Some(items))
        }
        other => Err(format!("json: cannot unmarshal {} into Go value of type {array}", other.kind())),
    }
}

/// An element check for [`decode_array`]: a `map[string]any` (named `name` in messages), which
/// takes an object or `null`.
pub fn check_map(name: &str) -> impl Fn(&Value) -> Result<(), String> + '_ {
    move |value| match value {
        Value::Null => Ok(()),
        Value::Object(_) => value.check_any(),
        other => Err(format!("json: cannot unmarshal {} into Go value of type {name}", other.kind())),
    }
}

/// How deep arrays and objects may nest (Go allows 10000; the sandbox's stack asks for less):
/// deeper is Go's `invalid character '[' exceeded max depth`.
pub const MAX_DEPTH: usize = 1000;

/// Parses JSON text with Go's grammar and Go's syntax error messages.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser { bytes: text.as_bytes(), at: 0, depth: 0 };
    parser.skip_space();
    let value = parser.value("looking for beginning of value")?;
    parser.skip_space();
    match parser.peek() {
        None => Ok(value),
        Some(c) => Err(invalid(c, "after top-level value")),
    }
}

/// Go's `json.NewDecoder(body).Decode(&v)`, as a Go client reads a service's answer: the first
/// JSON value of the body (what follows it is not read), `None` for a body of only white space
/// (Go's `EOF`), Go's syntax errors (a value cut short is `unexpected EOF`).
pub fn decode_stream(body: &[u8]) -> Result<Option<Value>, String> {
    let text = String::from_utf8_lossy(body);
    if text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')).is_empty() {
        return Ok(None);
    }
    match parse(&text) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e == "unexpected end of JSON input" => Err("unexpected EOF".to_string()),
        Err(e) if e.ends_with("after top-level value") => text
            .get(..first_value_end(&text))
            .map_or_else(|| Err(e), parse)
            .map(Some)
            .map_err(|e| e.replace("unexpected end of JSON input", "unexpected EOF")),
        Err(e) => Err(e),
    }
}

/// The end of the first JSON value of `text` (which Go's scanner accepts as a prefix).
fn first_value_end(text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    while i < b.len() {
        let c = b[i];
        i += 1;
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
                if depth == 0 {
                    return i;
                }
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' if depth == 0 => return i - 1,
            _ => {}
        }
    }
    b.len()
}

/// `invalid character 'x' <context>`, the character quoted as Go's `quoteChar` does.
fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

/// Go's `quoteChar`: a byte of the input in single quotes, escaped as `strconv.Quote` escapes
/// the character of that code point.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x07 => r"'\a'".to_string(),
        0x08 => r"'\b'".to_string(),
        0x0c => r"'\f'".to_string(),
        b'\n' => r"'\n'".to_string(),
        b'\r' => r"'\r'".to_string(),
        b'\t' => r"'\t'".to_string(),
        0x0b => r"'\v'".to_string(),
        b'\\' => r"'\\'".to_string(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        c if (0x80..=0xa0).contains(&c) || c == 0xad => format!("'\\u{:04x}'", c),
        c => format!("'{}'", char::from(c)),
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

const END: &str = "unexpected end of JSON input";

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A value; `context` names what an unexpected first character was looked for as.
    fn value(&mut self, context: &str) -> Result<Value, String> {
        match self.peek() {
            None => Err(END.to_string()),
            Some(c @ (b'{' | b'[')) => {
                if self.depth == MAX_DEPTH {
                    return Err(invalid(c, "exceeded max depth"));
                }
                self.depth += 1;
                let value = if c == b'{' { self.object() } else { self.array() };
                self.depth -= 1;
                value
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(c) => Err(invalid(c, context)),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        for (i, expected) in word.bytes().enumerate() {
            match self.peek() {
                None => return Err(END.to_string()),
                Some(c) if c == expected => self.at += 1,
                Some(c) => {
                    return Err(invalid(
                        c,
                        &format!("in literal {word} (expecting {})", quote_char(word.as_bytes()[i])),
                    ));
                }
            }
        }
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(invalid(c, "in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b'0'..=b'9') => self.digits(),
                Some(c) => return Err(invalid(c, "after decimal point in numeric literal")),
            };
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b'0'..=b'9') => self.digits(),
                Some(c) => return Err(invalid(c, "in exponent of numeric literal")),
            };
        }
        Ok(Value::Number(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.peek().ok_or_else(|| END.to_string())?;
            let d = char::from(c).to_digit(16).ok_or_else(|| invalid(c, r"in \u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.at += 1;
        }
        Ok(v)
    }

    /// A string, its escapes decoded as Go's `unquote` does (an unpaired surrogate is U+FFFD).
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| END.to_string())?;
            match c {
                b'"' => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.at += 1;
                    let e = self.peek().ok_or_else(|| END.to_string())?;
                    self.at += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        other => return Err(invalid(other, "in string escape code")),
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let first = self.hex4()?;
                    let mut ch = char::from_u32(first);
                    if (0xd800..0xe000).contains(&first) {
                        ch = None;
                        if first < 0xdc00 && self.bytes[self.at..].starts_with(b"\\u") {
                            let save = self.at;
                            self.at += 2;
                            match self.hex4() {
                                Ok(second) if (0xdc00..0xe000).contains(&second) => {
                                    ch = char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00));
                                }
                                _ => self.at = save,
                            }
                        }
                    }
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.unwrap_or('\u{fffd}').encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                c => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.at += 1;
        self.skip_space();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value("looking for beginning of value")?);
            self.skip_space();
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                Some(c) => return Err(invalid(c, "after array element")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.at += 1;
        self.skip_space();
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b'"') => {}
                Some(c) => return Err(invalid(c, "looking for beginning of object key string")),
            }
            let key = self.string()?;
            self.skip_space();
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b':') => self.at += 1,
                Some(c) => return Err(invalid(c, "after object key")),
            }
            self.skip_space();
            members.push((key, self.value("looking for beginning of value")?));
            self.skip_space();
            match self.peek() {
                None => return Err(END.to_string()),
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                Some(c) => return Err(invalid(c, "after object key:value pair")),
            }
        }
    }
}

/// Writes `value` as Go's `json.Marshal` writes the `any` it decodes to. Numbers must have been
/// checked ([`Value::check_any`]); one that is not a finite `float64` is written as `null`.
pub fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(text) => match number(text) {
            Ok(f) => write_float(out, f),
            Err(_) => out.push_str("null"),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let sorted: BTreeMap<&str, &Value> = members.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write(out, item);
            }
            out.push('}');
        }
    }
}

/// Writes a string as Go's `json.Marshal` does: `"` and `\` escaped, `\b \f \n \r \t`, other
/// control characters as `\u00XX`, and `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a `float64` as Go's `json.Marshal` does: the shortest decimal that reads back the
/// same, in plain notation, or in exponent notation (`1e+21`, `1e-7`) below 1e-6 and from 1e21.
pub fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        match exponent.strip_prefix('-') {
            Some(negative) => {
                let _ = write!(out, "{mantissa}e-{negative}");
            }
            None => {
                let _ = write!(out, "{mantissa}e+{exponent:0>2}");
            }
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// [`write()`] into a new string.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn answers_decode_as_gos_decoder_reads_them() {
        assert_eq!(decode_stream(b" \n"), Ok(None));
        assert_eq!(decode_stream(br#"{"a":1} trailing"#), parse(r#"{"a":1}"#).map(Some));
        assert_eq!(decode_stream(b"[1]]"), parse("[1]").map(Some));
        assert_eq!(decode_stream(br#""x\"y"z"#), parse(r#""x\"y""#).map(Some));
        assert_eq!(decode_stream(b"12 34"), Ok(Some(Value::Number("12".to_string()))));
        assert_eq!(decode_stream(br#"{"a":"#).unwrap_err(), "unexpected EOF");
        assert_eq!(decode_stream(b"[1,]x").unwrap_err(), "invalid character ']' looking for beginning of value");
        assert_eq!(decode_stream(b"nope").unwrap_err(), "invalid character 'o' in literal null (expecting 'u')");
    }

    #[test]
    fn syntax_errors_are_gos() {
        // The messages Go 1.26's encoding/json gives for the same input.
        assert_eq!(err(r#"[{"a" 1}]"#), "invalid character '1' after object key");
        assert_eq!(err(r#"[{"a":1 x}]"#), "invalid character 'x' after object key:value pair");
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(err("[] x"), "invalid character 'x' after top-level value");
        assert_eq!(err("[tru]"), "invalid character ']' in literal true (expecting 'e')");
        assert_eq!(err("[\"a\nb\"]"), r"invalid character '\n' in string literal");
        assert_eq!(err("[01]"), "invalid character '1' after array element");
        assert_eq!(err("[1.]"), "invalid character ']' after decimal point in numeric literal");
        assert_eq!(err("[1e]"), "invalid character ']' in exponent of numeric literal");
        assert_eq!(err("[{'a':1}]"), r"invalid character '\'' looking for beginning of object key string");
        assert_eq!(err(r#"["\x"]"#), "invalid character 'x' in string escape code");
        assert_eq!(err(r#"["\u12g4"]"#), r"invalid character 'g' in \u hexadecimal character escape");
        assert_eq!(err("é"), "invalid character 'Ã' looking for beginning of value");
        assert_eq!(err("[1,]"), "invalid character ']' looking for beginning of value");
        assert_eq!(err(r#"{"a":1,}"#), "invalid character '}' looking for beginning of object key string");
        assert_eq!(err("[-]"), "invalid character ']' in numeric literal");
        assert_eq!(err("[{"), "unexpected end of JSON input");
        assert_eq!(err("  "), "unexpected end of JSON input");
        assert_eq!(err("\u{1}"), r"invalid character '\x01' looking for beginning of value");
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert_eq!(err(&deep(MAX_DEPTH + 1)), "invalid character '[' exceeded max depth");
    }

    #[test]
    fn strings_decode_as_go_unquotes_them() {
        let v = parse(r#""\ud83d\ude00\ud800x\u00e9\/\n""#).unwrap();
        assert_eq!(v, Value::String("😀\u{fffd}xé/\n".into()));
        let v = parse(r#""\udc00\ud800\u0041""#).unwrap();
        assert_eq!(v, Value::String("\u{fffd}\u{fffd}A".into()));
    }

    #[test]
    fn values_are_written_as_go_marshals_them() {
        let v = parse(r#"{"z":1,"a":{"y":2,"b":1e-7,"c":12345678901234567890,"d":0.1,"e":-0,"f":1e20,"g":[null,"<x>"]},"a":true}"#)
            .unwrap();
        assert_eq!(to_string(&v), r#"{"a":true,"z":1}"#);
        let v =
            parse(r#"{"z":1,"a":{"y":2,"b":1e-7,"c":12345678901234567890,"d":0.1,"e":-0,"f":1e20,"g":[null,"<x>"]}}"#)
                .unwrap();
        assert_eq!(
            to_string(&v),
            r#"{"a":{"b":1e-7,"c":12345678901234567000,"d":0.1,"e":-0,"f":100000000000000000000,"g":[null,"\u003cx\u003e"],"y":2},"z":1}"#
        );
        let floats = parse(
            "[0.1,1e-6,1e-7,123456789e-15,9007199254740993,1E+2,-1.5e-10,5e-324,1.7976931348623157e308,\
             0.30000000000000004,100,1e21,999999999999999999999]",
        )
        .unwrap();
        assert_eq!(
            to_string(&floats),
            "[0.1,0.000001,1e-7,1.23456789e-7,9007199254740992,100,-1.5e-10,5e-324,1.7976931348623157e+308,\
             0.30000000000000004,100,1e+21,1e+21]"
        );
        let mut s = String::new();
        write_string(&mut s, "a <b> & \"c\"\n\t\u{1}\u{2028} é\u{8}\u{c}\r\\");
        assert_eq!(s, r#""a \u003cb\u003e \u0026 \"c\"\n\t\u0001\u2028 é\b\f\r\\""#);
    }

    #[test]
    fn arrays_decode_with_gos_type_errors() {
        let maps = |text: &str| decode_array(text, "[]map[string]interface {}", check_map("map[string]interface {}"));
        assert_eq!(maps("null").unwrap(), None);
        assert_eq!(maps("[null, {}]").unwrap(), Some(vec![Value::Null, Value::Object(Vec::new())]));
        assert_eq!(
            maps("{}").unwrap_err(),
            "json: cannot unmarshal object into Go value of type []map[string]interface {}"
        );
        assert_eq!(
            maps("[1]").unwrap_err(),
            "json: cannot unmarshal number into Go value of type map[string]interface {}"
        );
        assert_eq!(
            maps(r#"[{"a":1e400}, 1]"#).unwrap_err(),
            "json: cannot unmarshal number 1e400 into Go value of type float64"
        );
        assert_eq!(maps("[1, {]").unwrap_err(), "invalid character ']' looking for beginning of object key string");
    }
}
