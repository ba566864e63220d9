//! `mapwright schema`: the committed schemas are current, they mirror the
//! loaders' key tables, every mapping in the repository validates against
//! them, and a misspelt key does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use mapwright_engine::spec::keys::Block;
use mapwright_engine::spec::mapping::MAPPING;
use mapwright_engine::spec::yaml::{self, Node, Yaml};
use serde_json::Value as Json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_output(which: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright")).args(["schema", which]).output().expect("run mapwright");
    assert!(out.status.success(), "mapwright schema {which}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn schema(which: &str) -> Json {
    serde_json::from_str(&schema_output(which)).expect("the schema is JSON")
}

fn validator(which: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema(which)).expect("a valid JSON Schema")
}

/// YAML (the engine's own reader) to JSON, as an editor's YAML extension sees it.
fn to_json(node: &Node) -> Json {
    match &node.value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(text) => match serde_json::from_str::<Json>(text) {
            Ok(n @ Json::Number(_)) => n,
            _ => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Json::String(text.clone()), Json::Number),
        },
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.text.clone(), to_json(v))).collect()),
    }
}

fn yaml_json(text: &str, name: &str) -> Json {
    to_json(
        &yaml::parse_file(&mapwright_engine::diagnostic::SourceFile::new(name, text))
            .unwrap_or_else(|e| panic!("{name}: {e}")),
    )
}

/// Problems a validator finds, one line each.
fn problems(v: &jsonschema::Validator, doc: &Json) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn committed_schemas_are_current() {
    for which in ["mapping", "pipeline"] {
        let path = root().join(format!("schemas/{which}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == schema_output(which),
            "schemas/{which}.schema.json is stale: run `cargo run -- schema {which} > schemas/{which}.schema.json`"
        );
    }
}

fn properties<'a>(schema: &'a Json, pointer: &str) -> Vec<&'a str> {
    let props = schema.pointer(pointer).unwrap_or_else(|| panic!("no {pointer} in the schema"));
    let props = props.as_object().unwrap_or_else(|| panic!("{pointer} is not an object"));
    props.keys().map(String::as_str).collect()
}

/// Every block of a table, once, with the JSON pointer of its
/// properties in the schema (the root's at `/properties`, the others'
/// under `/$defs/<name>`).
fn blocks(root: &'static Block) -> Vec<(&'static Block, String)> {
    root.reachable()
        .into_iter()
        .map(|b| {
            let pointer =
                if std::ptr::eq(b, root) { "/properties".to_string() } else { format!("/$defs/{}/properties", b.name) };
            (b, pointer)
        })
        .collect()
}

/// The schema is built from the loaders' key tables: every key a loader
/// accepts is a property, no other key is (but `kind`, for the blocks of a
/// source or sink kind), and every object is closed.
#[test]
fn schema_properties_are_the_loader_key_tables() {
    for (which, root) in [("mapping", &MAPPING), ("pipeline", mapwright_pipeline::KEYS)] {
        let s = schema(which);
        let all = blocks(root);
        assert!(all.len() > 5, "{which}: only {} blocks", all.len());
        for (block, pointer) in all {
            let props = properties(&s, &pointer);
            let keys: Vec<&str> = block.names().collect();
            for k in &keys {
                assert!(
                    props.contains(k),
                    "{which}: block {} has `{k}`, but the schema's {pointer} does not",
                    block.name
                );
            }
            for p in &props {
                assert!(
                    keys.contains(p) || *p == "kind",
                    "{which}: the schema's {pointer} has `{p}`, which the loader (block {}) rejects",
                    block.name
                );
            }
            let closed = pointer.trim_end_matches("/properties").to_string() + "/additionalProperties";
            assert_eq!(s.pointer(&closed), Some(&Json::Bool(false)), "{which}: {closed} must be false");
        }
    }
}

/// Every YAML file under `dir`, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// Every mapping and pipeline file in `mappings/` and `examples/` names the
/// schema on its first line and validates against it.
#[test]
fn every_mapping_and_pipeline_file_in_the_repo_validates() {
    let mapping = validator("mapping");
    let pipeline = validator("pipeline");
    let mut files = Vec::new();
    yaml_files(&root().join("mappings"), &mut files);
    yaml_files(&root().join("examples"), &mut files);
    let mut checked = 0;
    for path in &files {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let doc = yaml_json(&text, &name);
        let (kind, v) = if doc.get("pipeline").is_some() {
            ("pipeline", &pipeline)
        } else if doc.get("mapping").is_some() {
            ("mapping", &mapping)
        } else {
            continue;
        };
        let depth = path.strip_prefix(root()).unwrap().components().count() - 1;
        let line = format!("# yaml-language-server: $schema={}schemas/{kind}.schema.json", "../".repeat(depth));
        assert_eq!(text.lines().next(), Some(line.as_str()), "{name}: the first line must name the schema");
        let found = problems(v, &doc);
        assert!(found.is_empty(), "{name} does not validate against the {kind} schema:\n{}", found.join("\n"));
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} files checked");
}

