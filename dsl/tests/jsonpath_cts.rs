//! The RFC 9535 JSONPath Compliance Test Suite, run through the engine's
//! JSONPath (`mapwright_dsl::Query`, i.e. jsonpath-rust over our own values).
//!
//! The suite lives in ../shared/conformance (tests may read it; the project
//! never does at run time). The pass count is asserted exactly, so a
//! regression or an improvement both show up; known failures are listed
//! below by name with the reason.

use mapwright_dsl::{Query, Value};

/// Cases jsonpath-rust 1.0 gets wrong, with the reason. Keep sorted.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "basic, descendant segment, multiple selectors",
        "jsonpath-rust groups descendant results by selector instead of by node",
    ),
    ("basic, descendant segment, object traversal, multiple selectors", "same ordering difference as above"),
    ("filter, nested", "a filter inside a filter selects nothing in jsonpath-rust"),
    (
        "functions, count, result must be compared",
        "function well-typedness (RFC 9535 §2.4.3) is not enforced: a bare count() is accepted",
    ),
    ("functions, length, non-singular query arg", "well-typedness: length() of a non-singular query is accepted"),
    ("functions, length, non-singular query arg, multiple index selectors", "well-typedness, as above"),
    ("functions, length, non-singular query arg, multiple name selectors", "well-typedness, as above"),
    ("functions, length, result must be compared", "well-typedness: a bare length() is accepted"),
    ("functions, value, result must be compared", "well-typedness: a bare value() is accepted"),
];

fn cts() -> Option<serde_json::Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/jsonpath-cts/cts.json");
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn run_case(case: &serde_json::Value) -> Result<(), String> {
    let selector = case["selector"].as_str().unwrap_or_default();
    let compiled = Query::compile(selector);
    if case["invalid_selector"].as_bool() == Some(true) {
        return match compiled {
            Err(_) => Ok(()),
            Ok(_) => Err("accepted an invalid selector".into()),
        };
    }
    let query = compiled.map_err(|e| format!("rejected a valid selector: {e}"))?;
    let document = Value::from(&case["document"]);
    let got = query.select(&document).map_err(|e| format!("query failed: {e}"))?;
    let got = serde_json::Value::Array(got.iter().map(serde_json::Value::from).collect());
    let expected: Vec<serde_json::Value> = match (&case["result"], &case["results"]) {
        (serde_json::Value::Array(_), _) => vec![case["result"].clone()],
        (_, serde_json::Value::Array(alts)) => alts.clone(),
        _ => return Err("case has no result".into()),
    };
    if expected.contains(&got) { Ok(()) } else { Err(format!("got {got}, expected {}", expected[0])) }
}

#[test]
fn rfc9535_compliance_suite() {
    let Some(suite) = cts() else {
        panic!("../shared/conformance/jsonpath-cts/cts.json is missing");
    };
    let cases = suite["tests"].as_array().cloned().unwrap_or_default();
    assert_eq!(cases.len(), 703, "the suite changed size");
    let mut passed = 0;
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        let known = KNOWN_FAILURES.iter().any(|(n, _)| *n == name);
        match std::panic::catch_unwind(|| run_case(case)) {
            Ok(Ok(())) => {
                passed += 1;
                if known {
                    fixed.push(name.to_string());
                }
            }
            Ok(Err(why)) if !known => unexpected.push(format!("{name}: {why}")),
            Err(_) if !known => unexpected.push(format!("{name}: panicked")),
            _ => {}
        }
    }
    assert!(unexpected.is_empty(), "{} unexpected failures:\n{}", unexpected.len(), unexpected.join("\n"));
    assert!(fixed.is_empty(), "known failures now pass, remove them from the list: {fixed:?}");
    assert_eq!(passed, 703 - KNOWN_FAILURES.len());
}
