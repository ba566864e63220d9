//! Errors of the expression language: compile-time diagnostics with codes
//! and spans, and run-time evaluation errors with the offending value.
//!
//! Codes are stable and never reused: tests, docs and users rely on them.
//! The registry is [`Code`]; the engine adds its own codes for the mapping
//! file in the same numbering scheme (`E01xx` expressions, `E02xx` spec).

use crate::ast::Span;
use crate::value::Value;

/// A stable diagnostic code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// E0101: the expression does not parse.
    Syntax,
    /// E0102: unknown function.
    UnknownFunction,
    /// E0103: wrong number of arguments.
    Arity,
    /// E0104: unknown lookup table.
    UnknownLookup,
    /// E0105: unknown source.
    UnknownSource,
    /// E0106: `out.x` before `x` is defined.
    OutBeforeDefined,
    /// E0107: invalid regular expression.
    BadRegex,
    /// E0108: invalid JSONPath.
    BadJsonPath,
    /// E0109: a bare name where a value is expected.
    BareName,
    /// E0110: an argument must be a literal (lookup table name, …).
    LiteralRequired,
    /// E0111: `$` used in a multi-source mapping, or `$name` in a single-source one.
    WrongRoot,
    /// E0112: invalid literal argument (time zone, rounding mode, format).
    BadArgument,
}

impl Code {
    /// The code as printed: `E0101`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E0101",
            Code::UnknownFunction => "E0102",
            Code::Arity => "E0103",
            Code::UnknownLookup => "E0104",
            Code::UnknownSource => "E0105",
            Code::OutBeforeDefined => "E0106",
            Code::BadRegex => "E0107",
            Code::BadJsonPath => "E0108",
            Code::BareName => "E0109",
            Code::LiteralRequired => "E0110",
            Code::WrongRoot => "E0111",
            Code::BadArgument => "E0112",
        }
    }
}

/// A compile-time problem in an expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// The stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// Where, in the expression text.
    pub span: Span,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CompileError {
    pub(crate) fn new(code: Code, span: Span, message: impl Into<String>) -> CompileError {
        CompileError { code, message: message.into(), span, hint: None }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> CompileError {
        self.hint = Some(hint.into());
        self
    }
}

/// A run-time failure: a type error, a failed lookup, `error(…)`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong.
    pub message: String,
    /// The part of the expression that failed.
    pub span: Span,
    /// The value that caused it, when there is one.
    pub value: Option<Value>,
}

impl EvalError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> EvalError {
        EvalError { message: message.into(), span, value: None }
    }

    /// Attaches the offending value.
    pub fn with_value(mut self, value: Value) -> EvalError {
        self.value = Some(value);
        self
    }
}

/// The closest candidate to `name` by edit distance, if it is close enough
/// to be a plausible typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1) + usize::from(name.len() > 5);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Edit distance over characters where swapping two neighbours counts as
/// one edit (optimal string alignment): `epr` is one edit from `erp`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos() {
        assert_eq!(nearest("uper", ["upper", "lower", "trim"]), Some("upper"));
        assert_eq!(nearest("frobnicate", ["upper", "lower"]), None);
        assert_eq!(nearest("lookpu", ["lookup", "lower"]), Some("lookup"));
    }
}
