//! `[scripts]`: the bounds of each script run (see `docs/scripts.md`).

use crate::config_file::read::Section;
use crate::config_file::report::Report;
use crate::config_file::script::ScriptLimits;

/// Keys of `[scripts]`.
pub(super) const SCRIPTS_KEYS: &[&str] = &[
    "max_operations",
    "max_call_depth",
    "max_expr_depth",
    "max_string_size",
    "max_array_size",
    "max_map_size",
    "max_run_time",
];

/// `[scripts]`; what it does not set keeps its default.
pub(super) fn read(report: &mut Report, section: &Section<'_, '_>) -> ScriptLimits {
    let mut limits = ScriptLimits::default();
    let count = |report: &mut Report, key: &str, max: i64| {
        section
            .integer(report, key, 1..=max)
            .map(|n| usize::try_from(*n.get_ref()).unwrap_or(usize::MAX))
    };
    if let Some(n) = count(report, "max_operations", i64::MAX) {
        limits.max_operations = u64::try_from(n).unwrap_or(u64::MAX);
    }
    if let Some(n) = count(report, "max_call_depth", 256) {
        limits.max_call_depth = n;
    }
    if let Some(n) = count(report, "max_expr_depth", 256) {
        limits.max_expr_depth = n;
    }
    if let Some(n) = count(report, "max_string_size", i64::MAX) {
        limits.max_string_size = n;
    }
    if let Some(n) = count(report, "max_array_size", i64::MAX) {
        limits.max_array_size = n;
    }
    if let Some(n) = count(report, "max_map_size", i64::MAX) {
        limits.max_map_size = n;
    }
    if let Some(d) = section.duration(report, "max_run_time", false) {
        limits.max_run_time = d.into_inner();
    }
    limits
}
