//! Text functions. Positions and lengths count Unicode characters, not bytes.

use super::{Args, Builtin, FnError, Group, Imp, Nulls, string};
use crate::value::Value;

const fn text(
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
        group: Group::Text,
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

pub const UPPER: Builtin =
    text("upper", "s", 1, 1, "Upper-cases text (all of Unicode).", &[("upper(\"straße\")", "\"STRASSE\"")], |a| {
        Ok(string(a.str(0)?.to_uppercase()))
    });

pub const LOWER: Builtin = text(
    "lower",
    "s",
    1,
    1,
    "Lower-cases text (all of Unicode).",
    &[("lower(\"ÀNN@Example.COM\")", "\"ànn@example.com\"")],
    |a| Ok(string(a.str(0)?.to_lowercase())),
);

pub const TRIM: Builtin =
    text("trim", "s", 1, 1, "Removes whitespace at both ends.", &[("trim($.s)", "\"Hello, Wörld\"")], |a| {
        Ok(string(a.str(0)?.trim()))
    });

pub const TRIM_START: Builtin =
    text("trim_start", "s", 1, 1, "Removes whitespace at the start.", &[("trim_start(\"  a \")", "\"a \"")], |a| {
        Ok(string(a.str(0)?.trim_start()))
    });

pub const TRIM_END: Builtin =
    text("trim_end", "s", 1, 1, "Removes whitespace at the end.", &[("trim_end(\"  a \")", "\"  a\"")], |a| {
        Ok(string(a.str(0)?.trim_end()))
    });

pub const REPLACE: Builtin = text(
    "replace",
    "s, from, to",
    3,
    3,
    "Replaces every occurrence of the text `from` with `to`.",
    &[("replace(\"555-0100-22\", \"-\", \"\")", "\"555010022\"")],
    |a| {
        let from = a.str(1)?;
        if from.is_empty() {
            return Err(FnError::msg("the text to replace must not be empty"));
        }
        Ok(string(a.str(0)?.replace(from, a.str(2)?)))
    },
);

pub const REPLACE_REGEX: Builtin = Builtin {
    regex_arg: Some(1),
    ..text(
        "replace_regex",
        "s, re, to",
        3,
        3,
        "Replaces every match of a regular expression; `$1` or `${name}` in `to` insert groups.",
        &[
            ("replace_regex(\"+1 (555) 010-0199\", '[^0-9+]', \"\")", "\"+15550100199\""),
            ("replace_regex(\"2026-03-01\", '(\\d+)-(\\d+)-(\\d+)', \"$3.$2.$1\")", "\"01.03.2026\""),
        ],
        |a| {
            let re = a.regex(1)?;
            Ok(string(re.replace_all(a.str(0)?, a.str(2)?).into_owned()))
        },
    )
};

pub const SPLIT: Builtin = text(
    "split",
    "s, sep",
    2,
    2,
    "Splits text at every `sep` into a list (an empty `sep` splits into characters).",
    &[("split(\"a, b,,c\", \",\")", "[\"a\",\" b\",\"\",\"c\"]")],
    |a| {
        let s = a.str(0)?;
        let sep = a.str(1)?;
        let parts: Vec<Value> = if sep.is_empty() {
            s.chars().map(|c| Value::from(c.to_string())).collect()
        } else {
            s.split(sep).map(Value::from).collect()
        };
        Ok(Value::array(parts))
    },
);

pub const JOIN: Builtin = text(
    "join",
    "list, sep",
    2,
    2,
    "Joins a list of texts (numbers are written as text, nulls skipped) with `sep`.",
    &[("join([\"a\", null, \"b\", 3], \"-\")", "\"a-b-3\"")],
    |a| {
        let sep = a.str(1)?;
        let mut out = String::new();
        let mut first = true;
        for item in a.list(0)? {
            let piece = match item {
                Value::Null => continue,
                Value::String(s) => s.to_string(),
                Value::Number(_) | Value::Bool(_) => item.to_json(),
                other => {
                    return Err(FnError::msg(format!("join needs texts, got {}", other.describe()))
                        .with_hint("map the list to text first"));
                }
            };
            if !first {
                out.push_str(sep);
            }
            first = false;
            out.push_str(&piece);
        }
        Ok(string(out))
    },
);

pub const SUBSTRING: Builtin = text(
    "substring",
    "s, start, len?",
    2,
    3,
    "The part of `s` from character `start` (0-based; negative counts from the end), `len` characters long or to the end.",
    &[
        ("substring(\"ORDER-1042\", 6)", "\"1042\""),
        ("substring(\"ORDER-1042\", 0, 5)", "\"ORDER\""),
        ("substring(\"ORDER-1042\", -2)", "\"42\""),
    ],
    |a| {
        let s = a.str(0)?;
        let count = s.chars().count() as i64;
        let mut start = a.int(1)?;
        if start < 0 {
            start = (count + start).max(0);
        }
        let start = start.min(count);
        let len = if a.has(2) { a.int(2)?.max(0) } else { count - start };
        Ok(string(s.chars().skip(start as usize).take(len as usize).collect::<String>()))
    },
);

pub const STARTS_WITH: Builtin = text(
    "starts_with",
    "s, prefix",
    2,
    2,
    "Whether `s` begins with `prefix`.",
    &[("starts_with(\"SKU-1\", \"SKU-\")", "true")],
    |a| Ok(Value::Bool(a.str(0)?.starts_with(a.str(1)?))),
);

pub const ENDS_WITH: Builtin = text(
    "ends_with",
    "s, suffix",
    2,
    2,
    "Whether `s` ends with `suffix`.",
    &[("ends_with(\"file.csv\", \".csv\")", "true")],
    |a| Ok(Value::Bool(a.str(0)?.ends_with(a.str(1)?))),
);

pub const CONTAINS: Builtin = text(
    "contains",
    "s_or_list, x",
    2,
    2,
    "Whether text contains the text `x`, or a list contains the value `x`.",
    &[("contains(\"gift, rush\", \"rush\")", "true"), ("contains($.list, 2)", "true")],
    |a| match a.get(0) {
        Value::String(s) => Ok(Value::Bool(s.contains(a.str(1)?))),
        Value::Array(items) => Ok(Value::Bool(items.iter().any(|i| i == a.get(1)))),
        other => Err(FnError::expected("text or a list", other, 0)),
    },
);

pub const LEN: Builtin = text(
    "len",
    "x",
    1,
    1,
    "The number of characters of text, elements of a list, or keys of an object.",
    &[("len(\"Wörld\")", "5"), ("len($.list)", "3")],
    |a| {
        let n = match a.get(0) {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.len(),
            Value::Object(m) => m.len(),
            other => return Err(FnError::expected("text, a list or an object", other, 0)),
        };
        Ok(Value::from(n))
    },
);

fn pad(a: &Args, left: bool) -> Result<Value, FnError> {
    let s = a.str(0)?;
    let width = a.int(1)?;
    let fill = if a.has(2) { a.str(2)? } else { " " };
    let mut chars = fill.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return Err(FnError::msg(format!("the fill must be one character, got \"{fill}\"")));
    };
    if width > 10_000 {
        return Err(FnError::msg(format!("width {width} is too large (at most 10000)")));
    }
    let have = s.chars().count() as i64;
    if have >= width {
        return Ok(string(s));
    }
    let padding: String = std::iter::repeat_n(c, (width - have) as usize).collect();
    Ok(string(if left { padding + s } else { s.to_string() + &padding }))
}

