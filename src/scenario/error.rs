//! Scenario errors that point at the problem: file, line, column, key, and what was
//! expected.

use crate::spec::Invalid;
use std::fmt;
use std::ops::Range;

/// A problem with a scenario file. Displayed as
/// `file:line:column: key 'a.b': message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (as given on the command line).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The dotted key path (`network.drop_probability`, `faults[2].at`), when known.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "key '{}': ", escaped(key))?;
        }
        write!(f, "{}", escaped(&self.message))
    }
}

impl std::error::Error for ScenarioError {}

/// `text` with what a terminal would act on escaped: control characters but
/// the newline, and the bidirectional overrides that can reorder what a reader
/// sees (a value quoted from a file is shown, never obeyed).
fn escaped(text: &str) -> std::borrow::Cow<'_, str> {
    let hostile = |c: char| {
        (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if hostile(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The source text of a scenario, for locating errors.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    /// File name for messages.
    pub file: &'a str,
    /// Full text.
    pub text: &'a str,
}

impl Source<'_> {
    /// An error about `key`: at the key's place in the file when the file writes
    /// it (found from the TOML spans), else with no position (a missing key, or
    /// a default that was used).
    pub fn error(&self, key: Option<String>, message: impl Into<String>) -> ScenarioError {
        if let Some(span) = key.as_deref().and_then(|key| locate_key(self.text, key)) {
            let mut error = self.error_at(span, message);
            error.key = key;
            return error;
        }
        ScenarioError {
            file: self.file.to_string(),
            line: None,
            column: None,
            key,
            message: message.into(),
        }
    }

    /// An error at a byte span; the key path is worked out from the text.
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let offset = span.start.min(self.text.len());
        let (line, column) = line_column(self.text, offset);
        ScenarioError {
            file: self.file.to_string(),
            line: Some(line),
            column: Some(column),
            key: key_path_at(self.text, offset),
            message: message.into(),
        }
    }

    /// Turns a TOML/serde error into a located scenario error.
    pub fn from_toml(&self, error: &toml::de::Error) -> ScenarioError {
        let mut message = error.message().trim().to_string();
        // (Without a position it is a dotted key of too many parts, below.)
        if error.span().is_some() && message.contains("recursion") {
            // The reader's own words ("cannot recurse further; max recursion
            // depth met") do not say what in the file is wrong.
            message = "arrays or inline tables nested too deeply (the TOML reader's \
                       depth limit); a scenario never needs more than a few levels"
                .to_string();
        }
        let missing = backticked_after(&message, "missing field ");
        match error.span() {
            Some(span) if missing.is_none() => self.error_at(span, message),
            Some(span) => {
                let mut located = self.error_at(span.clone(), message);
                // The span is the table that lacks the key: name the key itself.
                // An inline table (`latency = { ... }`) is named by its own key.
                let start = span.start.min(self.text.len());
                let parent = if self.text[start..].starts_with('{') {
                    key_path_at(self.text, start).unwrap_or_default()
                } else {
                    table_path_at(self.text, start)
                };
                let name = missing.unwrap_or_default();
                located.key = Some(if parent.is_empty() {
                    name
                } else {
                    format!("{parent}.{name}")
                });
                located
            }
            None if message == "recursion limit" => match deepest_dotted_key(self.text) {
                // The TOML reader gives no position for a dotted key of
                // too many parts: place it at the first such key. The key
                // itself is not quoted (it may be megabytes long).
                Some(offset) => {
                    let mut located = self.error_at(
                        offset..offset,
                        format!(
                            "a dotted key of more than {DOTTED_PARTS_MAX} parts is deeper than the TOML reader allows (recursion limit)"
                        ),
                    );
                    located.key = None;
                    located
                }
                None => self.error(missing, message),
            },
            None => self.error(missing, message),
        }
    }
}

/// A dotted key of more parts is refused by the TOML reader.
pub const DOTTED_PARTS_MAX: usize = 80;

