//! Sinks that write lines of text: a file (JSON Lines, a JSON array or
//! CSV, appended and synced per batch), a folder (one file per batch,
//! written under a temporary name and renamed, so a reader never sees half
//! a file) and standard output. Dead letters and drift reports use them
//! too.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mapwright_dsl::Value;

use mapwright_engine::input::Format;

/// A sink of lines.
pub enum LineSink {
    /// Appends to a file.
    File(FileSink),
    /// One file per batch in a folder.
    Dir {
        /// The folder.
        dir: PathBuf,
        /// The files' format.
        format: Format,
        /// The name prefix (the pipeline's name).
        prefix: String,
        /// Files written so far.
        seq: u64,
    },
    /// Standard output, JSON Lines.
    Stdout,
}

/// An open file sink.
pub struct FileSink {
    path: PathBuf,
    file: File,
    format: Format,
    /// CSV: the header's columns (read from the file when it has one).
    columns: Option<Vec<String>>,
}

impl LineSink {
    /// Opens a file sink, creating the file and its folder.
    pub fn file(path: &Path, format: Format) -> std::io::Result<LineSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file =
            OpenOptions::new().create(true).read(true).append(format != Format::Json).write(true).open(path)?;
        let columns = if format == Format::Csv { csv_header(&mut file)? } else { None };
        Ok(LineSink::File(FileSink { path: path.to_path_buf(), file, format, columns }))
    }

    /// Opens a folder sink, creating the folder.
    pub fn dir(dir: &Path, format: Format, prefix: &str) -> std::io::Result<LineSink> {
        std::fs::create_dir_all(dir)?;
        Ok(LineSink::Dir { dir: dir.to_path_buf(), format, prefix: prefix.to_string(), seq: 0 })
    }

    /// Writes records and makes them durable: synced to disk when this
    /// returns (standard output: flushed).
    pub fn write(&mut self, records: &[&Value]) -> std::io::Result<()> {
        let json: Vec<String> = records.iter().map(|r| r.to_json()).collect();
        let pairs: Vec<(&Value, &str)> = records.iter().copied().zip(json.iter().map(String::as_str)).collect();
        self.write_json(&pairs)
    }

    /// [`LineSink::write`] for records whose JSON text is already made
    /// (each record with its text).
    pub fn write_json(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            LineSink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&jsonl(records))?;
                out.flush()
            }
            LineSink::File(f) => f.append(records),
            LineSink::Dir { dir, format, prefix, seq } => {
                *seq += 1;
                let stamp = mapwright_dsl::jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.6fZ");
                let ext = match format {
                    Format::Json => "json",
                    Format::Csv => "csv",
                    _ => "jsonl",
                };
                let name = format!("{prefix}-{stamp}-{:06}.{ext}", *seq);
                let tmp = dir.join(format!(".{name}.tmp"));
                let bytes = match format {
                    Format::Json => json_array(records),
                    Format::Csv => {
                        let values: Vec<&Value> = records.iter().map(|(v, _)| *v).collect();
                        let columns = columns_of(&values);
                        let mut out = csv_line(&columns.iter().map(|c| Value::str(c)).collect::<Vec<_>>())?;
                        out.extend(csv_rows(&values, &columns)?);
                        out
                    }
                    _ => jsonl(records),
                };
                let mut f = File::create(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_data()?;
                std::fs::rename(&tmp, dir.join(name))
            }
        }
    }
}

