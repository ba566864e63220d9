//! What a pipeline's state store holds, for `mapwright state PIPELINE`:
//! what waits in the inbox and since when, delivered marks per sink,
//! cursors, and each sink as the running pipeline last wrote it (breaker,
//! queue, in flight, last success). Read without starting anything; safe
//! while the pipeline runs.

use std::path::Path;

use mapwright_dsl::jiff::Timestamp;
use mapwright_engine::Error;

use crate::state::{Report, State};

/// A state store's contents, as `mapwright state` shows them.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("mapwright-doc-inspect-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("m.yaml"), "mapping: m\nfields:\n  id: $.id\n").unwrap();
/// std::fs::write(dir.join("p.yaml"), "pipeline: p\nmapping: m.yaml\nsource: { kind: stdin }\nsink: { kind: stdout }\n").unwrap();
/// let err = mapwright_pipeline::StateReport::of(&dir.join("p.yaml")).err().unwrap();
/// assert!(err.to_string().contains("has not run yet"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct StateReport {
    report: Report,
    /// Whether the process that last ran the pipeline is alive.
    running: Option<bool>,
}

impl StateReport {
    /// Reads the state store of the pipeline file at `path` (checked the
    /// way `mapwright check` does, touching nothing else).
    pub fn of(path: &Path) -> Result<StateReport, Error> {
        let spec = crate::decode::load(path)?;
        if !spec.state.exists() {
            return Err(Error::Usage(format!(
                "no state store at {}: the pipeline has not run yet (or `state:` points elsewhere)",
                spec.state.display()
            )));
        }
        let io = |e: crate::state::StateError| Error::Io { path: e.path.clone(), message: e.message };
        let report = State::open(&spec.state).map_err(io)?.report().map_err(io)?;
        let running = report.pid.and_then(alive);
        Ok(StateReport { report, running })
    }

    /// Records waiting in the inbox (accepted, not yet done).
    ///
    /// ```
    /// # fn f(r: &mapwright_pipeline::StateReport) {
    /// println!("{} records pending", r.pending());
    /// # }
    /// ```
    pub fn pending(&self) -> u64 {
        self.report.inbox.records
    }

    /// The report as text, one subject per line.
    ///
    /// ```
    /// # fn f(r: &mapwright_pipeline::StateReport) {
    /// print!("{}", r.text());
    /// # }
    /// ```
    pub fn text(&self) -> String {
        let r = &self.report;
        let now = Timestamp::now();
        let mut out = String::new();
        let line = |out: &mut String, label: &str, text: String| out.push_str(&format!("{label:<12}{text}\n"));
        line(
            &mut out,
            "state store",
            format!(
                "{} (created {}, pipeline {})",
                r.path.display(),
                r.created_at.as_deref().unwrap_or("?"),
                r.pipeline.as_deref().unwrap_or("?")
            ),
        );
        if let Some(pid) = r.pid {
            let running = match self.running {
                Some(true) => "running",
                Some(false) => "not running",
                None => "running or not",
            };
            line(
                &mut out,
                "last run",
                format!("pid {pid}, started {}, {running}", r.started_at.as_deref().unwrap_or("?")),
            );
        }
        let oldest = match &r.oldest_pending {
            Some(t) => format!("; the oldest since {t} ({})", age(t, now)),
            None => String::new(),
        };
        line(
            &mut out,
            "pending",
            format!("{} records in {} payloads, {} bytes{oldest}", r.inbox.records, r.inbox.payloads, r.inbox.bytes),
        );
        if r.marks.is_empty() {
            line(&mut out, "delivered", "nothing yet".to_string());
        }
        for (i, (sink, n, newest)) in r.marks.iter().enumerate() {
            let label = if i == 0 { "delivered" } else { "" };
            let newest = newest.as_deref().map_or(String::new(), |t| format!(", the newest {t}"));
            line(&mut out, label, format!("{sink}: {n} marks{newest}"));
        }
        for (i, (source, value)) in r.cursors.iter().enumerate() {
            line(&mut out, if i == 0 { "cursors" } else { "" }, format!("{source} = {value}"));
        }
        for (i, (s, at)) in r.sinks.iter().enumerate() {
            let breaker = if s.open {
                format!(
                    "breaker OPEN since {} (last error: {})",
                    s.since.as_deref().unwrap_or("?"),
                    s.last_error.as_deref().unwrap_or("?")
                )
            } else {
                "breaker closed".to_string()
            };
            let success = s.last_success.as_deref().map_or("never".to_string(), |t| format!("{t} ({})", age(t, now)));
            line(
                &mut out,
                if i == 0 { "sinks" } else { "" },
                format!(
                    "{}: {breaker}; {} queued, {} in flight, {} delivered this run, last success {success} (as of {})",
                    s.name,
                    s.queued,
                    s.in_flight,
                    s.delivered,
                    age(at, now)
                ),
            );
        }
        out
    }

    /// The report as one JSON object.
    ///
    /// ```
    /// # fn f(r: &mapwright_pipeline::StateReport) {
    /// let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    /// assert!(json["pending"]["records"].is_u64());
    /// # }
    /// ```
    pub fn to_json(&self) -> String {
        let r = &self.report;
        let marks: serde_json::Map<String, serde_json::Value> = r
            .marks
            .iter()
            .map(|(sink, n, newest)| (sink.clone(), serde_json::json!({ "marks": n, "newest": newest })))
            .collect();
        let cursors: serde_json::Map<String, serde_json::Value> =
            r.cursors.iter().map(|(s, v)| (s.clone(), serde_json::Value::String(v.clone()))).collect();
        let sinks: Vec<serde_json::Value> = r
            .sinks
            .iter()
            .map(|(s, at)| {
                serde_json::json!({
                    "sink": s.name,
                    "breaker": if s.open { "open" } else { "closed" },
                    "open_since": s.since,
                    "last_error": s.last_error,
                    "queued": s.queued,
                    "in_flight": s.in_flight,
                    "delivered": s.delivered,
                    "last_success": s.last_success,
                    "as_of": at,
                })
            })
            .collect();
        serde_json::json!({
            "state": r.path.display().to_string(),
            "created_at": r.created_at,
            "pipeline": r.pipeline,
            "pid": r.pid,
            "started_at": r.started_at,
            "running": self.running,
            "pending": {
                "payloads": r.inbox.payloads,
                "records": r.inbox.records,
                "bytes": r.inbox.bytes,
                "oldest": r.oldest_pending,
            },
            "delivered": marks,
            "cursors": cursors,
            "sinks": sinks,
        })
        .to_string()
    }
}

/// Whether a process is alive (Linux: it has a `/proc` entry); `None`
/// where that cannot be told.
fn alive(pid: u32) -> Option<bool> {
    cfg!(target_os = "linux").then(|| Path::new(&format!("/proc/{pid}")).exists())
}

/// `3m ago`, `2h 5m ago`, from an RFC 3339 time.
fn age(at: &str, now: Timestamp) -> String {
    let Ok(t) = at.parse::<Timestamp>() else { return at.to_string() };
    let secs = now.as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m {}s ago", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {}m ago", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h ago", secs / 86_400, secs % 86_400 / 3600),
    }
}
