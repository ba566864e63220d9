//! mapwright's embeddable mapping library: load a mapping file once, apply
//! it to any number of records, get each record's [`Outcome`] — exact
//! decimals, UTC instants, every failure with its reasons, every problem
//! of a mapping file located with a hint.
//!
//! ```
//! use mapwright_engine::{Mapping, Outcome, Value};
//!
//! let mapping = Mapping::from_yaml("mapping: m\nfields:\n  sku: $.sku | upper\n  total: $.price * $.qty\n", "m.yaml")?;
//! let record = Value::from_json(r#"{"sku": "ab-1", "price": 19.99, "qty": 3}"#).unwrap();
//! assert_eq!(mapping.apply(&record), Outcome::Mapped(Value::from_json(r#"{"sku":"AB-1","total":59.97}"#).unwrap()));
//!
//! let broken = Mapping::from_yaml("mapping: m\nfields:\n  sku: uper($.sku)\n", "m.yaml").unwrap_err();
//! assert!(broken.to_string().contains("m.yaml:3:8"), "{broken}");
//! # Ok::<(), mapwright_engine::Error>(())
//! ```
//!
//! The root holds what an embedder needs: [`Mapping`] and what applying it
//! gives ([`Outcome`], [`Record`], [`FieldError`], [`Lineage`], [`Drift`],
//! [`Severity`]), [`Joiner`] (and [`JoinError`]) for multi-source mappings, [`Value`], and
//! [`Error`] with its located [`Diagnostic`]s. The modules hold the rest:
//! [`input`] (reading records from JSON, JSON Lines, CSV and YAML),
//! [`dead_letter`] (the line a failed record becomes), [`dictionary`] (a
//! mapping described field by field), [`diagnostic`] (diagnostics and
//! their codes) and [`spec`] (the key tables, the located YAML tree and
//! the decoder that tools on top of the engine build their own formats
//! with).
//!
//! ## Where things are
//!
//! `spec/` (the raw structs that mirror the YAML, their key tables and the
//! decoder), `mapping/` (the compiled mapping: `compile.rs` checks and
//! compiles a spec, `run.rs` applies it to a record), `truth.rs`
//! (source-of-truth rules: which source wins, what a conflict does),
//! `join.rs` (grouping the records of several sources by key),
//! `validate.rs` (checks and rules), `hooks.rs` (Rhai, feature `hooks`),
//! `contract.rs` (JSON Schema, feature `contracts`), `diagnostic.rs`,
//! `input.rs`, `dead_letter.rs`.
//!
//! ## What it never depends on
//!
//! No async runtime, no network, no database, no terminal: the engine is
//! plain synchronous code, callable from anywhere (the pipeline runtime is
//! the crate `mapwright-pipeline`). Rhai hooks and JSON Schema contracts
//! sit behind the default-on features `hooks` and `contracts`; a mapping
//! that uses a feature compiled out gets a located diagnostic saying so.
#![deny(missing_docs)]

#[cfg(feature = "contracts")]
mod contract;
#[cfg(not(feature = "contracts"))]
#[path = "contract_off.rs"]
mod contract;
pub mod dead_letter;
pub mod diagnostic;
#[cfg(feature = "hooks")]
mod hooks;
#[cfg(not(feature = "hooks"))]
#[path = "hooks_off.rs"]
mod hooks;
pub mod input;
mod join;
mod mapping;
pub mod spec;
mod truth;
mod validate;

/// A mapping described field by field, for docs ([`Mapping::dictionary`]).
pub mod dictionary {
    pub use crate::mapping::{Dictionary, FieldInfo};
}

use std::path::PathBuf;

pub use diagnostic::Diagnostic;
use diagnostic::Diagnostics;
pub use join::{JoinError, Joiner};
pub use mapping::{FieldError, Lineage, Mapping, Outcome, Record};
pub use mapwright_dsl::Value;
pub use truth::Drift;
pub use validate::Severity;

/// Errors of the engine.
///
/// ```
/// use mapwright_engine::{Error, Mapping};
///
/// let err = Mapping::from_yaml("mapping: m\nfields:\n  a: $.a\n  a: $.b\n", "m.yaml").unwrap_err();
/// assert!(matches!(err, Error::Spec(_)));
/// assert_eq!(err.diagnostics()[0].line, 4);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec file has problems; every one is listed.
    #[error("{0}")]
    Spec(Diagnostics),
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The command line or an argument is invalid.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Renders the error for a terminal: diagnostics with source lines and
    /// carets (ANSI colours when `color`), other errors as one line.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::load("no/such/mapping.yaml").unwrap_err();
    /// assert!(err.render(false).starts_with("error: no/such/mapping.yaml: "));
    /// ```
    pub fn render(&self, color: bool) -> String {
        match self {
            Error::Spec(d) => d.render(color),
            other => format!("error: {other}\n"),
        }
    }

    /// The diagnostics, when this is a spec error.
    ///
    /// ```
    /// let err = mapwright_engine::Mapping::from_yaml("mapping: m\nfeilds:\n  a: $.a\n", "m.yaml").unwrap_err();
    /// assert!(err.diagnostics().iter().any(|d| d.hint.as_deref() == Some("did you mean `fields`?")));
    /// ```
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Spec(d) => &d.0,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod thread_safety {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn a_mapping_can_be_shared_between_threads() {
        send_sync::<crate::Mapping>();
    }
}

/// Built with `--no-default-features`: a mapping that needs a feature that
/// is compiled out does not load, and the diagnostic points at its key
/// (`tests/run.sh` runs these).
#[cfg(all(test, not(feature = "hooks")))]
mod without_hooks {
    #[test]
    fn a_mapping_with_hooks_is_refused_at_its_hooks_block() {
        let yaml = "mapping: m\nhooks:\n  inline: |\n    fn f(x) { x }\nfields:\n  a: $.a\n";
        let err = crate::Mapping::from_yaml(yaml, "m.yaml").unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.code, d.line), ("E0205", 3), "{d}");
        assert!(
            d.message.contains("no Rhai hooks") && d.hint.as_deref().unwrap_or("").contains("`hooks` feature"),
            "{d}"
        );
        assert!(crate::Mapping::from_yaml("mapping: m\nfields:\n  a: $.a\n", "m.yaml").is_ok());
    }
}

#[cfg(all(test, not(feature = "contracts")))]
mod without_contracts {
    #[test]
    fn a_mapping_with_a_contract_is_refused_at_its_contract_key() {
        let yaml = "mapping: m\nfields:\n  a: $.a\ncontract: order.schema.json\n";
        let err = crate::Mapping::from_yaml(yaml, "m.yaml").unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.code, d.line, d.column), ("E0205", 4, 11), "{d}");
        assert!(d.hint.as_deref().unwrap_or("").contains("`contracts` feature"), "{d}");
    }
}
