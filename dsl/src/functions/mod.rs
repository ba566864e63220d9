//! The builtin functions, registered as data.
//!
//! One table ([`BUILTINS`]) lists every function with its group, signature,
//! arity, one-line doc and examples. The compiler resolves names and checks
//! arity against it, `mapwright doc` and the README's language reference
//! print it, and a test runs every example — so the three never drift.
//!
//! Most functions are plain: they receive evaluated arguments and, unless
//! they are marked `nulls: Accept`, never see a `null` (a null argument makes
//! the result null, README "Expressions"). Functions that need unevaluated arguments
//! (`map`, `try`, `coalesce`, `exists`, …) are [`Imp::Special`] and handled
//! by the evaluator itself.
//!
//! Groups live in one file each: `text.rs`, `number.rs`, `time.rs`,
//! `convert.rs`, `list.rs`, `object.rs`, `null.rs` (with lookup),
//! `ids.rs`, `control.rs`, with their tests beside.

use std::fmt::Write as _;
use std::sync::Arc;

use regex::Regex;
use rust_decimal::Decimal;

use crate::value::{Number, Value};

mod control;
mod convert;
mod ids;
mod list;
mod null;
mod number;
mod object;
mod text;
mod time;

pub use time::instant_of;

/// One builtin function.
#[derive(Debug)]
pub struct Builtin {
    /// The name used in expressions.
    pub name: &'static str,
    /// The group it is documented under.
    pub group: Group,
    /// Parameters as documented: `s, from, to`.
    pub params: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments (`usize::MAX` for variadic).
    pub max_args: usize,
    /// One line saying what it does.
    pub doc: &'static str,
    /// Examples: an expression and its result as JSON (or `error: …`).
    /// They are run as tests and printed in the docs.
    pub examples: &'static [(&'static str, &'static str)],
    /// How it is implemented.
    pub imp: Imp,
    /// Whether a `null` argument reaches the function (otherwise the
    /// result is `null` without calling it).
    pub nulls: Nulls,
    /// The argument that is a regular expression, compiled once at load time
    /// when it is a literal.
    pub regex_arg: Option<usize>,
}

/// Documentation groups, in the order of the README's "Builtin functions".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Strings.
    Text,
    /// Numbers.
    Number,
    /// Timestamps.
    Time,
    /// Conversions.
    Convert,
    /// Lists.
    List,
    /// Objects.
    Object,
    /// Nulls.
    Null,
    /// Lookup tables.
    Lookup,
    /// Identifiers and hashes.
    Ids,
    /// Control flow.
    Control,
}

impl Group {
    /// All groups in documentation order.
    pub const ALL: [Group; 10] = [
        Group::Text,
        Group::Number,
        Group::Time,
        Group::Convert,
        Group::List,
        Group::Object,
        Group::Null,
        Group::Lookup,
        Group::Ids,
        Group::Control,
    ];

    /// The group's name.
    pub fn name(self) -> &'static str {
        match self {
            Group::Text => "text",
            Group::Number => "number",
            Group::Time => "time",
            Group::Convert => "convert",
            Group::List => "list",
            Group::Object => "object",
            Group::Null => "null",
            Group::Lookup => "lookup",
            Group::Ids => "ids",
            Group::Control => "control",
        }
    }
}

/// Whether nulls reach the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nulls {
    /// Any null argument makes the result null.
    Propagate,
    /// The function handles nulls itself.
    Accept,
}

/// How a builtin is implemented.
#[derive(Clone, Copy)]
pub enum Imp {
    /// A plain function of evaluated arguments.
    Plain(fn(&Args) -> Result<Value, FnError>),
    /// Handled by the evaluator: lazy arguments or context.
    Special(Special),
}

impl std::fmt::Debug for Imp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Imp::Plain(_) => f.write_str("Plain"),
            Imp::Special(s) => write!(f, "Special({s:?})"),
        }
    }
}

/// Functions the evaluator implements itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// `try(expr, fallback)`
    Try,
    /// `coalesce(...)`
    Coalesce,
    /// `exists(path)`
    Exists,
    /// `index()`
    Index,
    /// `now()`
    Now,
    /// `map(list, expr)`
    Map,
    /// `filter(list, pred)`
    Filter,
    /// `find(list, pred)`
    Find,
    /// `any(list, pred)`
    Any,
    /// `all(list, pred)`
    All,
    /// `sort_by(list, expr)`
    SortBy,
    /// `lookup(table, key, default?)`
    Lookup,
}

/// The arguments of a plain builtin call.
pub struct Args<'a> {
    /// Evaluated arguments.
    pub values: &'a [Value],
    /// The regular expression argument, compiled.
    pub regex: Option<&'a Regex>,
}

