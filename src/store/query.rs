//! What the store answers: the state to restore at start, the log to
//! replay after a seq, history per entity, and statistics for operators.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::{Map, Value};

use super::record::{self, from_micros, micros};
use super::{Store, StoreError};
use crate::bus::BusMessage;
use crate::units::{Unit, UnitKind, UnitRegistry, UnitValue};

/// A unit's last state as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUnit {
    /// Its address.
    pub address: String,
    /// Its entity id.
    pub entity_id: String,
    /// Its kind.
    pub kind: UnitKind,
    /// The state string.
    pub state: String,
    /// The last number, if any.
    pub value: Option<f64>,
    /// Every attribute it was served with.
    pub attributes: Map<String, Value>,
    /// When the state last changed.
    pub last_changed: DateTime<Utc>,
    /// When the state or attributes last changed.
    pub last_updated: DateTime<Utc>,
}

/// Attributes the hub derives from a unit itself, not merged from events.
const DERIVED_ATTRIBUTES: [&str; 5] = [
    "value",
    "friendly_name",
    "address",
    "kind",
    "unit_of_measurement",
];

/// Puts stored states back into the registry. The config decides a unit's
/// identity (entity id, name, kind): a configured unit gets back its state,
/// value, attributes and times; a unit that a source created gets back
/// everything. A stored state whose kind no longer matches the config is
/// skipped (it would not mean the same thing). Returns how many were restored.
pub fn restore_units(registry: &mut UnitRegistry, stored: Vec<StoredUnit>) -> usize {
    let mut restored = 0;
    for saved in stored {
        let mut unit = match registry.by_address(&saved.address) {
            Some(configured) if configured.kind != saved.kind => {
                tracing::warn!(
                    address = %saved.address,
                    "the stored state is for a {} but the config now says {}; starting it as unknown",
                    saved.kind.as_str(),
                    configured.kind.as_str()
                );
                continue;
            }
            Some(configured) => configured.clone(),
            None => {
                if registry.by_entity_id(&saved.entity_id).is_some() {
                    tracing::warn!(
                        address = %saved.address,
                        entity_id = %saved.entity_id,
                        "another unit now has this entity id; the stored unit is not restored"
                    );
                    continue;
                }
                let mut unit = Unit::new(
                    &saved.address,
                    saved.kind,
                    Some(saved.entity_id.clone()),
                    saved
                        .attributes
                        .get("friendly_name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                );
                unit.unit_of_measurement = saved
                    .attributes
                    .get("unit_of_measurement")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                unit
            }
        };
        unit.value = match saved.state.as_str() {
            "unknown" => UnitValue::Unknown,
            "on" => UnitValue::On,
            "off" => UnitValue::Off,
            text => UnitValue::Reading(text.to_string()),
        };
        unit.number = saved.value;
        unit.attributes = saved
            .attributes
            .into_iter()
            .filter(|(k, _)| !DERIVED_ATTRIBUTES.contains(&k.as_str()))
            .collect();
        unit.last_changed = saved.last_changed;
        unit.last_updated = saved.last_updated;
        registry.restore(unit);
        restored += 1;
    }
    restored
}

/// A history request: past states of some entities in a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// The entities; empty means every entity.
    pub entity_ids: Vec<String>,
    /// From this time (inclusive).
    pub since: DateTime<Utc>,
    /// Up to this time (exclusive); `None` means now.
    pub until: Option<DateTime<Utc>>,
    /// Most states in one page.
    pub limit: usize,
    /// Continue after this seq (the `next` of the previous page).
    pub after: Option<u64>,
}

/// One page of history, grouped per entity.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Per entity (in order of first appearance), its states oldest first,
    /// each as stored JSON (`entity_id`, `state`, `attributes`,
    /// `last_changed`, `last_updated`).
    pub entities: Vec<Vec<String>>,
    /// When the page is full: the seq to pass as `after` for the next one.
    pub next: Option<u64>,
}

impl HistoryPage {
    /// The page as Home Assistant's `[[state, …], …]` JSON, without
    /// re-encoding the stored states.
    pub fn to_json(&self) -> String {
        let size: usize = self.entities.iter().flatten().map(|s| s.len() + 1).sum();
        let mut out = String::with_capacity(size + 2 * self.entities.len() + 2);
        out.push('[');
        for (i, states) in self.entities.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, state) in states.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(state);
            }
            out.push(']');
        }
        out.push(']');
        out
    }
}

/// What `homebus db stats` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// Schema version.
    pub schema_version: i32,
    /// Rows in `events`.
    pub events: u64,
    /// Rows in `units`.
    pub units: u64,
    /// Rows in `source_cursor`.
    pub source_cursors: u64,
    /// Lowest and highest seq in `events`.
    pub seq_range: Option<(u64, u64)>,
    /// The highest seq ever given (survives pruning).
    pub last_seq: u64,
    /// Time of the oldest and newest event.
    pub time_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Size of the database file plus its WAL, in bytes.
    pub size_bytes: u64,
    /// Pages on the free list (space `homebus db vacuum` gives back).
    pub free_pages: u64,
    /// Page size in bytes.
    pub page_size: u64,
}

