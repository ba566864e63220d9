//! Text to syntax tree: the pest grammar (`grammar.pest`) plus a Pratt
//! parser for operator precedence.
//!
//! Everything here is about syntax; names are resolved by the compiler.
//! Bracket steps are captured as raw text by the grammar and classified
//! here: a literal index or name is a singular step (a direct lookup), a
//! computed key is a dynamic step, anything else (wildcards, slices,
//! filters, unions) is a JSONPath query step handed to the RFC 9535 engine.

use std::sync::OnceLock;

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use rust_decimal::Decimal;

use crate::ast::{BinaryOp, Expr, ExprKind, Path, Root, Segment, SegmentKind, Span, UnaryOp};
use crate::error::{Code, CompileError};
use crate::value::{Number, Value};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::pipe, Assoc::Left))
            .op(Op::infix(Rule::coalesce, Assoc::Right))
            .op(Op::infix(Rule::or, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::prefix(Rule::not))
            .op(Op::infix(Rule::eq, Assoc::Left)
                | Op::infix(Rule::ne, Assoc::Left)
                | Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left)
                | Op::infix(Rule::div, Assoc::Left)
                | Op::infix(Rule::rem, Assoc::Left))
            .op(Op::prefix(Rule::neg))
    })
}

/// Longest expression text accepted (keeps the recursive parser's stack
/// bounded on hostile input).
pub const MAX_EXPR_LEN: usize = 64 * 1024;
/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_NESTING: usize = 64;

/// Parses an expression into its syntax tree.
pub fn parse(text: &str) -> Result<Expr, CompileError> {
    if text.len() > MAX_EXPR_LEN {
        return Err(CompileError::new(
            Code::Syntax,
            Span::new(0, 0),
            format!("expression is longer than {MAX_EXPR_LEN} bytes"),
        ));
    }
    check_nesting(text)?;
    if text.trim().is_empty() {
        return Err(CompileError::new(Code::Syntax, Span::new(0, text.len()), "empty expression")
            .hint("write an expression such as $.id, or null for no value"));
    }
    let mut pairs = Grammar::parse(Rule::program, text).map_err(|e| syntax_error(text, e))?;
    let program =
        pairs.next().ok_or_else(|| CompileError::new(Code::Syntax, Span::new(0, text.len()), "empty expression"))?;
    let expr = program
        .into_inner()
        .next()
        .ok_or_else(|| CompileError::new(Code::Syntax, Span::new(0, 0), "empty expression"))?;
    build_expr(expr.into_inner())
}

/// Most operators in one expression. Each operator can add a level to the
/// syntax tree, and the parser, compiler and evaluator recurse over it, so
/// this bounds their stack use on hostile input.
pub const MAX_OPERATORS: usize = 512;

