//! The raw mapping file, decoded from located YAML, and its key tables:
//! [`MAPPING`] is the top level, and every block of the format is
//! reachable from it (a field, a check, a lookup, `hooks:`, a test…).

use super::keys::{Block, Key, Type, names};
use super::yaml::{self, Loc, Node, Yaml};
use super::{Decoder, ExprSrc, Located, get, key_of};
use crate::diagnostic::SpecCode;
use crate::mapping::LOOKUP_FORMATS;
use crate::truth::ON_CONFLICT;
use crate::validate::{SEVERITIES, TYPE_NAMES};

// ---------------------------------------------------------------------------
// The key tables (see `super::keys`): what the decoder below accepts, what
// `mapwright schema mapping` and the README reference describe.

/// The top level of a mapping file, and through it every block of the
/// format: the table the decoder checks keys against.
///
/// ```
/// use mapwright_engine::spec::mapping::MAPPING;
///
/// assert!(MAPPING.required().eq(["mapping", "fields"]));
/// assert!(MAPPING.key("filter").is_some());
/// ```
pub static MAPPING: Block = Block {
    name: "mapping",
    doc: "A mapwright mapping file: turns one input record (or one record per source, joined by key) into one output record.",
    keys: &[
        Key::new("mapping", Type::Text, "The mapping's name, unique in a project; written into dead letters.")
            .required("add a first line such as `mapping: shopify-order-to-erp`"),
        Key::new(
            "version",
            Type::Either(&[Type::Text, Type::Number]),
            "The mapping's version, written into dead letters and lineage.",
        ),
        Key::new("description", Type::Text, "What the mapping does, for people."),
        Key::new("key", Type::Expr, "The record's identity (idempotency, duplicates, joins, lineage)."),
        Key::new("filter", Type::Expr, "Records for which this is false are dropped on purpose (and counted)."),
        Key::new(
            "nulls",
            Type::Words(&NULLS_WORDS),
            "`keep` (default): null fields are written; `omit`: they are left out.",
        ),
        Key::new(
            "lookups",
            Type::Dict(&Type::Block(&LOOKUP)),
            "Lookup tables by name, used as `lookup(\"name\", key)`.",
        ),
        Key::new(
            "sources",
            Type::Dict(&Type::Either(&[Type::Expr, Type::Block(&SOURCE)])),
            "The named sources of a multi-source mapping, joined by key; `$name` reads a source's record. Each is its join key expression, or a block with `key:` and `updated_at:`.",
        ),
        Key::new("prefer", PREFER, "Default source precedence for every multi-source field."),
        Key::new(
            "hooks",
            Type::Block(&HOOKS),
            "Rhai hooks: a script with functions callable from expressions, and optional before/after hooks.",
        ),
        Key::new(
            "fields",
            Type::Dict(&FIELD_VALUE),
            "The output fields, in output order. A dotted name (`customer.email`) builds a nested object.",
        )
        .required("add `fields:` with one output field per line, such as `order_id: $.id`"),
        Key::new(
            "validate",
            Type::List(&Type::Block(&RULE)),
            "Rules about the whole output record, checked after the fields.",
        ),
        Key::new("contract", Type::Text, "A JSON Schema file (relative to the mapping) every output must satisfy."),
        Key::new(
            "tests",
            Type::List(&Type::Block(&TEST)),
            "Fixture tests for `mapwright test`: an input (or one per source) and the expected output or error.",
        ),
    ],
};

/// `prefer:`: a list of sources, one source, or `latest`.
const PREFER: Type = Type::Either(&[Type::Words(&["latest"]), Type::Text, Type::List(&Type::Text)]);

/// What an output field is: an expression (short form) or a block (long form).
pub(crate) static FIELD_VALUE: Type = Type::Either(&[Type::Expr, Type::Block(&FIELD)]);

