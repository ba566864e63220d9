//! Null handling and lookup tables. These functions see nulls (README "Expressions"
//! exempts them from null propagation) — that is their point.

use super::{Args, Builtin, FnError, Group, Imp, Nulls, Special};
use crate::value::Value;

const fn null_fn(
    name: &'static str,
    params: &'static str,
    min_args: usize,
    max_args: usize,
    doc: &'static str,
    examples: &'static [(&'static str, &'static str)],
    imp: Imp,
) -> Builtin {
    Builtin {
        name,
        group: Group::Null,
        params,
        min_args,
        max_args,
        doc,
        examples,
        imp,
        nulls: Nulls::Accept,
        regex_arg: None,
    }
}

pub const COALESCE: Builtin = null_fn(
    "coalesce",
    "x...",
    1,
    usize::MAX,
    "The first argument that is not null (later ones are not evaluated).",
    &[("coalesce($.missing, $.nul, \"fallback\")", "\"fallback\"")],
    Imp::Special(Special::Coalesce),
);

pub const DEFAULT: Builtin = null_fn(
    "default",
    "x, d",
    2,
    2,
    "`x` unless it is null, else `d` (the same as x ?? d).",
    &[("default($.missing, 0)", "0"), ("default(\"\", 0)", "\"\"")],
    Imp::Plain(|a: &Args| -> Result<Value, FnError> {
        Ok(if a.get(0).is_null() { a.get(1).clone() } else { a.get(0).clone() })
    }),
);

pub const NULLIF: Builtin = null_fn(
    "nullif",
    "x, v",
    2,
    2,
    "Null when `x` equals `v`, else `x`: turns placeholder values such as empty text into null.",
    &[("nullif(trim(\"  \"), \"\")", "null"), ("nullif(\"ACME\", \"\")", "\"ACME\"")],
    Imp::Plain(|a: &Args| -> Result<Value, FnError> {
        Ok(if a.get(0) == a.get(1) { Value::Null } else { a.get(0).clone() })
    }),
);

pub const IS_NULL: Builtin = null_fn(
    "is_null",
    "x",
    1,
    1,
    "Whether `x` is null (a missing key reads as null).",
    &[("is_null($.nul)", "true"), ("is_null($.empty)", "false")],
    Imp::Plain(|a: &Args| -> Result<Value, FnError> { Ok(Value::Bool(a.get(0).is_null())) }),
);

pub const EXISTS: Builtin = null_fn(
    "exists",
    "path",
    1,
    1,
    "Whether the path is present, even when it holds null (a JSONPath query: whether it selects anything).",
    &[("exists($.nul)", "true"), ("exists($.missing)", "false"), ("exists($.items[?@.qty > 1])", "true")],
    Imp::Special(Special::Exists),
);

pub const LOOKUP: Builtin = Builtin {
    group: Group::Lookup,
    ..null_fn(
        "lookup",
        "table, key, default?",
        2,
        3,
        "The value for `key` in a table declared under `lookups:`; on a miss `default`, else null — or a failure for a `strict: true` table.",
        &[
            ("lookup(\"iso3\", \"CA\")", "\"CAN\""),
            ("lookup(\"iso3\", \"XX\", \"???\")", "\"???\""),
            ("lookup(\"strict_units\", \"lb\")", "error: key \"lb\" is not in strict lookup table \"strict_units\""),
        ],
        Imp::Special(Special::Lookup),
    )
};

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn null_and_lookup_functions() {
        insta::assert_snapshot!(table(&[
            "coalesce(null)",
            "coalesce($.nul, 1 / 0)",
            "coalesce(1, 1 / 0)",
            "$.missing ?? $.nul ?? 3",
            "$.empty ?? 3",
            "default(null, null)",
            "nullif(0, 0)",
            "nullif(null, \"\")",
            "nullif([1], [1.0])",
            "is_null($.obj.b)",
            "exists($.obj.b)",
            "exists($.obj.c)",
            "exists($.items[5])",
            "exists($.items[0].sku)",
            "exists($.items[?@.qty > 10])",
            "exists(5)",
            "lookup(\"iso3\", null)",
            "lookup(\"iso3\", 1)",
            "lookup(\"iso3\", [1])",
            "lookup(\"isp3\", \"US\")",
            "lookup($.s, \"US\")",
            "lookup(\"strict_units\", \"kg\")",
            "lookup(\"strict_units\", \"lb\", null)",
            "null == null",
            "null != 0",
            "null < 1",
            "null + 1",
            "-null",
            "not null",
            "null and true",
            "null or true",
            "upper($.missing.deep.path)",
        ]));
    }
}
