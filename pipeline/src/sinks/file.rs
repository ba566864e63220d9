//! `kind: file` sink: records appended to a file and synced to disk per
//! batch — JSON Lines, one JSON array (kept valid across batches and
//! restarts), or CSV (its header written once, and read back from a file
//! that has one). Dead letters and drift lines are written this way by
//! default.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mapwright_dsl::Value;
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::input::{FORMAT_NAMES, Format};
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};

use super::{SinkKind, encode};
use crate::decode::{Entries, Pipe};

/// The keys of `kind: file`.
pub(crate) static KEYS: Block = Block::new(
    "sink_file",
    "Records appended to a file (jsonl, json or csv by its extension, or `format:`), synced to disk per batch; a JSON file stays one valid array, CSV keeps its header.",
    &[
        Key::new("path", Type::Text, "The file, relative to the pipeline file; its folder is created.")
            .required("the file to append to: `path: out/orders.jsonl`"),
        Key::new("format", Type::Words(&FORMAT_NAMES), "`jsonl`, `json` or `csv` when the extension does not tell."),
        super::NAME,
        super::WHEN,
    ],
);

/// `kind: file` sink.
#[derive(Debug)]
pub(crate) struct FileSinkSpec {
    /// The file.
    pub path: Located<PathBuf>,
    /// The format.
    pub format: Format,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries, format: Option<Format>) -> Option<FileSinkSpec> {
    let path = p.required_text(entries, node.loc, &KEYS, "path")?;
    let file = p.path(&path.value);
    let format = match format.or_else(|| Format::from_path(&file)) {
        Some(Format::Yaml) => {
            p.d.hint(
                SpecCode::BadValue,
                path.loc,
                "a file sink writes json, jsonl or csv, not yaml",
                "use a .jsonl, .json or .csv file",
            );
            return None;
        }
        Some(f) => f,
        None => {
            p.d.hint(
                SpecCode::BadValue,
                path.loc,
                format!("cannot tell the format of `{}` from its extension", path.value),
                "use a .jsonl, .json or .csv file, or set `format:`",
            );
            return None;
        }
    };
    Some(FileSinkSpec { path: Located::new(file, path.loc), format })
}

/// The dead letter when the pipeline file names none: JSON Lines in
/// `path`, reported at `loc` if it cannot be opened.
pub(crate) fn default_dead_letter(path: PathBuf, loc: Loc) -> SinkKind {
    SinkKind::File(FileSinkSpec { path: Located::new(path, loc), format: Format::Jsonl })
}

/// An open file sink.
pub(crate) struct FileSink {
    path: PathBuf,
    file: File,
    format: Format,
    /// CSV: the header's columns (read from the file when it has one).
    columns: Option<Vec<String>>,
}

impl FileSink {
    /// Opens the file, creating it and its folder.
    pub(crate) fn open(path: &Path, format: Format) -> std::io::Result<FileSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file =
            OpenOptions::new().create(true).read(true).append(format != Format::Json).write(true).open(path)?;
        let columns = if format == Format::Csv { encode::csv_header(&mut file)? } else { None };
        Ok(FileSink { path: path.to_path_buf(), file, format, columns })
    }

    /// Appends records (each with its JSON text) and syncs the file.
    pub(crate) fn append(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        match self.format {
            Format::Json => self.append_to_array(records)?,
            Format::Csv => {
                let records: Vec<&Value> = records.iter().map(|(v, _)| *v).collect();
                let mut out = Vec::new();
                let columns = match &self.columns {
                    Some(c) => c.clone(),
                    None => {
                        let c = encode::columns_of(&records);
                        out = encode::csv_header_line(&c)?;
                        self.columns = Some(c.clone());
                        c
                    }
                };
                out.extend(encode::csv_rows(&records, &columns)?);
                self.file.write_all(&out)?;
            }
            _ => self.file.write_all(&encode::jsonl(records))?,
        }
        self.file.sync_data()
    }

    /// A JSON file holds one array: `[\n`, records joined by `,\n`, `\n]\n`.
    /// Appending overwrites the closing `\n]\n`.
    fn append_to_array(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        let len = self.file.seek(SeekFrom::End(0))?;
        let body = records.iter().map(|(_, j)| *j).collect::<Vec<_>>().join(",\n");
        if len == 0 {
            self.file.write_all(format!("[\n{body}\n]\n").as_bytes())
        } else {
            let mut tail = [0u8; 3];
            self.file.seek(SeekFrom::End(-3.min(len as i64).max(-(len as i64))))?;
            let n = self.file.read(&mut tail)?;
            if &tail[..n] != b"\n]\n" {
                return Err(std::io::Error::other(format!(
                    "{} does not end like a JSON array written by mapwright (`\\n]\\n`); move it away or use a .jsonl sink",
                    self.path.display()
                )));
            }
            self.file.seek(SeekFrom::End(-3))?;
            let empty = len <= 5; // "[\n\n]\n" cannot happen, but "[\n]\n" would be 4
            let sep = if empty { "" } else { ",\n" };
            self.file.write_all(format!("{sep}{body}\n]\n").as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).unwrap()
    }

    fn write(sink: &mut FileSink, records: &[&Value]) {
        let json: Vec<String> = records.iter().map(|r| r.to_json()).collect();
        let pairs: Vec<(&Value, &str)> = records.iter().copied().zip(json.iter().map(String::as_str)).collect();
        sink.append(&pairs).unwrap();
    }

    #[test]
    fn jsonl_appends_across_batches_and_reopenings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out/o.jsonl");
        let mut s = FileSink::open(&p, Format::Jsonl).unwrap();
        write(&mut s, &[&v(r#"{"a":1.50}"#)]);
        drop(s);
        let mut s = FileSink::open(&p, Format::Jsonl).unwrap();
        write(&mut s, &[&v(r#"{"a":2}"#), &v(r#"{"a":3}"#)]);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1.5}\n{\"a\":2}\n{\"a\":3}\n");
    }

    #[test]
    fn a_json_file_stays_one_valid_array() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.json");
        let mut s = FileSink::open(&p, Format::Json).unwrap();
        write(&mut s, &[&v(r#"{"a":1}"#)]);
        write(&mut s, &[&v(r#"{"a":2}"#), &v(r#"{"a":3}"#)]);
        drop(s);
        let mut s = FileSink::open(&p, Format::Json).unwrap();
        write(&mut s, &[&v(r#"{"a":4}"#)]);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(v(&text).to_json(), r#"[{"a":1},{"a":2},{"a":3},{"a":4}]"#);
    }

    #[test]
    fn csv_keeps_its_header_and_exact_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.csv");
        let mut s = FileSink::open(&p, Format::Csv).unwrap();
        write(&mut s, &[&v(r#"{"id":"A,1","total":19.90,"tags":["x"],"note":null}"#)]);
        drop(s);
        let mut s = FileSink::open(&p, Format::Csv).unwrap();
        write(&mut s, &[&v(r#"{"total":5,"id":"B"}"#)]);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "id,total,tags,note\n\"A,1\",19.9,\"[\"\"x\"\"]\",\nB,5,,\n");
    }
}
