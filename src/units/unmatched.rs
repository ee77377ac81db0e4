//! Events that no unit took: what a source delivers before the user has
//! declared a `[[unit]]` for it, kept so the API and the dashboard can show
//! the name and the line to add instead of only a log line.
//!
//! The record is bounded whatever a source sends: at most
//! [`UnmatchedEvents::CAPACITY`] names, each name and its last data cut to
//! [`MAX_TEXT_CHARS`] characters; a new name when the record is full evicts
//! the least recently seen one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::UnitKind;
use super::registry::kind_for;
use crate::event::Event;
use crate::interpret::Command;

/// The most characters of an event name or its data that are kept; longer
/// text is cut on a character boundary and ends in `…`.
pub const MAX_TEXT_CHARS: usize = 200;

/// One (source, name) pair that no unit took, as it is kept.
#[derive(Debug, Clone)]
struct Entry {
    /// The name as first seen (possibly cut to [`MAX_TEXT_CHARS`]).
    name: String,
    /// Whether `name` was cut: a cut name is no address to suggest.
    name_cut: bool,
    source: Arc<str>,
    count: u64,
    /// The last data, cut to [`MAX_TEXT_CHARS`]; `None` when it had none.
    last_data: Option<String>,
    last_seen: DateTime<Utc>,
    /// The kind a `[[unit]]` for this name should have, guessed from the
    /// last data (text gives a sensor).
    kind: UnitKind,
    /// Whether `create_units = true` on the source would make the unit:
    /// the source does not have it yet, and the last data is one a unit can
    /// be created from (plain text is not).
    creatable: bool,
    /// The record's clock when this entry was last seen: orders eviction
    /// without depending on wall-clock ties.
    touched: u64,
}

/// What `GET /api/events/unmatched` lists for one name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnmatchedEvent {
    /// The event name as first seen (ASCII case aside, later events with
    /// the same name count here too).
    pub name: String,
    /// The source that delivered it.
    pub source: String,
    /// How many events with this name the source delivered.
    pub count: u64,
    /// The last event's data, cut to [`MAX_TEXT_CHARS`] characters; `None`
    /// when it carried none.
    pub last_data: Option<String>,
    /// When the last one arrived (RFC 3339).
    pub last_seen: String,
    /// The `[[unit]]` section that makes a unit take these events; `None`
    /// when the name was too long to keep whole.
    pub suggestion: Option<String>,
    /// The other way: `create_units = true` on the source, when that would
    /// create the unit.
    pub alternative: Option<String>,
}

/// The unmatched events, most recently seen first, and how many names
/// were evicted to keep the record bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmatchedList {
    /// The names still without a unit.
    pub events: Vec<UnmatchedEvent>,
    /// How many names have been dropped since start-up because the record
    /// was full.
    pub evicted: u64,
}

/// The bounded record, keyed by source name and event name (ASCII case
/// ignored, as unit addresses are). It is not locked itself: the hub keeps
/// it under its own lock and touches it only for events no unit took.
#[derive(Debug)]
pub struct UnmatchedEvents {
    /// (source, lower-cased name) → entry.
    entries: HashMap<(Arc<str>, String), Entry>,
    capacity: usize,
    /// Bumped on every record; the entry with the smallest `touched` goes first.
    clock: u64,
    evicted: u64,
}

impl Default for UnmatchedEvents {
    fn default() -> Self {
        Self::with_capacity(Self::CAPACITY)
    }
}

impl UnmatchedEvents {
    /// How many names the hub's record keeps.
    pub const CAPACITY: usize = 256;

