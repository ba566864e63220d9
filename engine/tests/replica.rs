//! `Mapping::replica`: a per-thread copy maps exactly like the original,
//! and is refused when it could differ (files changed) or would cost too
//! much memory (large lookups).

use mapwright_engine::{Mapping, Value};

const MAPPING: &str = r#"mapping: replica
key: $.id
lookups:
  country: { file: countries.csv, key: code, value: name }
fields:
  id: $.id
  email: $.customer.email | trim | lower
  country: lookup("country", $.country)
  lines:
    each: $.items
    fields:
      n: index() + 1
      amount: round(number(it.price) * it.qty, 2)
"#;

fn folder(countries: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.yaml"), MAPPING).unwrap();
    std::fs::write(dir.path().join("countries.csv"), countries).unwrap();
    dir
}

#[test]
fn a_replica_maps_like_the_original_on_another_thread() {
    let dir = folder("code,name\nDE,Germany\nFR,France\n");
    let original = Mapping::load(dir.path().join("m.yaml")).unwrap();
    let record = Value::from_json(
        r#"{"id": 7, "customer": {"email": " A@B.CO "}, "country": "FR", "items": [{"price": "19.99", "qty": 3}, {"price": "0.10", "qty": 1}]}"#,
    )
    .unwrap();
    let expected = original.run(&record);
    std::thread::scope(|s| {
        s.spawn(|| {
            let replica = original.replica().expect("a replica");
            assert_eq!(replica.content_hash(), original.content_hash());
            assert_eq!(replica.path(), original.path());
            assert_eq!(replica.projection(), original.projection());
            let got = replica.run(&record);
            assert_eq!(got.outcome, expected.outcome);
            assert_eq!(got.key, expected.key);
            // And a record parsed with the replica's projection maps the same.
            let text = record.to_json();
            let projection = replica.projection().expect("a projection");
            let parsed = mapwright_dsl::json::parse_projected(&text, projection).unwrap();
            assert_eq!(replica.run(&parsed).outcome, expected.outcome);
        });
    });
}

#[test]
fn no_replica_when_a_lookup_file_changed_since_loading() {
    let dir = folder("code,name\nFR,France\n");
    let original = Mapping::load(dir.path().join("m.yaml")).unwrap();
    std::fs::write(dir.path().join("countries.csv"), "code,name\nFR,République française\n").unwrap();
    assert!(original.replica().is_none(), "a replica would map FR differently");
}

#[test]
fn no_replica_of_large_lookups() {
    let mut csv = String::from("code,name\n");
    for i in 0..=Mapping::REPLICA_MAX_LOOKUP_ROWS {
        csv.push_str(&format!("C{i},Country {i}\n"));
    }
    let dir = folder(&csv);
    let original = Mapping::load(dir.path().join("m.yaml")).unwrap();
    assert!(original.replica().is_none(), "one copy of a large table per thread is too much memory");
}
