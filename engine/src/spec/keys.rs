//! The tables of spec keys: every key of every spec format, written once,
//! as data.
//!
//! Like the builtin function table of the language, these tables are read
//! by everything that needs to know the keys of a format: the decoders
//! (unknown keys with the nearest valid one, missing required keys with
//! what to write), [`json_schema`] (`mapwright schema`), and
//! [`reference_markdown`] (`mapwright doc --keys`, and the README's
//! reference, which a test keeps equal to it). A key added to a block
//! appears in all of them; there is no second list to forget.
//!
//! A [`Block`] is one YAML mapping of a format (a mapping file's top level,
//! a field in long form, a `kind: http` sink). Its [`Key`]s have a
//! [`Type`], which says what the value is for the schema and the docs;
//! decoding the value itself stays with the decoder of the block, which
//! knows what the value means. Blocks are `static` so that they can refer
//! to each other and to themselves (a field holds `fields:` of fields).

use mapwright_dsl::{Map, Value};

/// One YAML mapping of a spec format and the keys it accepts.
///
/// ```
/// use mapwright_engine::spec::keys::{Block, Key, Type};
///
/// static RETRY: Block = Block::new("retry", "Retries.", &[
///     Key::new("attempts", Type::Count { min: 1 }, "Tries in all (default 6)."),
///     Key::new("backoff", Type::Duration, "The first wait (default 200ms)."),
/// ]);
/// assert!(RETRY.names().eq(["attempts", "backoff"]));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Block {
    /// The block's name in the generated schema (`$defs`) and docs: a
    /// word such as `field`, `lookup` or `sink_http`.
    pub name: &'static str,
    /// What the block is, for people.
    pub doc: &'static str,
    /// Its keys, in the order docs show them.
    pub keys: &'static [Key],
}

/// One key of a block.
///
/// ```
/// use mapwright_engine::spec::mapping::MAPPING;
///
/// let key = MAPPING.key("mapping").unwrap();
/// assert!(key.required && !key.doc.is_empty());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Key {
    /// The key as written in YAML.
    pub name: &'static str,
    /// What its value is.
    pub ty: Type,
    /// Whether the block needs it.
    pub required: bool,
    /// What it means, for people (defaults included).
    pub doc: &'static str,
    /// What to write, shown when a required key is missing: `the address
    /// to listen on: ` + "`listen: 127.0.0.1:8088`". Empty for optional keys.
    pub hint: &'static str,
}

