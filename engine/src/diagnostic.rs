//! Located diagnostics for spec files, and their rendering.
//!
//! A [`Diagnostic`] names a stable code, the file, the line and column, the
//! byte range of the offending text and a hint. Rendering goes through
//! miette's graphical handler, so the user sees the source line with a
//! caret under the problem. Expression errors from the DSL arrive with spans
//! relative to the expression text; `ExprPlace` maps them back into the
//! YAML file, through quotes, escapes and block indentation.
//!
//! Codes: `E01xx` come from the expression language
//! ([`mapwright_dsl::Code`]); `E02xx` are the spec files', listed in
//! [`SpecCode`]. Codes are never reused.

use std::fmt;
use std::sync::Arc;

use mapwright_dsl::CompileError;

use crate::spec::yaml::Loc;

/// Stable codes of spec-file problems, one per kind of problem, never
/// reused.
///
/// ```
/// use mapwright_engine::diagnostic::SpecCode;
///
/// assert_eq!(SpecCode::UnknownKey.as_str(), "E0202");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecCode {
    /// E0201: the YAML does not parse.
    YamlSyntax,
    /// E0202: a key that is not part of the format.
    UnknownKey,
    /// E0203: a required key is missing.
    MissingKey,
    /// E0204: a value of the wrong shape (a list where a mapping belongs…).
    WrongType,
    /// E0205: a key this build does not support (a feature compiled out).
    NotSupported,
    /// E0206: a file that cannot be read.
    MissingFile,
    /// E0207: a lookup file whose content is invalid.
    BadLookupFile,
    /// E0208: an output field defined twice or clashing with another.
    DuplicateField,
    /// E0209: a value outside the allowed set.
    BadValue,
    /// E0210: an environment variable that is not set.
    MissingEnv,
    /// E0211: keys that cannot be used together.
    ConflictingKeys,
    /// E0212: a source-of-truth rule that does not hold together.
    BadTruthRule,
    /// E0213: an invalid validation rule or contract.
    BadCheck,
    /// E0214: a hook script problem.
    BadHook,
    /// E0215: a pipeline endpoint problem.
    BadEndpoint,
}

impl SpecCode {
    /// The code as printed: `E0202`.
    ///
    /// ```
    /// assert_eq!(mapwright_engine::diagnostic::SpecCode::MissingEnv.as_str(), "E0210");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SpecCode::YamlSyntax => "E0201",
            SpecCode::UnknownKey => "E0202",
            SpecCode::MissingKey => "E0203",
            SpecCode::WrongType => "E0204",
            SpecCode::NotSupported => "E0205",
            SpecCode::MissingFile => "E0206",
            SpecCode::BadLookupFile => "E0207",
            SpecCode::DuplicateField => "E0208",
            SpecCode::BadValue => "E0209",
            SpecCode::MissingEnv => "E0210",
            SpecCode::ConflictingKeys => "E0211",
            SpecCode::BadTruthRule => "E0212",
            SpecCode::BadCheck => "E0213",
            SpecCode::BadHook => "E0214",
            SpecCode::BadEndpoint => "E0215",
        }
    }
}

/// A source file: its display name and text, shared by its diagnostics.
///
/// ```
/// use mapwright_engine::diagnostic::SourceFile;
///
/// let file = SourceFile::new("orders.yaml", "mapping: orders\nfields:\n");
/// assert_eq!(&*file.name, "orders.yaml");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SourceFile {
    /// The name shown to the user (the path as given).
    pub name: Arc<str>,
    /// The file's text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A file with `name` and `text`.
    ///
    /// ```
    /// let file = mapwright_engine::diagnostic::SourceFile::new("m.yaml", "mapping: m\n");
    /// assert_eq!(&*file.text, "mapping: m\n");
    /// ```
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile { name: name.into(), text: text.into() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    ///
    /// ```
    /// let file = mapwright_engine::diagnostic::SourceFile::new("m.yaml", "a: 1\nprix: é1\n");
    /// assert_eq!(file.line_col(0), (1, 1));
    /// assert_eq!(file.line_col(13), (2, 8), "columns count characters, not bytes");
    /// ```
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let mut off = offset.min(self.text.len());
        while off > 0 && !self.text.is_char_boundary(off) {
            off -= 1;
        }
        let before = &self.text[..off];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line as u32, col as u32)
    }
}

