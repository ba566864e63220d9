//! The value type every expression works on.
//!
//! Why our own type instead of `serde_json::Value`: numbers must be exact
//! decimals (`0.1 + 0.2 == 0.3`, ids above 2^53 keep their digits) and
//! timestamps must be instants, not strings. Values are immutable and shared
//! by reference count, so reading `$.customer` out of a record is a pointer
//! bump, never a deep copy of the customer object.
//!
//! Objects keep insertion order (output key order follows the mapping) and
//! are small vectors of pairs: commerce records have tens of keys, where a
//! linear scan beats hashing. Large objects (more than [`INDEX_THRESHOLD`]
//! keys) get a hash index so lookups stay O(1) on adversarial input.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

/// A shared, immutable string.
pub type Str = Arc<str>;

/// The shared copy of a key text known at compile time (paths in
/// expressions, output field names, projection keys).
///
/// Every compiled key with the same text is the same allocation, so object
/// lookups of compiled keys in projected records and in outputs match by
/// pointer first ([`Map::get`]); a pointer mismatch only falls back to
/// comparing text, so results never depend on it. The table is per thread:
/// a mapping compiled on each worker thread then shares no reference counts
/// with the others (incrementing a count another core also increments
/// costs a cache-line transfer). It only grows with the distinct key names
/// compiled on that thread.
pub fn intern(text: &str) -> Str {
    use std::cell::RefCell;
    use std::collections::HashSet;
    thread_local! {
        static TABLE: RefCell<HashSet<Str>> = RefCell::new(HashSet::new());
    }
    TABLE.with(|t| {
        let mut set = t.borrow_mut();
        if let Some(k) = set.get(text) {
            return k.clone();
        }
        let k = Str::from(text);
        set.insert(k.clone());
        k
    })
}

/// A mapwright value: what expressions read, compute and write.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JSON `null`, and what a missing path yields.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An exact decimal number.
    Number(Number),
    /// A UTF-8 string.
    String(Str),
    /// An ordered list.
    Array(Arc<Vec<Value>>),
    /// An object whose keys keep their insertion order.
    Object(Arc<Map>),
    /// An instant in time (UTC).
    Timestamp(jiff::Timestamp),
}

/// An exact number.
///
/// Almost every number is a [`Decimal`] (96-bit mantissa, 28 significant
/// digits). A JSON number that does not fit (`1e400`, 40 significant digits)
/// keeps its original text so it passes through unchanged; arithmetic on it
/// uses the nearest decimal, or fails if it is out of range.
#[derive(Clone, Debug)]
pub enum Number {
    /// An exact decimal.
    Dec(Decimal),
    /// A number outside decimal range or precision, as its JSON text.
    Big(Str),
}

impl Number {
    /// The number as a decimal for arithmetic, or an error message when it
    /// is out of the exact range.
    pub fn to_decimal(&self) -> Result<Decimal, String> {
        match self {
            Number::Dec(d) => Ok(*d),
            Number::Big(text) => parse_decimal_lossy(text).ok_or_else(|| {
                format!(
                    "number {text} is outside the exact decimal range (28 significant digits, magnitude below 7.9e28)"
                )
            }),
        }
    }

    /// Parses JSON number text exactly when possible, else keeps the text.
    pub fn from_json_text(text: &str) -> Number {
        match parse_decimal_exact(text) {
            Some(d) => Number::Dec(d),
            None => Number::Big(Str::from(text)),
        }
    }
}

/// Plain decimal text of at most 18 digits (`-12.50`, `1042`): most
/// numbers in records. Built from a u64 mantissa, the same value (sign,
/// digits and scale) `Decimal::from_str_exact` gives, in a fraction of the
/// work; anything else returns `None` for the general parser.
fn parse_plain_decimal(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    if digits.first()? == &b'.' || digits.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut scale: Option<u32> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if let Some(s) = &mut scale {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    if count > 18 || scale == Some(0) {
        return None;
    }
    let mut d = Decimal::new(i64::try_from(mantissa).ok()?, scale.unwrap_or(0));
    d.set_sign_negative(negative && mantissa != 0);
    Some(d)
}

/// Parses decimal text (with optional exponent) without any rounding.
pub(crate) fn parse_decimal_exact(text: &str) -> Option<Decimal> {
    if let Some(d) = parse_plain_decimal(text) {
        return Some(d);
    }
    if text.bytes().any(|b| b == b'e' || b == b'E') {
        let d = Decimal::from_scientific(text).ok()?;
        // from_scientific may silently drop digits; verify by round trip of
        // the significant digits.
        if significant_digits(text) <= 28 { Some(d) } else { None }
    } else {
        Decimal::from_str_exact(text).ok()
    }
}

/// Parses decimal text, rounding to 28 significant digits if needed.
fn parse_decimal_lossy(text: &str) -> Option<Decimal> {
    if text.bytes().any(|b| b == b'e' || b == b'E') {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse::<Decimal>().ok()
    }
}

fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let trimmed = digits.trim_start_matches('0').trim_end_matches('0');
    trimmed.len()
}

