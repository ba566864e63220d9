//! The raw spec: structs that mirror the YAML of a mapping file, the
//! tables of every key ([`keys`]), the located YAML tree ([`yaml`]), and
//! the decoder that fills the structs from the tree while collecting every
//! problem as a diagnostic ([`Decoder`], which other spec formats — the
//! pipeline file — decode with too).
//!
//! Nothing here knows what an expression means or whether a lookup file
//! exists: that is the compile step's job (`crate::mapping`). The structs
//! are dumb data with places; the runtime never sees them.

pub mod keys;
pub mod mapping;
pub mod yaml;

use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use yaml::{Key, Loc, Node, Yaml};

/// A value with the place it came from.
///
/// ```
/// use mapwright_engine::spec::Located;
///
/// let name = Located::new("orders".to_string(), Default::default());
/// assert_eq!(name.value, "orders");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub loc: Loc,
}

impl<T> Located<T> {
    /// `value`, written at `loc`.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{yaml::Loc, Located};
    ///
    /// let file = SourceFile::new("p.yaml", "state: out/state.db\n");
    /// let state = Located::new("out/state.db", Loc::in_file(&file, 7, 12));
    /// assert_eq!(state.loc.column, 8);
    /// ```
    pub fn new(value: T, loc: Loc) -> Located<T> {
        Located { value, loc }
    }
}

/// An expression as written in the YAML.
#[derive(Clone, Debug)]
pub(crate) struct ExprSrc {
    /// The expression text (the scalar's value).
    pub text: String,
    /// The scalar's place.
    pub loc: Loc,
}

/// Walks located YAML, collecting diagnostics instead of stopping: every
/// spec format (the mapping file here, the pipeline file in
/// `mapwright-pipeline`) is decoded with it, so problems read alike.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
/// use mapwright_engine::spec::keys::{Block, Key, Type};
/// use mapwright_engine::spec::yaml::parse_file;
/// use mapwright_engine::spec::{get, Decoder};
///
/// static ROOT: Block = Block::new("demo", "A demo file.", &[Key::new("name", Type::Text, "Its name.")]);
/// let file = SourceFile::new("demo.yaml", "name: x\nnmae: y\n");
/// let root = parse_file(&file)?;
/// let mut d = Decoder::new(&file);
/// let entries = d.map(&root, "a demo file").unwrap();
/// d.check_keys(entries, &ROOT, "in a demo file");
/// let name = get(entries, "name").and_then(|n| d.text(n, "`name:`")).unwrap();
/// assert_eq!(name.value, "x");
/// assert_eq!(d.diags[0].hint.as_deref(), Some("did you mean `name`?"));
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub struct Decoder<'f> {
    /// The file being decoded.
    pub file: &'f SourceFile,
    /// The problems found so far.
    pub diags: Vec<Diagnostic>,
}

impl<'f> Decoder<'f> {
    /// A decoder of `file` with no problems yet.
    ///
    /// ```
    /// let file = mapwright_engine::diagnostic::SourceFile::new("p.yaml", "");
    /// assert!(mapwright_engine::spec::Decoder::new(&file).diags.is_empty());
    /// ```
    pub fn new(file: &'f SourceFile) -> Decoder<'f> {
        Decoder { file, diags: Vec::new() }
    }

    /// Records a problem at `loc`; the returned diagnostic can take a hint.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    /// use mapwright_engine::spec::Decoder;
    ///
    /// let file = SourceFile::new("p.yaml", "poll: soon\n");
    /// let mut d = Decoder::new(&file);
    /// d.error(SpecCode::BadValue, Default::default(), "`poll: soon` is not a duration").hint = Some("write `30s`".into());
    /// assert_eq!(d.diags.len(), 1);
    /// ```
    pub fn error(&mut self, code: SpecCode, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::spec(self.file, code, loc, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    /// Records a problem at `loc` with what to do about it.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    /// use mapwright_engine::spec::Decoder;
    ///
    /// let file = SourceFile::new("p.yaml", "kind: htp\n");
    /// let mut d = Decoder::new(&file);
    /// d.hint(SpecCode::BadValue, Default::default(), "unknown kind `htp`", "did you mean `http`?");
    /// assert_eq!(d.diags[0].hint.as_deref(), Some("did you mean `http`?"));
    /// ```
    pub fn hint(&mut self, code: SpecCode, loc: Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::spec(self.file, code, loc, message).with_hint(hint));
    }

    /// The entries of a mapping node, or a diagnostic.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{yaml::parse_file, Decoder};
    ///
    /// let file = SourceFile::new("p.yaml", "- not a mapping\n");
    /// let root = parse_file(&file)?;
    /// let mut d = Decoder::new(&file);
    /// assert!(d.map(&root, "a pipeline file").is_none());
    /// assert_eq!(d.diags[0].message, "a pipeline file must be a mapping of keys, got a list");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Yaml::Map(m) => Some(m),
            other => {
                let kind = other.kind();
                self.hint(
                    SpecCode::WrongType,
                    node.loc,
                    format!("{what} must be a mapping of keys, got {kind}"),
                    "write it as indented `key: value` lines",
                );
                None
            }
        }
    }

