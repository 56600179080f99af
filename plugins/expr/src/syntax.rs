//! Go expr's wording of a syntax error, from expr-lang's.
//!
//! expr-lang's parser (pest) reports where it stopped and what it expected, over several lines;
//! Go's names the token it could not take: `unexpected token EOF`, `unexpected token
//! Operator("=")`, `literal not terminated`. Argo records Go's, so the token at the place pest
//! stopped is named as Go's lexer (`parser/lexer/state.go`) would name it. The two parsers stop
//! at the same token for the usual mistakes (a missing operand or bracket, `=` for `==`, an
//! unterminated string); where they do not, the message names another token of the same line.
//!
//! [`Syntax`] is the rest of Go's parser that matters to a condition: what it refuses of an AST
//! expr-lang accepts, and how the source spells the operators that have two spellings (Go's
//! messages say `&&` or `and` as written; expr-lang's AST does not keep which).

use std::collections::{HashMap, VecDeque};

use expr::Program;
use expr::Value as ExprValue;
use expr::ast::node::Node;
use expr::ast::operator::Operator;
use expr::ast::postfix_operator::PostfixOperator;
use expr::ast::unary_operator::UnaryOperator;

use crate::builtins::{Builtin, builtin};
use crate::check::{is_env, shorthand};

/// Go's message for the syntax error expr-lang reported as `error` on `source`.
pub(crate) fn message(source: &str, error: &str) -> String {
    if unterminated_string(source) {
        return "literal not terminated".into();
    }
    match offset(source, error) {
        Some(at) => format!("unexpected token {}", token(source.get(at..).unwrap_or_default())),
        None => error.trim().to_string(),
    }
}

/// Whether a string literal runs to the end of its line (Go's lexer fails on it first).
fn unterminated_string(source: &str) -> bool {
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => loop {
                match chars.next() {
                    None | Some('\n') => return true,
                    Some('\\') => {
                        chars.next();
                    }
                    Some(q) if q == c => break,
                    Some(_) => {}
                }
            },
            '`' if !chars.any(|q| q == '`') => return true,
            _ => {}
        }
    }
    false
}

/// The byte offset of pest's `--> line:column` (a 1-based column in characters).
fn offset(source: &str, error: &str) -> Option<usize> {
    let position = error.trim_start().strip_prefix("--> ")?.split_whitespace().next()?;
    let (line, column) = position.split_once(':')?;
    let (line, column): (usize, usize) = (line.parse().ok()?, column.parse().ok()?);
    let start: usize = source.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
    let rest = source.get(start..)?;
    let within = rest.char_indices().nth(column.checked_sub(1)?).map_or(rest.len(), |(i, _)| i);
    Some(start + within)
}

/// Go's `Token.String()` of the token `rest` starts with (after spaces).
fn token(rest: &str) -> String {
    let rest = rest.trim_start();
    let Some(first) = rest.chars().next() else { return "EOF".into() };
    let word = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$').collect::<String>();
    let (kind, value) = match first {
        '(' | ')' | '[' | ']' | '{' | '}' => ("Bracket", first.to_string()),
        '0'..='9' => {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')).unwrap_or(rest.len());
            ("Number", rest[..len].to_string())
        }
        c if c.is_alphabetic() || c == '_' || c == '$' => {
            let w = word(rest);
            let operator = matches!(
                w.as_str(),
                "not"
                    | "in"
                    | "or"
                    | "and"
                    | "matches"
                    | "contains"
                    | "startsWith"
                    | "endsWith"
                    | "let"
                    | "if"
                    | "else"
            );
            (if operator { "Operator" } else { "Identifier" }, w)
        }
        _ => {
            let two = rest.get(..2).unwrap_or_default();
            let double =
                matches!(two, "==" | "!=" | "<=" | ">=" | "&&" | "||" | "**" | "??" | "?." | ".." | "&=" | "*=" | "!*");
            ("Operator", if double { two.to_string() } else { first.to_string() })
        }
    };
    format!("{kind}({value:?})")
}

/// What Go's parser says of an AST expr-lang accepted (the few differences that matter to a
/// condition), and how the source spells the operators that have two spellings.
pub(crate) struct Syntax<'a> {
    /// The spelled operators of the source, in order, by family: `and`/`&&`, `or`/`||`, `not`/`!`,
    /// `**`/`^`; and for each `??`, whether its right operand starts with `(`.
    tokens: [VecDeque<&'a str>; 4],
    coalesce: VecDeque<bool>,
    spelling: HashMap<*const Node, &'a str>,
    /// How deep in predicates the walk is (`#` is only a token inside one).
    depth: usize,
    error: Option<String>,
}

const AND: usize = 0;
const OR: usize = 1;
const NOT: usize = 2;
const POW: usize = 3;