/// Number of keys above which an object keeps a hash index.
pub const INDEX_THRESHOLD: usize = 24;

/// An insertion-ordered object.
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<(Str, Value)>,
    index: Option<HashMap<Str, usize>>,
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl Map {
    /// An empty object.
    pub fn new() -> Map {
        Map::default()
    }

    /// An empty object with room for `n` keys.
    pub fn with_capacity(n: usize) -> Map {
        Map { entries: Vec::with_capacity(n), index: None }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => {
                // Keys of projected records, of outputs and of compiled
                // paths are interned (see [`intern`]): the same text is the
                // same pointer, so a pointer scan finds them without
                // comparing bytes. Other keys fall back to text.
                let p = key.as_ptr();
                self.entries
                    .iter()
                    .position(|(k, _)| k.as_ptr() == p && k.len() == key.len())
                    .or_else(|| self.entries.iter().position(|(k, _)| &**k == key))
            }
        }
    }

    /// Inserts an interned key: an existing entry is found by pointer
    /// alone (for the projected reader, whose keys all come from one
    /// projection, so equal keys are the same pointer).
    pub(crate) fn insert_interned(&mut self, key: &Str, value: Value) {
        if self.index.is_none() {
            let p = key.as_ptr();
            if let Some(i) = self.entries.iter().position(|(k, _)| k.as_ptr() == p) {
                self.entries[i].1 = value;
                return;
            }
            self.push_new(key.clone(), value);
        } else {
            self.insert(key.clone(), value);
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// A mutable reference to the value under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(move |i| &mut self.entries[i].1)
    }

    /// Whether `key` is present (even when it holds `null`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key`, replacing an existing value in place (keeping its
    /// position) or appending a new key at the end.
    pub fn insert(&mut self, key: impl Into<Str>, value: Value) {
        let key = key.into();
        if let Some(i) = self.position(&key) {
            self.entries[i].1 = value;
            return;
        }
        self.push_new(key, value);
    }

    /// Appends `key`, which the caller knows is not in the object yet (an
    /// output field, whose path is set once per record). In debug builds
    /// this is checked.
    pub fn push_unique(&mut self, key: Str, value: Value) {
        debug_assert!(!self.contains_key(&key), "push_unique: `{key}` is already set");
        self.push_new(key, value);
    }

    fn push_new(&mut self, key: Str, value: Value) {
        let i = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), i);
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_THRESHOLD {
            self.index = Some(self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, v) = self.entries.remove(i);
        if self.index.is_some() {
            self.index = Some(self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
        }
        Some(v)
    }

    /// The entry for `key`, inserting `Null` at the end when absent.
    pub fn entry_or_null(&mut self, key: &Str) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.push_new(key.clone(), Value::Null);
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Keys and values in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Str, &Value)> + DoubleEndedIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &Str> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl FromIterator<(Str, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Str, Value)>>(iter: I) -> Map {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl PartialEq for Map {
    /// Objects are equal when they hold the same keys with equal values,
    /// whatever the order (JSON semantics).
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k).is_some_and(|w| v == w))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Dec(a), Number::Dec(b)) => a == b,
            (Number::Big(a), Number::Big(b)) => a == b,
            _ => false,
        }
    }
}

/// The kind of a value, as `type_of` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `null`
    Null,
    /// `boolean`
    Bool,
    /// `number`
    Number,
    /// `string`
    String,
    /// `array`
    Array,
    /// `object`
    Object,
    /// `timestamp`
    Timestamp,
}

impl Kind {
    /// The name used in messages and by `type_of`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
            Kind::Timestamp => "timestamp",
        }
    }
}

