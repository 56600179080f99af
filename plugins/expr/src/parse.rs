//! A fast path for `expr::compile` on the common subset of the expr grammar.
//!
//! `expr::compile` runs a pest PEG parser and then a Pratt pass over its pairs; for a condition as
//! small as `result[0] >= 0.95` that is ~17 µs natively and ~52 µs in Wasm, most of a condition's
//! budget, and every evaluation compiles afresh (a Wasm instance per call). This module parses the
//! conditions people actually write (identifiers, simple literals, member access, indexing, calls,
//! arrays, unary and binary operators) in one pass over the bytes and builds exactly the
//! `expr::Program` that `expr::compile` builds. Anything else, and anything it is not sure of,
//! goes to `expr::compile`, so behaviour (programs and error messages) is expr-lang's.
//!
//! How the grammar (third_party/expr-lang/src/expr.pest) is mirrored:
//!
//! - An operand is `prefix? term postfix*`: at most ONE prefix (`!!a` and `- -1` are errors), and
//!   `not` is the prefix whenever an operand starts with those three letters (`notes` is
//!   `not es`, `not(x)` is `not x`), because the PEG tries the prefix first and never backtracks.
//! - A term tries, in order, a call (`word (`), then literals, then an identifier: so `true(1)`
//!   is a call, but `truex` is the literal `true` followed by `x` (a syntax error: fallback) and
//!   `trueand x` is `true and x`.
//! - Operators are matched as literal prefixes in the grammar's order, so after an operand
//!   `android` is `and roid`, `orders` is `or ders`, `inner` is `in ner`, and `not in` needs
//!   whitespace between its words.
//! - The flat sequence of operands and operators is folded by a port of pest's Pratt algorithm
//!   with expr-lang's table (src/pratt.rs): `or` 40 < `and` 50 < comparisons, `in`, `not in`,
//!   `contains`, `startsWith`, `endsWith`, `matches` 60 < `+ -` 80 < prefix `! not` 90 <
//!   `* / %` 100 < prefix `+ -` 110 < `** ^` 120 (right-associative) < `.x` and `[i]` 140. So
//!   `!a + b` is `(!a) + b`, `!a * b` is `!(a * b)` and `-a ** 2` is `-(a ** 2)`.

use expr::Program;
use expr::Value;
use expr::ast::node::Node;
use expr::ast::operator::Operator;
use expr::ast::postfix_operator::PostfixOperator;
use expr::ast::unary_operator::UnaryOperator;

/// Compiles `expression` as `expr::compile` does, through the fast path when it covers the
/// expression: same `Program`, same errors (errors always come from `expr::compile`).
pub fn compile(expression: &str) -> Result<Program, expr::Error> {
    match fast(expression) {
        Some(program) => Ok(program),
        None => expr::compile(expression),
    }
}

/// The program `expr::compile(expression)` would build, or `None` when the expression is outside
/// the subset this parser is certain of (including every syntax error), for the caller to fall
/// back to `expr::compile`.
pub(crate) fn fast(expression: &str) -> Option<Program> {
    let mut parser = Parser { src: expression, bytes: expression.as_bytes(), pos: 0, depth: 0 };
    let node = parser.expr(0, true)?;
    parser.skip_ws();
    (parser.pos == parser.bytes.len()).then(|| Program::new(Vec::new(), node))
}

// expr-lang's Pratt precedences (pest gives the n-th `.op()` call 10 + 10n).
const OR: u32 = 40;
const AND: u32 = 50;
const COMPARE: u32 = 60;
const ADD: u32 = 80;
const NOT: u32 = 90;
const MULTIPLY: u32 = 100;
const SIGN: u32 = 110;
const POW: u32 = 120;
const POSTFIX: u32 = 140;

/// Nested expressions deeper than this fall back (keeps recursion, ours and the tree's drop, small).
const MAX_DEPTH: u32 = 64;

/// Whether expr-lang may turn a call's last argument into a predicate (`all(xs, # > 1)`; its
/// `accepts_predicate` list): such calls are left to `expr::compile`.
fn promotes_predicate(name: &str) -> bool {
    "all any one none map filter find findIndex findLast findLastIndex count sum reduce groupBy sortBy"
        .split(' ')
        .any(|f| f == name)
}