/// Rejects pathological nesting and operator chains before the recursive
/// parser sees them.
fn check_nesting(text: &str) -> Result<(), CompileError> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut operators = 0usize;
    for (i, c) in text.char_indices() {
        let word = |w: &str| {
            text[i..].starts_with(w)
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
                && !text[i + w.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        };
        if matches!(c, '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '!' | '?' | '|')
            || word("not")
            || word("and")
            || word("or")
        {
            operators += 1;
            if operators > MAX_OPERATORS {
                return Err(CompileError::new(
                    Code::Syntax,
                    Span::new(i, i + c.len_utf8()),
                    format!("expression has more than {MAX_OPERATORS} operators"),
                )
                .hint("split it into several fields and combine them with out.x"));
            }
        }
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(CompileError::new(
                        Code::Syntax,
                        Span::new(i, i + 1),
                        format!("expression nested deeper than {MAX_NESTING} levels"),
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn syntax_error(text: &str, e: pest::error::Error<Rule>) -> CompileError {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let end = text[pos..].chars().next().map_or(pos, |c| pos + c.len_utf8());
    let found = match text[pos..].chars().next() {
        None => "end of the expression".to_string(),
        Some(c) => format!("`{c}`"),
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    if let Some(q) = text[pos..].chars().next().filter(|c| *c == '"' || *c == '\'') {
        if unterminated(&text[pos..], q) {
            return CompileError::new(Code::Syntax, Span::new(pos, text.len()), "unterminated string")
                .hint(format!("add the closing {q}"));
        }
    }
    let mut err =
        CompileError::new(Code::Syntax, Span::new(pos, end), format!("unexpected {found}, expected {expected}"));
    if let Some(hint) = syntax_hint(text, pos) {
        err = err.hint(hint);
    }
    err
}

/// Whether a string literal starting at `rest` (with quote `q`) never closes.
fn unterminated(rest: &str, q: char) -> bool {
    let mut chars = rest.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
                continue;
            }
            return false;
        }
    }
    true
}

fn describe_expected(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for r in rules {
        let name = match r {
            Rule::EOI => "the end of the expression",
            Rule::expr | Rule::primary | Rule::postfixed => "a value",
            Rule::pipe
            | Rule::coalesce
            | Rule::or
            | Rule::and
            | Rule::eq
            | Rule::ne
            | Rule::le
            | Rule::ge
            | Rule::lt
            | Rule::gt
            | Rule::add
            | Rule::sub
            | Rule::mul
            | Rule::div
            | Rule::rem => "an operator",
            Rule::name | Rule::star => "a field name",
            Rule::ident => "a name",
            _ => "a value",
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.len() {
        0 => "something else".into(),
        1 => names[0].into(),
        _ => {
            let last = names.pop().unwrap_or_default();
            format!("{} or {last}", names.join(", "))
        }
    }
}

fn syntax_hint(text: &str, pos: usize) -> Option<String> {
    let rest = &text[pos..];
    if rest.starts_with("&&") {
        return Some("use `and` instead of `&&`".into());
    }
    if rest.starts_with("||") {
        return Some("use `or` instead of `||`".into());
    }
    if rest.starts_with('!') && !rest.starts_with("!=") {
        return Some("use `not` instead of `!`".into());
    }
    if rest.starts_with('=') && !rest.starts_with("==") {
        return Some("compare with `==`".into());
    }
    let quotes = text[..pos].matches('"').count();
    if rest.is_empty() && quotes % 2 == 1 {
        return Some("a string is not closed: add the missing `\"`".into());
    }
    if rest.is_empty() {
        let open = text.matches('(').count();
        let close = text.matches(')').count();
        if open > close {
            return Some("a `(` is not closed".into());
        }
    }
    if text.starts_with('"') && text.ends_with('"') && text.len() > 1 {
        return None;
    }
    None
}

fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn build_expr(pairs: Pairs<Rule>) -> Result<Expr, CompileError> {
    pratt()
        .map_primary(build_postfixed)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = span_of(&op).to(rhs.span);
            let op = match op.as_rule() {
                Rule::neg => UnaryOp::Neg,
                _ => UnaryOp::Not,
            };
            // Fold `-3.50` into a literal so it prints and compares as one.
            if op == UnaryOp::Neg {
                if let ExprKind::Literal(Value::Number(Number::Dec(d))) = &rhs.kind {
                    return Ok(Expr { kind: ExprKind::Literal(Value::dec(-*d)), span });
                }
            }
            Ok(Expr { kind: ExprKind::Unary(op, Box::new(rhs)), span })
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let span = lhs.span.to(rhs.span);
            let op = match op.as_rule() {
                Rule::pipe => return pipe(lhs, rhs, span_of(&op)),
                Rule::coalesce => BinaryOp::Coalesce,
                Rule::or => BinaryOp::Or,
                Rule::and => BinaryOp::And,
                Rule::eq => BinaryOp::Eq,
                Rule::ne => BinaryOp::Ne,
                Rule::lt => BinaryOp::Lt,
                Rule::le => BinaryOp::Le,
                Rule::gt => BinaryOp::Gt,
                Rule::ge => BinaryOp::Ge,
                Rule::add => BinaryOp::Add,
                Rule::sub => BinaryOp::Sub,
                Rule::mul => BinaryOp::Mul,
                Rule::div => BinaryOp::Div,
                _ => BinaryOp::Rem,
            };
            Ok(Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span })
        })
        .parse(pairs)
}

/// `x | f(a)` becomes `f(x, a)`; `x | f` becomes `f(x)`.
fn pipe(lhs: Expr, rhs: Expr, op_span: Span) -> Result<Expr, CompileError> {
    let span = lhs.span.to(rhs.span);
    match rhs.kind {
        ExprKind::Call { name, name_span, mut args } => {
            args.insert(0, lhs);
            Ok(Expr { kind: ExprKind::Call { name, name_span, args }, span })
        }
        ExprKind::Ident(name) => Ok(Expr { kind: ExprKind::Call { name, name_span: rhs.span, args: vec![lhs] }, span }),
        _ => Err(CompileError::new(
            Code::Syntax,
            rhs.span,
            "the right side of `|` must be a function, like `| trim` or `| replace(\"-\", \"\")`",
        )
        .hint(format!(
            "`x | f(y)` means f(x, y); `|` at {}..{} pipes into a function call",
            op_span.start, op_span.end
        ))),
    }
}

fn build_postfixed(pair: Pair<Rule>) -> Result<Expr, CompileError> {
    let mut inner = pair.into_inner();
    let primary = inner.next().ok_or_else(|| CompileError::new(Code::Syntax, Span::default(), "missing value"))?;
    let mut expr = build_primary(primary)?;
    for post in inner {
        let seg = build_segment(post)?;
        expr = push_segment(expr, seg);
    }
    Ok(expr)
}

fn push_segment(expr: Expr, seg: Segment) -> Expr {
    let span = expr.span.to(seg.span);
    match expr.kind {
        ExprKind::Path(mut path) if !matches!(path.root, Root::Expr(_)) || !path.segments.is_empty() => {
            path.segments.push(seg);
            Expr { kind: ExprKind::Path(path), span }
        }
        kind => Expr {
            kind: ExprKind::Path(Path {
                root: Root::Expr(Box::new(Expr { kind, span: expr.span })),
                segments: vec![seg],
            }),
            span,
        },
    }
}

fn build_segment(pair: Pair<Rule>) -> Result<Segment, CompileError> {
    let span = span_of(&pair);
    let text = pair.as_str().to_string();
    let kind = match pair.as_rule() {
        Rule::member => {
            let child = pair.into_inner().next();
            match child {
                Some(c) if c.as_rule() == Rule::name => SegmentKind::Name(c.as_str().to_string()),
                _ => SegmentKind::Query,
            }
        }
        Rule::descendant => SegmentKind::Query,
        _ => {
            // bracket: classify its raw body.
            let body = pair.into_inner().next();
            let (body_text, body_start) = match &body {
                Some(b) => (b.as_str(), b.as_span().start()),
                None => ("", span.start + 1),
            };
            classify_bracket(body_text, body_start)?
        }
    };
    Ok(Segment { kind, text, span })
}

fn classify_bracket(body: &str, body_start: usize) -> Result<SegmentKind, CompileError> {
    let t = body.trim();
    if t.is_empty() {
        return Err(CompileError::new(
            Code::Syntax,
            Span::new(body_start.saturating_sub(1), body_start + body.len() + 1),
            "empty brackets",
        )
        .hint("write an index like [0], a name like ['key'], or a JSONPath selector like [*]"));
    }
    if let Ok(i) = t.parse::<i64>() {
        let leading_zero = t.len() > 1 && t.trim_start_matches('-').starts_with('0');
        if !t.starts_with('+') && !leading_zero {
            return Ok(SegmentKind::Index(i));
        }
    }
    if let Some(name) = single_quoted_name(t) {
        return Ok(SegmentKind::Name(name));
    }
    if t == "*" || t.starts_with('?') || has_top_level(t, &[',', ':']) {
        return Ok(SegmentKind::Query);
    }
    // A computed key: `[index()]`, `[$.field]`.
    let offset = body_start + (body.len() - body.trim_start().len());
    match parse(t) {
        Ok(mut e) => {
            shift_spans(&mut e, offset);
            Ok(SegmentKind::Dynamic(Box::new(e)))
        }
        Err(mut e) => {
            e.span = Span::new(e.span.start + offset, e.span.end + offset);
            Err(e)
        }
    }
}

/// `'name'` or `"name"` (with its escapes) as a whole bracket body.
fn single_quoted_name(t: &str) -> Option<String> {
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        let inner = &t[1..t.len() - 1];
        // JSONPath single-quoted strings take backslash escapes.
        if !inner.contains('\'') || inner.contains("\\'") {
            return unescape(inner, '\'');
        }
    }
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        let inner = &t[1..t.len() - 1];
        return unescape(inner, '"');
    }
    None
}

