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

/// A record's outcome with its key, warnings, drift and lineage.
#[derive(Clone, Debug)]
pub struct Record {
    /// The value of `key:` (or the join key of a multi-source record; null
    /// without one or when it failed).
    pub key: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Checks with `severity: warn` that did not hold.
    pub warnings: Vec<FieldError>,
    /// Sources that disagreed on fields with `on_conflict: report`.
    pub drift: Vec<crate::truth::Drift>,
    /// Where each output field came from (only from [`Mapping::explain`]).
    pub lineage: Vec<Lineage>,
}

/// Where an output field's value came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Lineage {
    /// The output field (`customer.email`).
    pub field: String,
    /// The value written (null when left out).
    pub value: Value,
    /// The winning source of a `from:` field; for an expression, the
    /// sources it reads (`$` for a single-source mapping).
    pub source: Option<String>,
    /// The expression that produced the value.
    pub expr: String,
    /// The input paths the expression reads.
    pub reads: Vec<String>,
    /// Whether `default:` supplied the value.
    pub default_used: bool,
    /// Whether a lower-precedence source supplied it because the preferred
    /// one had no value.
    pub fallback: bool,
}

impl Lineage {
    /// The lineage as a JSON object.
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(7);
        m.insert("field", Value::str(&self.field));
        m.insert("value", self.value.clone());
        m.insert("source", self.source.as_deref().map_or(Value::Null, Value::str));
        m.insert("expr", Value::str(&self.expr));
        m.insert("reads", Value::array(self.reads.iter().map(|r| Value::str(r)).collect()));
        m.insert("default_used", Value::Bool(self.default_used));
        m.insert("fallback", Value::Bool(self.fallback));
        Value::object(m)
    }
}

/// Lookups and hook functions at run time.
pub(crate) struct Tables<'a>(pub &'a [Table], pub Option<&'a crate::hooks::Hooks>);

impl Host for Tables<'_> {
    fn lookup(&self, table: usize, key: &str) -> Option<Value> {
        self.0.get(table)?.entries.get(key).cloned()
    }

    fn call(&self, id: usize, args: &[Value]) -> Result<Value, String> {
        match self.1 {
            Some(h) => h.call(id, args),
            None => Err("no hook script is loaded".into()),
        }
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
        run(&self.inner, input, &[], None, false)
    }

    /// Maps one joined group of a multi-source mapping: the join key and
    /// one record per source (null where the source lacks the key), in
    /// [`Mapping::sources`] order.
    pub fn run_joined(&self, key: &Value, records: &[Value]) -> Record {
        run(&self.inner, &Value::Null, records, Some(key), false)
    }

    /// Like [`Mapping::run`] / [`Mapping::run_joined`] (pass an empty
    /// `records` for a single-source mapping), also recording the lineage
    /// of every output field.
    pub fn explain(&self, input: &Value, key: Option<&Value>, records: &[Value]) -> Record {
        run(&self.inner, input, records, key, true)
    }
}

