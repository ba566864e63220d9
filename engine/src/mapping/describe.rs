//! The data dictionary of a compiled mapping: what `mapwright doc` prints.
//!
//! It is read from the compiled mapping (not the YAML), so it shows exactly
//! what runs: resolved expressions, source precedence, checks, lookups.

use mapwright_dsl::Value;

use super::{EachValue, Field, FieldValue, Mapping};
use crate::truth::OnConflict;

/// One output field, documented ([`Mapping::dictionary`] shows some).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FieldInfo {
    /// Output path (`customer.email`, `lines[].sku`).
    pub path: String,
    /// `value`, `object`, `list` or `from` (a source-of-truth field).
    pub kind: &'static str,
    /// The declared `type:`, if any.
    pub type_name: Option<String>,
    /// `doc:`
    pub doc: Option<String>,
    /// The expression, or one per source for a `from:` field (source, expression).
    pub exprs: Vec<(Option<String>, String)>,
    /// The source-of-truth rule in words (`prefer erp, shop; on_conflict report; tolerance 0.01`).
    pub truth: Option<String>,
    /// `when:`
    pub when: Option<String>,
    /// `default:`
    pub default: Option<Value>,
    /// Checks, as written (`required: true`, `pattern: '…'`).
    pub checks: Vec<String>,
    /// Lookup tables the field uses.
    pub lookups: Vec<String>,
}

/// A mapping's data dictionary ([`Mapping::dictionary`] shows one).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Dictionary {
    /// `mapping:`
    pub name: String,
    /// `version:`
    pub version: Value,
    /// `description:`
    pub description: Option<String>,
    /// `key:`
    pub key: Option<String>,
    /// `filter:`
    pub filter: Option<String>,
    /// Sources: name and join key.
    pub sources: Vec<(String, String)>,
    /// Lookup tables: name and whether strict.
    pub lookups: Vec<(String, bool)>,
    /// The contract file, if any.
    pub contract: Option<String>,
    /// Hook functions (name and arity), and the before/after hooks.
    pub hook_functions: Vec<(String, usize)>,
    /// `before:` and `after:` hook names.
    pub hooks: (Option<String>, Option<String>),
    /// Record rules (`validate:`).
    pub rules: Vec<String>,
    /// Every output field, in mapping order (nested ones flattened).
    pub fields: Vec<FieldInfo>,
}

impl Mapping {
    /// The data dictionary: every output field with its type, doc,
    /// expression(s), truth rule, checks, lookups and default, plus the
    /// mapping's key, filter, sources, contract and hook functions.
    ///
    /// ```
    /// let m = mapwright_engine::Mapping::from_yaml(
    ///     "mapping: m\nkey: $.id\nfields:\n  customer.email:\n    expr: $.email | lower\n    type: string\n    doc: Buyer e-mail\n",
    ///     "m.yaml",
    /// )?;
    /// let d = m.dictionary();
    /// assert_eq!(d.key.as_deref(), Some("$.id"));
    /// let f = &d.fields[0];
    /// assert_eq!((f.path.as_str(), f.type_name.as_deref(), f.doc.as_deref()), ("customer.email", Some("string"), Some("Buyer e-mail")));
    /// # Ok::<(), mapwright_engine::Error>(())
    /// ```
    pub fn dictionary(&self) -> Dictionary {
        let m = &self.inner;
        let mut fields = Vec::new();
        collect(self, &m.fields, "", &mut fields);
        Dictionary {
            name: m.name.clone(),
            version: m.version.clone(),
            description: m.description.clone(),
            key: m.key.as_ref().map(|k| k.text().to_string()),
            filter: m.filter.as_ref().map(|f| f.text().to_string()),
            sources: m.sources.iter().map(|s| (s.name.clone(), s.key.text().to_string())).collect(),
            lookups: m.lookups.clone(),
            contract: m.contract.as_ref().map(|c| c.path.display().to_string()),
            hook_functions: m.hooks.as_ref().map(|h| h.functions.clone()).unwrap_or_default(),
            hooks: m.hooks.as_ref().map(|h| (h.before.clone(), h.after.clone())).unwrap_or_default(),
            rules: m.rules.iter().map(|r| r.describe()).collect(),
            fields,
        }
    }
}

fn collect(mapping: &Mapping, fields: &[Field], prefix: &str, out: &mut Vec<FieldInfo>) {
    let names = &mapping.inner.sources;
    for f in fields {
        let path = if prefix.is_empty() { f.path.join(".") } else { format!("{prefix}.{}", f.path.join(".")) };
        let type_name = f.checks.iter().find_map(|c| match &c.kind {
            crate::validate::CheckKind::Type(t) => Some(t.to_string()),
            _ => None,
        });
        let mut info = FieldInfo {
            path: path.clone(),
            kind: "value",
            type_name,
            doc: f.doc.clone(),
            exprs: Vec::new(),
            truth: None,
            when: f.when.as_ref().map(|w| w.text().to_string()),
            default: f.default.clone(),
            checks: f
                .checks
                .iter()
                .filter(|c| !matches!(c.kind, crate::validate::CheckKind::Type(_)))
                .map(|c| {
                    let mut s = c.describe();
                    if let Some(w) = &c.when {
                        s = format!("{s} (when {})", w.text());
                    }
                    if c.severity == crate::Severity::Warn {
                        s.push_str(" [warn]");
                    }
                    s
                })
                .collect(),
            lookups: Vec::new(),
        };
        match &f.value {
            FieldValue::Expr(p) => {
                info.exprs.push((None, p.text().to_string()));
                info.lookups = p.lookups().to_vec();
            }
            FieldValue::Const(_) => {}
            FieldValue::Truth(rule) => {
                info.kind = "from";
                for (s, p) in &rule.candidates {
                    info.exprs.push((Some(names[*s].name.clone()), p.text().to_string()));
                    for l in p.lookups() {
                        if !info.lookups.contains(l) {
                            info.lookups.push(l.clone());
                        }
                    }
                }
                let order: Vec<&str> = rule.order.iter().map(|&i| names[rule.candidates[i].0].name.as_str()).collect();
                let mut words = match &rule.latest {
                    Some(stamps) => format!(
                        "latest by {}",
                        stamps.iter().map(|(p, _)| p.text().to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    None => format!("prefer {}", order.join(", ")),
                };
                match rule.on_conflict {
                    OnConflict::Ignore => {}
                    OnConflict::Report => words.push_str("; on_conflict report"),
                    OnConflict::Error => words.push_str("; on_conflict error"),
                }
                if let Some(t) = rule.tolerance {
                    words.push_str(&format!("; tolerance {t}"));
                }
                info.truth = Some(words);
            }
            FieldValue::Nested(inner) => {
                info.kind = "object";
                out.push(info);
                collect(mapping, inner, &path, out);
                continue;
            }
            FieldValue::Each(e) => {
                info.kind = "list";
                info.exprs.push((None, e.list.text().to_string()));
                if let Some(w) = &e.filter {
                    info.when = Some(format!("where {}", w.text()));
                }
                match &e.item {
                    EachValue::Expr(p) => {
                        out.push(info);
                        out.push(FieldInfo {
                            path: format!("{path}[]"),
                            kind: "value",
                            type_name: None,
                            doc: None,
                            exprs: vec![(None, p.text().to_string())],
                            truth: None,
                            when: None,
                            default: None,
                            checks: Vec::new(),
                            lookups: p.lookups().to_vec(),
                        });
                    }
                    EachValue::Fields(inner) => {
                        out.push(info);
                        collect(mapping, inner, &format!("{path}[]"), out);
                    }
                }
                continue;
            }
        }
        out.push(info);
    }
}
