//! Source of truth: joining records from several systems by key, and
//! choosing, per field, which system's value wins (SPEC §4 multi-source).
//!
//! A field with `from:` has one candidate expression per source. Null
//! candidates (a missing system, a missing field) never win and never
//! conflict. The winner is the first non-null candidate in precedence order
//! — the field's `prefer:`, then the mapping's, then `from:` order — or,
//! with `prefer: latest`, the one whose `updated_at` is newest (ties go to
//! precedence order). Candidates that disagree with the winner (beyond
//! `tolerance:` for numbers) are a conflict: reported to the drift output,
//! failing the record, or ignored, as `on_conflict:` says.
//!
//! The [`Joiner`] groups records of all sources by their join key. It
//! holds one (projected) record per source per distinct key, so its memory
//! is proportional to the number of distinct keys times the projected
//! record size — not to the size of the inputs.

use std::collections::HashMap;

use mapwright_dsl::jiff::Timestamp;
use mapwright_dsl::{Ctx, Decimal, EvalError, Number, Program, Value};

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

/// A failure while resolving: the expression and the error.
pub(crate) struct RuleError {
    pub expr: String,
    pub error: EvalError,
}

impl TruthRule {
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

/// One disagreement between sources, for the drift report.
#[derive(Clone, Debug, PartialEq)]
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

/// Why a source record could not be joined.
#[derive(Clone, Debug)]
pub struct JoinError {
    /// The source.
    pub source: String,
    /// What went wrong (the key failed or was null).
    pub message: String,
    /// The key expression.
    pub expr: String,
}

/// A source's record for one key, with its freshness.
type Slot = Option<(Value, Option<Timestamp>)>;

/// Groups the records of every source by join key (a full outer join).
pub struct Joiner<'m> {
    mapping: &'m Mapping,
    index: HashMap<String, usize>,
    groups: Vec<(Value, Vec<Slot>)>,
    duplicates: u64,
}

impl<'m> Joiner<'m> {
    /// A joiner for a multi-source mapping.
    pub fn new(mapping: &'m Mapping) -> Joiner<'m> {
        Joiner { mapping, index: HashMap::new(), groups: Vec::new(), duplicates: 0 }
    }

    /// Adds a record of source `source` (its position in
    /// [`Mapping::sources`]). A second record with the same key replaces
    /// the first when it is at least as fresh (by the source's
    /// `updated_at`), else it is dropped; both count as a duplicate.
    pub fn add(&mut self, source: usize, record: Value) -> Result<(), JoinError> {
        let def = &self.mapping.inner.sources[source];
        let host = crate::mapping::Tables(&self.mapping.inner.tables, self.mapping.inner.hooks.as_ref());
        let ctx = Ctx::new(&record, &host);
        let fail = |message: String| JoinError { source: def.name.clone(), message, expr: def.key.text().to_string() };
        let key = def.key.eval(&ctx).map_err(|e| fail(e.message))?;
        let key_text = match &key {
            Value::String(s) => s.to_string(),
            Value::Number(_) | Value::Bool(_) => key.to_json(),
            Value::Null => return Err(fail("the join key is null".into())),
            other => return Err(fail(format!("the join key must be text or a number, got {}", other.describe()))),
        };
        let fresh = match &def.updated_at {
            Some(p) => p.eval(&ctx).ok().and_then(|v| mapwright_dsl::functions::instant_of(&v).ok().flatten()),
            None => None,
        };
        let n = self.mapping.inner.sources.len();
        let i = *self.index.entry(key_text).or_insert_with(|| {
            self.groups.push((key, vec![None; n]));
            self.groups.len() - 1
        });
        let slot = &mut self.groups[i].1[source];
        match slot {
            None => *slot = Some((record, fresh)),
            Some((_, old)) => {
                self.duplicates += 1;
                let replace = match (old, fresh) {
                    (Some(o), Some(f)) => f >= *o,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                if replace {
                    *slot = Some((record, fresh));
                }
            }
        }
        Ok(())
    }

    /// Records replaced or dropped as duplicates within one source.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Number of distinct keys so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The joined groups in order of first appearance: the key and one
    /// record per source (null where the source lacks the key).
    pub fn finish(self) -> impl Iterator<Item = (Value, Vec<Value>)> {
        self.groups
            .into_iter()
            .map(|(key, slots)| (key, slots.into_iter().map(|s| s.map_or(Value::Null, |(v, _)| v)).collect()))
    }
}

/// A number's exact decimal, for `tolerance:`.
pub(crate) fn tolerance_of(text: &str) -> Option<Decimal> {
    match Number::from_json_text(text) {
        Number::Dec(d) if !d.is_sign_negative() => Some(d),
        _ => None,
    }
}
