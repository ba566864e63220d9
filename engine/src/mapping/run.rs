//! Applying a compiled mapping to one record.
//!
//! A record's output is all-or-nothing: every field is evaluated (so every
//! problem is reported at once), and if any failed the record is
//! `Failed` with all the errors and no partial output escapes. Fields are
//! written into the output object in mapping order as they are computed,
//! so `out.x` sees exactly the fields above.

use std::sync::Arc;

use mapwright_dsl::{Ctx, Host, Map, Str, Value};

use super::{Compiled, EachValue, Field, FieldValue, Mapping, Table};
use crate::validate::{Check, Severity};

/// What happened to one record.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The record mapped to this output.
    Mapped(Value),
    /// `filter:` dropped it on purpose.
    Filtered,
    /// It failed; every reason is listed.
    Failed(Vec<FieldError>),
}

/// Why a field (or the record) failed.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The output field (`customer.email`, `lines[2].sku`), or `key`,
    /// `filter`, `validate` for record-level problems.
    pub field: String,
    /// The expression or rule that failed.
    pub expr: String,
    /// What went wrong.
    pub message: String,
    /// The offending value, when there is one.
    pub value: Option<Value>,
}

impl FieldError {
    /// The error as a dead-letter JSON object `{field, expr, message, value}`.
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(4);
        m.insert("field", Value::str(&self.field));
        m.insert("expr", Value::str(&self.expr));
        m.insert("message", Value::str(&self.message));
        m.insert("value", self.value.clone().unwrap_or(Value::Null));
        Value::object(m)
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (in `{}`)", self.field, self.message, self.expr)
    }
}

/// A record's outcome with its key and any warnings (`severity: warn`).
#[derive(Clone, Debug)]
pub struct Record {
    /// The value of `key:` (null without one or when it failed).
    pub key: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Checks with `severity: warn` that did not hold.
    pub warnings: Vec<FieldError>,
}

pub(crate) struct Tables<'a>(pub &'a [Table]);

impl Host for Tables<'_> {
    fn lookup(&self, table: usize, key: &str) -> Option<Value> {
        self.0.get(table)?.entries.get(key).cloned()
    }
}

impl Mapping {
    /// Maps one record given as a `serde_json::Value`.
    ///
    /// Numbers in a `serde_json::Value` are already `f64` or integers; for
    /// exact digits beyond `f64`, parse with [`Value::from_json`] and use
    /// [`Mapping::apply_value`].
    pub fn apply(&self, input: &serde_json::Value) -> Outcome {
        self.apply_value(&Value::from(input))
    }

    /// Maps one record.
    pub fn apply_value(&self, input: &Value) -> Outcome {
        self.run(input).outcome
    }

    /// Maps one record, returning its key and warnings too.
    pub fn run(&self, input: &Value) -> Record {
        run(&self.inner, input)
    }
}

fn run(m: &Compiled, input: &Value) -> Record {
    let host = Tables(&m.tables);
    let ctx = Ctx::new(input, &host);
    let mut b = Builder {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let key = match &m.key {
        Some(k) => match k.eval(&ctx) {
            Ok(v) => v,
            Err(e) => {
                b.errors.push(FieldError {
                    field: "key".into(),
                    expr: k.text().to_string(),
                    message: e.message,
                    value: e.value,
                });
                Value::Null
            }
        },
        None => Value::Null,
    };
    if let Some(f) = &m.filter {
        match f.eval_bool(&ctx) {
            Ok(true) => {}
            Ok(false) => {
                return Record {
                    key,
                    outcome: Outcome::Filtered,
                    warnings: Vec::new(),
                }
            }
            Err(e) => b.errors.push(FieldError {
                field: "filter".into(),
                expr: f.text().to_string(),
                message: e.message,
                value: e.value,
            }),
        }
    }
    let mut out = Value::object(Map::with_capacity(m.fields.len()));
    b.fields(m, &m.fields, &ctx, &mut out, &[], Prefix::Root);
    for rule in &m.rules {
        let rctx = ctx.with_out(&out);
        if let Some(f) = rule.run(&Value::Null, &rctx) {
            b.report("validate", f);
        }
    }
    let outcome = if b.errors.is_empty() {
        Outcome::Mapped(out)
    } else {
        Outcome::Failed(b.errors)
    };
    Record {
        key,
        outcome,
        warnings: b.warnings,
    }
}

struct Builder {
    errors: Vec<FieldError>,
    warnings: Vec<FieldError>,
}

/// Where a field sits, for messages: built only when an error is reported.
#[derive(Clone, Copy)]
enum Prefix<'a> {
    Root,
    Element(&'a str, usize),
}

impl Prefix<'_> {
    fn render(&self) -> String {
        match self {
            Prefix::Root => String::new(),
            Prefix::Element(name, i) => format!("{name}[{i}]"),
        }
    }
}

fn join(prefix: Prefix, at: &[Str], path: &[Str]) -> String {
    let mut s = prefix.render();
    for p in at.iter().chain(path) {
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(p);
    }
    s
}

