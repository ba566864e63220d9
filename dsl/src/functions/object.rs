//! Object functions. Key order is preserved everywhere: output keys follow
//! the order in which they were first set.

use super::{Args, Builtin, FnError, Group, Imp, Nulls};
use crate::value::{Map, Str, Value};

const fn object(
    name: &'static str,
    params: &'static str,
    min_args: usize,
    max_args: usize,
    doc: &'static str,
    examples: &'static [(&'static str, &'static str)],
    f: fn(&Args) -> Result<Value, FnError>,
) -> Builtin {
    Builtin {
        name,
        group: Group::Object,
        params,
        min_args,
        max_args,
        doc,
        examples,
        imp: Imp::Plain(f),
        nulls: Nulls::Propagate,
        regex_arg: None,
    }
}

fn obj<'a>(a: &Args<'a>, i: usize) -> Result<&'a Map, FnError> {
    match a.get(i) {
        Value::Object(m) => Ok(m),
        v => Err(FnError::expected("an object", v, i)),
    }
}

/// Key arguments from position `from` on: texts, or one list of texts.
fn key_args(a: &Args, from: usize) -> Result<Vec<Str>, FnError> {
    let vals = &a.values[from.min(a.values.len())..];
    let list: Vec<&Value> = match vals {
        [Value::Array(items)] => items.iter().collect(),
        _ => vals.iter().collect(),
    };
    list.into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(FnError::msg(format!("keys must be texts, got {}", other.describe()))),
        })
        .collect()
}

pub const KEYS: Builtin =
    object("keys", "obj", 1, 1, "The keys of an object, in order.", &[("keys($.obj)", "[\"a\",\"b\"]")], |a| {
        Ok(Value::array(obj(a, 0)?.keys().map(|k| Value::String(k.clone())).collect()))
    });

pub const VALUES: Builtin =
    object("values", "obj", 1, 1, "The values of an object, in key order.", &[("values($.obj)", "[1,null]")], |a| {
        Ok(Value::array(obj(a, 0)?.values().cloned().collect()))
    });

pub const MERGE: Builtin = object(
    "merge",
    "a, b...",
    2,
    usize::MAX,
    "A shallow merge of objects: later keys win, first positions are kept.",
    &[("merge({a: 1, b: 2}, {b: 3, c: 4})", "{\"a\":1,\"b\":3,\"c\":4}")],
    |a| {
        let mut out = obj(a, 0)?.clone();
        for i in 1..a.values.len() {
            for (k, v) in obj(a, i)?.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
        Ok(Value::object(out))
    },
);

pub const GET: Builtin = object(
    "get",
    "x, key",
    2,
    2,
    "The member `key` of an object (or element `key` of a list), for computed keys; null when missing.",
    &[("get($.obj, \"a\")", "1"), ("get($.list, -1)", "2")],
    |a| match (a.get(0), a.get(1)) {
        (Value::Object(m), Value::String(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
        (Value::Array(_), Value::Number(_)) => Ok(a.get(0).at(a.int(1)?).cloned().unwrap_or(Value::Null)),
        (Value::Object(_), k) => Err(FnError::expected("a text key", k, 1)),
        (Value::Array(_), k) => Err(FnError::expected("a whole-number index", k, 1)),
        (v, _) => Err(FnError::expected("an object or a list", v, 0)),
    },
);

pub const PICK: Builtin = object(
    "pick",
    "obj, keys...",
    2,
    usize::MAX,
    "The object with only the named keys (in the object's order).",
    &[("pick({a: 1, b: 2, c: 3}, \"c\", \"a\")", "{\"a\":1,\"c\":3}")],
    |a| {
        let keys = key_args(a, 1)?;
        Ok(Value::object(
            obj(a, 0)?.iter().filter(|(k, _)| keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    },
);

pub const OMIT: Builtin = object(
    "omit",
    "obj, keys...",
    2,
    usize::MAX,
    "The object without the named keys.",
    &[("omit({a: 1, b: 2, c: 3}, [\"b\"])", "{\"a\":1,\"c\":3}")],
    |a| {
        let keys = key_args(a, 1)?;
        Ok(Value::object(
            obj(a, 0)?.iter().filter(|(k, _)| !keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    },
);

pub const FROM_ENTRIES: Builtin = object(
    "from_entries",
    "list, key_field?, value_field?",
    1,
    3,
    "Builds an object from a list of entries: objects with `key_field`/`value_field` (default \"key\"/\"value\", as in WooCommerce meta_data) or [key, value] pairs; later keys win.",
    &[
        (
            "from_entries([{key: \"gift\", value: true}, {key: \"note\", value: \"hi\"}])",
            "{\"gift\":true,\"note\":\"hi\"}",
        ),
        ("from_entries([{k: \"a\", v: 1}], \"k\", \"v\")", "{\"a\":1}"),
    ],
    |a| {
        let key_field = if a.has(1) { a.str(1)? } else { "key" };
        let value_field = if a.has(2) { a.str(2)? } else { "value" };
        let mut out = Map::new();
        for item in a.list(0)? {
            let (k, v) = match item {
                Value::Object(m) => (
                    m.get(key_field).cloned().unwrap_or(Value::Null),
                    m.get(value_field).cloned().unwrap_or(Value::Null),
                ),
                Value::Array(pair) if pair.len() == 2 => (pair[0].clone(), pair[1].clone()),
                Value::Null => continue,
                other => {
                    return Err(FnError::msg(format!(
                        "an entry must be an object or a [key, value] pair, got {}",
                        other.describe()
                    )));
                }
            };
            let key = match k {
                Value::String(s) => s,
                Value::Number(_) | Value::Bool(_) => Str::from(k.to_json()),
                other => return Err(FnError::msg(format!("an entry key must be text, got {}", other.describe()))),
            };
            out.insert(key, v);
        }
        Ok(Value::object(out))
    },
);

pub const ENTRIES: Builtin = object(
    "entries",
    "obj",
    1,
    1,
    "The object as a list of {key, value} objects, in order.",
    &[("entries({a: 1})", "[{\"key\":\"a\",\"value\":1}]")],
    |a| {
        Ok(Value::array(
            obj(a, 0)?
                .iter()
                .map(|(k, v)| {
                    let mut e = Map::with_capacity(2);
                    e.insert("key", Value::String(k.clone()));
                    e.insert("value", v.clone());
                    Value::object(e)
                })
                .collect(),
        ))
    },
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn object_functions() {
        insta::assert_snapshot!(table(&[
            "keys({})",
            "keys([1])",
            "values(null)",
            "merge({a: 1}, null)",
            "merge({a: 1}, [1])",
            "get($.obj, \"missing\")",
            "get($.obj, 1)",
            "get(\"abc\", 1)",
            "get($.list, 1.5)",
            "pick($.obj, \"zz\")",
            "pick($.obj, 1)",
            "omit($.obj, \"a\", \"b\")",
            "from_entries([[\"a\", 1], [\"a\", 2]])",
            "from_entries([{key: 5, value: \"x\"}, null])",
            "from_entries([1])",
            "from_entries([{key: {}, value: 1}])",
            "entries({})",
            "{\"b c\": 1, d: {e: [$.i]}}",
        ]));
    }
}