impl<'a> Syntax<'a> {
    pub(crate) fn new(source: &'a str) -> Syntax<'a> {
        let mut syntax = Syntax {
            tokens: Default::default(),
            coalesce: Default::default(),
            spelling: HashMap::new(),
            depth: 0,
            error: None,
        };
        syntax.scan(source);
        syntax
    }

    /// Lists the spelled operators of `source` in order, skipping strings and comments.
    fn scan(&mut self, source: &'a str) {
        let bytes = source.as_bytes();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'#';
        let mut i = 0;
        while i < bytes.len() {
            // Past a backslash in a string, `i` may be inside a character: move on to its end.
            let Some(rest) = source.get(i..) else {
                i += 1;
                continue;
            };
            match bytes[i] {
                q @ (b'"' | b'\'' | b'`') => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != q {
                        i += if bytes[i] == b'\\' && q != b'`' { 2 } else { 1 };
                    }
                    i += 1;
                    continue;
                }
                _ if rest.starts_with("//") => {
                    i += rest.find('\n').unwrap_or(rest.len());
                    continue;
                }
                _ if rest.starts_with("/*") => {
                    i += rest.find("*/").map_or(rest.len(), |e| e + 2);
                    continue;
                }
                b if word(b) => {
                    let len = rest.bytes().take_while(|b| word(*b)).count();
                    let w = &rest[..len];
                    match w {
                        "and" => self.tokens[AND].push_back(w),
                        "or" => self.tokens[OR].push_back(w),
                        "not" => {
                            // `not in` is one operator.
                            let after = rest[len..].trim_start();
                            let is_in = after.starts_with("in") && !after[2..].bytes().next().is_some_and(word);
                            if !is_in {
                                self.tokens[NOT].push_back(w);
                            }
                        }
                        _ => {}
                    }
                    i += len;
                    continue;
                }
                _ => {}
            }
            let (family, len) = if rest.starts_with("&&") {
                (Some(AND), 2)
            } else if rest.starts_with("||") {
                (Some(OR), 2)
            } else if rest.starts_with("**") {
                (Some(POW), 2)
            } else if rest.starts_with('^') {
                (Some(POW), 1)
            } else if rest.starts_with("!=") {
                (None, 2)
            } else if rest.starts_with('!') {
                (Some(NOT), 1)
            } else if let Some(after) = rest.strip_prefix("??") {
                self.coalesce.push_back(after.trim_start().starts_with('('));
                (None, 2)
            } else {
                (None, rest.chars().next().map_or(1, char::len_utf8))
            };
            if let Some(family) = family {
                self.tokens[family].push_back(&rest[..len]);
            }
            i += len;
        }
    }

