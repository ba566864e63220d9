//! Rhai hooks (`hooks:`, README "Checks, contracts, hooks, replay"): functions callable from expressions,
//! `before` / `after`, exact numbers across the boundary, and the sandbox:
//! endless loops, deep recursion and giant values fail only their record,
//! quickly; `import` is refused; `print` goes to the log; limits are
//! configurable under `hooks.limits`. Also the project's phone hook,
//! `mappings/hooks/phone.rhai`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use mapwright_engine::{Mapping, Outcome, Record, Value};
use support::{compile, json, mapped, run};

fn load(yaml: &str, dir: &Path) -> Mapping {
    compile(yaml, "hooks_test.yaml", dir)
}

fn inline(yaml: &str) -> Mapping {
    load(yaml, Path::new("."))
}

/// The messages of a record that must fail, as `field: message`.
#[track_caller]
fn failures(r: &Record) -> Vec<String> {
    match &r.outcome {
        Outcome::Failed(errors) => errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect(),
        other => panic!("expected the record to fail, got {other:?}"),
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("an object").keys().map(ToString::to_string).collect()
}

// ---------------------------------------------------------------------------
// Functions, before, after

#[test]
fn a_script_function_is_callable_from_expressions_like_a_builtin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("hooks")).unwrap();
    std::fs::write(
        dir.path().join("hooks/skus.rhai"),
        r#"
// Upper-cases a SKU and drops a vendor prefix.
fn clean_sku(sku, prefix) {
    if type_of(sku) != "string" { return (); }
    let s = sku;
    s.trim();
    s = s.to_upper();
    if s.starts_with(prefix) { s = s.sub_string(prefix.len()); }
    s
}

fn line_count(order) { order.lines.len() }

private fn helper(x) { x }
"#,
    )
    .unwrap();
    let m = load(
        r#"
mapping: skus
hooks: { script: hooks/skus.rhai }
fields:
  sku: clean_sku($.sku, "ACME-") | lower
  skus: map($.lines, clean_sku(it.sku, "ACME-"))
  lines: line_count($)
  none: clean_sku($.missing, "ACME-") ?? "no sku"
"#,
        dir.path(),
    );
    let r = run(&m, r#"{"sku": "  acme-ab-1 ", "lines": [{"sku": "acme-x"}, {"sku": "y"}]}"#);
    assert_eq!(mapped(&r), &json(r#"{"sku": "ab-1", "skus": ["X", "Y"], "lines": 2, "none": "no sku"}"#));

    // A private function is not callable from the mapping.
    let err = Mapping::from_yaml_in(
        "mapping: p\nhooks: { script: hooks/skus.rhai }\nfields:\n  x: helper(1)\n",
        "p.yaml",
        dir.path(),
    )
    .unwrap_err();
    assert!(err.render(false).contains("unknown function `helper`"), "{}", err.render(false));
}

#[test]
fn an_error_raised_in_a_function_fails_the_field_with_the_reason() {
    let m = inline(
        r#"
mapping: throw
hooks:
  inline: |
    fn checked(x) { if x < 0 { throw "negative: " + x; } x }
fields:
  a: checked($.a)
  b: $.b
"#,
    );
    assert_eq!(mapped(&run(&m, r#"{"a": 1, "b": 2}"#)), &json(r#"{"a": 1, "b": 2}"#));
    let f = failures(&run(&m, r#"{"a": -1, "b": 2}"#));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("a: ") && f[0].contains("negative: -1"), "{f:?}");
}

const BEFORE_AFTER: &str = r#"
mapping: before-after
key: $.id
hooks:
  inline: |
    // Unwraps {"order": {...}}, drops test orders.
    fn prepare(record) {
        let o = if "order" in record { record.order } else { record };
        if o.test == true { return (); }
        o
    }
    // Adds fields after the mapping's, changes one in place.
    fn finish(out, input) {
        out.total = out.total * 2;
        out.line_count = input.lines.len();
        out.checked = true;
        out
    }
  before: prepare
  after: finish
fields:
  id: string($.id)
  total: number($.total)
  lines:
    each: $.lines
    fields:
      sku: it.sku
"#;

#[test]
fn before_rewrites_the_record_and_after_adds_fields_after_the_mappings_keys() {
    let m = inline(BEFORE_AFTER);
    for input in [
        r#"{"order": {"id": 7, "total": "10.5", "lines": [{"sku": "A"}, {"sku": "B"}]}}"#,
        r#"{"id": 7, "total": "10.5", "lines": [{"sku": "A"}, {"sku": "B"}]}"#,
    ] {
        let r = run(&m, input);
        let out = mapped(&r);
        assert_eq!(
            out,
            &json(
                r#"{"id": "7", "total": 21, "lines": [{"sku": "A"}, {"sku": "B"}], "checked": true, "line_count": 2}"#
            )
        );
        // The mapping's order first (Rhai maps are sorted, the engine puts
        // the keys back), then the keys the hook added.
        assert_eq!(keys(out), ["id", "total", "lines", "checked", "line_count"], "{input}");
        assert_eq!(keys(&out.get("lines").unwrap().as_array().unwrap()[0]), ["sku"]);
        // The key is read from the record `before` returned.
        assert_eq!(r.key, json("7"));
    }
}

#[test]
fn before_returning_unit_drops_the_record_as_filtered() {
    let m = inline(BEFORE_AFTER);
    let r = run(&m, r#"{"order": {"id": 8, "test": true, "total": "1", "lines": []}}"#);
    assert_eq!(r.outcome, Outcome::Filtered);
}

#[test]
fn a_failing_before_or_after_hook_fails_the_record_with_its_name() {
    let m = inline(BEFORE_AFTER);
    // `input.lines.len()` on a record without lines fails in `finish`.
    let f = failures(&run(&m, r#"{"id": 9, "total": "1"}"#));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("hooks.after: "), "{f:?}");

    let m = inline(
        "mapping: b\nhooks:\n  inline: |\n    fn prepare(r) { r.a.b.c }\n  before: prepare\nfields:\n  x: $.x\n",
    );
    let f = failures(&run(&m, r#"{"x": 1}"#));
    assert!(f[0].starts_with("hooks.before: "), "{f:?}");

    // `after` must return the output object.
    let m = inline(
        "mapping: b\nhooks:\n  inline: |\n    fn finish(out, input) { 42 }\n  after: finish\nfields:\n  x: $.x\n",
    );
    let f = failures(&run(&m, r#"{"x": 1}"#));
    assert_eq!(f, ["hooks.after: finish() must return the output object, it returned number 42"]);
}

#[test]
fn the_contract_checks_what_after_returns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.schema.json"),
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"x": {"type": "integer"}}, "additionalProperties": false}"#,
    )
    .unwrap();
    let m = load(
        "mapping: c\nhooks:\n  inline: |\n    fn finish(out, input) { if input.extra { out.trace = 1; } out }\n  after: finish\nfields:\n  x: $.x\ncontract: c.schema.json\n",
        dir.path(),
    );
    assert_eq!(mapped(&run(&m, r#"{"x": 1, "extra": false}"#)), &json(r#"{"x": 1}"#));
    let r = run(&m, r#"{"x": 1, "extra": true}"#);
    let f = failures(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("/: violates the contract's `additionalProperties`"), "{f:?}");
}

// ---------------------------------------------------------------------------
// Values across the boundary

#[test]
fn numbers_cross_exactly() {
    let m = inline(
        r#"
mapping: exact
hooks:
  inline: |
    fn line_total(price, qty) { price * qty }
    fn tenth_sum() { 0.1 + 0.2 }
    fn same(x) { x }
    fn kind(x) { type_of(x) }
    fn third(x) { x / 3 }
fields:
  total: line_total(number($.price), $.qty)
  sum: tenth_sum()
  sum_is_exact: tenth_sum() == 0.3
  id: same($.id)
  money: same(number("1234567890123.45"))
  kind: kind($.qty)
  third: third(1)
"#,
    );
    let r = run(&m, r#"{"price": "19.99", "qty": 3, "id": 9007199254740993}"#);
    let out = mapped(&r);
    assert_eq!(out.get("total").unwrap().to_json(), "59.97");
    assert_eq!(out.get("sum").unwrap().to_json(), "0.3");
    assert_eq!(out.get("sum_is_exact"), Some(&Value::Bool(true)));
    // Integers above 2^53 keep every digit.
    assert_eq!(out.get("id").unwrap().to_json(), "9007199254740993");
    assert_eq!(out.get("money").unwrap().to_json(), "1234567890123.45");
    // Numbers arrive in Rhai as decimals, integers included.
    assert_eq!(out.get("kind"), Some(&Value::str("decimal")));
    // A decimal divided in Rhai keeps 28 digits, like the DSL.
    assert_eq!(out.get("third").unwrap().to_json(), "0.3333333333333333333333333333");
}

#[test]
fn timestamps_cross_as_rfc3339_text_and_objects_keep_their_order() {
    let m = inline(
        r#"
mapping: values
hooks:
  inline: |
    fn kind(x) { type_of(x) }
    fn same(x) { x }
fields:
  at_kind: kind(timestamp($.at))
  at: same(timestamp($.at))
  obj: same($.obj)
  null_kind: kind($.missing)
"#,
    );
    let r = run(
        &m,
        r#"{"at": "2024-05-02T10:00:00+02:00", "obj": {"z": 1, "a": [true, null, "x"], "m": {"b": 2, "a": 1}}}"#,
    );
    let out = mapped(&r);
    assert_eq!(out.get("at_kind"), Some(&Value::str("string")));
    assert_eq!(out.get("at"), Some(&Value::str("2024-05-02T08:00:00Z")));
    assert_eq!(out.get("null_kind"), Some(&Value::str("()")));
    // A value passed through comes back equal; a nested object that did
    // not come from the output is in Rhai's (sorted) key order.
    assert_eq!(out.get("obj"), Some(&json(r#"{"z": 1, "a": [true, null, "x"], "m": {"b": 2, "a": 1}}"#)));
}

// ---------------------------------------------------------------------------
// The sandbox

/// Hooks that never end on their own, one per `kind:` of record (shared
/// with the command-line test in the root package's `tests/cli.rs`).
fn runaway() -> Mapping {
    Mapping::load(support::fixtures().join("hooks/runaway.yaml")).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn runaway_hooks_fail_only_their_record_quickly_and_the_others_map() {
    let m = runaway();
    let inputs = [
        (r#"{"id": 1}"#, None),
        (r#"{"id": 2, "kind": "loop"}"#, Some("the hook ran too long (over `max_operations`; an endless loop?)")),
        (r#"{"id": 3}"#, None),
        (r#"{"id": 4, "kind": "recursion"}"#, Some("the hook recursed too deeply (over `max_call_levels`)")),
        (r#"{"id": 5}"#, None),
        (
            r#"{"id": 6, "kind": "string"}"#,
            Some("the hook built a value too large: Length of string (see `hooks.limits`)"),
        ),
        (
            r#"{"id": 7, "kind": "array"}"#,
            Some("the hook built a value too large: Size of array/BLOB (see `hooks.limits`)"),
        ),
        (r#"{"id": 8}"#, None),
    ];
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for (input, expected) in inputs {
        let t = Instant::now();
        let r = run(&m, input);
        slowest = slowest.max(t.elapsed());
        match expected {
            None => {
                let id = r.key.clone();
                let out = mapped(&r);
                assert_eq!(out.get("v").unwrap().to_json(), format!("{}", id.to_json().parse::<i64>().unwrap() * 2));
            }
            Some(reason) => {
                let f = failures(&r);
                assert_eq!(f.len(), 1, "{input}: {f:?}");
                assert!(f[0].starts_with("v: ") && f[0].contains(reason), "{input}: expected {reason:?}, got {f:?}");
            }
        }
    }
    // At the default limits an endless loop stops after ~1M operations:
    // well under a second in a release build. Debug builds are ~10x slower
    // and other builds may share the machine, so the bound there is loose.
    let total = started.elapsed();
    if cfg!(debug_assertions) {
        assert!(total < Duration::from_secs(10), "the runaway records took {total:?} (debug build)");
    } else {
        assert!(slowest < Duration::from_secs(1), "the slowest record took {slowest:?} (release build)");
    }
}

#[test]
fn a_lower_max_operations_stops_a_modest_loop() {
    let script = "  inline: |\n    fn count_to(n) { let i = 0; while i < n { i += 1; } i }\n";
    let default = inline(&format!("mapping: ops\nhooks:\n{script}fields:\n  n: count_to($.n)\n"));
    assert_eq!(mapped(&run(&default, r#"{"n": 10000}"#)), &json(r#"{"n": 10000}"#));
    let strict = inline(&format!(
        "mapping: ops\nhooks:\n{script}  limits:\n    max_operations: 1000\nfields:\n  n: count_to($.n)\n"
    ));
    assert_eq!(mapped(&run(&strict, r#"{"n": 10}"#)), &json(r#"{"n": 10}"#));
    let f = failures(&run(&strict, r#"{"n": 10000}"#));
    assert_eq!(f, ["n: the hook ran too long (over `max_operations`; an endless loop?)"]);
}

#[test]
fn every_limit_is_configurable() {
    let m = inline(
        r#"
mapping: limits
hooks:
  inline: |
    fn depth(n) { if n == 0 { 0 } else { 1 + depth(n - 1) } }
    // Numbers arrive as decimals: a range needs whole numbers (to_int).
    fn text(n) { let s = ""; for i in 0..n.to_int() { s += "x"; } s.len() }
    fn list(n) { let a = []; for i in 0..n.to_int() { a.push(i); } a.len() }
    fn object(n) { let m = #{}; for i in 0..n.to_int() { m["k" + i] = i; } m.len() }
  limits:
    max_operations: 100000
    max_call_levels: 8
    max_expr_depth: 32
    max_string_size: 20
    max_array_size: 20
    max_map_size: 20
fields:
  v: >-
    if $.f == "depth" then depth($.n) elif $.f == "text" then text($.n)
    elif $.f == "list" then list($.n) else object($.n)
"#,
    );
    for f in ["depth", "text", "list", "object"] {
        let ok = run(&m, &format!(r#"{{"f": "{f}", "n": 5}}"#));
        assert_eq!(mapped(&ok).get("v").unwrap().to_json(), "5", "{f}");
        let bad = run(&m, &format!(r#"{{"f": "{f}", "n": 30}}"#));
        let msg = failures(&bad);
        let expected = match f {
            "depth" => "over `max_call_levels`",
            "text" => "Length of string",
            "list" => "Size of array",
            _ => "Size of object map",
        };
        assert!(msg[0].contains(expected), "{f}: expected {expected:?}, got {msg:?}");
    }
}

#[test]
fn import_is_refused() {
    let m = inline(
        r#"
mapping: import
hooks:
  inline: |
    fn sneaky(x) {
        import "/etc/passwd" as secrets;
        x
    }
    fn fine(x) { x }
fields:
  v: if $.sneak then sneaky(1) else fine(2)
"#,
    );
    assert_eq!(mapped(&run(&m, r#"{"sneak": false}"#)), &json(r#"{"v": 2}"#));
    let f = failures(&run(&m, r#"{"sneak": true}"#));
    assert_eq!(f, ["v: the hook tried to import `/etc/passwd`: imports are not allowed in hooks"]);
}

#[test]
fn eval_is_refused_at_load() {
    let err = Mapping::from_yaml(
        "mapping: e\nhooks:\n  inline: |\n    fn run(code) { eval(code) }\nfields:\n  v: run($.code)\n",
        "e.yaml",
    )
    .unwrap_err();
    let rendered = err.render(false);
    assert!(rendered.contains("Rhai syntax error: reserved keyword 'eval' is disabled"), "{rendered}");
    assert!(rendered.contains("─[e.yaml:4:20]"), "{rendered}");
}

#[test]
fn print_and_debug_do_not_crash_and_do_not_touch_the_output() {
    let m = inline(
        r#"
mapping: print
hooks:
  inline: |
    fn noisy(x) {
        print("hook sees " + x);
        debug(x);
        x
    }
fields:
  v: noisy($.v)
"#,
    );
    assert_eq!(mapped(&run(&m, r#"{"v": "hello"}"#)), &json(r#"{"v": "hello"}"#));
}

// ---------------------------------------------------------------------------
// mappings/hooks/phone.rhai

fn phone_mapping() -> Mapping {
    load(
        "mapping: phone\nhooks: { script: mappings/hooks/phone.rhai }\nfields:\n  e164: normalize_phone($.phone, $.country)\n",
        &support::repo(),
    )
}

#[test]
fn normalize_phone_writes_e164_or_null() {
    let m = phone_mapping();
    let cases: &[(&str, &str, Option<&str>)] = &[
        // Already international: separators go, digits stay.
        ("+1(502)-459-2181", "US", Some("+15024592181")),
        ("+557734881234", "US", Some("+557734881234")),
        ("+44 20 7946 0958", "DE", Some("+442079460958")),
        ("+49 (0)30 1234567", "DE", Some("+49301234567")),
        ("0044 20 7946 0958", "DE", Some("+442079460958")),
        ("011 44 20 7946 0958", "US", Some("+442079460958")),
        // National numbers with the country's calling code.
        ("555-625-1199", "US", Some("+15556251199")),
        ("(555) 555-5555", "us", Some("+15555555555")),
        ("1 (555) 555-5555", "US", Some("+15555555555")),
        ("613.555.0182", "CA", Some("+16135550182")),
        ("020 7946 0958", "GB", Some("+442079460958")),
        ("07700 900123", "GB", Some("+447700900123")),
        ("030 1234567", "DE", Some("+49301234567")),
        ("0171/1234567", "DE", Some("+491711234567")),
        // Cannot normalise: null.
        ("555-1234", "US", None),
        ("123-456-7890", "US", None),
        ("555-625-1199 ext 12", "US", None),
        ("20 7946 0958", "GB", None),
        ("020 7946 0958", "FR", None),
        ("+0123456789", "US", None),
        ("+1 23", "US", None),
        ("", "US", None),
    ];
    for (phone, country, expected) in cases {
        let input = format!(r#"{{"phone": {}, "country": "{country}"}}"#, Value::str(phone).to_json());
        let out = mapped(&run(&m, &input)).get("e164").cloned().unwrap();
        let expected = expected.map_or(Value::Null, Value::str);
        assert_eq!(out, expected, "normalize_phone({phone:?}, {country:?})");
    }
    // Not text, or no country for a national number: null.
    for input in [
        r#"{"phone": null, "country": "US"}"#,
        r#"{"phone": 5556251199, "country": "US"}"#,
        r#"{"phone": "555-625-1199"}"#,
    ] {
        assert_eq!(mapped(&run(&m, input)).get("e164"), Some(&Value::Null), "{input}");
    }
}

// ---------------------------------------------------------------------------
// Regressions of gaps found and fixed: runaway containers, top-level code.

#[test]
fn a_growing_array_fails_quickly_at_the_default_limits() {
    let m = inline(
        "mapping: a\nhooks:\n  inline: |\n    fn widen(x) { let a = []; loop { a.push(x); } }\nfields:\n  v: widen(1)\n",
    );
    let started = Instant::now();
    let _ = failures(&run(&m, "{}"));
    // Release builds stop in well under a second; debug builds are ~10x slower.
    let bound = if cfg!(debug_assertions) { Duration::from_secs(10) } else { Duration::from_secs(1) };
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
}

#[test]
fn top_level_statements_are_rejected_at_load() {
    let r = Mapping::from_yaml(
        "mapping: t\nhooks:\n  inline: |\n    import \"x\" as m;\n    fn f(x) { x }\nfields:\n  v: f(1)\n",
        "t.yaml",
    );
    assert!(r.is_err(), "a top-level import loads and fails every record at run time");
}