impl<'a> Args<'a> {
    /// Argument `i` (null when absent).
    pub fn get(&self, i: usize) -> &'a Value {
        self.values.get(i).unwrap_or(&Value::Null)
    }

    /// Whether argument `i` was given.
    pub fn has(&self, i: usize) -> bool {
        i < self.values.len()
    }

    /// Argument `i` as a string, or a type error.
    pub fn str(&self, i: usize) -> Result<&'a str, FnError> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            v => Err(FnError::expected("a string", v, i)),
        }
    }

    /// Argument `i` as a decimal, or a type error.
    pub fn dec(&self, i: usize) -> Result<Decimal, FnError> {
        match self.get(i) {
            Value::Number(n) => n.to_decimal().map_err(FnError::msg),
            v => Err(FnError::expected("a number", v, i)),
        }
    }

    /// Argument `i` as an integer, or a type error.
    pub fn int(&self, i: usize) -> Result<i64, FnError> {
        let d = self.dec(i)?;
        if !d.fract().is_zero() {
            return Err(FnError::expected("a whole number", self.get(i), i));
        }
        i64::try_from(d).map_err(|_| FnError::msg(format!("{d} is too large")))
    }

    /// Argument `i` as an array, or a type error.
    pub fn list(&self, i: usize) -> Result<&'a [Value], FnError> {
        match self.get(i) {
            Value::Array(a) => Ok(a),
            v => Err(FnError::expected("a list", v, i)),
        }
    }

    /// Argument `i` as a timestamp, or a type error.
    pub fn ts(&self, i: usize) -> Result<jiff::Timestamp, FnError> {
        match self.get(i) {
            Value::Timestamp(t) => Ok(*t),
            v => Err(FnError::expected("a timestamp", v, i).with_hint("convert it with timestamp(x)")),
        }
    }

    /// The regex argument: precompiled, or compiled now from argument `i`.
    pub fn regex(&self, i: usize) -> Result<std::borrow::Cow<'a, Regex>, FnError> {
        if let Some(re) = self.regex {
            return Ok(std::borrow::Cow::Borrowed(re));
        }
        let pattern = self.str(i)?;
        compile_regex(pattern).map(std::borrow::Cow::Owned).map_err(FnError::msg)
    }
}

/// Compiles a user regular expression with a size limit (the regex crate
/// runs in linear time, so no pattern can hang a record).
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).dfa_size_limit(1 << 20).build().map_err(|e| match e {
        regex::Error::Syntax(s) => format!("invalid regular expression: {}", s.lines().last().unwrap_or(&s)),
        regex::Error::CompiledTooBig(_) => "regular expression is too large".to_string(),
        _ => format!("invalid regular expression: {e}"),
    })
}

/// A failure inside a builtin.
#[derive(Clone, Debug, PartialEq)]
pub struct FnError {
    /// What went wrong.
    pub message: String,
    /// The offending value.
    pub value: Option<Value>,
}

impl FnError {
    /// A plain message.
    pub fn msg(message: impl Into<String>) -> FnError {
        FnError { message: message.into(), value: None }
    }

    /// "expected X, got Y" for argument `i`.
    pub fn expected(what: &str, got: &Value, i: usize) -> FnError {
        let place = ["first", "second", "third", "fourth", "fifth"].get(i).copied().unwrap_or("an");
        FnError {
            message: format!("{place} argument must be {what}, got {}", got.describe()),
            value: Some(got.clone()),
        }
    }

    /// Adds a hint sentence.
    pub fn with_hint(mut self, hint: &str) -> FnError {
        let _ = write!(self.message, "; {hint}");
        self
    }
}

/// The language reference of every builtin, as Markdown: one table per
/// group with signature, description and examples. The README embeds it
/// (a test keeps the two identical).
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for group in Group::ALL {
        let members: Vec<&Builtin> = BUILTINS.iter().filter(|b| b.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "#### {}\n", group.name());
        out.push_str("| function | what it does | example → result |\n|---|---|---|\n");
        for b in members {
            let examples: Vec<String> = b
                .examples
                .iter()
                .map(|(e, r)| format!("`{}` → `{}`", e.replace('|', "\\|"), r.replace('|', "\\|")))
                .collect();
            let _ = writeln!(
                out,
                "| `{}({})` | {} | {} |",
                b.name,
                b.params,
                b.doc.replace('|', "\\|"),
                examples.join("<br>")
            );
        }
        out.push('\n');
    }
    out
}

/// Checks a literal argument at load time (rounding modes, time zones,
/// time formats), so a typo is a located diagnostic instead of a failure
/// of every record. Returns the message and a hint.
pub(crate) fn check_literal(name: &str, index: usize, v: &Value) -> Option<(String, String)> {
    let Value::String(text) = v else { return None };
    match (name, index) {
        ("round", 2) => number::check_mode(text),
        ("timestamp" | "format_time", 2) => time::check_zone(text),
        ("format_time", 1) => time::check_format(text),
        _ => None,
    }
}

