//! The validated, compiled mapping that the runtime trusts: [`Mapping`]
//! and the compiled form it shares between threads.
//!
//! [`Mapping::load`] reads a file, parses the YAML into a located tree,
//! decodes the raw spec (`crate::spec`) and compiles it (`compile.rs`):
//! every expression is parsed and resolved once, lookup files are loaded
//! (`lookups.rs`), field paths are checked for clashes, `out.` references
//! are checked against the fields above. All problems of a file are
//! collected and returned together. Running a record is `run.rs`;
//! describing a mapping for docs is `describe.rs`.

mod compile;
mod describe;
mod lookups;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mapwright_dsl::{Program, Projection, Str, Value};

use crate::spec::mapping::TestSpec;
use crate::truth::TruthRule;
use crate::validate::Check;
use compile::compile_text;

pub use describe::{Dictionary, FieldInfo};
pub use run::{FieldError, Lineage, Outcome, Record};

pub(crate) use lookups::{LOOKUP_FORMATS, Table, yaml_value};
pub(crate) use run::Tables;

/// A compiled mapping: load it once, apply it to any number of records.
///
/// Cloning is cheap (the compiled form is shared).
///
/// ```
/// use mapwright_engine::{Mapping, Outcome, Value};
///
/// let mapping = Mapping::from_yaml(r#"
/// mapping: demo
/// fields:
///   order_id: '"SO-" + string($.id)'
///   total: $.price * $.qty
/// "#, "demo.yaml")?;
/// let input = Value::from_json(r#"{"id": 1042, "price": 19.99, "qty": 3}"#).unwrap();
/// match mapping.apply(&input) {
///     Outcome::Mapped(out) => assert_eq!(out.to_json(), r#"{"order_id":"SO-1042","total":59.97}"#),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mapping {
    pub(crate) inner: Arc<Compiled>,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub name: String,
    pub version: Value,
    pub description: Option<String>,
    pub key: Option<Program>,
    pub filter: Option<Program>,
    pub omit_nulls: bool,
    pub tables: Vec<Table>,
    /// Lookup table names and strictness, in declaration order.
    pub lookups: Vec<(String, bool)>,
    pub fields: Vec<Field>,
    pub rules: Vec<Check>,
    pub tests: Vec<TestSpec>,
    pub path: Option<PathBuf>,
    /// What it was compiled from: the text, its name in diagnostics and
    /// the folder lookup files are resolved from (for [`Mapping::replica`]).
    pub origin: (Arc<str>, String, PathBuf),
    pub content_hash: String,
    pub projection: Option<Projection>,
    /// Named sources of a multi-source mapping, in declaration order.
    pub sources: Vec<SourceDef>,
    /// The Rhai hook script.
    pub hooks: Option<crate::hooks::Hooks>,
    /// The JSON Schema every output must satisfy, and its file.
    pub contract: Option<crate::contract::Contract>,
}

/// A compiled source of a multi-source mapping.
#[derive(Debug)]
pub(crate) struct SourceDef {
    pub name: String,
    pub key: Program,
    pub updated_at: Option<Program>,
    pub projection: Option<Projection>,
}

/// One compiled output field.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    /// Output path relative to the enclosing object (dotted keys split).
    pub path: Vec<Str>,
    /// Output path from the record's output (or from the `each:` element)
    /// through any enclosing nested blocks. A value field's path is set
    /// once per record (clashes are compile errors), so its last key is
    /// always new in its object.
    pub abs: Vec<Str>,
    pub value: FieldValue,
    pub when: Option<Program>,
    pub default: Option<Value>,
    pub omit_null: Option<bool>,
    pub checks: Vec<Check>,
    pub doc: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum FieldValue {
    Expr(Program),
    Truth(Box<TruthRule>),
    Const(Value),
    Nested(Vec<Field>),
    Each(Box<Each>),
}

/// An `each:` field: a list, an element filter, what each element becomes.
#[derive(Clone, Debug)]
pub(crate) struct Each {
    pub list: Program,
    pub filter: Option<Program>,
    pub item: EachValue,
}