    /// An empty record that keeps at most `capacity` names (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        UnmatchedEvents {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
            evicted: 0,
        }
    }

    /// Counts an event that no unit took. `command` is its data read by the
    /// XTension rules; `source_creates_units` is the source's `create_units`.
    pub fn record(&mut self, event: &Event, command: &Command, source_creates_units: bool) {
        self.clock += 1;
        let (name, name_cut) = cut(&event.name);
        let kind = kind_for(command);
        let key = (event.source.clone(), name.to_ascii_lowercase());
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.evict_least_recent();
        }
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            name,
            name_cut,
            source: event.source.clone(),
            count: 0,
            last_data: None,
            last_seen: event.received_at,
            kind: UnitKind::Sensor,
            creatable: false,
            touched: 0,
        });
        entry.count += 1;
        entry.last_data = event.data.as_deref().map(|d| cut(d).0);
        entry.last_seen = event.received_at;
        entry.kind = kind.unwrap_or(UnitKind::Sensor);
        entry.creatable = kind.is_some() && !source_creates_units;
        entry.touched = self.clock;
    }

    /// The names no unit has taken yet, most recently seen first. Entries
    /// whose name is now a unit's address (`has_unit` says so) are dropped
    /// for good.
    pub fn list(&mut self, has_unit: impl Fn(&str) -> bool) -> UnmatchedList {
        self.entries.retain(|_, entry| !has_unit(&entry.name));
        let mut entries: Vec<&Entry> = self.entries.values().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.touched));
        UnmatchedList {
            events: entries.into_iter().map(Entry::view).collect(),
            evicted: self.evicted,
        }
    }

    /// How many names are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no name is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_least_recent(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.touched)
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            self.entries.remove(&key);
            if self.evicted == 0 {
                tracing::warn!(
                    capacity = self.capacity,
                    "more event names without a unit than the record keeps; the least recently \
                     seen are dropped from /api/events/unmatched (declare their [[unit]]s)"
                );
            }
            self.evicted += 1;
        }
    }
}

impl Entry {
    fn view(&self) -> UnmatchedEvent {
        UnmatchedEvent {
            name: self.name.clone(),
            source: self.source.to_string(),
            count: self.count,
            last_data: self.last_data.clone(),
            last_seen: crate::time::ha_timestamp(&self.last_seen),
            suggestion: (!self.name_cut).then(|| unit_section(&self.name, self.kind)),
            alternative: self.creatable.then(|| {
                format!(
                    "create_units = true in [[source]] {}",
                    toml_string(&self.source)
                )
            }),
        }
    }
}

/// The `[[unit]]` section for an address, as a user pastes it into
/// `homebus.toml`.
pub fn unit_section(address: &str, kind: UnitKind) -> String {
    format!(
        "[[unit]]\naddress = {}\nkind = \"{}\"",
        toml_string(address),
        kind.as_str()
    )
}