fn unescape(inner: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

fn has_top_level(t: &str, chars: &[char]) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in t.chars() {
        match quote {
            Some(q) => {
                if c == q && prev != '\\' {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ if depth == 0 && chars.contains(&c) => return true,
                _ => {}
            },
        }
        prev = c;
    }
    false
}

fn shift_spans(e: &mut Expr, by: usize) {
    e.span = Span::new(e.span.start + by, e.span.end + by);
    match &mut e.kind {
        ExprKind::Literal(_) | ExprKind::Ident(_) => {}
        ExprKind::Array(items) => items.iter_mut().for_each(|i| shift_spans(i, by)),
        ExprKind::Object(entries) => entries.iter_mut().for_each(|(_, v)| shift_spans(v, by)),
        ExprKind::Path(p) => {
            if let Root::Expr(r) = &mut p.root {
                shift_spans(r, by);
            }
            for s in &mut p.segments {
                s.span = Span::new(s.span.start + by, s.span.end + by);
                if let SegmentKind::Dynamic(d) = &mut s.kind {
                    shift_spans(d, by);
                }
            }
        }
        ExprKind::Unary(_, x) => shift_spans(x, by),
        ExprKind::Binary(_, a, b) => {
            shift_spans(a, by);
            shift_spans(b, by);
        }
        ExprKind::If { branches, otherwise } => {
            for (c, v) in branches {
                shift_spans(c, by);
                shift_spans(v, by);
            }
            if let Some(o) = otherwise {
                shift_spans(o, by);
            }
        }
        ExprKind::Call { name_span, args, .. } => {
            *name_span = Span::new(name_span.start + by, name_span.end + by);
            args.iter_mut().for_each(|a| shift_spans(a, by));
        }
    }
}

fn build_primary(pair: Pair<Rule>) -> Result<Expr, CompileError> {
    let span = span_of(&pair);
    let inner = pair.into_inner().next().ok_or_else(|| CompileError::new(Code::Syntax, span, "missing value"))?;
    let span = span_of(&inner);
    let kind = match inner.as_rule() {
        Rule::number => {
            let text = inner.as_str();
            match crate::value::parse_decimal_exact(text) {
                Some(d) => ExprKind::Literal(Value::dec(d)),
                None => {
                    return Err(CompileError::new(
                        Code::Syntax,
                        span,
                        format!("number {text} does not fit an exact decimal (28 significant digits)"),
                    ));
                }
            }
        }
        Rule::string => {
            let raw = inner.into_inner().next().map_or("", |p| p.as_str());
            ExprKind::Literal(Value::str(&unescape_json(raw, span)?))
        }
        Rule::raw_string => {
            let raw = inner.into_inner().next().map_or("", |p| p.as_str());
            ExprKind::Literal(Value::str(&raw.replace("''", "'")))
        }
        Rule::keyword_lit => ExprKind::Literal(match inner.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Null,
        }),
        Rule::array => {
            ExprKind::Array(inner.into_inner().map(|p| build_expr(p.into_inner())).collect::<Result<_, _>>()?)
        }
        Rule::object => {
            let mut entries = Vec::new();
            for entry in inner.into_inner() {
                let mut parts = entry.into_inner();
                let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let key = match k.as_rule() {
                    Rule::ident => k.as_str().to_string(),
                    Rule::string => {
                        let ks = span_of(&k);
                        unescape_json(k.into_inner().next().map_or("", |p| p.as_str()), ks)?
                    }
                    _ => k.into_inner().next().map_or("", |p| p.as_str()).replace("''", "'"),
                };
                entries.push((key, build_expr(v.into_inner())?));
            }
            ExprKind::Object(entries)
        }
        Rule::if_expr => {
            let mut parts: Vec<Expr> = inner
                .into_inner()
                .filter(|p| p.as_rule() == Rule::expr)
                .map(|p| build_expr(p.into_inner()))
                .collect::<Result<_, _>>()?;
            let otherwise = if parts.len() % 2 == 1 { parts.pop().map(Box::new) } else { None };
            let mut branches = Vec::new();
            let mut it = parts.into_iter();
            while let (Some(c), Some(v)) = (it.next(), it.next()) {
                branches.push((c, v));
            }
            ExprKind::If { branches, otherwise }
        }
        Rule::call => {
            let mut parts = inner.into_inner();
            let name_pair =
                parts.next().ok_or_else(|| CompileError::new(Code::Syntax, span, "missing function name"))?;
            let name_span = span_of(&name_pair);
            let args = parts.map(|p| build_expr(p.into_inner())).collect::<Result<_, _>>()?;
            ExprKind::Call { name: name_pair.as_str().to_string(), name_span, args }
        }
        Rule::paren => {
            let e =
                inner.into_inner().next().ok_or_else(|| CompileError::new(Code::Syntax, span, "empty parentheses"))?;
            let mut e = build_expr(e.into_inner())?;
            e.span = span;
            return Ok(e);
        }
        Rule::root => {
            let r = inner.into_inner().next().ok_or_else(|| CompileError::new(Code::Syntax, span, "missing path"))?;
            let root = match r.as_rule() {
                Rule::input_root => Root::Input,
                Rule::source_root => Root::Source(r.as_str()[1..].to_string()),
                Rule::it_root => Root::It,
                Rule::out_root => Root::Out,
                _ => return Ok(Expr { kind: ExprKind::Ident(r.as_str().to_string()), span }),
            };
            ExprKind::Path(Path { root, segments: Vec::new() })
        }
        _ => return Err(CompileError::new(Code::Syntax, span, "unexpected expression")),
    };
    Ok(Expr { kind, span })
}