/// An output field in long form.
pub(crate) static FIELD: Block = Block {
    name: "field",
    doc: "An output field in long form: `expr:`, `from:`, `fields:` or `each:`, with options.",
    keys: &[
        Key::new("expr", Type::Expr, "How the value is computed."),
        Key::new(
            "from",
            Type::Dict(&Type::Expr),
            "Multi-source: a candidate expression per source (`{erp: $erp.price, shop: $shop.price}`); the winner is chosen by `prefer:`.",
        ),
        Key::new("default", Type::Any, "A literal used when the value is null."),
        Key::new("when", Type::Expr, "The field is left out of the output when this is false."),
        Key::new("type", Type::Words(TYPE_NAMES), "The value must have this type."),
        Key::new("required", Type::Bool, "The value must not be null."),
        Key::new("pattern", Type::Text, "A regular expression the text must match."),
        Key::new("enum", Type::List(&Type::Any), "The allowed values."),
        Key::new("min", Type::Bound, "The smallest allowed value."),
        Key::new("max", Type::Bound, "The largest allowed value."),
        Key::new("min_length", Type::Count { min: 0 }, "The fewest characters (or elements) allowed."),
        Key::new("max_length", Type::Count { min: 0 }, "The most characters (or elements) allowed."),
        Key::new(
            "checks",
            Type::List(&Type::Block(&CHECK)),
            "Conditional checks, each with its own message and severity.",
        ),
        Key::new("doc", Type::Text, "What the field means; shown by `mapwright doc`."),
        Key::new("omit_null", Type::Bool, "Leave the field out when it is null (overrides `nulls:`)."),
        Key::new(
            "prefer",
            PREFER,
            "Source precedence for this field: the first source with a value wins; sources not listed come after, in `from:` order; `latest`: the newest by `updated_at:` wins.",
        ),
        Key::new(
            "on_conflict",
            Type::Words(&ON_CONFLICT_WORDS),
            "When sources disagree: `ignore` (default), `report` (a drift line), `error` (the record fails).",
        ),
        Key::new("tolerance", Type::NonNegative, "Numbers closer than this do not count as a conflict."),
        Key::new(
            "updated_at",
            Type::Dict(&Type::Expr),
            "For `prefer: latest`: a timestamp expression per source (default: the source's `updated_at:`).",
        ),
        Key::new(
            "fields",
            Type::Dict(&FIELD_VALUE),
            "A nested object (or, with `each:`, the object built per element).",
        ),
        Key::new(
            "each",
            Type::Expr,
            "An array: one output element per element of this list (`it` is the element, `index()` its position).",
        ),
        Key::new("where", Type::Expr, "With `each:`: keep only the elements for which this is true."),
    ],
};

/// A `checks:` entry.
pub(crate) static CHECK: Block = Block {
    name: "check",
    doc: "A conditional check on the field's value.",
    keys: &[
        Key::new("when", Type::Expr, "The check applies only when this is true."),
        Key::new("rule", Type::Expr, "An expression that must be true (`it` is the field's value)."),
        Key::new("pattern", Type::Text, "A regular expression the text must match."),
        Key::new("enum", Type::List(&Type::Any), "The allowed values."),
        Key::new("min", Type::Bound, "The smallest allowed value."),
        Key::new("max", Type::Bound, "The largest allowed value."),
        Key::new("message", Type::Text, "What is wrong, for the dead letter.")
            .required("say what is wrong: `message: US ZIP must be 5 digits`"),
        Key::new("severity", Type::Words(&SEVERITY_WORDS), SEVERITY_DOC),
    ],
};

const SEVERITY_DOC: &str = "`error` (default): the record fails and goes to the dead letter. `warn`: the record passes; the problem is counted and logged.";

/// A `validate:` rule.
pub(crate) static RULE: Block = Block {
    name: "rule",
    doc: "A rule about the whole output record.",
    keys: &[
        Key::new("rule", Type::Expr, "An expression over the output (`out`) that must be true.")
            .required("`rule: out.total >= 0`"),
        Key::new("message", Type::Text, "What is wrong, for the dead letter."),
        Key::new("severity", Type::Words(&SEVERITY_WORDS), SEVERITY_DOC),
    ],
};

/// A lookup table.
pub(crate) static LOOKUP: Block = Block {
    name: "lookup",
    doc: "A lookup table: `inline:` entries or a `file:`.",
    keys: &[
        Key::new("inline", Type::Dict(&Type::Any), "The entries, key → value."),
        Key::new("file", Type::Text, "A CSV or JSON file, relative to the mapping."),
        Key::new("key", Type::Text, "The CSV column (or JSON field) holding the keys."),
        Key::new("value", Type::Text, "The CSV column (or JSON field) holding the values."),
        Key::new("strict", Type::Bool, "A key not in the table fails the record (instead of giving null)."),
        Key::new("format", Type::Words(&LOOKUP_FORMAT_WORDS), "The file's format, when its extension does not tell."),
    ],
};

/// `hooks:`.
pub(crate) static HOOKS: Block = Block {
    name: "hooks",
    doc: "Rhai hook functions, run in a sandbox.",
    keys: &[
        Key::new("script", Type::Text, "A Rhai file, relative to the mapping."),
        Key::new("inline", Type::Text, "Rhai source."),
        Key::new("before", Type::Text, "A function `fn(record) -> record` run before the fields."),
        Key::new("after", Type::Text, "A function `fn(output, input) -> output` run after the fields."),
        Key::new("limits", Type::Block(&LIMITS), "Sandbox limits; exceeding one fails the record, never hangs."),
    ],
};

