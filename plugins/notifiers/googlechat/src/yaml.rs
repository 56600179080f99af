//! YAML as Argo's googlechat service reads a template's cards: `sigs.k8s.io/yaml` over go-yaml
//! v2, a YAML 1.1 reader. JSON is YAML, and so are the block mappings and sequences cards are
//! usually written in.
//!
//! The syntax is read by `yaml-rust2`'s event parser (a port of libyaml's scanner and parser,
//! as go-yaml v2 is); what go-yaml v2 decodes from those events into Go's `any` is done here:
//!
//! - Untagged plain scalars resolve with YAML 1.1's rules, as go-yaml v2's `resolve` does: `y`,
//!   `yes`, `on`, `true` (any of their usual cases) are `true`, `n`, `no`, `off`, `false` are
//!   `false`, `~` and `null` are null, integers in Go's base-prefixed syntax (`0x1F`, `0o17`,
//!   `017`, `0b101`, `_` ignored) are integers, `.inf`, `.nan` and
//!   `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` are floats, anything else (a date
//!   included) a string. Quoted and block scalars are strings.
//! - The tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq` and `!!map` are
//!   honoured; a local tag (`!x`) leaves a scalar a string, as go-yaml leaves it unresolved.
//! - Anchors and aliases, merge keys (`<<`, a mapping or a list of mappings, the explicit keys
//!   winning) and duplicate keys (the later one wins) are go-yaml v2's. Only the first document
//!   is read.
//! - In a flow collection a plain scalar ends at `?` in go-yaml v2 (YAML 1.1), so `{a: x?y}`
//!   is an error there; it is one here too (`yaml-rust2` reads YAML 1.2, where it is a string).
//!
//! Errors are go-yaml's words (`yaml: line 3: mapping values are not allowed in this context`:
//! libyaml's problem, without the context yaml-rust2 adds); their line numbers may differ.
//!
//! Not read (an error saying so): the `!!` tags other than those and `!!binary` (decoded) and
//! `!!timestamp` (its text, as go-yaml v2 gives it to `any`).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// How deep collections may nest (go-yaml allows 10000; the sandbox's stack asks for less):
/// deeper is `yaml: exceeded max depth of 200`.
pub const MAX_DEPTH: usize = 200;

/// A YAML node as go-yaml v2 decodes it into `any`.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~` or nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits Go's `int`.
    Int(i64),
    /// An integer over `int`'s range that fits `uint64`.
    Uint(u64),
    /// A float (NaN and the infinities included).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping: its entries in document order (a later duplicate key wins, as in go-yaml).
    Map(Vec<(Node, Node)>),
}

/// The prefix `!!` stands for.
const YAML_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A collection being read.
struct Frame {
    /// Its entries so far: items of a sequence, or keys and values of a mapping, alternating.
    items: Vec<Node>,
    /// Whether it is a mapping.
    map: bool,
    /// Whether it is a flow collection (`[...]`, `{...}`) or inside one.
    flow: bool,
    /// The column of a block collection (its keys' or its `-`s'), once known.
    column: Option<usize>,
    /// Its anchor (0: none).
    anchor: usize,
    /// For a mapping, which of its keys were merge keys (`<<`), by entry index.
    merges: Vec<usize>,
}

/// The last scalar read, until the next event says where its text ends: go-yaml checks the
/// blanks after a plain or block scalar for tabs that yaml-rust2 (YAML 1.2) takes as blanks.
#[derive(Clone, Copy)]
struct Pending {
    /// Where it starts (a block scalar: its first content).
    start: usize,
    /// Its style; `None` for the end of a flow collection.
    style: Option<TScalarStyle>,
    /// The indentation its lines must keep: go-yaml's `parser.indent + 1` for a plain scalar
    /// (the enclosing block collection's column plus one), the content's column for a block
    /// scalar.
    indent: usize,
    /// Whether it is inside a flow collection.
    flow: bool,
}

