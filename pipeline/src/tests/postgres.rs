//! The PostgreSQL source and sink against a real server (one throwaway
//! cluster per test, see `pg_server.rs`): cursor order and resume,
//! exact numerics, upserts in both forms, and the start-up diagnostics.

use std::path::Path;

use mapwright_dsl::Number;
use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::{Diagnostic, Value};

use super::pg_server::PgServer;
use crate::sinks::SinkKind;
use crate::sinks::postgres::{PgSink, PgSinkSpec};
use crate::sources::SourceSpec;
use crate::sources::postgres::{PgSource, PgSourceSpec};
use crate::spec::PipelineSpec;

const PASSWORD: &str = "hunter2-s3cret";

/// A pipeline file whose `source:` is `block` (YAML, indented by two);
/// `url:` is the value of `${PG_URL}`.
fn pipeline_file(block: &str) -> SourceFile {
    SourceFile::new("pipeline.yaml", format!("pipeline: test\nmapping: m.yaml\n{block}"))
}

/// The pipeline file decoded, `${PG_URL}` being `url`.
fn decoded(file: &SourceFile, url: &str) -> PipelineSpec {
    let env = |n: &str| (n == "PG_URL").then(|| url.to_string());
    crate::decode::decode_text(&file.text, Path::new("pipeline.yaml"), &env).unwrap_or_else(|e| panic!("{e}"))
}

fn source_spec(url: &str, query: &str, cursor: &str, batch: u32) -> (PgSourceSpec, SourceFile) {
    let file = pipeline_file(&format!(
        "source:\n  kind: postgres\n  url: ${{PG_URL}}\n  query: {query}\n  cursor: {cursor}\n  batch: {batch}\n\
         sink:\n  kind: stdout\n"
    ));
    let SourceSpec::Postgres(spec) = decoded(&file, url).source else { panic!("a postgres source") };
    (spec, file)
}

fn sink_spec(url: &str, table: &str, key: &str, columns: &[&str], create: bool) -> (PgSinkSpec, SourceFile) {
    let mut block = format!("source:\n  kind: stdin\nsink:\n  kind: postgres\n  url: ${{PG_URL}}\n  table: {table}\n");
    if key != "key" {
        block.push_str(&format!("  key: {key}\n"));
    }
    if !columns.is_empty() {
        block.push_str(&format!("  columns: [{}]\n", columns.join(", ")));
    }
    // The decoder refuses `create:` with `columns:`; the sink's own check
    // of that case is reached by setting it after decoding.
    if create && columns.is_empty() {
        block.push_str("  create: true\n");
    }
    let file = pipeline_file(&block);
    let SinkKind::Postgres(mut spec) = decoded(&file, url).sinks.remove(0).kind else { panic!("a postgres sink") };
    spec.create = create;
    (spec, file)
}

async fn source(server: &PgServer, query: &str, cursor: &str, batch: u32) -> PgSource {
    let (spec, file) = source_spec(&server.url(), query, cursor, batch);
    PgSource::connect(&spec, &file).await.unwrap_or_else(|d| panic!("{}", d.render()))
}

async fn source_error(url: &str, query: &str, cursor: &str) -> Diagnostic {
    let (spec, file) = source_spec(url, query, cursor, 10);
    match PgSource::connect(&spec, &file).await {
        Ok(_) => panic!("expected a diagnostic"),
        Err(d) => d,
    }
}

async fn sink(server: &PgServer, table: &str, key: &str, columns: &[&str], create: bool) -> PgSink {
    let (spec, file) = sink_spec(&server.url(), table, key, columns, create);
    PgSink::connect(&spec, &file, 1).await.unwrap_or_else(|d| panic!("{}", d.render()))
}

async fn sink_error(url: &str, table: &str, key: &str, columns: &[&str], create: bool) -> Diagnostic {
    let (spec, file) = sink_spec(url, table, key, columns, create);
    match PgSink::connect(&spec, &file, 1).await {
        Ok(_) => panic!("expected a diagnostic"),
        Err(d) => d,
    }
}

/// The `field` of each record, as JSON, and the cursors.
fn fields(rows: &[(Value, String)], field: &str) -> (Vec<String>, Vec<String>) {
    rows.iter().map(|(r, c)| (r.get(field).unwrap().to_json(), c.clone())).unzip()
}

/// A number's digits as held, trailing zeros included.
fn digits(v: &Value) -> String {
    match v {
        Value::Number(Number::Dec(d)) => d.to_string(),
        Value::Number(Number::Big(text)) => text.to_string(),
        other => panic!("not a number: {other:?}"),
    }
}