/// Reads the statistics on any connection to the database at `path`.
pub fn stats(conn: &Connection, path: &Path) -> rusqlite::Result<StoreStats> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
    };
    let seq_range: Option<(u64, u64)> =
        conn.query_row("SELECT min(seq), max(seq) FROM events", [], |r| {
            Ok(
                match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                    (Some(a), Some(b)) => Some((a as u64, b as u64)),
                    _ => None,
                },
            )
        })?;
    let time_range = match seq_range {
        Some((first, last)) => {
            let time = |seq: u64| -> rusqlite::Result<DateTime<Utc>> {
                conn.query_row(
                    "SELECT time FROM events WHERE seq = ?1",
                    [seq as i64],
                    |r| r.get::<_, i64>(0),
                )
                .map(from_micros)
            };
            Some((time(first)?, time(last)?))
        }
        None => None,
    };
    let file_size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    Ok(StoreStats {
        schema_version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        events: count("events")?,
        units: count("units")?,
        source_cursors: count("source_cursor")?,
        seq_range,
        last_seq: last_seq(conn)?,
        time_range,
        size_bytes: file_size(path) + file_size(Path::new(&wal)),
        free_pages: conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))? as u64,
        page_size: conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64,
    })
}

fn last_seq(conn: &Connection) -> rusqlite::Result<u64> {
    let meta: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let events: Option<i64> = conn.query_row("SELECT max(seq) FROM events", [], |r| r.get(0))?;
    Ok(meta.unwrap_or(0).max(events.unwrap_or(0)).max(0) as u64)
}

impl Store {
    /// The highest seq ever stored; numbering continues after it.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        self.read("read the last seq", last_seq)
    }

    /// The lowest seq still in the event log, `None` when it is empty.
    pub fn oldest_seq(&self) -> Result<Option<u64>, StoreError> {
        self.read("read the oldest seq", |conn| {
            conn.query_row("SELECT min(seq) FROM events", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(|s| s.map(|s| s as u64))
        })
    }

    /// Up to `limit` messages with a seq above `after`, in seq order.
    pub fn replay(&self, after: u64, limit: usize) -> Result<Vec<BusMessage>, StoreError> {
        self.read("replay the event log", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                record::COLUMNS
            ))?;
            let rows = stmt.query_map([after as i64, limit as i64], record::from_row)?;
            rows.collect()
        })
    }

    /// Every unit's last stored state.
    pub fn units(&self) -> Result<Vec<StoredUnit>, StoreError> {
        self.read("read the units", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT address, entity_id, kind, state, value, attributes, last_changed, last_updated FROM units ORDER BY address",
            )?;
            let rows = stmt.query_map([], |r| {
                let kind: String = r.get(2)?;
                let attributes: String = r.get(5)?;
                let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
                    rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e)
                };
                Ok(StoredUnit {
                    address: r.get(0)?,
                    entity_id: r.get(1)?,
                    kind: serde_json::from_value(Value::String(kind)).map_err(|e| bad(e.into()))?,
                    state: r.get(3)?,
                    value: r.get(4)?,
                    attributes: serde_json::from_str(&attributes).map_err(|e| bad(e.into()))?,
                    last_changed: from_micros(r.get(6)?),
                    last_updated: from_micros(r.get(7)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Each source's last upstream event ID, to send as `Last-Event-ID`.
    pub fn source_cursors(&self) -> Result<HashMap<String, String>, StoreError> {
        self.read("read the source cursors", |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT source, last_event_id FROM source_cursor")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Past states, oldest first, grouped per entity, at most `limit` per page.
    pub fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let until = query.until.unwrap_or_else(Utc::now);
        let limit = query.limit.max(1);
        self.read("read the history", |conn| {
            let mut sql = String::from(
                "SELECT seq, entity_id, new_state FROM events
                 WHERE entity_id IS NOT NULL AND new_state IS NOT NULL
                 AND time >= ?1 AND time < ?2 AND seq > ?3",
            );
            if !query.entity_ids.is_empty() {
                sql.push_str(" AND entity_id IN (");
                for i in 0..query.entity_ids.len() {
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("?{}", i + 5));
                }
                sql.push(')');
            }
            sql.push_str(" ORDER BY seq LIMIT ?4");
            let mut stmt = conn.prepare(&sql)?;
            let mut params: Vec<rusqlite::types::Value> = vec![
                micros(&query.since).into(),
                micros(&until).into(),
                (query.after.unwrap_or(0) as i64).into(),
                (limit as i64 + 1).into(),
            ];
            params.extend(query.entity_ids.iter().map(|e| e.clone().into()));
            let mut rows = stmt.query(params_from_iter(params))?;
            let mut order: HashMap<String, usize> = HashMap::new();
            let mut entities: Vec<Vec<String>> = Vec::new();
            let mut taken = 0;
            let mut last_seq = 0u64;
            let mut more = false;
            while let Some(row) = rows.next()? {
                if taken == limit {
                    more = true;
                    break;
                }
                last_seq = row.get::<_, i64>(0)? as u64;
                let entity: String = row.get(1)?;
                let state: String = row.get(2)?;
                let index = *order.entry(entity).or_insert_with(|| {
                    entities.push(Vec::new());
                    entities.len() - 1
                });
                entities[index].push(state);
                taken += 1;
            }
            Ok(HistoryPage {
                entities,
                next: more.then_some(last_seq),
            })
        })
    }

    /// Rows, size, oldest event and seq range.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let path = self.path.clone();
        self.read("read statistics", |conn| stats(conn, &path))
    }

    /// Rebuilds the file to give free pages back to the file system, and
    /// empties the WAL. Needs the hub stopped (the store holds the lock).
    pub fn vacuum(&self) -> Result<(), StoreError> {
        let conn = self.connect_writer()?;
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|source| self.error("vacuum", source))
    }
}
