//! Timestamps in the shape Home Assistant clients parse.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a time as Home Assistant does: microseconds and an explicit
/// `+00:00` offset, e.g. `2026-11-22T10:00:00.000000+00:00`.
pub fn ha_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_microseconds_and_offset() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        assert_eq!(ha_timestamp(&t), "2026-11-22T10:00:00.000000+00:00");
    }
}