/// `hooks: { limits: … }`.
pub(crate) static LIMITS: Block = Block {
    name: "limits",
    doc: "The sandbox limits of a hook call; each a whole number above 0.",
    keys: &[
        Key::new(
            "max_operations",
            Type::Count { min: 1 },
            "Operations per call, a loop iteration being a few (default 1000000).",
        ),
        Key::new("max_call_levels", Type::Count { min: 1 }, "Nested function calls (default 32)."),
        Key::new("max_expr_depth", Type::Count { min: 1 }, "Expression nesting depth (default 64)."),
        Key::new("max_string_size", Type::Count { min: 1 }, "Characters in a string (default 1048576)."),
        Key::new("max_array_size", Type::Count { min: 1 }, "Elements in an array (default 10000)."),
        Key::new("max_map_size", Type::Count { min: 1 }, "Entries in an object (default 2000)."),
    ],
};

/// A `tests:` entry.
pub(crate) static TEST: Block = Block {
    name: "test",
    doc: "A fixture test, run by `mapwright test`.",
    keys: &[
        Key::new("name", Type::Text, "What the test shows."),
        Key::new(
            "input",
            Type::Text,
            "The input fixture, relative to the mapping: a JSON object (one record) or array, JSON Lines, CSV or YAML.",
        ),
        Key::new("inputs", Type::Dict(&Type::Text), "Multi-source: one input fixture per source."),
        Key::new(
            "expect",
            Type::Text,
            "The expected output (JSON), relative to the mapping; `mapwright test --update` writes it.",
        ),
        Key::new("expect_error", Type::Text, "Text that must appear in the failure of some record."),
    ],
};

/// A source of a multi-source mapping, in long form.
pub(crate) static SOURCE: Block = Block {
    name: "source",
    doc: "A source of a multi-source mapping: its join key and freshness.",
    keys: &[
        Key::new("key", Type::Expr, "The join key, read from this source's record as `$`.")
            .required("for example `erp: { key: $.item_code }`"),
        Key::new(
            "updated_at",
            Type::Expr,
            "The record's freshness: picks among duplicates, and the default for `prefer: latest`.",
        ),
    ],
};

/// `nulls:` words and whether they omit null fields.
pub(crate) const NULLS: [(&str, bool); 2] = [("keep", false), ("omit", true)];
const NULLS_WORDS: [&str; 2] = names(&NULLS);
const ON_CONFLICT_WORDS: [&str; 3] = names(&ON_CONFLICT);
const SEVERITY_WORDS: [&str; 3] = names(&SEVERITIES);
const LOOKUP_FORMAT_WORDS: [&str; 2] = names(&LOOKUP_FORMATS);

/// A whole mapping file.
#[derive(Clone, Debug, Default)]
pub(crate) struct MappingSpec {
    /// `mapping:` the name.
    pub name: Option<Located<String>>,
    /// `version:`
    pub version: Option<Located<String>>,
    /// `description:`
    pub description: Option<String>,
    /// `key:` the record identity.
    pub key: Option<ExprSrc>,
    /// `filter:` records where it is false are dropped.
    pub filter: Option<ExprSrc>,
    /// `nulls:` keep | omit.
    pub nulls: Option<Located<String>>,
    /// `lookups:`
    pub lookups: Vec<LookupSpec>,
    /// `sources:` (multi-source mappings).
    pub sources: Vec<SourceSpec>,
    /// Where `sources:` was written.
    pub sources_loc: Option<Loc>,
    /// `prefer:` default precedence.
    pub prefer: Option<PreferSpec>,
    /// `hooks:`
    pub hooks: Option<HooksSpec>,
    /// `fields:`
    pub fields: Vec<FieldSpec>,
    /// Where `fields:` was written.
    pub fields_loc: Option<Loc>,
    /// `validate:` record rules.
    pub validate: Vec<RuleSpec>,
    /// `contract:` a JSON Schema file.
    pub contract: Option<Located<String>>,
    /// `tests:` fixtures.
    pub tests: Vec<TestSpec>,
}

/// A lookup table declaration.
#[derive(Clone, Debug)]
pub(crate) struct LookupSpec {
    /// The table's name.
    pub name: yaml::Key,
    /// `inline:` entries.
    pub inline: Option<Node>,
    /// `file:` a CSV or JSON file, relative to the mapping.
    pub file: Option<Located<String>>,
    /// `key:` the CSV column (or JSON field) holding keys.
    pub key: Option<Located<String>>,
    /// `value:` the CSV column (or JSON field) holding values.
    pub value: Option<Located<String>>,
    /// `format:` csv | json, when the extension does not tell.
    pub format: Option<Located<String>>,
    /// `strict:` a miss fails the record.
    pub strict: bool,
    /// The declaration's place.
    pub loc: Loc,
}

