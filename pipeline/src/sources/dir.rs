//! `kind: dir`: a drop folder. Each new file is read once, then moved to
//! `done/`, or to `failed/` when any of its records failed.
//!
//! The folder is looked at every `poll`; a file is taken once it has not
//! changed for `settle` (default 1s) and its size held still between two
//! looks, so a file still being written is not read half-way (a writer
//! pausing longer than `settle` should write under a temporary name and
//! rename: a file moved in by rename is always whole). Hidden files and
//! `.tmp`/`.part`/`.partial` names are skipped. A file's last batch
//! commits the move; the processor does it once that batch is delivered.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mapwright_dsl::Projection;
use mapwright_engine::input::{self, Format, InputRecord, Source};
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use tokio::sync::mpsc::Sender;

use super::{Batch, Commit, FORMAT, send_all};
use crate::Stop;
use crate::decode::{Entries, Pipe};

/// The keys of `kind: dir`.
pub(crate) static KEYS: Block = Block::new(
    "source_dir",
    "A drop folder: a file unchanged for `settle` is read once, then moved to `done/`, or to `failed/` if any record failed; hidden and `.tmp`/`.part` files are skipped, so writing under a temporary name and renaming is always safe.",
    &[
        Key::new("path", Type::Text, "The folder, relative to the pipeline file.")
            .required("the drop folder to watch: `path: inbox/`"),
        FORMAT,
        Key::new("done", Type::Text, "Where finished files go (default `<path>/done`)."),
        Key::new("failed", Type::Text, "Where files with a failed record go (default `<path>/failed`)."),
        Key::new("poll", Type::Duration, "How often to look for new files (default 1s)."),
        Key::new(
            "settle",
            Type::Duration,
            "How long a dropped file must stay unchanged before it is read (default 1s).",
        ),
    ],
);

/// `kind: dir`.
#[derive(Debug)]
pub(crate) struct DirSourceSpec {
    /// The folder.
    pub path: Located<PathBuf>,
    /// `format:`, else by extension.
    pub format: Option<Format>,
    /// Where processed files go (default `<path>/done`).
    pub done: PathBuf,
    /// Where files with failed records go (default `<path>/failed`).
    pub failed: PathBuf,
    /// How often to look for new files (default 1s).
    pub poll: Duration,
    /// How long a file must stay unchanged before it is read (default 1s).
    pub settle: Duration,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<DirSourceSpec> {
    let format = p.format(entries);
    let path = p.required_text(entries, node.loc, &KEYS, "path")?;
    let dir = p.path(&path.value);
    let done = p.opt_text(entries, "done").map(|t| p.path(&t.value));
    let failed = p.opt_text(entries, "failed").map(|t| p.path(&t.value));
    let poll = p.duration(entries, "poll").unwrap_or(Duration::from_secs(1));
    let settle = p.duration(entries, "settle").unwrap_or(Duration::from_secs(1));
    Some(DirSourceSpec {
        settle,
        done: done.unwrap_or_else(|| dir.join("done")),
        failed: failed.unwrap_or_else(|| dir.join("failed")),
        path: Located::new(dir, path.loc),
        format: format?,
        poll,
    })
}

/// The drop-folder reader: runs until stopped.
pub(crate) struct DirSource {
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
    pub taken: Taken,
}

/// Drop-folder files handed to the processor and not yet moved.
pub(crate) type Taken = Arc<Mutex<HashSet<PathBuf>>>;

impl DirSource {
    /// Looks for files until stopped; blocking.
    pub(crate) fn run(&self, tx: &Sender<Batch>, stop: &Stop) {
        // path -> (size, mtime) at the last look.
        let mut seen: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
        while !stop.is_stopped() {
            let mut ready = Vec::new();
            let mut now_seen = HashMap::new();
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
                        let record = InputRecord::unreadable(path.display().to_string(), e.to_string());
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
pub(crate) fn move_into(path: &Path, to: &Path) -> std::io::Result<PathBuf> {
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
