//! `mapwright new mapping`: the scaffold from `tests/commands/new/`
//! passes `check` and `test` at once, validates against the schema, and
//! nothing is ever overwritten.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `mapwright ARGS` in `dir`: exit code, standard output, standard error.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mapwright");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// A project folder with the schema, as in this repository.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::copy(root().join("schemas/mapping.schema.json"), dir.path().join("schemas/mapping.schema.json")).unwrap();
    std::fs::copy(root().join("tests/commands/new/order.json"), dir.path().join("order.json")).unwrap();
    dir
}

#[test]
fn the_scaffold_passes_check_and_test() {
    let p = project();
    let (code, out, err) = run(p.path(), &["new", "mapping", "web-order", "--from", "order.json"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("new_output", out);
    let yaml = std::fs::read_to_string(p.path().join("mappings/web-order/web-order.yaml")).unwrap();
    insta::assert_snapshot!("new_mapping", yaml);
    assert!(yaml.starts_with("# yaml-language-server: $schema=../../schemas/mapping.schema.json\n"));
    assert_eq!(
        std::fs::read(p.path().join("mappings/web-order/fixtures/sample.json")).unwrap(),
        std::fs::read(p.path().join("order.json")).unwrap(),
        "the sample is copied unchanged"
    );
    let expected = std::fs::read_to_string(p.path().join("mappings/web-order/fixtures/sample.out.json")).unwrap();
    insta::assert_snapshot!("new_expected", expected);

    let (code, out, err) = run(p.path(), &["check", "mappings/web-order/web-order.yaml"]);
    assert_eq!(code, 0, "check: {out}{err}");
    let (code, out, err) = run(p.path(), &["test"]);
    assert_eq!(code, 0, "test: {out}{err}");
    assert!(out.contains("1 passed, 0 failed, 0 new"), "{out}");
    // `map` gives the same output as the expect file.
    let (code, out, err) =
        run(p.path(), &["map", "-m", "mappings/web-order/web-order.yaml", "mappings/web-order/fixtures/sample.json"]);
    assert_eq!(code, 0, "{err}");
    let mapped = mapwright_engine::Value::from_json(out.trim()).unwrap();
    assert_eq!(format!("{}\n", mapped.to_json_pretty()), expected);
}

#[test]
fn the_scaffold_validates_against_the_schema() {
    let p = project();
    let (code, _, err) = run(p.path(), &["new", "mapping", "web-order", "--from", "order.json"]);
    assert_eq!(code, 0, "{err}");
    let yaml = std::fs::read_to_string(p.path().join("mappings/web-order/web-order.yaml")).unwrap();
    let (_, schema, _) = run(p.path(), &["schema", "mapping"]);
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = to_json(
        &mapwright_engine::spec::yaml::parse_file(&mapwright_engine::diagnostic::SourceFile::new(
            "new.yaml",
            yaml.as_str(),
        ))
        .unwrap(),
    );
    let problems: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

fn to_json(node: &mapwright_engine::spec::yaml::Node) -> serde_json::Value {
    use mapwright_engine::spec::yaml::Yaml;
    match &node.value {
        Yaml::Null => serde_json::Value::Null,
        Yaml::Bool(b) => serde_json::Value::Bool(*b),
        Yaml::Number(t) => serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone())),
        Yaml::String(s) => serde_json::Value::String(s.clone()),
        Yaml::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Yaml::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.text.clone(), to_json(v))).collect()),
    }
}

#[test]
fn a_batch_sample_merges_its_records_and_expects_an_array() {
    let p = project();
    std::fs::write(
        p.path().join("batch.json"),
        r#"[{"sku": "A", "stock": {"onHand": 3}}, {"sku": "B", "price": "1.50", "stock": {"onHand": 0, "bin": "X1"}}]"#,
    )
    .unwrap();
    let (code, out, err) = run(p.path(), &["new", "mapping", "stock", "--from", "batch.json", "--dir", "feeds/stock"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created feeds/stock/stock.yaml (4 fields)"), "{out}");
    let yaml = std::fs::read_to_string(p.path().join("feeds/stock/stock.yaml")).unwrap();
    assert!(yaml.starts_with("# yaml-language-server: $schema=../../schemas/mapping.schema.json\n"), "{yaml}");
    assert!(
        yaml.contains("  sku: $.sku\n  stock.on_hand: $.stock.onHand\n  stock.bin: $.stock.bin\n  price: $.price\n"),
        "{yaml}"
    );
    assert!(yaml.contains("# key: $.id"), "no `id` in the sample: the key is left to the author");
    let expected = std::fs::read_to_string(p.path().join("feeds/stock/fixtures/sample.out.json")).unwrap();
    assert!(expected.starts_with("[\n"), "{expected}");
    let (code, out, err) = run(p.path(), &["test", "feeds"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn nothing_is_overwritten() {
    let p = project();
    let (code, _, err) = run(p.path(), &["new", "mapping", "web-order", "--from", "order.json"]);
    assert_eq!(code, 0, "{err}");
    let file = p.path().join("mappings/web-order/web-order.yaml");
    std::fs::write(&file, "mapping: edited by hand\n").unwrap();
    let (code, _, err) = run(p.path(), &["new", "mapping", "web-order", "--from", "order.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("mappings/web-order/web-order.yaml already exists; nothing was written"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mapping: edited by hand\n");

    // Only the expected output is there: still nothing is written.
    let other = p.path().join("other");
    std::fs::create_dir_all(other.join("fixtures")).unwrap();
    std::fs::write(other.join("fixtures/sample.out.json"), "{}").unwrap();
    let (code, _, err) = run(p.path(), &["new", "mapping", "x", "--from", "order.json", "--dir", "other"]);
    assert_eq!(code, 1, "{err}");
    assert!(!other.join("x.yaml").exists());
    assert!(!other.join("fixtures/sample.json").exists());
}

#[test]
fn bad_names_and_samples_exit_1() {
    let p = project();
    std::fs::write(p.path().join("list.json"), "[1, 2]").unwrap();
    std::fs::write(p.path().join("broken.json"), "{\"a\": ").unwrap();
    let mut snap = String::new();
    for args in [
        &["new", "mapping", "../escape", "--from", "order.json"][..],
        &["new", "mapping", "ok", "--from", "list.json"],
        &["new", "mapping", "ok", "--from", "broken.json"],
        &["new", "mapping", "ok", "--from", "missing.json"],
    ] {
        let (code, out, err) = run(p.path(), args);
        assert_eq!(code, 1, "{args:?}");
        assert!(out.is_empty());
        snap.push_str(&format!("$ mapwright {}\n{err}\n", args.join(" ")));
    }
    assert!(!p.path().join("mappings").exists(), "nothing was created");
    insta::assert_snapshot!(snap);
}
