//! Writing results: JSON Lines output and dead-letter lines.
//!
//! A dead-letter line is `{key, mapping, version, at, errors: [{field, expr,
//! message, value}], input}` (SPEC §5): enough to see what failed, fix the
//! mapping or the data, and replay it.

use mapwright_dsl::{Map, Value};

use crate::input::BadInput;
use crate::{FieldError, Mapping};

/// The dead-letter line of a record that failed mapping.
pub fn dead_letter(mapping: &Mapping, key: &Value, errors: &[FieldError], input: &Value) -> Value {
    let mut m = Map::with_capacity(6);
    m.insert("key", key.clone());
    m.insert("mapping", Value::str(mapping.name()));
    m.insert("version", mapping.version().clone());
    m.insert("at", Value::Timestamp(jiff_now()));
    m.insert("errors", Value::array(errors.iter().map(FieldError::to_value).collect()));
    m.insert("input", input.clone());
    Value::object(m)
}

/// The dead-letter line of input that could not be read as a record: the
/// raw text is kept as `input`.
pub fn dead_letter_unreadable(mapping: &Mapping, bad: &BadInput) -> Value {
    let error = FieldError { field: String::new(), expr: String::new(), message: bad.message.clone(), value: None };
    dead_letter(mapping, &Value::Null, &[error], &Value::str(&bad.raw))
}

fn jiff_now() -> mapwright_dsl::jiff::Timestamp {
    mapwright_dsl::jiff::Timestamp::now()
}
