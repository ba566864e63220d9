//! Joining the records of several systems by key, for multi-source
//! mappings: a full outer join in order of first appearance.
//!
//! The [`Joiner`] holds one (projected) record per source per distinct key,
//! so its memory is proportional to the number of distinct keys times the
//! projected record size — not to the size of the inputs. Two records of
//! one source with one key are one too many: the freshest (by the source's
//! `updated_at:`) or the last read wins, and the other counts as a
//! duplicate.

use std::collections::HashMap;

use mapwright_dsl::jiff::Timestamp;
use mapwright_dsl::{Ctx, Value};

use crate::mapping::Mapping;

/// Why a source record could not be joined.
///
/// ```
/// use mapwright_engine::{Joiner, Mapping, Value};
///
/// let m = Mapping::from_yaml("mapping: m\nsources: { erp: $.sku, shop: $.sku }\nfields:\n  sku: { from: { erp: $erp.sku } }\n", "m.yaml")?;
/// let mut joiner = Joiner::new(&m);
/// let e = joiner.add(0, Value::from_json(r#"{"name": "no sku"}"#).unwrap()).unwrap_err();
/// assert_eq!((e.source.as_str(), e.message.as_str()), ("erp", "the join key is null"));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
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
///
/// ```
/// use mapwright_engine::{Joiner, Mapping, Outcome, Value};
///
/// let m = Mapping::from_yaml(
///     "mapping: m\nsources: { erp: $.sku, shop: $.sku }\nprefer: [erp, shop]\nfields:\n  price: { from: { erp: $erp.price, shop: $shop.price } }\n",
///     "m.yaml",
/// )?;
/// let v = |json: &str| Value::from_json(json).unwrap();
/// let mut joiner = Joiner::new(&m);
/// joiner.add(1, v(r#"{"sku": "A", "price": 12}"#)).unwrap();
/// joiner.add(0, v(r#"{"sku": "A", "price": 10}"#)).unwrap();
/// joiner.add(1, v(r#"{"sku": "B", "price": 7}"#)).unwrap();
/// assert_eq!(joiner.len(), 2);
/// let prices: Vec<Outcome> = joiner.finish().map(|(key, records)| m.run_joined(&key, &records).outcome).collect();
/// assert_eq!(prices, [Outcome::Mapped(v(r#"{"price": 10}"#)), Outcome::Mapped(v(r#"{"price": 7}"#))]);
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub struct Joiner<'m> {
    mapping: &'m Mapping,
    index: HashMap<String, usize>,
    groups: Vec<(Value, Vec<Slot>)>,
    duplicates: u64,
}

impl<'m> Joiner<'m> {
    /// A joiner for a multi-source mapping ([`Joiner`] shows one at work).
    pub fn new(mapping: &'m Mapping) -> Joiner<'m> {
        Joiner { mapping, index: HashMap::new(), groups: Vec::new(), duplicates: 0 }
    }

    /// Adds a record of source `source` (its position in
    /// [`Mapping::sources`]). A second record with the same key replaces
    /// the first when it is at least as fresh (by the source's
    /// `updated_at`), else it is dropped; both count as a duplicate.
    ///
    /// ```
    /// use mapwright_engine::{Joiner, Mapping, Value};
    ///
    /// let m = Mapping::from_yaml(
    ///     "mapping: m\nsources:\n  erp: { key: $.sku, updated_at: $.at }\n  shop: $.sku\nfields:\n  qty: { from: { erp: $erp.qty } }\n",
    ///     "m.yaml",
    /// )?;
    /// let v = |json: &str| Value::from_json(json).unwrap();
    /// let mut joiner = Joiner::new(&m);
    /// joiner.add(0, v(r#"{"sku": "A", "qty": 5, "at": "2026-01-02T00:00:00Z"}"#)).unwrap();
    /// joiner.add(0, v(r#"{"sku": "A", "qty": 3, "at": "2026-01-01T00:00:00Z"}"#)).unwrap();
    /// assert_eq!(joiner.duplicates(), 1);
    /// let (_, records) = joiner.finish().next().unwrap();
    /// assert_eq!(records[0].get("qty").unwrap().to_json(), "5", "the fresher record stays");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
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

    /// Records replaced or dropped as duplicates within one source
    /// ([`Joiner::add`] shows one).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Number of distinct keys so far ([`Joiner`] shows it).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no record was added.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: m\nsources: { a: $.id }\nfields:\n  id: { from: { a: $a.id } }\n", "m.yaml")?;
    /// assert!(mapwright_engine::Joiner::new(&m).is_empty());
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The joined groups in order of first appearance: the key and one
    /// record per source (null where the source lacks the key);
    /// [`Joiner`] shows them.
    pub fn finish(self) -> impl Iterator<Item = (Value, Vec<Value>)> {
        self.groups
            .into_iter()
            .map(|(key, slots)| (key, slots.into_iter().map(|s| s.map_or(Value::Null, |(v, _)| v)).collect()))
    }
}