/// A named source of a multi-source mapping.
#[derive(Clone, Debug)]
pub(crate) struct SourceSpec {
    /// The source's name.
    pub name: yaml::Key,
    /// `key:` the join key expression.
    pub key: Option<ExprSrc>,
    /// `updated_at:` the record's freshness (picks among duplicates, and
    /// the default for `prefer: latest`).
    pub updated_at: Option<ExprSrc>,
}

/// `prefer:` an ordered list of sources, or `latest`.
#[derive(Clone, Debug)]
pub(crate) enum PreferSpec {
    /// Sources in precedence order.
    Order(Vec<Located<String>>, Loc),
    /// The freshest value wins.
    Latest(Loc),
}

/// `hooks:`
#[derive(Clone, Debug, Default)]
// Read only by the Rhai hooks (feature `hooks`); without them only `loc`.
#[cfg_attr(not(feature = "hooks"), allow(dead_code))]
pub(crate) struct HooksSpec {
    /// `script:` a Rhai file, relative to the mapping.
    pub script: Option<Located<String>>,
    /// `inline:` Rhai source.
    pub inline: Option<Located<String>>,
    /// `before:` function name.
    pub before: Option<Located<String>>,
    /// `after:` function name.
    pub after: Option<Located<String>>,
    /// `limits:` sandbox limits.
    pub limits: Vec<(yaml::Key, Node)>,
    /// The block's place.
    pub loc: Loc,
}

/// A `tests:` entry, as written: what `mapwright test` runs.
///
/// ```
/// use mapwright_engine::Mapping;
///
/// let m = Mapping::from_yaml(
///     "mapping: m\nfields:\n  id: $.id\ntests:\n  - name: one order\n    input: fixtures/order.json\n    expect: fixtures/order.out.json\n",
///     "m.yaml",
/// )?;
/// let test = &m.tests()[0];
/// assert_eq!(test.name.as_ref().unwrap().value, "one order");
/// assert_eq!(test.expect.as_ref().unwrap().loc.line, 7);
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TestSpec {
    /// `name:`
    pub name: Option<Located<String>>,
    /// `input:` a fixture file.
    pub input: Option<Located<String>>,
    /// `inputs:` a fixture per source.
    pub inputs: Vec<(yaml::Key, Located<String>)>,
    /// `expect:` the expected output file.
    pub expect: Option<Located<String>>,
    /// `expect_error:` text the failure must contain.
    pub expect_error: Option<Located<String>>,
    /// The entry's place.
    pub loc: Loc,
}

/// An output field.
#[derive(Clone, Debug)]
pub(crate) struct FieldSpec {
    /// The output key (dotted for nesting).
    pub name: yaml::Key,
    /// How the value is produced.
    pub body: FieldBody,
    /// `when:` the field is omitted when false.
    pub when: Option<ExprSrc>,
    /// `doc:`
    pub doc: Option<String>,
    /// `omit_null:`
    pub omit_null: Option<bool>,
    /// `default:` a literal used when the value is null.
    pub default: Option<Node>,
    /// Validation keys.
    pub checks: ChecksSpec,
    /// Source-of-truth keys.
    pub truth: TruthSpec,
}

/// How a field's value is produced.
#[derive(Clone, Debug)]
pub(crate) enum FieldBody {
    /// An expression (short form or `expr:`).
    Expr(ExprSrc),
    /// Only a `default:` (or only `from:` in multi-source mappings).
    Nothing,
    /// `fields:` a nested object.
    Nested(Vec<FieldSpec>),
    /// `each:` an array built from a list.
    Each {
        /// The list expression.
        each: ExprSrc,
        /// `where:` an element filter.
        filter: Option<ExprSrc>,
        /// What each element becomes.
        item: EachItem,
    },
}

/// What an `each` element becomes.
#[derive(Clone, Debug)]
pub(crate) enum EachItem {
    /// `fields:` an object per element.
    Fields(Vec<FieldSpec>),
    /// `expr:` a value per element.
    Expr(ExprSrc),
}

/// The validation keys of a field.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChecksSpec {
    /// `type:`
    pub kind: Option<Located<String>>,
    /// `required:`
    pub required: Option<Located<bool>>,
    /// `pattern:`
    pub pattern: Option<Located<String>>,
    /// `enum:`
    pub one_of: Option<(Vec<Node>, Loc)>,
    /// `min:`
    pub min: Option<Node>,
    /// `max:`
    pub max: Option<Node>,
    /// `min_length:`
    pub min_length: Option<Node>,
    /// `max_length:`
    pub max_length: Option<Node>,
    /// `checks:`
    pub checks: Vec<CheckSpec>,
}

