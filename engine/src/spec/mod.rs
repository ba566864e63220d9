//! The raw spec: structs that mirror the YAML of a mapping file, and the
//! decoder that fills them from the located tree while collecting every
//! problem as a diagnostic.
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
#[derive(Clone, Debug)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub loc: Loc,
}

/// An expression as written in the YAML.
#[derive(Clone, Debug)]
pub struct ExprSrc {
    /// The expression text (the scalar's value).
    pub text: String,
    /// The scalar's place.
    pub loc: Loc,
}

/// Walks located YAML, collecting diagnostics instead of stopping: every
/// spec format (the mapping file here, the pipeline file in
/// `mapwright-pipeline`) is decoded with it, so problems read alike.
pub struct Decoder<'f> {
    /// The file being decoded.
    pub file: &'f SourceFile,
    /// The problems found so far.
    pub diags: Vec<Diagnostic>,
}

impl<'f> Decoder<'f> {
    /// A decoder of `file` with no problems yet.
    pub fn new(file: &'f SourceFile) -> Decoder<'f> {
        Decoder { file, diags: Vec::new() }
    }

    /// Records a problem at `loc`; the returned diagnostic can take a hint.
    pub fn error(&mut self, code: SpecCode, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::spec(self.file, code, loc, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    /// Records a problem at `loc` with what to do about it.
    pub fn hint(&mut self, code: SpecCode, loc: Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::spec(self.file, code, loc, message).with_hint(hint));
    }

    /// The entries of a mapping node, or a diagnostic.
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
    pub fn check_keys(&mut self, entries: &[(Key, Node)], block: &keys::Block, context: &str) {
        let allowed: Vec<&str> = block.names().collect();
        self.check_names(entries, &allowed, context);
    }

    /// [`Decoder::check_keys`] for a block of a `kind:` list: `kind` is
    /// allowed too.
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

    /// A scalar as text.
    pub fn text(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        match &node.value {
            Yaml::String(s) | Yaml::Number(s) => Some(Located { value: s.clone(), loc: node.loc }),
            Yaml::Bool(b) => Some(Located { value: b.to_string(), loc: node.loc }),
            other => {
                let kind = other.kind();
                self.error(SpecCode::WrongType, node.loc, format!("{what} must be text, got {kind}"));
                None
            }
        }
    }

    /// A boolean.
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

    /// An expression: any scalar, read as expression text.
    pub fn expr(&mut self, node: &Node, what: &str) -> Option<ExprSrc> {
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
pub fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
}

/// The key entry named `key`.
pub fn key_of<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Key> {
    entries.iter().find(|(k, _)| k.text == key).map(|(k, _)| k)
}
