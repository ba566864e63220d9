//! Property tests: the parser, compiler, evaluator, mapping loader and JSON
//! reader never panic on any input, and the JSON reader agrees with
//! serde_json. Case counts stay modest so CI stays fast; raise
//! `PROPTEST_CASES` locally to search harder.

use mapwright_dsl::functions::BUILTINS;
use mapwright_dsl::{Ctx, LookupDecl, NoHost, Program, Scope, Value};
use mapwright_engine::Mapping;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- tokens

/// Pieces of the expression language, valid and broken, for token soup.
const TOKENS: &[&str] = &[
    "$",
    "$.",
    ".",
    "..",
    "$..",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    "|",
    "??",
    "or",
    "and",
    "not",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "if",
    "then",
    "elif",
    "else",
    "true",
    "false",
    "null",
    "it",
    "out",
    "out.",
    "$erp",
    "$shop",
    "0",
    "12",
    "-3.50",
    "1e3",
    "1e400",
    "79228162514264337593543950335",
    "\"a\"",
    "\"\\u00e9\\n\"",
    "\"",
    "'",
    "'raw'",
    "'[a-z]+'",
    "''",
    "\\",
    "sku",
    "qty",
    "items",
    "a b",
    "größe",
    "[*]",
    "[0]",
    "[-1]",
    "[0:2]",
    "[::2]",
    "[?@.qty > 1]",
    "[?",
    "@",
    "$['odd key']",
    "['x']",
    "upper",
    "lower",
    "lookup",
    "lookup(\"t\", ",
    "index()",
    "map(",
    "filter(",
    "try(",
    "error(",
    "round(",
    "timestamp(",
    "now()",
    "exists(",
    "coalesce(",
    "matches(",
    "extract(",
    "#",
    "\t",
    "\n",
    " ",
    "é",
    "😀",
    "\u{0}",
];