/// Looks a builtin up by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Every builtin, in documentation order.
pub static BUILTINS: &[Builtin] = &[
    text::UPPER,
    text::LOWER,
    text::TRIM,
    text::TRIM_START,
    text::TRIM_END,
    text::REPLACE,
    text::REPLACE_REGEX,
    text::SPLIT,
    text::JOIN,
    text::SUBSTRING,
    text::STARTS_WITH,
    text::ENDS_WITH,
    text::CONTAINS,
    text::LEN,
    text::PAD_LEFT,
    text::PAD_RIGHT,
    text::MATCHES,
    text::EXTRACT,
    text::CONCAT,
    number::NUMBER,
    number::INTEGER,
    number::ROUND,
    number::FLOOR,
    number::CEIL,
    number::ABS,
    number::MIN,
    number::MAX,
    number::SUM,
    number::AVG,
    time::TIMESTAMP,
    time::NOW,
    time::FORMAT_TIME,
    time::DATE,
    time::ADD_DAYS,
    time::ADD_HOURS,
    time::DAYS_BETWEEN,
    convert::STRING,
    convert::BOOLEAN,
    convert::TYPE_OF,
    convert::JSON,
    convert::PARSE_JSON,
    list::MAP,
    list::FILTER,
    list::FIND,
    list::ANY,
    list::ALL,
    list::FIRST,
    list::LAST,
    list::COUNT,
    list::DISTINCT,
    list::SORT,
    list::SORT_BY,
    list::FLATTEN,
    list::REVERSE,
    list::INDEX,
    object::KEYS,
    object::VALUES,
    object::MERGE,
    object::GET,
    object::PICK,
    object::OMIT,
    object::FROM_ENTRIES,
    object::ENTRIES,
    null::COALESCE,
    null::DEFAULT,
    null::NULLIF,
    null::IS_NULL,
    null::EXISTS,
    null::LOOKUP,
    ids::SHA256,
    ids::UUID5,
    control::TRY,
    control::ERROR,
];

/// Shorthand for a number result.
pub(crate) fn num(d: Decimal) -> Value {
    Value::Number(Number::Dec(d))
}

/// Shorthand for a string result.
pub(crate) fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Table-driven helpers for the per-group tests: evaluate an expression
    //! against a fixed input record and render the result or the error.

    use crate::{Program, Scope, Value};

    /// The record examples and tests read as `$`.
    pub const INPUT: &str = r#"{"s": "  Hello, Wörld  ", "n": 12.5, "i": 3, "neg": -2.5,
        "list": [3, 1, 2], "words": ["b", "a", "c", "a"], "obj": {"a": 1, "b": null},
        "empty": "", "nul": null, "t": "2026-03-01T10:15:00-05:00",
        "items": [{"sku": "a-1", "qty": 2, "price": "19.99"}, {"sku": "b-2", "qty": 0, "price": "5.00"}]}"#;

    /// Evaluates `expr` against [`INPUT`]: the JSON result or `error: …`.
    pub fn run(expr: &str) -> String {
        let input = Value::from_json(INPUT).expect("test input is JSON");
        let lookups = [
            crate::LookupDecl { name: "iso3".into(), strict: false },
            crate::LookupDecl { name: "strict_units".into(), strict: true },
        ];
        let scope = Scope { lookups: &lookups, ..Scope::default() };
        let program = match Program::compile(expr, &scope) {
            Ok(p) => p,
            Err(e) => return format!("compile error: {}", e.message),
        };
        let host = TestHost;
        let ctx = crate::Ctx::new(&input, &host);
        match program.eval(&ctx) {
            Ok(v) => v.to_json(),
            Err(e) => format!("error: {}", e.message),
        }
    }

    struct TestHost;
    impl crate::Host for TestHost {
        fn lookup(&self, table: usize, key: &str) -> Option<Value> {
            let pairs: &[(&str, &str)] = match table {
                0 => &[("US", "USA"), ("CA", "CAN"), ("GB", "GBR")],
                _ => &[("kg", "KGM")],
            };
            pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| Value::str(v))
        }
    }

    /// Renders a table of cases as `expr => result` lines for a snapshot.
    pub fn table(cases: &[&str]) -> String {
        cases.iter().map(|c| format!("{c}\n  => {}\n", run(c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_holds() {
        let mut failures = Vec::new();
        for b in BUILTINS {
            assert!(!b.examples.is_empty(), "{} has no example", b.name);
            assert!(!b.doc.is_empty(), "{} has no doc", b.name);
            for (expr, want) in b.examples {
                let got = testing::run(expr);
                if got != *want {
                    failures.push(format!("{}: {expr}\n   want {want}\n    got {got}", b.name));
                }
            }
        }
        assert!(failures.is_empty(), "examples that do not hold:\n{}", failures.join("\n"));
    }

    #[test]
    fn names_are_unique() {
        for (i, b) in BUILTINS.iter().enumerate() {
            assert!(BUILTINS[i + 1..].iter().all(|c| c.name != b.name), "{} is registered twice", b.name);
        }
    }
}