fn record(json: &str) -> Value {
    Value::from_json(json).unwrap()
}

fn assert_diagnostic(d: &Diagnostic, file_line: &str, words: &[&str]) {
    assert_eq!(d.code, "E0215", "{d}");
    let line = d.file.text.lines().nth(d.line as usize - 1).unwrap();
    assert!(line.contains(file_line), "diagnostic at line {:?}, expected {file_line:?}: {d}", line);
    for w in words {
        assert!(d.message.contains(w), "message lacks {w:?}: {d}");
    }
    assert!(d.hint.is_some(), "no hint: {d}");
}

#[tokio::test]
async fn source_reads_in_cursor_order_and_resumes_after_an_integer_cursor() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE orders (id int, note text);
         INSERT INTO orders VALUES (3, 'c'), (1, 'a'), (10, 'j'), (2, 'b'), (9, 'i'), (NULL, 'no cursor');",
    );
    let mut source = source(&server, "SELECT * FROM orders;", "id", 2).await;

    let rows = source.next_rows(None).await.unwrap();
    assert_eq!(fields(&rows, "note"), (vec!["\"a\"".into(), "\"b\"".into()], vec!["1".into(), "2".into()]));
    assert_eq!(rows[0].0, record(r#"{"id": 1, "note": "a"}"#));
    // "9" < "10" as text, not as integers: the cursor compares in its type.
    let rows = source.next_rows(Some("2")).await.unwrap();
    assert_eq!(fields(&rows, "id").1, ["3", "9"]);
    let rows = source.next_rows(Some("9")).await.unwrap();
    assert_eq!(fields(&rows, "id").1, ["10"]);
    assert!(source.next_rows(Some("10")).await.unwrap().is_empty());

    server.sql("INSERT INTO orders VALUES (11, 'k')");
    assert_eq!(fields(&source.next_rows(Some("10")).await.unwrap(), "id").1, ["11"]);
}

#[tokio::test]
async fn source_resumes_after_a_timestamp_cursor_compared_as_an_instant() {
    let server = PgServer::start();
    server.sql(
        "SET TIME ZONE 'UTC';
         CREATE TABLE events (at timestamptz, name text);
         INSERT INTO events VALUES ('2024-01-01 10:00:00+00', 'ten'), ('2024-01-01 08:00:00+00', 'eight'),
                                   ('2024-01-01 09:30:00+00', 'half past nine'), ('2024-01-02 00:00:00+00', 'next day');",
    );
    let mut source = source(&server, "SELECT name, at FROM events", "at", 100).await;
    let rows = source.next_rows(None).await.unwrap();
    assert_eq!(fields(&rows, "name").0, ["\"eight\"", "\"half past nine\"", "\"ten\"", "\"next day\""]);

    // 11:00 at +02:00 is 09:00 UTC: as text it would sort after every row.
    let rows = source.next_rows(Some("2024-01-01T11:00:00+02:00")).await.unwrap();
    assert_eq!(fields(&rows, "name").0, ["\"half past nine\"", "\"ten\"", "\"next day\""]);
    // A cursor given back by the source resumes exactly after its row.
    let cursor = rows[1].1.clone();
    let rows = source.next_rows(Some(&cursor)).await.unwrap();
    assert_eq!(fields(&rows, "name").0, ["\"next day\""]);
    assert!(source.next_rows(Some(&rows[0].1)).await.unwrap().is_empty());
}

#[tokio::test]
async fn source_keeps_numerics_exact() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE prices (id int, big numeric, price numeric(10,2), qty bigint);
         INSERT INTO prices VALUES (1, 12345678901234567890.123456789, 19.90, 9223372036854775807);",
    );
    let mut source = source(&server, "SELECT * FROM prices", "id", 10).await;
    let rows = source.next_rows(None).await.unwrap();
    let row = &rows[0].0;
    assert_eq!(digits(row.get("big").unwrap()), "12345678901234567890.123456789");
    assert_eq!(digits(row.get("price").unwrap()), "19.90");
    assert_eq!(digits(row.get("qty").unwrap()), "9223372036854775807");
}

