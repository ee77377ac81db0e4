//! Scripts as the config names them (`on_script`, `on_unparsed`, …): a
//! `.rhai` file next to the config or inline code, the limits of
//! `[scripts]`, and the one sandboxed Rhai engine that both `homebus check`
//! and the running hub compile with, so a script that passes the check
//! compiles at start.
//!
//! The rule that tells a file from code: a value that ends in `.rhai` and
//! holds no line break is a path (relative to the config file's folder),
//! which must exist; anything else is Rhai code.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::de::DeValue;

use super::ConfigError;
use super::read::Section;
use super::report::{Report, line_column};

/// One configured script: its code and where it was written, for
/// `file:line:column` in every message about it.
#[derive(Debug, Clone)]
pub struct ScriptText {
    /// The Rhai code (read from the file once the config is loaded).
    pub code: Arc<str>,
    /// Where the code is written.
    pub origin: ScriptOrigin,
    /// How messages name it: `` `on_script` of [[unit]] `MOTION` ``.
    pub label: Arc<str>,
    /// The config value's byte range (quotes included).
    pub span: Range<usize>,
}

/// Where a script's code is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOrigin {
    /// A `.rhai` file; relative to the config's folder until the config is
    /// loaded, absolute after.
    File(PathBuf),
    /// Inline code in the config file.
    Inline {
        /// Where the code itself starts in the config text, when the text
        /// there is the code exactly (a string without escapes), so Rhai's
        /// line and column map onto the config file.
        code_start: Option<usize>,
        /// The config file and the value's 1-based line and column, once
        /// the config is loaded (for messages at run time).
        place: Option<(PathBuf, usize, usize)>,
    },
}

impl ScriptText {
    /// `file:line:column` of a place Rhai names in this script (1-based line
    /// and column of the code; `None` for the script's start).
    pub fn place(&self, position: Option<(usize, usize)>) -> String {
        let (line, column) = position.unwrap_or((1, 1));
        match &self.origin {
            ScriptOrigin::File(path) => format!("{}:{line}:{column}", path.display()),
            ScriptOrigin::Inline {
                place: Some((file, at_line, at_column)),
                ..
            } => format!(
                "{}:{at_line}:{at_column} ({}, code line {line} column {column})",
                file.display(),
                self.label
            ),
            ScriptOrigin::Inline { place: None, .. } => {
                format!("{} line {line} column {column}", self.label)
            }
        }
    }
}

/// `[scripts]`: the bounds of each run of any script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// `max_operations`: Rhai operations per run. Default 1,000,000.
    pub max_operations: u64,
    /// `max_call_depth`: nested function calls. Default 32.
    pub max_call_depth: usize,
    /// `max_expr_depth`: nesting of expressions (also at compile time).
    /// Default 64.
    pub max_expr_depth: usize,
    /// `max_string_size`: bytes in one string. Default 1 MiB.
    pub max_string_size: usize,
    /// `max_array_size`: items in one array. Default 10,000.
    pub max_array_size: usize,
    /// `max_map_size`: entries in one object map. Default 10,000.
    pub max_map_size: usize,
    /// `max_run_time`: wall time per run. Default `1s`.
    pub max_run_time: Duration,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 1_000_000,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_size: 1024 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_run_time: Duration::from_secs(1),
        }
    }
}

/// The sandbox every script runs in: no `eval`, no modules (`import`
/// reaches no file), `print`/`debug` into the log, and `limits` (except the
/// wall time, which the runner checks in `on_progress`). Rhai itself has no
/// file, process or network functions.
pub fn sandbox_engine(limits: &ScriptLimits) -> rhai::Engine {
    let mut engine = rhai::Engine::new();
    engine
        .disable_symbol("eval")
        .set_max_modules(0)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .on_print(|text| tracing::info!("script print: {text}"))
        .on_debug(|text, _, position| tracing::debug!("script debug at {position}: {text}"));
    engine
}

/// A script that does not compile: Rhai's message and its 1-based line and
/// column in the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Rhai's message, without the position.
    pub message: String,
    /// Line and column in the code, when Rhai gives them.
    pub position: Option<(usize, usize)>,
}

/// Compiles `code` with `engine`.
pub fn compile(engine: &rhai::Engine, code: &str) -> Result<rhai::AST, CompileError> {
    engine.compile(code).map_err(|e| {
        let position = e.position();
        CompileError {
            message: e.err_type().to_string(),
            position: position
                .line()
                .map(|line| (line, position.position().unwrap_or(1))),
        }
    })
}