impl Value {
    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
            Value::Timestamp(_) => Kind::Timestamp,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::String(Str::from(s))
    }

    /// A number value from a decimal.
    pub fn dec(d: Decimal) -> Value {
        Value::Number(Number::Dec(d))
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// An object value.
    pub fn object(map: Map) -> Value {
        Value::Object(Arc::new(map))
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object inside, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The array inside, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    /// The element at `index` of an array (negative counts from the end).
    pub fn at(&self, index: i64) -> Option<&Value> {
        let items = self.as_array()?;
        let i = if index < 0 {
            items.len().checked_sub(index.unsigned_abs() as usize)?
        } else {
            usize::try_from(index).ok()?
        };
        items.get(i)
    }

    /// A short rendering for error messages: JSON, cut at 80 characters.
    pub fn describe(&self) -> String {
        let mut text = crate::json::to_string(self);
        if text.chars().count() > 80 {
            text = text.chars().take(77).collect::<String>() + "...";
        }
        format!("{} {}", self.kind().name(), text)
    }

    /// Parses JSON text into a value with exact numbers.
    ///
    /// ```
    /// use mapwright_dsl::Value;
    /// let v = Value::from_json("{\"id\": 12345678901234567890, \"price\": \"1.60\"}").unwrap();
    /// assert_eq!(v.to_json(), "{\"id\":12345678901234567890,\"price\":\"1.60\"}");
    /// ```
    pub fn from_json(text: &str) -> Result<Value, crate::json::JsonError> {
        crate::json::parse(text)
    }

    /// Writes the value as compact JSON (numbers in their shortest exact
    /// form, timestamps as RFC 3339 UTC).
    pub fn to_json(&self) -> String {
        crate::json::to_string(self)
    }

    /// Writes the value as indented JSON (two spaces).
    pub fn to_json_pretty(&self) -> String {
        crate::json::to_string_pretty(self)
    }
}

impl From<&serde_json::Value> for Value {
    /// Converts a `serde_json::Value`. Integers are exact; other numbers go
    /// through their shortest round-trip text, so `19.99` stays `19.99`.
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(Number::from_json_text(&n.to_string())),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::array(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::object(o.iter().map(|(k, v)| (Str::from(k.as_str()), Value::from(v))).collect())
            }
        }
    }
}

impl From<&Value> for serde_json::Value {
    /// Converts to a `serde_json::Value`. Exact for everything but numbers
    /// with more than 17 significant digits or a fraction beyond `f64`
    /// precision; use [`Value::to_json`] where digits must be kept.
    fn from(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(_) => serde_json::from_str(&crate::json::to_string(v)).unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Timestamp(_) => serde_json::Value::String(crate::json::format_timestamp_string(v)),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Into::into).collect()),
            Value::Object(o) => serde_json::Value::Object(o.iter().map(|(k, v)| (k.to_string(), v.into())).collect()),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::dec(Decimal::from(n))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::dec(Decimal::from(n))
    }
}

impl From<f64> for Value {
    /// Converts through the shortest round-trip text; NaN and infinities
    /// become `null`.
    fn from(n: f64) -> Value {
        if n.is_finite() { Value::Number(Number::from_json_text(&format!("{n:?}"))) } else { Value::Null }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Str::from(s))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::array(items)
    }
}

impl From<Decimal> for Value {
    fn from(d: Decimal) -> Value {
        Value::dec(d)
    }
}

impl From<jiff::Timestamp> for Value {
    fn from(t: jiff::Timestamp) -> Value {
        Value::Timestamp(t)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json::to_string(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_parse_like_from_str_exact() {
        let texts = [
            "0",
            "-0",
            "0.0",
            "-0.00",
            "1",
            "-1",
            "7.50",
            "112.00",
            "-12.345",
            "999999999999999999",
            "-999999999999999999",
            "123456789.123456789",
            "0.00000000000000001",
            "00012",
            "1042",
        ];
        for t in texts {
            let fast = parse_plain_decimal(t).unwrap_or_else(|| panic!("{t} takes the fast path"));
            let exact = Decimal::from_str_exact(t).unwrap();
            assert_eq!(
                (fast.mantissa(), fast.scale(), fast.is_sign_negative()),
                (exact.mantissa(), exact.scale(), exact.is_sign_negative()),
                "{t}"
            );
        }
        // Left to the general parser.
        for t in
            ["", "-", ".5", "-.5", "1.", "1e3", "+1", "1.2.3", "12a", "1234567890123456789", "0.1234567890123456789"]
        {
            assert!(parse_plain_decimal(t).is_none(), "{t}");
        }
    }
}
