//! Reading records from files, standard input and bytes in memory.
//!
//! ```
//! use std::sync::Arc;
//! use mapwright_engine::input::{open, Source};
//!
//! let body = Source::Bytes { name: "http#1".into(), bytes: Arc::from(&b"{\"id\": 1}\n{\"id\": }\n"[..]) };
//! let records: Vec<_> = open(&body, None, None)?.collect();
//! assert_eq!(records[0].origin, "http#1:1");
//! assert!(records[1].value.is_err(), "a bad line is a bad record, and reading goes on");
//! # Ok::<(), mapwright_engine::Error>(())
//! ```
//!
//! Formats follow the extension or an explicit choice: `json` (one record
//! or an array), `jsonl` (one record per line, streamed in constant memory),
//! `csv` (header row; values stay text), `yaml`. Standard input is read as
//! JSON Lines unless it starts with `[`; a pretty-printed object spanning
//! several lines is also accepted there. A line or row that does not parse
//! becomes a [`BadInput`] with its place and raw text, so it can go to the
//! dead letter while the rest of the input flows on.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use mapwright_dsl::{Map, Projection, Str, Value};

use crate::Error;

/// Largest single record accepted (a guard against unbounded buffering):
/// a longer line is one bad record.
///
/// ```
/// assert_eq!(mapwright_engine::input::MAX_RECORD_BYTES, 64 << 20);
/// ```
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Input and output file formats.
///
/// ```
/// use mapwright_engine::input::Format;
///
/// assert_eq!(Format::from_path(std::path::Path::new("orders.ndjson")), Some(Format::Jsonl));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One JSON value: an object (one record) or an array of records.
    Json,
    /// JSON Lines: one record per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// YAML: one record or a list of records.
    Yaml,
}

impl Format {
    /// The format named by a file's extension.
    ///
    /// ```
    /// use mapwright_engine::input::Format;
    ///
    /// assert_eq!(Format::from_path(std::path::Path::new("in/ORDERS.CSV")), Some(Format::Csv));
    /// assert_eq!(Format::from_path(std::path::Path::new("orders")), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        Format::parse(&ext)
    }

    /// Parses a format name (`json`, `jsonl`/`ndjson`, `csv`, `yaml`/`yml`).
    ///
    /// ```
    /// use mapwright_engine::input::Format;
    ///
    /// assert_eq!(Format::parse("yml"), Some(Format::Yaml));
    /// assert_eq!(Format::parse("xml"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Format> {
        crate::spec::keys::word(&FORMATS, name)
    }
}

/// Format names (the words of `format:` and of extensions) and the formats
/// they stand for.
///
/// ```
/// assert!(mapwright_engine::input::FORMATS.iter().any(|(name, _)| *name == "ndjson"));
/// ```
pub const FORMATS: [(&str, Format); 6] = [
    ("json", Format::Json),
    ("jsonl", Format::Jsonl),
    ("ndjson", Format::Jsonl),
    ("csv", Format::Csv),
    ("yaml", Format::Yaml),
    ("yml", Format::Yaml),
];

impl Format {
    /// The formats' names, one per format (no aliases), as a hint lists
    /// them: `json, jsonl, csv or yaml`.
    ///
    /// ```
    /// assert_eq!(mapwright_engine::input::Format::names(), "json, jsonl, csv or yaml");
    /// ```
    pub fn names() -> String {
        let mut seen: Vec<Format> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for (name, format) in FORMATS {
            if !seen.contains(&format) {
                seen.push(format);
                names.push(name);
            }
        }
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

/// The words of [`FORMATS`].
///
/// ```
/// assert_eq!(mapwright_engine::input::FORMAT_NAMES[0], "json");
/// ```
pub const FORMAT_NAMES: [&str; 6] = crate::spec::keys::names(&FORMATS);

/// A record that could not be read: why, and its raw text.
///
/// ```
/// let bad = mapwright_engine::input::BadInput::new("orders.jsonl:2:9: invalid JSON", "{\"id\": }");
/// assert_eq!(bad.raw, "{\"id\": }");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BadInput {
    /// Why, with the place (`orders.jsonl:17:5: …`).
    pub message: String,
    /// The raw text of the record, for the dead letter.
    pub raw: String,
}

/// One record read from an input.
///
/// ```
/// use mapwright_engine::input::{open, Source};
///
/// let csv = Source::Bytes { name: "items".into(), bytes: std::sync::Arc::from(&b"[{\"sku\": \"A\"}]"[..]) };
/// let first = open(&csv, None, None)?.next().unwrap();
/// assert_eq!((first.origin.as_str(), first.value.unwrap().to_json()), ("items[0]", r#"{"sku":"A"}"#.to_string()));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InputRecord {
    /// The record, or why it could not be read.
    pub value: Result<Value, BadInput>,
    /// Where it came from (`orders.jsonl:17`).
    pub origin: String,
    /// The record's text, when it was read with a projection (the value
    /// then holds only the projected parts): parse it in full with
    /// [`InputRecord::full`] for a dead letter.
    pub raw: Option<String>,
}

