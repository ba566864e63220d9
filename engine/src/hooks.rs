//! Rhai hooks: the logic a YAML mapping should not hold, in a sandbox.
//!
//! A mapping's `hooks:` names a script (`script:` file or `inline:`
//! source). Its public functions become callable from expressions like
//! builtins; `before` (record → record, or `()` to drop it) runs before the
//! fields and `after` (output, input → output) after them.
//!
//! The sandbox: Rhai has no file, network or process access of its own;
//! the module resolver is replaced by one that refuses every `import`,
//! `eval` is disabled, and `print`/`debug` go to the log. Every call runs
//! under limits (operations, call depth, expression depth, string, array
//! and map sizes; `hooks.limits` overrides the defaults), so a script that
//! loops forever or recurses without end fails that one record in
//! milliseconds and the run goes on. Scripts compile once per load.
//!
//! Values cross as JSON. Numbers are exact: the engine is built with Rhai's
//! `decimal` and `no_float` features, so numbers arrive as `Decimal` (or
//! `i64`) and a literal like `1.5` in a script is a `Decimal` too.
//! Timestamps cross as RFC 3339 text. Objects come back in the order they
//! had, new keys after them (Rhai maps are sorted by key).

use std::path::Path;

use mapwright_dsl::{Map, Number, Str, Value};
use rhai::{AST, Dynamic, Engine};

use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use crate::spec::mapping::HooksSpec;
use crate::spec::yaml::{Key, Node, Yaml};

/// Sandbox limits and their defaults.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Operations per call (a loop iteration is a few).
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting depth.
    pub max_expr_depth: usize,
    /// Characters in a string.
    pub max_string_size: usize,
    /// Elements in an array.
    pub max_array_size: usize,
    /// Entries in an object.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_operations: 1_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_string_size: 1 << 20,
            // Rhai re-measures a container on every insert, so generous
            // sizes make a runaway `push` loop slow to stop.
            max_array_size: 10_000,
            max_map_size: 2_000,
        }
    }
}

/// A compiled hook script.
pub(crate) struct Hooks {
    engine: Engine,
    ast: AST,
    /// Public functions, callable from expressions: name and arity.
    pub functions: Vec<(String, usize)>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The script file, for hot reload.
    pub file: Option<std::path::PathBuf>,
    pub source: String,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("functions", &self.functions).finish()
    }
}

fn sandbox(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.on_print(|s| tracing::info!(target: "mapwright::hook", "{s}"));
    engine.on_debug(|s, _, pos| tracing::debug!(target: "mapwright::hook", "{s} ({pos})"));
    engine
}

fn limits(entries: &[(Key, Node)], file: &SourceFile, diags: &mut Vec<Diagnostic>) -> Limits {
    let mut l = Limits::default();
    for (k, v) in entries {
        let n = match &v.value {
            Yaml::Number(n) => n.parse::<u64>().ok(),
            _ => None,
        };
        let Some(n) = n.filter(|n| *n > 0) else {
            diags.push(Diagnostic::spec(
                file,
                SpecCode::BadHook,
                v.loc,
                format!("`{}` must be a whole number above 0", k.text),
            ));
            continue;
        };
        let size = usize::try_from(n).unwrap_or(usize::MAX);
        match k.text.as_str() {
            "max_operations" => l.max_operations = n,
            "max_call_levels" => l.max_call_levels = size,
            "max_expr_depth" => l.max_expr_depth = size,
            "max_string_size" => l.max_string_size = size,
            "max_array_size" => l.max_array_size = size,
            "max_map_size" => l.max_map_size = size,
            other => {
                let keys = crate::spec::mapping::LIMITS.names();
                let hint = match mapwright_dsl::nearest(other, crate::spec::mapping::LIMITS.names()) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!("limits: {}", keys.collect::<Vec<_>>().join(", ")),
                };
                diags.push(
                    Diagnostic::spec(file, SpecCode::UnknownKey, k.loc, format!("unknown limit `{other}`"))
                        .with_hint(hint),
                );
            }
        }
    }
    l
}

