//! The Prometheus text format (version 0.0.4), written by one encoder for
//! every part that reports on `/metrics`: the server's counters and the
//! store's.
//!
//! A leaf module with no homebus imports, so the store and the server can
//! both use it without an arrow pointing back along the data flow. Each
//! part keeps its own lock-free counters and hands their values here when
//! `/metrics` is read; nothing is registered or copied in between.

use std::fmt::{self, Display, Write};

/// Builds one `/metrics` text: each family's `# HELP` and `# TYPE` lines,
/// then its samples, with label values and help text escaped.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
}

impl Encoder {
    /// An empty text.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Starts a family of `kind`: writes its `# HELP` and `# TYPE` lines;
    /// its samples follow through the returned [`Family`].
    pub fn family<'a>(&'a mut self, name: &'a str, kind: Kind, help: &str) -> Family<'a> {
        debug_assert!(is_name(name), "not a Prometheus metric name: {name:?}");
        let _ = writeln!(self.out, "# HELP {name} {}", EscapedHelp(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.keyword());
        Family {
            out: &mut self.out,
            name,
        }
    }

    /// Writes a histogram family without labels: `name_bucket{le="…"}`
    /// (cumulative, ending with `le="+Inf"`), `name_sum` and `name_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram<'_>) {
        let mut family = self.family(name, Kind::Histogram, help);
        let mut cumulative = 0u64;
        for (bound, count) in histogram.upper_bounds.iter().zip(histogram.counts) {
            cumulative = cumulative.saturating_add(*count);
            family.write_suffixed("_bucket", &[("le", &Float(*bound).to_string())], cumulative);
        }
        let count = histogram.count();
        family.write_suffixed("_bucket", &[("le", "+Inf")], count);
        family.write_suffixed("_sum", &[], histogram.sum);
        family.write_suffixed("_count", &[], count);
    }

    /// The text so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// What a family's values mean to Prometheus (its `# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A total that only goes up (reset by a restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Bucketed observations; written whole by [`Encoder::histogram`].
    Histogram,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One family's samples, written after its `# HELP` and `# TYPE` lines.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl Family<'_> {
    /// Writes `name{label="value",…} value`; no braces when `labels` is empty.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Sample>) -> &mut Self {
        self.write_suffixed("", labels, value);
        self
    }

    fn write_suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Into<Sample>) {
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                debug_assert!(is_name(name), "not a Prometheus label name: {name:?}");
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{name}=\"{}\"", EscapedLabel(value));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", value.into());
    }
}

/// A histogram's counts, as the part that keeps it holds them.
#[derive(Debug, Clone, Copy)]
pub struct Histogram<'a> {
    /// Each bucket's upper bound (inclusive), ascending, in the unit the
    /// metric's name says (seconds for `_seconds`).
    pub upper_bounds: &'a [f64],
    /// Observations per bucket, not cumulative: `counts[i]` fell under
    /// `upper_bounds[i]` and above the bound before it; one more entry
    /// after the last bound counts those above every bound.
    pub counts: &'a [u64],
    /// The sum of every observation.
    pub sum: f64,
}

impl Histogram<'_> {
    /// Every observation, in every bucket (the `+Inf` bucket's count).
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |total, count| total.saturating_add(*count))
    }
}

/// A sample's value: a whole count, or a float written as Prometheus reads
/// it (`+Inf`, `-Inf`, `NaN`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// A count or a sequence number.
    Int(u64),
    /// A measurement.
    Float(f64),
}

impl From<u64> for Sample {
    fn from(value: u64) -> Self {
        Sample::Int(value)
    }
}

impl From<f64> for Sample {
    fn from(value: f64) -> Self {
        Sample::Float(value)
    }
}

impl Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sample::Int(value) => write!(f, "{value}"),
            Sample::Float(value) => write!(f, "{}", Float(*value)),
        }
    }
}

/// A float as Prometheus writes it; Rust's `inf` and `NaN` spellings differ.
#[derive(Debug, Clone, Copy)]
struct Float(f64);

impl Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