impl BadInput {
    /// A record that could not be read because of `message`, with its raw
    /// text.
    ///
    /// ```
    /// let bad = mapwright_engine::input::BadInput::new("line 3: not JSON", "{oops");
    /// assert_eq!(bad.message, "line 3: not JSON");
    /// ```
    pub fn new(message: impl Into<String>, raw: impl Into<String>) -> BadInput {
        BadInput { message: message.into(), raw: raw.into() }
    }
}

impl InputRecord {
    /// A record read whole from `origin` (`orders@17`).
    ///
    /// ```
    /// use mapwright_engine::{input::InputRecord, Value};
    ///
    /// let r = InputRecord::new(Value::from_json(r#"{"id": 1}"#).unwrap(), "orders@1");
    /// assert_eq!(r.full(), Some(Value::from_json(r#"{"id": 1}"#).unwrap()));
    /// ```
    pub fn new(value: Value, origin: impl Into<String>) -> InputRecord {
        InputRecord { value: Ok(value), origin: origin.into(), raw: None }
    }

    /// Input from `origin` that is not a record at all (an unknown
    /// extension, a body that is not JSON): one bad record carrying
    /// `message` to the dead letter.
    ///
    /// ```
    /// let r = mapwright_engine::input::InputRecord::unreadable("inbox#7", "not JSON");
    /// assert_eq!(r.value.unwrap_err().message, "not JSON");
    /// ```
    pub fn unreadable(origin: impl Into<String>, message: impl Into<String>) -> InputRecord {
        InputRecord { value: Err(BadInput::new(message, "")), origin: origin.into(), raw: None }
    }

    /// The complete record: the value itself, or the raw text parsed in
    /// full when the value was projected.
    ///
    /// ```
    /// use mapwright_engine::input::{open, Source};
    /// use mapwright_engine::Mapping;
    ///
    /// let m = Mapping::from_yaml("mapping: m\nfields:\n  id: $.id\n", "m.yaml")?;
    /// let line = Source::Bytes { name: "in".into(), bytes: std::sync::Arc::from(&b"{\"id\": 1, \"note\": \"x\"}\n"[..]) };
    /// let projection = m.projection().cloned().map(std::sync::Arc::new);
    /// let record = open(&line, None, projection)?.next().unwrap();
    /// assert_eq!(record.value.as_ref().unwrap().to_json(), r#"{"id":1}"#, "only what the mapping reads");
    /// assert_eq!(record.full().unwrap().to_json(), r#"{"id":1,"note":"x"}"#, "the whole record, for a dead letter");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn full(&self) -> Option<Value> {
        match (&self.raw, &self.value) {
            (Some(raw), Ok(_)) => Value::from_json(raw).ok(),
            (None, Ok(v)) => Some(v.clone()),
            (_, Err(_)) => None,
        }
    }
}

