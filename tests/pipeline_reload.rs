//! Hot reload while records flow (README "Pipeline file reference", `watch`): an edit saved the way editors
//! save (write a temporary file, rename it over the old one) swaps the
//! mapping between two batches — every record is entirely old or entirely
//! new — and a broken edit changes nothing: the old mapping keeps running,
//! the failure is logged with its place and counted in /metrics.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn mapping(version: &str, lookup_file: bool) -> String {
    let colour = if lookup_file { "lookup('colours', $.c)" } else { "'\"none\"'" };
    format!(
        "mapping: m\nkey: $.id\nlookups:\n  colours: {{ file: colours.csv, key: code, value: name }}\nfields:\n  id: $.id\n  a: '\"{version}\"'\n  b: '\"{version}\"'\n  colour: {colour}\n"
    )
}

/// Saves like an editor: a temporary file renamed over the target.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn metric(addr: &str, name: &str) -> Option<u64> {
    let text = http_get(addr, "/metrics")?;
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok())
}

/// A plain HTTP/1.1 GET over a loopback socket.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 200").then_some(text)
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn edits_swap_whole_mappings_and_broken_edits_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = format!("127.0.0.1:{port}");
    std::fs::write(d.join("colours.csv"), "code,name\nR,red\n").unwrap();
    std::fs::write(d.join("m.yaml"), mapping("v1", false)).unwrap();
    std::fs::create_dir(d.join("inbox")).unwrap();
    std::fs::write(
        d.join("p.yaml"),
        format!("pipeline: p\nmapping: m.yaml\nsource: {{ kind: dir, path: inbox, poll: 20ms, settle: 0ms }}\nsink: {{ kind: file, path: out.jsonl }}\nwatch: true\nmetrics: {{ listen: {metrics} }}\n"),
    )
    .unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_mapwright"))
            .arg("run")
            .arg(d.join("p.yaml"))
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let log = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    wait_for("the metrics server", || metric(&metrics, "mapwright_records_in_total").is_some());

    // Records flow from a writer thread while the mapping is edited.
    let inbox = d.join("inbox");
    let writer = std::thread::spawn(move || {
        for f in 0..60 {
            let body: String = (0..20).map(|i| format!("{{\"id\":\"{f}-{i}\",\"c\":\"R\"}}\n")).collect();
            let tmp = inbox.join(format!(".{f}.tmp"));
            std::fs::write(&tmp, body).unwrap();
            std::fs::rename(&tmp, inbox.join(format!("{f:03}.jsonl"))).unwrap();
            std::thread::sleep(Duration::from_millis(40));
        }
    });
    let m = d.join("m.yaml");
    let delivered = || metric(&metrics, "mapwright_records_out_total").unwrap_or(0);
    wait_for("some v1 records", || delivered() >= 200);
    save(&m, &mapping("v2", true));
    wait_for("the reload", || metric(&metrics, "mapwright_reloads_total{result=\"ok\"}") == Some(1));
    let before_broken = delivered();
    save(&m, "mapping: m\nkey: $.id\nfields:\n  id: $.id\n  a: $.a | nosuchfn\n");
    wait_for("the failed reload", || metric(&metrics, "mapwright_reloads_total{result=\"failed\"}") == Some(1));
    wait_for("records after the broken edit", || delivered() >= before_broken + 100);
    // The fix restores v2 (same content: nothing to swap); then a lookup
    // file, watched too, changes and reloads.
    save(&m, &mapping("v2", true));
    save(&d.join("colours.csv"), "code,name\nR,crimson\n");
    wait_for("the lookup reload", || metric(&metrics, "mapwright_reloads_total{result=\"ok\"}") == Some(2));
    writer.join().unwrap();
    wait_for("every record", || delivered() == 1200);
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let log = log.join().unwrap().join("\n");

    let out = std::fs::read_to_string(d.join("out.jsonl")).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        // Entirely old or entirely new, never half of each.
        assert_eq!(v["a"], v["b"], "{line}");
        let shape = match (v["a"].as_str().unwrap(), v["colour"].as_str().unwrap()) {
            ("v1", "none") => "v1",
            ("v2", "red") => "v2",
            ("v2", "crimson") => "v2+lookup",
            _ => panic!("a record of no mapping version: {line}"),
        };
        *counts.entry(shape).or_insert(0) += 1;
    }
    assert_eq!(counts.values().sum::<i32>(), 1200, "{counts:?}");
    assert!(counts.get("v1").is_some_and(|n| *n >= 200), "{counts:?}");
    assert!(counts.get("v2").is_some_and(|n| *n >= 100), "{counts:?}");
    assert!(counts.contains_key("v2+lookup"), "{counts:?}");
    // The broken edit was logged with its place and a hint.
    assert!(log.contains("unknown function `nosuchfn`") && log.contains("m.yaml:5:"), "{log}");
    assert!(log.contains("1200 read, 1200 delivered") && log.contains("3 reloads (1 failed)"), "{log}");
}