#[derive(Clone, Debug)]
pub(crate) enum EachValue {
    Fields(Vec<Field>),
    Expr(Program),
}

impl Mapping {
    /// Lookup rows above which [`Mapping::replica`] declines to copy a
    /// mapping (one table per thread would cost too much memory).
    pub const REPLICA_MAX_LOOKUP_ROWS: usize = 100_000;

    /// Loads and compiles a mapping file. Lookup files, the hook script and
    /// the contract are resolved relative to it. Every problem of the file
    /// comes back at once, each located ([`crate::Error::Spec`]).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("mapwright-doc-load-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("units.csv"), "code,name\nEA,each\n").unwrap();
    /// let yaml = "mapping: m\nlookups:\n  units: { file: units.csv, key: code, value: name }\nfields:\n  unit: lookup(\"units\", $.uom)\n";
    /// std::fs::write(dir.join("m.yaml"), yaml).unwrap();
    ///
    /// let m = mapwright_engine::Mapping::load(dir.join("m.yaml"))?;
    /// assert_eq!(m.path(), Some(dir.join("m.yaml").as_path()));
    /// assert_eq!(m.dependencies().len(), 2, "the mapping and its lookup file");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Mapping, crate::Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::Error::Io { path: path.to_path_buf(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut m = compile_text(&text, &path.display().to_string(), &base)?;
        if let Some(inner) = Arc::get_mut(&mut m.inner) {
            inner.path = Some(path.to_path_buf());
        }
        Ok(m)
    }

    /// Compiles a mapping from YAML text; `name` is used in diagnostics and
    /// lookup files are resolved relative to the current directory.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: orders\nversion: 3\nfields:\n  id: $.id\n", "orders.yaml")?;
    /// assert_eq!((m.name(), m.version().to_json().as_str()), ("orders", "3"));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn from_yaml(text: &str, name: &str) -> Result<Mapping, crate::Error> {
        compile_text(text, name, Path::new("."))
    }

    /// Compiles a mapping from YAML text with lookup files resolved
    /// relative to `base`.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::from_yaml_in(
    ///     "mapping: m\nlookups:\n  t: { file: missing.csv }\nfields:\n  a: $.a\n",
    ///     "m.yaml",
    ///     std::path::Path::new("/nowhere"),
    /// )
    /// .unwrap_err();
    /// assert!(err.to_string().contains("/nowhere/missing.csv"), "{err}");
    /// ```
    pub fn from_yaml_in(text: &str, name: &str, base: &Path) -> Result<Mapping, crate::Error> {
        compile_text(text, name, base)
    }

    /// An independent copy of this mapping for another thread: compiled
    /// again, on the calling thread, from the same text. Compiled keys are
    /// interned per thread ([`mapwright_dsl::intern`]), so a replica shares
    /// no reference counts with the original and threads mapping at once
    /// do not contend for the same cache lines (on two cores this is the
    /// difference between 1.3× and 1.8×). `None` when the copy would not
    /// be the same mapping (a lookup file or the hook script changed since
    /// the original was loaded; the content hash covers them), and when
    /// its lookup tables are large (more than
    /// [`Mapping::REPLICA_MAX_LOOKUP_ROWS`] rows in all), so memory does
    /// not grow by a table per thread: then share the original.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  a: $.a\n", "m.yaml")?;
    /// let copy = std::thread::spawn(move || m.replica().map(|r| r.content_hash().to_string())).join().unwrap();
    /// assert!(copy.is_some());
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn replica(&self) -> Option<Mapping> {
        if self.inner.tables.iter().map(|t| t.entries.len()).sum::<usize>() > Mapping::REPLICA_MAX_LOOKUP_ROWS {
            return None;
        }
        let (text, name, base) = &self.inner.origin;
        let mut m = compile_text(text, name, base).ok()?;
        if m.inner.content_hash != self.inner.content_hash {
            return None;
        }
        Arc::get_mut(&mut m.inner)?.path.clone_from(&self.inner.path);
        Some(m)
    }

    /// The mapping's name (`mapping:`).
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: shopify-order\nfields:\n  a: $.a\n", "m.yaml")?;
    /// assert_eq!(m.name(), "shopify-order");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The mapping's version (`version:`): a number, text, or null.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: m\nversion: 2024-05\nfields:\n  a: $.a\n", "m.yaml")?;
    /// assert_eq!(m.version(), &mapwright_engine::Value::str("2024-05"));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn version(&self) -> &Value {
        &self.inner.version
    }

    /// The description, if any.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: m\ndescription: Orders to the ERP\nfields:\n  a: $.a\n", "m.yaml")?;
    /// assert_eq!(m.description(), Some("Orders to the ERP"));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn description(&self) -> Option<&str> {
        self.inner.description.as_deref()
    }

    /// The file it was loaded from (`None` for [`Mapping::from_yaml`]);
    /// [`Mapping::load`] shows one.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// A hash of the mapping's content (its text, lookup files, hook script
    /// and contract): part of idempotency keys, so a changed mapping
    /// re-delivers.
    ///
    /// ```
    /// use mapwright_engine::Mapping;
    ///
    /// let a = Mapping::from_yaml("mapping: m\nfields:\n  a: $.a\n", "m.yaml")?;
    /// let b = Mapping::from_yaml("mapping: m\nfields:\n  a: $.b\n", "m.yaml")?;
    /// assert_eq!(a.content_hash().len(), 16);
    /// assert_ne!(a.content_hash(), b.content_hash());
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn content_hash(&self) -> &str {
        &self.inner.content_hash
    }

    /// The parts of an input record this mapping reads, when it does not
    /// need the whole record: readers build only these (see
    /// [`mapwright_dsl::Projection`]).
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml("mapping: m\nfields:\n  email: $.customer.email\n", "m.yaml")?;
    /// assert!(m.projection().is_some());
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn projection(&self) -> Option<&Projection> {
        self.inner.projection.as_ref()
    }

    /// The names of the sources of a multi-source mapping, in declaration
    /// order (empty for a single-source mapping).
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml(
    ///     "mapping: m\nsources: { pim: $.sku, erp: $.item_code }\nfields:\n  sku: { from: { pim: $pim.sku, erp: $erp.item_code } }\n",
    ///     "m.yaml",
    /// )?;
    /// assert_eq!(m.sources(), ["pim", "erp"]);
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn sources(&self) -> Vec<&str> {
        self.inner.sources.iter().map(|s| s.name.as_str()).collect()
    }

    /// The projection of source `i`'s records (see [`Mapping::projection`]).
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml(
    ///     "mapping: m\nsources: { pim: $.sku, erp: $.item_code }\nfields:\n  sku: { from: { pim: $pim.sku, erp: $erp.item_code } }\n",
    ///     "m.yaml",
    /// )?;
    /// assert!(m.source_projection(1).is_some());
    /// assert!(m.source_projection(2).is_none(), "no third source");
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn source_projection(&self, i: usize) -> Option<&Projection> {
        self.inner.sources.get(i).and_then(|s| s.projection.as_ref())
    }

    /// The `tests:` entries, as written (see [`TestSpec`]).
    pub fn tests(&self) -> &[TestSpec] {
        &self.inner.tests
    }

    /// The files this mapping depends on (itself, its lookup files, its
    /// hook script and contract), for hot reload; [`Mapping::load`] shows
    /// them.
    pub fn dependencies(&self) -> Vec<PathBuf> {
        let mut deps: Vec<PathBuf> = self.inner.path.iter().cloned().collect();
        deps.extend(self.inner.tables.iter().filter_map(|t| t.file.clone()));
        deps.extend(self.inner.hooks.as_ref().and_then(|h| h.file.clone()));
        deps.extend(self.inner.contract.as_ref().map(|c| c.path.clone()));
        deps
    }
}
