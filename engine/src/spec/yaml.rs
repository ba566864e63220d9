//! A located YAML tree: every node knows its line, column and byte range.
//!
//! Why a tree and not `#[derive(Deserialize)]` straight into the spec
//! structs: serde stops at the first error, and every problem of a file
//! is reported in one run (README "When a mapping has a mistake") (an unknown key here, a bad expression
//! there). serde-saphyr parses the YAML into this tree (its `Spanned`
//! wrapper gives each value its place); the spec decoder then walks the
//! tree and collects all problems as located diagnostics.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};

/// Where a node is in its file.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
/// use mapwright_engine::spec::yaml::{parse_file, Loc};
///
/// let file = SourceFile::new("m.yaml", "mapping: m\nkey: $.id\n");
/// let root = parse_file(&file)?;
/// let key = &root.as_map().unwrap()[1];
/// assert_eq!(key.1.loc, Loc::in_file(&file, 16, 4), "`$.id` on line 2, column 6");
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loc {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters).
    pub column: u32,
    /// Byte offset of the node's text, when known.
    pub offset: usize,
    /// Byte length of the node's text (0 when unknown).
    pub len: usize,
}

impl Loc {
    /// The place of `len` bytes at `offset` in `file`, with their line and
    /// column.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    ///
    /// let file = SourceFile::new("m.yaml", "a: 1\nb: 2\n");
    /// let loc = mapwright_engine::spec::yaml::Loc::in_file(&file, 8, 1);
    /// assert_eq!((loc.line, loc.column), (2, 4));
    /// ```
    pub fn in_file(file: &SourceFile, offset: usize, len: usize) -> Loc {
        let (line, column) = file.line_col(offset);
        Loc { line, column, offset, len }
    }
}

/// A YAML node: its value and its place.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
/// use mapwright_engine::spec::yaml::{parse_file, Yaml};
///
/// let root = parse_file(&SourceFile::new("m.yaml", "tags: [a, b]\n"))?;
/// let (key, tags) = &root.as_map().unwrap()[0];
/// assert_eq!(key.text, "tags");
/// assert!(matches!(&tags.value, Yaml::Seq(items) if items.len() == 2));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Node {
    /// What it is.
    pub value: Yaml,
    /// Where it is.
    pub loc: Loc,
}

/// YAML values. Scalars keep their source text so expressions and numbers
/// are read exactly as written (`19.90` stays `19.90`). Exhaustive: these
/// are YAML's kinds of value.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
/// use mapwright_engine::spec::yaml::{parse_file, Yaml};
///
/// let root = parse_file(&SourceFile::new("m.yaml", "price: 19.90\nzip: 02134\n"))?;
/// let entries = root.as_map().unwrap();
/// assert!(matches!(&entries[0].1.value, Yaml::Number(n) if n == "19.90"));
/// assert!(matches!(&entries[1].1.value, Yaml::String(z) if z == "02134"), "leading zeros stay text");
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum Yaml {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, keys with their places.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its place.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
///
/// let root = mapwright_engine::spec::yaml::parse_file(&SourceFile::new("m.yaml", "a: 1\nbee: 2\n"))?;
/// let key = &root.as_map().unwrap()[1].0;
/// assert_eq!((key.text.as_str(), key.loc.line, key.loc.column), ("bee", 2, 1));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Key {
    /// The key text.
    pub text: String,
    /// Where it is.
    pub loc: Loc,
}

