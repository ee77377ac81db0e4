//! Collecting the mistakes found in a config file, each at the byte range the
//! TOML parser gave it, and turning them into `file:line:column` errors.
//!
//! Checking goes on after a mistake so that the user sees every one in a
//! single run instead of fixing them one start at a time.

use std::ops::Range;
use std::path::Path;

use super::{ConfigError, ConfigErrors};

/// The mistakes found so far, in byte offsets of the config text.
#[derive(Debug)]
pub(crate) struct Report<'t> {
    /// The config text, to turn offsets into lines.
    text: &'t str,
    mistakes: Vec<(Range<usize>, String)>,
    /// Mistakes in other files the config names (a script's syntax error).
    elsewhere: Vec<ConfigError>,
}

impl<'t> Report<'t> {
    /// An empty report about `text`.
    pub(crate) fn new(text: &'t str) -> Self {
        Report {
            text,
            mistakes: Vec::new(),
            elsewhere: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset, for messages that refer to an
    /// earlier place in the file.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        line_column(self.text, offset).0
    }

    /// Notes a mistake at `span`; `message` says what is wrong and what to change.
    pub(crate) fn add(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.mistakes.push((span, message.into()));
    }

    /// Notes a mistake in another file the config names, at its own place.
    pub(crate) fn add_in_file(&mut self, error: ConfigError) {
        self.elsewhere.push(error);
    }

    /// The config text.
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// Whether nothing was found.
    pub(crate) fn is_empty(&self) -> bool {
        self.mistakes.is_empty() && self.elsewhere.is_empty()
    }

    /// How many mistakes were found so far, to tell whether a section added any.
    pub(crate) fn len(&self) -> usize {
        self.mistakes.len() + self.elsewhere.len()
    }

    /// The mistakes as errors, in the order they appear in the file.
    pub(crate) fn into_errors(self, file: &Path) -> ConfigErrors {
        let text = self.text;
        let mut mistakes = self.mistakes;
        mistakes.sort_by_key(|(span, _)| span.start);
        mistakes.dedup();
        ConfigErrors(
            mistakes
                .into_iter()
                .map(|(span, message)| {
                    let (line, column) = line_column(text, span.start);
                    ConfigError {
                        file: file.to_path_buf(),
                        line,
                        column,
                        message,
                    }
                })
                .chain(self.elsewhere)
                .collect(),
        )
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The candidate a misspelt `word` most likely meant, if one is close enough
/// to be a typo rather than a different word.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(distance, c)| *distance <= (c.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// `` `a`, `b` or `c` `` for messages that list what is allowed.
pub(crate) fn one_of(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        let text = "a = 1\nné = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(text, text.rfind('=').unwrap()), (2, 4));
    }

    #[test]
    fn closest_suggests_a_near_spelling_only() {
        let keys = ["interval", "events", "name"];
        assert_eq!(closest("intervall", &keys), Some("interval"));
        assert_eq!(closest("Event", &keys), Some("events"));
        assert_eq!(closest("colour", &keys), None);
    }

    #[test]
    fn one_of_lists_options_in_words() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