#[tokio::test]
async fn source_does_not_split_rows_of_one_cursor_value_across_batches() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE t (v int, n int);
         INSERT INTO t VALUES (1, 1), (2, 2), (2, 3), (2, 4), (3, 5), (4, 6);",
    );
    let mut source = source(&server, "SELECT * FROM t", "v", 2).await;
    // [1, 2] would leave two rows of 2 behind a cursor of 2: the 2 waits.
    let rows = source.next_rows(None).await.unwrap();
    assert_eq!(fields(&rows, "n").0, ["1"]);
    // A batch of one value only: all its rows, even past the batch size.
    let mut rows = fields(&source.next_rows(Some("1")).await.unwrap(), "n").0;
    rows.sort();
    assert_eq!(rows, ["2", "3", "4"]);
    assert_eq!(fields(&source.next_rows(Some("2")).await.unwrap(), "n").0, ["5", "6"]);
}

#[tokio::test]
async fn source_reconnects_after_losing_its_connection() {
    let server = PgServer::start();
    server.sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);");
    let mut source = source(&server, "SELECT * FROM t", "id", 10).await;
    assert_eq!(source.next_rows(None).await.unwrap().len(), 2);
    let killed = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mapwright'";
    assert_eq!(server.sql(killed), "t");
    assert_eq!(source.next_rows(Some("1")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn source_reports_a_bad_cursor_column_and_a_bad_query() {
    let server = PgServer::start();
    server.sql("CREATE TABLE t (id int, doc json); INSERT INTO t VALUES (1, '{}');");

    let d = source_error(&server.url(), "SELECT id FROM t", "updated_at").await;
    assert_diagnostic(&d, "cursor: updated_at", &["no column `updated_at`", "id"]);
    assert_eq!(&d.file.text[d.offset..d.offset + d.len], "updated_at");

    let d = source_error(&server.url(), "SELECT * FROM t", "doc").await;
    assert_diagnostic(&d, "cursor: doc", &["`doc`", "json"]);

    let d = source_error(&server.url(), "SELECT * FROM missing_table", "id").await;
    assert_diagnostic(&d, "query: SELECT", &["does not run", "missing_table"]);
}

#[tokio::test]
async fn sink_jsonb_form_inserts_then_updates_the_same_key() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE docs (key text PRIMARY KEY, doc jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
    );
    let sink = sink(&server, "docs", "key", &[], false).await;
    sink.upsert(&[
        ("A-1".into(), record(r#"{"total": 12345678901234567890.123456789, "status": "new"}"#)),
        ("A-2".into(), record(r#"{"total": 1}"#)),
    ])
    .await
    .unwrap();
    let first = server.sql("SELECT updated_at FROM docs WHERE key = 'A-1'");
    assert_eq!(
        server.sql("SELECT doc->>'total', doc->>'status' FROM docs WHERE key = 'A-1'"),
        "12345678901234567890.123456789|new"
    );

    sink.upsert(&[("A-1".into(), record(r#"{"total": 19.5, "status": "paid"}"#))]).await.unwrap();
    assert_eq!(
        server.sql("SELECT key, doc::text FROM docs ORDER BY key"),
        "A-1|{\"total\": 19.5, \"status\": \"paid\"}\nA-2|{\"total\": 1}"
    );
    assert_ne!(server.sql("SELECT updated_at FROM docs WHERE key = 'A-1'"), first, "updated_at is touched");
    assert!(sink.upsert(&[]).await.is_ok());
}

#[tokio::test]
async fn sink_column_form_fills_columns_through_jsonb_populate_record() {
    let server = PgServer::start();
    server.sql(
        "CREATE SCHEMA sales;
         CREATE TABLE sales.orders (order_id bigint PRIMARY KEY, total numeric(40,9), note text NOT NULL,
                                    qty int, placed timestamptz, untouched text DEFAULT 'default');",
    );
    let sink = sink(&server, "sales.orders", "order_id", &["total", "note", "qty", "placed"], false).await;
    let row = r#"{"total": 12345678901234567890.123456789, "note": "first", "qty": 3,
                  "placed": "2024-05-01T12:00:00Z", "not_a_column": true}"#;
    sink.upsert(&[("7".into(), record(row)), ("8".into(), record(r#"{"total": 19.90, "note": "x"}"#))]).await.unwrap();
    let select =
        "SET TIME ZONE 'UTC'; SELECT order_id, total, note, qty, placed, untouched FROM sales.orders ORDER BY 1";
    assert_eq!(
        server.sql(select),
        "7|12345678901234567890.123456789|first|3|2024-05-01 12:00:00+00|default\n8|19.900000000|x||\
         |default"
    );

    sink.upsert(&[("7".into(), record(r#"{"total": 0.5, "note": "second", "qty": 4}"#))]).await.unwrap();
    assert_eq!(
        server.sql("SELECT total, note, qty, placed IS NULL FROM sales.orders WHERE order_id = 7"),
        "0.500000000|second|4|t"
    );

    // One transaction: the NOT NULL violation of the second row undoes the first.
    let err = sink
        .upsert(&[("9".into(), record(r#"{"note": "ok"}"#)), ("10".into(), record(r#"{"total": 1}"#))])
        .await
        .unwrap_err();
    let err = crate::clients::postgres::describe(&err);
    assert!(err.contains("null value in column \"note\""), "{err}");
    assert_eq!(server.sql("SELECT count(*) FROM sales.orders"), "2");
}

#[tokio::test]
async fn sink_reports_a_missing_table_and_creates_it_when_asked() {
    let server = PgServer::start();
    let d = sink_error(&server.url(), "orders_doc", "key", &[], false).await;
    assert_diagnostic(&d, "table: orders_doc", &["table orders_doc does not exist"]);
    assert!(d.hint.as_deref().unwrap().contains("create: true"), "{d}");

    let sink = sink(&server, "orders_doc", "key", &[], true).await;
    sink.upsert(&[("k".into(), record(r#"{"a": 1}"#))]).await.unwrap();
    assert_eq!(server.sql("SELECT key, doc::text FROM orders_doc"), "k|{\"a\": 1}");
    // A second start finds the table it made.
    let _again = self::sink(&server, "orders_doc", "key", &[], true).await;
}

#[tokio::test]
async fn sink_reports_missing_columns_and_a_key_without_a_unique_index() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE docs (key text PRIMARY KEY, doc jsonb);
         CREATE TABLE plain (id text, doc jsonb, total numeric);",
    );
    let d = sink_error(&server.url(), "docs", "order_id", &[], false).await;
    assert_diagnostic(&d, "key: order_id", &["no key column `order_id`", "key, doc"]);

    let d = sink_error(&server.url(), "plain", "id", &[], false).await;
    assert_diagnostic(&d, "key: id", &["`id`", "no unique index"]);

    let d = sink_error(&server.url(), "docs", "key", &["total", "doc"], false).await;
    assert_diagnostic(&d, "columns: [total, doc]", &["no column total"]);

    let d = sink_error(&server.url(), "missing", "key", &["total"], true).await;
    assert_diagnostic(&d, "table: missing", &["does not exist"]);
}

#[tokio::test]
async fn sink_reconnects_after_losing_its_connection() {
    let server = PgServer::start();
    server.sql("CREATE TABLE docs (key text PRIMARY KEY, doc jsonb NOT NULL)");
    let sink = sink(&server, "docs", "key", &[], false).await;
    sink.upsert(&[("a".into(), record("{}"))]).await.unwrap();
    let killed = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mapwright'";
    assert_eq!(server.sql(killed), "t");
    sink.upsert(&[("b".into(), record("{}"))]).await.unwrap();
    assert_eq!(server.sql("SELECT count(*) FROM docs"), "2");
}

#[tokio::test]
async fn an_unreachable_server_is_a_diagnostic_without_the_password() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://ann:{PASSWORD}@127.0.0.1:{port}/shop");
    let shown = format!("postgres://ann:***@127.0.0.1:{port}/shop");

    let source = source_error(&url, "SELECT 1 AS id", "id").await;
    let sink = sink_error(&url, "docs", "key", &[], false).await;
    for d in [source, sink] {
        assert_diagnostic(&d, "url: ${PG_URL}", &["cannot connect", &shown]);
        let everything = format!("{d}\n{}\n{d:?}", d.render());
        assert!(!everything.contains(PASSWORD), "{everything}");
    }

    // Reachable, but no such database: the server's message, still no password.
    let server = PgServer::start();
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/nosuchdb", server.port());
    let d = sink_error(&url, "docs", "key", &[], false).await;
    assert_diagnostic(&d, "url: ${PG_URL}", &["database \"nosuchdb\" does not exist", "postgres:***@"]);
    assert!(!format!("{d:?}").contains(PASSWORD), "{d:?}");

    let d = source_error(&format!("postgres://ann:{PASSWORD}@127.0.0.1:notaport/shop"), "SELECT 1 AS id", "id").await;
    assert_diagnostic(&d, "url: ${PG_URL}", &["invalid PostgreSQL url"]);
    assert!(!format!("{d:?}").contains(PASSWORD), "{d:?}");
}