/// The offset of the first line holding a dotted key (a run of bare key
/// parts joined by dots, spaces allowed) of more than [`DOTTED_PARTS_MAX`]
/// parts, at its first non-blank character.
fn deepest_dotted_key(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let mut dots = 0;
        for c in strip_comment(line).chars() {
            if c == '.' {
                dots += 1;
                if dots + 1 > DOTTED_PARTS_MAX {
                    let blank = line.len() - line.trim_start().len();
                    return Some(offset + blank);
                }
            } else if !(c.is_ascii_alphanumeric() || "_- \t".contains(c)) {
                dots = 0;
            }
        }
        offset += line.len();
    }
    None
}

impl Source<'_> {
    /// Turns a protocol's [`Invalid`] into a located error: at its span if it
    /// has one, else at its key, found in the file's TOML spans; a key the file
    /// does not write (a default was used) is named without a position.
    pub fn invalid(&self, invalid: Invalid) -> ScenarioError {
        match invalid.span {
            Some(span) => {
                let mut error = self.error_at(span, invalid.message);
                error.key = Some(invalid.key);
                error
            }
            None => self.error(Some(invalid.key), invalid.message),
        }
    }
}

/// The span of the key at dotted `path` (`protocol.keys`, `faults[2].at`) in a
/// TOML document, from the parser's own spans; `None` if the text does not
/// write it.
pub fn locate_key(text: &str, path: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let document = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = document.get_ref();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (part, None),
        };
        let (key, value) = table.iter().find(|(key, _)| key.get_ref() == name)?;
        let last = parts.peek().is_none();
        let value = match (index, value.get_ref()) {
            (Some(index), DeValue::Array(items)) => {
                let item = items.get(index)?;
                if last {
                    return Some(item.span());
                }
                item
            }
            (Some(_), _) => return None,
            (None, _) if last => return Some(key.span()),
            (None, _) => value,
        };
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    None
}

fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn strip_comment(line: &str) -> &str {
    // Good enough for scenario files: '#' inside strings is rare in our keys.
    let mut in_string = false;
    for (index, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..index],
            _ => {}
        }
    }
    line
}

fn header_of(line: &str) -> Option<(String, bool)> {
    let line = strip_comment(line).trim();
    if let Some(inner) = line
        .strip_prefix("[[")
        .and_then(|rest| rest.strip_suffix("]]"))
    {
        return Some((inner.trim().to_string(), true));
    }
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    Some((inner.trim().to_string(), false))
}

/// The table path in force at `offset`: `network`, `faults[1]`, or `""` at top level.
pub fn table_path_at(text: &str, offset: usize) -> String {
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let line_end = text[offset..]
        .find('\n')
        .map_or(text.len(), |index| offset + index);
    let mut current = String::new();
    let mut array_counts: Vec<(String, usize)> = Vec::new();
    for line in text[..line_end].lines() {
        if let Some((name, is_array)) = header_of(line) {
            if is_array {
                let count = match array_counts.iter_mut().find(|(key, _)| *key == name) {
                    Some((_, count)) => {
                        *count += 1;
                        *count
                    }
                    None => {
                        array_counts.push((name.clone(), 0));
                        0
                    }
                };
                current = format!("{name}[{count}]");
            } else {
                current = name;
            }
        }
    }
    let _ = line_start;
    current
}

fn key_before_equals(segment: &str) -> Option<String> {
    let key = segment.trim().trim_matches('"').trim();
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    valid.then(|| key.to_string())
}