/// The slot at `at ++ path` inside `target`, creating objects on the way.
fn slot<'v>(target: &'v mut Value, path: impl IntoIterator<Item = &'v Str>) -> &'v mut Value {
    let mut cur = target;
    for key in path {
        if !matches!(cur, Value::Object(_)) {
            *cur = Value::object(Map::new());
        }
        cur = match cur {
            Value::Object(map) => Arc::make_mut(map).entry_or_null(key),
            other => other,
        };
    }
    cur
}

impl Builder {
    fn report(&mut self, field: &str, f: crate::validate::Failure) {
        let e = FieldError {
            field: field.to_string(),
            expr: f.rule,
            message: f.message,
            value: None,
        };
        match f.severity {
            Severity::Error => self.errors.push(e),
            Severity::Warn => self.warnings.push(e),
        }
    }

    fn fail(&mut self, field: String, expr: &str, e: mapwright_dsl::EvalError) {
        self.errors.push(FieldError {
            field,
            expr: expr.to_string(),
            message: e.message,
            value: e.value,
        });
    }

    /// Builds `fields` into `target` (the current object scope: the record
    /// output, or an `each` element) under the path `at`.
    fn fields(&mut self, m: &Compiled, fields: &[Field], ctx: &Ctx, target: &mut Value, at: &[Str], prefix: Prefix) {
        for f in fields {
            if let Some(when) = &f.when {
                match when.eval_bool(&ctx.with_out(target)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        self.fail(join(prefix, at, &f.path), when.text(), e);
                        continue;
                    }
                }
            }
            let value = match &f.value {
                FieldValue::Nested(inner) => {
                    let s = slot(target, at.iter().chain(&f.path));
                    if !matches!(s, Value::Object(_)) {
                        *s = Value::object(Map::new());
                    }
                    let sub: Vec<Str> = at.iter().chain(&f.path).cloned().collect();
                    self.fields(m, inner, ctx, target, &sub, prefix);
                    continue;
                }
                FieldValue::Expr(p) => match p.eval(&ctx.with_out(target)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.fail(join(prefix, at, &f.path), p.text(), e);
                        continue;
                    }
                },
                FieldValue::Const(v) => v.clone(),
                FieldValue::Each { list, filter, item } => {
                    let name = join(prefix, at, &f.path);
                    match self.each(m, list, filter.as_ref(), item, &ctx.with_out(target), &name) {
                        Some(v) => v,
                        None => continue,
                    }
                }
            };
            let value = match (&value, &f.default) {
                (Value::Null, Some(d)) => d.clone(),
                _ => value,
            };
            let omit = value.is_null() && f.omit_null.unwrap_or(m.omit_nulls);
            if !omit {
                *slot(target, at.iter().chain(&f.path)) = value.clone();
            }
            if !f.checks.is_empty() {
                let name = join(prefix, at, &f.path);
                self.checks(&f.checks, &value, &ctx.with_out(target), &name);
            }
        }
    }

    fn checks(&mut self, checks: &[Check], value: &Value, ctx: &Ctx, name: &str) {
        for c in checks {
            if let Some(failure) = c.run(value, ctx) {
                let mut e = FieldError {
                    field: name.to_string(),
                    expr: failure.rule,
                    message: failure.message,
                    value: None,
                };
                if !value.is_null() {
                    e.value = Some(value.clone());
                }
                match failure.severity {
                    Severity::Error => self.errors.push(e),
                    Severity::Warn => self.warnings.push(e),
                }
            }
        }
    }

    fn each(
        &mut self,
        m: &Compiled,
        list: &mapwright_dsl::Program,
        filter: Option<&mapwright_dsl::Program>,
        item: &EachValue,
        ctx: &Ctx,
        name: &str,
    ) -> Option<Value> {
        let items = match list.eval(ctx) {
            Ok(Value::Null) => return Some(Value::Null),
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                self.errors.push(FieldError {
                    field: name.to_string(),
                    expr: list.text().to_string(),
                    message: format!("`each:` needs a list, got {}", other.describe()),
                    value: Some(other),
                });
                return None;
            }
            Err(e) => {
                self.fail(name.to_string(), list.text(), e);
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, element) in items.iter().enumerate() {
            let kept = out.len();
            if let Some(w) = filter {
                match w.eval_bool(&ctx.element(element, kept)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        self.fail(format!("{name}[{i}]"), w.text(), e);
                        ok = false;
                        continue;
                    }
                }
            }
            let ectx = ctx.element(element, kept);
            match item {
                EachValue::Expr(p) => match p.eval(&ectx) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        self.fail(format!("{name}[{kept}]"), p.text(), e);
                        ok = false;
                        out.push(Value::Null);
                    }
                },
                EachValue::Fields(fields) => {
                    let mut obj = Value::object(Map::with_capacity(fields.len()));
                    let before = self.errors.len();
                    self.fields(m, fields, &ectx, &mut obj, &[], Prefix::Element(name, kept));
                    ok &= self.errors.len() == before;
                    out.push(obj);
                }
            }
        }
        ok.then(|| Value::array(out))
    }
}