impl Yaml {
    /// A word for messages: "a mapping", "a list", "text"…
    ///
    /// ```
    /// assert_eq!(mapwright_engine::spec::yaml::Yaml::Seq(Vec::new()).kind(), "a list");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Yaml::Null => "nothing (null)",
            Yaml::Bool(_) => "true/false",
            Yaml::Number(_) => "a number",
            Yaml::String(_) => "text",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The scalar's text (strings, numbers, booleans), as written.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    ///
    /// let root = mapwright_engine::spec::yaml::parse_file(&SourceFile::new("m.yaml", "on: true\nlist: []\n"))?;
    /// let entries = root.as_map().unwrap();
    /// assert_eq!(entries[0].1.scalar_text().as_deref(), Some("true"));
    /// assert_eq!(entries[1].1.scalar_text(), None);
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Yaml::String(s) | Yaml::Number(s) => Some(s.clone()),
            Yaml::Bool(b) => Some(b.to_string()),
            Yaml::Null => Some("null".to_string()),
            _ => None,
        }
    }

    /// The mapping's entries, if this is a mapping.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    ///
    /// let root = mapwright_engine::spec::yaml::parse_file(&SourceFile::new("m.yaml", "- a\n- b\n"))?;
    /// assert!(root.as_map().is_none(), "a list is not a mapping");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// Parses YAML text into a located tree.
pub(crate) fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
    // YAML 1.2 scalars: `no`, `yes`, `on`, `off` stay text (a lookup keyed
    // by Norway's `NO` must not become `false`), and `02134` stays a string
    // (postal codes, SKUs).
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let spanned: Spanned<Yaml> = serde_saphyr::from_str_with_options(text, options)?;
    Ok(located(text, spanned))
}

/// Parses a spec file's text into a located tree (YAML 1.2: `no` and
/// `on` stay text, `02134` stays text, a key twice is an error); a syntax
/// error is a located diagnostic with a hint.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
///
/// let err = mapwright_engine::spec::yaml::parse_file(&SourceFile::new("m.yaml", "a: 1\na: 2\n")).unwrap_err();
/// assert!(err.to_string().contains("`a` is defined twice"), "{err}");
/// ```
pub fn parse_file(file: &SourceFile) -> Result<Node, crate::Error> {
    parse(&file.text).map_err(|e| crate::Error::Spec(crate::Diagnostics(vec![syntax_error(file, &e)])))
}

/// A YAML syntax error as a diagnostic.
fn syntax_error(file: &SourceFile, e: &serde_saphyr::Error) -> Diagnostic {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML");
    // saphyr says "error: line 4 column 9: unclosed quote"; the place is
    // shown by the diagnostic itself.
    let mut message = first.trim_start_matches("error: ").to_string();
    if let Some(rest) = message.strip_prefix("line ") {
        if let Some((_, tail)) = rest.split_once(": ") {
            message = tail.to_string();
        }
    }
    let message = message.split(" at line ").next().unwrap_or(&message).trim_end_matches(['.', ' ']).to_string();
    let (offset, len) = match e.location() {
        Some(l) => {
            let line = l.line().max(1) as usize;
            let col = l.column().max(1) as usize;
            let line_start: usize = file.text.split_inclusive('\n').take(line - 1).map(str::len).sum();
            let line_text = file.text[line_start.min(file.text.len())..].lines().next().unwrap_or("");
            let col_off: usize = line_text.chars().take(col - 1).map(char::len_utf8).sum();
            let word = line_text[col_off.min(line_text.len())..].split(':').next().unwrap_or("").trim_end().len();
            (line_start + col_off, word.max(1))
        }
        None => (0, 0),
    };
    let (message, hint) = if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        (
            format!("`{key}` is defined twice in the same block"),
            "each key may appear once: rename one or merge them".to_string(),
        )
    } else if message.contains("mapping values are not allowed") {
        (
            format!("invalid YAML: {message}"),
            "check the indentation, and quote any expression that contains `: ` (like `{b: 20}`) or ` #`: write it in '…' quotes".to_string(),
        )
    } else {
        (
            format!("invalid YAML: {message}"),
            "check the indentation and the quotes; expressions that start with a YAML symbol ([ { ' \" * & ! | >) must be quoted".to_string(),
        )
    };
    Diagnostic::at(file, SpecCode::YamlSyntax.as_str(), offset, len, message).with_hint(hint)
}