/// `text` as a TOML string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// `text` cut to [`MAX_TEXT_CHARS`] characters on a character boundary,
/// ending in `…` when it was cut, and whether it was.
fn cut(text: &str) -> (String, bool) {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => (format!("{}…", &text[..end]), true),
        None => (text.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::interpret::interpret;

    fn event(source: &str, name: &str, data: Option<&str>) -> Event {
        Event::new(Arc::from(source), name, data.map(str::to_string))
    }

    fn record(events: &mut UnmatchedEvents, source: &str, name: &str, data: Option<&str>) {
        events.record(&event(source, name, data), &interpret(data), false);
    }

    fn names(events: &mut UnmatchedEvents) -> Vec<String> {
        events
            .list(|_| false)
            .events
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn repeated_events_count_under_the_first_spelling_ignoring_ascii_case() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "porch", "Temperature", Some("21"));
        record(&mut events, "porch", "TEMPERATURE", Some("22"));
        record(&mut events, "porch", "temperature", Some("23"));
        let list = events.list(|_| false);
        assert_eq!(list.events.len(), 1);
        let entry = &list.events[0];
        assert_eq!(entry.name, "Temperature");
        assert_eq!(entry.source, "porch");
        assert_eq!(entry.count, 3);
        assert_eq!(entry.last_data.as_deref(), Some("23"));
    }

    #[test]
    fn the_same_name_from_two_sources_is_two_entries() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "porch", "temperature", Some("21"));
        record(&mut events, "garden", "temperature", Some("12"));
        let list = events.list(|_| false);
        let mut sources: Vec<&str> = list.events.iter().map(|e| e.source.as_str()).collect();
        sources.sort();
        assert_eq!(sources, ["garden", "porch"]);
    }

    #[test]
    fn the_list_is_most_recently_seen_first() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "s", "a", None);
        record(&mut events, "s", "b", None);
        record(&mut events, "s", "c", None);
        record(&mut events, "s", "A", None);
        assert_eq!(names(&mut events), ["a", "c", "b"]);
    }

    #[test]
    fn a_full_record_evicts_the_least_recently_seen_and_counts_it() {
        let mut events = UnmatchedEvents::with_capacity(3);
        record(&mut events, "s", "a", None);
        record(&mut events, "s", "b", None);
        record(&mut events, "s", "c", None);
        record(&mut events, "s", "a", None);
        record(&mut events, "s", "d", None);
        assert_eq!(names(&mut events), ["d", "a", "c"]);
        assert_eq!(events.list(|_| false).evicted, 1);
    }

    #[test]
    fn a_flood_of_distinct_names_never_grows_past_the_capacity() {
        let mut events = UnmatchedEvents::default();
        let long = "x".repeat(MAX_TEXT_CHARS * 3);
        for n in 0..5_000 {
            record(&mut events, "s", &format!("name-{n}"), Some(&long));
        }
        assert_eq!(events.len(), UnmatchedEvents::CAPACITY);
        let list = events.list(|_| false);
        assert_eq!(list.evicted, 5_000 - UnmatchedEvents::CAPACITY as u64);
        assert_eq!(list.events[0].name, "name-4999");
    }

    #[test]
    fn long_data_is_cut_on_a_character_boundary() {
        let mut events = UnmatchedEvents::default();
        let data = "é".repeat(MAX_TEXT_CHARS + 50);
        record(&mut events, "s", "text", Some(&data));
        let kept = events.list(|_| false).events[0].last_data.clone().unwrap();
        assert_eq!(kept.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(kept.ends_with("é…"));
    }

    #[test]
    fn data_at_the_limit_is_kept_whole() {
        let mut events = UnmatchedEvents::default();
        let data = "7".repeat(MAX_TEXT_CHARS);
        record(&mut events, "s", "n", Some(&data));
        assert_eq!(
            events.list(|_| false).events[0].last_data.as_deref(),
            Some(data.as_str())
        );
    }

    #[test]
    fn no_data_is_null_last_data() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "s", "doorbell", None);
        assert_eq!(events.list(|_| false).events[0].last_data, None);
    }

    #[test]
    fn a_name_too_long_to_keep_has_no_suggestion() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "s", &"n".repeat(MAX_TEXT_CHARS * 2), Some("1"));
        let entry = &events.list(|_| false).events[0];
        assert_eq!(entry.name.chars().count(), MAX_TEXT_CHARS + 1);
        assert_eq!(entry.suggestion, None);
    }

    #[test]
    fn names_that_now_have_a_unit_leave_the_record() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "s", "Temperature", Some("21"));
        record(&mut events, "s", "door", Some("on"));
        let list = events.list(|name| name.eq_ignore_ascii_case("temperature"));
        assert_eq!(list.events.len(), 1);
        assert_eq!(list.events[0].name, "door");
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn a_number_suggests_a_sensor() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "porch", "temperature", Some("21,5"));
        let entry = &events.list(|_| false).events[0];
        assert_eq!(
            entry.suggestion.as_deref(),
            Some("[[unit]]\naddress = \"temperature\"\nkind = \"sensor\"")
        );
        assert_eq!(
            entry.alternative.as_deref(),
            Some("create_units = true in [[source]] \"porch\"")
        );
    }

    #[test]
    fn on_off_words_and_no_data_suggest_a_switch() {
        for data in [Some("on"), Some("OFF"), Some("true"), Some("no"), None] {
            let mut events = UnmatchedEvents::default();
            record(&mut events, "s", "door", data);
            let suggestion = events.list(|_| false).events[0].suggestion.clone().unwrap();
            assert!(
                suggestion.ends_with("kind = \"switch\""),
                "{data:?}: {suggestion}"
            );
        }
    }

    #[test]
    fn text_suggests_a_sensor_and_not_create_units() {
        let mut events = UnmatchedEvents::default();
        record(&mut events, "s", "status", Some("rebooting"));
        let entry = &events.list(|_| false).events[0];
        assert!(
            entry
                .suggestion
                .as_deref()
                .unwrap()
                .ends_with("kind = \"sensor\"")
        );
        assert_eq!(entry.alternative, None);
    }

    #[test]
    fn a_source_that_already_creates_units_gets_no_create_units_hint() {
        let mut events = UnmatchedEvents::default();
        events.record(&event("s", "t", Some("1")), &interpret(Some("1")), true);
        assert_eq!(events.list(|_| false).events[0].alternative, None);
    }

    #[test]
    fn the_suggested_address_is_escaped_as_toml() {
        let section = unit_section("say \"hi\"\\", UnitKind::Switch);
        let parsed: toml::Table = section.parse().unwrap();
        let unit = &parsed["unit"][0];
        assert_eq!(unit["address"].as_str(), Some("say \"hi\"\\"));
        assert_eq!(unit["kind"].as_str(), Some("switch"));
    }

    #[test]
    fn last_seen_is_rfc_3339() {
        let mut events = UnmatchedEvents::default();
        let mut e = event("s", "n", None);
        e.received_at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        events.record(&e, &interpret(None), false);
        assert_eq!(
            events.list(|_| false).events[0].last_seen,
            "2026-01-02T03:04:05.000000+00:00"
        );
    }
}
