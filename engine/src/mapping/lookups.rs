//! Lookup tables: loaded once at compile time from inline YAML, CSV or JSON.
//!
//! Keys are text. Numbers in keys are written in their shortest exact form,
//! so a lookup by `101` finds the CSV row keyed `101`.

use std::collections::HashMap;
use std::path::Path;

use mapwright_dsl::{Map, Str, Value};

use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use crate::spec::mapping::LookupSpec;
use crate::spec::yaml::{Node, Yaml};

/// The formats of lookup files, by the word of `format:` (or the extension).
#[derive(Clone, Copy, Debug)]
pub(crate) enum LookupFormat {
    Csv,
    Json,
}

/// `format:` words of a lookup file.
pub(crate) const LOOKUP_FORMATS: [(&str, LookupFormat); 2] = [("csv", LookupFormat::Csv), ("json", LookupFormat::Json)];

/// One loaded table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub entries: HashMap<String, Value>,
    /// The file it came from, for hot reload and hashing.
    pub file: Option<std::path::PathBuf>,
}

/// Converts YAML to a value, numbers exact.
pub(crate) fn yaml_value(node: &Node) -> Value {
    match &node.value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => Value::Number(mapwright_dsl::Number::from_json_text(n)),
        Yaml::String(s) => Value::str(s),
        Yaml::Seq(items) => Value::array(items.iter().map(yaml_value).collect()),
        Yaml::Map(entries) => {
            Value::object(entries.iter().map(|(k, v)| (Str::from(k.text.as_str()), yaml_value(v))).collect::<Map>())
        }
    }
}

/// Text form of a lookup key value.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_json()),
        _ => None,
    }
}

/// Loads a table; problems become diagnostics.
pub(crate) fn load(spec: &LookupSpec, base: &Path, file: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<Table> {
    let mut table = Table::default();
    match (&spec.inline, &spec.file) {
        (Some(inline), None) => {
            let Yaml::Map(entries) = &inline.value else {
                diags.push(
                    Diagnostic::spec(
                        file,
                        SpecCode::WrongType,
                        inline.loc,
                        "`inline:` must be a mapping of key: value",
                    )
                    .with_hint("for example `inline: { US: USA, CA: CAN }`"),
                );
                return None;
            };
            for (k, v) in entries {
                table.entries.insert(k.text.clone(), yaml_value(v));
            }
        }
        (None, Some(path)) => {
            let full = base.join(&path.value);
            let text = match std::fs::read_to_string(&full) {
                Ok(t) => t,
                Err(e) => {
                    diags.push(
                        Diagnostic::spec(
                            file,
                            SpecCode::MissingFile,
                            path.loc,
                            format!("cannot read lookup file {}: {e}", full.display()),
                        )
                        .with_hint("the path is relative to the mapping file"),
                    );
                    return None;
                }
            };
            let format = spec
                .format
                .as_ref()
                .map(|f| f.value.to_ascii_lowercase())
                .or_else(|| full.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()))
                .unwrap_or_default();
            let loaded = match crate::spec::keys::word(&LOOKUP_FORMATS, &format) {
                Some(LookupFormat::Csv) => load_csv(&text, spec),
                Some(LookupFormat::Json) => load_json(&text, spec),
                None => Err(format!(
                    "unknown lookup file format `{format}`: use a .csv or .json file, or set `format:` to {}",
                    crate::spec::keys::or_list(&crate::spec::keys::names(&LOOKUP_FORMATS))
                )),
            };
            match loaded {
                Ok(entries) => table.entries = entries,
                Err(message) => {
                    // A missing column is the `key:`/`value:` setting's fault.
                    let loc = match (&spec.key, &spec.value) {
                        (Some(k), _) if message.starts_with(&format!("no column `{}`", k.value)) => k.loc,
                        (_, Some(v)) if message.starts_with(&format!("no column `{}`", v.value)) => v.loc,
                        _ => path.loc,
                    };
                    diags.push(Diagnostic::spec(
                        file,
                        SpecCode::BadLookupFile,
                        loc,
                        format!("lookup file {}: {message}", path.value),
                    ));
                    return None;
                }
            }
            table.file = Some(full);
        }
        (Some(_), Some(_)) => {
            diags.push(
                Diagnostic::spec(
                    file,
                    SpecCode::ConflictingKeys,
                    spec.loc,
                    format!("lookup `{}` has both `inline:` and `file:`", spec.name.text),
                )
                .with_hint("keep one of them"),
            );
            return None;
        }
        (None, None) => {
            diags.push(
                Diagnostic::spec(file, SpecCode::MissingKey, spec.loc, format!("lookup `{}` needs `inline:` or `file:`", spec.name.text))
                    .with_hint("for example `country3: { inline: { US: USA } }` or `{ file: warehouses.csv, key: id, value: code }`"),
            );
            return None;
        }
    }
    Some(table)
}

fn load_csv(text: &str, spec: &LookupSpec) -> Result<HashMap<String, Value>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &Option<crate::spec::Located<String>>, default: usize| -> Result<usize, String> {
        match name {
            Some(n) => headers.iter().position(|h| h == n.value).ok_or_else(|| {
                format!("no column `{}` (columns: {})", n.value, headers.iter().collect::<Vec<_>>().join(", "))
            }),
            None => Ok(default),
        }
    };
    let key_col = col(&spec.key, 0)?;
    let value_col = match &spec.value {
        Some(_) => Some(col(&spec.value, 1)?),
        None if headers.len() == 2 => Some(1 - key_col.min(1)),
        None => None,
    };
    let mut out = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("row {}: {e}", i + 2))?;
        let key = row.get(key_col).unwrap_or("").to_string();
        let value = match value_col {
            Some(c) => Value::str(row.get(c).unwrap_or("")),
            None => Value::object(headers.iter().zip(row.iter()).map(|(h, v)| (Str::from(h), Value::str(v))).collect()),
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn load_json(text: &str, spec: &LookupSpec) -> Result<HashMap<String, Value>, String> {
    let v = Value::from_json(text).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    match &v {
        Value::Object(m) if spec.key.is_none() => {
            for (k, v) in m.iter() {
                out.insert(k.to_string(), v.clone());
            }
        }
        Value::Array(items) => {
            let key = spec.key.as_ref().map_or("key", |k| k.value.as_str());
            for (i, item) in items.iter().enumerate() {
                let k =
                    item.get(key).and_then(key_text).ok_or_else(|| format!("element {i} has no text `{key}` field"))?;
                let value = match &spec.value {
                    Some(f) => item.get(&f.value).cloned().unwrap_or(Value::Null),
                    None => item.clone(),
                };
                out.insert(k, value);
            }
        }
        _ => return Err("expected an object of key: value, or a list of objects with `key:`".into()),
    }
    Ok(out)
}