/// A `checks:` entry.
#[derive(Clone, Debug)]
pub(crate) struct CheckSpec {
    /// `when:`
    pub when: Option<ExprSrc>,
    /// `rule:`
    pub rule: Option<ExprSrc>,
    /// `pattern:`
    pub pattern: Option<Located<String>>,
    /// `enum:`
    pub one_of: Option<(Vec<Node>, Loc)>,
    /// `min:`
    pub min: Option<Node>,
    /// `max:`
    pub max: Option<Node>,
    /// `message:`
    pub message: Option<Located<String>>,
    /// `severity:`
    pub severity: Option<Located<String>>,
    /// The entry's place.
    pub loc: Loc,
}

/// A `validate:` rule.
#[derive(Clone, Debug)]
pub(crate) struct RuleSpec {
    /// `rule:`
    pub rule: Option<ExprSrc>,
    /// `message:`
    pub message: Option<Located<String>>,
    /// `severity:`
    pub severity: Option<Located<String>>,
}

/// The source-of-truth keys of a field.
#[derive(Clone, Debug, Default)]
pub(crate) struct TruthSpec {
    /// `from:` a candidate expression per source.
    pub from: Vec<(yaml::Key, ExprSrc)>,
    /// Where `from:` was written.
    pub from_loc: Option<Loc>,
    /// `prefer:`
    pub prefer: Option<PreferSpec>,
    /// `on_conflict:`
    pub on_conflict: Option<Located<String>>,
    /// `tolerance:`
    pub tolerance: Option<Node>,
    /// `updated_at:` a timestamp expression per source.
    pub updated_at: Vec<(yaml::Key, ExprSrc)>,
    /// Where `updated_at:` was written.
    pub updated_at_loc: Option<Loc>,
}

impl TruthSpec {
    /// Whether any source-of-truth key is present.
    pub fn is_empty(&self) -> bool {
        self.from_loc.is_none()
            && self.prefer.is_none()
            && self.on_conflict.is_none()
            && self.tolerance.is_none()
            && self.updated_at_loc.is_none()
    }
}

/// What to write for a required key of `block`, from its table.
fn hint_of(block: &Block, key: &str) -> &'static str {
    block.key(key).map_or("", |k| k.hint)
}

/// Decodes a mapping file's tree.
pub(crate) fn decode(d: &mut Decoder, root: &Node) -> MappingSpec {
    let mut spec = MappingSpec::default();
    let Some(entries) = d.map(root, "a mapping file") else {
        return spec;
    };
    d.check_keys(entries, &MAPPING, "in a mapping file");
    spec.name = get(entries, "mapping").and_then(|n| d.text(n, "`mapping:` (the name)"));
    spec.version = get(entries, "version").and_then(|n| d.text(n, "`version:`"));
    spec.description = get(entries, "description").and_then(|n| d.text(n, "`description:`")).map(|l| l.value);
    spec.key = get(entries, "key").and_then(|n| d.expr(n, "`key:`"));
    spec.filter = get(entries, "filter").and_then(|n| d.expr(n, "`filter:`"));
    spec.nulls = get(entries, "nulls").and_then(|n| d.text(n, "`nulls:`"));
    spec.contract = get(entries, "contract").and_then(|n| d.text(n, "`contract:` (a JSON Schema file)"));
    if let Some(n) = get(entries, "lookups") {
        spec.lookups = decode_lookups(d, n);
    }
    if let Some(n) = get(entries, "sources") {
        spec.sources_loc = Some(key_of(entries, "sources").map_or(n.loc, |k| k.loc));
        spec.sources = decode_sources(d, n);
    }
    if let Some(n) = get(entries, "prefer") {
        spec.prefer = decode_prefer(d, n);
    }
    if let Some(n) = get(entries, "hooks") {
        spec.hooks = decode_hooks(d, n);
    }
    match get(entries, "fields") {
        Some(n) => {
            spec.fields_loc = Some(n.loc);
            spec.fields = decode_fields(d, n);
        }
        // A misspelt `fields:` is already reported with its fix.
        None if entries.iter().any(|(k, _)| mapwright_dsl::nearest(&k.text, ["fields"]).is_some()) => {}
        None => {
            d.hint(SpecCode::MissingKey, root.loc, "a mapping needs `fields:`", hint_of(&MAPPING, "fields"));
        }
    }
    if spec.name.is_none() && get(entries, "mapping").is_none() {
        d.hint(SpecCode::MissingKey, root.loc, "a mapping needs a name: `mapping:`", hint_of(&MAPPING, "mapping"));
    }
    if let Some(n) = get(entries, "validate") {
        spec.validate = decode_rules(d, n);
    }
    if let Some(n) = get(entries, "tests") {
        spec.tests = decode_tests(d, n);
    }
    spec
}

