//! Criterion benches for the expression language's hot paths, on one order
//! of the shared benchmark workload (`bench/data/orders_20k.jsonl`, made by
//! `bench/run.sh`; an embedded copy of its first line otherwise).
//!
//! `cargo bench -p mapwright-dsl --bench eval` (add `-- json/` etc. to filter).
//! The whole mapping (engine, projection, output) is in `engine/benches/map.rs`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mapwright_dsl::json;
use mapwright_dsl::{Ctx, NoHost, Program, Projection, ReadRoot, Scope, Value};

/// The first line of `gen_orders.py 20000` (seed 20260301).
const SAMPLE_ORDER: &str = r##"{"id":5000000000000,"name":"#1001","created_at":"2025-08-19T13:41:27+13:00","updated_at":"2025-08-19T16:37:40+13:00","currency":"USD","financial_status":"pending","fulfillment_status":null,"test":false,"tags":"first-order, vip","source_name":"pos","subtotal_price":"2326.02","total_tax":"186.08","total_price":"2512.10","customer":{"id":6009493274,"email":"EliZAbetH.AnDersSOn155@shop.eXamPLe.Org  ","first_name":"Elizabeth","last_name":"Andersson","accepts_marketing":true},"shipping_address":{"first_name":"Elizabeth","last_name":"Andersson","address1":"295 High Street","address2":null,"city":"Madrid","province_code":"M","zip":"28041","country_code":"ES","phone":"+34 354 5792275"},"line_items":[{"id":13000000000,"sku":"tee-blk-576","title":"Classic Tee - BLK","quantity":2,"price":"112.00","variant_id":40000825954,"vendor":"Northwind Goods","requires_shipping":true,"grams":545},{"id":13000000001,"sku":"note-m-444","title":"Dot Grid Notebook - M","quantity":2,"price":"61.99","variant_id":40000983250,"vendor":"Northwind Goods","requires_shipping":true,"grams":498},{"id":13000000002,"sku":"pin-blk-940","title":"Enamel Pin - BLK","quantity":4,"price":"222.52","variant_id":40000849298,"vendor":"Northwind Goods","requires_shipping":true,"grams":290},{"id":13000000003,"sku":"jkt-l-631","title":"Rain Jacket - L","quantity":10,"price":"74.41","variant_id":40000077958,"vendor":"Initech Merch","requires_shipping":true,"grams":1115},{"id":13000000004,"sku":"jkt-s-135","title":"Rain Jacket - S","quantity":2,"price":"171.93","variant_id":40000635001,"vendor":"Northwind Goods","requires_shipping":true,"grams":1133}]}"##;

/// Representative expressions of the workload mapping (`bench/order_to_erp.yaml`).
const EXPRESSIONS: &[(&str, &str)] = &[
    ("path", "$.shipping_address.city"),
    ("email_trim_lower", "$.customer.email | trim | lower"),
    ("concat_id", r#""SO-" + string($.id)"#),
    ("timestamp", "timestamp($.created_at)"),
    ("if_status", r#"if $.financial_status == "paid" then "RELEASED" else "HOLD""#),
    ("name_concat", r#"$.customer.first_name + " " + $.customer.last_name"#),
    ("line_amounts_map", "map($.line_items, round(number(it.price) * it.quantity, 2))"),
    ("tags_split_trim", r#"filter(map(split($.tags, ","), trim(it)), it != "")"#),
];

/// The whole mapping (less the lookup, which needs a host) as one object expression.
const WHOLE_RECORD: &str = r#"{
  order_id: "SO-" + string($.id),
  channel: "shopify",
  ordered_at: timestamp($.created_at),
  status: if $.financial_status == "paid" then "RELEASED" else "HOLD",
  customer: { email: $.customer.email | trim | lower, name: $.customer.first_name + " " + $.customer.last_name },
  ship_to: { city: $.shipping_address.city, region: $.shipping_address.province_code, postal_code: $.shipping_address.zip },
  lines: map($.line_items, { line_no: index() + 1, sku: it.sku | upper, qty: it.quantity, unit_price: number(it.price), amount: round(number(it.price) * it.quantity, 2) }),
  total: number($.total_price),
  tags: filter(map(split($.tags, ","), trim(it)), it != "")
}"#;

fn sample_order() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/data/orders_20k.jsonl");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().next().map(str::to_owned))
        .filter(|line| !line.trim().is_empty())
        .unwrap_or_else(|| SAMPLE_ORDER.to_owned())
}

fn compile(text: &str) -> Program {
    Program::compile(text, &Scope::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn bench_json(c: &mut Criterion) {
    let line = sample_order();
    let record = Value::from_json(&line).expect("sample order parses");
    let programs: Vec<Program> = EXPRESSIONS
        .iter()
        .map(|(_, t)| compile(t))
        .chain([compile(WHOLE_RECORD), compile("not $.test"), compile("$.id")])
        .collect();
    let projection = Projection::from_reads(&ReadRoot::Input, programs.iter().flat_map(|p| p.reads()))
        .expect("the mapping reads part of the record");
    let output = compile(WHOLE_RECORD).eval(&Ctx::new(&record, &NoHost)).expect("whole record evaluates");

    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(line.len() as u64));
    g.bench_function("parse_full", |b| b.iter(|| json::parse(black_box(&line)).unwrap()));
    g.bench_function("parse_projected", |b| b.iter(|| json::parse_projected(black_box(&line), &projection).unwrap()));
    g.bench_function("serde_json_value_parse", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&line)).unwrap())
    });
    g.bench_function("to_string_input", |b| b.iter(|| json::to_string(black_box(&record))));
    g.bench_function("to_string_output", |b| b.iter(|| json::to_string(black_box(&output))));
    g.finish();
}

fn bench_eval(c: &mut Criterion) {
    let line = sample_order();
    let record = Value::from_json(&line).expect("sample order parses");
    let mut g = c.benchmark_group("eval");
    for (name, text) in EXPRESSIONS.iter().chain([&("whole_record", WHOLE_RECORD)]) {
        let program = compile(text);
        program.eval(&Ctx::new(&record, &NoHost)).unwrap_or_else(|e| panic!("{text}: {e}"));
        g.bench_function(*name, |b| b.iter(|| program.eval(&Ctx::new(black_box(&record), &NoHost)).unwrap()));
    }
    g.finish();
}

fn bench_compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.bench_function("expressions", |b| {
        b.iter(|| {
            for (_, text) in EXPRESSIONS {
                black_box(compile(black_box(text)));
            }
        })
    });
    g.bench_function("whole_record", |b| b.iter(|| compile(black_box(WHOLE_RECORD))));
    g.finish();
}

/// Parse (projected), evaluate the whole record, write it: one record end to end.
fn bench_record(c: &mut Criterion) {
    let line = sample_order();
    let program = compile(WHOLE_RECORD);
    let filter = compile("not $.test");
    let projection =
        Projection::from_reads(&ReadRoot::Input, program.reads().iter().chain(filter.reads())).expect("projection");
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Bytes(line.len() as u64));
    g.bench_function("parse_eval_write", |b| {
        b.iter_batched_ref(
            String::new,
            |out| {
                let v = json::parse_projected(black_box(&line), &projection).unwrap();
                let ctx = Ctx::new(&v, &NoHost);
                if filter.eval_bool(&ctx).unwrap() {
                    json::write_value(out, &program.eval(&ctx).unwrap());
                    out.push('\n');
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_json, bench_eval, bench_compile, bench_record
}
criterion_main!(benches);