/// The dotted key path of the value at `offset`, worked out from the text.
pub fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let line_end = text[offset..]
        .find('\n')
        .map_or(text.len(), |index| offset + index);
    let line = &text[line_start..line_end];
    let table = table_path_at(text, offset);
    if let Some((name, _)) = header_of(line) {
        return Some(if header_of(line).is_some_and(|(_, array)| array) {
            table
        } else {
            name
        });
    }
    let join = |key: String| {
        if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        }
    };
    // The key owning this line: on it, or on an earlier line of a multi-line value.
    let mut owner_line = strip_comment(line);
    if !owner_line.contains('=') {
        let before = &text[..line_start];
        owner_line = before
            .lines()
            .rev()
            .take_while(|candidate| header_of(candidate).is_none())
            .map(strip_comment)
            .find(|candidate| candidate.contains('='))
            .unwrap_or("");
    }
    let outer = owner_line.split('=').next().and_then(key_before_equals);
    let Some(outer) = outer else {
        return (!table.is_empty()).then_some(table);
    };
    // Inside an inline table on this line: the innermost `key =` before the offset.
    let column = offset - line_start;
    let prefix = &line[..column.min(line.len())];
    let mut path = outer.clone();
    if let Some(open) = prefix.find('{') {
        let inner_text = &prefix[open + 1..];
        let last_field = inner_text.rsplit([',', '{']).next().unwrap_or("");
        let inner = if last_field.contains('=') {
            last_field.split('=').next().and_then(key_before_equals)
        } else {
            // The offset is on a key itself (an unknown key).
            let rest = &line[column.min(line.len())..];
            rest.split('=').next().and_then(key_before_equals)
        };
        if let Some(inner) = inner {
            path = format!("{outer}.{inner}");
        }
    }
    Some(join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_follow_tables_arrays_and_inline_tables() {
        let text = "duration = \"1s\"\n[network]\ndrop_probability = 2\nlatency = { distribution = \"uniform\", min = \"x\" }\n[[faults]]\nat = \"1s\"\n[[faults]]\nat = \"2s\"\n";
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(key_path_at(text, at("\"1s\"")).as_deref(), Some("duration"));
        assert_eq!(
            key_path_at(text, at("2\n")).as_deref(),
            Some("network.drop_probability")
        );
        assert_eq!(
            key_path_at(text, at("\"x\"")).as_deref(),
            Some("network.latency.min")
        );
        assert_eq!(
            key_path_at(text, at("\"2s\"")).as_deref(),
            Some("faults[1].at")
        );
    }

    #[test]
    fn keys_are_located_through_tables_inline_tables_and_arrays() {
        let text = "seed = 1\n[protocol]\nname = \"raft\"\nkeys = 0\nlab = [{ run = \"x\" }, { run = \"y\" }]\n[[faults]]\nat = \"1s\"\n";
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(
            locate_key(text, "protocol.keys").map(|span| span.start),
            Some(at("keys"))
        );
        assert_eq!(locate_key(text, "seed").map(|span| span.start), Some(0));
        assert_eq!(
            locate_key(text, "protocol.lab[1]").map(|span| span.start),
            Some(at("{ run = \"y\""))
        );
        assert_eq!(
            locate_key(text, "faults[0].at").map(|span| span.start),
            Some(at("at ="))
        );
        assert_eq!(locate_key(text, "protocol.ops"), None);
        assert_eq!(locate_key(text, "seed.x"), None);
    }

    #[test]
    fn control_and_bidi_characters_from_a_file_are_shown_escaped() {
        let error = ScenarioError {
            file: "x.toml".into(),
            line: Some(1),
            column: Some(2),
            key: Some("a\u{0}b".into()),
            message: "got \"\u{202e}evil\u{7}\"".into(),
        };
        let shown = error.to_string();
        assert_eq!(
            shown,
            "x.toml:1:2: key 'a\\u{0}b': got \"\\u{202e}evil\\u{7}\""
        );
    }

    #[test]
    fn a_dotted_key_too_deep_for_the_toml_reader_is_placed_at_its_line() {
        // Found by the bad-input campaign: the reader's "recursion limit"
        // carries no position.
        let deep = vec!["a"; 100].join(".");
        for text in [
            format!("seed = 1\nvalues = [0.1, 0.2]\n  {deep} = 1\n"),
            format!("seed = 1\nvalues = [0.1, 0.2]\n  [{deep}]\n"),
        ] {
            let error = toml::from_str::<toml::Table>(&text).unwrap_err();
            assert_eq!(error.span(), None, "the reader places it now: simplify");
            let source = Source {
                file: "deep.toml",
                text: &text,
            };
            let located = source.from_toml(&error);
            assert_eq!(
                located.to_string(),
                "deep.toml:3:3: a dotted key of more than 80 parts is deeper than the TOML reader allows (recursion limit)"
            );
        }
        let shallow = vec!["a"; DOTTED_PARTS_MAX].join(".");
        assert!(toml::from_str::<toml::Table>(&format!("{shallow} = 1\n")).is_ok());
        assert_eq!(deepest_dotted_key(&format!("{shallow} = 1\n")), None);
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 0), (1, 1));
    }
}