/// What a key's value is: for the schema and the docs.
///
/// ```
/// use mapwright_engine::spec::keys::{Block, Key, Type, json_schema};
///
/// static ROOT: Block = Block::new("demo", "A demo.", &[Key::new("mode", Type::Words(&["fast", "safe"]), "How.")]);
/// assert!(json_schema(&ROOT, "demo", "").to_json().contains(r#""enum":["fast","safe"]"#));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Type {
    /// Text.
    Text,
    /// `true` or `false`.
    Bool,
    /// A whole number of at least `min`.
    Count {
        /// The smallest value allowed.
        min: u32,
    },
    /// A number.
    Number,
    /// A number of zero or more.
    NonNegative,
    /// A duration: a whole number and a unit (`200ms`, `30s`, `5m`, `1h`).
    Duration,
    /// A size: bytes, or a number and a unit (`512KiB`, `10MiB`, `10MB`).
    Size,
    /// An expression of the mapping language (a number, `true`, `false` or
    /// `null` is one too).
    Expr,
    /// One of these words.
    Words(&'static [&'static str]),
    /// A number, or a timestamp as text (`2020-01-01`).
    Bound,
    /// Any value, taken as a literal.
    Any,
    /// A list of values of a type.
    List(&'static Type),
    /// A mapping with keys of the user's choosing (field names, header
    /// names, source names), each holding a value of a type.
    Dict(&'static Type),
    /// A nested block.
    Block(&'static Block),
    /// Any one of these types.
    Either(&'static [Type]),
    /// One block per `kind:` (the sources and sinks of a pipeline): the
    /// block whose name ends in `_<kind>` gives the other keys.
    Kinds(&'static [&'static Block]),
}

impl Key {
    /// An optional key.
    ///
    /// ```
    /// use mapwright_engine::spec::keys::{Key, Type};
    ///
    /// const POLL: Key = Key::new("poll", Type::Duration, "How often to look (default 1s).");
    /// assert!(!POLL.required && POLL.hint.is_empty());
    /// ```
    pub const fn new(name: &'static str, ty: Type, doc: &'static str) -> Key {
        Key { name, ty, required: false, doc, hint: "" }
    }

    /// The key, required; `hint` says what to write when it is missing.
    ///
    /// ```
    /// use mapwright_engine::spec::keys::{Key, Type};
    ///
    /// const LISTEN: Key = Key::new("listen", Type::Text, "Where.").required("`listen: 127.0.0.1:8088`");
    /// assert!(LISTEN.required);
    /// ```
    pub const fn required(self, hint: &'static str) -> Key {
        Key { required: true, hint, ..self }
    }
}

impl Block {
    /// A block named `name` (its name in the schema's `$defs` and in the
    /// docs; a block of a `kind:` list is named `<role>_<kind>`).
    ///
    /// ```
    /// use mapwright_engine::spec::keys::Block;
    ///
    /// static STDOUT: Block = Block::new("sink_stdout", "Standard output.", &[]);
    /// assert_eq!(STDOUT.kind(), "stdout");
    /// ```
    pub const fn new(name: &'static str, doc: &'static str, keys: &'static [Key]) -> Block {
        Block { name, doc, keys }
    }

    /// The names of its keys, in order.
    ///
    /// ```
    /// let names: Vec<&str> = mapwright_engine::spec::mapping::MAPPING.names().take(2).collect();
    /// assert_eq!(names, ["mapping", "version"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys.iter().map(|k| k.name)
    }

    /// The key called `name`.
    ///
    /// ```
    /// use mapwright_engine::spec::mapping::MAPPING;
    ///
    /// assert_eq!(MAPPING.key("fields").map(|k| k.required), Some(true));
    /// assert!(MAPPING.key("feilds").is_none());
    /// ```
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The names of its required keys, in order.
    ///
    /// ```
    /// assert!(mapwright_engine::spec::mapping::MAPPING.required().eq(["mapping", "fields"]));
    /// ```
    pub fn required(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys.iter().filter(|k| k.required).map(|k| k.name)
    }

    /// Every block reachable from this one through its keys' types, itself
    /// first, each once, in the order first reached.
    ///
    /// ```
    /// let names: Vec<&str> = mapwright_engine::spec::mapping::MAPPING.reachable().iter().map(|b| b.name).collect();
    /// assert_eq!(names, ["mapping", "lookup", "source", "hooks", "limits", "field", "check", "rule", "test"]);
    /// ```
    pub fn reachable(&'static self) -> Vec<&'static Block> {
        let mut order = Vec::new();
        collect(self, &mut order);
        order
    }

    /// For a block of a [`Type::Kinds`] list: the `kind:` it stands for
    /// (`sink_http` → `http`).
    ///
    /// ```
    /// use mapwright_engine::spec::keys::Block;
    ///
    /// static HTTP: Block = Block::new("sink_http", "An HTTP sink.", &[]);
    /// assert_eq!(HTTP.kind(), "http");
    /// ```
    pub fn kind(&self) -> &'static str {
        self.name.rsplit_once('_').map_or(self.name, |(_, k)| k)
    }
}

/// Builds `[name; N]` from `(name, value)` pairs at compile time, so that a
/// word list and the values its words stand for are written once.
///
/// ```
/// use mapwright_engine::spec::keys::names;
///
/// const PAIRS: [(&str, bool); 2] = [("yes", true), ("no", false)];
/// const WORDS: [&str; 2] = names(&PAIRS);
/// assert_eq!(WORDS, ["yes", "no"]);
/// ```
pub const fn names<T: Copy, const N: usize>(pairs: &[(&'static str, T); N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = pairs[i].0;
        i += 1;
    }
    out
}

/// Looks a word up in `(name, value)` pairs.
///
/// ```
/// use mapwright_engine::spec::keys::word;
///
/// const NULLS: [(&str, bool); 2] = [("keep", false), ("omit", true)];
/// assert_eq!(word(&NULLS, "omit"), Some(true));
/// assert_eq!(word(&NULLS, "drop"), None);
/// ```
pub fn word<T: Copy>(pairs: &[(&str, T)], text: &str) -> Option<T> {
    pairs.iter().find(|(n, _)| *n == text).map(|(_, v)| *v)
}

/// `a`, `b` or `c`, with backquotes.
///
/// ```
/// assert_eq!(mapwright_engine::spec::keys::or_list(&["report", "error", "ignore"]), "`report`, `error` or `ignore`");
/// ```
pub fn or_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

// ---------------------------------------------------------------------------
// JSON Schema

/// The JSON Schema (draft 2020-12) of a format whose top level is `root`:
/// every block a closed object (`additionalProperties: false`) in `$defs`,
/// with each key's description, type and the block's required keys. The
/// output is deterministic: definitions in the order first reached.
///
/// ```
/// use mapwright_engine::spec::keys::{json_schema, Block, Key, Type};
///
/// static ROOT: Block = Block::new("demo", "A demo file.", &[Key::new("name", Type::Text, "Its name.").required("`name: x`")]);
/// let schema = json_schema(&ROOT, "demo", "A demo file.");
/// assert!(schema.to_json().contains(r#""required":["name"]"#));
/// ```
pub fn json_schema(root: &'static Block, title: &str, description: &str) -> Value {
    let mut defs = Defs::default();
    let body = defs.block_body(root);
    let mut m = Map::new();
    m.insert("$schema", s("https://json-schema.org/draft/2020-12/schema"));
    m.insert("title", s(title));
    m.insert("description", s(description));
    if let Value::Object(body) = body {
        for (k, v) in body.iter() {
            m.insert(k.clone(), v.clone());
        }
    }
    let mut out = Map::new();
    for (name, schema) in defs.done {
        out.insert(name, schema);
    }
    m.insert("$defs", Value::object(out));
    Value::object(m)
}

#[derive(Default)]
struct Defs {
    /// Definitions made or being made, by name.
    names: Vec<&'static str>,
    done: Vec<(&'static str, Value)>,
}

impl Defs {
    fn reference(&mut self, name: &'static str, make: impl FnOnce(&mut Defs) -> Value) -> Value {
        if !self.names.contains(&name) {
            self.names.push(name);
            let slot = self.done.len();
            self.done.push((name, Value::Null));
            let schema = make(self);
            self.done[slot].1 = schema;
        }
        obj([("$ref", s(&format!("#/$defs/{name}")))])
    }

    fn block(&mut self, b: &'static Block) -> Value {
        self.reference(b.name, |d| {
            let body = d.block_body(b);
            describe(b.doc, body)
        })
    }

    fn block_body(&mut self, b: &'static Block) -> Value {
        self.closed(b, None)
    }

    /// A closed object of the block's keys; with `kind`, a `kind:` const first.
    fn closed(&mut self, b: &'static Block, kind: Option<&str>) -> Value {
        let mut props = Map::new();
        let mut required: Vec<&str> = Vec::new();
        if let Some(kind) = kind {
            props.insert("kind", obj([("const", s(kind))]));
            required.push("kind");
        }
        for k in b.keys {
            let ty = self.ty(&k.ty);
            props.insert(k.name, describe(k.doc, ty));
        }
        required.extend(b.required());
        let mut m = Map::new();
        m.insert("type", s("object"));
        if !required.is_empty() {
            m.insert("required", Value::array(required.iter().map(|r| s(r)).collect()));
        }
        m.insert("properties", Value::object(props));
        m.insert("additionalProperties", Value::Bool(false));
        Value::object(m)
    }

    fn ty(&mut self, t: &'static Type) -> Value {
        match t {
            Type::Text => typed("string"),
            Type::Bool => typed("boolean"),
            Type::Count { min } => obj([("type", s("integer")), ("minimum", int(i64::from(*min)))]),
            Type::Number => typed("number"),
            Type::NonNegative => obj([("type", s("number")), ("minimum", int(0))]),
            Type::Duration => self.reference("duration", |_| {
                describe(
                    "A duration: a whole number and a unit (`200ms`, `30s`, `5m`, `1h`).",
                    obj([("type", s("string")), ("pattern", s("^[0-9]+(ms|s|m|h)$"))]),
                )
            }),
            Type::Size => obj([("type", Value::array(vec![s("integer"), s("string")]))]),
            Type::Expr => self.reference("expression", |_| {
                describe(
                    "An expression of the mapping language (`$.customer.email | trim | lower`). A number, true, false or null is an expression too.",
                    obj([("type", Value::array(vec![s("string"), s("number"), s("boolean"), s("null")]))]),
                )
            }),
            Type::Words(words) => obj([("enum", Value::array(words.iter().map(|w| s(w)).collect()))]),
            Type::Bound => obj([("type", Value::array(vec![s("number"), s("string")]))]),
            Type::Any => obj([]),
            Type::List(item) => {
                let item = self.ty(item);
                obj([("type", s("array")), ("items", item)])
            }
            Type::Dict(value) => {
                let value = self.ty(value);
                obj([("type", s("object")), ("additionalProperties", value)])
            }
            Type::Block(b) => self.block(b),
            Type::Either(types) => {
                let any: Vec<Value> = types.iter().map(|t| self.ty(t)).collect();
                obj([("anyOf", Value::array(any))])
            }
            Type::Kinds(blocks) => {
                let one_of: Vec<Value> = blocks
                    .iter()
                    .map(|b| {
                        self.reference(b.name, |d| {
                            let body = d.closed(b, Some(b.kind()));
                            describe(b.doc, body)
                        })
                    })
                    .collect();
                obj([("oneOf", Value::array(one_of))])
            }
        }
    }
}

fn obj<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k, v);
    }
    Value::object(m)
}

