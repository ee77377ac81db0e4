//! Reading and validating a config file, reporting every mistake with its
//! position.
//!
//! The text is parsed into TOML's spanned tree first; each section and each
//! value is then read on its own, so one wrong value does not hide the
//! others. Only a TOML syntax error stops the check, since nothing after it
//! can be trusted.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::Config;
use super::auth::{self, AUTH_KEYS};
use super::mqtt_out::{self, MQTT_OUT_KEYS};
use super::scripts::{self, SCRIPTS_KEYS};
use super::server::{self, SERVER_KEYS};
use crate::config_file::read::{Env, Section, describe};
use crate::config_file::report::{Report, closest, line_column};
use crate::config_file::script::load_scripts;
use crate::config_file::{ConfigError, ConfigErrors};
use crate::sources::SourceConfig;
use crate::units::config::{self as unit, UNIT_KEYS};

/// Reads and validates a config file; `env:NAME` values come from the
/// process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => "; check the path, or pass another file with -c",
            std::io::ErrorKind::InvalidData => "; save it as UTF-8 text",
            _ => "",
        };
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {e}{hint}"),
        }])
    })?;
    parse_str(&text, path)
}

/// Parses and validates config text. `file` names the file in messages, and
/// relative paths in the config are resolved against its directory;
/// `env:NAME` values come from the process environment.
pub fn parse_str(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
    parse_str_with_env(text, file, &|name| std::env::var(name).ok())
}

/// [`parse_str`] with `env:NAME` values looked up by `env` instead of in the
/// process environment, so that tests can supply secrets without changing
/// global state.
pub fn parse_str_with_env(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => {
            let (line, column) = e
                .span()
                .map_or((1, 1), |span| line_column(text, span.start));
            return Err(ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                line,
                column,
                message: format!(
                    "TOML syntax error: {}; fix it here (the rest of the file is checked once it parses)",
                    e.message().trim_end()
                ),
            }]));
        }
    };
    let config_dir = file.parent().unwrap_or(Path::new(""));
    let mut report = Report::new(text);
    let mut config = read_document(&mut report, document.get_ref(), env, config_dir);
    let all_scripts = config
        .units
        .iter_mut()
        .flat_map(|u| u.scripts.iter_mut())
        .chain(config.sources.iter_mut().flat_map(|s| s.scripts.iter_mut()));
    load_scripts(&mut report, file, config_dir, &config.scripts, all_scripts);
    if report.is_empty() {
        Ok(config)
    } else {
        Err(report.into_errors(file))
    }
}

const SECTIONS: &[&str] = &["server", "auth", "source", "unit", "scripts", "mqtt_out"];