impl FileSink {
    fn append(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        match self.format {
            Format::Json => self.append_to_array(records)?,
            Format::Csv => {
                let records: Vec<&Value> = records.iter().map(|(v, _)| *v).collect();
                let records = &records[..];
                let mut out = Vec::new();
                let columns = match &self.columns {
                    Some(c) => c.clone(),
                    None => {
                        let c = columns_of(records);
                        out = csv_line(&c.iter().map(|c| Value::str(c)).collect::<Vec<_>>())?;
                        self.columns = Some(c.clone());
                        c
                    }
                };
                out.extend(csv_rows(records, &columns)?);
                self.file.write_all(&out)?;
            }
            _ => self.file.write_all(&jsonl(records))?,
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

fn jsonl(records: &[(&Value, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|(_, j)| j.len() + 1).sum());
    for (_, j) in records {
        out.extend_from_slice(j.as_bytes());
        out.push(b'\n');
    }
    out
}

fn json_array(records: &[(&Value, &str)]) -> Vec<u8> {
    format!("[\n{}\n]\n", records.iter().map(|(_, j)| *j).collect::<Vec<_>>().join(",\n")).into_bytes()
}

/// The columns of a CSV file: the keys of the first records, in order.
fn columns_of(records: &[&Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for r in records {
        if let Value::Object(m) = r {
            for (k, _) in m.iter() {
                if !columns.iter().any(|c| c == k.as_ref()) {
                    columns.push(k.to_string());
                }
            }
        }
    }
    columns
}

fn csv_rows(records: &[&Value], columns: &[String]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in records {
        let Value::Object(m) = r else { continue };
        for (k, _) in m.iter() {
            if !columns.iter().any(|c| c == k.as_ref()) {
                tracing::warn!(column = %k, "a record has a field the CSV file has no column for; it is not written");
            }
        }
        let row: Vec<Value> = columns.iter().map(|c| m.get(c.as_str()).cloned().unwrap_or(Value::Null)).collect();
        out.extend(csv_line(&row)?);
    }
    Ok(out)
}

/// One CSV line: text as is, null empty, numbers exact, objects and lists
/// as JSON.
fn csv_line(values: &[Value]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let cells: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::Null => String::new(),
            Value::String(s) => s.to_string(),
            other => {
                let j = other.to_json();
                j.strip_prefix('"').and_then(|j| j.strip_suffix('"')).map(str::to_string).unwrap_or(j)
            }
        })
        .collect();
    w.write_record(&cells).map_err(std::io::Error::other)?;
    w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

/// The header of an existing CSV file.
fn csv_header(file: &mut File) -> std::io::Result<Option<Vec<String>>> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&mut *file);
    let header = match reader.records().next() {
        Some(Ok(r)) => Some(r.iter().map(str::to_string).collect()),
        _ => None,
    };
    drop(reader);
    file.seek(SeekFrom::End(0))?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).unwrap()
    }

    #[test]
    fn jsonl_appends_across_batches_and_reopenings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out/o.jsonl");
        let mut s = LineSink::file(&p, Format::Jsonl).unwrap();
        s.write(&[&v(r#"{"a":1.50}"#)]).unwrap();
        drop(s);
        let mut s = LineSink::file(&p, Format::Jsonl).unwrap();
        s.write(&[&v(r#"{"a":2}"#), &v(r#"{"a":3}"#)]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1.5}\n{\"a\":2}\n{\"a\":3}\n");
    }

    #[test]
    fn a_json_file_stays_one_valid_array() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.json");
        let mut s = LineSink::file(&p, Format::Json).unwrap();
        s.write(&[&v(r#"{"a":1}"#)]).unwrap();
        s.write(&[&v(r#"{"a":2}"#), &v(r#"{"a":3}"#)]).unwrap();
        drop(s);
        let mut s = LineSink::file(&p, Format::Json).unwrap();
        s.write(&[&v(r#"{"a":4}"#)]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(v(&text).to_json(), r#"[{"a":1},{"a":2},{"a":3},{"a":4}]"#);
    }

    #[test]
    fn csv_keeps_its_header_and_exact_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.csv");
        let mut s = LineSink::file(&p, Format::Csv).unwrap();
        s.write(&[&v(r#"{"id":"A,1","total":19.90,"tags":["x"],"note":null}"#)]).unwrap();
        drop(s);
        let mut s = LineSink::file(&p, Format::Csv).unwrap();
        s.write(&[&v(r#"{"total":5,"id":"B"}"#)]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "id,total,tags,note\n\"A,1\",19.9,\"[\"\"x\"\"]\",\nB,5,,\n");
    }

    #[test]
    fn a_dir_sink_writes_whole_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = LineSink::dir(dir.path(), Format::Jsonl, "p").unwrap();
        s.write(&[&v(r#"{"a":1}"#)]).unwrap();
        s.write(&[&v(r#"{"a":2}"#)]).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("p-") && n.ends_with(".jsonl")), "{names:?}");
    }
}
