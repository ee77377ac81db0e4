//! `type = "file"` (Neuro: `FILE`): a local file read every `interval` and
//! whenever it changes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::config_file::read::{Section, absolute};
use crate::config_file::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{SourceKind, SourceType, TypeSection, optional};

/// Poll interval of a `file` source that sets none (changes are also noticed
/// as they happen, so this is only the fallback).
pub const DEFAULT_FILE_INTERVAL: Duration = Duration::from_secs(1);

/// A `file` source's own keys.
#[derive(Debug, Clone)]
pub struct FileConfig {
    /// `url` (or `path`, the same): `file:///absolute/path`, an absolute
    /// path, or a path relative to the config file's directory. Once loaded
    /// it is the absolute path.
    pub path: PathBuf,
    /// `interval`: how often the file is read even when no change was
    /// signalled. Default `"1s"`; a bare number is milliseconds, as Neuro
    /// writes it.
    pub interval: Duration,
}

/// The `file` type: its keys, default format and reader.
pub(crate) const TYPE: SourceType = SourceType {
    name: "file",
    aliases: &[],
    keys: &["url", "path", "interval"],
    url: (&[], "\"events.txt\""),
    default_format: FormatKind::FileKv,
    read,
};

fn read(report: &mut Report, input: TypeSection<'_, '_, '_>) -> Option<SourceKind> {
    let section = input.section;
    let path = location(report, section, input.config_dir);
    let interval = section.duration_or_millis(report, "interval");
    let interval = optional(section, "interval", interval);
    Some(SourceKind::File(FileConfig {
        path: path?,
        interval: interval?.unwrap_or(DEFAULT_FILE_INTERVAL),
    }))
}

/// `url` or `path` (not both) as an absolute path.
fn location(report: &mut Report, section: &Section<'_, '_>, config_dir: &Path) -> Option<PathBuf> {
    let key = match (section.value("url"), section.value("path")) {
        (Some(_), Some(_)) => {
            if let Some(span) = section.key_span("path") {
                report.add(
                    span,
                    format!(
                        "{} has both `url` and `path`, which mean the same; keep one",
                        section.label()
                    ),
                );
            }
            return None;
        }
        (None, Some(_)) => "path",
        _ => "url",
    };
    let text = section.required_string(report, key, "\"events.txt\"")?;
    file_path(report, section, key, &text, config_dir)
}

/// A `file` source's location as an absolute path: `file:///abs`, an
/// absolute path, or a path relative to the config file's directory.
fn file_path(
    report: &mut Report,
    section: &Section<'_, '_>,
    key: &str,
    text: &Spanned<String>,
    config_dir: &Path,
) -> Option<PathBuf> {
    let raw = text.get_ref().trim();
    let path: PathBuf = if raw.starts_with("file:") {
        let path = url::Url::parse(raw)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .filter(|p| p.is_absolute());
        match path {
            Some(p) => p,
            None => {
                report.add(
                    text.span(),
                    format!(
                        "`{key}` in {} is not a file URL with an absolute path; \
                         write `file:///absolute/path`, an absolute path, \
                         or a path relative to the config file",
                        section.label()
                    ),
                );
                return None;
            }
        }
    } else if raw.contains("://") {
        report.add(
            text.span(),
            format!(
                "`{key}` in {} is a network URL, but a `file` source reads a local file; \
                 write `file:///absolute/path`, an absolute path, or a path relative to \
                 the config file (or change `type`)",
                section.label()
            ),
        );
        return None;
    } else {
        config_dir.join(raw)
    };
    Some(absolute(&path))
}