/// What the reader changed in the text to read YAML 1.1 where yaml-rust2 reads YAML 1.2.
#[derive(Default, Clone)]
struct Fixes {
    /// A tab after a value's `:` or inside a quoted scalar's line breaks, made a space (go-yaml
    /// takes both as blanks); the error to give if the tab was not inside a quoted scalar.
    tabs: Vec<(usize, bool, String)>,
    /// Plain `-` scalars in flow collections (`[a, -]`, a string in go-yaml), written `x` for
    /// yaml-rust2 and read back as `-`.
    dashes: Vec<usize>,
    /// A `:` ending a plain scalar before a flow indicator in a flow collection (`[x:]`: the
    /// string `x:` in go-yaml, where it is a value indicator in YAML 1.2), written `x` for
    /// yaml-rust2 and read back as `:`.
    colons: Vec<usize>,
}

/// The index in `text` of the first line (after `from`) whose indentation has a tab: in block
/// context go-yaml looks for the next token there and finds a tab.
fn token_tab(text: &[char], from: usize) -> Option<usize> {
    let rest = text.get(from..)?;
    let mut lines = rest.iter().enumerate().filter(|(_, c)| **c == '\n').map(|(i, _)| from + i + 1);
    lines.find(|&start| {
        let spaces = text[start..].iter().take_while(|&&c| c == ' ').count();
        text.get(start + spaces) == Some(&'\t')
    })
}

/// The index of the quote closing the quoted scalar whose opening quote is `text[0]`.
fn closing_quote(text: &[char], double: bool) -> Option<usize> {
    let mut i = 1;
    while let Some(&c) = text.get(i) {
        match c {
            '\\' if double => i += 2,
            '"' if double => return Some(i),
            '\'' if !double && text.get(i + 1) == Some(&'\'') => i += 2,
            '\'' if !double => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// How many times a text may be re-read after a fix.
const MAX_FIXES: usize = 64;

/// Reads the first document of `text`.
pub fn parse(text: &str) -> Result<Node, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut chars: Vec<char> = text.chars().collect();
    let mut fixes = Fixes::default();
    let mut first_error = None;
    for _ in 0..=MAX_FIXES {
        let source: String = chars.iter().collect();
        let mut reader = Reader {
            chars: &chars,
            fixes: &fixes,
            anchors: HashMap::new(),
            stack: Vec::new(),
            pending: None,
            quoted: Vec::new(),
        };
        let outcome = reader.read(&mut Parser::new_from_str(&source));
        let quoted = std::mem::take(&mut reader.quoted);
        match outcome {
            Ok(node) => {
                // A tab made a space must have been inside a quoted scalar, or after a `:`.
                for (at, in_quotes, error) in &fixes.tabs {
                    if *in_quotes && !quoted.iter().any(|(start, end)| start < at && at < end) {
                        return Err(error.clone());
                    }
                }
                return Ok(node);
            }
            Err(Failure::Fix(fix, error)) => {
                first_error.get_or_insert_with(|| error.clone());
                match fix {
                    Fix::Tab(at, in_quotes) => {
                        chars[at] = ' ';
                        fixes.tabs.push((at, in_quotes, error));
                    }
                    Fix::Dash(at) => {
                        chars[at] = 'x';
                        fixes.dashes.push(at);
                    }
                    Fix::Colon(at) => {
                        chars[at] = 'x';
                        fixes.colons.push(at);
                    }
                    Fix::Apostrophe(at) => {
                        chars.remove(at);
                        for fixed in fixes
                            .dashes
                            .iter_mut()
                            .chain(&mut fixes.colons)
                            .chain(fixes.tabs.iter_mut().map(|t| &mut t.0))
                        {
                            if *fixed > at {
                                *fixed -= 1;
                            }
                        }
                    }
                }
            }
            Err(Failure::Error(error)) => return Err(error),
        }
    }
    Err(first_error.unwrap_or_default())
}

/// A change to the text that lets yaml-rust2 read what go-yaml v2 reads.
enum Fix {
    /// Make the tab at this index a space; whether it must be inside a quoted scalar.
    Tab(usize, bool),
    /// Write the `-` at this index `x` (and read it back as `-`).
    Dash(usize),
    /// Write the `:` at this index `x` (and read it back as `:`).
    Colon(usize),
    /// Write the escape `\'` at this index (YAML 1.1's, not 1.2's) as the `'` it stands for.
    Apostrophe(usize),
}

/// Why a reading stopped.
enum Failure {
    /// An error in go-yaml's words.
    Error(String),
    /// yaml-rust2 stopped where go-yaml would not: read again after the fix (the error if the
    /// fix does not hold).
    Fix(Fix, String),
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Failure::Error(error)
    }
}

struct Reader<'a> {
    chars: &'a [char],
    fixes: &'a Fixes,
    anchors: HashMap<usize, Node>,
    stack: Vec<Frame>,
    pending: Option<Pending>,
    /// The spans of the quoted scalars read (from the opening quote to the next event).
    quoted: Vec<(usize, usize)>,
}

