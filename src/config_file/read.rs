//! Reading typed values out of one table of the spanned TOML tree. Each value
//! is read on its own, so a wrong one is reported at its own position and the
//! others are still checked.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Secret;
use super::report::{Report, closest, one_of};

/// A value of the file with its byte range.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Looks up an environment variable; the loader takes it as a parameter so
/// that tests need not change the process environment.
pub(crate) type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// One table of the file (`[server]`, one `[[source]]`, …) and the name
/// messages give it.
pub(crate) struct Section<'a, 'i> {
    table: &'a DeTable<'i>,
    /// The header (or inline table), where a missing key is reported.
    span: Range<usize>,
    /// `[server]`, ``[[source]] `camera` ``: how messages name this table.
    label: String,
}

impl<'a, 'i> Section<'a, 'i> {
    /// Wraps a table, reporting every key that is not in `allowed`.
    pub(crate) fn new(
        report: &mut Report,
        table: &'a DeTable<'i>,
        span: Range<usize>,
        label: String,
        allowed: &[&str],
    ) -> Self {
        let section = Self::unchecked(table, span, label);
        for (name, key_span) in section.keys() {
            if !allowed.contains(&name) {
                report.add(key_span, section.unknown_key(name, allowed));
            }
        }
        section
    }

    /// Wraps a table whose keys the caller checks itself (a `[[source]]`,
    /// whose allowed keys depend on its `type`).
    pub(crate) fn unchecked(table: &'a DeTable<'i>, span: Range<usize>, label: String) -> Self {
        Section { table, span, label }
    }

