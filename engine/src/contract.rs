//! Contracts: a JSON Schema (draft 2020-12, via `jsonschema`) that every
//! output of a mapping must satisfy (`contract:`), compiled once with the
//! mapping. A record whose output breaks it fails with one error per
//! violation, named by its JSON pointer. Built with the `contracts`
//! feature; without it, a mapping with `contract:` does not load
//! (`contract_off.rs`).

use std::path::{Path, PathBuf};

use mapwright_dsl::Value;

use crate::FieldError;
use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use crate::spec::Located;

/// A compiled contract.
pub(crate) struct Contract {
    validator: jsonschema::Validator,
    /// The schema file, for hot reload and docs.
    pub path: PathBuf,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").field("path", &self.path).finish()
    }
}

impl Contract {
    /// Loads and compiles `contract:` (a JSON Schema file, relative to the
    /// mapping at `base`); problems become diagnostics at `c`.
    pub(crate) fn compile(
        c: &Located<String>,
        base: &Path,
        file: &SourceFile,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Contract> {
        let path = base.join(&c.value);
        let mut fail = |message: String, hint: &str| {
            diags.push(Diagnostic::spec(file, SpecCode::BadCheck, c.loc, message).with_hint(hint));
            None
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::spec(
                        file,
                        SpecCode::MissingFile,
                        c.loc,
                        format!("cannot read contract {}: {e}", path.display()),
                    )
                    .with_hint("the path is relative to the mapping file"),
                );
                return None;
            }
        };
        let schema: serde_json::Value = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return fail(
                    format!("contract {} is not JSON: {e}", c.value),
                    "a contract is a JSON Schema (draft 2020-12) file",
                );
            }
        };
        match jsonschema::validator_for(&schema) {
            Ok(validator) => Some(Contract { validator, path }),
            Err(e) => fail(
                format!("contract {} is not a valid JSON Schema: {e} (at {})", c.value, e.instance_path().as_str()),
                "check the schema against JSON Schema draft 2020-12",
            ),
        }
    }

    /// The violations of `out`, one error each (empty when it conforms).
    pub(crate) fn check(&self, out: &Value) -> Vec<FieldError> {
        let json = serde_json::Value::from(out);
        self.validator
            .iter_errors(&json)
            .map(|e| {
                let pointer = e.instance_path().as_str().to_string();
                FieldError::new(
                    if pointer.is_empty() { "/".into() } else { pointer },
                    format!("contract: {}", e.kind().keyword()),
                    format!("violates the contract's `{}`: {e}", e.kind().keyword()),
                    Some(Value::from(e.instance().as_ref())),
                )
            })
            .collect()
    }
}