fn run(m: &Compiled, input: &Value, sources: &[Value], join_key: Option<&Value>, lineage: bool) -> Record {
    let host = Tables(&m.tables, m.hooks.as_ref());
    // `before` may rewrite the record or drop it.
    let rewritten;
    let input = match m.hooks.as_ref().map(|h| h.before(input)) {
        None => input,
        Some(Ok(Some(v))) => {
            rewritten = v;
            &rewritten
        }
        Some(Ok(None)) => {
            return Record {
                key: Value::Null,
                outcome: Outcome::Filtered,
                warnings: Vec::new(),
                drift: Vec::new(),
                lineage: Vec::new(),
            };
        }
        Some(Err(message)) => {
            let error = FieldError {
                field: "hooks.before".into(),
                expr: m.hooks.as_ref().and_then(|h| h.before.clone()).unwrap_or_default(),
                message,
                value: None,
            };
            return Record {
                key: Value::Null,
                outcome: Outcome::Failed(vec![error]),
                warnings: Vec::new(),
                drift: Vec::new(),
                lineage: Vec::new(),
            };
        }
    };
    // A single-source record is a JSON object; anything else is a data
    // error worth a dead letter, not an empty output.
    if sources.is_empty() && !matches!(input, Value::Object(_)) {
        let error = FieldError {
            field: String::new(),
            expr: "$".into(),
            message: format!("a record must be a JSON object, got {}", input.describe()),
            value: Some(input.clone()),
        };
        return Record {
            key: Value::Null,
            outcome: Outcome::Failed(vec![error]),
            warnings: Vec::new(),
            drift: Vec::new(),
            lineage: Vec::new(),
        };
    }
    let mut ctx = Ctx::new(input, &host);
    ctx.sources = sources;
    let mut b = Builder {
        errors: Vec::new(),
        incomplete: false,
        warnings: Vec::new(),
        drift: Vec::new(),
        lineage: lineage.then(Vec::new),
        names: &m.sources,
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
        None => join_key.cloned().unwrap_or(Value::Null),
    };
    if let Some(f) = &m.filter {
        match f.eval_bool(&ctx) {
            Ok(true) => {}
            Ok(false) => {
                return Record {
                    key,
                    outcome: Outcome::Filtered,
                    warnings: Vec::new(),
                    drift: Vec::new(),
                    lineage: Vec::new(),
                };
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
    b.fields(m, &m.fields, &ctx, &mut out, Prefix::Root);
    // Record rules read the finished output: they run when every field has
    // a value (failed checks leave the output complete, and their rules
    // are listed too), not when a field's expression failed.
    if !b.incomplete {
        for rule in &m.rules {
            let rctx = ctx.with_out(&out);
            if let Some(f) = rule.run(&Value::Null, &rctx) {
                b.report("validate", f);
            }
        }
    }
    // `after` sees the finished output and the input.
    if b.errors.is_empty() {
        if let Some(h) = m.hooks.as_ref().filter(|h| h.after.is_some()) {
            match h.after(&out, input) {
                Ok(v) => out = v,
                Err(message) => b.errors.push(FieldError {
                    field: "hooks.after".into(),
                    expr: h.after.clone().unwrap_or_default(),
                    message,
                    value: None,
                }),
            }
        }
    }
    // The contract checks the final output.
    if let (true, Some((schema, _))) = (b.errors.is_empty(), &m.contract) {
        let json = serde_json::Value::from(&out);
        for e in schema.iter_errors(&json) {
            let pointer = e.instance_path().as_str().to_string();
            b.errors.push(FieldError {
                field: if pointer.is_empty() { "/".into() } else { pointer },
                expr: format!("contract: {}", e.kind().keyword()),
                message: format!("violates the contract's `{}`: {e}", e.kind().keyword()),
                value: Some(Value::from(e.instance().as_ref())),
            });
        }
    }
    let outcome = if b.errors.is_empty() { Outcome::Mapped(out) } else { Outcome::Failed(b.errors) };
    Record { key, outcome, warnings: b.warnings, drift: b.drift, lineage: b.lineage.unwrap_or_default() }
}

struct Builder<'m> {
    errors: Vec<FieldError>,
    /// Whether some field has no value (its expression failed).
    incomplete: bool,
    warnings: Vec<FieldError>,
    drift: Vec<crate::truth::Drift>,
    lineage: Option<Vec<Lineage>>,
    names: &'m [super::SourceDef],
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

fn join(prefix: Prefix, path: &[Str]) -> String {
    let mut s = prefix.render();
    for p in path {
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(p);
    }
    s
}

/// The slot at `path` inside `target`, creating objects on the way.
fn slot<'v>(target: &'v mut Value, path: &[Str]) -> &'v mut Value {
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

/// Writes a value field at `path` inside `target`. Its last key is new
/// there (a path is set once), so it is appended without a search.
fn put(target: &mut Value, path: &[Str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = slot(target, parents);
    if !matches!(parent, Value::Object(_)) {
        *parent = Value::object(Map::new());
    }
    if let Value::Object(map) = parent {
        Arc::make_mut(map).push_unique(last.clone(), value);
    }
}

impl Builder<'_> {
    fn report(&mut self, field: &str, f: crate::validate::Failure) {
        let e = FieldError { field: field.to_string(), expr: f.rule, message: f.message, value: None };
        match f.severity {
            Severity::Error => self.errors.push(e),
            Severity::Warn => self.warnings.push(e),
        }
    }

    fn fail(&mut self, field: String, expr: &str, e: mapwright_dsl::EvalError) {
        self.incomplete = true;
        self.errors.push(FieldError { field, expr: expr.to_string(), message: e.message, value: e.value });
    }

    /// Builds `fields` into `target` (the current object scope: the record
    /// output, or an `each` element) at their paths from it.
    fn fields(&mut self, m: &Compiled, fields: &[Field], ctx: &Ctx, target: &mut Value, prefix: Prefix) {
        for f in fields {
            if let Some(when) = &f.when {
                match when.eval_bool(&ctx.with_out(target)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        self.fail(join(prefix, &f.abs), when.text(), e);
                        continue;
                    }
                }
            }
            let value = match &f.value {
                FieldValue::Nested(inner) => {
                    let s = slot(target, &f.abs);
                    if !matches!(s, Value::Object(_)) {
                        *s = Value::object(Map::with_capacity(inner.len()));
                    }
                    self.fields(m, inner, ctx, target, prefix);
                    continue;
                }
                FieldValue::Expr(p) => match p.eval(&ctx.with_out(target)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.fail(join(prefix, &f.abs), p.text(), e);
                        continue;
                    }
                },
                FieldValue::Const(v) => v.clone(),
                FieldValue::Truth(rule) => match rule.resolve(&ctx.with_out(target)) {
                    Ok(r) => {
                        let name = join(prefix, &f.abs);
                        self.truth_outcome(rule, &r, &name);
                        if let Some(l) = &mut self.lineage {
                            let winner = r.winner.map(|w| &rule.candidates[w]);
                            l.push(Lineage {
                                field: name,
                                value: r.value.clone(),
                                source: winner.map(|(s, _)| self.names[*s].name.clone()),
                                expr: winner.map_or_else(String::new, |(_, p)| p.text().to_string()),
                                reads: winner.map_or_else(Vec::new, |(_, p)| reads_text(p, self.names)),
                                default_used: r.value.is_null() && f.default.is_some(),
                                fallback: r.fallback,
                            });
                        }
                        r.value
                    }
                    Err(e) => {
                        self.fail(join(prefix, &f.abs), &e.expr, e.error);
                        continue;
                    }
                },
                FieldValue::Each(e) => {
                    let name = join(prefix, &f.abs);
                    match self.each(m, &e.list, e.filter.as_ref(), &e.item, &ctx.with_out(target), &name) {
                        Some(v) => v,
                        None => continue,
                    }
                }
            };
            let defaulted = value.is_null() && f.default.is_some();
            let value = match (&value, &f.default) {
                (Value::Null, Some(d)) => d.clone(),
                _ => value,
            };
            if let Some(l) = &mut self.lineage {
                let program = match &f.value {
                    FieldValue::Expr(p) => Some(p),
                    FieldValue::Each(e) => Some(&e.list),
                    _ => None,
                };
                match &f.value {
                    // The rule's entry was written when it was resolved.
                    FieldValue::Truth(_) => {
                        if let Some(last) = l.last_mut() {
                            last.value = value.clone();
                        }
                    }
                    _ => l.push(Lineage {
                        field: join(prefix, &f.abs),
                        value: value.clone(),
                        source: program.and_then(|p| sources_read(p, self.names)),
                        expr: program.map_or_else(String::new, |p| p.text().to_string()),
                        reads: program.map_or_else(Vec::new, |p| reads_text(p, self.names)),
                        default_used: defaulted,
                        fallback: false,
                    }),
                }
            }
            let omit = value.is_null() && f.omit_null.unwrap_or(m.omit_nulls);
            if !f.checks.is_empty() {
                if !omit {
                    put(target, &f.abs, value.clone());
                }
                let name = join(prefix, &f.abs);
                self.checks(&f.checks, &value, &ctx.with_out(target), &name);
            } else if !omit {
                put(target, &f.abs, value);
            }
        }
    }

    /// Reports a conflict of a `from:` rule as drift or as an error.
    fn truth_outcome(&mut self, rule: &crate::truth::TruthRule, r: &crate::truth::Resolved, name: &str) {
        let (Some(values), Some(w)) = (&r.conflict, r.winner) else {
            return;
        };
        let winner = self.names[rule.candidates[w].0].name.clone();
        let named: Vec<(String, Value)> =
            values.iter().map(|(s, v)| (self.names[*s].name.clone(), v.clone())).collect();
        match rule.on_conflict {
            crate::truth::OnConflict::Ignore => {}
            crate::truth::OnConflict::Report => {
                self.drift.push(crate::truth::Drift { field: name.to_string(), values: named, winner })
            }
            crate::truth::OnConflict::Error => self.errors.push(FieldError {
                field: name.to_string(),
                expr: format!(
                    "from: {{ {} }}",
                    rule.candidates
                        .iter()
                        .map(|(s, p)| format!("{}: {}", self.names[*s].name, p.text()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                message: format!(
                    "sources disagree: {}",
                    named.iter().map(|(s, v)| format!("{s}={}", v.to_json())).collect::<Vec<_>>().join(", ")
                ),
                value: Some(r.value.clone()),
            }),
        }
    }

    fn checks(&mut self, checks: &[Check], value: &Value, ctx: &Ctx, name: &str) {
        let mut wrong_type = false;
        for c in checks {
            // After a type error, bounds and patterns only repeat it.
            let about_value =
                !matches!(c.kind, crate::validate::CheckKind::Rule(_) | crate::validate::CheckKind::Required);
            if wrong_type && about_value {
                continue;
            }
            if let Some(failure) = c.run(value, ctx) {
                wrong_type |= matches!(c.kind, crate::validate::CheckKind::Type(_));
                let mut e =
                    FieldError { field: name.to_string(), expr: failure.rule, message: failure.message, value: None };
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
                self.incomplete = true;
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
                    self.fields(m, fields, &ectx, &mut obj, Prefix::Element(name, kept));
                    ok &= self.errors.len() == before;
                    out.push(obj);
                }
            }
        }
        ok.then(|| Value::array(out))
    }
}

/// The input paths a program reads, with source names.
fn reads_text(p: &mapwright_dsl::Program, names: &[super::SourceDef]) -> Vec<String> {
    p.reads()
        .iter()
        .filter(|r| r.whole)
        .map(|r| {
            let text = r.to_string();
            match r.root {
                mapwright_dsl::ReadRoot::Source(i) => {
                    let name = names.get(i).map_or("?", |s| s.name.as_str());
                    text.replacen(&format!("$source{i}"), &format!("${name}"), 1)
                }
                mapwright_dsl::ReadRoot::Input => text,
            }
        })
        .collect()
}

/// The sources an expression reads: `$` for the input of a single-source
/// mapping, source names joined by `+` otherwise; none for constants.
fn sources_read(p: &mapwright_dsl::Program, names: &[super::SourceDef]) -> Option<String> {
    let mut roots: Vec<String> = p
        .reads()
        .iter()
        .map(|r| match r.root {
            mapwright_dsl::ReadRoot::Input => "$".to_string(),
            mapwright_dsl::ReadRoot::Source(i) => names.get(i).map_or("?".to_string(), |s| s.name.clone()),
        })
        .collect();
    roots.dedup();
    roots.sort();
    roots.dedup();
    (!roots.is_empty()).then(|| roots.join("+"))
}
