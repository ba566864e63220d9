//! Numbers are exact decimals and timestamps are instants (README "Values").
//!
//! Each table row is an expression and the JSON it must produce (or the
//! start of the error it must fail with). Rows are checked all together so
//! one run lists every broken row.

use mapwright_dsl::{Ctx, NoHost, Program, Scope, Value};
use mapwright_engine::{Mapping, Outcome};

/// Evaluates `expr` against `input` (JSON): the result as compact JSON, or
/// `error: message`.
fn eval_in(expr: &str, input: &str) -> String {
    let program =
        Program::compile(expr, &Scope::default()).unwrap_or_else(|e| panic!("`{expr}` does not compile: {e}"));
    let record = Value::from_json(input).unwrap();
    match program.eval(&Ctx::new(&record, &NoHost)) {
        Ok(v) => v.to_json(),
        Err(e) => format!("error: {}", e.message),
    }
}

fn eval(expr: &str) -> String {
    eval_in(expr, "{}")
}

/// Checks every row; an expected value starting with `error` only needs
/// to be a prefix of the actual error.
fn check_table(rows: &[(&str, &str)]) {
    let mut wrong = Vec::new();
    for (expr, want) in rows {
        let got = eval(expr);
        let ok = if want.starts_with("error") { got.starts_with(want) } else { got == *want };
        if !ok {
            wrong.push(format!("  {expr}\n    want {want}\n    got  {got}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} rows are wrong:\n{}", wrong.len(), rows.len(), wrong.join("\n"));
}

/// Significant digits of a plain decimal literal (`0.0333` has 3).
fn significant_digits(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').len()
}

// ------------------------------------------------------------- decimals

#[test]
fn decimal_arithmetic_is_exact() {
    check_table(&[
        ("0.1 + 0.2", "0.3"),
        ("0.1 + 0.2 == 0.3", "true"),
        ("19.99 * 3", "59.97"),
        ("1.1 * 1.1", "1.21"),
        ("100 * 1.1", "110"),
        ("0.3 - 0.1", "0.2"),
        ("1 - 0.9", "0.1"),
        ("3 * 0.1 == 0.3", "true"),
        ("10 / 4", "2.5"),
        ("1 / 8", "0.125"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),
        ("5.5 % 2", "1.5"),
        ("1 / 3", "0.3333333333333333333333333333"),
        ("2 / 3", "0.6666666666666666666666666667"),
        ("sum([0.1, 0.2, 0.3])", "0.6"),
        ("avg([0.1, 0.2])", "0.15"),
        ("number(\"0.1\") + number(\"0.2\")", "0.3"),
        ("number(\"1.60\")", "1.6"),
        ("round(1.005, 2)", "1.01"),
        ("round(2.675, 2)", "2.68"),
        ("integer(\"-12.7\")", "-12"),
        ("abs(-0.01)", "0.01"),
        ("floor(-1.5)", "-2"),
        ("ceil(-1.5)", "-1"),
        ("min(0.3, 0.1 + 0.2) == max(0.3, 0.1 + 0.2)", "true"),
    ]);
}

#[test]
fn input_numbers_are_exact() {
    let input = r#"{"a": 0.1, "b": 0.2, "price": 19.99, "text": "1.60", "tiny": 0.0000000000000000000000000001}"#;
    assert_eq!(eval_in("$.a + $.b", input), "0.3");
    assert_eq!(eval_in("$.price * 3", input), "59.97");
    assert_eq!(eval_in("number($.text)", input), "1.6");
    assert_eq!(eval_in("$.tiny * 10", input), "0.000000000000000000000000001");
    assert_eq!(eval_in("$.tiny", input), "0.0000000000000000000000000001");
}

#[test]
fn division_keeps_at_least_28_significant_digits() {
    for (expr, min_digits) in
        [("1 / 3", 28), ("1 / 7", 28), ("2 / 3", 28), ("22 / 7", 28), ("100 / 3", 28), ("10 / 0.3", 28)]
    {
        let got = eval(expr);
        let n = significant_digits(&got);
        assert!(n >= min_digits, "{expr} = {got} has {n} significant digits");
    }
    assert_eq!(eval("1 / 7"), "0.1428571428571428571428571429");
    assert_eq!(eval("22 / 7"), "3.1428571428571428571428571429");
}

#[test]
fn round_modes_on_positive_and_negative_halves() {
    check_table(&[
        // default: half away from zero
        ("round(2.5)", "3"),
        ("round(-2.5)", "-3"),
        ("round(0.5)", "1"),
        ("round(-0.5)", "-1"),
        ("round(2.4)", "2"),
        ("round(2.25, 1)", "2.3"),
        ("round(-2.25, 1)", "-2.3"),
        ("round(2.5, 0, \"half_away_from_zero\")", "3"),
        ("round(-2.5, 0, \"half_away_from_zero\")", "-3"),
        // banker's rounding
        ("round(2.5, 0, \"half_even\")", "2"),
        ("round(3.5, 0, \"half_even\")", "4"),
        ("round(-2.5, 0, \"half_even\")", "-2"),
        ("round(-3.5, 0, \"half_even\")", "-4"),
        ("round(2.345, 2, \"half_even\")", "2.34"),
        ("round(2.355, 2, \"half_even\")", "2.36"),
        ("round(2.3451, 2, \"half_even\")", "2.35"),
        // half toward zero
        ("round(2.5, 0, \"half_toward_zero\")", "2"),
        ("round(-2.5, 0, \"half_toward_zero\")", "-2"),
        ("round(2.6, 0, \"half_toward_zero\")", "3"),
        ("round(-2.6, 0, \"half_toward_zero\")", "-3"),
        // up: away from zero
        ("round(2.1, 0, \"up\")", "3"),
        ("round(-2.1, 0, \"up\")", "-3"),
        ("round(2.5, 0, \"up\")", "3"),
        ("round(-2.5, 0, \"up\")", "-3"),
        ("round(2.0, 0, \"up\")", "2"),
        // down: toward zero
        ("round(2.9, 0, \"down\")", "2"),
        ("round(-2.9, 0, \"down\")", "-2"),
        ("round(2.5, 0, \"down\")", "2"),
        ("round(-2.5, 0, \"down\")", "-2"),
        // ceiling: toward +infinity
        ("round(2.1, 0, \"ceiling\")", "3"),
        ("round(-2.9, 0, \"ceiling\")", "-2"),
        ("round(2.5, 0, \"ceiling\")", "3"),
        ("round(-2.5, 0, \"ceiling\")", "-2"),
        // floor: toward -infinity
        ("round(2.9, 0, \"floor\")", "2"),
        ("round(-2.1, 0, \"floor\")", "-3"),
        ("round(2.5, 0, \"floor\")", "2"),
        ("round(-2.5, 0, \"floor\")", "-3"),
        // places
        ("round(1.005, 2)", "1.01"),
        ("round(-1.005, 2)", "-1.01"),
        ("round(1.2345, 3, \"floor\")", "1.234"),
        ("round(-1.2345, 3, \"ceiling\")", "-1.234"),
        ("round(19.999, 2)", "20"),
        ("round(5, 2)", "5"),
        ("round(1250, -2)", "1300"),
        ("round(1250, -2, \"half_even\")", "1200"),
        ("round(-1250, -2)", "-1300"),
        ("round(null, 2)", "null"),
        // An unknown literal mode is a load-time error (E0112); a computed one fails the record.
        ("round(2.5, 0, concat(\"side\", \"ways\"))", "error"),
    ]);
}

#[test]
fn output_uses_the_shortest_exact_form() {
    check_table(&[
        ("19.99 * 3", "59.97"),
        ("5.00", "5"),
        ("2.50 * 2", "5"),
        ("0.1 + 0.2", "0.3"),
        ("number(\"19.00\")", "19"),
        ("number(\"-0.0\")", "0"),
        ("0.10 - 0.1", "0"),
        ("1e3", "1000"),
        ("number(\"1.50e1\")", "15"),
        ("0.000001", "0.000001"),
        ("1 / 1000000000", "0.000000001"),
        ("string(19.90)", "\"19.9\""),
        ("string(59.970)", "\"59.97\""),
    ]);
    let v = Value::from_json(r#"{"a": 1.500, "b": 100, "c": -0.0, "d": 2.50e2}"#).unwrap();
    assert_eq!(v.to_json(), r#"{"a":1.5,"b":100,"c":0,"d":250}"#);
}

#[test]
fn ids_beyond_2_pow_53_are_preserved() {
    let input = r#"{"id": 12345678901234567890, "small": 9007199254740993, "max": 79228162514264337593543950335}"#;
    assert_eq!(eval_in("$.id", input), "12345678901234567890");
    assert_eq!(eval_in("$.id + 1", input), "12345678901234567891");
    assert_eq!(eval_in("$.id - 1", input), "12345678901234567889");
    assert_eq!(eval_in("$.small + 0", input), "9007199254740993");
    assert_eq!(eval_in("$.small * 1", input), "9007199254740993");
    assert_eq!(eval_in("$.small - 1 == 9007199254740992", input), "true");
    assert_eq!(eval_in("string($.id)", input), "\"12345678901234567890\"");
    assert_eq!(eval_in("number(string($.id))", input), "12345678901234567890");
    assert_eq!(eval_in("$.max", input), "79228162514264337593543950335");
    assert_eq!(eval_in("$.small == 9007199254740992", input), "false");

    let mapping = Mapping::from_yaml(
        "mapping: ids\nkey: $.id\nfields:\n  id: $.id\n  next: $.id + 1\n  text: '\"SO-\" + string($.id)'\n  nested.ids: $.ids\n",
        "ids.yaml",
    )
    .unwrap();
    let record =
        Value::from_json(r#"{"id": 12345678901234567890, "ids": [9007199254740993, 18446744073709551617]}"#).unwrap();
    let r = mapping.run(&record);
    assert_eq!(r.key.to_json(), "12345678901234567890");
    match r.outcome {
        Outcome::Mapped(v) => assert_eq!(
            v.to_json(),
            r#"{"id":12345678901234567890,"next":12345678901234567891,"text":"SO-12345678901234567890","nested":{"ids":[9007199254740993,18446744073709551617]}}"#
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers_beyond_decimal_range_pass_through_unchanged() {
    for text in ["1e400", "123456789012345678901234567890123456789", "0.1000000000000000000000000000000001", "-1E-400"]
    {
        let v = Value::from_json(text).unwrap();
        assert_eq!(v.to_json(), text, "passes through as written");
    }
    let input = r#"{"huge": 1e400}"#;
    assert_eq!(eval_in("$.huge", input), "1e400");
    assert!(eval_in("$.huge + 1", input).starts_with("error"), "arithmetic on it is an error, not a wrong number");
}

#[test]
fn overflow_is_an_error_not_a_wrong_number() {
    check_table(&[
        ("79228162514264337593543950335 + 1", "error"),
        ("79228162514264337593543950335 * 2", "error"),
        ("-79228162514264337593543950335 - 1", "error"),
        ("79228162514264337593543950335 * 79228162514264337593543950335", "error"),
        ("1 / 0", "error"),
        ("1 % 0", "error"),
        ("79228162514264337593543950335 / 0.1", "error"),
        ("sum([79228162514264337593543950335, 1])", "error"),
        ("79228162514264337593543950335 + 0", "79228162514264337593543950335"),
        ("79228162514264337593543950334 + 1", "79228162514264337593543950335"),
    ]);
}

#[test]
fn overflow_fails_the_record_with_the_field_named() {
    let mapping = Mapping::from_yaml("mapping: o\nfields:\n  total: $.n * $.n\n", "o.yaml").unwrap();
    let record = Value::from_json(r#"{"n": 79228162514264337593543950335}"#).unwrap();
    match mapping.apply(&record) {
        Outcome::Failed(errors) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "total");
            assert_eq!(errors[0].expr, "$.n * $.n");
            assert!(errors[0].message.contains("overflow"), "{}", errors[0].message);
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------- timestamps

#[test]
fn timestamps_parse_to_utc_instants() {
    check_table(&[
        ("timestamp(\"2026-03-01T10:15:00-05:00\")", "\"2026-03-01T15:15:00Z\""),
        ("timestamp(\"2026-03-01T10:15:00+05:30\")", "\"2026-03-01T04:45:00Z\""),
        ("timestamp(\"2026-03-01T15:15:00Z\")", "\"2026-03-01T15:15:00Z\""),
        ("timestamp(\"2026-03-01T15:15:00+00:00\")", "\"2026-03-01T15:15:00Z\""),
        ("timestamp(\"2026-03-01\")", "\"2026-03-01T00:00:00Z\""),
        ("timestamp(\"2026-03-01T23:30:00-01:00\")", "\"2026-03-02T00:30:00Z\""),
        // fractional seconds only when non-zero
        ("timestamp(\"2026-03-01T10:15:00.000Z\")", "\"2026-03-01T10:15:00Z\""),
        ("timestamp(\"2026-03-01T10:15:00.250Z\")", "\"2026-03-01T10:15:00.25Z\""),
        ("timestamp(\"2026-03-01T10:15:00.123456789+01:00\")", "\"2026-03-01T09:15:00.123456789Z\""),
        ("timestamp(\"2026-03-01T10:15:00.5-05:00\")", "\"2026-03-01T15:15:00.5Z\""),
        // date() is the UTC date
        ("date(timestamp(\"2026-03-01T22:00:00-05:00\"))", "\"2026-03-02\""),
        ("date(timestamp(\"2026-03-01\"))", "\"2026-03-01\""),
        ("timestamp(null)", "null"),
        ("timestamp(\"2026-03-01T10:15:00\")", "error"),
        ("timestamp(\"yesterday\")", "error"),
        ("timestamp(\"2026-02-30\")", "error"),
    ]);
}

#[test]
fn timestamps_compare_as_instants() {
    check_table(&[
        ("timestamp(\"2026-03-01T10:15:00-05:00\") == timestamp(\"2026-03-01T15:15:00Z\")", "true"),
        ("timestamp(\"2026-03-01T10:15:00-05:00\") != timestamp(\"2026-03-01T10:15:00Z\")", "true"),
        // 10:15 in New York is after 12:00 in London
        ("timestamp(\"2026-03-01T10:15:00-05:00\") > timestamp(\"2026-03-01T12:00:00Z\")", "true"),
        ("timestamp(\"2026-03-01T10:15:00+01:00\") < timestamp(\"2026-03-01T10:00:00Z\")", "true"),
        ("timestamp(\"2026-03-01\") <= timestamp(\"2026-03-01T00:00:00+00:00\")", "true"),
        ("timestamp(\"2026-03-01T00:00:00.001Z\") > timestamp(\"2026-03-01\")", "true"),
        (
            "sort([timestamp(\"2026-03-01T12:00:00+02:00\"), timestamp(\"2026-03-01T11:00:00Z\"), timestamp(\"2026-03-01T09:00:00-01:00\")])",
            "[\"2026-03-01T10:00:00Z\",\"2026-03-01T10:00:00Z\",\"2026-03-01T11:00:00Z\"]",
        ),
        ("days_between(timestamp(\"2026-03-01\"), timestamp(\"2026-03-04T12:00:00Z\"))", "3"),
        ("days_between(timestamp(\"2026-03-04\"), timestamp(\"2026-03-01\"))", "-3"),
        ("add_days(timestamp(\"2026-02-28T10:00:00-05:00\"), 1)", "\"2026-03-01T15:00:00Z\""),
        ("add_hours(timestamp(\"2026-03-01T23:00:00Z\"), 2)", "\"2026-03-02T01:00:00Z\""),
    ]);
}

#[test]
fn local_times_across_new_york_dst_changes() {
    let ny = |local: &str| eval(&format!("timestamp(\"{local}\", null, \"America/New_York\")"));
    // Standard and daylight time around the spring change (2026-03-08).
    assert_eq!(ny("2026-03-08T01:59:00"), "\"2026-03-08T06:59:00Z\"");
    assert_eq!(ny("2026-03-08T03:00:00"), "\"2026-03-08T07:00:00Z\"");
    // 02:30 does not exist that day; it is read as 03:30 EDT (clocks
    // jumped forward), never an error and never a time before 02:00.
    assert_eq!(ny("2026-03-08T02:30:00"), "\"2026-03-08T07:30:00Z\"");
    // 01:30 happens twice on 2026-11-01; the earlier (EDT) one is taken.
    assert_eq!(ny("2026-11-01T01:30:00"), "\"2026-11-01T05:30:00Z\"");
    assert_eq!(ny("2026-11-01T02:00:00"), "\"2026-11-01T07:00:00Z\"");
    // An explicit offset wins over the zone.
    assert_eq!(
        eval("timestamp(\"2026-11-01T01:30:00-05:00\", null, \"America/New_York\")"),
        "\"2026-11-01T06:30:00Z\""
    );
    // Rendering in the zone shows the right abbreviation on each side.
    let fmt =
        |utc: &str| eval(&format!("format_time(timestamp(\"{utc}\"), \"%Y-%m-%d %H:%M %Z\", \"America/New_York\")"));
    assert_eq!(fmt("2026-03-08T06:59:00Z"), "\"2026-03-08 01:59 EST\"");
    assert_eq!(fmt("2026-03-08T07:00:00Z"), "\"2026-03-08 03:00 EDT\"");
    assert_eq!(fmt("2026-11-01T05:30:00Z"), "\"2026-11-01 01:30 EDT\"");
    assert_eq!(fmt("2026-11-01T06:30:00Z"), "\"2026-11-01 01:30 EST\"");
}

#[test]
fn timestamps_in_a_mapping_are_written_as_utc() {
    let mapping = Mapping::from_yaml(
        "mapping: t\nfields:\n  at: timestamp($.at)\n  day: timestamp($.day)\n  later: timestamp($.at) > timestamp($.day)\n",
        "t.yaml",
    )
    .unwrap();
    let record = Value::from_json(r#"{"at": "2026-03-01T10:15:00.000-05:00", "day": "2026-03-01"}"#).unwrap();
    match mapping.apply(&record) {
        Outcome::Mapped(v) => {
            assert_eq!(v.to_json(), r#"{"at":"2026-03-01T15:15:00Z","day":"2026-03-01T00:00:00Z","later":true}"#);
            assert!(matches!(v.get("at"), Some(Value::Timestamp(_))), "an instant, not text: {v:?}");
        }
        other => panic!("{other:?}"),
    }
}