impl Section<'_, '_> {
    /// A script key (`on_script`, `on_unparsed`, …): a `.rhai` path or
    /// inline code; the file is read and everything compiled by
    /// [`load_scripts`] once the whole config is read.
    pub(crate) fn script(&self, report: &mut Report, key: &str) -> Option<ScriptText> {
        let value = self.value(key)?;
        let DeValue::String(text) = value.get_ref() else {
            report.add(
                value.span(),
                format!(
                    "`{key}` in {} must be a string: a `.rhai` file or Rhai code, e.g. \
                     `{key} = 'unit(\"HALL\").on()'`",
                    self.label()
                ),
            );
            return None;
        };
        let label: Arc<str> = Arc::from(format!("`{key}` of {}", self.label()));
        let is_file = text.trim_end().ends_with(".rhai") && !text.contains('\n');
        let span = value.span();
        if is_file {
            return Some(ScriptText {
                code: Arc::from(""),
                origin: ScriptOrigin::File(PathBuf::from(text.trim())),
                label,
                span,
            });
        }
        let code_start = code_start(report.text(), span.clone(), text);
        Some(ScriptText {
            code: Arc::from(text.as_ref()),
            origin: ScriptOrigin::Inline {
                code_start,
                place: None,
            },
            label,
            span,
        })
    }
}

/// Where `code` starts in the config text when the string value at `span`
/// holds it verbatim (after its quotes and, for `'''`, the first line
/// break); `None` when escapes make the text differ.
fn code_start(text: &str, span: Range<usize>, code: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    let quotes = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        3
    } else {
        1
    };
    let mut start = span.start + quotes;
    let rest = text.get(start..)?;
    if quotes == 3 {
        if rest.starts_with("\r\n") {
            start += 2;
        } else if rest.starts_with('\n') {
            start += 1;
        }
    }
    text.get(start..)?.starts_with(code).then_some(start)
}

/// Reads every file script (relative to `config_dir`) and compiles every
/// script with the engine of `limits`; a file that cannot be read is
/// reported at its config value, a syntax error at its own `file:line:column`
/// (a file's, or the config's for inline code).
pub(crate) fn load_scripts<'s>(
    report: &mut Report,
    config_file: &Path,
    config_dir: &Path,
    limits: &ScriptLimits,
    scripts: impl Iterator<Item = &'s mut ScriptText>,
) {
    let engine = sandbox_engine(limits);
    for script in scripts {
        match &mut script.origin {
            ScriptOrigin::File(path) => {
                let full = super::read::absolute(&config_dir.join(&*path));
                match std::fs::read_to_string(&full) {
                    Ok(code) => script.code = Arc::from(code),
                    Err(e) => {
                        report.add(
                            script.span.clone(),
                            format!(
                                "{}: cannot read the script file {}: {e}; check the path \
                                 (relative to the config file's folder), or write the code \
                                 inline (a value not ending in `.rhai` is code)",
                                script.label,
                                full.display()
                            ),
                        );
                        continue;
                    }
                }
                *path = full;
            }
            ScriptOrigin::Inline { place, .. } => {
                let (line, column) = line_column(report.text(), script.span.start);
                *place = Some((config_file.to_path_buf(), line, column));
            }
        }
        let Err(error) = compile(&engine, &script.code) else {
            continue;
        };
        let message = format!(
            "Rhai syntax error in {}: {}; fix the script (`homebus check` compiles every script)",
            script.label, error.message
        );
        match &script.origin {
            ScriptOrigin::File(path) => {
                let (line, column) = error.position.unwrap_or((0, 0));
                report.add_in_file(ConfigError {
                    file: path.clone(),
                    line,
                    column,
                    message,
                });
            }
            ScriptOrigin::Inline { code_start, .. } => {
                let at = match (code_start, error.position) {
                    (Some(start), Some((line, column))) => {
                        start + byte_offset(&script.code, line, column)
                    }
                    _ => script.span.start,
                };
                report.add(at..at, message);
            }
        }
    }
}

/// The byte offset of a 1-based line and (character) column in `code`,
/// clamped to its end.
fn byte_offset(code: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in code.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            return offset
                + text
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(text.len(), |(at, _)| at);
        }
        offset += text.len();
    }
    code.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offset_counts_lines_and_characters_from_one() {
        let code = "let a = 1;\nlet é = x;\n";
        assert_eq!(byte_offset(code, 1, 1), 0);
        assert_eq!(byte_offset(code, 2, 1), 11);
        assert_eq!(byte_offset(code, 2, 6), 11 + 6);
        assert_eq!(byte_offset(code, 9, 9), code.len());
    }

    #[test]
    fn code_start_skips_quotes_and_the_first_line_break_of_triple_quotes() {
        let text = "a = 'x()'\nb = '''\ny()'''\nc = \"q\\\"\"";
        let a = text.find("'x").unwrap();
        assert_eq!(code_start(text, a..a + 5, "x()"), Some(a + 1));
        let b = text.find("'''").unwrap();
        assert_eq!(code_start(text, b..b + 10, "y()"), Some(b + 4));
        let c = text.find('"').unwrap();
        assert_eq!(code_start(text, c..text.len(), "q\""), None);
    }

    #[test]
    fn the_sandbox_refuses_eval_and_import() {
        let engine = sandbox_engine(&ScriptLimits::default());
        assert!(compile(&engine, "eval(\"1\")").is_err());
        let ast = compile(&engine, "import \"x\" as y;").expect("import parses");
        assert!(engine.run_ast(&ast).is_err());
    }
}

#[cfg(test)]
#[path = "script/tests.rs"]
mod config_tests;
