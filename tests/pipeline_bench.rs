//! HTTP → HTTP pipeline benchmark (ignored by default; `bench/pipeline.sh`
//! runs it):
//!
//! ```sh
//! cargo test --release --test pipeline_bench -- --ignored --nocapture
//! ```
//!
//! Runs the binary built with the test (release with `--release`) with a
//! signed webhook source and an HTTP sink to a receiver in this test, and
//! offers a fixed, open-loop load: record `i` of a phase is posted at
//! `start + i / rate` whatever became of the ones before (each POST is its
//! own task), so a slow engine meets a growing queue instead of a politely
//! waiting client. Each record is one Shopify-like order (~1.3 KB, the
//! shape of `../shared/bench/gen_orders.py`), mapped with
//! `bench/order_to_erp.yaml`.
//!
//! Per phase it prints the records delivered per second (records received
//! by the sink over the time from the first scheduled send to the last
//! receipt), the end-to-end latency p50/p99/max (scheduled send → receipt
//! at the sink, by order id; counting from the *scheduled* time keeps a
//! stalled sender from hiding latency), the webhook's answer latency, and
//! the engine's peak resident memory (Linux).
//!
//! `PIPELINE_BENCH_RATES="200 1000"` (records/s) and
//! `PIPELINE_BENCH_SECONDS=10` change the load; `PIPELINE_BENCH_SINK`
//! adds keys to the sink (e.g. `batch: { max_records: 100 }, body: array`,
//! written inline); `PIPELINE_BENCH_PER_POST=10` posts 10 orders per
//! webhook (JSON Lines), for rates one sender cannot reach one by one.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use support::{Engine, Receiver, eventually, free_port, healthy, metric, metrics, sign};

const SECRET: &str = "bench-secret";

const FIRST: &[&str] = &["James", "Mary", "John", "Patricia", "José", "Zoë", "Björn", "Amélie", "Hiroshi", "Mia"];
const LAST: &[&str] = &["Smith", "Johnson", "Garcia", "Müller", "Dubois", "Tanaka", "de Vries", "O'Brien", "Nguyen"];
const DOMAINS: &[&str] = &["Example.com", "gmail.com", "Yahoo.COM", "outlook.com", "ACME.io"];
const TAGS: &[&str] = &["vip", "wholesale", "repeat", "first-order", "b2b", "gift", "subscription", "pos"];
const PRODUCTS: &[(&str, &str)] = &[
    ("tee", "Classic Tee"),
    ("hood", "Zip Hoodie"),
    ("mug", "Ceramic Mug 12oz"),
    ("cap", "Dad Cap"),
    ("bag", "Canvas Tote Bag"),
    ("bttl", "Insulated Bottle 750ml"),
];
const VARIANTS: &[&str] = &["s", "m", "l", "xl", "blk", "wht", "nvy"];
const PLACES: &[(&str, &str, &str)] = &[
    ("US", "NY", "New York"),
    ("CA", "ON", "Toronto"),
    ("GB", "ENG", "London"),
    ("DE", "BY", "München"),
    ("JP", "13", "Tokyo"),
    ("SE", "AB", "Stockholm"),
];

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Order `i`: unique id, a Shopify-like body of about 1.3 KB.
fn order(i: u64, rng: &mut StdRng) -> (u64, String) {
    let id = 5_000_000_000_000 + i * 7919;
    let (first, last) = (*FIRST.choose(rng).unwrap(), *LAST.choose(rng).unwrap());
    let (cc, prov, city) = *PLACES.choose(rng).unwrap();
    let mut subtotal = 0;
    let items: Vec<serde_json::Value> = (0..rng.random_range(1..=6))
        .map(|j| {
            let (code, title) = *PRODUCTS.choose(rng).unwrap();
            let var = *VARIANTS.choose(rng).unwrap();
            let qty = *[1, 1, 1, 2, 2, 3, 4, 5, 10].choose(rng).unwrap();
            let cents = rng.random_range(99..25_000u64);
            subtotal += qty * cents;
            serde_json::json!({
                "id": 13_000_000_000 + i * 10 + j,
                "sku": format!("{code}-{var}-{}", rng.random_range(100..999)),
                "title": format!("{title} - {}", var.to_uppercase()),
                "quantity": qty,
                "price": money(cents),
                "variant_id": 40_000_000_000u64 + rng.random_range(0..999_999),
                "vendor": "Acme Apparel",
                "requires_shipping": true,
                "grams": rng.random_range(20..1500),
            })
        })
        .collect();
    let tax = subtotal * 8 / 100;
    let ntags = rng.random_range(0..=3);
    let tags: Vec<&str> = TAGS.choose_multiple(rng, ntags).copied().collect();
    let body = serde_json::json!({
        "id": id,
        "name": format!("#{}", 1001 + i),
        "created_at": format!("2025-{:02}-{:02}T{:02}:17:05+02:00", rng.random_range(1..=12), rng.random_range(1..=28), rng.random_range(0..24)),
        "updated_at": "2025-07-02T16:31:21+02:00",
        "currency": "USD",
        "financial_status": if rng.random_bool(0.8) { "paid" } else { "pending" },
        "fulfillment_status": null,
        "test": false,
        "tags": tags.join(", "),
        "source_name": "web",
        "subtotal_price": money(subtotal),
        "total_tax": money(tax),
        "total_price": money(subtotal + tax),
        "customer": {
            "id": 6_000_000_000u64 + rng.random_range(0..9_999_999),
            "email": format!(" {first}.{last}{}@{} ", rng.random_range(1..999), DOMAINS.choose(rng).unwrap()),
            "first_name": first,
            "last_name": last,
            "accepts_marketing": rng.random_bool(0.4),
        },
        "shipping_address": {
            "first_name": first,
            "last_name": last,
            "address1": format!("{} Main St", rng.random_range(1..9999)),
            "address2": null,
            "city": city,
            "province_code": prov,
            "zip": format!("{}", rng.random_range(10_000..99_999)),
            "country_code": cc,
            "phone": format!("+1 {} {}", rng.random_range(100..999), rng.random_range(1_000_000..9_999_999)),
        },
        "line_items": items,
    });
    (id, body.to_string())
}

