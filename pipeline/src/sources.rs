//! Sources: tasks that read records and hand them to the processor in
//! batches, each with what to do once the batch is done ([`Commit`]).
//!
//! - `file` and `stdin` read to the end, then close the channel: the run
//!   ends. Nothing is committed for them: a re-run reads the files again
//!   and the state store skips what was delivered.
//! - `dir` looks for files every `poll`; a file is taken once it has not
//!   changed for `settle` (default 1s) and its size held still between two
//!   looks, so a file still being written is not read half-way (a writer
//!   pausing longer than `settle` should write under a temporary name and
//!   rename: a file moved in by rename is always whole). Hidden files and `.tmp`/`.part`/`.partial` names are
//!   skipped. After its last batch a file moves to `done/`, or to
//!   `failed/` when any of its records failed.
//! - `http` payloads are stored in the inbox by the server; the feeder here
//!   reads the inbox in order (older payloads first after a restart).
//! - `postgres` polls for rows past its cursor.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mapwright_dsl::Projection;
use tokio::sync::mpsc::Sender;

use crate::state::State;
use crate::Stop;
use mapwright_engine::input::{self, Format, InputRecord, Source};

/// Records per batch from files and standard input.
pub const BATCH: usize = 1000;

/// Records read together, and what to do once they are done.
pub struct Batch {
    /// The records.
    pub records: Vec<InputRecord>,
    /// What finishing them means.
    pub commit: Commit,
}

/// What the processor does after a batch is delivered.
#[derive(Clone, Debug)]
pub enum Commit {
    /// Nothing (file and stdin sources).
    Nothing,
    /// Removes the payload from the inbox.
    Inbox(i64),
    /// A part of a dropped file; `last` moves the file to `done/`, or to
    /// `failed/` when any of its records failed.
    DirFile {
        /// The file.
        path: PathBuf,
        /// Whether this is its last batch.
        last: bool,
    },
    /// Moves a polled source's cursor.
    Cursor {
        /// The source's name in the state store.
        source: String,
        /// The cursor value after this batch.
        value: String,
    },
}

/// Reads files (a path or a glob) in the calling thread, sending batches;
/// returns when done or stopped. Blocking: run it on a blocking thread.
pub fn read_files(
    pattern: &str,
    format: Option<Format>,
    projection: Option<Arc<Projection>>,
    tx: &Sender<Batch>,
    stop: &Stop,
) -> Result<(), String> {
    for path in expand(pattern)? {
        if stop.is_stopped() {
            break;
        }
        let reader = input::open(&Source::File(path.clone()), format, projection.clone()).map_err(|e| e.to_string())?;
        if !send_all(reader, tx, stop, |_| Commit::Nothing) {
            break;
        }
    }
    Ok(())
}

/// Reads standard input, sending batches. Blocking.
pub fn read_stdin(format: Option<Format>, projection: Option<Arc<Projection>>, tx: &Sender<Batch>, stop: &Stop) {
    match input::open(&Source::Stdin, format, projection) {
        Ok(reader) => {
            send_all(reader, tx, stop, |_| Commit::Nothing);
        }
        Err(e) => tracing::error!("cannot read standard input: {e}"),
    }
}

/// Sends records in batches; false when the receiver is gone or a stop fired.
fn send_all(
    reader: impl Iterator<Item = InputRecord>,
    tx: &Sender<Batch>,
    stop: &Stop,
    commit: impl Fn(bool) -> Commit,
) -> bool {
    let mut reader = reader.peekable();
    loop {
        let records: Vec<InputRecord> = reader.by_ref().take(BATCH).collect();
        let last = reader.peek().is_none();
        if records.is_empty() && !last {
            continue;
        }
        if stop.is_stopped() || tx.blocking_send(Batch { records, commit: commit(last) }).is_err() {
            return false;
        }
        if last {
            return true;
        }
    }
}

/// The files a path or glob names, sorted. A plain path that does not
/// exist is an error; a glob that matches nothing is an empty list.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    if !pattern.contains(['*', '?', '[']) {
        let p = PathBuf::from(pattern);
        return if p.is_file() { Ok(vec![p]) } else { Err(format!("{pattern}: no such file")) };
    }
    let mut files: Vec<PathBuf> = glob::glob(pattern)
        .map_err(|e| format!("{pattern}: not a valid glob: {e}"))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The drop-folder source: runs until stopped.
pub struct DirSource {
    /// The folder.
    pub dir: PathBuf,
    /// The files' format, else by extension.
    pub format: Option<Format>,
    /// How often to look.
    pub poll: Duration,
    /// How long a file must stay unchanged before it is read.
    pub settle: Duration,
    /// The projection of records.
    pub projection: Option<Arc<Projection>>,
    /// Files handed out and not yet moved (shared with the processor).
    pub taken: Arc<Mutex<HashSet<PathBuf>>>,
}