fn located(text: &str, s: Spanned<Yaml>) -> Node {
    let mut node = spanned_node(s);
    fix_numbers(text, &mut node);
    node
}

/// Numbers arrive from serde as `f64`/`i64`; put back the text as written
/// so `19.90` keeps its digits and huge ids are not rounded.
fn fix_numbers(text: &str, node: &mut Node) {
    match &mut node.value {
        Yaml::Number(n) => {
            if let Some(raw) = text.get(node.loc.offset..node.loc.offset + node.loc.len) {
                let raw = raw.trim();
                if !raw.is_empty() && raw.parse::<f64>().is_ok() {
                    *n = raw.to_string();
                }
            }
        }
        Yaml::Seq(items) => items.iter_mut().for_each(|c| fix_numbers(text, c)),
        Yaml::Map(entries) => entries.iter_mut().for_each(|(_, v)| fix_numbers(text, v)),
        _ => {}
    }
}

struct YamlVisitor;

fn spanned_node(s: Spanned<Yaml>) -> Node {
    let span = s.referenced.span();
    Node {
        value: s.value,
        loc: Loc {
            line: s.referenced.line() as u32,
            column: s.referenced.column() as u32,
            offset: span.byte_offset().unwrap_or(span.offset()) as usize,
            len: span.byte_len().unwrap_or(span.len()) as usize,
        },
    }
}

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.to_string()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Yaml, E> {
        Ok(Yaml::Number(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Number(format!("{v:?}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Yaml>>()? {
            items.push(spanned_node(item));
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Yaml>>()?;
            let k = spanned_node(Spanned::new(Yaml::Null, key.referenced, key.defined));
            entries.push((Key { text: key.value.0, loc: k.loc }, spanned_node(value)));
        }
        Ok(Yaml::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Yaml, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

/// A mapping key read as text whatever its YAML type (`1:`, `true:`).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        match Yaml::deserialize(d)? {
            Yaml::String(s) | Yaml::Number(s) => Ok(KeyText(s)),
            Yaml::Bool(b) => Ok(KeyText(b.to_string())),
            Yaml::Null => Ok(KeyText("null".into())),
            _ => Err(de::Error::custom("a mapping key must be text")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_has_a_place() {
        let text = "mapping: x\nfields:\n  total: 19.90\n  name: '\"SO-\" + $.id'\n  list:\n    - a\n    - 2\n";
        let root = parse(text).unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map[0].0.text, "mapping");
        assert_eq!((map[0].0.loc.line, map[0].0.loc.column), (1, 1));
        let fields = map[1].1.as_map().unwrap();
        assert_eq!(fields[0].0.text, "total");
        assert_eq!((fields[0].1.loc.line, fields[0].1.loc.column), (3, 10));
        assert!(matches!(&fields[0].1.value, Yaml::Number(n) if n == "19.90"));
        assert!(matches!(&fields[1].1.value, Yaml::String(s) if s == "\"SO-\" + $.id"));
        assert_eq!(&text[fields[1].1.loc.offset..fields[1].1.loc.offset + 1], "'");
        let Yaml::Seq(items) = &fields[2].1.value else { panic!() };
        assert_eq!(items[1].loc.line, 7);
    }

    #[test]
    fn yaml_1_2_scalars() {
        let root = parse("a: NO\nb: yes\nc: 02134\nd: true\non: 1\n").unwrap();
        let map = root.as_map().unwrap();
        assert!(matches!(&map[0].1.value, Yaml::String(s) if s == "NO"));
        assert!(matches!(&map[1].1.value, Yaml::String(s) if s == "yes"));
        assert!(matches!(&map[2].1.value, Yaml::String(s) if s == "02134"));
        assert!(matches!(&map[3].1.value, Yaml::Bool(true)));
        assert_eq!(map[4].0.text, "on");
    }

    #[test]
    fn syntax_errors_have_places() {
        let err = parse("a: [1, 2\nb: c").unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        assert!(parse("a: 1\na: 2").is_err());
    }
}