fn token_soup() -> impl Strategy<Value = String> {
    vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(|parts| {
        let mut s = String::new();
        for (t, space) in parts {
            s.push_str(t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

// ---------------------------------------------------------------- expressions

const LEAVES: &[&str] = &[
    "$",
    "$.a",
    "$.b",
    "$.sku",
    "$.qty",
    "$.items",
    "$.items[0]",
    "$.items[-1].qty",
    "$.items[*].qty",
    "$..sku",
    "$.items[?@.qty > 1]",
    "$['a']",
    "it",
    "it.qty",
    "it.sku",
    "out",
    "out.a",
    "index()",
    "now()",
    "1",
    "0",
    "-2.5",
    "0.1",
    "79228162514264337593543950335",
    "\"x\"",
    "\"12\"",
    "\"2026-03-01\"",
    "\"2026-03-01T10:15:00-05:00\"",
    "''",
    "'[a-z]+'",
    "null",
    "true",
    "false",
    "[]",
    "[1, \"a\", null]",
    "{}",
    "{a: 1, \"b c\": [2]}",
];

const OPS: &[&str] = &["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "??"];

/// Expressions built from leaves, operators and every builtin (with any
/// number of arguments; the ones that do not compile are skipped).
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_string);
    leaf.prop_recursive(4, 32, 4, |inner| {
        let name = prop::sample::select(BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>());
        prop_oneof![
            (inner.clone(), prop::sample::select(OPS), inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (name, vec(inner.clone(), 0..4)).prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| format!("if {c} then {a} else {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("try({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("lookup(\"t\", {a}, {b})")),
            inner.clone().prop_map(|a| format!("lookup(\"s\", {a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("map({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a})[{b}]")),
            inner.clone().prop_map(|a| format!("({a}).sku")),
            inner.clone().prop_map(|a| format!("{a} | string")),
        ]
    })
}

// ---------------------------------------------------------------- JSON values

/// Decimal text without exponent and without trailing fraction zeros, so
/// it reads the same as an `f64` and as an exact decimal.
fn plain_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (-100_000i64..100_000, 1u32..1000)
            .prop_filter("no trailing zero", |(_, f)| f % 10 != 0)
            .prop_map(|(i, f)| format!("{i}.{f:03}").trim_end_matches('0').to_string()),
    ]
}

/// Arbitrary JSON with small, exactly representable numbers.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        prop::sample::select(vec!["a", "b", "sku", "qty", "items", "id", "odd key", ""]).prop_map(str::to_string),
        "\\PC{0,6}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        plain_number().prop_map(|n| serde_json::from_str(&n).unwrap()),
        prop_oneof![
            "\\PC{0,10}",
            Just("12".to_string()),
            Just("2026-03-01".to_string()),
            Just("2026-03-01T10:15:00Z".to_string()),
            Just("\"\\\u{0}\u{1f}\u{7f}\u{2028}".to_string()),
        ]
        .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            btree_map(key.clone(), inner, 0..6).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON-like text: valid JSON with a few edits, or JSON token soup.
fn json_like_text() -> impl Strategy<Value = String> {
    const JSON_TOKENS: &[&str] = &[
        "{", "}", "[", "]", ",", ":", "\"a\"", "\"", "\\", "\\u", "\\ud800", "\\n", "0", "-", "1", ".", "e", "E", "+",
        "01", "1.", ".5", "-0", "1e5", "true", "false", "null", "nul", "tru", " ", "\t", "\n", "\r", "\u{b}", "\u{c}",
        "\u{a0}", "\u{feff}", "é", "\u{0}", "/", "//", "NaN", "Infinity",
    ];
    let soup = vec(prop::sample::select(JSON_TOKENS), 0..24).prop_map(|t| t.concat());
    let edited =
        (json_value(), vec((any::<prop::sample::Index>(), prop::sample::select(JSON_TOKENS), 0usize..3), 0..3))
            .prop_map(|(v, edits)| {
                let mut text = serde_json::to_string(&v).unwrap();
                for (at, token, kind) in edits {
                    let mut i = at.index(text.len() + 1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    match kind {
                        0 => text.insert_str(i, token),
                        1 => {
                            let mut end = (i + 1).min(text.len());
                            while !text.is_char_boundary(end) {
                                end += 1;
                            }
                            text.replace_range(i..end, "");
                        }
                        _ => text.replace_range(i.., token),
                    }
                }
                text
            });
    prop_oneof![soup, edited]
}

/// Exact number texts of every shape, for our own round trip.
fn any_number_text() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?"
}

// ---------------------------------------------------------------- mappings

const VALID_MAPPING: &str = r#"mapping: props
version: 2
key: $.id
filter: not $.test
nulls: keep
lookups:
  country3: { inline: { US: USA, CA: CAN } }
  rates: { file: tests/cases/lookups/rates.csv, strict: true }
fields:
  order_id: '"SO-" + string($.id)'
  email:
    expr: $.customer.email | trim | lower
    required: true
    pattern: '^[^@\s]+@[^@\s]+$'
  ship_to:
    fields:
      country: lookup("country3", $.country, "UNK")
      zip:
        expr: $.zip
        checks:
          - when: out.ship_to.country == "USA"
            pattern: '^\d{5}$'
            message: bad zip
  lines:
    each: $.items
    where: it.qty > 0
    fields:
      n: index() + 1
      sku: it.sku | upper
      qty: { expr: it.qty, type: integer, min: 1 }
  total: { expr: sum(map(out.lines, it.qty)), type: number, min: 0 }
  rate: try(lookup("rates", $.rate), null)
validate:
  - rule: out.total >= 0
    message: negative
    severity: warn
"#;

const YAML_TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "  ",
    "    ",
    "\n",
    "\t",
    "#",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "|",
    ">",
    "&a",
    "*a",
    "!",
    "!!str",
    "---",
    "...",
    "?",
    "%",
    "@",
    "`",
    "fields:",
    "each:",
    "where:",
    "expr:",
    "when:",
    "type:",
    "checks:",
    "lookups:",
    "validate:",
    "mapping:",
    "default:",
    "out.",
    "it.",
    "$.",
    "index()",
    "uper(",
    "lookup(\"x\", 1)",
    "~",
    "null",
    "yes",
    "n",
    "1e400",
    "\u{feff}",
    "é",
    "😀",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, &'static str),
    Delete(prop::sample::Index, usize),
    DuplicateLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    Indent(prop::sample::Index, bool),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), prop::sample::select(YAML_TOKENS)).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<prop::sample::Index>(), 1usize..12).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<prop::sample::Index>().prop_map(Edit::DuplicateLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(i, more)| Edit::Indent(i, more)),
    ]
}

fn boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for e in edits {
        match e {
            Edit::Insert(at, token) => {
                let i = boundary(&text, at.index(text.len() + 1));
                text.insert_str(i, token);
            }
            Edit::Delete(at, n) => {
                let i = boundary(&text, at.index(text.len() + 1));
                let end = boundary(&text, i + n);
                text.replace_range(i..end, "");
            }
            Edit::DuplicateLine(at) | Edit::Indent(at, _) | Edit::SwapLines(at, _) => {
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if lines.is_empty() {
                    continue;
                }
                let i = at.index(lines.len());
                match e {
                    Edit::DuplicateLine(_) => {
                        let line = lines[i].clone();
                        lines.insert(i, line);
                    }
                    Edit::Indent(_, true) => lines[i].insert_str(0, "  "),
                    Edit::Indent(_, false) => lines[i] = lines[i].trim_start().to_string(),
                    Edit::SwapLines(_, other) => {
                        let j = other.index(lines.len());
                        lines.swap(i, j);
                    }
                    _ => unreachable!(),
                }
                text = lines.join("\n") + "\n";
            }
        }
    }
    text
}

const SAMPLE_RECORDS: &[&str] = &[
    r#"{"id": 1, "customer": {"email": " A@B.C "}, "country": "US", "zip": "1234", "items": [{"sku": "a", "qty": 2}, {"sku": 5, "qty": 0}], "rate": "std"}"#,
    r#"{"id": null, "test": false, "items": "x", "rate": "none"}"#,
    r#"[1, 2, 3]"#,
    r#"null"#,
];

/// Compiles a mapping; when it compiles, runs the sample records, and
/// when it does not, renders the diagnostics (rendering must not panic
/// either, and every diagnostic must point inside the file).
fn load_and_run(text: &str) {
    match Mapping::from_yaml(text, "props.yaml") {
        Ok(m) => {
            for r in SAMPLE_RECORDS {
                let _ = m.run(&Value::from_json(r).unwrap());
            }
        }
        Err(e) => {
            let rendered = e.render(false);
            assert!(!rendered.is_empty());
            for d in e.diagnostics() {
                assert!(
                    d.offset <= text.len(),
                    "diagnostic offset {} beyond the file ({} bytes)",
                    d.offset,
                    text.len()
                );
                assert!(d.line >= 1 && d.column >= 1, "{d}");
            }
        }
    }
}

// ---------------------------------------------------------------- properties

fn element_scope_compile(text: &str) -> Option<Program> {
    let lookups = [LookupDecl { name: "t".into(), strict: false }, LookupDecl { name: "s".into(), strict: true }];
    let scope = Scope { lookups: &lookups, element: true, ..Scope::default() };
    Program::compile(text, &scope).ok()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn compile_never_panics_on_any_string(text in any::<String>()) {
        let _ = Program::compile(&text, &Scope::default());
    }

    #[test]
    fn compile_never_panics_on_printable_text(text in "\\PC{0,60}") {
        let _ = Program::compile(&text, &Scope::default());
    }

    #[test]
    fn compile_never_panics_on_token_soup(text in token_soup()) {
        if let Err(e) = Program::compile(&text, &Scope::default()) {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= text.len(), "span {:?} outside `{}`", e.span, text);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn eval_never_panics(expr in expression(), record in json_value()) {
        if let Some(program) = element_scope_compile(&expr) {
            let record = Value::from(&record);
            let ctx = Ctx::new(&record, &NoHost);
            let ctx = ctx.element(&record, 1).with_out(&record);
            let _ = program.eval(&ctx);
            let _ = program.eval_bool(&ctx);
        }
    }

    #[test]
    fn eval_of_token_soup_never_panics(text in token_soup(), record in json_value()) {
        if let Some(program) = element_scope_compile(&text) {
            let record = Value::from(&record);
            let ctx = Ctx::new(&record, &NoHost).element(&record, 0);
            let _ = program.eval(&ctx);
        }
    }

    #[test]
    fn mapping_from_yaml_never_panics_on_any_text(text in any::<String>()) {
        load_and_run(&text);
    }

    #[test]
    fn mapping_from_yaml_never_panics_on_yaml_soup(parts in vec(prop::sample::select(YAML_TOKENS), 0..40)) {
        load_and_run(&parts.concat());
    }

    #[test]
    fn mapping_from_yaml_never_panics_on_edited_mappings(edits in vec(edit(), 1..6)) {
        load_and_run(&apply_edits(VALID_MAPPING, &edits));
    }

    #[test]
    fn from_json_never_panics(text in any::<String>()) {
        let _ = Value::from_json(&text);
    }

    #[test]
    fn from_json_agrees_with_serde_json_on_validity(text in json_like_text()) {
        let ours = Value::from_json(&text);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        // By design we keep numbers beyond f64 (`1e400`) that serde_json refuses.
        let beyond_f64 = theirs.as_ref().is_err_and(|e| e.to_string().starts_with("number out of range"));
        prop_assume!(!beyond_f64);
        prop_assert_eq!(
            ours.is_ok(), theirs.is_ok(),
            "text {:?}: ours {:?}, serde_json {:?}", text, ours.as_ref().map(Value::to_json), theirs.as_ref().map(|v| v.to_string())
        );
        if let Err(e) = ours {
            prop_assert!(e.offset <= text.len());
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }

    #[test]
    fn from_json_agrees_with_serde_json_on_structure(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { serde_json::to_string(&v).unwrap() };
        let ours = Value::from_json(&text).unwrap();
        prop_assert_eq!(serde_json::Value::from(&ours), v);
    }

    #[test]
    fn json_write_then_parse_round_trips(v in json_value()) {
        let value = Value::from(&v);
        let text = value.to_json();
        let back = Value::from_json(&text).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(back.to_json(), text.clone(), "writing is stable, key order kept");
        let pretty = Value::from_json(&value.to_json_pretty()).unwrap();
        prop_assert_eq!(pretty.to_json(), text.clone());
        // serde_json reads our output as the same document.
        prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }

    #[test]
    fn numbers_round_trip_exactly(text in any_number_text()) {
        let v = Value::from_json(&text).unwrap();
        let written = v.to_json();
        let again = Value::from_json(&written).unwrap();
        prop_assert_eq!(&again, &v, "{} -> {}", text, written);
        prop_assert_eq!(again.to_json(), written.clone());
        // Same value as serde_json sees it, when serde_json can read it.
        if let (Ok(a), Ok(b)) = (written.parse::<f64>(), text.parse::<f64>()) {
            if a.is_finite() && b.is_finite() {
                prop_assert_eq!(a, b, "{} -> {}", text, written);
            }
        }
    }
}
