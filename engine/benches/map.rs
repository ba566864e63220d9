//! Criterion benches of the whole workload mapping (`bench/order_to_erp.yaml`,
//! the shared benchmark's order → ERP sales order) through the engine: load,
//! one record, and a batch of records parsed with the mapping's projection,
//! mapped and written as JSON Lines — what `mapwright map` does per record.
//!
//! Records come from `bench/data/orders_20k.jsonl` (made by `bench/run.sh`);
//! without it, from an embedded order. `cargo bench -p mapwright-engine --bench map`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mapwright_dsl::json;
use mapwright_engine::{Mapping, Outcome, Value};

const MAPPING: &str = include_str!("../../bench/order_to_erp.yaml");

/// The first line of `gen_orders.py 20000` (seed 20260301).
const SAMPLE_ORDER: &str = r##"{"id":5000000000000,"name":"#1001","created_at":"2025-08-19T13:41:27+13:00","updated_at":"2025-08-19T16:37:40+13:00","currency":"USD","financial_status":"pending","fulfillment_status":null,"test":false,"tags":"first-order, vip","source_name":"pos","subtotal_price":"2326.02","total_tax":"186.08","total_price":"2512.10","customer":{"id":6009493274,"email":"EliZAbetH.AnDersSOn155@shop.eXamPLe.Org  ","first_name":"Elizabeth","last_name":"Andersson","accepts_marketing":true},"shipping_address":{"first_name":"Elizabeth","last_name":"Andersson","address1":"295 High Street","address2":null,"city":"Madrid","province_code":"M","zip":"28041","country_code":"ES","phone":"+34 354 5792275"},"line_items":[{"id":13000000000,"sku":"tee-blk-576","title":"Classic Tee - BLK","quantity":2,"price":"112.00","variant_id":40000825954,"vendor":"Northwind Goods","requires_shipping":true,"grams":545},{"id":13000000001,"sku":"note-m-444","title":"Dot Grid Notebook - M","quantity":2,"price":"61.99","variant_id":40000983250,"vendor":"Northwind Goods","requires_shipping":true,"grams":498},{"id":13000000002,"sku":"pin-blk-940","title":"Enamel Pin - BLK","quantity":4,"price":"222.52","variant_id":40000849298,"vendor":"Northwind Goods","requires_shipping":true,"grams":290},{"id":13000000003,"sku":"jkt-l-631","title":"Rain Jacket - L","quantity":10,"price":"74.41","variant_id":40000077958,"vendor":"Initech Merch","requires_shipping":true,"grams":1115},{"id":13000000004,"sku":"jkt-s-135","title":"Rain Jacket - S","quantity":2,"price":"171.93","variant_id":40000635001,"vendor":"Northwind Goods","requires_shipping":true,"grams":1133}]}"##;

/// Records in the `map/batch_*` bench (its throughput is in records/s).
const BATCH: usize = 500;

fn orders(n: usize) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/data/orders_20k.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).take(n).map(str::to_owned).collect())
        .unwrap_or_default();
    if lines.is_empty() {
        lines.push(SAMPLE_ORDER.to_owned());
    }
    lines
}

fn load() -> Mapping {
    Mapping::from_yaml(MAPPING, "order_to_erp.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// Parses, maps and writes `lines` as `mapwright map` does; returns the bytes written.
fn map_lines(mapping: &Mapping, lines: &[String], out: &mut String) -> usize {
    out.clear();
    for line in lines {
        let value = match mapping.projection() {
            Some(p) => json::parse_projected(line, p),
            None => json::parse(line),
        }
        .expect("workload line parses");
        if let Outcome::Mapped(v) = mapping.run(&value).outcome {
            json::write_value(out, &v);
            out.push('\n');
        }
    }
    out.len()
}

fn bench_map(c: &mut Criterion) {
    let mapping = load();
    let one = orders(1).remove(0);
    let record = Value::from_json(&one).expect("order parses");
    assert!(matches!(mapping.apply(&record), Outcome::Mapped(_)), "the first order maps");

    let mut g = c.benchmark_group("map");
    g.bench_function("load_mapping", |b| b.iter(load));
    g.bench_function("apply_one_record", |b| b.iter(|| mapping.apply(black_box(&record))));

    let batch = orders(BATCH);
    let mut out = String::new();
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function(format!("batch_{}_records", batch.len()), |b| {
        b.iter(|| map_lines(&mapping, black_box(&batch), &mut out))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_map
}
criterion_main!(benches);
