//! Hot reload: watches the mapping and everything it reads (lookup files,
//! hook script, contract), recompiles on a change, and swaps the new
//! mapping in between two batches.
//!
//! Folders are watched, not files: editors save by writing a temporary
//! file and renaming it over the old one, which a watch on the file itself
//! would lose. Events are debounced (notify-debouncer-full), and the
//! compile runs on the watcher's own thread, off the hot path. A mapping
//! that does not compile changes nothing: the old one keeps running, the
//! diagnostics are logged and `mapwright_reloads_total{result="failed"}`
//! counts it.
//!
//! The [`Reloader`] owns the watcher; the reload thread holds it only
//! weakly (to watch the folders of new dependencies). Dropping the
//! `Reloader` drops the watcher, which closes the thread's channel, and
//! waits for the thread to end: nothing is watched or reloaded after it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::metrics::Metrics;
use mapwright_engine::Mapping;

type Debouncer = notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>;

/// Keeps the watcher alive; dropping it stops watching and ends the reload
/// thread.
pub struct Reloader {
    watcher: Option<Arc<Mutex<Debouncer>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reloader {
    fn drop(&mut self) {
        // The last strong reference: the watcher stops, its event handler
        // (and with it the channel's sender) is dropped, and the thread's
        // `recv` returns an error.
        drop(self.watcher.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts watching `path` (the mapping file) and its dependencies.
pub fn watch(path: PathBuf, current: Arc<ArcSwap<Mapping>>, metrics: Arc<Metrics>) -> Result<Reloader, String> {
    let (tx, rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(Duration::from_millis(200), None, move |r: DebounceEventResult| {
        let _ = tx.send(r);
    })
    .map_err(|e| format!("cannot watch files for hot reload: {e}"))?;
    let mut watched: HashSet<PathBuf> = HashSet::new();
    let mut deps = files_of(&current.load(), &path);
    for dir in folders(&deps) {
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        watched.insert(dir);
    }
    let mut last = fingerprint(&deps);
    let watcher = Arc::new(Mutex::new(debouncer));
    let weak = Arc::downgrade(&watcher);
    let thread = std::thread::Builder::new()
        .name("mapwright-reload".into())
        .spawn(move || {
            while let Ok(result) = rx.recv() {
                let Ok(events) = result else { continue };
                let touched = events.iter().flat_map(|e| e.paths.iter()).any(|p| deps.contains(&absolute(p)));
                if !touched {
                    continue;
                }
                // One save can arrive as several events (a rename, a
                // write): load each distinct content once.
                let print = fingerprint(&deps);
                if print == last {
                    continue;
                }
                last = print;
                match Mapping::load(&path) {
                    Ok(m) => {
                        if m.content_hash() == current.load().content_hash() {
                            continue;
                        }
                        tracing::info!(mapping = m.name(), hash = m.content_hash(), "mapping reloaded");
                        metrics.set_mapping(m.name(), m.content_hash());
                        deps = files_of(&m, &path);
                        current.store(Arc::new(m));
                        metrics.reload(true);
                        // Gone when the Reloader was dropped mid-reload.
                        let Some(watcher) = weak.upgrade() else { break };
                        let mut debouncer = watcher.lock().unwrap_or_else(|p| p.into_inner());
                        for dir in folders(&deps) {
                            if !watched.contains(&dir) && debouncer.watch(&dir, RecursiveMode::NonRecursive).is_ok() {
                                watched.insert(dir);
                            }
                        }
                    }
                    Err(e) => {
                        metrics.reload(false);
                        tracing::error!(
                            "the changed mapping does not load; the previous one keeps running:\n{}",
                            e.render(false)
                        );
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the reload thread: {e}"))?;
    Ok(Reloader { watcher: Some(watcher), thread: Some(thread) })
}

/// A hash of the content of every file (missing files count as empty).
fn fingerprint(files: &HashSet<PathBuf>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut sorted: Vec<&PathBuf> = files.iter().collect();
    sorted.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in sorted {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

/// The files a mapping depends on, as absolute paths.
fn files_of(m: &Mapping, path: &Path) -> HashSet<PathBuf> {
    let mut files: HashSet<PathBuf> = m.dependencies().iter().map(|p| absolute(p)).collect();
    files.insert(absolute(path));
    files
}

fn folders(files: &HashSet<PathBuf>) -> HashSet<PathBuf> {
    files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect()
}

/// An absolute, normalised path (`a/./b/../c` → `a/c`) without touching
/// the file system, so a file that is being replaced still compares equal.
fn absolute(p: &Path) -> PathBuf {
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in full.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    // Resolve symlinked folders (/tmp on some systems) the way notify
    // reports them.
    match (out.parent().and_then(|d| d.canonicalize().ok()), out.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eventually(what: &str, mut check: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !check() {
            assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_change_reloads_and_a_dropped_reloader_watches_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, "mapping: m\nfields:\n  a: $.a\n").unwrap();
        let current = Arc::new(ArcSwap::from_pointee(Mapping::load(&path).unwrap()));
        let metrics = Arc::new(Metrics::new("p"));
        let reloader = watch(path.clone(), current.clone(), metrics.clone()).unwrap();
        // The watch may take a moment to be in place: write until it sees.
        let mut n = 0;
        eventually("the first reload", || {
            n += 1;
            std::fs::write(&path, format!("mapping: m\nfields:\n  a: $.a\n  b{n}: $.b\n")).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            metrics.reloads(true) >= 1
        });
        let hash = current.load().content_hash().to_string();
        drop(reloader);
        std::fs::write(&path, "mapping: m\nfields:\n  c: $.c\n").unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(current.load().content_hash(), hash, "no reload after the Reloader is dropped");
    }
}