/// What follows an operand.
enum Next {
    /// Nothing this expression continues with: `)`, `]`, `,`, the end, or a syntax error that the
    /// caller detects by not finding its closing token.
    End,
    /// A binary operator, its precedence and its length in bytes.
    Infix(Operator, u32, usize),
    /// `[` of `a[i]`.
    Index,
    /// `.` of `a.b`.
    Member,
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// pest's Pratt `expr(rbp)`; `prefix` is false for the operand right after a prefix operator,
    /// which the grammar does not allow to have one of its own.
    fn expr(&mut self, rbp: u32, prefix: bool) -> Option<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut lhs = self.nud(prefix)?;
        loop {
            let next = self.next()?;
            let precedence = match next {
                Next::End => break,
                Next::Infix(_, precedence, _) => precedence,
                Next::Index | Next::Member => POSTFIX,
            };
            if precedence <= rbp {
                break;
            }
            lhs = self.led(lhs, next)?;
        }
        self.depth -= 1;
        Some(lhs)
    }

    /// An operand: a prefix operator applied to the rest, or a term.
    fn nud(&mut self, prefix: bool) -> Option<Node> {
        self.skip_ws();
        if prefix {
            let op = match self.peek()? {
                b'!' => Some((UnaryOperator::Not, NOT, 1)),
                b'+' => Some((UnaryOperator::Positive, SIGN, 1)),
                b'-' => Some((UnaryOperator::Negative, SIGN, 1)),
                _ if self.rest().starts_with(b"not") => Some((UnaryOperator::Not, NOT, 3)),
                _ => None,
            };
            if let Some((operator, precedence, len)) = op {
                self.pos += len;
                let node = self.expr(precedence - 1, false)?;
                return Some(Node::Unary { operator, node: Box::new(node) });
            }
        }
        self.term()
    }

    /// What follows an operand, without consuming it. `None` for what pest would parse as an
    /// operator outside the subset (`?:`, `??`, `?.`, `|`, `..`).
    fn next(&mut self) -> Option<Next> {
        self.skip_ws();
        let rest = self.rest();
        let Some(&first) = rest.first() else { return Some(Next::End) };
        // Postfix operators come first in the grammar (`postfix*` before the infix).
        match first {
            b'?' => return None,
            b'[' => return Some(Next::Index),
            // `a.b`, or `..` (a range), or a syntax error: `member` tells them apart.
            b'.' => return Some(Next::Member),
            b'|' if rest.get(1) != Some(&b'|') => return None,
            _ => {}
        }
        // The infix operators, in the grammar's order: the first literal that matches wins.
        const INFIX: [(&[u8], Operator, u32); 23] = [
            (b"**", Operator::Pow, POW),
            (b"^", Operator::Pow, POW),
            (b"*", Operator::Multiply, MULTIPLY),
            (b"/", Operator::Divide, MULTIPLY),
            (b"%", Operator::Modulo, MULTIPLY),
            (b"+", Operator::Add, ADD),
            (b"-", Operator::Subtract, ADD),
            (b"<=", Operator::LessThanOrEqual, COMPARE),
            (b">=", Operator::GreaterThanOrEqual, COMPARE),
            (b"<", Operator::LessThan, COMPARE),
            (b">", Operator::GreaterThan, COMPARE),
            (b"==", Operator::Equal, COMPARE),
            (b"!=", Operator::NotEqual, COMPARE),
            (b"&&", Operator::And, AND),
            (b"and", Operator::And, AND),
            (b"||", Operator::Or, OR),
            (b"or", Operator::Or, OR),
            // Atomic: `not`, one or more whitespace, `in` (see `not_in`).
            (b"not", Operator::NotIn, COMPARE),
            (b"in", Operator::In, COMPARE),
            (b"contains", Operator::Contains, COMPARE),
            (b"startsWith", Operator::StartsWith, COMPARE),
            (b"endsWith", Operator::EndsWith, COMPARE),
            (b"matches", Operator::Matches, COMPARE),
        ];
        for (literal, operator, precedence) in &INFIX {
            let len = match operator {
                Operator::NotIn => not_in(rest),
                _ => rest.starts_with(literal).then_some(literal.len()),
            };
            if let Some(len) = len {
                return Some(Next::Infix(operator.clone(), *precedence, len));
            }
        }
        Some(Next::End)
    }

    /// Applies an infix or postfix operator to `lhs`.
    fn led(&mut self, lhs: Node, next: Next) -> Option<Node> {
        match next {
            Next::End => Some(lhs),
            Next::Infix(operator, precedence, len) => {
                self.pos += len;
                // `**` and `^` are right-associative: pest parses their right side at one less.
                let rbp = if matches!(operator, Operator::Pow) { precedence - 1 } else { precedence };
                let rhs = self.expr(rbp, true)?;
                Some(operation(operator, lhs, rhs))
            }
            Next::Index => {
                self.pos += 1;
                let idx = self.nested(b']')?;
                let operator = PostfixOperator::Index { idx: Box::new(idx), optional: false };
                Some(Node::Postfix { operator, node: Box::new(lhs) })
            }
            Next::Member => {
                self.pos += 1;
                self.skip_ws();
                let name = self.ident()?;
                // `a.b(...)` is a method call.
                let after = self.pos;
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    return None;
                }
                self.pos = after;
                let idx = Box::new(Node::Value(Value::String(name.to_string())));
                let operator = PostfixOperator::Index { idx, optional: false };
                Some(Node::Postfix { operator, node: Box::new(lhs) })
            }
        }
    }

    /// A whole expression (its own pest `expr` pair) followed by `close`, which is consumed.
    fn nested(&mut self, close: u8) -> Option<Node> {
        let node = self.expr(0, true)?;
        self.skip_ws();
        self.expect(close)?;
        Some(node)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        self.pos += 1;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        self.src.get(start..self.pos)
    }

    /// A term (the operand without its prefix), in the grammar's order: `if`, a call, a literal,
    /// an identifier, an array, a map, a parenthesised expression.
    fn term(&mut self) -> Option<Node> {
        match self.peek()? {
            b'(' => {
                self.pos += 1;
                self.nested(b')')
            }
            b'[' => self.array(),
            b'"' | b'\'' => self.string(),
            b'0'..=b'9' => self.number(),
            b if is_ident_start(b) => self.word(),
            // `.5`, `{...}` maps, `#`, backtick strings, and anything else.
            _ => None,
        }
    }

    /// A term that starts with a word: a call, `true`/`false`/`nil`, or an identifier.
    fn word(&mut self) -> Option<Node> {
        let start = self.pos;
        let word = self.ident()?;
        if matches!(word, "if" | "else" | "let") {
            return None;
        }
        let after = self.pos;
        self.skip_ws();
        if self.peek() == Some(b'(') {
            if promotes_predicate(word) {
                return None;
            }
            self.pos += 1;
            let args = self.arguments()?;
            return Some(Node::Func { ident: word.to_string(), args, predicate: None });
        }
        self.pos = after;
        // Bytes literals: `b"..."`, `B'...'`.
        if matches!(word, "b" | "B") && matches!(self.peek(), Some(b'"' | b'\'')) {
            return None;
        }
        // Literals are tried before identifiers and are plain literals, not words: `truex` is
        // `true` then `x`.
        for (literal, value) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("nil", Value::Nil)] {
            if word.starts_with(literal) {
                self.pos = start + literal.len();
                return Some(Node::Value(value));
            }
        }
        Some(Node::Ident(word.to_string()))
    }

    /// A call's arguments after `(`, through `)`: plain expressions only (no predicates).
    fn arguments(&mut self) -> Option<Vec<Node>> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Some(args);
        }
        loop {
            self.skip_ws();
            // `.x` and `{...}` are predicates (and `.5` a number we leave to expr-lang).
            if matches!(self.peek(), Some(b'.' | b'{')) {
                return None;
            }
            args.push(self.expr(0, true)?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b')' => {
                    self.pos += 1;
                    return Some(args);
                }
                _ => return None,
            }
        }
    }

    /// An array literal after `[`: `[]`, `[a, b]`, `[a, b,]`.
    fn array(&mut self) -> Option<Node> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Some(Node::Array(items));
            }
            items.push(self.expr(0, true)?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(Node::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// A quoted string without escapes (expr-lang's value is then the text between the quotes).
    fn string(&mut self) -> Option<Node> {
        let quote = self.peek()?;
        let start = self.pos + 1;
        let len = self.bytes.get(start..)?.iter().position(|&b| b == quote || matches!(b, b'\\' | b'\r' | b'\n'))?;
        let end = start + len;
        if self.bytes.get(end) != Some(&quote) {
            return None;
        }
        self.pos = end + 1;
        Some(Node::Value(Value::String(self.src.get(start..end)?.to_string())))
    }

    /// A decimal integer (`digits`, fitting an i64) or float (`digits.digits`, `digits[.digits]e[+-]digits`).
    fn number(&mut self) -> Option<Node> {
        let start = self.pos;
        self.digits();
        let mut float = false;
        if self.peek() == Some(b'.') {
            match self.peek_at(1) {
                Some(b'0'..=b'9') => {
                    self.pos += 1;
                    self.digits();
                    float = true;
                }
                // `1..2` is an integer and a range (which `next` leaves to expr-lang).
                Some(b'.') => {}
                // `1.`, `1.e5`, `1.x`: leave to expr-lang.
                _ => return None,
            }
        }
        // An exponent only if complete: `1e` and `1endsWith` are the integer 1 then more.
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some(b'+' | b'-')));
            if self.peek_at(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1 + sign;
                self.digits();
                float = true;
            }
        }
        // `1_000`: digit separators are left to expr-lang.
        if self.peek() == Some(b'_') {
            return None;
        }
        let text = self.src.get(start..self.pos)?;
        if float {
            let value: f64 = text.parse().ok()?;
            value.is_finite().then_some(Node::Value(Value::Float(value)))
        } else {
            text.parse().ok().map(|value| Node::Value(Value::Integer(value)))
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

/// The length of a `not in` operator (`not`, whitespace, `in`) at the start of `rest`.
fn not_in(rest: &[u8]) -> Option<usize> {
    let after_not = rest.strip_prefix(b"not")?;
    let ws = after_not.iter().take_while(|&&b| is_ws(b)).count();
    (ws > 0 && after_not.get(ws..)?.starts_with(b"in")).then_some(3 + ws + 2)
}

/// A binary operation node, with the regex of `matches "literal"` compiled as expr-lang does.
fn operation(operator: Operator, left: Node, right: Node) -> Node {
    let compiled_regex = match (&operator, &right) {
        (Operator::Matches, Node::Value(Value::String(pattern))) => regex::Regex::new(pattern).ok(),
        _ => None,
    };
    Node::Operation { operator, left: Box::new(left), right: Box::new(right), compiled_regex }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn debug(program: &Program) -> String {
        format!("{program:?}")
    }

    /// The differential property: when the fast path answers, `expr::compile` succeeds with the
    /// same program; when `expr::compile` fails, the fast path does not answer.
    fn agrees(e: &str) -> Result<Option<String>, String> {
        let fast = fast(e).map(|p| debug(&p));
        match (&fast, expr::compile(e)) {
            (Some(f), Ok(p)) if *f == debug(&p) => Ok(fast),
            (Some(f), Ok(p)) => Err(format!("{e:?}: fast {f} != compile {}", debug(&p))),
            (Some(f), Err(err)) => Err(format!("{e:?}: fast {f} but compile fails: {err}")),
            (None, _) => Ok(None),
        }
    }

    /// Argo conditions: from lib.rs's tests, the reference's §4 and the Argo docs' usual shapes.
    const COMMON: &[&str] = &[
        "result[0] >= 0.95",
        "result[0] >= 10",
        "result[0] < 0.95",
        "len(result) == 0 || result[0] >= 0.95",
        "len(result) == 0 || isNaN(result[0])",
        "result.successRate > 0.9 && result.errors < 5",
        "asFloat(result) >= 90",
        "!(result < 1)",
        "not (result < 1)",
        "result == \"ok\"",
        "result == 'I am OK'",
        "result == '1'",
        "default(result, 0) < 3",
        "default(result, 0) < 1",
        "default(result[0], 0) < 1",
        "result in [1, 2]",
        "result not in [500, 503]",
        "result == true",
        "result == false",
        "true",
        "false",
        "1",
        "invalidVariable",
        "a == true",
        "2 in result",
        "result > 1",
        "result == 10",
        "result != 10",
        "result >= 0.9",
        "result < 0.9",
        "result >= 0.9 || isNaN(result)",
        "isInf(result)",
        "isNil(result)",
        "isNil(123)",
        "asInt(result) == 3",
        "asInt(result) == 42",
        "asInt(result) > 0",
        "asFloat(result) == 1.5",
        "asFloat(result) > 0",
        "max(result) < 100",
        "result.major == 1 and result.ok",
        "result.Status == 'Healthy' or result.Status == \"Progressing\"",
        "result.service_apdex.values.values[0] > 1",
        "result[0] >= 0.95 and result[1] < 5",
        "result.data.value * 100 >= 99.5",
        "result.errors / result.total < 0.01",
        "result[len(result) - 1] > 0",
        "-result[0] < 0 && +result[1] > 0",
        "result ** 2 ^ 0.5 >= 1",
        "result % 2 == 0",
        "result.name startsWith 'canary'",
        "result.name endsWith \"-v2\"",
        "result.name contains 'x'",
        "result.name matches '^v[0-9]+$'",
        "result.name matches '['",
        "1e3 <= result",
        "result >= 1.5e-3",
        "result != nil",
        "  result [ 0 ]\n>=\t0.95  ",
        "[1, 2,] == result",
        "len([]) == 0",
    ];

    /// Asserts that `e` takes the fast path and builds what `expr::compile` builds; returns that
    /// program's Debug text.
    fn assert_fast_path_matches(e: &str) -> String {
        let program = fast(e).unwrap_or_else(|| panic!("{e:?} fell back"));
        let expected = debug(&expr::compile(e).unwrap_or_else(|err| panic!("{e:?}: {err}")));
        assert_eq!(debug(&program), expected, "{e:?}");
        expected
    }

    #[test]
    fn common_conditions_take_the_fast_path_and_match_compile() {
        for e in COMMON {
            let expected = assert_fast_path_matches(e);
            assert_eq!(debug(&compile(e).unwrap()), expected, "{e:?}");
        }
    }

    /// Where pest's PEG does something surprising; the fast path must do the same.
    const KEYWORD_EDGES: &[&str] = &[
        "notes",              // `not es`
        "nothing == 1",       // `(not hing) == 1`
        "not(x)",             // prefix, not a call
        "!not(1)",            // after a prefix, `not(...)` is a call
        "a android",          // `a and roid`
        "a orders",           // `a or ders`
        "a inner",            // `a in ner`
        "a not  in b",        // not in with two spaces
        "a not\n\tin b",      // and other whitespace
        "a not inb",          // `a not in b`
        "trueand x",          // `true and x`
        "true(1)",            // a call named true
        "nil ()",             // a call named nil
        "x.truex",            // member names are plain identifiers
        "x.nilCount + x.if",  //
        "and1 + orx + in_",   // keyword-like identifiers in operand position
        "1endsWith 'x'",      // `1 endsWith 'x'`: 1e... is not an exponent
        "1.5endsWith 'x'",    //
        "0or 1",              // `0 or 1`, not an octal literal
        "1and2",              //
        "letx == 1",          // not a `let`
        "iffy",               // not an `if`
        "!a + b",             // `(!a) + b`
        "!a * b",             // `!(a * b)`
        "-a * b",             // `(-a) * b`
        "-a ** 2",            // `-(a ** 2)`
        "a ** -b ** c",       // `a ** (-(b ** c))`
        "not a == b",         // `(not a) == b`
        "a - -1",             //
        "a--1",               //
        "a * !b + c",         //
        "a<-1",               //
        "1 .x",               // an integer, then a member
        "1.5.x",              //
        "\"a\"in x",          //
        "'x' matches \"y\"",  //
        "$env.x",             //
        "\"é // {#;} /* `\"", // only strings may hold these
        "9223372036854775807",
        "00.5 + 007",
    ];

    #[test]
    fn keyword_and_operator_edges_parse_as_pest_parses_them() {
        for e in KEYWORD_EDGES {
            assert_fast_path_matches(e);
        }
    }

    /// Outside the subset (valid expr, left to expr::compile).
    const FALLBACK: &[&str] = &[
        "result > 0 ? true : false",
        "result ?? 0",
        "result?.x",
        "result?.[0]",
        "result | len() > 0",
        "1..3",
        "result[1:2]",
        "result[:2]",
        "{a: 1}",
        "let x = 1; x",
        "if true { 1 } else { 2 }",
        "if",
        "else",
        "let",
        "result.Name() == 'hi'",
        "result.Name () == 'hi'",
        "result // comment",
        "result /* comment */ > 1",
        "`raw`",
        "b\"bytes\"",
        "B'bytes'",
        "0x1F",
        "0o17",
        "0b101",
        "1_000",
        "1e1_0",
        ".5",
        "1.",
        "1.e5",
        "all(result, # > 10)",
        "all(result, {# > 1})",
        "all(result.x, {asFloat(.value) >= 9900})",
        "filter(result, true)",
        "count(result, true)",
        "sortBy(result, 1)",
        "f(.x)",
        "f(a, .x)",
        "f(.5)",
        "\"a\\\"b\"",
        "'it\\'s'",
        "'tab\\t'",
        "#",
        "# > 1",
    ];

    /// Syntax errors: the fast path must not turn them into programs.
    const MALFORMED: &[&str] = &[
        "",
        "   ",
        "result[",
        "1 +",
        "(",
        ")",
        "a)",
        "a]",
        "a b",
        "\"unterminated",
        "'unterminated",
        "\"a\nb\"",
        "1__0",
        "99999999999999999999",
        "9223372036854775808",
        "1e400",
        "1e",
        "1x",
        "!!a",
        "- -1",
        "not not a",
        "not",
        "truex",
        "nilCount",
        "trueValue",
        "falsey",
        "a notin b",
        "not in x",
        "f(a,)",
        "f(1 2)",
        "[,]",
        "[1 2]",
        "a ===b",
        "a = b",
        "a & b",
        "a.",
        "a.1",
        "a..",
        "a ! b",
        "result.Name(",
        "é",
        "a\u{a0}== 1",
    ];

    #[test]
    fn fallback_categories_and_syntax_errors_are_left_to_compile() {
        for e in FALLBACK {
            assert!(fast(e).is_none(), "{e:?} should fall back");
            assert!(expr::compile(e).is_ok(), "{e:?} is valid expr (fallback case, not a syntax error)");
        }
        for e in MALFORMED {
            assert!(fast(e).is_none(), "{e:?} should fall back");
            assert!(expr::compile(e).is_err(), "{e:?} is a syntax error");
            assert!(compile(e).is_err(), "{e:?}");
        }
    }

    #[test]
    fn deep_nesting_falls_back_without_overflowing() {
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(fast(&deep).is_none());
        let chain = vec!["2"; 500].join(" ** ");
        assert!(fast(&chain).is_none());
        let calls = format!("{}1{}", "f(".repeat(500), ")".repeat(500));
        assert!(fast(&calls).is_none());
        // Long flat chains are not deep.
        let flat = vec!["result[0]"; 500].join(" + ");
        assert!(fast(&flat).is_some());
    }

    // Generators for the differential tests: sentences of the subset grammar.

    /// Identifiers, many of them keyword-like: `notes` (operand start: `not es`), `android`, `in_`...
    const IDENTS: &str = "result a x_1 _ $env Result2 and1 notx in_ orx android inner orders notes nothing \
        contains2 matchesX startsWithA endsWith_ iff elsewhere letter b B e E not and or in";
    /// Member and function names may also be words that are literals or keywords elsewhere.
    const NAMES: &str = "x value truex nilCount trueValue falsey true nil if let else and not in matches b len \
        asFloat isNaN";
    const FUNCTIONS: &str = "len asFloat asInt isNaN isInf isNil default max truex nilCount true nil b f_1 lenx notx";
    const BINARY: &str = "or || and && == != < <= > >= in contains startsWith endsWith matches + - * / % ** ^";
    /// The words of a space-separated list.
    fn words(list: &'static str) -> Vec<&'static str> {
        list.split_whitespace().collect()
    }

    const PREFIX: &[&str] = &["!", "not", "-", "+"];
    const STRING_PIECES: &[&str] =
        &["a", " ", "é", "{", "}", "#", ";", ":", "//", "/*", "?", "|", "`", "$", "\t", "^v+"];

    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(&["", "", " ", " ", "  ", "\t", "\n", "\r\n"][..])
    }

    fn literal() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..1000).prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.unsigned_abs().min(i64::MAX as u64).to_string()),
            (0u32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
            (0u32..100, 0u32..100, prop::sample::select(&["e", "E", "e+", "e-", "E-"][..]), 0u32..300)
                .prop_map(|(a, b, e, x)| format!("{a}.{b}{e}{x}")),
            (1u32..100, 0u32..300).prop_map(|(a, x)| format!("{a}e{x}")),
            (prop::sample::select(&["\"", "'"][..]), prop::collection::vec(prop::sample::select(STRING_PIECES), 0..4))
                .prop_map(|(q, pieces)| format!("{q}{}{q}", pieces.concat())),
            Just("\"it's\"".to_string()),
            Just("'say \"hi\"'".to_string()),
            prop::sample::select(&["true", "false", "nil"][..]).prop_map(str::to_string),
        ]
    }

    /// Joins tokens with random whitespace, putting some between two word-ish tokens so that they
    /// stay two tokens.
    fn join(tokens: &[String], spaces: &[&str]) -> String {
        let mut out = String::new();
        for (i, token) in tokens.iter().enumerate() {
            let space = spaces.get(i).copied().unwrap_or("");
            let word = |b: u8| is_ident_char(b) || b == b'$';
            let needs = out.bytes().last().is_some_and(word) && token.bytes().next().is_some_and(word);
            out.push_str(if needs && space.is_empty() { " " } else { space });
            out.push_str(token);
        }
        out
    }

    /// A whole expression: `operand (op operand)*`, as tokens.
    fn expression() -> impl Strategy<Value = Vec<String>> {
        let leaf = prop_oneof![
            3 => literal().prop_map(|l| vec![l]),
            3 => prop::sample::select(words(IDENTS)).prop_map(|i| vec![i.to_string()]),
        ];
        leaf.prop_recursive(3, 48, 4, |inner| {
            let operand = (
                prop::option::weighted(0.25, prop::sample::select(PREFIX)),
                prop_oneof![
                    3 => prop::sample::select(words(IDENTS)).prop_map(|i| vec![i.to_string()]),
                    2 => literal().prop_map(|l| vec![l]),
                    2 => inner.clone().prop_map(|e| [vec!["(".to_string()], e, vec![")".to_string()]].concat()),
                    2 => (prop::sample::select(words(FUNCTIONS)), prop::collection::vec(inner.clone(), 0..3)).prop_map(
                        |(f, args)| {
                            let mut t = vec![f.to_string(), "(".to_string()];
                            for (i, arg) in args.into_iter().enumerate() {
                                if i > 0 {
                                    t.push(",".to_string());
                                }
                                t.extend(arg);
                            }
                            t.push(")".to_string());
                            t
                        }
                    ),
                    1 => (prop::collection::vec(inner.clone(), 0..3), any::<bool>()).prop_map(|(items, trailing)| {
                        let mut t = vec!["[".to_string()];
                        let n = items.len();
                        for (i, item) in items.into_iter().enumerate() {
                            if i > 0 {
                                t.push(",".to_string());
                            }
                            t.extend(item);
                        }
                        if trailing && n > 0 {
                            t.push(",".to_string());
                        }
                        t.push("]".to_string());
                        t
                    }),
                ],
                // Postfixes (not on number literals, where `1.x` would be the float `1.`).
                prop::collection::vec(
                    prop_oneof![
                        prop::sample::select(words(NAMES)).prop_map(|n| vec![".".to_string(), n.to_string()]),
                        inner.clone().prop_map(|e| [vec!["[".to_string()], e, vec!["]".to_string()]].concat()),
                    ],
                    0..3,
                ),
            )
                .prop_map(|(prefix, term, postfix)| {
                    let numeric = term.len() == 1 && term[0].starts_with(|c: char| c.is_ascii_digit());
                    let mut t: Vec<String> = prefix.map(str::to_string).into_iter().collect();
                    t.extend(term);
                    if !numeric {
                        t.extend(postfix.into_iter().flatten());
                    }
                    t
                });
            (
                operand.clone(),
                prop::collection::vec((prop::sample::select(words(BINARY)), any::<bool>(), operand), 0..4),
            )
                .prop_map(|(first, rest)| {
                    let mut t = first;
                    for (op, not_in, operand) in rest {
                        if op == "in" && not_in {
                            t.push("not in".to_string());
                        } else {
                            t.push(op.to_string());
                        }
                        t.extend(operand);
                    }
                    t
                })
        })
    }

    fn sentence() -> impl Strategy<Value = String> {
        (expression(), prop::collection::vec(ws(), 64)).prop_map(|(tokens, spaces)| join(&tokens, &spaces))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Every sentence of the subset takes the fast path and builds what `expr::compile` builds.
        #[test]
        fn subset_sentences_take_the_fast_path_and_match_compile(e in sentence()) {
            let expected = expr::compile(&e);
            // Keyword-like words can make a generated sentence invalid (`truex`): then no program.
            match expected {
                Ok(expected) => {
                    let program = fast(&e);
                    prop_assert!(program.is_some(), "{:?} fell back", e);
                    prop_assert_eq!(debug(&program.unwrap()), debug(&expected), "{:?}", e);
                }
                Err(_) => prop_assert!(fast(&e).is_none(), "{:?}: fast path accepted a syntax error", e),
            }
        }

        /// Near-misses: a subset sentence with one character deleted or inserted.
        #[test]
        fn mutated_sentences_never_disagree(
            e in sentence(),
            at in any::<prop::sample::Index>(),
            insert in prop::option::of(prop::sample::select(&[
                "(", ")", "[", "]", ",", ".", "!", "-", "*", "/", "=", "<", "?", ":", "|", "&", "{", "#", "'",
                "\"", "\\", " ", "_", "e", "x", "n", "0", "9", "é", ";", "`",
            ][..])),
        ) {
            let mut chars: Vec<char> = e.chars().collect();
            match insert {
                Some(s) => {
                    let at = at.index(chars.len() + 1);
                    chars.splice(at..at, s.chars());
                }
                None if !chars.is_empty() => {
                    chars.remove(at.index(chars.len()));
                }
                None => {}
            }
            let mutated: String = chars.into_iter().collect();
            if let Err(message) = agrees(&mutated) {
                prop_assert!(false, "{}", message);
            }
        }

        /// Random token soup, garbage included: the fast path never disagrees with `expr::compile`.
        #[test]
        fn random_token_soup_never_disagrees(
            tokens in prop::collection::vec(prop::sample::select(&[
                "result", "a", "x1", "_", "$", "#", "[", "]", "(", ")", "{", "}", ".", "..", ",", ":", ";", "?",
                "??", "?.", "|", "||", "&", "&&", "!", "!=", "=", "==", "<", "<=", ">", ">=", "+", "-", "*", "**",
                "^", "/", "//", "/*", "*/", "%", "0", "1", "07", "0x1", "0b1", "0o7", "1_0", "1.", ".5", "0.5",
                "1e5", "1e", "e", "E", "9999999999999999999", "\"", "'", "`", "\\", "\"x\"", "'y'", "b", "and",
                "or", "not", "in", "not in", "notin", "contains", "startsWith", "endsWith", "matches", "true",
                "false", "nil", "truex", "notx", "let", "if", "else", "len", "all", "filter", "é", "\u{a0}",
            ][..]), 0..12),
            spaces in prop::collection::vec(prop::sample::select(&["", "", " ", "\n", "\t", "\r"][..]), 12),
        ) {
            let e: String = tokens.iter().zip(&spaces).flat_map(|(t, s)| [*s, *t]).collect();
            if let Err(message) = agrees(&e) {
                prop_assert!(false, "{}", message);
            }
        }
    }
}