pub const PAD_LEFT: Builtin = text(
    "pad_left",
    "s, n, ch?",
    2,
    3,
    "Pads text on the left to `n` characters with `ch` (default a space).",
    &[("pad_left(\"42\", 6, \"0\")", "\"000042\"")],
    |a| pad(a, true),
);

pub const PAD_RIGHT: Builtin = text(
    "pad_right",
    "s, n, ch?",
    2,
    3,
    "Pads text on the right to `n` characters with `ch` (default a space).",
    &[("pad_right(\"ab\", 4, \".\")", "\"ab..\"")],
    |a| pad(a, false),
);

pub const MATCHES: Builtin = Builtin {
    regex_arg: Some(1),
    ..text(
        "matches",
        "s, re",
        2,
        2,
        "Whether the regular expression matches somewhere in `s` (anchor it with ^…$ to match all).",
        &[("matches(\"90210\", '^\\d{5}$')", "true")],
        |a| Ok(Value::Bool(a.regex(1)?.is_match(a.str(0)?))),
    )
};

pub const EXTRACT: Builtin = Builtin {
    regex_arg: Some(1),
    ..text(
        "extract",
        "s, re, group?",
        2,
        3,
        "The first match of a regular expression: group `group` (a number or a name; default the first group if there is one, else the whole match), or null.",
        &[("extract(\"Order #1042 paid\", '#(\\d+)')", "\"1042\""), ("extract(\"no digits\", '\\d+')", "null")],
        |a| {
            let re = a.regex(1)?;
            let s = a.str(0)?;
            let Some(caps) = re.captures(s) else {
                return Ok(Value::Null);
            };
            let m = match a.get(2) {
                Value::Null if !a.has(2) => caps.get(if caps.len() > 1 { 1 } else { 0 }),
                Value::String(name) => caps.name(name),
                Value::Number(_) => caps.get(a.int(2)?.max(0) as usize),
                other => return Err(FnError::expected("a group number or name", other, 2)),
            };
            Ok(m.map_or(Value::Null, |m| string(m.as_str())))
        },
    )
};