/// One problem in a spec file: a stable code, the place, what is wrong
/// and what to do.
///
/// ```
/// use mapwright_engine::Mapping;
///
/// let err = Mapping::from_yaml("mapping: m\nfields:\n  email: lowr($.email)\n", "m.yaml").unwrap_err();
/// let d = &err.diagnostics()[0];
/// assert_eq!((d.code, d.line, d.column), ("E0102", 3, 10));
/// assert_eq!(d.hint.as_deref(), Some("did you mean `lower`?"));
/// assert_eq!(d.to_string(), "m.yaml:3:10: error[E0102]: unknown function `lowr` (hint: did you mean `lower`?)");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The stable code (`E0202`).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The file.
    pub file: SourceFile,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Byte offset of the offending text.
    pub offset: usize,
    /// Byte length of the offending text (at least one character is marked).
    pub len: usize,
    /// A short label under the caret.
    pub label: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a byte range of `file`.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::SourceFile;
    /// use mapwright_engine::Diagnostic;
    ///
    /// let file = SourceFile::new("p.yaml", "pipeline: p\nsink: { kind: htp }\n");
    /// let d = Diagnostic::at(&file, "E0209", 26, 3, "unknown sink kind `htp`");
    /// assert_eq!((d.line, d.column), (2, 15));
    /// ```
    pub fn at(
        file: &SourceFile,
        code: &'static str,
        offset: usize,
        len: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = file.line_col(offset);
        Diagnostic {
            code,
            message: message.into(),
            hint: None,
            file: file.clone(),
            line,
            column,
            offset: offset.min(file.text.len()),
            len,
            label: None,
        }
    }

    /// A spec diagnostic at a YAML location, with the code's text.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    /// use mapwright_engine::spec::yaml::Loc;
    /// use mapwright_engine::Diagnostic;
    ///
    /// let file = SourceFile::new("p.yaml", "pipeline: p\n");
    /// let d = Diagnostic::spec(&file, SpecCode::MissingKey, Loc::in_file(&file, 0, 8), "`mapping:` is missing");
    /// assert_eq!(d.code, "E0203");
    /// ```
    pub fn spec(file: &SourceFile, code: SpecCode, loc: Loc, message: impl Into<String>) -> Diagnostic {
        let len = if loc.len > 0 { loc.len } else { token_len(&file.text, loc.offset) };
        Diagnostic::at(file, code.as_str(), loc.offset, len, message)
    }

    /// A diagnostic for the whole file (no place inside it).
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    ///
    /// let d = mapwright_engine::Diagnostic::file_level(&SourceFile::new("m.yaml", ""), SpecCode::MissingKey, "empty file");
    /// assert_eq!((d.line, d.column), (1, 1));
    /// ```
    pub fn file_level(file: &SourceFile, code: SpecCode, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(file, code.as_str(), 0, 0, message)
    }

    /// Adds a hint: what to do about it.
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    ///
    /// let d = mapwright_engine::Diagnostic::file_level(&SourceFile::new("m.yaml", ""), SpecCode::MissingKey, "no name")
    ///     .with_hint("add `mapping: orders`");
    /// assert_eq!(d.hint.as_deref(), Some("add `mapping: orders`"));
    /// ```
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a label under the caret (default: "here").
    ///
    /// ```
    /// use mapwright_engine::diagnostic::{SourceFile, SpecCode};
    /// use mapwright_engine::spec::yaml::Loc;
    ///
    /// let file = SourceFile::new("m.yaml", "a: b\n");
    /// let d = mapwright_engine::Diagnostic::spec(&file, SpecCode::BadValue, Loc::in_file(&file, 3, 1), "bad").with_label("this value");
    /// assert!(d.render().contains("this value"));
    /// ```
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Renders the diagnostic with the source line and a caret, without colour.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  a: $.a +\n", "m.yaml").unwrap_err();
    /// let text = err.diagnostics()[0].render();
    /// assert!(text.contains("m.yaml:3:") && text.contains("a: $.a +"), "{text}");
    /// ```
    pub fn render(&self) -> String {
        self.render_with(false)
    }

    /// Renders the diagnostic, with ANSI colours when `color` is true.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  a: $.a +\n", "m.yaml").unwrap_err();
    /// let d = &err.diagnostics()[0];
    /// assert!(d.render_with(true).contains('\u{1b}'));
    /// assert!(!d.render_with(false).contains('\u{1b}'));
    /// ```
    pub fn render_with(&self, color: bool) -> String {
        let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
        let handler =
            miette::GraphicalReportHandler::new_themed(theme).with_context_lines(1).with_width(100).with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, &View(self)).is_err() {
            return format!("{self}\n");
        }
        out
    }
}