    /// Every key of the table as written, with where it is.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (&'a str, Range<usize>)> + use<'a, 'i> {
        self.table
            .keys()
            .map(|key| (key.get_ref().as_ref(), key.span()))
    }

    /// "unknown key `x` in …; did you mean …? The keys allowed here are …".
    pub(crate) fn unknown_key(&self, name: &str, allowed: &[&str]) -> String {
        let hint = closest(name, allowed)
            .map(|c| format!("did you mean `{c}`? The"))
            .unwrap_or_else(|| "the".to_string());
        format!(
            "unknown key `{name}` in {}; {hint} keys allowed here are {}",
            self.label,
            one_of(allowed)
        )
    }

    /// How messages name this table.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Where the table starts (its header).
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The raw value of `key`, if present.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table.get(key)
    }

    /// Where `key` is written, if present.
    pub(crate) fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table.get_key_value(key).map(|(k, _)| k.span())
    }

    /// Reports that a required key is absent, at the table's header.
    pub(crate) fn missing(&self, report: &mut Report, key: &str, example: &str) {
        report.add(
            self.span(),
            format!(
                "{} has no `{key}`; add one, e.g. `{key} = {example}`",
                self.label
            ),
        );
    }

    fn wrong_type(&self, report: &mut Report, key: &str, value: &Value<'_>, expected: &str) {
        report.add(
            value.span(),
            format!(
                "`{key}` in {} must be {expected}, not {}",
                self.label,
                describe(value.get_ref())
            ),
        );
    }

    /// An inline or nested table (`tls = { … }`) as a section of its own,
    /// named `` `key` in <this label> `` in messages, whose keys outside
    /// `allowed` are reported.
    pub(crate) fn table(
        &self,
        report: &mut Report,
        key: &str,
        allowed: &[&str],
    ) -> Option<Section<'a, 'i>> {
        let value = self.value(key)?;
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(report, key, value, "a table, e.g. { name = \"value\" }");
            return None;
        };
        let label = format!("`{key}` in {}", self.label);
        Some(Section::new(report, table, value.span(), label, allowed))
    }

    /// A string value.
    pub(crate) fn string(&self, report: &mut Report, key: &str) -> Option<Spanned<String>> {
        let value = self.value(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.wrong_type(report, key, value, "a string in quotes");
                None
            }
        }
    }

    /// A string value that must be present and not empty.
    pub(crate) fn required_string(
        &self,
        report: &mut Report,
        key: &str,
        example: &str,
    ) -> Option<Spanned<String>> {
        if self.value(key).is_none() {
            self.missing(report, key, example);
            return None;
        }
        let s = self.string(report, key)?;
        if s.get_ref().trim().is_empty() {
            report.add(
                s.span(),
                format!(
                    "`{key}` in {} is empty; write e.g. `{key} = {example}`",
                    self.label
                ),
            );
            return None;
        }
        Some(s)
    }

    /// A boolean value.
    pub(crate) fn bool(&self, report: &mut Report, key: &str) -> Option<bool> {
        let value = self.value(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            DeValue::String(s) if matches!(s.as_ref(), "true" | "false") => {
                report.add(
                    value.span(),
                    format!(
                        "`{key}` in {} must be a boolean; write `{key} = {s}` without quotes",
                        self.label
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(report, key, value, "`true` or `false`");
                None
            }
        }
    }

    /// A whole number within `range`.
    pub(crate) fn integer(
        &self,
        report: &mut Report,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<Spanned<i64>> {
        let value = self.value(key)?;
        let DeValue::Integer(n) = value.get_ref() else {
            self.wrong_type(report, key, value, "a whole number");
            return None;
        };
        match i64::from_str_radix(n.as_str(), n.radix()) {
            Ok(n) if range.contains(&n) => Some(Spanned::new(value.span(), n)),
            _ => {
                report.add(
                    value.span(),
                    format!(
                        "`{key}` in {} is {n}; it must be between {} and {}",
                        self.label,
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// A humantime duration (`500ms`, `5s`, `7d`); zero only if `allow_zero`.
    /// A bare number is refused, with a hint that keeps its magnitude.
    pub(crate) fn duration(
        &self,
        report: &mut Report,
        key: &str,
        allow_zero: bool,
    ) -> Option<Spanned<Duration>> {
        self.read_duration(report, key, allow_zero, false)
    }

    /// A duration that may also be a bare whole number of milliseconds, as
    /// Neuro's `config.js` writes a source's `interval` (`5000` is 5 s).
    pub(crate) fn duration_or_millis(
        &self,
        report: &mut Report,
        key: &str,
    ) -> Option<Spanned<Duration>> {
        self.read_duration(report, key, false, true)
    }

    fn read_duration(
        &self,
        report: &mut Report,
        key: &str,
        allow_zero: bool,
        bare_millis: bool,
    ) -> Option<Spanned<Duration>> {
        let value = self.value(key)?;
        let text = match value.get_ref() {
            DeValue::String(s) => s.as_ref(),
            DeValue::Integer(_) if bare_millis => {
                let millis = self.integer(report, key, 1..=i64::from(u32::MAX))?;
                let millis = u64::try_from(*millis.get_ref()).unwrap_or(u64::MAX);
                return Some(Spanned::new(value.span(), Duration::from_millis(millis)));
            }
            DeValue::Integer(n) => {
                report.add(
                    value.span(),
                    format!(
                        "`{key}` in {} must be a duration with a unit, not a bare number; \
                         write e.g. `{key} = \"{n}ms\"` (or in `s`, `min`, `h`, `d`)",
                        self.label
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(report, key, value, "a duration such as \"5s\"");
                return None;
            }
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() && !allow_zero => {
                report.add(
                    value.span(),
                    format!(
                        "`{key}` in {} must be longer than zero; write e.g. `{key} = \"1s\"`",
                        self.label
                    ),
                );
                None
            }
            Ok(d) => Some(Spanned::new(value.span(), d)),
            Err(e) => {
                report.add(
                    value.span(),
                    format!(
                        "`{key}` in {}: `{text}` is not a duration ({e}); \
                         write it like `500ms`, `5s`, `10min` or `7d`",
                        self.label
                    ),
                );
                None
            }
        }
    }

    /// An array of strings.
    pub(crate) fn strings(
        &self,
        report: &mut Report,
        key: &str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let value = self.value(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            let hint = if value.get_ref().is_str() {
                "a list in brackets, e.g. [\"a\", \"b\"]"
            } else {
                "a list of strings"
            };
            self.wrong_type(report, key, value, hint);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => {
                    ok = false;
                    report.add(
                        item.span(),
                        format!(
                            "`{key}` in {} must hold only strings in quotes, not {}",
                            self.label,
                            describe(other)
                        ),
                    );
                }
            }
        }
        ok.then(|| Spanned::new(value.span(), out))
    }

    /// A secret: a string, or `"env:NAME"` read from the environment.
    pub(crate) fn secret(&self, report: &mut Report, key: &str, env: Env<'_>) -> Option<Secret> {
        let value = self.value(key)?;
        match value.get_ref() {
            DeValue::String(s) => self.resolve(report, key, s, value.span(), env),
            _ => {
                self.wrong_type(report, key, value, "a string (or \"env:NAME\")");
                None
            }
        }
    }

    /// An array of secrets.
    pub(crate) fn secrets(
        &self,
        report: &mut Report,
        key: &str,
        env: Env<'_>,
    ) -> Option<Vec<Spanned<Secret>>> {
        let items = self.strings(report, key)?.into_inner();
        let resolved: Vec<Option<Spanned<Secret>>> = items
            .into_iter()
            .map(|item| {
                let span = item.span();
                self.resolve(report, key, item.get_ref(), span.clone(), env)
                    .map(|s| Spanned::new(span, s))
            })
            .collect();
        resolved.into_iter().collect()
    }

    /// A table of secrets (`headers = { Authorization = "env:CAM_AUTH" }`),
    /// each with the span of its key.
    pub(crate) fn secret_table(
        &self,
        report: &mut Report,
        key: &str,
        env: Env<'_>,
    ) -> Option<Vec<(Spanned<String>, Secret)>> {
        let value = self.value(key)?;
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(report, key, value, "a table, e.g. { Name = \"value\" }");
            return None;
        };
        let mut out = Vec::with_capacity(table.len());
        let mut ok = true;
        for (name, item) in table.iter() {
            let entry = format!("{key}.{}", name.get_ref());
            let secret = match item.get_ref() {
                DeValue::String(s) => self.resolve(report, &entry, s, item.span(), env),
                _ => {
                    self.wrong_type(report, &entry, item, "a string (or \"env:NAME\")");
                    None
                }
            };
            match secret {
                Some(secret) => out.push((
                    Spanned::new(name.span(), name.get_ref().to_string()),
                    secret,
                )),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn resolve(
        &self,
        report: &mut Report,
        key: &str,
        raw: &str,
        span: Range<usize>,
        env: Env<'_>,
    ) -> Option<Secret> {
        let Some(name) = raw.strip_prefix("env:") else {
            return Some(Secret(raw.to_string()));
        };
        if name.is_empty() {
            report.add(
                span,
                format!(
                    "`{key}` in {} says `env:` with no variable name; write `env:NAME`",
                    self.label
                ),
            );
            return None;
        }
        match env(name) {
            Some(v) => Some(Secret(v)),
            None => {
                report.add(
                    span,
                    format!(
                        "environment variable `{name}` (for `{key}` in {}) is not set; \
                         export it before starting homebus, or write the value itself",
                        self.label
                    ),
                );
                None
            }
        }
    }

    /// One of a fixed set of words (ASCII case ignored).
    pub(crate) fn choice<T: Copy>(
        &self,
        report: &mut Report,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<Spanned<T>> {
        let value = self.value(key)?;
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let DeValue::String(s) = value.get_ref() else {
            self.wrong_type(report, key, value, &format!("one of {}", one_of(&names)));
            return None;
        };
        if let Some((_, v)) = options.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Some(Spanned::new(value.span(), *v));
        }
        let hint = closest(s, &names)
            .map(|c| format!("did you mean `{c}`? It"))
            .unwrap_or_else(|| "it".to_string());
        report.add(
            value.span(),
            format!(
                "`{key}` in {} is `{s}`; {hint} must be {}",
                self.label,
                one_of(&names)
            ),
        );
        None
    }
}

/// `path` made absolute against the working directory, without touching the
/// file system otherwise (the file may not exist yet).
pub(crate) fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// "an integer (5)", "a string": what was found instead, for messages. The
/// text of strings is left out, since it may be a secret.
pub(crate) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(_) => "a string".to_string(),
        DeValue::Integer(n) => format!("a number ({n})"),
        DeValue::Float(f) => format!("a number ({f})"),
        DeValue::Boolean(b) => format!("a boolean ({b})"),
        DeValue::Datetime(_) => "a date".to_string(),
        DeValue::Array(_) => "a list".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}
