//! Source of truth: choosing, per field of a multi-source mapping, which
//! system's value wins, and what a disagreement does (README "Several
//! systems, one record"). Grouping the records by key is `join.rs`.
//!
//! A field with `from:` has one candidate expression per source. Null
//! candidates (a missing system, a missing field) never win and never
//! conflict. The winner is the first non-null candidate in precedence order
//! — the field's `prefer:`, then the mapping's, then `from:` order — or,
//! with `prefer: latest`, the one whose `updated_at` is newest (ties go to
//! precedence order). Candidates that disagree with the winner (beyond
//! `tolerance:` for numbers) are a conflict: reported to the drift output,
//! failing the record, or ignored, as `on_conflict:` says.

use mapwright_dsl::jiff::Timestamp;
use mapwright_dsl::{Ctx, Decimal, EvalError, Number, Program, Value};

use crate::FieldError;
use crate::mapping::Mapping;

/// What to do when sources disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnConflict {
    Ignore,
    Report,
    Error,
}

/// The words of `on_conflict:` and what they mean.
pub(crate) const ON_CONFLICT: [(&str, OnConflict); 3] =
    [("report", OnConflict::Report), ("error", OnConflict::Error), ("ignore", OnConflict::Ignore)];

/// A compiled `from:` rule.
#[derive(Clone, Debug)]
pub(crate) struct TruthRule {
    /// Source index and candidate expression, in `from:` order.
    pub candidates: Vec<(usize, Program)>,
    /// Positions into `candidates`, in precedence order.
    pub order: Vec<usize>,
    /// For `prefer: latest`: the freshness expression per candidate, with
    /// the source whose record is its `$` when it is the source-level
    /// `updated_at:` (a field-level one reads `$name` itself).
    pub latest: Option<Vec<(Program, Option<usize>)>>,
    pub tolerance: Option<Decimal>,
    pub on_conflict: OnConflict,
}

/// The result of resolving a rule for one record.
pub(crate) struct Resolved {
    pub value: Value,
    /// The winning candidate's position, when one won.
    pub winner: Option<usize>,
    /// All non-null candidates (source index, value), when they disagree.
    pub conflict: Option<Vec<(usize, Value)>>,
    /// Whether the winner is not the first source in precedence.
    pub fallback: bool,
}

/// What a disagreement of the candidates comes to.
pub(crate) enum Conflict {
    /// `on_conflict: report`: a drift line.
    Drift(Drift),
    /// `on_conflict: error`: the field fails.
    Error(FieldError),
}

/// A failure while resolving: the expression and the error.
pub(crate) struct RuleError {
    pub expr: String,
    pub error: EvalError,
}

impl TruthRule {
    /// What the disagreement found by [`TruthRule::resolve`] comes to, as
    /// `on_conflict:` says: nothing (`ignore`, or no disagreement), a drift
    /// line naming every source's value and the winner (`report`), or an
    /// error of `field` (`error`). `name` gives a source's name.
    pub fn conflict<'n>(&self, r: &Resolved, name: impl Fn(usize) -> &'n str, field: &str) -> Option<Conflict> {
        let (Some(values), Some(w)) = (&r.conflict, r.winner) else {
            return None;
        };
        let named: Vec<(String, Value)> = values.iter().map(|(s, v)| (name(*s).to_string(), v.clone())).collect();
        match self.on_conflict {
            OnConflict::Ignore => None,
            OnConflict::Report => Some(Conflict::Drift(Drift {
                field: field.to_string(),
                values: named,
                winner: name(self.candidates[w].0).to_string(),
            })),
            OnConflict::Error => {
                let expr =
                    self.candidates.iter().map(|(s, p)| format!("{}: {}", name(*s), p.text())).collect::<Vec<_>>();
                let values = named.iter().map(|(s, v)| format!("{s}={}", v.to_json())).collect::<Vec<_>>();
                Some(Conflict::Error(FieldError::new(
                    field,
                    format!("from: {{ {} }}", expr.join(", ")),
                    format!("sources disagree: {}", values.join(", ")),
                    Some(r.value.clone()),
                )))
            }
        }
    }

    /// Evaluates every candidate and picks the winner.
    pub fn resolve(&self, ctx: &Ctx) -> Result<Resolved, RuleError> {
        let mut values = Vec::with_capacity(self.candidates.len());
        for (_, p) in &self.candidates {
            let v = p.eval(ctx).map_err(|error| RuleError { expr: p.text().to_string(), error })?;
            values.push(v);
        }
        let winner = match &self.latest {
            None => self.order.iter().copied().find(|&i| !values[i].is_null()),
            Some(stamps) => {
                let mut best: Option<(usize, Option<Timestamp>)> = None;
                for &i in &self.order {
                    if values[i].is_null() {
                        continue;
                    }
                    let (p, own) = &stamps[i];
                    let raw = match own {
                        Some(s) => p.eval(&Ctx { input: ctx.sources.get(*s).unwrap_or(&Value::Null), ..*ctx }),
                        None => p.eval(ctx),
                    }
                    .map_err(|error| RuleError { expr: p.text().to_string(), error })?;
                    let at = mapwright_dsl::functions::instant_of(&raw).map_err(|m| RuleError {
                        expr: p.text().to_string(),
                        error: EvalError::new(Default::default(), format!("updated_at: {m}")).with_value(raw.clone()),
                    })?;
                    // Strictly newer wins, so ties keep precedence order;
                    // a candidate without a time is the oldest.
                    let newer = match (&best, at) {
                        (None, _) => true,
                        (Some((_, Some(b))), Some(a)) => a > *b,
                        (Some((_, None)), Some(_)) => true,
                        (Some(_), None) => false,
                    };
                    if newer {
                        best = Some((i, at));
                    }
                }
                best.map(|(i, _)| i)
            }
        };
        let Some(w) = winner else {
            return Ok(Resolved { value: Value::Null, winner: None, conflict: None, fallback: false });
        };
        let disagree = values.iter().any(|v| !v.is_null() && !self.agrees(v, &values[w]));
        let conflict = disagree.then(|| {
            self.candidates
                .iter()
                .zip(&values)
                .filter(|(_, v)| !v.is_null())
                .map(|((s, _), v)| (*s, v.clone()))
                .collect()
        });
        Ok(Resolved {
            // With `latest` freshness decides, so no winner is a fallback.
            fallback: self.latest.is_none() && self.order.first() != Some(&w),
            value: values.swap_remove(w),
            winner: Some(w),
            conflict,
        })
    }

    fn agrees(&self, a: &Value, b: &Value) -> bool {
        match (a, b, self.tolerance) {
            (Value::Number(x), Value::Number(y), Some(t)) => match (x.to_decimal(), y.to_decimal()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= t,
                _ => a == b,
            },
            _ => a == b,
        }
    }
}