    /// The first error Go's parser would report, or the operators' spellings.
    pub(crate) fn finish(self) -> Result<HashMap<*const Node, &'a str>, String> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.spelling),
        }
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    fn spell(&mut self, node: &Node, family: usize) {
        if let Some(token) = self.tokens[family].pop_front() {
            self.spelling.insert(node as *const Node, token);
        }
    }

    pub(crate) fn program(&mut self, program: &Program) {
        for (_, line) in program.lines() {
            self.node(line);
        }
        self.node(program.expr());
    }

    fn predicate(&mut self, program: &Program) {
        self.depth += 1;
        self.program(program);
        self.depth -= 1;
    }

    /// Walks `node` in source order.
    fn node(&mut self, node: &Node) {
        match node {
            Node::Ident(name) => {
                if name.starts_with('#') && self.depth == 0 {
                    self.fail("unexpected token Operator(\"#\")".into());
                }
            }
            Node::Value(_) => {}
            Node::Array(items) => items.iter().for_each(|i| self.node(i)),
            Node::Range(a, b) => {
                self.node(a);
                self.node(b);
            }
            Node::Unary { operator, node: operand } => {
                if matches!(operator, UnaryOperator::Not) {
                    self.spell(node, NOT);
                }
                self.node(operand);
            }
            Node::Operation { operator, left, right, .. } => {
                self.node(left);
                match operator {
                    Operator::And => self.spell(node, AND),
                    Operator::Or => self.spell(node, OR),
                    Operator::Pow => self.spell(node, POW),
                    _ => {}
                }
                self.node(right);
            }
            Node::Func { ident, args, predicate } => self.call(ident, args, predicate.as_deref(), false),
            Node::Postfix { operator, node: base } => {
                self.node(base);
                match operator {
                    PostfixOperator::Index { idx, .. } => self.node(idx),
                    PostfixOperator::Range { start, end } => {
                        [start, end].into_iter().flatten().for_each(|b| self.node(b))
                    }
                    PostfixOperator::Default(right) => {
                        let parenthesised = self.coalesce.pop_front().unwrap_or(true);
                        self.node(right);
                        // Go: `a ?? b > c` is refused (`(a ?? b) > c` and `a ?? (b > c)` are not).
                        if !parenthesised && let Node::Operation { .. } = right.as_ref() {
                            let op = self.first_operator(right);
                            self.fail(format!(
                                "Operator ({op}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses."
                            ));
                        }
                    }
                    PostfixOperator::Ternary { left, right } => {
                        self.node(left);
                        self.node(right);
                    }
                    PostfixOperator::Pipe(func) => match func.as_ref() {
                        Node::Func { ident, args, predicate } => self.call(ident, args, predicate.as_deref(), true),
                        other => self.node(other),
                    },
                    PostfixOperator::Method { args, .. } => args.iter().for_each(|a| self.node(a)),
                }
            }
            Node::Conditional { condition, consequent, alternative } => {
                self.node(condition);
                self.program(consequent);
                self.program(alternative);
            }
        }
    }

    /// The leftmost binary operator of an operation: the one that follows its first operand.
    fn first_operator(&self, node: &Node) -> String {
        match node {
            Node::Operation { left, operator, .. } => match left.as_ref() {
                Node::Operation { .. } => self.first_operator(left),
                _ => match operator {
                    Operator::And | Operator::Or | Operator::Pow => self
                        .spelling
                        .get(&(node as *const Node))
                        .map_or_else(|| operator.to_string(), |s| s.to_string()),
                    _ => operator.to_string(),
                },
            },
            _ => String::new(),
        }
    }

    fn call(&mut self, ident: &str, args: &[Node], predicate: Option<&Program>, piped: bool) {
        let bounds = if is_env(ident) {
            None
        } else {
            match builtin(ident) {
                Some(Builtin::Predicate(min, max)) => Some((min, max)),
                _ => None,
            }
        };
        // Source order: expr-lang keeps a predicate apart (reduce's in the middle).
        let split = match predicate {
            Some(_) if ident == "reduce" => args.len().min(1),
            Some(_) => args.len(),
            None => 0,
        };
        args[..split].iter().for_each(|a| self.node(a));
        if let Some(p) = predicate {
            match bounds {
                Some(_) => self.predicate(p),
                None if shorthand(p).is_some() && self.depth == 0 => {
                    self.fail("unexpected token Operator(\".\")".into());
                }
                None => self.program(p),
            }
        }
        for (i, arg) in args[split..].iter().enumerate() {
            // A predicate builtin's second argument is a predicate even without `#`.
            let second = bounds.is_some() && predicate.is_none() && i + split + usize::from(piped) == 1;
            if second {
                self.depth += 1;
                self.node(arg);
                self.depth -= 1;
            } else {
                self.node(arg);
            }
        }
        let Some((min, max)) = bounds else { return };
        let given = usize::from(piped) + args.len() + usize::from(predicate.is_some());
        let prefilled = usize::from(piped);
        if given < min {
            // Go counts the arguments its table lists for the builtin, optional ones included.
            let listed = match ident {
                "sortBy" | "reduce" => 3,
                _ => 2,
            };
            self.fail(format!("expected at least {} arguments", listed - prefilled));
        } else if given > max {
            let extra = args.len() - (given - max);
            if let Some(token) = args.get(extra).and_then(|a| self.first_token(a)) {
                self.fail(format!("unexpected token {token}"));
            }
        }
    }

    /// Go's token (`Kind("value")`) for the first token of `node`, when it can be told.
    fn first_token(&self, node: &Node) -> Option<String> {
        Some(match node {
            Node::Value(ExprValue::Integer(i)) => format!("Number(\"{i}\")"),
            Node::Value(ExprValue::String(s)) => format!("String({s:?})"),
            Node::Value(ExprValue::Bool(b)) => format!("Identifier(\"{b}\")"),
            Node::Value(ExprValue::Nil) => "Identifier(\"nil\")".into(),
            Node::Ident(name) if name.starts_with('#') => "Operator(\"#\")".into(),
            Node::Ident(name) | Node::Func { ident: name, .. } => format!("Identifier(\"{name}\")"),
            Node::Array(_) => "Bracket(\"[\")".into(),
            Node::Unary { operator, .. } => {
                let op = match operator {
                    UnaryOperator::Not => self.spelling.get(&(node as *const Node)).copied().unwrap_or("!"),
                    UnaryOperator::Positive => "+",
                    UnaryOperator::Negative => "-",
                };
                format!("Operator(\"{op}\")")
            }
            Node::Operation { left, .. } => return self.first_token(left),
            Node::Postfix { node, .. } => return self.first_token(node),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(source: &str) -> String {
        let error = expr::compile(source).expect_err("a syntax error").to_string();
        message(source, &error)
    }

    #[test]
    fn syntax_errors_name_gos_token() {
        assert_eq!(go("result =="), "unexpected token EOF");
        assert_eq!(go("result == 1)"), "unexpected token Bracket(\")\")");
        assert_eq!(go("result = 1"), "unexpected token Operator(\"=\")");
        assert_eq!(go("\"abc"), "literal not terminated");
    }
}