/// go-yaml's message for an error on `line` (1-based): `yaml: line N: <problem>`, or
/// `yaml: <problem>` on the first line.
fn on_line(line: usize, problem: &str) -> String {
    if line <= 1 { format!("yaml: {problem}") } else { format!("yaml: line {line}: {problem}") }
}

/// go-yaml's message for an error at `mark`.
fn at(mark: &Marker, problem: &str) -> String {
    on_line(mark.line(), problem)
}

/// go-yaml's words for one of yaml-rust2's errors: libyaml's problem without its context.
fn go_problem(info: &str) -> &str {
    match info {
        "simple key expect ':'" | "simple key expected" => "could not find expected ':'",
        "while parsing a flow sequence, expected ',' or ']'" => "did not find expected ',' or ']'",
        "invalid trailing content after double-quoted scalar" => "did not find expected key",
        "unexpected eof" => "found unexpected end of stream",
        "invalid indentation in quoted scalar" | "invalid indentation in flow construct" => {
            "did not find expected node content"
        }
        "did not find expected next token" | "tabs disallowed within this context (block indentation)" => {
            "found character that cannot start any token"
        }
        "while scanning a plain scalar, found a tab" => "found a tab character that violates indentation",
        "recursion limit exceeded" => "exceeded max depth of 200",
        info if info.starts_with("unexpected character: ") => "found character that cannot start any token",
        info => match info.split_once(", ") {
            Some((context, problem)) if context.starts_with("while ") => problem,
            _ => info,
        },
    }
}