/// Where to read records from.
///
/// ```
/// use mapwright_engine::input::{open, Source};
///
/// let err = open(&Source::File("no/such/orders.jsonl".into()), None, None).err().unwrap();
/// assert!(err.to_string().starts_with("no/such/orders.jsonl: "));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// Bytes already in memory (an HTTP body, an inbox payload), read like
    /// standard input: JSON when it starts with `[`, else JSON Lines, where
    /// a pretty-printed object spanning several lines is also one record.
    Bytes {
        /// The name used in record origins (`http#17`).
        name: String,
        /// The payload.
        bytes: Arc<[u8]>,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
            Source::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Opens an input: an iterator of records. Fails only when the input
/// cannot be opened at all. With a `projection`, JSON Lines records are
/// built only along the projected paths (see [`InputRecord::raw`]).
///
/// ```
/// use mapwright_engine::input::{open, Format, Source};
///
/// let csv = Source::Bytes { name: "items".into(), bytes: std::sync::Arc::from(&b"sku,qty\nA,2\n"[..]) };
/// let rows: Vec<_> = open(&csv, Some(Format::Csv), None)?.map(|r| r.value.unwrap().to_json()).collect();
/// assert_eq!(rows, [r#"{"sku":"A","qty":"2"}"#], "CSV values stay text");
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub fn open(
    source: &Source,
    format: Option<Format>,
    projection: Option<Arc<Projection>>,
) -> Result<Box<dyn Iterator<Item = InputRecord> + Send>, Error> {
    let name = source.name();
    let format = match (format, source) {
        (Some(f), _) => Some(f),
        (None, Source::File(p)) => Some(Format::from_path(p).ok_or_else(|| {
            Error::Usage(format!(
                "cannot tell the format of {name} from its extension; use a file ending in {}, or pass --format",
                Format::names()
            ))
        })?),
        (None, Source::Stdin | Source::Bytes { .. }) => None,
    };
    let reader: Box<dyn Read + Send> = match source {
        Source::File(p) => {
            Box::new(std::fs::File::open(p).map_err(|e| Error::Io { path: p.clone(), message: e.to_string() })?)
        }
        Source::Stdin => Box::new(std::io::stdin()),
        Source::Bytes { bytes, .. } => Box::new(std::io::Cursor::new(bytes.clone())),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let format = match format {
        Some(f) => f,
        None => {
            // Standard input: an array means JSON, anything else JSON Lines.
            let buf =
                reader.fill_buf().map_err(|e| Error::Io { path: PathBuf::from(&name), message: e.to_string() })?;
            match buf.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[') => Format::Json,
                _ => Format::Jsonl,
            }
        }
    };
    Ok(match format {
        Format::Jsonl => Box::new(JsonLines {
            reader,
            name,
            line: 0,
            size_hint: 256,
            done: false,
            projection,
            multiline: matches!(source, Source::Stdin | Source::Bytes { .. }),
        }),
        Format::Json => whole(reader, name, |text, name| match Value::from_json(text) {
            Ok(Value::Array(items)) => Ok(items.iter().cloned().collect()),
            Ok(v) => Ok(vec![v]),
            Err(e) => Err(format!("{name}:{}:{}: invalid JSON: {}", e.line, e.column, e.message)),
        }),
        Format::Yaml => whole(reader, name, |text, name| {
            let node = crate::spec::yaml::parse(text)
                .map_err(|e| format!("{name}: invalid YAML: {}", e.to_string().lines().next().unwrap_or("")))?;
            Ok(match crate::mapping::yaml_value(&node) {
                Value::Array(items) => items.iter().cloned().collect(),
                v => vec![v],
            })
        }),
        Format::Csv => Box::new(CsvRecords::new(reader, name, projection.as_deref())),
    })
}

/// Reads a whole input and splits it into records with `split`.
fn whole<R: Read + Send + 'static>(
    mut reader: R,
    name: String,
    split: fn(&str, &str) -> Result<Vec<Value>, String>,
) -> Box<dyn Iterator<Item = InputRecord> + Send> {
    let mut text = String::new();
    let records = match reader.read_to_string(&mut text) {
        Err(e) => vec![InputRecord {
            value: Err(BadInput { message: format!("{name}: cannot read: {e}"), raw: String::new() }),
            origin: name.clone(),
            raw: None,
        }],
        Ok(_) => match split(&text, &name) {
            Ok(values) => values
                .into_iter()
                .enumerate()
                .map(|(i, v)| InputRecord { value: Ok(v), origin: format!("{name}[{i}]"), raw: None })
                .collect(),
            Err(message) => {
                vec![InputRecord { value: Err(BadInput { message, raw: text }), origin: name.clone(), raw: None }]
            }
        },
    };
    Box::new(records.into_iter())
}

/// `name:line`, without the formatting machinery (once per record).
fn line_origin(name: &str, line: usize) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(line);
    let mut s = String::with_capacity(name.len() + 1 + digits.len());
    s.push_str(name);
    s.push(':');
    s.push_str(digits);
    s
}

struct JsonLines<R> {
    reader: R,
    name: String,
    line: usize,
    /// Capacity for the next line's buffer.
    size_hint: usize,
    done: bool,
    projection: Option<Arc<Projection>>,
    /// Whether a record may span lines (pretty JSON piped in on standard
    /// input); in a .jsonl file a line is a record, so an unfinished line
    /// is an error at that line.
    multiline: bool,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = InputRecord;

