//! A stand-in ERP for the delivery benchmarks (`bench/delivery.sh`): a
//! hyper server that answers every POST with `201` after `--delay-ms`,
//! and counts requests and records (a JSON array body counts its
//! elements, JSON Lines its lines, anything else one). `GET /stats`
//! answers `{"requests":…,"records":…,"first_ms":…,"last_ms":…}` (times
//! since the server started, of the first and the last POST answered);
//! `POST /reset` zeroes the counts.
//!
//! Built for speed so that it is not what a benchmark measures: no
//! logging, no body parsing beyond a byte scan, counters in atomics.
//!
//! ```sh
//! bench-erp --port 9099 --delay-ms 50
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    records: AtomicU64,
    first_us: AtomicU64,
    last_us: AtomicU64,
}

/// Records in a body: the elements of a top-level array (commas at depth
/// one, outside strings), the lines of JSON Lines, else one.
fn records(body: &[u8]) -> u64 {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'[') => {
            let (mut depth, mut in_str, mut esc, mut n, mut any) = (0i32, false, false, 0u64, false);
            for &b in body {
                if in_str {
                    match (esc, b) {
                        (true, _) => esc = false,
                        (false, b'\\') => esc = true,
                        (false, b'"') => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'[' | b'{' => {
                        depth += 1;
                        if depth == 2 {
                            any = true;
                        }
                    }
                    b']' | b'}' => depth -= 1,
                    b',' if depth == 1 => n += 1,
                    _ => {}
                }
            }
            if any { n + 1 } else { 0 }
        }
        Some(_) => {
            let lines = body.split(|b| *b == b'\n').filter(|l| l.iter().any(|b| !b.is_ascii_whitespace())).count();
            lines.max(1) as u64
        }
        None => 0,
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port = 9099u16;
    let mut delay = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(port),
            "--delay-ms" => delay = Duration::from_millis(args.next().and_then(|v| v.parse().ok()).unwrap_or(0)),
            other => {
                eprintln!("unknown argument {other}; use --port N --delay-ms N");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let stats = stats.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let stats = stats.clone();
                async move {
                    let get = req.method() == hyper::Method::GET;
                    let reset = req.uri().path() == "/reset";
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    if get {
                        let s = format!(
                            "{{\"requests\":{},\"records\":{},\"first_ms\":{:.3},\"last_ms\":{:.3}}}",
                            stats.requests.load(Ordering::Relaxed),
                            stats.records.load(Ordering::Relaxed),
                            stats.first_us.load(Ordering::Relaxed) as f64 / 1000.0,
                            stats.last_us.load(Ordering::Relaxed) as f64 / 1000.0
                        );
                        return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(s))));
                    }
                    if reset {
                        for c in [&stats.requests, &stats.records, &stats.first_us, &stats.last_us] {
                            c.store(0, Ordering::Relaxed);
                        }
                        return Ok(Response::new(Full::new(Bytes::from_static(b"{}"))));
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let now = started.elapsed().as_micros() as u64;
                    let _ = stats.first_us.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
                    stats.last_us.fetch_max(now, Ordering::Relaxed);
                    stats.requests.fetch_add(1, Ordering::Relaxed);
                    stats.records.fetch_add(records(&body), Ordering::Relaxed);
                    let mut res = Response::new(Full::new(Bytes::from_static(b"{\"status\":\"created\"}")));
                    *res.status_mut() = hyper::StatusCode::CREATED;
                    Ok(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_counted() {
        assert_eq!(super::records(br#"[{"a":"x,]"},{"b":[1,2]}]"#), 2);
        assert_eq!(super::records(b"{\"a\":1}\n{\"a\":2}\n"), 2);
        assert_eq!(super::records(br#"{"a":1,"b":2}"#), 1);
        assert_eq!(super::records(b"[]"), 0);
    }
}
