//! Conversions between kinds. Nothing converts implicitly elsewhere in the
//! language; these functions are where text becomes a number, a flag, JSON.

use super::{Args, Builtin, FnError, Group, Imp, Nulls, string};
use crate::value::Value;

const fn convert(
    name: &'static str,
    params: &'static str,
    doc: &'static str,
    examples: &'static [(&'static str, &'static str)],
    nulls: Nulls,
    f: fn(&Args) -> Result<Value, FnError>,
) -> Builtin {
    Builtin {
        name,
        group: Group::Convert,
        params,
        min_args: 1,
        max_args: 1,
        doc,
        examples,
        imp: Imp::Plain(f),
        nulls,
        regex_arg: None,
    }
}

pub const STRING: Builtin = convert(
    "string",
    "x",
    "Writes any value as text: numbers in shortest exact form, timestamps as RFC 3339 UTC, lists and objects as JSON; null becomes \"\".",
    &[("\"SO-\" + string(1042)", "\"SO-1042\""), ("string(19.90)", "\"19.9\""), ("string(null)", "\"\"")],
    Nulls::Accept,
    |a| {
        Ok(match a.get(0) {
            Value::Null => string(""),
            Value::String(s) => Value::String(s.clone()),
            other => {
                let json = other.to_json();
                match other {
                    Value::Timestamp(_) => string(json.trim_matches('"')),
                    _ => string(json),
                }
            }
        })
    },
);

pub const BOOLEAN: Builtin = convert(
    "boolean",
    "x",
    "Reads a flag: true/false, \"true\"/\"false\", \"yes\"/\"no\", \"1\"/\"0\" (any case) or 1/0; anything else is an error.",
    &[("boolean(\"Yes\")", "true"), ("boolean(0)", "false")],
    Nulls::Propagate,
    |a| {
        let v = a.get(0);
        let b = match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(true),
                "false" | "no" | "0" => Some(false),
                _ => None,
            },
            Value::Number(n) => match n.to_decimal() {
                Ok(d) if d == rust_decimal::Decimal::ONE => Some(true),
                Ok(d) if d.is_zero() => Some(false),
                _ => None,
            },
            _ => None,
        };
        b.map(Value::Bool).ok_or_else(|| FnError {
            message: format!("cannot read {} as true or false", v.describe()),
            value: Some(v.clone()),
        })
    },
);

pub const TYPE_OF: Builtin = convert(
    "type_of",
    "x",
    "The kind of a value: \"null\", \"boolean\", \"number\", \"string\", \"array\", \"object\" or \"timestamp\".",
    &[("type_of($.list)", "\"array\""), ("type_of($.missing)", "\"null\"")],
    Nulls::Accept,
    |a| Ok(string(a.get(0).kind().name())),
);

pub const JSON: Builtin = convert(
    "json",
    "x",
    "The compact JSON text of a value.",
    &[("json({a: [1, \"x\"]})", "\"{\\\"a\\\":[1,\\\"x\\\"]}\"")],
    Nulls::Accept,
    |a| Ok(string(a.get(0).to_json())),
);

pub const PARSE_JSON: Builtin = convert(
    "parse_json",
    "s",
    "Reads JSON text into a value (numbers exact).",
    &[("parse_json(\"[1.50, true]\")", "[1.5,true]")],
    Nulls::Propagate,
    |a| crate::json::parse(a.str(0)?).map_err(|e| FnError::msg(format!("invalid JSON: {e}"))),
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn convert_functions() {
        insta::assert_snapshot!(table(&[
            "string(\"x\")",
            "string(true)",
            "string(-0.0)",
            "string(12345678901234567890)",
            "string(timestamp(\"2026-03-01T10:15:00.5-05:00\"))",
            "string($.obj)",
            "string([1, \"a\"])",
            "boolean(\" FALSE \")",
            "boolean(\"maybe\")",
            "boolean(2)",
            "boolean([])",
            "boolean(null)",
            "type_of(1)",
            "type_of(\"\")",
            "type_of(true)",
            "type_of($.obj)",
            "type_of(now())",
            "json(null)",
            "json(\"é\\n\")",
            "parse_json(\"{\\\"a\\\": 12345678901234567890.5}\")",
            "parse_json(\"{\")",
            "parse_json(5)",
        ]));
    }
}
