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

/// What happened to one record: it ended in exactly one of three places.
///
/// Exhaustive on purpose (unlike the engine's structs): a record goes to
/// the output, the filtered count or the dead letter, and a fourth place
/// would be a change every caller must handle.
///
/// ```
/// use mapwright_engine::{Mapping, Outcome, Value};
///
/// let m = Mapping::from_yaml("mapping: m\nfilter: not $.test\nfields:\n  qty: { expr: $.qty, min: 1 }\n", "m.yaml")?;
/// let record = |json: &str| Value::from_json(json).unwrap();
/// assert!(matches!(m.apply(&record(r#"{"qty": 2}"#)), Outcome::Mapped(_)));
/// assert_eq!(m.apply(&record(r#"{"qty": 2, "test": true}"#)), Outcome::Filtered);
/// let Outcome::Failed(errors) = m.apply(&record(r#"{"qty": 0}"#)) else { panic!() };
/// assert_eq!(errors[0].field, "qty");
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The record mapped to this output.
    Mapped(Value),
    /// `filter:` dropped it on purpose.
    Filtered,
    /// It failed; every reason is listed.
    Failed(Vec<FieldError>),
}

/// Why a field (or the record) failed: the field, the expression or rule,
/// the message and the offending value — what a dead letter carries.
///
/// ```
/// use mapwright_engine::{FieldError, Value};
///
/// let e = FieldError::new("total", "number($.total)", "cannot read \"abc\" as a number", Some(Value::str("abc")));
/// assert_eq!(e.to_string(), "total: cannot read \"abc\" as a number (in `number($.total)`)");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
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
    /// An error of `field` in `expr`, with what went wrong and the value.
    ///
    /// ```
    /// let e = mapwright_engine::FieldError::new("", "sink", "HTTP 422", None);
    /// assert_eq!(e.message, "HTTP 422");
    /// ```
    pub fn new(
        field: impl Into<String>,
        expr: impl Into<String>,
        message: impl Into<String>,
        value: Option<Value>,
    ) -> FieldError {
        FieldError { field: field.into(), expr: expr.into(), message: message.into(), value }
    }

    /// The error as a dead-letter JSON object `{field, expr, message, value}`.
    ///
    /// ```
    /// let e = mapwright_engine::FieldError::new("sku", "upper($.sku)", "not text", None);
    /// assert_eq!(e.to_value().to_json(), r#"{"field":"sku","expr":"upper($.sku)","message":"not text","value":null}"#);
    /// ```
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
///
/// ```
/// use mapwright_engine::{Mapping, Value};
///
/// let m = Mapping::from_yaml(
///     "mapping: m\nkey: $.id\nfields:\n  qty: { expr: $.qty, checks: [{ min: 1, message: no quantity, severity: warn }] }\n",
///     "m.yaml",
/// )?;
/// let r = m.run(&Value::from_json(r#"{"id": "A-1", "qty": 0}"#).unwrap());
/// assert_eq!(r.key, Value::str("A-1"));
/// assert_eq!(r.warnings[0].message, "no quantity");
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Record {
    /// The value of `key:` (or the join key of a multi-source record; null
    /// without one or when it failed).
    pub key: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Checks with `severity: warn` that did not hold.
    pub warnings: Vec<FieldError>,
    /// Sources that disagreed on fields with `on_conflict: report`.
    pub drift: Vec<crate::Drift>,
    /// Where each output field came from (only from [`Mapping::explain`]).
    pub lineage: Vec<Lineage>,
}