fn decode_lookups(d: &mut Decoder, node: &Node) -> Vec<LookupSpec> {
    let Some(entries) = d.map(node, "`lookups:`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, body) in entries {
        let Some(b) = d.map(body, &format!("lookup `{}`", name.text)) else {
            continue;
        };
        d.check_keys(b, &LOOKUP, &format!("in lookup `{}`", name.text));
        out.push(LookupSpec {
            name: name.clone(),
            inline: get(b, "inline").cloned(),
            file: get(b, "file").and_then(|n| d.text(n, "`file:`")),
            key: get(b, "key").and_then(|n| d.text(n, "`key:`")),
            value: get(b, "value").and_then(|n| d.text(n, "`value:`")),
            format: get(b, "format").and_then(|n| d.text(n, "`format:`")),
            strict: get(b, "strict").and_then(|n| d.boolean(n, "`strict:`")).unwrap_or(false),
            loc: name.loc,
        });
    }
    out
}

fn decode_sources(d: &mut Decoder, node: &Node) -> Vec<SourceSpec> {
    let Some(entries) = d.map(node, "`sources:`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, body) in entries {
        let (key, updated_at) = match &body.value {
            Yaml::Map(b) => {
                d.check_keys(b, &SOURCE, &format!("in source `{}`", name.text));
                (
                    get(b, "key").and_then(|n| d.expr(n, "`key:`")),
                    get(b, "updated_at").and_then(|n| d.expr(n, "`updated_at:`")),
                )
            }
            _ => (d.expr(body, &format!("source `{}`", name.text)), None),
        };
        if key.is_none() {
            d.hint(
                SpecCode::MissingKey,
                name.loc,
                format!("source `{}` needs a `key:` expression", name.text),
                hint_of(&SOURCE, "key"),
            );
        }
        out.push(SourceSpec { name: name.clone(), key, updated_at });
    }
    out
}

fn decode_prefer(d: &mut Decoder, node: &Node) -> Option<PreferSpec> {
    match &node.value {
        Yaml::String(s) if s == "latest" => Some(PreferSpec::Latest(node.loc)),
        Yaml::String(s) => Some(PreferSpec::Order(vec![Located::new(s.clone(), node.loc)], node.loc)),
        Yaml::Seq(items) => {
            Some(PreferSpec::Order(items.iter().filter_map(|i| d.text(i, "a `prefer:` entry")).collect(), node.loc))
        }
        other => {
            let kind = other.kind();
            d.hint(
                SpecCode::WrongType,
                node.loc,
                format!("`prefer:` must be a list of sources or `latest`, got {kind}"),
                "for example `prefer: [erp, pim]` or `prefer: latest`",
            );
            None
        }
    }
}

fn decode_hooks(d: &mut Decoder, node: &Node) -> Option<HooksSpec> {
    let entries = d.map(node, "`hooks:`")?;
    d.check_keys(entries, &HOOKS, "in `hooks:`");
    let limits = match get(entries, "limits") {
        Some(n) => d.map(n, "`limits:`").map(<[_]>::to_vec).unwrap_or_default(),
        None => Vec::new(),
    };
    Some(HooksSpec {
        script: get(entries, "script").and_then(|n| d.text(n, "`script:`")),
        inline: get(entries, "inline").and_then(|n| d.text(n, "`inline:`")),
        before: get(entries, "before").and_then(|n| d.text(n, "`before:`")),
        after: get(entries, "after").and_then(|n| d.text(n, "`after:`")),
        limits,
        loc: node.loc,
    })
}