impl Reader<'_> {
    /// The error (or the fix to try) for one of yaml-rust2's errors.
    fn scan_error(&mut self, e: &ScanError) -> Failure {
        let mark = e.marker();
        // A tab go-yaml would have stopped at first.
        if let Some(error) = self.settle(mark.index()) {
            return Failure::Error(error);
        }
        let at_index = |i: usize| self.chars.get(i).copied();
        let problem = match e.info() {
            "while parsing node, found unknown anchor" => {
                return Failure::Error(at(mark, &format!("unknown anchor '{}' referenced", self.name_at(mark))));
            }
            "':' must be followed by a valid YAML whitespace" if mark.index() > 0 => {
                if at_index(mark.index() - 1) == Some('\t') {
                    return Failure::Fix(Fix::Tab(mark.index() - 1, false), at(mark, "did not find expected key"));
                }
                "mapping values are not allowed in this context"
            }
            "tab cannot be used as indentation" if at_index(mark.index()) == Some('\t') => {
                return Failure::Fix(
                    Fix::Tab(mark.index(), true),
                    at(mark, "found character that cannot start any token"),
                );
            }
            "while parsing a quoted scalar, found unknown escape character" if at_index(mark.index()) == Some('"') => {
                let error = at(mark, "found unknown escape character");
                return match self.unknown_escape(mark.index()) {
                    Some(backslash) => Failure::Fix(Fix::Apostrophe(backslash), error),
                    None => Failure::Error(error),
                };
            }
            "plain scalar cannot start with '-' followed by ,[]{}" if at_index(mark.index()) == Some('-') => {
                return Failure::Fix(Fix::Dash(mark.index()), at(mark, "did not find expected node content"));
            }
            info => go_problem(info),
        };
        Failure::Error(at(mark, problem))
    }

    /// The name of the alias at `mark` (`*name`).
    fn name_at(&self, mark: &Marker) -> String {
        let rest = self.chars.get(mark.index()..).unwrap_or_default();
        let rest = rest.strip_prefix(&['*']).unwrap_or(rest);
        rest.iter().take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}')).collect()
    }

    /// The character at `mark`.
    fn char_at(&self, mark: &Marker) -> Option<char> {
        self.chars.get(mark.index()).copied()
    }

    /// The 1-based line of the character at `index`.
    fn line_of(&self, index: usize) -> usize {
        self.chars.get(..index).unwrap_or(self.chars).iter().filter(|&&c| c == '\n').count() + 1
    }

    /// Ends the pending token at `end` (the next event's or error's index): go-yaml's error for
    /// a tab in the indentation of the lines up to there, if there is one.
    fn settle(&mut self, end: usize) -> Option<String> {
        let pending = self.pending.take()?;
        let end = end.min(self.chars.len());
        let text = self.chars.get(pending.start..end).unwrap_or_default();
        let error = |reader: &Self, i: usize, problem: &str| Some(on_line(reader.line_of(pending.start + i), problem));
        let cannot_start = "found character that cannot start any token";
        let style = match pending.style {
            // After a flow collection (in block context).
            None => return token_tab(text, 1).and_then(|i| error(self, i, cannot_start)),
            Some(style) => style,
        };
        if matches!(style, TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted) {
            self.quoted.push((pending.start, end));
            let close = closing_quote(text, style == TScalarStyle::DoubleQuoted)?;
            if pending.flow {
                return None;
            }
            return token_tab(text, close + 1).and_then(|i| error(self, i, cannot_start));
        }
        let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
        for (i, &c) in text.iter().enumerate() {
            if !block {
                // Where go-yaml's plain scalar ends: a comment, a value indicator, a flow
                // indicator in a flow collection; the blanks after it are a token's.
                let next_blank = text.get(i + 1).is_none_or(|c| c.is_whitespace());
                let after_blank = i == 0 || text[i - 1].is_whitespace();
                if pending.flow && matches!(c, ',' | '?' | '[' | ']' | '{' | '}') {
                    return None;
                }
                if (c == '#' && after_blank) || (c == ':' && next_blank) {
                    return token_tab(text, i).and_then(|i| error(self, i, cannot_start));
                }
            }
            if c == '\n' {
                let spaces = text[i + 1..].iter().take_while(|&&c| c == ' ').count();
                if spaces < pending.indent && text.get(i + 1 + spaces) == Some(&'\t') {
                    return error(
                        self,
                        i + 1,
                        if block {
                            "found a tab character where an indentation space is expected"
                        } else {
                            "found a tab character that violates indentation"
                        },
                    );
                }
            }
        }
        None
    }

    /// The column a scalar at `mark` must keep on its next lines (see [`Pending::indent`]).
    fn plain_indent(&self) -> usize {
        self.stack.iter().rev().find(|f| !f.flow).and_then(|f| f.column).map_or(0, |c| c + 1)
    }

    fn read(&mut self, parser: &mut Parser<std::str::Chars<'_>>) -> Result<Node, Failure> {
        let mut root = None;
        loop {
            let (event, mark) = match parser.next_token() {
                Ok(next) => next,
                Err(e) => return Err(self.scan_error(&e)),
            };
            if let Some(error) = self.settle(mark.index()) {
                return Err(Failure::Error(error));
            }
            // A block collection's column is its first entry's.
            if let Some(frame) = self.stack.last_mut()
                && frame.column.is_none()
                && !frame.flow
                && !matches!(event, Event::SequenceEnd | Event::MappingEnd)
            {
                frame.column = Some(mark.col());
            }
            let map = matches!(event, Event::MappingStart(..));
            match event {
                Event::StreamEnd | Event::DocumentEnd => return Ok(root.unwrap_or(Node::Null)),
                Event::Nothing | Event::StreamStart | Event::DocumentStart => {}
                Event::Alias(id) => {
                    let node =
                        self.anchors.get(&id).cloned().ok_or_else(|| {
                            at(&mark, &format!("unknown anchor '{}' referenced", self.name_at(&mark)))
                        })?;
                    self.push(node, &mut root, &mark, false)?;
                }
                Event::Scalar(mut value, style, anchor, tag) => {
                    let flow = self.stack.last().is_some_and(|f| f.flow);
                    if style == TScalarStyle::Plain {
                        if self.fixes.dashes.contains(&mark.index()) {
                            value = "-".to_string();
                        }
                        if flow && let Some(fix) = self.restore_colons(mark.index(), &mut value) {
                            return Err(fix);
                        }
                    }
                    if style == TScalarStyle::Plain
                        && let Some(frame) = self.stack.iter().rev().find(|f| f.flow)
                        && value.contains('?')
                    {
                        // go-yaml v2 ends a plain scalar at `?` in a flow collection: what
                        // follows is a key indicator it does not expect there.
                        let problem = if value.starts_with('?') {
                            "did not find expected node content"
                        } else if frame.map {
                            "did not find expected ',' or '}'"
                        } else {
                            "did not find expected ',' or ']'"
                        };
                        return Err(Failure::Error(at(&mark, problem)));
                    }
                    if style == TScalarStyle::DoubleQuoted
                        && let Some(line) = self.slash_escape(mark.index())
                    {
                        return Err(Failure::Error(on_line(line, "found unknown escape character")));
                    }
                    let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                    if block && value.ends_with('\n') && self.ends_unbroken(parser, mark.index(), mark.col()) {
                        value.pop();
                    }
                    let indent = if block { mark.col() } else { self.plain_indent() };
                    self.pending = Some(Pending { start: mark.index(), style: Some(style), indent, flow });
                    let plain = style == TScalarStyle::Plain;
                    let merge = plain && tag.is_none() && value == "<<";
                    let node = scalar(value, plain, tag.as_ref(), &mark)?;
                    if anchor > 0 {
                        self.anchors.insert(anchor, node.clone());
                    }
                    self.push(node, &mut root, &mark, merge)?;
                }
                // A tag on a collection changes nothing in go-yaml v2's `any`.
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    if self.stack.len() == MAX_DEPTH {
                        return Err(Failure::Error(at(&mark, &format!("exceeded max depth of {MAX_DEPTH}"))));
                    }
                    let flow =
                        self.stack.last().is_some_and(|f| f.flow) || matches!(self.char_at(&mark), Some('[' | '{'));
                    let column = (!flow && !map).then(|| mark.col());
                    self.stack.push(Frame { items: Vec::new(), map, flow, column, anchor, merges: Vec::new() });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        return Err(Failure::Error(at(&mark, "internal: unbalanced events")));
                    };
                    let node = collection(frame.items, frame.map, &frame.merges, &mark)?;
                    if frame.anchor > 0 {
                        self.anchors.insert(frame.anchor, node.clone());
                    }
                    if frame.flow && !self.stack.last().is_some_and(|f| f.flow) {
                        self.pending = Some(Pending { start: mark.index(), style: None, indent: 0, flow: false });
                    }
                    self.push(node, &mut root, &mark, false)?;
                }
            }
        }
    }

    /// Puts back the `:`s [`Fixes::colons`] took out of the plain scalar `value` (of one line)
    /// starting at `start` in a flow collection; or the fix to make when it is followed by a `:`
    /// and a flow indicator, which go-yaml v2 reads as part of it.
    fn restore_colons(&self, start: usize, value: &mut String) -> Option<Failure> {
        let len = value.chars().count();
        let source = self.chars.get(start..start + len)?;
        if source.contains(&'\n') {
            return None;
        }
        for &at in &self.fixes.colons {
            if (start..start + len).contains(&at) {
                *value = value.chars().enumerate().map(|(i, c)| if start + i == at { ':' } else { c }).collect();
            }
        }
        let end = start + len;
        if self.chars.get(end) == Some(&':') && matches!(self.chars.get(end + 1), Some(',' | '[' | ']' | '{' | '}')) {
            return Some(Failure::Fix(
                Fix::Colon(end),
                on_line(self.line_of(end), "did not find expected node content"),
            ));
        }
        None
    }

    /// The index of the `\'` escape in the double-quoted scalar whose opening quote is at `start`
    /// if it is its first escape yaml-rust2 does not know (go-yaml knows it).
    fn unknown_escape(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        while let Some(&c) = self.chars.get(i) {
            match c {
                '"' => return None,
                '\\' => match self.chars.get(i + 1)? {
                    '0' | 'a' | 'b' | 't' | '\t' | 'n' | 'v' | 'f' | 'r' | 'e' | ' ' | '"' | '/' | '\\' | 'N' | '_'
                    | 'L' | 'P' | 'x' | 'u' | 'U' => i += 2,
                    '\'' => return Some(i),
                    _ => return None,
                },
                _ => i += 1,
            }
        }
        None
    }

    /// The line of a `\/` escape in the double-quoted scalar whose opening quote is at `start`
    /// (YAML 1.2's escape, unknown to go-yaml's YAML 1.1), if it has one.
    fn slash_escape(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        while let Some(&c) = self.chars.get(i) {
            match c {
                '"' => return None,
                '\\' if self.chars.get(i + 1) == Some(&'/') => return Some(self.line_of(i)),
                '\\' => i += 2,
                _ => i += 1,
            }
        }
        None
    }

    /// Whether the block scalar whose content starts at `start` (at column `indent`) runs to the
    /// end of a text that has no line break after it (the event after it is an end on the last
    /// line): go-yaml keeps only the breaks the text has, where yaml-rust2 ends a clipped or kept
    /// scalar with one.
    fn ends_unbroken(&self, parser: &mut Parser<std::str::Chars<'_>>, start: usize, indent: usize) -> bool {
        let Some(last_break) = self.chars.iter().rposition(|&c| c == '\n') else { return false };
        let last = &self.chars[last_break + 1..];
        let spaces = last.iter().take_while(|&&c| c == ' ').count();
        if start > self.chars.len() || spaces < indent || last.iter().all(|c| c.is_whitespace()) {
            return false;
        }
        matches!(
            parser.peek(),
            Ok((Event::MappingEnd | Event::SequenceEnd | Event::DocumentEnd | Event::StreamEnd, mark))
                if mark.index() > last_break
        )
    }

    /// Adds a finished node to the collection being read, or makes it the document's.
    fn push(&mut self, node: Node, root: &mut Option<Node>, mark: &Marker, merge: bool) -> Result<(), String> {
        match self.stack.last_mut() {
            Some(frame) => {
                if frame.map && frame.items.len() % 2 == 0 && merge {
                    frame.merges.push(frame.items.len() / 2);
                }
                frame.items.push(node);
                Ok(())
            }
            None if root.is_none() => {
                *root = Some(node);
                Ok(())
            }
            None => Err(at(mark, "did not find expected <document start>")),
        }
    }
}

