//! `kind: dir` sink: one file per batch in a folder, written under a
//! hidden temporary name, synced and renamed, so that a reader of the
//! folder never sees half a file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use mapwright_dsl::Value;
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::input::{FORMAT_NAMES, Format};
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;

use super::encode;
use crate::decode::{Entries, Pipe};

/// The keys of `kind: dir`.
pub(crate) static KEYS: Block = Block::new(
    "sink_dir",
    "One file per batch in a folder, written under a hidden name and renamed: `<pipeline>-<UTC time>-<n>.jsonl`.",
    &[
        Key::new("path", Type::Text, "The folder, relative to the pipeline file; it is created.")
            .required("the folder to write to: `path: out/`"),
        Key::new("format", Type::Words(&FORMAT_NAMES), "The format of each file: `jsonl` (default), `json` or `csv`."),
        super::NAME,
        super::WHEN,
    ],
);

/// `kind: dir` sink.
#[derive(Debug)]
pub(crate) struct DirSinkSpec {
    /// The folder.
    pub path: Located<PathBuf>,
    /// The format of each file (default jsonl).
    pub format: Format,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries, format: Option<Format>) -> Option<DirSinkSpec> {
    let path = p.required_text(entries, node.loc, &KEYS, "path")?;
    let format = match format {
        Some(Format::Yaml) => {
            p.d.error(SpecCode::BadValue, node.loc, "a dir sink writes json, jsonl or csv files");
            return None;
        }
        f => f.unwrap_or(Format::Jsonl),
    };
    Some(DirSinkSpec { path: Located::new(p.path(&path.value), path.loc), format })
}

/// An open folder sink.
pub(crate) struct DirSink {
    dir: PathBuf,
    format: Format,
    /// The name prefix (the pipeline's name).
    prefix: String,
    /// Files written so far.
    seq: u64,
}

impl DirSink {
    /// Opens the folder, creating it.
    pub(crate) fn open(dir: &Path, format: Format, prefix: &str) -> std::io::Result<DirSink> {
        std::fs::create_dir_all(dir)?;
        Ok(DirSink { dir: dir.to_path_buf(), format, prefix: prefix.to_string(), seq: 0 })
    }

    /// Writes one file holding `records` (each with its JSON text).
    pub(crate) fn write(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        self.seq += 1;
        let stamp = mapwright_dsl::jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.6fZ");
        let ext = match self.format {
            Format::Json => "json",
            Format::Csv => "csv",
            _ => "jsonl",
        };
        let name = format!("{}-{stamp}-{:06}.{ext}", self.prefix, self.seq);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let bytes = match self.format {
            Format::Json => encode::json_array(records),
            Format::Csv => {
                let values: Vec<&Value> = records.iter().map(|(v, _)| *v).collect();
                let columns = encode::columns_of(&values);
                let mut out = encode::csv_header_line(&columns)?;
                out.extend(encode::csv_rows(&values, &columns)?);
                out
            }
            _ => encode::jsonl(records),
        };
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, self.dir.join(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_sink_writes_whole_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DirSink::open(dir.path(), Format::Jsonl, "p").unwrap();
        for text in [r#"{"a":1}"#, r#"{"a":2}"#] {
            let v = Value::from_json(text).unwrap();
            s.write(&[(&v, text)]).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("p-") && n.ends_with(".jsonl")), "{names:?}");
    }
}