fn decode_tests(d: &mut Decoder, node: &Node) -> Vec<TestSpec> {
    let Yaml::Seq(items) = &node.value else {
        d.hint(SpecCode::WrongType, node.loc, "`tests:` must be a list", "start each test with `- name: …`");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(e) = d.map(item, "a test") else { continue };
        d.check_keys(e, &TEST, "in a test");
        let inputs = match get(e, "inputs") {
            Some(n) => d
                .map(n, "`inputs:`")
                .map(|m| m.iter().filter_map(|(k, v)| d.text(v, "an input file").map(|t| (k.clone(), t))).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        out.push(TestSpec {
            name: get(e, "name").and_then(|n| d.text(n, "`name:`")),
            input: get(e, "input").and_then(|n| d.text(n, "`input:`")),
            inputs,
            expect: get(e, "expect").and_then(|n| d.text(n, "`expect:`")),
            expect_error: get(e, "expect_error").and_then(|n| d.text(n, "`expect_error:`")),
            loc: item.loc,
        });
    }
    out
}

fn decode_rules(d: &mut Decoder, node: &Node) -> Vec<RuleSpec> {
    let Yaml::Seq(items) = &node.value else {
        d.hint(
            SpecCode::WrongType,
            node.loc,
            "`validate:` must be a list of rules",
            "start each rule with `- rule: …`",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(e) = d.map(item, "a rule") else { continue };
        d.check_keys(e, &RULE, "in a `validate:` rule");
        let rule = get(e, "rule").and_then(|n| d.expr(n, "`rule:`"));
        if get(e, "rule").is_none() {
            d.error(SpecCode::MissingKey, item.loc, "a `validate:` entry needs `rule:`");
        }
        out.push(RuleSpec {
            rule,
            message: get(e, "message").and_then(|n| d.text(n, "`message:`")),
            severity: get(e, "severity").and_then(|n| d.text(n, "`severity:`")),
        });
    }
    out
}

fn decode_fields(d: &mut Decoder, node: &Node) -> Vec<FieldSpec> {
    let Some(entries) = d.map(node, "`fields:`") else {
        return Vec::new();
    };
    entries.iter().filter_map(|(k, v)| decode_field(d, k, v)).collect()
}

fn enum_list(d: &mut Decoder, node: &Node) -> Option<(Vec<Node>, Loc)> {
    match &node.value {
        Yaml::Seq(items) => Some((items.clone(), node.loc)),
        other => {
            let kind = other.kind();
            d.hint(
                SpecCode::WrongType,
                node.loc,
                format!("`enum:` must be a list of allowed values, got {kind}"),
                "for example `enum: [paid, pending, refunded]`",
            );
            None
        }
    }
}

fn decode_checks(d: &mut Decoder, e: &[(yaml::Key, Node)]) -> ChecksSpec {
    let mut c = ChecksSpec {
        kind: get(e, "type").and_then(|n| d.text(n, "`type:`")),
        required: get(e, "required").and_then(|n| d.boolean(n, "`required:`").map(|b| Located::new(b, n.loc))),
        pattern: get(e, "pattern").and_then(|n| d.text(n, "`pattern:`")),
        one_of: get(e, "enum").and_then(|n| enum_list(d, n)),
        min: get(e, "min").cloned(),
        max: get(e, "max").cloned(),
        min_length: get(e, "min_length").cloned(),
        max_length: get(e, "max_length").cloned(),
        checks: Vec::new(),
    };
    if let Some(n) = get(e, "checks") {
        match &n.value {
            Yaml::Seq(items) => {
                for item in items {
                    let Some(ce) = d.map(item, "a check") else { continue };
                    d.check_keys(ce, &CHECK, "in a check");
                    c.checks.push(CheckSpec {
                        when: get(ce, "when").and_then(|n| d.expr(n, "`when:`")),
                        rule: get(ce, "rule").and_then(|n| d.expr(n, "`rule:`")),
                        pattern: get(ce, "pattern").and_then(|n| d.text(n, "`pattern:`")),
                        one_of: get(ce, "enum").and_then(|n| enum_list(d, n)),
                        min: get(ce, "min").cloned(),
                        max: get(ce, "max").cloned(),
                        message: get(ce, "message").and_then(|n| d.text(n, "`message:`")),
                        severity: get(ce, "severity").and_then(|n| d.text(n, "`severity:`")),
                        loc: item.loc,
                    });
                }
            }
            other => {
                let kind = other.kind();
                d.hint(
                    SpecCode::WrongType,
                    n.loc,
                    format!("`checks:` must be a list, got {kind}"),
                    "start each check with `- pattern: …` or `- rule: …`",
                );
            }
        }
    }
    c
}

fn source_exprs(d: &mut Decoder, node: &Node, what: &str) -> Vec<(yaml::Key, ExprSrc)> {
    let Some(m) = d.map(node, what) else {
        return Vec::new();
    };
    m.iter().filter_map(|(k, v)| d.expr(v, &format!("`{what}` for `{}`", k.text)).map(|e| (k.clone(), e))).collect()
}

fn decode_truth(d: &mut Decoder, e: &[(yaml::Key, Node)]) -> TruthSpec {
    let mut t = TruthSpec::default();
    if let Some(n) = get(e, "from") {
        t.from_loc = Some(key_of(e, "from").map_or(n.loc, |k| k.loc));
        t.from = source_exprs(d, n, "from:");
    }
    if let Some(n) = get(e, "updated_at") {
        t.updated_at_loc = Some(key_of(e, "updated_at").map_or(n.loc, |k| k.loc));
        t.updated_at = source_exprs(d, n, "updated_at:");
    }
    t.prefer = get(e, "prefer").and_then(|n| decode_prefer(d, n));
    t.on_conflict = get(e, "on_conflict").and_then(|n| d.text(n, "`on_conflict:`"));
    t.tolerance = get(e, "tolerance").cloned();
    t
}

fn decode_field(d: &mut Decoder, name: &yaml::Key, node: &Node) -> Option<FieldSpec> {
    let Yaml::Map(e) = &node.value else {
        // Short form: the value is the expression.
        let expr = d.expr(node, &format!("field `{}`", name.text))?;
        return Some(FieldSpec {
            name: name.clone(),
            body: FieldBody::Expr(expr),
            when: None,
            doc: None,
            omit_null: None,
            default: None,
            checks: ChecksSpec::default(),
            truth: TruthSpec::default(),
        });
    };
    let context = format!("in field `{}`", name.text);
    d.check_keys(e, &FIELD, &context);
    let has = |k: &str| get(e, k).is_some();
    let body = if let Some(each) = get(e, "each") {
        let each = d.expr(each, "`each:`")?;
        let filter = get(e, "where").and_then(|n| d.expr(n, "`where:`"));
        let item = match (get(e, "fields"), get(e, "expr")) {
            (Some(f), None) => EachItem::Fields(decode_fields(d, f)),
            (None, Some(x)) => EachItem::Expr(d.expr(x, "`expr:`")?),
            (Some(_), Some(_)) => {
                d.hint(
                    SpecCode::ConflictingKeys,
                    name.loc,
                    format!("field `{}` has both `fields:` and `expr:` under `each:`", name.text),
                    "use `fields:` to build an object per element, or `expr:` for one value per element",
                );
                return None;
            }
            (None, None) => {
                d.hint(
                    SpecCode::MissingKey,
                    name.loc,
                    format!("field `{}` has `each:` but neither `fields:` nor `expr:`", name.text),
                    "add `fields:` (an object per element) or `expr:` (a value per element, such as `expr: it.sku`)",
                );
                return None;
            }
        };
        FieldBody::Each { each, filter, item }
    } else if let Some(f) = get(e, "fields") {
        if has("expr") {
            d.hint(
                SpecCode::ConflictingKeys,
                name.loc,
                format!("field `{}` has both `fields:` and `expr:`", name.text),
                "a field is either a nested object (`fields:`) or a value (`expr:`)",
            );
        }
        FieldBody::Nested(decode_fields(d, f))
    } else if let Some(x) = get(e, "expr") {
        FieldBody::Expr(d.expr(x, "`expr:`")?)
    } else {
        if !has("default") && !has("from") {
            d.hint(
                SpecCode::MissingKey,
                name.loc,
                format!("field `{}` needs `expr:`, `fields:`, `each:` or `default:`", name.text),
                "write the expression directly (`total: $.total_price`) or under `expr:`",
            );
            return None;
        }
        FieldBody::Nothing
    };
    if has("where") && !has("each") {
        if let Some(k) = key_of(e, "where") {
            d.hint(
                SpecCode::ConflictingKeys,
                k.loc,
                "`where:` only applies to `each:`",
                "filter a single value with `when:` instead",
            );
        }
    }
    Some(FieldSpec {
        name: name.clone(),
        body,
        when: get(e, "when").and_then(|n| d.expr(n, "`when:`")),
        doc: get(e, "doc").and_then(|n| d.text(n, "`doc:`")).map(|l| l.value),
        omit_null: get(e, "omit_null").and_then(|n| d.boolean(n, "`omit_null:`")),
        default: get(e, "default").cloned(),
        checks: decode_checks(d, e),
        truth: decode_truth(d, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block reachable from the mapping table, and every key of it,
    /// says what it is; a required key says what to write when missing.
    #[test]
    fn every_key_of_the_mapping_table_is_described() {
        let blocks = MAPPING.reachable();
        assert_eq!(blocks.len(), 9);
        for b in blocks {
            assert!(!b.doc.is_empty(), "block {} has no doc", b.name);
            for k in b.keys {
                assert!(!k.doc.is_empty(), "{}.{} has no doc", b.name, k.name);
                assert_eq!(k.required, !k.hint.is_empty(), "{}.{}: a required key says what to write", b.name, k.name);
            }
        }
    }
}
