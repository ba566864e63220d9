//! Dead-letter lines: what a failed record becomes, so that it can be read,
//! fixed and replayed (`mapwright replay`).
//!
//! A line is `{key, mapping, version, at, errors: [{field, expr, message,
//! value}], input}`: the record's key, the mapping that failed it and its
//! version, when, every reason, and the whole input record.

use mapwright_dsl::{Map, Value};

use crate::input::BadInput;
use crate::{FieldError, Mapping};

/// The dead-letter line of a record that failed mapping.
///
/// ```
/// use mapwright_engine::{dead_letter, FieldError, Mapping, Value};
///
/// let m = Mapping::from_yaml("mapping: orders\nversion: 3\nfields:\n  id: $.id\n", "m.yaml")?;
/// let error = FieldError::new("id", "$.id", "is required", None);
/// let line = dead_letter::line(&m, &Value::str("A-1"), &[error], &Value::from_json(r#"{"x": 1}"#).unwrap());
/// assert_eq!(line.get("mapping"), Some(&Value::str("orders")));
/// assert_eq!(line.get("version").unwrap().to_json(), "3");
/// assert_eq!(line.get("input").unwrap().to_json(), r#"{"x":1}"#);
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub fn line(mapping: &Mapping, key: &Value, errors: &[FieldError], input: &Value) -> Value {
    let mut m = Map::with_capacity(6);
    m.insert("key", key.clone());
    m.insert("mapping", Value::str(mapping.name()));
    m.insert("version", mapping.version().clone());
    m.insert("at", Value::Timestamp(mapwright_dsl::jiff::Timestamp::now()));
    m.insert("errors", Value::array(errors.iter().map(FieldError::to_value).collect()));
    m.insert("input", input.clone());
    Value::object(m)
}

/// The dead-letter line of input that could not be read as a record: the
/// raw text is kept as `input`.
///
/// ```
/// use mapwright_engine::input::BadInput;
/// use mapwright_engine::{dead_letter, Mapping, Value};
///
/// let m = Mapping::from_yaml("mapping: orders\nfields:\n  id: $.id\n", "m.yaml")?;
/// let bad = BadInput::new("orders.jsonl:3:9: invalid JSON", "{\"id\": }");
/// let line = dead_letter::unreadable(&m, &bad);
/// assert_eq!(line.get("input"), Some(&Value::str("{\"id\": }")));
/// assert_eq!(line.get("key"), Some(&Value::Null));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub fn unreadable(mapping: &Mapping, bad: &BadInput) -> Value {
    let error = FieldError::new("", "", bad.message.clone(), None);
    line(mapping, &Value::Null, &[error], &Value::str(&bad.raw))
}