pub const CONCAT: Builtin = text(
    "concat",
    "x...",
    1,
    usize::MAX,
    "Joins texts into one text, or lists into one list.",
    &[("concat(\"SO-\", \"1042\", \"-A\")", "\"SO-1042-A\""), ("concat([1], [2, 3])", "[1,2,3]")],
    |a| match a.get(0) {
        Value::Array(_) => {
            let mut out = Vec::new();
            for (i, v) in a.values.iter().enumerate() {
                match v {
                    Value::Array(items) => out.extend(items.iter().cloned()),
                    other => return Err(FnError::expected("a list", other, i)),
                }
            }
            Ok(Value::array(out))
        }
        _ => {
            let mut out = String::new();
            for (i, v) in a.values.iter().enumerate() {
                match v {
                    Value::String(s) => out.push_str(s),
                    other => return Err(FnError::expected("text", other, i).with_hint("convert it with string(x)")),
                }
            }
            Ok(string(out))
        }
    },
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn text_functions() {
        insta::assert_snapshot!(table(&[
            "upper(\"ﬁx straße ǆ\")",
            "upper(5)",
            "upper(null)",
            "lower($.s)",
            "trim(\"\\t\\n x \\u00a0\")",
            "trim(\"\")",
            "trim_start(5)",
            "replace(\"aaa\", \"a\", \"bb\")",
            "replace(\"a\", \"\", \"b\")",
            "replace_regex(\"a1b22\", '\\d+', \"#\")",
            "replace_regex(\"x\", $.s, \"#\")",
            "split(\"\", \",\")",
            "split(\"héllo\", \"\")",
            "split($.n, \",\")",
            "join($.words, \"/\")",
            "join([[1]], \",\")",
            "join(\"abc\", \",\")",
            "substring(\"héllo\", 1, 3)",
            "substring(\"abc\", 10)",
            "substring(\"abc\", -10, 2)",
            "substring(\"abc\", 1.5)",
            "contains($.words, \"a\")",
            "contains($.obj, \"a\")",
            "len(\"\")",
            "len($.obj)",
            "len(5)",
            "len(\"👍🏽\")",
            "pad_left(\"7\", 3, \"00\")",
            "pad_left(\"1234\", 2, \"0\")",
            "pad_right(\"é\", 3)",
            "pad_left(\"x\", 100000)",
            "matches(\"ab\", '^a')",
            "matches(\"ab\", '(')",
            "matches(\"SW1A 1AA\", '(?i)^[a-z]{1,2}\\d[a-z\\d]? ?\\d[a-z]{2}$')",
            "extract(\"k=v\", '(?P<key>\\w+)=(?P<val>\\w+)', \"val\")",
            "extract(\"k=v\", '(\\w+)=(\\w+)', 2)",
            "extract(\"k=v\", '\\w+=\\w+')",
            "concat(\"a\", 1)",
            "concat(\"a\", null)",
            "concat([1], \"a\")",
        ]));
    }
}
