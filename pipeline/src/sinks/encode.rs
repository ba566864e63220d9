//! How records become bytes in the sinks that write text (a file, a
//! folder, standard output, and the dead letter and drift outputs): JSON
//! Lines, one JSON array, or CSV with a header row — numbers exact, text
//! as is, objects and lists as JSON in a CSV cell.

use std::fs::File;
use std::io::{Seek, SeekFrom};

use mapwright_dsl::Value;

/// The header row of a CSV file: its columns, quoted where needed.
pub(crate) fn csv_header_line(columns: &[String]) -> std::io::Result<Vec<u8>> {
    csv_line(&columns.iter().map(|c| Value::str(c)).collect::<Vec<_>>())
}

/// Records as JSON Lines, each with its JSON text already made.
pub(crate) fn jsonl(records: &[(&Value, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|(_, j)| j.len() + 1).sum());
    for (_, j) in records {
        out.extend_from_slice(j.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Records as one JSON array, one record per line.
pub(crate) fn json_array(records: &[(&Value, &str)]) -> Vec<u8> {
    format!("[\n{}\n]\n", records.iter().map(|(_, j)| *j).collect::<Vec<_>>().join(",\n")).into_bytes()
}

/// The columns of a CSV file: the keys of the first records, in order.
pub(crate) fn columns_of(records: &[&Value]) -> Vec<String> {
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

/// CSV rows of `records` under `columns`; a field without a column is
/// left out, with a warning.
pub(crate) fn csv_rows(records: &[&Value], columns: &[String]) -> std::io::Result<Vec<u8>> {
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
pub(crate) fn csv_line(values: &[Value]) -> std::io::Result<Vec<u8>> {
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
pub(crate) fn csv_header(file: &mut File) -> std::io::Result<Option<Vec<String>>> {
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
