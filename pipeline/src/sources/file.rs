//! `kind: file`: records from a file or a glob of files, read once, in
//! name order; the run ends after the last one.
//!
//! Nothing is committed: a second run reads the files again, and the state
//! store skips the records that were delivered.

use std::path::PathBuf;
use std::sync::Arc;

use mapwright_dsl::Projection;
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::input::{self, Format, Source};
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use tokio::sync::mpsc::Sender;

use super::{Batch, Commit, FORMAT, send_all};
use crate::Stop;
use crate::decode::{Entries, Pipe, located};

/// The keys of `kind: file`.
pub(crate) static KEYS: Block = Block::new(
    "source_file",
    "Records from a file or a glob of files (`in/*.jsonl`), read once, in name order; the run ends after the last file.",
    &[
        Key::new("path", Type::Text, "The file, or a glob such as `in/*.jsonl`, relative to the pipeline file.")
            .required("the file or glob to read: `path: in/*.jsonl`"),
        FORMAT,
    ],
);

/// `kind: file`.
#[derive(Clone, Debug)]
pub(crate) struct FileSourceSpec {
    /// The path or glob, resolved against the pipeline file's folder.
    pub path: Located<String>,
    /// `format:`, else by extension.
    pub format: Option<Format>,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<FileSourceSpec> {
    let format = p.format(entries);
    let path = p.required_text(entries, node.loc, &KEYS, "path")?;
    let full = p.path(&path.value).to_string_lossy().into_owned();
    Some(FileSourceSpec { path: Located::new(full, path.loc), format: format? })
}

/// At start-up: the path names a file, or the glob is valid.
pub(crate) fn check(
    spec: &FileSourceSpec,
    file: &mapwright_engine::diagnostic::SourceFile,
) -> Result<(), mapwright_engine::Error> {
    expand(&spec.path.value).map(|_| ()).map_err(|message| {
        located(
            file,
            SpecCode::MissingFile,
            spec.path.loc,
            message,
            "check the path; it is relative to the pipeline file",
        )
    })
}

/// Reads the files in the calling thread, sending batches; returns when
/// done or stopped. Blocking: run it on a blocking thread.
pub(crate) fn read(
    spec: &FileSourceSpec,
    projection: Option<Arc<Projection>>,
    tx: &Sender<Batch>,
    stop: &Stop,
) -> Result<(), String> {
    for path in expand(&spec.path.value)? {
        if stop.is_stopped() {
            break;
        }
        let reader =
            input::open(&Source::File(path.clone()), spec.format, projection.clone()).map_err(|e| e.to_string())?;
        if !send_all(reader, tx, stop, |_| Commit::Nothing) {
            break;
        }
    }
    Ok(())
}

/// The files a path or glob names, sorted. A plain path that does not
/// exist is an error; a glob that matches nothing is an empty list.
pub(crate) fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
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
}