/// A label value with `\`, `"` and line feeds escaped.
struct EscapedLabel<'a>(&'a str);

impl Display for EscapedLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, true)
    }
}

/// Help text with `\` and line feeds escaped (quotes stay as they are).
struct EscapedHelp<'a>(&'a str);

impl Display for EscapedHelp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, false)
    }
}

fn escape(f: &mut fmt::Formatter<'_>, text: &str, quotes: bool) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '"' if quotes => f.write_str("\\\"")?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

/// Whether `name` is a valid metric or label name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_opens_with_help_and_type_then_its_samples() {
        let mut encoder = Encoder::new();
        encoder
            .family("x_total", Kind::Counter, "Things seen.")
            .sample(&[("kind", "a")], 3u64)
            .sample(&[("kind", "b")], 4u64);
        encoder.family("y", Kind::Gauge, "Now.").sample(&[], 7u64);
        assert_eq!(
            encoder.finish(),
            "# HELP x_total Things seen.\n# TYPE x_total counter\n\
             x_total{kind=\"a\"} 3\nx_total{kind=\"b\"} 4\n\
             # HELP y Now.\n# TYPE y gauge\ny 7\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        let mut encoder = Encoder::new();
        encoder
            .family("x_total", Kind::Counter, "X.")
            .sample(&[("source", "a\"b\\c\nd"), ("other", "é")], 1u64);
        let text = encoder.finish();
        assert!(
            text.ends_with("x_total{source=\"a\\\"b\\\\c\\nd\",other=\"é\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn help_text_escapes_backslash_and_line_feed_but_not_quotes() {
        let mut encoder = Encoder::new();
        encoder.family("x", Kind::Gauge, "a \"b\" c\\d\ne");
        assert!(
            encoder
                .finish()
                .starts_with("# HELP x a \"b\" c\\\\d\\ne\n# TYPE x gauge\n")
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let mut encoder = Encoder::new();
        encoder.histogram(
            "x_seconds",
            "How long.",
            &Histogram {
                upper_bounds: &[0.0001, 0.001, 1.0],
                counts: &[1, 2, 0, 4],
                sum: 12.5,
            },
        );
        assert_eq!(
            encoder.finish(),
            "# HELP x_seconds How long.\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.0001\"} 1\n\
             x_seconds_bucket{le=\"0.001\"} 3\n\
             x_seconds_bucket{le=\"1\"} 3\n\
             x_seconds_bucket{le=\"+Inf\"} 7\n\
             x_seconds_sum 12.5\n\
             x_seconds_count 7\n"
        );
    }

    #[test]
    fn histogram_inf_bucket_is_the_count_even_without_an_overflow_entry() {
        let histogram = Histogram {
            upper_bounds: &[1.0, 2.0],
            counts: &[5, 6],
            sum: 0.0,
        };
        let mut encoder = Encoder::new();
        encoder.histogram("x", "X.", &histogram);
        let text = encoder.finish();
        assert!(text.contains("x_bucket{le=\"+Inf\"} 11\n"), "{text}");
        assert!(text.contains("x_count 11\n"), "{text}");
    }

    #[test]
    fn float_samples_use_prometheus_spellings() {
        let mut encoder = Encoder::new();
        encoder
            .family("x", Kind::Gauge, "X.")
            .sample(&[("v", "a")], f64::INFINITY)
            .sample(&[("v", "b")], f64::NEG_INFINITY)
            .sample(&[("v", "c")], f64::NAN)
            .sample(&[("v", "d")], 0.25);
        let text = encoder.finish();
        for line in [
            "x{v=\"a\"} +Inf\n",
            "x{v=\"b\"} -Inf\n",
            "x{v=\"c\"} NaN\n",
            "x{v=\"d\"} 0.25\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn metric_names_follow_the_prometheus_grammar() {
        assert!(is_name("homebus_store_accepted_seq"));
        assert!(is_name("a:b_c9"));
        assert!(!is_name(""));
        assert!(!is_name("9a"));
        assert!(!is_name("a-b"));
    }
}