/// One disagreement between sources, for the drift report (fields with
/// `on_conflict: report`).
///
/// ```
/// use mapwright_engine::{Mapping, Value};
///
/// let m = Mapping::from_yaml(
///     "mapping: m\nsources: { erp: $.sku, shop: $.sku }\nfields:\n  price: { from: { erp: $erp.price, shop: $shop.price }, on_conflict: report }\n",
///     "m.yaml",
/// )?;
/// let (erp, shop) = (Value::from_json(r#"{"sku": "A", "price": 10}"#).unwrap(), Value::from_json(r#"{"sku": "A", "price": 12}"#).unwrap());
/// let r = m.run_joined(&Value::str("A"), &[erp, shop]);
/// assert_eq!((r.drift[0].field.as_str(), r.drift[0].winner.as_str()), ("price", "erp"));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Drift {
    /// The output field.
    pub field: String,
    /// Each source's (non-null) value.
    pub values: Vec<(String, Value)>,
    /// The source whose value was written.
    pub winner: String,
}

impl Drift {
    /// The drift line `{key, field, values: {source: value}, winner, mapping, at}`.
    ///
    /// ```
    /// use mapwright_engine::{Mapping, Value};
    ///
    /// let m = Mapping::from_yaml(
    ///     "mapping: m\nsources: { erp: $.sku, shop: $.sku }\nfields:\n  price: { from: { erp: $erp.price, shop: $shop.price }, on_conflict: report }\n",
    ///     "m.yaml",
    /// )?;
    /// let (erp, shop) = (Value::from_json(r#"{"sku": "A", "price": 10}"#).unwrap(), Value::from_json(r#"{"sku": "A", "price": 12}"#).unwrap());
    /// let r = m.run_joined(&Value::str("A"), &[erp, shop]);
    /// let line = r.drift[0].to_value(&r.key, &m);
    /// assert_eq!(line.get("values").unwrap().to_json(), r#"{"erp":10,"shop":12}"#);
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn to_value(&self, key: &Value, mapping: &Mapping) -> Value {
        let mut m = mapwright_dsl::Map::with_capacity(6);
        m.insert("key", key.clone());
        m.insert("field", Value::str(&self.field));
        m.insert(
            "values",
            Value::object(self.values.iter().map(|(s, v)| (mapwright_dsl::Str::from(s.as_str()), v.clone())).collect()),
        );
        m.insert("winner", Value::str(&self.winner));
        m.insert("mapping", Value::str(mapping.name()));
        m.insert("at", Value::Timestamp(Timestamp::now()));
        Value::object(m)
    }
}

/// A number's exact decimal, for `tolerance:`.
pub(crate) fn tolerance_of(text: &str) -> Option<Decimal> {
    match Number::from_json_text(text) {
        Number::Dec(d) if !d.is_sign_negative() => Some(d),
        _ => None,
    }
}