fn token_len(text: &str, offset: usize) -> usize {
    let rest = text.get(offset..).unwrap_or("");
    let n =
        rest.char_indices().find(|(_, c)| c.is_whitespace() || *c == ':' || *c == ',').map_or(rest.len(), |(i, _)| i);
    n.max(rest.chars().next().map_or(0, char::len_utf8))
}

impl fmt::Display for Diagnostic {
    /// One line: `file:line:column: error[E0102]: message (hint)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error[{}]: {}", self.file.name, self.line, self.column, self.code, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

struct View<'a>(&'a Diagnostic);

impl fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

impl fmt::Display for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for View<'_> {}

impl miette::Diagnostic for View<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.0.hint.as_ref().map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.0.file)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let d = self.0;
        let len = d.len.max(1).min(d.file.text.len().saturating_sub(d.offset).max(1));
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_primary_with_span(
            Some(d.label.clone().unwrap_or_else(|| "here".to_string())),
            miette::SourceSpan::new(d.offset.into(), len),
        ))))
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Where an expression sits in its YAML file, to map expression spans to
/// file positions.
#[derive(Clone, Debug)]
pub(crate) struct ExprPlace {
    /// The YAML scalar's location.
    pub loc: Loc,
    /// File byte offset of each character of the expression text, plus one
    /// past the end.
    offsets: Vec<usize>,
}

impl ExprPlace {
    /// Aligns the expression `text` (the scalar's value) with its source in
    /// `file` at `loc`. Plain, quoted and block scalars are aligned
    /// character by character, skipping quotes, escape backslashes and
    /// indentation; where alignment fails, the scalar's start is used.
    pub fn new(file: &SourceFile, loc: Loc, text: &str) -> ExprPlace {
        let src = file.text.as_bytes();
        let mut pos = loc.offset.min(src.len());
        let end = if loc.len > 0 { (loc.offset + loc.len).min(src.len()) } else { src.len() };
        let mut offsets = vec![pos; text.len() + 1];
        for (i, c) in text.char_indices() {
            let mut buf = [0u8; 4];
            let want = c.encode_utf8(&mut buf).as_bytes();
            // Look a few bytes ahead for the character (past quotes,
            // backslashes, indentation); stay put when it is not there.
            let found = (pos..end.min(pos + 48)).find(|&p| src[p..].starts_with(want));
            let base = found.unwrap_or(pos);
            for (k, slot) in offsets[i..i + want.len()].iter_mut().enumerate() {
                *slot = base + if found.is_some() { k } else { 0 };
            }
            if let Some(p) = found {
                pos = p + want.len();
            }
        }
        offsets[text.len()] = pos;
        ExprPlace { loc, offsets }
    }

    /// The file byte range of an expression span.
    pub fn file_range(&self, start: usize, end: usize) -> (usize, usize) {
        let at = |i: usize| self.offsets.get(i).copied().unwrap_or(*self.offsets.last().unwrap_or(&self.loc.offset));
        let s = at(start);
        let e = if end > start { at(end - 1) + 1 } else { s };
        (s, e.max(s))
    }

    /// A diagnostic for a compile error of this expression.
    pub fn diagnostic(&self, file: &SourceFile, err: &CompileError) -> Diagnostic {
        let (s, e) = self.file_range(err.span.start, err.span.end);
        let mut d = Diagnostic::at(file, err.code.as_str(), s, e - s, err.message.clone());
        if let Some(h) = &err.hint {
            d = d.with_hint(h.clone());
        }
        d
    }
}

/// All the problems found while loading a spec file.
///
/// ```
/// let err = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  a: uper($.a)\n  b: lowr($.b)\n", "m.yaml").unwrap_err();
/// let mapwright_engine::Error::Spec(all) = &err else { panic!() };
/// assert_eq!(all.0.len(), 2, "every problem in one run");
/// ```
#[derive(Clone, Debug)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Renders every diagnostic, separated by blank lines.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  a: uper($.a)\n  b: lowr($.b)\n", "m.yaml").unwrap_err();
    /// let mapwright_engine::Error::Spec(all) = &err else { panic!() };
    /// assert_eq!(all.render(false).matches("m.yaml:").count(), 2);
    /// ```
    pub fn render(&self, color: bool) -> String {
        self.0.iter().map(|d| d.render_with(color)).collect::<Vec<_>>().join("\n")
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