/// Where a script's text sits, to place Rhai's line/column.
enum ScriptPlace {
    /// Its own file.
    File(SourceFile),
    /// Inline in the mapping: the byte offset of its first line.
    Inline(usize),
}

impl Hooks {
    /// Compiles `hooks:`; problems become diagnostics.
    pub fn compile(spec: &HooksSpec, base: &Path, file: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<Hooks> {
        let limits = limits(&spec.limits, file, diags);
        let (source, place, path) = match (&spec.script, &spec.inline) {
            (Some(s), None) => {
                let path = base.join(&s.value);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let sf = SourceFile::new(path.display().to_string(), text.clone());
                        (text, ScriptPlace::File(sf), Some(path))
                    }
                    Err(e) => {
                        diags.push(
                            Diagnostic::spec(
                                file,
                                SpecCode::MissingFile,
                                s.loc,
                                format!("cannot read hook script {}: {e}", path.display()),
                            )
                            .with_hint("the path is relative to the mapping file"),
                        );
                        return None;
                    }
                }
            }
            (None, Some(inline)) => {
                let first = inline.value.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                let at = file.text[inline.loc.offset.min(file.text.len())..]
                    .find(first)
                    .map_or(inline.loc.offset, |i| inline.loc.offset + i);
                let line_start = file.text[..at].rfind('\n').map_or(0, |i| i + 1);
                (inline.value.clone(), ScriptPlace::Inline(line_start), None)
            }
            (Some(_), Some(_)) => {
                diags.push(
                    Diagnostic::spec(
                        file,
                        SpecCode::ConflictingKeys,
                        spec.loc,
                        "`hooks:` has both `script:` and `inline:`",
                    )
                    .with_hint("keep one of them"),
                );
                return None;
            }
            (None, None) => {
                diags.push(
                    Diagnostic::spec(
                        file,
                        SpecCode::MissingKey,
                        spec.loc,
                        "`hooks:` needs `script:` (a .rhai file) or `inline:` (Rhai source)",
                    )
                    .with_hint("for example `hooks: { script: order_hooks.rhai, before: prepare }`"),
                );
                return None;
            }
        };
        let engine = sandbox(&limits);
        let ast = match engine.compile(&source) {
            Ok(ast) => ast,
            Err(e) => {
                let line = e.1.line().unwrap_or(1);
                let col = e.1.position().unwrap_or(1);
                let message = format!("Rhai syntax error: {}", e.0);
                diags.push(match &place {
                    ScriptPlace::File(sf) => {
                        let offset = offset_of(&sf.text, 0, line, col);
                        Diagnostic::at(sf, SpecCode::BadHook.as_str(), offset, 1, message)
                    }
                    ScriptPlace::Inline(start) => {
                        let indent = file.text[*start..].len() - file.text[*start..].trim_start_matches(' ').len();
                        let offset = offset_of(&file.text, *start, line, col + indent);
                        Diagnostic::at(file, SpecCode::BadHook.as_str(), offset, 1, message)
                    }
                });
                return None;
            }
        };
        // Top-level code runs once, now (never per call): an `import` or
        // another failure there is a load-time diagnostic.
        if let Err(e) = engine.run_ast(&ast) {
            let at = match &place {
                ScriptPlace::File(sf) => Diagnostic::at(sf, SpecCode::BadHook.as_str(), 0, 1, describe(&e)),
                ScriptPlace::Inline(start) => Diagnostic::at(file, SpecCode::BadHook.as_str(), *start, 1, describe(&e)),
            };
            diags.push(at.with_hint("keep only function definitions at the top level of a hook script"));
            return None;
        }
        let functions: Vec<(String, usize)> = ast
            .iter_functions()
            .filter(|f| f.access != rhai::FnAccess::Private)
            .map(|f| (f.name.to_string(), f.params.len()))
            .collect();
        // Rhai lists functions in hash order: sort for stable ids and docs.
        let mut functions = functions;
        functions.sort();
        let mut before = spec.before.as_ref().map(|b| b.value.clone());
        let mut after = spec.after.as_ref().map(|a| a.value.clone());
        for (name, _) in &functions {
            if mapwright_dsl::functions::builtin(name).is_some() {
                diags.push(
                    Diagnostic::spec(
                        file,
                        SpecCode::BadHook,
                        spec.loc,
                        format!("hook function `{name}` has the name of a builtin function"),
                    )
                    .with_hint(format!(
                        "rename it in the script (for example `my_{name}`), or mark it `private` if it is only a helper"
                    )),
                );
            }
        }
        for (which, name, arity) in [("before", &spec.before, 1), ("after", &spec.after, 2)] {
            let Some(name) = name else { continue };
            match functions.iter().find(|(n, _)| *n == name.value) {
                Some((_, a)) if *a == arity => {}
                Some((_, a)) => {
                    diags.push(Diagnostic::spec(
                        file,
                        SpecCode::BadHook,
                        name.loc,
                        format!(
                            "`{which}: {}` must take {arity} parameter{}, the script's takes {a}",
                            name.value,
                            if arity == 1 { "" } else { "s" }
                        ),
                    ));
                    if which == "before" { before = None } else { after = None }
                }
                None => {
                    let hint = match mapwright_dsl::nearest(&name.value, functions.iter().map(|(n, _)| n.as_str())) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("define `fn {}(…)` in the script", name.value),
                    };
                    diags.push(
                        Diagnostic::spec(
                            file,
                            SpecCode::BadHook,
                            name.loc,
                            format!("`{which}:` names `{}`, which the script does not define", name.value),
                        )
                        .with_hint(hint),
                    );
                    if which == "before" { before = None } else { after = None }
                }
            }
        }
        // Even with a bad `before:`/`after:` the functions stay known, so
        // expressions calling them report nothing misleading.
        Some(Hooks { engine, ast, functions, before, after, file: path, source })
    }

    fn call_named(&self, name: &str, args: Vec<Dynamic>) -> Result<Dynamic, String> {
        let mut scope = rhai::Scope::new();
        // Only functions are allowed at the top level, so there is nothing
        // to run before the call.
        let options = rhai::CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, &self.ast, name, args)
            .map_err(|e| describe(&e))
    }

    /// Calls public function `id` (its position in `functions`).
    pub fn call(&self, id: usize, args: &[Value]) -> Result<Value, String> {
        let (name, _) = self.functions.get(id).ok_or("unknown hook function")?;
        let out = self.call_named(name, args.iter().map(to_dynamic).collect())?;
        from_dynamic(out, None).map_err(|m| format!("{name}() returned {m}"))
    }

    /// Runs `before`: the new record, or `None` to drop it.
    pub fn before(&self, record: &Value) -> Result<Option<Value>, String> {
        let Some(name) = &self.before else { return Ok(Some(record.clone())) };
        let out = self.call_named(name, vec![to_dynamic(record)])?;
        if out.is_unit() {
            return Ok(None);
        }
        from_dynamic(out, record.as_object()).map(Some).map_err(|m| format!("{name}() returned {m}"))
    }

    /// Runs `after`: the final output.
    pub fn after(&self, output: &Value, input: &Value) -> Result<Value, String> {
        let Some(name) = &self.after else { return Ok(output.clone()) };
        let out = self.call_named(name, vec![to_dynamic(output), to_dynamic(input)])?;
        match from_dynamic(out, output.as_object())? {
            v @ Value::Object(_) => Ok(v),
            other => Err(format!("{name}() must return the output object, it returned {}", other.describe())),
        }
    }
}