impl DirSource {
    /// Looks for files until stopped; blocking.
    pub fn run(&self, tx: &Sender<Batch>, stop: &Stop) {
        // path -> (size, mtime) at the last look.
        let mut seen: std::collections::HashMap<PathBuf, (u64, Option<SystemTime>)> = Default::default();
        while !stop.is_stopped() {
            let mut ready = Vec::new();
            let mut now_seen = std::collections::HashMap::new();
            for (path, sig) in candidates(&self.dir) {
                if self.taken.lock().unwrap_or_else(|p| p.into_inner()).contains(&path) {
                    continue;
                }
                let settled = sig.1.and_then(|m| m.elapsed().ok()).is_some_and(|age| age >= self.settle);
                if seen.get(&path) == Some(&sig) && settled {
                    ready.push(path.clone());
                }
                now_seen.insert(path, sig);
            }
            seen = now_seen;
            ready.sort();
            for path in ready {
                if stop.is_stopped() {
                    return;
                }
                seen.remove(&path);
                self.taken.lock().unwrap_or_else(|p| p.into_inner()).insert(path.clone());
                let commit = |last: bool| Commit::DirFile { path: path.clone(), last };
                let reader = input::open(&Source::File(path.clone()), self.format, self.projection.clone());
                let ok = match reader {
                    Ok(reader) => send_all(reader, tx, stop, commit),
                    Err(e) => {
                        // Not records at all (an unknown extension): one
                        // unreadable record carries the reason to the dead letter.
                        let record = InputRecord {
                            value: Err(input::BadInput { message: e.to_string(), raw: String::new() }),
                            origin: path.display().to_string(),
                            raw: None,
                        };
                        tx.blocking_send(Batch { records: vec![record], commit: commit(true) }).is_ok()
                    }
                };
                if !ok {
                    return;
                }
            }
            sleep_unless_stopped(self.poll, stop);
        }
    }
}

/// Files in the folder that may be records: not hidden, not temporary.
fn candidates(dir: &Path) -> Vec<(PathBuf, (u64, Option<SystemTime>))> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with('.')
                && ![".tmp", ".part", ".partial", ".crdownload", ".swp"].iter().any(|s| name.ends_with(s))
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| (e.path(), (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// Moves a finished file into `to/`, keeping its name (a numbered suffix
/// when a file of that name is already there).
pub fn move_into(path: &Path, to: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(to)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut target = to.join(&name);
    let mut n = 1;
    while target.exists() {
        target = to.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}

/// Feeds inbox payloads (HTTP bodies) to the processor in arrival order,
/// starting with what a previous run left; runs until stopped.
pub async fn feed_inbox(state: State, wake: Arc<tokio::sync::Notify>, tx: Sender<Batch>, stop: Stop) {
    let mut after = 0;
    loop {
        let pending = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.inbox_after(after, 64)).await
        };
        let pending = match pending {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!("{e}");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if pending.is_empty() {
            tokio::select! {
                _ = stop.clone().wait() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        for p in pending {
            after = p.id;
            let source = Source::Bytes { name: format!("inbox#{}", p.id), bytes: p.body.into() };
            let records: Vec<InputRecord> = match input::open(&source, None, None) {
                Ok(r) => r.collect(),
                Err(e) => vec![InputRecord {
                    value: Err(input::BadInput { message: e.to_string(), raw: String::new() }),
                    origin: format!("inbox#{}", p.id),
                    raw: None,
                }],
            };
            tokio::select! {
                _ = stop.clone().wait() => return,
                sent = tx.send(Batch { records, commit: Commit::Inbox(p.id) }) => if sent.is_err() { return },
            }
        }
    }
}

/// Polls a PostgreSQL query for rows past the cursor until stopped. The
/// cursor moves in memory as batches are sent; the state store's cursor
/// moves only when a batch is done, so a restart reads again what was
/// not finished.
pub async fn poll_postgres(
    mut pg: crate::postgres::PgSource,
    name: String,
    mut after: Option<String>,
    poll: Duration,
    tx: Sender<Batch>,
    stop: Stop,
) {
    loop {
        if stop.is_stopped() {
            return;
        }
        let rows = match pg.next_rows(after.as_deref()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("postgres source: {e}; trying again in {poll:?}");
                Vec::new()
            }
        };
        let Some(last) = rows.last().map(|(_, c)| c.clone()) else {
            tokio::select! {
                _ = stop.clone().wait() => return,
                _ = tokio::time::sleep(poll) => continue,
            }
        };
        let records = rows
            .into_iter()
            .map(|(v, c)| InputRecord { value: Ok(v), origin: format!("{name}@{c}"), raw: None })
            .collect();
        let batch = Batch { records, commit: Commit::Cursor { source: name.clone(), value: last.clone() } };
        tokio::select! {
            _ = stop.clone().wait() => return,
            sent = tx.send(batch) => if sent.is_err() { return },
        }
        after = Some(last);
    }
}

fn sleep_unless_stopped(d: Duration, stop: &Stop) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.is_stopped() {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_sorted_and_plain_paths_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.jsonl", "a.jsonl", "c.csv"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let pat = format!("{}/*.jsonl", dir.path().display());
        let names: Vec<_> =
            expand(&pat).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.jsonl", "b.jsonl"]);
        assert!(expand(&format!("{}/nope.jsonl", dir.path().display())).is_err());
        assert!(expand(&format!("{}/*.xml", dir.path().display())).unwrap().is_empty());
    }

    #[test]
    fn moving_keeps_both_files_of_one_name() {
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done");
        for _ in 0..2 {
            std::fs::write(dir.path().join("x.json"), "{}").unwrap();
            move_into(&dir.path().join("x.json"), &done).unwrap();
        }
        assert!(done.join("x.json").exists() && done.join("x.json.1").exists());
    }
}
