//! `mapwright run` with PostgreSQL endpoints (README "Pipeline file reference"), end to end: the
//! binary against a real server on 127.0.0.1 (one throwaway cluster per
//! test, see `engine/tests/support/postgres.rs`), stopped with SIGTERM as a
//! service manager would.
//!
//! - postgres → file: rows arrive while the pipeline runs, the cursor
//!   survives a restart (nothing is read twice, rows inserted meanwhile
//!   arrive), and `numeric` values keep every digit.
//! - file → postgres: the JSONB form with `create: true` (upsert by key,
//!   unchanged records skipped), the column form into an existing table,
//!   a row the database refuses (dead letter, the rest of the batch
//!   written), and the start-up failures located in the pipeline file.
//! - the example `examples/postgres-to-file/`, seeded with its own
//!   `seed.sql`.

mod support;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapwright_engine::Value;
use support::copy_folder;
use support::postgres::PgServer;

/// How long to wait for records to arrive or a process to stop: generous,
/// for loaded CI machines; a passing test waits far less.
const PATIENCE: Duration = Duration::from_secs(60);

/// A password that must never reach standard error.
const PASSWORD: &str = "Pw-n0t-in-logs-7431";

/// A temporary folder holding a pipeline, its mapping and its outputs.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(path, text).expect("write file");
    }

    /// The lines of a file; none when it does not exist yet.
    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name)).map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default()
    }

    /// Starts `mapwright run pipeline.yaml` in the sandbox, standard error
    /// to a file (a pipe could fill up while nobody reads it).
    fn start(&self, envs: &[(&str, &str)]) -> Running {
        let log = self.path(&format!("stderr-{}.log", std::process::id()));
        let stderr = File::create(&log).expect("create stderr log");
        let child = Command::new(env!("CARGO_BIN_EXE_mapwright"))
            .args(["run", "pipeline.yaml"])
            .current_dir(self.dir.path())
            .envs(envs.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start mapwright");
        Running { child: Some(child), log }
    }

    /// Runs `mapwright run pipeline.yaml` to its end (a file source, or a
    /// failure at start-up): its exit code and standard error.
    fn run(&self, envs: &[(&str, &str)]) -> (i32, String) {
        let mut running = self.start(envs);
        running.wait()
    }

    /// Waits until `name` has `n` lines; panics with `running`'s standard
    /// error if it takes too long.
    fn wait_lines(&self, name: &str, n: usize, running: &Running) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = self.lines(name);
            if lines.len() >= n {
                return lines;
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} has {} lines, not {n}, after {PATIENCE:?}:\n{}\nstderr:\n{}",
                    lines.len(),
                    lines.join("\n"),
                    running.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running `mapwright run`, killed if the test ends without stopping it.
struct Running {
    child: Option<Child>,
    log: PathBuf,
}

impl Running {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit: its code and standard error.
    fn terminate(&mut self) -> (i32, String) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        self.wait()
    }

    /// Waits for the exit: its code and standard error.
    fn wait(&mut self) -> (i32, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("wait for mapwright") {
                let stderr = self.stderr();
                let code = status.code().unwrap_or_else(|| panic!("killed by a signal: {status}\n{stderr}"));
                return (code, stderr);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("mapwright did not exit within {PATIENCE:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The run's summary line (`N read, N delivered, …`), without its time.
fn summary(stderr: &str) -> String {
    let line = stderr.lines().rfind(|l| l.contains(" read, ")).unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    line.rsplit_once(" in ").map_or(line, |(s, _)| s).to_string()
}

/// `file:line:` of the first line of `text` that starts (after indent)
/// with `key:`, as the diagnostics print it.
fn place(file: &str, text: &str, key: &str) -> String {
    let n = text
        .lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no `{key}:` in\n{text}"));
    format!("{file}:{}:", n + 1)
}

fn json(line: &str) -> Value {
    Value::from_json(line).unwrap_or_else(|e| panic!("not JSON: {e}\n{line}"))
}

fn number(text: &str) -> Value {
    json(text)
}

/// A url of `server` carrying a password (the test servers trust every
/// connection, so any password is accepted).
fn url_with_password(server: &PgServer) -> String {
    format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres", server.port())
}

// ---------------------------------------------------------------------------
// postgres → file

const ORDERS_TABLE: &str = "CREATE TABLE orders (
    id int PRIMARY KEY,
    customer text NOT NULL,
    total numeric(12,2) NOT NULL,
    big numeric,
    updated_at timestamptz NOT NULL
)";

const ROW_MAPPING: &str = "mapping: order-row
key: $.id
fields:
  id: $.id
  customer: $.customer
  total: $.total
  big: $.big
  updated_at: timestamp($.updated_at)
";

fn insert_orders(server: &PgServer, rows: &[(i32, &str, &str, &str)]) {
    let values: Vec<String> =
        rows.iter().map(|(id, customer, total, at)| format!("({id}, '{customer}', {total}, NULL, '{at}')")).collect();
    server.sql(&format!("INSERT INTO orders (id, customer, total, big, updated_at) VALUES {}", values.join(", ")));
}

fn ids(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| json(l).get("id").map_or("-".into(), Value::to_json)).collect()
}

#[test]
fn postgres_rows_arrive_while_running_and_a_restart_resumes_after_the_cursor() {
    let server = PgServer::start();
    server.sql(ORDERS_TABLE);
    server.sql(
        "INSERT INTO orders VALUES \
         (1, 'ann', 19.90, 12345678901234567.891, '2026-03-01T10:00:00Z'), \
         (2, 'bob', 0.10, NULL, '2026-03-01T10:00:01.5+01:00'), \
         (3, 'cy', 1234567890.05, NULL, '2026-03-01T10:00:02Z')",
    );
    let sandbox = Sandbox::new();
    sandbox.write("order_row.yaml", ROW_MAPPING);
    // batch: 2 — the three first rows take two batches, the cursor moves twice.
    sandbox.write(
        "pipeline.yaml",
        "pipeline: orders-from-postgres\nmapping: order_row.yaml\nsource:\n  kind: postgres\n  url: \"${SHOP_URL}\"\n  \
         query: SELECT id, customer, total, big, updated_at FROM orders\n  cursor: updated_at\n  poll: 100ms\n  \
         batch: 2\nsink: { kind: file, path: out/orders.jsonl }\ndead_letter: { kind: file, path: out/dead.jsonl }\n\
         state: out/state.db\n",
    );
    let url = url_with_password(&server);
    let env = [("SHOP_URL", url.as_str())];

    let started = Instant::now();
    let mut run = sandbox.start(&env);
    let first = sandbox.wait_lines("out/orders.jsonl", 3, &run);
    // Row 2 (09:00:01.5Z) comes before row 1 (10:00:00Z): cursor order.
    assert_eq!(ids(&first), ["2", "1", "3"], "{}", run.stderr());
    eprintln!("first rows after {:?}", started.elapsed());

    insert_orders(&server, &[(4, "dee", "5.00", "2026-03-02T08:00:00Z"), (5, "eve", "7.25", "2026-03-02T08:00:00Z")]);
    let second = sandbox.wait_lines("out/orders.jsonl", 5, &run);
    assert_eq!(ids(&second), ["2", "1", "3", "4", "5"]);
    assert_eq!(second[..3], first[..]);

    let (code, stderr) = run.terminate();
    assert_eq!(code, 0, "SIGTERM is a clean stop:\n{stderr}");
    assert_eq!(summary(&stderr), "5 read, 5 delivered, 0 filtered, 0 failed, 0 duplicates skipped");

    // Rows written while the pipeline is down arrive after the restart;
    // rows read before are not read again (the cursor is in the state
    // store, not only the delivered marks, which would count them as
    // duplicates).
    insert_orders(&server, &[(6, "fay", "1.00", "2026-03-03T00:00:00Z"), (7, "gus", "2.00", "2026-03-03T00:00:01Z")]);
    let mut run = sandbox.start(&env);
    let third = sandbox.wait_lines("out/orders.jsonl", 7, &run);
    // A few polls more: nothing else arrives.
    std::thread::sleep(Duration::from_millis(500));
    let (code, stderr) = run.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stderr), "2 read, 2 delivered, 0 filtered, 0 failed, 0 duplicates skipped");
    let third_after = sandbox.lines("out/orders.jsonl");
    assert_eq!(third_after, third, "nothing arrives twice");
    assert_eq!(ids(&third), ["2", "1", "3", "4", "5", "6", "7"]);
    assert_eq!(third[..5], second[..], "lines written before the restart are unchanged");
    assert!(sandbox.lines("out/dead.jsonl").is_empty());

    // Exact decimals: numeric(12,2) 19.90 is the number 19.90 (written in
    // its shortest form), a 20-digit numeric keeps every digit, 0.10 is
    // not 0.1000000000000000055….
    let ann = json(&third[1]);
    assert_eq!(ann.get("total"), Some(&number("19.90")));
    assert!(third[1].contains(r#""total":19.9,"#), "{}", third[1]);
    assert!(third[1].contains(r#""big":12345678901234567.891,"#), "{}", third[1]);
    assert_eq!(ann.get("updated_at").map(Value::to_json), Some(r#""2026-03-01T10:00:00Z""#.to_string()));
    let bob = json(&third[0]);
    assert_eq!(bob.get("total"), Some(&number("0.1")));
    assert_eq!(bob.get("updated_at").map(Value::to_json), Some(r#""2026-03-01T09:00:01.5Z""#.to_string()));
    assert!(third[2].contains(r#""total":1234567890.05,"#), "{}", third[2]);
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

// ---------------------------------------------------------------------------
// file → postgres

/// The record key (`SO-1`) is what the sink's key column holds.
const LINE_MAPPING: &str = "mapping: order-line
key: '\"SO-\" + string($.id)'
fields:
  order_id: '\"SO-\" + string($.id)'
  qty: $.qty
  total: number($.total)
  note: $.note
";

fn sink_pipeline(sink: &str) -> String {
    format!(
        "pipeline: orders-to-postgres\nmapping: order_line.yaml\nsource: {{ kind: file, path: in.jsonl }}\nsink:\n{sink}\
         dead_letter: {{ kind: file, path: out/dead.jsonl }}\nstate: out/state.db\n"
    )
}

fn file_to_postgres(sink: &str, input: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write("order_line.yaml", LINE_MAPPING);
    sandbox.write("pipeline.yaml", &sink_pipeline(sink));
    sandbox.write("in.jsonl", input);
    sandbox
}

#[test]
fn jsonb_form_creates_the_table_upserts_by_key_and_skips_unchanged_records() {
    let server = PgServer::start();
    let db = server.create_database("erp");
    let sink = "  kind: postgres\n  url: \"${ERP_URL}\"\n  table: sales_orders\n  key: order_id\n  create: true\n";
    let sandbox = file_to_postgres(
        sink,
        "{\"id\": 1, \"qty\": 2, \"total\": \"19.90\", \"note\": \"gift\"}\n\
         {\"id\": 2, \"qty\": 1, \"total\": \"12345678901234567.891\"}\n\
         {\"id\": 3, \"qty\": 5, \"total\": \"0.10\"}\n",
    );
    let env = [("ERP_URL", db.as_str())];
    assert_eq!(server.sql_in("erp", "SELECT to_regclass('sales_orders') IS NULL").unwrap(), "t");
    let (code, stderr) = sandbox.run(&env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stderr), "3 read, 3 delivered, 0 filtered, 0 failed, 0 duplicates skipped");
    let rows = server.sql_in("erp", "SELECT order_id, doc->>'total', doc->>'note' FROM sales_orders ORDER BY order_id");
    assert_eq!(
        rows.unwrap(),
        "SO-1|19.9|gift\nSO-2|12345678901234567.891|\nSO-3|0.1|",
        "the key column holds the record key; numbers keep their digits"
    );
    let exact =
        server.sql_in("erp", "SELECT (doc->>'total')::numeric = 19.90 FROM sales_orders WHERE order_id = 'SO-1'");
    assert_eq!(exact.unwrap(), "t");
    let before = server.sql_in("erp", "SELECT order_id, updated_at FROM sales_orders ORDER BY order_id").unwrap();

    // Record 2 changes; 1 and 3 are as before.
    sandbox.write(
        "in.jsonl",
        "{\"id\": 1, \"qty\": 2, \"total\": \"19.90\", \"note\": \"gift\"}\n\
         {\"id\": 2, \"qty\": 3, \"total\": \"42.00\"}\n\
         {\"id\": 3, \"qty\": 5, \"total\": \"0.10\"}\n",
    );
    let (code, stderr) = sandbox.run(&env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stderr), "3 read, 1 delivered, 0 filtered, 0 failed, 2 duplicates skipped");
    let rows = server.sql_in("erp", "SELECT order_id, doc::text FROM sales_orders ORDER BY order_id").unwrap();
    assert_eq!(
        rows,
        "SO-1|{\"qty\": 2, \"note\": \"gift\", \"total\": 19.9, \"order_id\": \"SO-1\"}\n\
         SO-2|{\"qty\": 3, \"note\": null, \"total\": 42, \"order_id\": \"SO-2\"}\n\
         SO-3|{\"qty\": 5, \"note\": null, \"total\": 0.1, \"order_id\": \"SO-3\"}",
        "row SO-2 is updated in place, no row is added"
    );
    let after = server.sql_in("erp", "SELECT order_id, updated_at FROM sales_orders ORDER BY order_id").unwrap();
    let (before, after): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!((before[0], before[2]), (after[0], after[2]), "unchanged rows are not written");
    assert_ne!(before[1], after[1], "the updated row's updated_at moves");
}

#[test]
fn column_form_upserts_into_an_existing_table() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE erp_orders (order_id text PRIMARY KEY, qty int NOT NULL, total numeric(20,3) NOT NULL, \
         note text, extra text DEFAULT 'untouched')",
    );
    server.sql("INSERT INTO erp_orders (order_id, qty, total, note) VALUES ('SO-1', 9, 9.999, 'old')");
    let sink = format!(
        "  kind: postgres\n  url: {}\n  table: erp_orders\n  key: order_id\n  columns: [qty, total, note]\n",
        server.url()
    );
    let sandbox = file_to_postgres(
        &sink,
        "{\"id\": 1, \"qty\": 2, \"total\": \"19.90\", \"note\": \"gift\"}\n\
         {\"id\": 2, \"qty\": 1, \"total\": \"12345678901234567.891\"}\n",
    );
    let (code, stderr) = sandbox.run(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stderr), "2 read, 2 delivered, 0 filtered, 0 failed, 0 duplicates skipped");
    assert_eq!(
        server.sql("SELECT order_id, qty, total, note, extra FROM erp_orders ORDER BY order_id"),
        "SO-1|2|19.900|gift|untouched\nSO-2|1|12345678901234567.891||untouched",
        "SO-1 updated (the columns listed only), SO-2 inserted, numerics exact"
    );
    assert!(sandbox.lines("out/dead.jsonl").is_empty());
}

#[test]
fn a_row_the_database_refuses_goes_to_the_dead_letter_and_the_rest_of_the_batch_is_written() {
    let server = PgServer::start();
    server.sql(
        "CREATE TABLE erp_orders (order_id text PRIMARY KEY, \
         qty int NOT NULL CONSTRAINT qty_positive CHECK (qty > 0), total numeric(12,2) NOT NULL, note text)",
    );
    let sink = format!(
        "  kind: postgres\n  url: {}\n  table: erp_orders\n  key: order_id\n  columns: [qty, total, note]\n",
        url_with_password(&server)
    );
    let sandbox = file_to_postgres(
        &sink,
        "{\"id\": 1, \"qty\": 2, \"total\": \"19.90\"}\n\
         {\"id\": 2, \"qty\": 0, \"total\": \"5.00\"}\n\
         {\"id\": 3, \"qty\": 1, \"total\": \"7.50\"}\n",
    );
    let (code, stderr) = sandbox.run(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stderr), "3 read, 2 delivered, 0 filtered, 1 failed, 0 duplicates skipped");
    assert_eq!(
        server.sql("SELECT order_id, qty, total FROM erp_orders ORDER BY order_id"),
        "SO-1|2|19.90\nSO-3|1|7.50"
    );
    let dead = sandbox.lines("out/dead.jsonl");
    assert_eq!(dead.len(), 1, "{dead:?}");
    let line = json(&dead[0]);
    assert_eq!(line.get("key").map(Value::to_json).as_deref(), Some(r#""SO-2""#));
    assert_eq!(line.get("input").and_then(|i| i.get("qty")).map(Value::to_json).as_deref(), Some("0"));
    let errors = line.get("errors").map(Value::to_json).unwrap_or_default();
    assert!(errors.contains("the sink rejected the record"), "{errors}");
    assert!(errors.contains("violates check constraint \\\"qty_positive\\\""), "the database's message: {errors}");
    assert!(!dead[0].contains(PASSWORD) && !stderr.contains(PASSWORD));
}

#[test]
fn a_missing_table_without_create_stops_the_start_at_the_line_of_table() {
    let server = PgServer::start();
    let sink = format!("  kind: postgres\n  url: {}\n  table: no_such_table\n  key: order_id\n", server.url());
    let sandbox = file_to_postgres(&sink, "{\"id\": 1, \"qty\": 2, \"total\": \"1\"}\n");
    let (code, stderr) = sandbox.run(&[]);
    assert_eq!(code, 1, "{stderr}");
    let text = sink_pipeline(&sink);
    assert!(stderr.contains(&place("pipeline.yaml", &text, "table")), "{stderr}");
    assert!(stderr.contains("table no_such_table does not exist"), "{stderr}");
    assert!(stderr.contains("create: true"), "the hint names the way out: {stderr}");
    assert!(!sandbox.path("out/dead.jsonl").exists() || sandbox.lines("out/dead.jsonl").is_empty());
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

#[test]
fn an_unreachable_server_stops_the_start_at_the_line_of_url_without_the_password() {
    let url = format!("postgres://shop:{PASSWORD}@127.0.0.1:{}/shop?connect_timeout=5", closed_port());
    // The url in an environment variable (the usual way) and written in
    // the file: the password shows in neither message.
    let sinks = [
        ("  kind: postgres\n  url: \"${ERP_URL}\"\n  table: t\n  create: true\n".to_string(), true),
        (format!("  kind: postgres\n  url: \"{url}\"\n  table: t\n  create: true\n"), false),
    ];
    for (sink, from_env) in sinks {
        let sandbox = file_to_postgres(&sink, "{\"id\": 1}\n");
        let env = [("ERP_URL", url.as_str())];
        let (code, stderr) = sandbox.run(if from_env { &env } else { &[] });
        assert_eq!(code, 1, "{stderr}");
        let text = sink_pipeline(&sink);
        assert!(stderr.contains(&place("pipeline.yaml", &text, "url")), "{stderr}");
        assert!(stderr.contains("cannot connect to PostgreSQL at postgres://shop:***@127.0.0.1:"), "{stderr}");
        assert!(!stderr.contains(PASSWORD), "the password leaks:\n{stderr}");
    }
}

// ---------------------------------------------------------------------------
// The example

#[test]
fn the_postgres_to_file_example_runs_as_its_readme_says() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let server = PgServer::start();
    let db = server.create_database("shop");
    let seed = std::fs::read_to_string(root.join("examples/postgres-to-file/seed.sql")).expect("read seed.sql");
    server.sql_in("shop", &seed).unwrap_or_else(|e| panic!("seed.sql fails: {e}"));
    let seeded: usize = server.sql_in("shop", "SELECT count(*) FROM orders").unwrap().parse().unwrap();

    // The example's own files, in the same layout, so that its relative
    // paths (the mapping, out/) hold and nothing is written into the repo.
    let sandbox = Sandbox::new();
    copy_folder(&root, "examples/postgres-to-file", sandbox.dir.path());
    copy_folder(&root, "mappings/postgres", sandbox.dir.path());
    let example = sandbox.path("examples/postgres-to-file");
    let log = sandbox.path("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(["run", "examples/postgres-to-file/pipeline.yaml"])
        .current_dir(sandbox.dir.path())
        .env("SHOP_DB_URL", &db)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("create log"))
        .spawn()
        .expect("start mapwright");
    let mut run = Running { child: Some(child), log };
    let out = "examples/postgres-to-file/out/orders.jsonl";
    let dead = "examples/postgres-to-file/out/dead-letter.jsonl";
    let deadline = Instant::now() + PATIENCE;
    // Every seeded row ends in one place: the sink or the dead letter.
    while sandbox.lines(out).len() + sandbox.lines(dead).len() < seeded {
        assert!(Instant::now() < deadline, "rows missing after {PATIENCE:?}:\n{}", run.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, stderr) = run.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(example.join("out/state.db").exists());

    let orders: Vec<Value> = sandbox.lines(out).iter().map(|l| json(l)).collect();
    let failed: Vec<Value> = sandbox.lines(dead).iter().map(|l| json(l)).collect();
    assert_eq!(failed.len(), 1, "seed.sql has one invalid row: {failed:?}");
    assert_eq!(orders.len(), seeded - 1);
    assert_eq!(
        summary(&stderr),
        format!("{seeded} read, {} delivered, 0 filtered, 1 failed, 0 duplicates skipped", seeded - 1)
    );
    let text = |v: &Value, path: &[&str]| {
        let mut v = v;
        for p in path {
            v = v.get(p).unwrap_or_else(|| panic!("no {path:?} in {}", v.to_json()));
        }
        v.to_json()
    };
    // The first order of seed.sql, field by field.
    let first = &orders[0];
    assert_eq!(text(first, &["order_id"]), r#""shop-1001""#);
    assert_eq!(text(first, &["external_id"]), r#""1001""#);
    assert_eq!(text(first, &["status"]), r#""processing""#);
    assert_eq!(text(first, &["ordered_at"]), r#""2026-03-02T09:14:07Z""#);
    assert_eq!(text(first, &["currency"]), r#""EUR""#);
    assert_eq!(text(first, &["customer", "email"]), r#""anna.berg@example.com""#);
    assert_eq!(text(first, &["totals", "total"]), "64.85");
    assert_eq!(first.get("totals").and_then(|t| t.get("total")), Some(&number("64.850")));
    let errors = text(&failed[0], &["errors"]);
    assert!(errors.contains("customer e-mail is not a valid address"), "{errors}");
}