/// Byte offset of 1-based `line`/`col` counted from `start`.
fn offset_of(text: &str, start: usize, line: usize, col: usize) -> usize {
    let mut off = start;
    for _ in 1..line {
        match text[off..].find('\n') {
            Some(i) => off += i + 1,
            None => break,
        }
    }
    let line_text = text[off..].lines().next().unwrap_or("");
    off + line_text.char_indices().nth(col.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i)
}

/// A Rhai failure in words an analyst can act on.
fn describe(e: &rhai::EvalAltResult) -> String {
    use rhai::EvalAltResult as E;
    match e {
        E::ErrorTooManyOperations(_) => "the hook ran too long (over `max_operations`; an endless loop?)".into(),
        E::ErrorStackOverflow(_) => "the hook recursed too deeply (over `max_call_levels`)".into(),
        E::ErrorDataTooLarge(what, _) => format!("the hook built a value too large: {what} (see `hooks.limits`)"),
        E::ErrorModuleNotFound(name, _) => {
            format!("the hook tried to import `{name}`: imports are not allowed in hooks")
        }
        E::ErrorInFunctionCall(name, _, inner, _) => format!("in {name}(): {}", describe(inner)),
        other => format!("hook error: {other}"),
    }
}

/// A value as Rhai sees it.
pub(crate) fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        // Every number crosses as an exact decimal, whole ones too: as
        // Rhai integers, `qty / 2` would silently truncate. (Ranges take
        // `n.to_int()`.)
        Value::Number(n) => match n.to_decimal() {
            Ok(d) => Dynamic::from_decimal(d),
            Err(_) => Dynamic::from(v.to_json()),
        },
        Value::String(s) => Dynamic::from(s.to_string()),
        Value::Timestamp(_) => Dynamic::from(v.to_json().trim_matches('"').to_string()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(m) => Dynamic::from_map(m.iter().map(|(k, v)| (k.as_ref().into(), to_dynamic(v))).collect()),
    }
}