fn read_document(
    report: &mut Report,
    document: &DeTable<'_>,
    env: Env<'_>,
    config_dir: &Path,
) -> Config {
    for key in document.keys() {
        let name: &str = key.get_ref();
        if !SECTIONS.contains(&name) {
            let hint = closest(name, SECTIONS)
                .map(|c| format!("did you mean `{c}`? The"))
                .unwrap_or_else(|| "the".to_string());
            report.add(
                key.span(),
                format!(
                    "unknown key `{name}` at the top level; {hint} sections allowed are \
                     [server], [auth], [scripts], [[source]], [[unit]] and [mqtt_out]"
                ),
            );
        }
    }

    let mut config = Config::default();
    let mut listen_span = None;
    if let Some(table) = table_section(report, document, "server") {
        let section = Section::new(
            report,
            table.0,
            table.1,
            "[server]".to_string(),
            SERVER_KEYS,
        );
        (config.server, listen_span) = server::read(report, &section, config_dir);
    }
    if let Some(table) = table_section(report, document, "auth") {
        let section = Section::new(report, table.0, table.1, "[auth]".to_string(), AUTH_KEYS);
        config.auth = Some(auth::read(report, &section, env));
    }
    if let Some(table) = table_section(report, document, "mqtt_out") {
        let label = "[mqtt_out]".to_string();
        let section = Section::new(report, table.0, table.1, label, MQTT_OUT_KEYS);
        config.mqtt_out = mqtt_out::read(report, &section, env, config_dir);
    }
    if let Some(span) = listen_span
        && config.auth.is_none()
        && !config.server.allow_open
        && !config.server.listen.ip().is_loopback()
    {
        report.add(
            span,
            format!(
                "`listen` in [server] is {}, which other machines can reach, but there is \
                     no [auth]; add [auth] with `api_keys`, listen on 127.0.0.1, or set \
                     `allow_open = true` to serve without authentication",
                config.server.listen
            ),
        );
    }

    if let Some(table) = table_section(report, document, "scripts") {
        let section = Section::new(
            report,
            table.0,
            table.1,
            "[scripts]".to_string(),
            SCRIPTS_KEYS,
        );
        config.scripts = scripts::read(report, &section);
    }

    let mut names = Vec::new();
    for (index, table, span) in array_section(report, document, "source") {
        let label = match table.get("name").and_then(|v| v.get_ref().as_str()) {
            Some(name) => format!("[[source]] `{name}`"),
            None => format!("[[source]] #{}", index + 1),
        };
        let section = Section::unchecked(table, span, label);
        let built = SourceConfig::read(report, &section, env, config_dir);
        names.extend(built.name);
        config.sources.extend(built.config);
    }
    report_repeats(
        report,
        names.iter().map(|n| (n.get_ref().as_str(), n.span())),
        |name, first| {
            format!(
                "source name `{name}` is already used by the [[source]] on line {first}; \
                 give each source its own name (case is ignored)"
            )
        },
    );

    let mut addresses = Vec::new();
    let mut entity_ids = Vec::new();
    for (index, table, span) in array_section(report, document, "unit") {
        let label = match table.get("address").and_then(|v| v.get_ref().as_str()) {
            Some(address) => format!("[[unit]] `{address}`"),
            None => format!("[[unit]] #{}", index + 1),
        };
        let section = Section::new(report, table, span, label, UNIT_KEYS);
        let built = unit::read(report, &section);
        addresses.extend(built.address);
        entity_ids.extend(built.entity_id);
        config.units.extend(built.config);
    }
    let repeated_addresses = report_repeats(
        report,
        addresses.iter().map(|a| (a.get_ref().as_str(), a.span())),
        |address, first| {
            format!(
                "unit address `{address}` is already used by the [[unit]] on line {first} \
                 (addresses ignore case); give each unit its own address"
            )
        },
    );
    let mut first_ids: HashMap<&str, usize> = HashMap::new();
    for (id, span, explicit) in &entity_ids {
        if repeated_addresses.contains(&span.start) {
            continue;
        }
        match first_ids.get(id.as_str()) {
            Some(&start) => {
                let line = report.line_of(start);
                let message = if *explicit {
                    format!(
                        "entity_id `{id}` is already used by the [[unit]] on line {line}; \
                         set a different `entity_id` on one of them"
                    )
                } else {
                    format!(
                        "this unit's default entity_id `{id}` (made from its address) is \
                         already used by the [[unit]] on line {line}; set `entity_id` on one \
                         of them"
                    )
                };
                report.add(span.clone(), message);
            }
            None => {
                first_ids.insert(id, span.start);
            }
        }
    }
    config
}

/// The table under `key`, if present, with the span of its header; anything
/// other than a table is reported.
fn table_section<'a, 'i>(
    report: &mut Report,
    document: &'a DeTable<'i>,
    key: &str,
) -> Option<(&'a DeTable<'i>, Range<usize>)> {
    let value = document.get(key)?;
    match value.get_ref() {
        DeValue::Table(table) => Some((table, value.span())),
        other => {
            report.add(
                value.span(),
                format!(
                    "`{key}` must be a section written `[{key}]`, not {}",
                    describe(other)
                ),
            );
            None
        }
    }
}

/// The tables of an array of tables (`[[source]]`), each with its index and
/// the span of its header; anything else is reported.
fn array_section<'a, 'i>(
    report: &mut Report,
    document: &'a DeTable<'i>,
    key: &str,
) -> Vec<(usize, &'a DeTable<'i>, Range<usize>)> {
    let Some(value) = document.get(key) else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        report.add(
            value.span(),
            format!(
                "`{key}` must be written `[[{key}]]` (one per {key}), not {}",
                describe(value.get_ref())
            ),
        );
        return Vec::new();
    };
    let mut tables = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item.get_ref() {
            DeValue::Table(table) => tables.push((index, table, item.span())),
            other => report.add(
                item.span(),
                format!(
                    "each `{key}` must be a table written `[[{key}]]`, not {}",
                    describe(other)
                ),
            ),
        }
    }
    tables
}

/// Reports every name after its first occurrence (ASCII case ignored), at
/// the repeat; returns the span starts of the repeats.
fn report_repeats<'n>(
    report: &mut Report,
    names: impl Iterator<Item = (&'n str, Range<usize>)>,
    message: impl Fn(&str, usize) -> String,
) -> Vec<usize> {
    let mut first: HashMap<String, Range<usize>> = HashMap::new();
    let mut repeats = Vec::new();
    for (name, span) in names {
        let key = name.to_ascii_lowercase();
        match first.get(&key) {
            Some(first_span) => {
                let line = report.line_of(first_span.start);
                report.add(span.clone(), message(name, line));
                repeats.push(span.start);
            }
            None => {
                first.insert(key, span);
            }
        }
    }
    repeats
}