fn s(text: &str) -> Value {
    Value::str(text)
}

fn int(n: i64) -> Value {
    Value::Number(mapwright_dsl::Number::Dec(n.into()))
}

fn typed(t: &str) -> Value {
    obj([("type", s(t))])
}

/// `schema` with a description in front (a `$ref` keeps its own siblings).
fn describe(text: &str, schema: Value) -> Value {
    let mut m = Map::new();
    m.insert("description", s(text));
    if let Value::Object(inner) = schema {
        for (k, v) in inner.iter() {
            if k.as_ref() != "description" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::object(m)
}

// ---------------------------------------------------------------------------
// Markdown reference

/// A Markdown reference of the blocks reachable from `roots`: a section
/// per block (`#### name`, its doc, a table of key, value, meaning),
/// required keys marked. Deterministic, for the README.
///
/// ```
/// use mapwright_engine::spec::keys::{reference_markdown, Block, Key, Type};
///
/// static ROOT: Block = Block::new("demo", "A demo file.", &[Key::new("poll", Type::Duration, "How often to look (default 1s).")]);
/// let md = reference_markdown(&[&ROOT]);
/// assert!(md.contains("| `poll` | duration | How often to look (default 1s). |"));
/// ```
pub fn reference_markdown(roots: &[&'static Block]) -> String {
    let mut order: Vec<&'static Block> = Vec::new();
    for r in roots {
        for b in r.reachable() {
            if !order.iter().any(|o| std::ptr::eq(*o, b)) {
                order.push(b);
            }
        }
    }
    let mut out = String::new();
    for b in order {
        out.push_str(&format!("#### `{}`\n\n{}\n\n", b.name, b.doc));
        if b.keys.is_empty() {
            out.push_str("No keys besides `kind`.\n\n");
            continue;
        }
        out.push_str("| key | value | meaning |\n|---|---|---|\n");
        for k in b.keys {
            let required = if k.required { " (required)" } else { "" };
            out.push_str(&format!("| `{}`{required} | {} | {} |\n", k.name, type_words(&k.ty), cell(k.doc)));
        }
        out.push('\n');
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn collect(b: &'static Block, order: &mut Vec<&'static Block>) {
    if order.iter().any(|o| std::ptr::eq(*o, b)) {
        return;
    }
    order.push(b);
    for k in b.keys {
        collect_type(&k.ty, order);
    }
}

fn collect_type(t: &'static Type, order: &mut Vec<&'static Block>) {
    match t {
        Type::Block(b) => collect(b, order),
        Type::List(t) | Type::Dict(t) => collect_type(t, order),
        Type::Either(ts) => ts.iter().for_each(|t| collect_type(t, order)),
        Type::Kinds(bs) => bs.iter().for_each(|b| collect(b, order)),
        _ => {}
    }
}

/// A type in words, for the reference.
fn type_words(t: &Type) -> String {
    match t {
        Type::Text => "text".into(),
        Type::Bool => "`true` or `false`".into(),
        Type::Count { min } => format!("whole number ≥ {min}"),
        Type::Number => "number".into(),
        Type::NonNegative => "number ≥ 0".into(),
        Type::Duration => "duration".into(),
        Type::Size => "size".into(),
        Type::Expr => "expression".into(),
        Type::Words(w) => cell(&or_list(w)),
        Type::Bound => "number or timestamp".into(),
        Type::Any => "any value".into(),
        Type::List(t) => format!("list of {}", type_words(t)),
        Type::Dict(t) => format!("map of name → {}", type_words(t)),
        Type::Block(b) => format!("[`{}`](#{})", b.name, b.name),
        Type::Either(ts) => ts.iter().map(type_words).collect::<Vec<_>>().join(" or "),
        Type::Kinds(bs) => {
            let kinds: Vec<String> = bs.iter().map(|b| format!("[`{}`](#{})", b.kind(), b.name)).collect();
            format!("`kind:` {}", kinds.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LEAF: Block = Block { name: "leaf", doc: "A leaf.", keys: &[Key::new("n", Type::Count { min: 1 }, "N.")] };
    static TREE: Block = Block {
        name: "tree",
        doc: "A tree.",
        keys: &[
            Key::new("name", Type::Text, "Its name.").required("`name: x`"),
            Key::new("children", Type::Dict(&Type::Block(&TREE)), "Subtrees."),
            Key::new("leaf", Type::Block(&LEAF), "A leaf."),
            Key::new("mode", Type::Words(&["a", "b"]), "A or b."),
        ],
    };

    #[test]
    fn a_self_referencing_block_is_defined_once() {
        let schema = json_schema(&TREE, "t", "d").to_json();
        assert_eq!(schema.matches(r#""tree":{"description":"A tree.""#).count(), 1, "one definition: {schema}");
        assert!(schema.contains(r##""additionalProperties":{"$ref":"#/$defs/tree"}"##), "{schema}");
        assert!(schema.contains(r#""leaf":{"description":"A leaf.","type":"object""#), "{schema}");
        assert!(schema.contains(r#""required":["name"]"#), "{schema}");
        assert!(schema.contains(r#""additionalProperties":false"#), "{schema}");
    }

    #[test]
    fn the_reference_lists_every_block_once() {
        let md = reference_markdown(&[&TREE, &LEAF]);
        assert_eq!(md.matches("#### `tree`").count(), 1);
        assert_eq!(md.matches("#### `leaf`").count(), 1);
        assert!(md.contains("| `name` (required) | text | Its name. |"), "{md}");
        assert!(md.contains("| `mode` | `a` or `b` | A or b. |"), "{md}");
        assert!(md.contains("map of name → [`tree`](#tree)"), "{md}");
    }

    #[test]
    fn word_lists() {
        const PAIRS: [(&str, u8); 3] = [("x", 1), ("y", 2), ("z", 3)];
        assert_eq!(names(&PAIRS), ["x", "y", "z"]);
        assert_eq!(word(&PAIRS, "y"), Some(2));
        assert_eq!(word(&PAIRS, "w"), None);
        assert_eq!(or_list(&["a"]), "`a`");
        assert_eq!(or_list(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