/// Decodes the JSON escapes of a `"…"` literal.
fn unescape_json(raw: &str, span: Span) -> Result<String, CompileError> {
    if !raw.contains('\\') {
        return Ok(raw.to_string());
    }
    let quoted = format!("\"{raw}\"");
    match crate::json::parse(&quoted) {
        Ok(Value::String(s)) => Ok(s.to_string()),
        Ok(_) | Err(_) => Err(CompileError::new(
            Code::Syntax,
            span,
            "invalid escape in string",
        )
        .hint("\"…\" strings take JSON escapes (\\\" \\\\ \\n \\t \\uXXXX); use '…' for raw text such as regular expressions")),
    }
}

/// Decimal literal helper used by tests.
#[allow(dead_code)]
pub(crate) fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> String {
        fn go(e: &Expr) -> String {
            match &e.kind {
                ExprKind::Literal(v) => v.to_json(),
                ExprKind::Array(items) => format!("[{}]", items.iter().map(go).collect::<Vec<_>>().join(", ")),
                ExprKind::Object(es) => {
                    format!("{{{}}}", es.iter().map(|(k, v)| format!("{k}: {}", go(v))).collect::<Vec<_>>().join(", "))
                }
                ExprKind::Path(p) => {
                    let root = match &p.root {
                        Root::Input => "$".to_string(),
                        Root::Source(s) => format!("${s}"),
                        Root::It => "it".into(),
                        Root::Out => "out".into(),
                        Root::Expr(e) => format!("({})", go(e)),
                    };
                    let segs: String = p
                        .segments
                        .iter()
                        .map(|s| match &s.kind {
                            SegmentKind::Name(n) => format!(".{n}"),
                            SegmentKind::Index(i) => format!("[{i}]"),
                            SegmentKind::Dynamic(d) => format!("[={}]", go(d)),
                            SegmentKind::Query => format!("<{}>", s.text),
                        })
                        .collect();
                    root + &segs
                }
                ExprKind::Unary(op, x) => format!("({op:?} {})", go(x)),
                ExprKind::Binary(op, a, b) => format!("({} {} {})", go(a), op.symbol(), go(b)),
                ExprKind::If { branches, otherwise } => format!(
                    "(if {} else {})",
                    branches
                        .iter()
                        .map(|(c, v)| format!("{} then {}", go(c), go(v)))
                        .collect::<Vec<_>>()
                        .join(" elif "),
                    otherwise.as_ref().map_or("-".into(), |o| go(o))
                ),
                ExprKind::Call { name, args, .. } => {
                    format!("{name}({})", args.iter().map(go).collect::<Vec<_>>().join(", "))
                }
                ExprKind::Ident(n) => format!("ident:{n}"),
            }
        }
        match parse(text) {
            Ok(e) => go(&e),
            Err(e) => format!("error: {} at {:?}", e.message, e.span),
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(shape("1 + 2 * 3"), "(1 + (2 * 3))");
        assert_eq!(shape("not $.a == 1 and $.b"), "((Not ($.a == 1)) and $.b)");
        assert_eq!(shape("$.a ?? 'x' | upper"), "upper(($.a ?? \"x\"))");
        assert_eq!(shape("-3.50"), "-3.5");
        assert_eq!(shape("- $.x * 2"), "((Neg $.x) * 2)");
        assert_eq!(shape("$.a or $.b and $.c"), "($.a or ($.b and $.c))");
        assert_eq!(shape("$.a ?? $.b ?? 1"), "($.a ?? ($.b ?? 1))");
        assert_eq!(shape("$.origin + $.andy"), "($.origin + $.andy)");
    }

    #[test]
    fn pipes() {
        assert_eq!(shape("$.email | trim | lower"), "lower(trim($.email))");
        assert_eq!(shape("$.x | replace('-', '')"), "replace($.x, \"-\", \"\")");
        assert!(shape("$.x | 5").starts_with("error: the right side of `|`"));
    }

    #[test]
    fn paths() {
        assert_eq!(shape("$.a.b[0]"), "$.a.b[0]");
        assert_eq!(shape("$['odd key'].x"), "$.odd key.x");
        assert_eq!(shape("$[-1]"), "$[-1]");
        assert_eq!(shape("$erp.item_code"), "$erp.item_code");
        assert_eq!(shape("it.sku"), "it.sku");
        assert_eq!(shape("items"), "ident:items");
        assert_eq!(shape("$..sku"), "$<..sku>");
        assert_eq!(shape("$.items[*].price"), "$.items<[*]>.price");
        assert_eq!(shape("$.items[?@.qty > 1]"), "$.items<[?@.qty > 1]>");
        assert_eq!(shape("$.items[1:3]"), "$.items<[1:3]>");
        assert_eq!(shape("$.items[index()]"), "$.items[=index()]");
        assert_eq!(shape("(1).x"), "(1).x");
        assert_eq!(shape("split($.a, ',')[0]"), "(split($.a, \",\"))[0]");
    }

    #[test]
    fn literals() {
        assert_eq!(shape(r#""a\"b\n""#), r#""a\"b\n""#);
        assert_eq!(shape(r"'\d+'''"), r#""\\d+'""#);
        assert_eq!(shape("{a: 1, \"b c\": [true, null]}"), "{a: 1, b c: [true, null]}");
        assert_eq!(shape("if $.a then 1 elif $.b then 2 else 3"), "(if $.a then 1 elif $.b then 2 else 3)");
        assert_eq!(shape("if $.a then 1"), "(if $.a then 1 else -)");
    }

    #[test]
    fn errors() {
        assert!(shape("$.a &&").contains("use `and`") || shape("$.a && $.b").starts_with("error"));
        assert!(shape("upper(").starts_with("error: unexpected end of the expression"));
        assert!(shape("").starts_with("error: empty expression"));
        assert!(shape(&"(".repeat(100)).contains("nested deeper"));
        assert!(shape(&format!("{}true", "not ".repeat(2000))).contains("more than 512 operators"));
        assert!(shape(&format!("{}1", "-".repeat(20000))).contains("more than 512 operators"));
        assert!(shape(&"1+".repeat(5000)).contains("more than 512 operators"));
        assert!(shape("\"abc").starts_with("error: unterminated string"));
        assert!(shape("'abc''").starts_with("error: unterminated string"));
        assert_eq!(shape("$.not_a + $.order"), "($.not_a + $.order)");
    }
}
