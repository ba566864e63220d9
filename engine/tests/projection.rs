//! Input projection must never change a result: for every mapping here, a
//! record parsed along the mapping's projection maps exactly like the full
//! record. Mappings cover each `it` form that feeds the projection.

use mapwright_dsl::json::parse_projected;
use mapwright_engine::{Mapping, Value};

const RECORDS: &[&str] = &[
    r#"{"id": 12345678901234567890, "test": false, "noise": {"big": [1, 2, {"x": "y"}]}, "customer": {"email": " A@B.CO ", "first": "Ann", "tags": ["a", "b"], "skip": 1},
        "items": [{"sku": "a-1", "qty": 2, "price": "19.99", "parts": [{"code": "p1", "w": 3}, {"code": "p2", "w": 4}], "junk": true},
                  {"sku": "b-2", "qty": 0, "price": "5.00", "parts": [], "junk": false}], "tags": "x, y,,z", "meta": [{"key": "gift", "value": true}]}"#,
    r#"{"id": 1, "test": true, "items": []}"#,
    r#"{"id": 2, "items": null, "customer": null}"#,
    r#"{"id": 3, "items": [5, "s", null, {"sku": "c"}], "customer": "text"}"#,
];

const MAPPINGS: &[&str] = &[
    // each over a plain path, nested each over `it.parts`, where, index()
    r#"
mapping: nested
key: $.id
filter: not $.test
fields:
  id: $.id
  email: $.customer.email | trim | lower
  lines:
    each: $.items
    where: it.qty > 0
    fields:
      n: index() + 1
      sku: it.sku | upper
      amount: round(number(it.price) * it.qty, 2)
      parts:
        each: it.parts
        expr: it.code
      weights: sum(map(it.parts, it.w))
"#,
    // lambdas over plain and computed lists, exists, queries, computed keys
    r#"
mapping: lambdas
fields:
  skus: map($.items, it.sku)
  first_part: first(map(first($.items).parts, it.code))
  tags: filter(map(split($.tags, ","), trim(it)), it != "")
  has_meta: exists($.meta)
  meta: from_entries($.meta)
  customer_keys: keys($.customer)
  any_zero: any($.items, it.qty == 0)
  all_skus: $..sku
  priced: $.items[?@.qty > 0].sku
  dyn: $.customer[$.pick]
  whole: json($.noise)
"#,
    // each over a computed list: `it` reads nothing the projection needs
    r#"
mapping: computed
fields:
  lines:
    each: filter($.items, it.qty > 0)
    fields:
      sku: it.sku
      first_part: first(it.parts).code
"#,
];

fn outcome_text(m: &Mapping, v: &Value) -> String {
    format!("{:?}", m.run(v).outcome)
}

#[test]
fn projected_records_map_like_full_records() {
    for text in MAPPINGS {
        let m = Mapping::from_yaml(text, "t.yaml").expect("mapping compiles");
        for record in RECORDS {
            let full = Value::from_json(record).expect("record is JSON");
            let expected = outcome_text(&m, &full);
            if let Some(p) = m.projection() {
                let projected = parse_projected(record, p).expect("projected parse");
                assert_eq!(
                    outcome_text(&m, &projected),
                    expected,
                    "mapping {} on {record}\nprojection:\n{p}",
                    m.name()
                );
            }
        }
    }
}

#[test]
fn projection_skips_what_is_not_read() {
    let m = Mapping::from_yaml(MAPPINGS[0], "t.yaml").unwrap();
    let p = m.projection().expect("a projection");
    let shown = p.to_string();
    assert!(shown.contains("$.items.parts.code"), "{shown}");
    assert!(!shown.contains("noise") && !shown.contains("junk"), "{shown}");
    let projected = parse_projected(RECORDS[0], p).unwrap();
    assert!(projected.get("noise").is_none());
    // `$..sku` needs everything: no projection at all.
    let m = Mapping::from_yaml(MAPPINGS[1], "t.yaml").unwrap();
    assert!(m.projection().is_none());
}