    fn next(&mut self) -> Option<InputRecord> {
        if self.done {
            return None;
        }
        // Sized like the last record, so a line is read without regrowing.
        let mut bytes = Vec::with_capacity(self.size_hint);
        let mut buf;
        loop {
            bytes.clear();
            match self.reader.read_until(b'\n', &mut bytes) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    self.line += 1;
                    return Some(InputRecord {
                        value: Err(BadInput {
                            message: format!("{}:{}: cannot read: {e}", self.name, self.line),
                            raw: String::new(),
                        }),
                        origin: format!("{}:{}", self.name, self.line),
                        raw: None,
                    });
                }
            }
            self.line += 1;
            // A line that is not UTF-8 is one bad record; reading goes on.
            buf = match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to() + 1;
                    let raw = String::from_utf8_lossy(e.as_bytes()).trim_end_matches(['\n', '\r']).to_string();
                    return Some(InputRecord {
                        value: Err(BadInput {
                            message: format!("{}:{}: invalid UTF-8 at byte {at}", self.name, self.line),
                            raw,
                        }),
                        origin: line_origin(&self.name, self.line),
                        raw: None,
                    });
                }
            };
            if !buf.trim().is_empty() {
                break;
            }
            bytes = buf.into_bytes();
        }
        let start_line = self.line;
        self.size_hint = (buf.len() + 64).next_power_of_two().min(1 << 20);
        let origin = line_origin(&self.name, start_line);
        loop {
            let text = buf.trim_end_matches(['\n', '\r']);
            let parsed = match &self.projection {
                Some(p) => mapwright_dsl::json::parse_projected(text, p),
                None => Value::from_json(text),
            };
            match parsed {
                Ok(v) => {
                    let raw = self.projection.is_some().then(|| {
                        buf.truncate(buf.trim_end_matches(['\n', '\r']).len());
                        std::mem::take(&mut buf)
                    });
                    return Some(InputRecord { value: Ok(v), origin, raw });
                }
                Err(e) => {
                    // A record spread over several lines (pretty JSON):
                    // keep reading while the text is an unfinished value.
                    let unfinished = self.multiline
                        && e.offset >= buf.trim_end().len()
                        && buf.trim_start().starts_with(['{', '['])
                        && buf.len() < MAX_RECORD_BYTES;
                    let mut more = String::new();
                    if unfinished && matches!(self.reader.read_line(&mut more), Ok(n) if n > 0) {
                        self.line += 1;
                        buf.push_str(&more);
                        continue;
                    }
                    let raw = buf.trim_end_matches(['\n', '\r']).to_string();
                    return Some(InputRecord {
                        value: Err(BadInput {
                            message: format!(
                                "{}:{}:{}: invalid JSON: {}",
                                self.name,
                                start_line + e.line - 1,
                                e.column,
                                e.message
                            ),
                            raw,
                        }),
                        origin,
                        raw: None,
                    });
                }
            }
        }
    }
}

struct CsvRecords {
    reader: csv::Reader<Box<dyn Read + Send>>,
    headers: Option<Vec<Str>>,
    /// Which columns the mapping reads (all when there is no projection).
    keep: Vec<bool>,
    name: String,
    header_error: Option<String>,
    done: bool,
}

impl CsvRecords {
    fn new<R: Read + Send + 'static>(reader: R, name: String, projection: Option<&Projection>) -> CsvRecords {
        let mut reader = csv::ReaderBuilder::new().from_reader(Box::new(reader) as Box<dyn Read + Send>);
        let (headers, header_error) = match reader.headers() {
            Ok(h) => (Some(h.iter().map(Str::from).collect::<Vec<Str>>()), None),
            Err(e) => (None, Some(format!("{name}: invalid CSV header: {e}"))),
        };
        let keep = headers.iter().flatten().map(|h| projection.is_none_or(|p| p.keeps_key(h))).collect();
        CsvRecords { reader, headers, keep, name, header_error, done: false }
    }
}

impl Iterator for CsvRecords {
    type Item = InputRecord;

    fn next(&mut self) -> Option<InputRecord> {
        if self.done {
            return None;
        }
        if let Some(message) = self.header_error.take() {
            self.done = true;
            return Some(InputRecord {
                value: Err(BadInput { message, raw: String::new() }),
                origin: self.name.clone(),
                raw: None,
            });
        }
        let headers = self.headers.as_ref()?;
        let mut row = csv::StringRecord::new();
        match self.reader.read_record(&mut row) {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = row.position().map_or(0, |p| p.line());
                let map: Map = headers
                    .iter()
                    .zip(row.iter())
                    .zip(&self.keep)
                    .filter(|(_, keep)| **keep)
                    .map(|((h, v), _)| (h.clone(), Value::str(v)))
                    .collect();
                // Projected rows keep the whole row as JSON text for a dead letter.
                let raw = self.keep.iter().any(|k| !k).then(|| {
                    let full: Map = headers.iter().zip(row.iter()).map(|(h, v)| (h.clone(), Value::str(v))).collect();
                    Value::object(full).to_json()
                });
                Some(InputRecord { value: Ok(Value::object(map)), origin: format!("{}:{line}", self.name), raw })
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    self.done = true;
                }
                Some(InputRecord {
                    value: Err(BadInput {
                        message: format!("{}:{line}: invalid CSV row: {e}", self.name),
                        raw: row.iter().collect::<Vec<_>>().join(","),
                    }),
                    origin: format!("{}:{line}", self.name),
                    raw: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_origins_match_format() {
        for line in [0, 1, 9, 10, 99, 100, 123_456, usize::MAX] {
            assert_eq!(line_origin("orders.jsonl", line), format!("orders.jsonl:{line}"));
        }
    }
}
