//! List functions. `map`, `filter`, `find`, `any`, `all` and `sort_by`
//! evaluate their second argument once per element with `it` bound to the
//! element and `index()` to its position; the evaluator runs them.

use std::collections::HashSet;

use super::{Args, Builtin, FnError, Group, Imp, Nulls, Special};
use crate::ast::Span;
use crate::value::Value;

const fn list(
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
        group: Group::List,
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

const fn special(
    name: &'static str,
    params: &'static str,
    min_args: usize,
    max_args: usize,
    doc: &'static str,
    examples: &'static [(&'static str, &'static str)],
    s: Special,
) -> Builtin {
    Builtin {
        name,
        group: Group::List,
        params,
        min_args,
        max_args,
        doc,
        examples,
        imp: Imp::Special(s),
        nulls: Nulls::Accept,
        regex_arg: None,
    }
}

pub const MAP: Builtin = special(
    "map",
    "list, expr",
    2,
    2,
    "Evaluates `expr` for each element (`it`), giving a list of the results.",
    &[("map($.items, it.sku | upper)", "[\"A-1\",\"B-2\"]"), ("map($.words, index())", "[0,1,2,3]")],
    Special::Map,
);

pub const FILTER: Builtin = special(
    "filter",
    "list, pred",
    2,
    2,
    "The elements for which `pred` is true (`index()` counts kept elements).",
    &[("filter($.items, it.qty > 0)", "[{\"sku\":\"a-1\",\"qty\":2,\"price\":\"19.99\"}]")],
    Special::Filter,
);

pub const FIND: Builtin = special(
    "find",
    "list, pred",
    2,
    2,
    "The first element for which `pred` is true, or null.",
    &[("find($.items, it.sku == \"b-2\").price", "\"5.00\"")],
    Special::Find,
);

pub const ANY: Builtin = special(
    "any",
    "list, pred",
    2,
    2,
    "Whether `pred` is true for at least one element (false for an empty list).",
    &[("any($.items, it.qty == 0)", "true")],
    Special::Any,
);

pub const ALL: Builtin = special(
    "all",
    "list, pred",
    2,
    2,
    "Whether `pred` is true for every element (true for an empty list).",
    &[("all($.items, it.qty > 0)", "false")],
    Special::All,
);

pub const FIRST: Builtin =
    list("first", "list", 1, 1, "The first element, or null for an empty list.", &[("first($.words)", "\"b\"")], |a| {
        Ok(a.list(0)?.first().cloned().unwrap_or(Value::Null))
    });

pub const LAST: Builtin =
    list("last", "list", 1, 1, "The last element, or null for an empty list.", &[("last($.words)", "\"a\"")], |a| {
        Ok(a.list(0)?.last().cloned().unwrap_or(Value::Null))
    });

pub const COUNT: Builtin = list("count", "list", 1, 1, "The number of elements.", &[("count($.items)", "2")], |a| {
    Ok(Value::from(a.list(0)?.len()))
});

pub const DISTINCT: Builtin = list(
    "distinct",
    "list",
    1,
    1,
    "The list without repeated values, keeping first occurrences in order.",
    &[("distinct($.words)", "[\"b\",\"a\",\"c\"]"), ("distinct([1, 1.0, \"1\"])", "[1,\"1\"]")],
    |a| {
        let items = a.list(0)?;
        let mut out: Vec<Value> = Vec::new();
        if items.len() <= 32 {
            for v in items {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        } else {
            // Canonical JSON text as the identity: equal values print equally
            // (numbers are normalized), so hashing it is exact.
            let mut seen = HashSet::new();
            for v in items {
                if seen.insert(canonical(v)) {
                    out.push(v.clone());
                }
            }
        }
        Ok(Value::array(out))
    },
);

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, String)> = m.iter().map(|(k, v)| (k.to_string(), canonical(v))).collect();
            entries.sort();
            format!("{{{}}}", entries.into_iter().map(|(k, v)| format!("{k:?}:{v}")).collect::<Vec<_>>().join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        Value::Timestamp(_) => format!("t{}", v.to_json()),
        _ => v.to_json(),
    }
}

pub const SORT: Builtin = list(
    "sort",
    "list",
    1,
    1,
    "Sorts numbers, texts or timestamps ascending (stable; nulls last).",
    &[("sort($.list)", "[1,2,3]"), ("sort([\"b\", null, \"a\"])", "[\"a\",\"b\",null]")],
    |a| {
        let mut keyed: Vec<(Value, Value)> = a.list(0)?.iter().map(|v| (v.clone(), v.clone())).collect();
        crate::eval::sort_keyed(&mut keyed, Span::default()).map_err(|e| FnError::msg(e.message))?;
        Ok(Value::array(keyed.into_iter().map(|(_, v)| v).collect()))
    },
);

pub const SORT_BY: Builtin = special(
    "sort_by",
    "list, expr",
    2,
    2,
    "Sorts elements by the value of `expr` (stable; null keys last).",
    &[("map(sort_by($.items, number(it.price)), it.sku)", "[\"b-2\",\"a-1\"]")],
    Special::SortBy,
);

fn flatten_into(items: &[Value], depth: i64, out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::Array(inner) if depth > 0 => flatten_into(inner, depth - 1, out),
            other => out.push(other.clone()),
        }
    }
}

pub const FLATTEN: Builtin = list(
    "flatten",
    "list, depth?",
    1,
    2,
    "Splices nested lists into one list, `depth` levels deep (default 1).",
    &[("flatten([[1, 2], [3, [4]]])", "[1,2,3,[4]]"), ("flatten([[1], [[2]]], 5)", "[1,2]")],
    |a| {
        let depth = if a.has(1) { a.int(1)?.clamp(0, 64) } else { 1 };
        let mut out = Vec::new();
        flatten_into(a.list(0)?, depth, &mut out);
        Ok(Value::array(out))
    },
);

pub const REVERSE: Builtin = list(
    "reverse",
    "x",
    1,
    1,
    "The list (or text) in reverse order.",
    &[("reverse($.list)", "[2,1,3]"), ("reverse(\"abc\")", "\"cba\"")],
    |a| match a.get(0) {
        Value::Array(items) => Ok(Value::array(items.iter().rev().cloned().collect())),
        Value::String(s) => Ok(Value::from(s.chars().rev().collect::<String>())),
        other => Err(FnError::expected("a list or text", other, 0)),
    },
);

pub const INDEX: Builtin = special(
    "index",
    "",
    0,
    0,
    "The 0-based position of the current element inside `each:` (among kept elements with `where:`), map(), filter()…",
    &[("map($.words, index() + 1)", "[1,2,3,4]")],
    Special::Index,
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn list_functions() {
        insta::assert_snapshot!(table(&[
            "map([], it)",
            "map(null, it)",
            "map(\"abc\", it)",
            "map($.items, it.qty * number(it.price))",
            "map(map($.list, it * 10), index())",
            "filter($.list, it > 1)",
            "filter($.list, it)",
            "filter($.words, it != \"a\") | map(index())",
            "find($.list, it > 5)",
            "any([], it)",
            "all([], it)",
            "first([])",
            "first(\"abc\")",
            "last([null])",
            "count([])",
            "count($.obj)",
            "distinct([{a: 1}, {a: 1.0}, {a: 2}])",
            "sort([3, \"a\"])",
            "sort([timestamp(\"2026-03-02\"), timestamp(\"2026-03-01\")])",
            "sort_by($.items, it.missing)",
            "sort_by([{n: \"b\"}, {n: 1}], it.n)",
            "flatten([1, [2]], -1)",
            "reverse(5)",
            "index()",
            "it",
        ]));
    }
}
