//! Field checks and record rules (README "Checks, contracts, hooks, replay": validation keys, `validate:`).
//!
//! Checks are compiled with the mapping: regular expressions compiled,
//! bounds parsed, rules compiled as programs. At run time a check looks at
//! the field's final value (after `default:`); every failing check of a
//! record is reported, not only the first. `severity: warn` lets the record
//! through and reports the message as a warning.

use mapwright_dsl::{Ctx, Program, Value};
use regex::Regex;

/// How serious a failed check is (`severity:`). Exhaustive on purpose: a
/// failed check fails the record or lets it pass with a warning.
///
/// ```
/// use mapwright_engine::{Mapping, Outcome, Value};
///
/// let m = Mapping::from_yaml(
///     "mapping: m\nfields:\n  qty: { expr: $.qty, checks: [{ min: 1, message: empty line, severity: warn }] }\n",
///     "m.yaml",
/// )?;
/// let r = m.run(&Value::from_json(r#"{"qty": 0}"#).unwrap());
/// assert!(matches!(r.outcome, Outcome::Mapped(_)), "warn: the record passes");
/// assert_eq!(r.warnings.len(), 1);
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The record fails and goes to the dead letter.
    Error,
    /// The record passes; the message is counted and logged.
    Warn,
}

/// The words of `severity:` and what they mean.
pub(crate) const SEVERITIES: [(&str, Severity); 3] =
    [("error", Severity::Error), ("warn", Severity::Warn), ("warning", Severity::Warn)];

/// The value kinds `type:` accepts.
pub(crate) const TYPE_NAMES: &[&str] = &["string", "number", "integer", "boolean", "timestamp", "array", "object"];

/// What a check tests.
#[derive(Clone, Debug)]
pub(crate) enum CheckKind {
    Required,
    Type(&'static str),
    Pattern(Box<Regex>),
    Enum(Vec<Value>),
    Min(Value),
    Max(Value),
    MinLength(usize),
    MaxLength(usize),
    Rule(Box<Program>),
}

/// A compiled check.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub kind: CheckKind,
    pub when: Option<Program>,
    pub message: Option<String>,
    pub severity: Severity,
}

/// A failed check: message and the expression or rule text that failed.
pub(crate) struct Failure {
    pub message: String,
    pub rule: String,
    pub severity: Severity,
}

fn describe_list(values: &[Value]) -> String {
    values.iter().map(Value::to_json).collect::<Vec<_>>().join(", ")
}

impl Check {
    /// The rule text as shown in errors and docs.
    pub fn describe(&self) -> String {
        match &self.kind {
            CheckKind::Required => "required: true".into(),
            CheckKind::Type(t) => format!("type: {t}"),
            CheckKind::Pattern(re) => format!("pattern: '{}'", re.as_str()),
            CheckKind::Enum(values) => format!("enum: [{}]", describe_list(values)),
            CheckKind::Min(v) => format!("min: {}", v.to_json()),
            CheckKind::Max(v) => format!("max: {}", v.to_json()),
            CheckKind::MinLength(n) => format!("min_length: {n}"),
            CheckKind::MaxLength(n) => format!("max_length: {n}"),
            CheckKind::Rule(p) => format!("rule: {}", p.text()),
        }
    }

    /// Runs the check on `value` (the field's final value); `ctx` has `out`
    /// with the field already set, for `rule:` and `when:`.
    pub fn run(&self, value: &Value, ctx: &Ctx) -> Option<Failure> {
        if let Some(when) = &self.when {
            match when.eval_bool(ctx) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    return Some(Failure {
                        message: format!("check condition failed: {}", e.message),
                        rule: format!("when: {}", when.text()),
                        severity: Severity::Error,
                    });
                }
            }
        }
        let default_message = match &self.kind {
            CheckKind::Required => value.is_null().then(|| "is required but is null".to_string()),
            _ if value.is_null() && !matches!(self.kind, CheckKind::Rule(_)) => None,
            CheckKind::Type(t) => {
                (!has_type(value, t)).then(|| format!("must be {} {t}, got {}", article(t), value.describe()))
            }
            CheckKind::Pattern(re) => match value {
                Value::String(s) if re.is_match(s) => None,
                Value::String(_) => Some(format!("{} does not match the pattern '{}'", value.describe(), re.as_str())),
                other => Some(format!("must be text to match the pattern '{}', got {}", re.as_str(), other.describe())),
            },
            CheckKind::Enum(allowed) => (!allowed.contains(value))
                .then(|| format!("{} is not one of {}", value.describe(), describe_list(allowed))),
            CheckKind::Min(bound) => bound_failure(value, bound, std::cmp::Ordering::Less, "at least"),
            CheckKind::Max(bound) => bound_failure(value, bound, std::cmp::Ordering::Greater, "at most"),
            CheckKind::MinLength(n) => length(value).and_then(|len| {
                (len < *n).then(|| format!("must be at least {n} long, got {len} ({})", value.describe()))
            }),
            CheckKind::MaxLength(n) => length(value).and_then(|len| {
                (len > *n).then(|| format!("must be at most {n} long, got {len} ({})", value.describe()))
            }),
            CheckKind::Rule(p) => match p.eval(ctx) {
                Ok(Value::Bool(true)) => None,
                Ok(v) => Some(format!("rule is not satisfied (it gave {})", v.to_json())),
                Err(e) => Some(format!("rule failed: {}", e.message)),
            },
        }?;
        Some(Failure {
            message: self.message.clone().unwrap_or(default_message),
            rule: self.describe(),
            severity: self.severity,
        })
    }
}

fn article(t: &str) -> &'static str {
    if t.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

fn length(v: &Value) -> Option<usize> {
    match v {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(a) => Some(a.len()),
        Value::Object(m) => Some(m.len()),
        _ => None,
    }
}

fn bound_failure(v: &Value, bound: &Value, bad: std::cmp::Ordering, word: &str) -> Option<String> {
    match mapwright_dsl::compare(v, bound) {
        Some(o) if o == bad => {
            Some(format!("must be {word} {}, got {}", bound.to_json().trim_matches('"'), v.to_json()))
        }
        Some(_) => None,
        None => {
            Some(format!("must be comparable with {} ({}), got {}", bound.to_json(), bound.kind().name(), v.describe()))
        }
    }
}

/// Whether `v` has the kind `t` (one of [`TYPE_NAMES`]).
pub(crate) fn has_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("string", Value::String(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.to_decimal().is_ok_and(|d| d.fract().is_zero()),
        ("boolean", Value::Bool(_)) => true,
        ("timestamp", Value::Timestamp(_)) => true,
        ("array", Value::Array(_)) => true,
        ("object", Value::Object(_)) => true,
        _ => false,
    }
}