/// Where an output field's value came from (see [`Mapping::explain`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
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
    /// The lineage as a JSON object `{field, value, source, expr, reads,
    /// default_used, fallback}`.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Value};
    ///
    /// let m = Mapping::from_yaml("mapping: m\nfields:\n  sku: $.sku | upper\n", "m.yaml")?;
    /// let r = m.explain(&Value::from_json(r#"{"sku": "ab"}"#).unwrap(), None, &[]);
    /// assert_eq!(
    ///     r.lineage[0].to_value().to_json(),
    ///     r#"{"field":"sku","value":"AB","source":"$","expr":"$.sku | upper","reads":["$.sku"],"default_used":false,"fallback":false}"#
    /// );
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
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
    /// Maps one record: exact values in, exact values out.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Outcome, Value};
    ///
    /// let m = Mapping::from_yaml("mapping: m\nfields:\n  total: $.price * $.qty\n", "m.yaml")?;
    /// let input = Value::from_json(r#"{"price": 19.99, "qty": 3}"#).unwrap();
    /// assert_eq!(m.apply(&input), Outcome::Mapped(Value::from_json(r#"{"total": 59.97}"#).unwrap()));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn apply(&self, input: &Value) -> Outcome {
        self.run(input).outcome
    }

    /// Maps one record given as a `serde_json::Value` — lossy: serde_json
    /// has already read every number as an `f64` or an integer, so digits
    /// beyond an `f64` are gone before the mapping sees them (`0.1 + 0.2`
    /// still works: the nearest decimal of the `f64` is used). For exact
    /// numbers read the text with [`Value::from_json`] and call
    /// [`Mapping::apply`].
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Outcome};
    ///
    /// let m = Mapping::from_yaml("mapping: m\nfields:\n  id: '\"SO-\" + string($.id)'\n", "m.yaml")?;
    /// let Outcome::Mapped(out) = m.apply_json_lossy(&serde_json::json!({"id": 1042})) else { panic!() };
    /// assert_eq!(out.to_json(), r#"{"id":"SO-1042"}"#);
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn apply_json_lossy(&self, input: &serde_json::Value) -> Outcome {
        self.apply(&Value::from(input))
    }

    /// Maps one record, returning its key, warnings and drift too.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Value};
    ///
    /// let m = Mapping::from_yaml("mapping: m\nkey: $.id\nfields:\n  id: $.id\n", "m.yaml")?;
    /// assert_eq!(m.run(&Value::from_json(r#"{"id": 7}"#).unwrap()).key.to_json(), "7");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn run(&self, input: &Value) -> Record {
        run(&self.inner, input, &[], None, false)
    }

    /// Maps one joined group of a multi-source mapping: the join key and
    /// one record per source (null where the source lacks the key), in
    /// [`Mapping::sources`] order.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Outcome, Value};
    ///
    /// let m = Mapping::from_yaml(
    ///     "mapping: m\nsources: { erp: $.sku, shop: $.sku }\nprefer: [erp, shop]\nfields:\n  price: { from: { erp: $erp.price, shop: $shop.price } }\n",
    ///     "m.yaml",
    /// )?;
    /// let shop = Value::from_json(r#"{"sku": "A", "price": 9.5}"#).unwrap();
    /// let r = m.run_joined(&Value::str("A"), &[Value::Null, shop]);
    /// assert_eq!(r.outcome, Outcome::Mapped(Value::from_json(r#"{"price": 9.5}"#).unwrap()), "the ERP has no record: the shop's price");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn run_joined(&self, key: &Value, records: &[Value]) -> Record {
        run(&self.inner, &Value::Null, records, Some(key), false)
    }

    /// Like [`Mapping::run`] / [`Mapping::run_joined`] (pass an empty
    /// `records` for a single-source mapping), also recording the lineage
    /// of every output field.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Value};
    ///
    /// let m = Mapping::from_yaml("mapping: m\nfields:\n  note: { expr: $.note, default: none }\n", "m.yaml")?;
    /// let r = m.explain(&Value::from_json("{}").unwrap(), None, &[]);
    /// assert!(r.lineage[0].default_used);
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
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
    if let (true, Some(contract)) = (b.errors.is_empty(), &m.contract) {
        b.errors.extend(contract.check(&out));
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
        let names = self.names;
        match rule.conflict(r, |s| names[s].name.as_str(), name) {
            Some(crate::truth::Conflict::Drift(d)) => self.drift.push(d),
            Some(crate::truth::Conflict::Error(e)) => self.errors.push(e),
            None => {}
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