/// A Rhai value back as JSON; objects keep the key order of `like` where
/// they share keys.
pub(crate) fn from_dynamic(d: Dynamic, like: Option<&Map>) -> Result<Value, String> {
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(x) = d.as_decimal() {
        return Ok(Value::Number(Number::Dec(x)));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::from(c.to_string()));
    }
    if d.is_string() {
        return d.into_string().map(Value::from).map_err(str::to_string);
    }
    if d.is_array() {
        let items = d.into_array().map_err(str::to_string)?;
        return items.into_iter().map(|i| from_dynamic(i, None)).collect::<Result<Vec<_>, _>>().map(Value::array);
    }
    if d.is_map() {
        let mut map = d.cast::<rhai::Map>();
        let mut out = Map::with_capacity(map.len());
        if let Some(like) = like {
            for (k, old) in like.iter() {
                if let Some(v) = map.remove(k.as_ref()) {
                    out.insert(k.clone(), from_dynamic(v, old.as_object())?);
                }
            }
        }
        for (k, v) in map {
            out.insert(Str::from(k.as_str()), from_dynamic(v, None)?);
        }
        return Ok(Value::object(out));
    }
    Err(format!("a {} that has no JSON form", d.type_name()))
}

#[cfg(test)]
mod tests {
    use crate::Mapping;
    use crate::spec::mapping::LIMITS;

    /// Every limit of the key table is one the sandbox takes (the table
    /// and the setter above name them each once).
    #[test]
    fn every_limit_of_the_key_table_is_accepted() {
        for name in LIMITS.names() {
            let yaml = format!(
                "mapping: m\nhooks:\n  inline: |\n    fn f(x) {{ x }}\n  limits: {{ {name}: 5 }}\nfields:\n  a: f($.a)\n"
            );
            if let Err(e) = Mapping::from_yaml(&yaml, "m.yaml") {
                panic!("limit `{name}`:\n{}", e.render(false));
            }
        }
        let err = Mapping::from_yaml(
            "mapping: m\nhooks:\n  inline: |\n    fn f(x) { x }\n  limits: { max_operation: 5 }\nfields:\n  a: f($.a)\n",
            "m.yaml",
        )
        .unwrap_err();
        assert!(err.render(false).contains("did you mean `max_operations`?"), "{}", err.render(false));
    }
}
