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

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::metrics::Metrics;
use mapwright_engine::Mapping;

/// Keeps the watcher alive; dropping it stops watching.
pub struct Reloader {
    _thread: std::thread::JoinHandle<()>,
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
            drop(debouncer);
        })
        .map_err(|e| format!("cannot start the reload thread: {e}"))?;
    Ok(Reloader { _thread: thread })
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