/// go-yaml's short name of a tag: `!!str` for `tag:yaml.org,2002:str`, else the tag as written.
fn short_name(tag: &Tag) -> String {
    if tag.handle == YAML_TAG_PREFIX {
        format!("!!{}", tag.suffix)
    } else if tag.handle == "!" || tag.handle.is_empty() {
        format!("!{}", tag.suffix.trim_start_matches('!'))
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// A scalar as go-yaml v2 decodes it: an untagged plain one resolved, an untagged quoted or block
/// one a string, a tagged one resolved as its tag says.
fn scalar(value: String, plain: bool, tag: Option<&Tag>, mark: &Marker) -> Result<Node, String> {
    let Some(tag) = tag else { return Ok(if plain { resolve_plain(&value) } else { Node::Str(value) }) };
    let short = short_name(tag);
    match short.as_str() {
        // `!!str`, and a local tag, which go-yaml leaves unresolved: a string.
        // go-yaml v2 reads a timestamp into `any` as its text.
        "!!str" | "!!timestamp" => Ok(Node::Str(value)),
        "!!binary" => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(value.as_bytes()) {
                Ok(bytes) => Ok(Node::Str(String::from_utf8_lossy(&bytes).into_owned())),
                Err(_) => Err(format!(
                    "yaml: unmarshal errors:\n  line {}: !!binary value contains invalid base64 data",
                    mark.line()
                )),
            }
        }
        tag if !tag.starts_with("!!") => Ok(Node::Str(value)),
        "!!int" | "!!float" | "!!bool" | "!!null" => match (short.as_str(), resolve_plain(&value)) {
            ("!!int", n @ (Node::Int(_) | Node::Uint(_))) => Ok(n),
            ("!!float", Node::Int(i)) => Ok(Node::Float(i as f64)),
            ("!!float", Node::Uint(u)) => Ok(Node::Float(u as f64)),
            ("!!float", n @ Node::Float(_)) | ("!!bool", n @ Node::Bool(_)) | ("!!null", n @ Node::Null) => Ok(n),
            (tag, n) => Err(format!("yaml: cannot decode {} `{value}` as a {tag}", short_tag(&n))),
        },
        tag => Err(at(mark, &format!("the tag {tag} is not supported"))),
    }
}

/// A finished collection: a sequence's items, or a mapping's entries with its merge keys (the
/// entries at `merges`) replaced by what they merge, as go-yaml v2 merges them: a merged mapping
/// sets its keys over the entries before it, the entries after it set theirs over it, and of a
/// list of mappings the first one wins.
fn collection(items: Vec<Node>, map: bool, merges: &[usize], mark: &Marker) -> Result<Node, String> {
    if !map {
        return Ok(Node::Seq(items));
    }
    let mut entries = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    let mut index = 0;
    while let Some(key) = items.next() {
        let value = items.next().unwrap_or(Node::Null);
        if merges.contains(&index) {
            let wrong = || at(mark, "map merge requires map or sequence of maps as the value");
            match value {
                Node::Map(merged) => entries.extend(merged),
                Node::Seq(maps) => {
                    for map in maps.into_iter().rev() {
                        let Node::Map(merged) = map else { return Err(wrong()) };
                        entries.extend(merged);
                    }
                }
                _ => return Err(wrong()),
            }
        } else {
            entries.push((key, value));
        }
        index += 1;
    }
    Ok(Node::Map(entries))
}

/// Resolves a plain scalar as go-yaml v2's `resolve` does for an untagged one.
pub fn resolve_plain(text: &str) -> Node {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Node::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Node::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Node::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        // Go's ParseFloat of the text as it is.
        if let Some(f) = parse_go_float(text) {
            return Node::Float(f);
        }
        return Node::Str(text.to_string());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Node::Str(text.to_string());
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Node::Int(i);
    }
    if let Some(u) = parse_go_uint(&plain) {
        return Node::Uint(u);
    }
    if is_yaml_style_float(&plain)
        && let Some(f) = parse_go_float(&plain)
    {
        return Node::Float(f);
    }
    Node::Str(text.to_string())
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text: `None` for what it rejects, an overflow
/// included.
fn parse_go_float(s: &str) -> Option<f64> {
    if !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The magnitude of Go's base-0 integer syntax (`0x`, `0o`, `0b`, a leading `0` for octal),
/// without a sign.
fn parse_go_magnitude(s: &str) -> Option<u128> {
    let (digits, radix) = if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (rest, 16)
    } else if let Some(rest) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (rest, 8)
    } else if let Some(rest) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (rest, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = i128::try_from(parse_go_magnitude(rest)?).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign).
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.starts_with(['+', '-']) {
        return None;
    }
    u64::try_from(parse_go_magnitude(s)?).ok()
}

/// go-yaml's short tag of a resolved scalar.
fn short_tag(node: &Node) -> &'static str {
    match node {
        Node::Null => "!!null",
        Node::Bool(_) => "!!bool",
        Node::Int(_) | Node::Uint(_) => "!!int",
        Node::Float(_) => "!!float",
        Node::Str(_) => "!!str",
        Node::Seq(_) => "!!seq",
        Node::Map(_) => "!!map",
    }
}