/// The `q` quantile of sorted durations, in milliseconds.
fn ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Phase {
    rate: u64,
    offered: usize,
    accepted: usize,
    delivered: usize,
    per_second: f64,
    e2e: Vec<Duration>,
    answer: Vec<Duration>,
}

/// Offers `rate` records/s for `seconds`, then waits for the sink to get them.
async fn phase(url: &str, sink: &Receiver, rate: u64, seconds: u64, first_index: u64) -> Phase {
    let mut rng = StdRng::seed_from_u64(rate ^ 0x0b5e_55ed);
    let n = rate * seconds;
    // `PIPELINE_BENCH_PER_POST` orders per webhook (JSON Lines), 1 by default.
    let per_post: u64 = std::env::var("PIPELINE_BENCH_PER_POST").ok().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let mut bodies: Vec<(Vec<u64>, String, String)> = Vec::new();
    let mut total_bytes = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_post as usize) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut body = String::new();
        for i in chunk {
            let (id, one) = order(first_index + i, &mut rng);
            total_bytes += one.len();
            ids.push(id);
            body.push_str(&one);
            if per_post > 1 {
                body.push('\n');
            }
        }
        let sig = sign(SECRET, body.as_bytes());
        bodies.push((ids, body, sig));
    }
    let mean = total_bytes / n.max(1) as usize;
    println!("phase {rate}/s: {n} orders of {mean} bytes on average, {per_post} per POST");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let answers: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let before = sink.with_receipts(<[_]>::len);
    let before_records = sink.record_count();
    let start = Instant::now() + Duration::from_millis(100);
    let posts_per_second = rate as f64 / per_post as f64;
    let mut tasks = Vec::with_capacity(bodies.len());
    for (i, (ids, body, sig)) in bodies.into_iter().enumerate() {
        let at = start + Duration::from_secs_f64(i as f64 / posts_per_second);
        tokio::time::sleep_until(at.into()).await;
        let (client, url, sent_at, answers) = (client.clone(), url.to_string(), sent_at.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("Content-Type", "application/json")
                .header("X-Shopify-Hmac-Sha256", sig)
                .body(body)
                .send()
                .await;
            let ok = r.is_ok_and(|r| r.status().is_success());
            if ok {
                let mut sent = sent_at.lock().unwrap();
                for id in &ids {
                    sent.insert(*id, at);
                }
                answers.lock().unwrap().push(at.elapsed());
            }
            if ok { ids.len() } else { 0 }
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap_or(0);
    }
    let got = eventually(Duration::from_secs(120), || {
        let n = sink.record_count() - before_records;
        async move { n >= accepted }
    })
    .await;
    assert!(got, "the sink did not receive every accepted order within 120 s");
    let sent_at = sent_at.lock().unwrap();
    let (e2e, last) = sink.with_receipts(|r| {
        let mut e2e = Vec::new();
        let mut last = start;
        for r in &r[before..] {
            // A batch carries several orders: each is delivered when it arrives.
            let orders = match r.json() {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            for o in orders {
                let id: Option<u64> = o["order_id"].as_str().and_then(|s| s.strip_prefix("SO-")?.parse().ok());
                if let Some(sent) = id.and_then(|id| sent_at.get(&id)) {
                    e2e.push(r.at.saturating_duration_since(*sent));
                    last = last.max(r.at);
                }
            }
        }
        (e2e, last)
    });
    let delivered = e2e.len();
    let mut e2e = e2e;
    e2e.sort();
    let mut answer = answers.lock().unwrap().clone();
    answer.sort();
    Phase {
        rate,
        offered: n as usize,
        accepted,
        delivered,
        per_second: delivered as f64 / last.saturating_duration_since(start).as_secs_f64(),
        e2e,
        answer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --release --ignored --nocapture (bench/pipeline.sh)"]
async fn http_to_http_under_a_fixed_load() {
    let rates: Vec<u64> = std::env::var("PIPELINE_BENCH_RATES")
        .unwrap_or_else(|_| "200 1000".to_string())
        .split_whitespace()
        .filter_map(|r| r.parse().ok())
        .collect();
    let seconds: u64 = std::env::var("PIPELINE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);

    let sink = Receiver::start(Box::new(|_, _| (201, "{\"status\":\"created\"}".to_string()))).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/order_to_erp.yaml");
    let (port, mport) = (free_port(), free_port());
    let maddr = format!("127.0.0.1:{mport}");
    let pipeline = dir.path().join("bench.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: bench
mapping: {}
source:
  kind: http
  listen: 127.0.0.1:{port}
  path: /webhooks/orders
  verify: {{ hmac_sha256_header: X-Shopify-Hmac-Sha256, secret: \"${{BENCH_SECRET}}\" }}
sink: {{ kind: http, url: \"{}\", idempotency_header: Idempotency-Key{} }}
dead_letter: {{ kind: file, path: dead.jsonl }}
state: state.db
metrics: {{ listen: {maddr} }}
",
            mapping.display(),
            sink.url("/api/sales-orders"),
            std::env::var("PIPELINE_BENCH_SINK").map(|s| format!(", {s}")).unwrap_or_default()
        ),
    )
    .unwrap();
    let engine = Engine::start(&pipeline, &[("BENCH_SECRET", SECRET), ("RUST_LOG", "warn")], &dir.path().join("log"));
    let client = reqwest::Client::new();
    assert!(eventually(Duration::from_secs(30), || healthy(&client, &maddr)).await, "{}", engine.stderr());

    let url = format!("http://127.0.0.1:{port}/webhooks/orders");
    let mut results = Vec::new();
    let mut next = 0;
    for rate in rates {
        results.push(phase(&url, &sink, rate, seconds, next).await);
        next += rate * seconds;
    }
    // Linux: the engine's peak resident memory and its threads now.
    let status = std::fs::read_to_string(format!("/proc/{}/status", engine.pid())).unwrap_or_default();
    let field =
        |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("n/a").to_string();
    let (peak, threads) = (field("VmHWM:"), field("Threads:"));
    let text = metrics(&client, &maddr).await.unwrap_or_default();
    let failed = metric(&text, "mapwright_records_failed_total").unwrap_or(f64::NAN);

    println!();
    println!(
        "| offered | accepted | delivered | delivered/s | e2e p50 | e2e p99 | e2e max | webhook answer p50 | p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in &results {
        println!(
            "| {}/s × {}s ({}) | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            p.rate,
            seconds,
            p.offered,
            p.accepted,
            p.delivered,
            p.per_second,
            ms(&p.e2e, 0.5),
            ms(&p.e2e, 0.99),
            ms(&p.e2e, 1.0),
            ms(&p.answer, 0.5),
            ms(&p.answer, 0.99),
        );
    }
    println!("records failed (dead letter): {failed}; engine peak RSS {peak}, {threads} threads at the end");
    assert_eq!(failed, 0.0, "an order failed:\n{}", engine.stderr());
    drop(engine);
}

/// file → PostgreSQL on the shared workload's 200,000 orders
/// (`bench/data/orders_200k.jsonl`, made by `bench/run.sh`): records/s of
/// `mapwright run` with the sink's defaults (4 connections, 500 records per
/// statement) and with `PIPELINE_BENCH_PG_SINK` keys added. A throwaway
/// PostgreSQL server on loopback (the tests' own).
#[test]
#[ignore = "a benchmark: run with --release --ignored --nocapture (bench/delivery.sh)"]
fn file_to_postgres() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = root.join("bench/data/orders_200k.jsonl");
    assert!(input.is_file(), "{} is missing: run bench/run.sh once to make it", input.display());
    let server = support::postgres::PgServer::start();
    server.sql("CREATE TABLE sales_orders (key text PRIMARY KEY, doc jsonb NOT NULL, updated_at timestamptz)");
    let dir = tempfile::tempdir().unwrap();
    let extra = std::env::var("PIPELINE_BENCH_PG_SINK").map(|s| format!(", {s}")).unwrap_or_default();
    let pipeline = dir.path().join("pg.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: pg\nmapping: {}\nsource: {{ kind: file, path: {} }}\n\
             sink: {{ kind: postgres, url: \"{}\", table: sales_orders{extra} }}\nstate: state.db\n",
            root.join("bench/order_to_erp.yaml").display(),
            input.display(),
            server.url()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = support::mapwright().arg("run").arg(&pipeline).output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: u64 = server.sql("SELECT count(*) FROM sales_orders").trim().parse().unwrap();
    println!(
        "file → PostgreSQL: {rows} rows in {:.2}s = {:.0} records/s (200,000 read){}; {}",
        took.as_secs_f64(),
        200_000.0 / took.as_secs_f64(),
        if extra.is_empty() { String::new() } else { format!(" with{extra}") },
        stderr.lines().last().unwrap_or_default()
    );
    assert_eq!(rows, 189_890);
}