/// The mappings of the engine's own test fixtures validate too (the
/// mapping part of `engine/tests/cases/*.yaml`, before `---`), except those that
/// are errors on purpose.
#[test]
fn the_test_fixture_mappings_validate() {
    let mapping = validator("mapping");
    let mut files = Vec::new();
    yaml_files(&root().join("engine/tests/cases"), &mut files);
    yaml_files(&root().join("engine/tests/multi_source"), &mut files);
    let mut checked = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy();
        if file.starts_with("err_") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let first = text.split("\n---").next().unwrap();
        let doc = yaml_json(first, &file);
        let found = problems(&mapping, &doc);
        assert!(found.is_empty(), "{file} does not validate:\n{}", found.join("\n"));
        checked += 1;
    }
    assert!(checked > 20, "only {checked} fixtures checked");
}

#[test]
fn a_misspelt_key_is_rejected() {
    let mapping = validator("mapping");
    let path = root().join("mappings/shopify/order_to_canonical.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(mapping.is_valid(&yaml_json(&text, "order_to_canonical.yaml")));
    for (from, to, key) in [
        ("\nfilter:", "\nfiltr:", "filtr"),
        ("    required: true", "    requird: true", "requird"),
        ("\n  - name:", "\n  - nmae:", "nmae"),
    ] {
        assert!(text.contains(from), "the fixture changed: no {from:?}");
        let bad = text.replacen(from, to, 1);
        let found = problems(&mapping, &yaml_json(&bad, key));
        assert!(!found.is_empty(), "`{key}` was accepted");
        assert!(found.iter().any(|p| p.contains(key)), "the problem names `{key}`: {found:?}");
    }
    // The engine's own unknown-key fixtures are rejected by the schema as by the loader.
    for file in ["err_unknown_top_key.yaml", "err_unknown_field_key.yaml"] {
        let text = std::fs::read_to_string(root().join("engine/tests/cases").join(file)).unwrap();
        let doc = yaml_json(text.split("\n---").next().unwrap(), file);
        assert!(!mapping.is_valid(&doc), "{file} validates");
    }
}

const SPEC_PIPELINE: &str = r#"
pipeline: shopify-orders-to-erp
mapping: ../../mappings/shopify/order_to_erp.yaml
source:
  kind: http
  listen: 127.0.0.1:8088
  path: /webhooks/orders
  verify: { hmac_sha256_header: X-Shopify-Hmac-Sha256, secret: "${SHOPIFY_WEBHOOK_SECRET}" }
sink:
  kind: http
  url: http://127.0.0.1:9099/api/sales-orders
  headers: { Authorization: "token ${ERP_TOKEN}" }
  idempotency_header: Idempotency-Key
  retry: { attempts: 6, backoff: 200ms, max_backoff: 30s }
dead_letter: { kind: file, path: out/dead-letter.jsonl }
drift: { kind: file, path: out/drift.jsonl }
state: out/state.db
watch: true
metrics: { listen: 127.0.0.1:9464 }
"#;

#[test]
fn the_spec_pipeline_validates_and_misspellings_do_not() {
    let pipeline = validator("pipeline");
    let good = yaml_json(SPEC_PIPELINE, "spec pipeline");
    assert_eq!(problems(&pipeline, &good), Vec::<String>::new());
    for (from, to) in [
        ("\nsink:", "\nsinc:"),
        ("  kind: http\n  url:", "  kind: htp\n  url:"),
        ("  idempotency_header:", "  idempotency_headr:"),
        ("backoff: 200ms", "backoff: soon"),
        ("  listen: 127.0.0.1:8088", "  url: 127.0.0.1:8088"),
    ] {
        let bad = yaml_json(&SPEC_PIPELINE.replacen(from, to, 1), to);
        assert!(!pipeline.is_valid(&bad), "{to:?} was accepted");
    }
    // A pipeline is not a mapping, and a mapping is not a pipeline.
    assert!(!validator("mapping").is_valid(&good));
    let shopify = std::fs::read_to_string(root().join("mappings/shopify/order_to_canonical.yaml")).unwrap();
    assert!(!pipeline.is_valid(&yaml_json(&shopify, "shopify")));
}

#[test]
fn field_values_are_expressions_or_blocks_recursively() {
    let mapping = validator("mapping");
    let ok = yaml_json(
        "mapping: m\nfields:\n  a: $.a\n  b: 1\n  c: true\n  d: null\n  e:\n    fields:\n      f:\n        fields:\n          g: { expr: $.g, type: string }\n  h:\n    each: $.items\n    where: it.qty > 0\n    fields:\n      i: it.sku\n",
        "ok",
    );
    assert_eq!(problems(&mapping, &ok), Vec::<String>::new());
    for (bad, why) in [
        ("mapping: m\nfields:\n  a: [1, 2]\n", "a list is not a field"),
        ("mapping: m\nfields:\n  e:\n    fields:\n      f: { exp: $.f }\n", "a nested misspelt key"),
        ("mapping: m\nfields:\n  a: { expr: $.a, type: text }\n", "an unknown type"),
        ("mapping: m\n", "no fields"),
        ("fields: { a: $.a }\n", "no name"),
    ] {
        assert!(!mapping.is_valid(&yaml_json(bad, why)), "accepted: {why}");
    }
}
