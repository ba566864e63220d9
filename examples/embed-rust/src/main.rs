//! mapwright from Rust: the engine on single records, then a pipeline from
//! a file to a file — what an embedder writes. `cargo run -p
//! mapwright-embed-example` prints what it does; the test at the bottom
//! runs it and checks the results.

use std::path::{Path, PathBuf};

use mapwright_engine::{Mapping, Outcome, Value};
use mapwright_pipeline::{Options, Pipeline, Stop};

/// The repository's root: the mapping and the orders are there.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the example found, for the test.
struct Report {
    mapped_order: Value,
    failure: String,
    diagnostic: String,
    delivered: u64,
    failed: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = tempfile_dir()?;
    let report = run(&out)?;
    println!("mapped: {}", report.mapped_order.to_json());
    println!("failed: {}", report.failure);
    println!("a broken mapping: {}", report.diagnostic);
    println!(
        "pipeline: {} delivered, {} failed; its output and dead letter are in {}",
        report.delivered,
        report.failed,
        out.display()
    );
    Ok(())
}

fn run(out: &Path) -> Result<Report, Box<dyn std::error::Error>> {
    // --- The engine: compile once, apply to any number of records.
    let mapping = Mapping::load(repo().join("mappings/shopify/order_to_canonical.yaml"))?;
    let order = std::fs::read_to_string(repo().join("mappings/shopify/fixtures/order.json"))?;
    // Exact values: `Value::from_json` keeps every digit of every number.
    let order = Value::from_json(&order)?;
    let mapped_order = match mapping.apply(&order) {
        Outcome::Mapped(canonical) => canonical,
        other => return Err(format!("the fixture order did not map: {other:?}").into()),
    };

    let bad = std::fs::read_to_string(repo().join("mappings/shopify/fixtures/bad_email.json"))?;
    let failure = match mapping.run(&Value::from_json(&bad)?).outcome {
        Outcome::Failed(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        other => return Err(format!("the bad order did not fail: {other:?}").into()),
    };

    // A broken mapping: every problem, located, with a hint.
    let diagnostic = match Mapping::from_yaml("mapping: m\nfields:\n  email: lowr($.email)\n", "broken.yaml") {
        Ok(_) => return Err("the broken mapping compiled".into()),
        Err(e) => e.to_string(),
    };

    // --- The pipeline: a file in, a file out, a dead letter, a state store.
    let pipeline_file = out.join("pipeline.yaml");
    let mapping_path = repo().join("mappings/shopify/order_to_canonical.yaml");
    let orders = repo().join("examples/orders-file-to-file/orders.jsonl");
    std::fs::write(
        &pipeline_file,
        format!(
            "pipeline: embedded\nmapping: {}\nsource: {{ kind: file, path: {} }}\nsink: {{ kind: file, path: out/orders.jsonl }}\ndead_letter: {{ kind: file, path: out/dead.jsonl }}\nstate: out/state.db\n",
            mapping_path.display(),
            orders.display()
        ),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = runtime.block_on(async {
        let pipeline = Pipeline::load(&pipeline_file, &Options::default()).await?;
        // Keep the handle to stop a long-running source (webhooks, a
        // database): a file source ends by itself.
        let (_handle, stop) = Stop::new();
        pipeline.run(stop).await
    })?;
    Ok(Report { mapped_order, failure, diagnostic, delivered: summary.delivered, failed: summary.failed })
}

/// A fresh folder for the pipeline's files.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mapwright-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_maps_fails_locates_and_runs_a_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let report = run(dir.path()).unwrap();
        let expected = std::fs::read_to_string(repo().join("mappings/shopify/fixtures/order.out.json")).unwrap();
        let expected = Value::from_json(&expected).unwrap().to_json();
        assert_eq!(report.mapped_order.to_json(), expected, "the engine maps like `mapwright test`");
        assert!(report.failure.contains("customer.email"), "{}", report.failure);
        assert!(
            report.diagnostic.starts_with("broken.yaml:3:10: error[E0102]: unknown function `lowr`"),
            "{}",
            report.diagnostic
        );
        assert_eq!((report.delivered, report.failed), (9, 5), "as the main example: 9 delivered, 5 failed");
        let written = std::fs::read_to_string(dir.path().join("out/orders.jsonl")).unwrap();
        assert_eq!(written.lines().count(), 9);
        assert_eq!(std::fs::read_to_string(dir.path().join("out/dead.jsonl")).unwrap().lines().count(), 5);
    }
}