    /// Reports keys that `block` does not have, each with the nearest
    /// valid key (or the list of them).
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{mapping::MAPPING, yaml::parse_file, Decoder};
    ///
    /// let file = SourceFile::new("m.yaml", "mapping: m\nfiltr: $.ok\n");
    /// let root = parse_file(&file)?;
    /// let mut d = Decoder::new(&file);
    /// d.check_keys(root.as_map().unwrap(), &MAPPING, "in a mapping file");
    /// assert_eq!(d.diags[0].message, "unknown key `filtr` in a mapping file");
    /// assert_eq!(d.diags[0].hint.as_deref(), Some("did you mean `filter`?"));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn check_keys(&mut self, entries: &[(Key, Node)], block: &keys::Block, context: &str) {
        let allowed: Vec<&str> = block.names().collect();
        self.check_names(entries, &allowed, context);
    }

    /// [`Decoder::check_keys`] for a block of a `kind:` list: `kind` is
    /// allowed too.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::keys::{Block, Key, Type};
    /// use mapwright_engine::spec::{yaml::parse_file, Decoder};
    ///
    /// static HTTP: Block = Block::new("sink_http", "An HTTP sink.", &[Key::new("url", Type::Text, "Where.")]);
    /// let file = SourceFile::new("p.yaml", "kind: http\nurl: x\n");
    /// let root = parse_file(&file)?;
    /// let mut d = Decoder::new(&file);
    /// d.check_kind_keys(root.as_map().unwrap(), &HTTP, "in a sink");
    /// assert!(d.diags.is_empty());
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn check_kind_keys(&mut self, entries: &[(Key, Node)], block: &keys::Block, context: &str) {
        let allowed: Vec<&str> = std::iter::once("kind").chain(block.names()).collect();
        self.check_names(entries, &allowed, context);
    }

    fn check_names(&mut self, entries: &[(Key, Node)], allowed: &[&str], context: &str) {
        for (k, _) in entries {
            if !allowed.contains(&k.text.as_str()) {
                let hint = match mapwright_dsl::nearest(&k.text, allowed.iter().copied()) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!("valid keys {context}: {}", allowed.join(", ")),
                };
                self.hint(SpecCode::UnknownKey, k.loc, format!("unknown key `{}` {context}", k.text), hint);
            }
        }
    }

    /// A scalar as text (a number or a boolean as written).
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{yaml::parse_file, Decoder};
    ///
    /// let file = SourceFile::new("p.yaml", "batch: 0500\n");
    /// let root = parse_file(&file)?;
    /// let mut d = Decoder::new(&file);
    /// assert_eq!(d.text(&root.as_map().unwrap()[0].1, "`batch:`").unwrap().value, "0500");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn text(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        match &node.value {
            Yaml::String(s) | Yaml::Number(s) => Some(Located::new(s.clone(), node.loc)),
            Yaml::Bool(b) => Some(Located::new(b.to_string(), node.loc)),
            other => {
                let kind = other.kind();
                self.error(SpecCode::WrongType, node.loc, format!("{what} must be text, got {kind}"));
                None
            }
        }
    }

    /// A boolean.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{yaml::parse_file, Decoder};
    ///
    /// let file = SourceFile::new("p.yaml", "watch: yes\n");
    /// let root = parse_file(&file)?;
    /// let mut d = Decoder::new(&file);
    /// assert_eq!(d.boolean(&root.as_map().unwrap()[0].1, "`watch:`"), None, "YAML 1.2: `yes` is text");
    /// assert!(d.diags[0].message.contains("must be true or false"));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Yaml::Bool(b) => Some(*b),
            other => {
                let kind = other.kind();
                self.hint(
                    SpecCode::WrongType,
                    node.loc,
                    format!("{what} must be true or false, got {kind}"),
                    "write true or false",
                );
                None
            }
        }
    }

    /// An expression of the language in `scope`, compiled; a problem in it
    /// is a diagnostic placed in the file under the offending part (through
    /// quotes, escapes and block indentation). For spec formats built on
    /// the engine that hold expressions (a pipeline's routes).
    ///
    /// ```
    /// use mapwright_dsl::Scope;
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::spec::{yaml::parse_file, Decoder};
    ///
    /// let file = SourceFile::new("p.yaml", "when: out.country != \"US\"\nbad: uper(out.sku)\n");
    /// let root = parse_file(&file)?;
    /// let entries = root.as_map().unwrap();
    /// let mut d = Decoder::new(&file);
    /// assert!(d.program(&entries[0].1, "`when:`", &Scope::default()).is_some());
    /// assert!(d.program(&entries[1].1, "`bad:`", &Scope::default()).is_none());
    /// assert_eq!((d.diags[0].line, d.diags[0].column), (2, 6));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn program(&mut self, node: &Node, what: &str, scope: &mapwright_dsl::Scope) -> Option<mapwright_dsl::Program> {
        let src = self.expr(node, what)?;
        match mapwright_dsl::Program::compile(&src.text, scope) {
            Ok(p) => Some(p),
            Err(e) => {
                let place = crate::diagnostic::ExprPlace::new(self.file, src.loc, &src.text);
                self.diags.push(place.diagnostic(self.file, &e));
                None
            }
        }
    }

    /// An expression: any scalar, read as expression text.
    pub(crate) fn expr(&mut self, node: &Node, what: &str) -> Option<ExprSrc> {
        match node.scalar_text() {
            Some(text) => Some(ExprSrc { text, loc: node.loc }),
            None => {
                let kind = node.value.kind();
                self.hint(
                    SpecCode::WrongType,
                    node.loc,
                    format!("{what} must be an expression, got {kind}"),
                    "write the expression on one line, or as a block after `|`; quote it if it starts with a YAML symbol like [ { ' \" * & !",
                );
                None
            }
        }
    }
}

/// The value under `key` in mapping entries.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
/// use mapwright_engine::spec::{get, yaml::parse_file};
///
/// let root = parse_file(&SourceFile::new("p.yaml", "watch: true\n"))?;
/// assert!(get(root.as_map().unwrap(), "watch").is_some());
/// assert!(get(root.as_map().unwrap(), "state").is_none());
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
pub fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
}

/// The key entry named `key`.
pub(crate) fn key_of<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Key> {
    entries.iter().find(|(k, _)| k.text == key).map(|(k, _)| k)
}
