//! Non-singular JSONPath (RFC 9535) over [`Value`], through jsonpath-rust.
//!
//! Why jsonpath-rust rather than serde_json_path: serde_json_path only runs
//! on `serde_json::Value`, so every query would first copy the record into
//! a serde_json tree — a deep copy per record, and a lossy one, since
//! serde_json numbers are `f64`. jsonpath-rust's `Queryable` trait runs the
//! query on our own values in place, exact digits and all. Queries are
//! parsed once, when the mapping loads ([`Query::compile`]).
//!
//! One documented difference from our own operators: inside a JSONPath
//! filter (`[?@.price > 10]`) numbers compare as 64-bit floats, as the RFC's
//! I-JSON number model allows. Arithmetic outside filters stays decimal.

use std::sync::Arc;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::query::queryable::Queryable;

use crate::value::{Number, Value};

/// A parsed JSONPath query.
#[derive(Clone, Debug)]
pub struct Query {
    parsed: Arc<JpQuery>,
    text: Arc<str>,
}

impl Query {
    /// Parses an RFC 9535 query (`$.items[*].price`).
    pub fn compile(text: &str) -> Result<Query, String> {
        let parsed = jsonpath_rust::parser::parse_json_path(text).map_err(|e| {
            let msg = e.to_string();
            // pest's multi-line messages are noise for an analyst; keep the gist.
            msg.lines()
                .find(|l| l.contains("expected") || l.contains("invalid"))
                .unwrap_or(msg.lines().next().unwrap_or("invalid query"))
                .trim()
                .trim_start_matches("= ")
                .to_string()
        })?;
        Ok(Query { parsed: Arc::new(parsed), text: Arc::from(text) })
    }

    /// The query text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs the query: the selected values, in document order.
    pub fn select(&self, root: &Value) -> Result<Vec<Value>, String> {
        jsonpath_rust::query::js_path_process(&self.parsed, root)
            .map(|refs| refs.into_iter().map(|r| r.val().clone()).collect())
            .map_err(|e| e.to_string())
    }
}

impl Queryable for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        Value::get(self, key)
    }

    fn as_array(&self) -> Option<&Vec<Self>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    fn as_object(&self) -> Option<Vec<(&str, &Self)>> {
        self.as_object().map(|m| m.iter().map(|(k, v)| (&**k, v)).collect())
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::Dec(d)) if d.fract().is_zero() => i64::try_from(*d).ok(),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(Number::Dec(d)) => d.to_string().parse().ok(),
            Value::Number(Number::Big(t)) => t.parse().ok(),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn null() -> Self {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_in_document_order() {
        let v = Value::from_json(r#"{"items":[{"p":1.10,"q":2},{"p":2,"q":0},{"p":3,"q":5}]}"#).unwrap();
        let q = Query::compile("$.items[?@.q > 1].p").unwrap();
        assert_eq!(Value::array(q.select(&v).unwrap()).to_json(), "[1.1,3]");
        let q = Query::compile("$..q").unwrap();
        assert_eq!(Value::array(q.select(&v).unwrap()).to_json(), "[2,0,5]");
        assert!(Query::compile("$.items[?@.q >]").is_err());
    }
}
