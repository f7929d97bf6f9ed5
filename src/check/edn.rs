//! A tiny reader for the subset of EDN that history files use: `nil`, `true`,
//! `false`, integers, strings, keywords, vectors/lists and maps, with commas as
//! whitespace. Enough for Jepsen's one-map-per-line histories and the values in
//! Jepsen log lines; anything else is an error saying what was expected.

use crate::sim::history::Value;

/// An EDN value of the supported subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edn {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// `[...]` or `(...)`.
    Vector(Vec<Edn>),
    /// `{...}`, in source order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The history value this stands for (keywords become strings); maps have none.
    pub fn to_value(&self) -> Result<Value, String> {
        Ok(match self {
            Edn::Nil => Value::Nil,
            Edn::Bool(value) => Value::Str(value.to_string()),
            Edn::Int(value) => Value::Int(*value),
            Edn::Str(value) | Edn::Keyword(value) => Value::Str(value.clone()),
            Edn::Vector(values) => {
                Value::List(values.iter().map(Edn::to_value).collect::<Result<_, _>>()?)
            }
            Edn::Map(_) => {
                return Err(
                    "expected a value (nil, integer, string or vector), found a map".into(),
                );
            }
        })
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Edn::Nil => "nil".into(),
            Edn::Bool(value) => value.to_string(),
            Edn::Int(value) => value.to_string(),
            Edn::Str(value) => format!("{value:?}"),
            Edn::Keyword(value) => format!(":{value}"),
            Edn::Vector(_) => "a vector".into(),
            Edn::Map(_) => "a map".into(),
        }
    }
}

/// How deep vectors and maps may nest. History values nest two or three
/// levels; a bound keeps a hostile file from overflowing the stack.
pub const DEPTH_MAX: usize = 64;

/// Reads EDN values one after another from a string.
pub struct Reader<'a> {
    text: &'a str,
    position: usize,
    depth: usize,
}

fn is_delimiter(byte: u8) -> bool {
    byte.is_ascii_whitespace()
        || matches!(
            byte,
            b',' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            position: 0,
            depth: 0,
        }
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while self.position < bytes.len() {
            match bytes[self.position] {
                b',' => self.position += 1,
                byte if byte.is_ascii_whitespace() => self.position += 1,
                _ => break,
            }
        }
    }

    /// True when only whitespace (or a `;` comment) is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.position >= self.text.len() || self.text.as_bytes()[self.position] == b';'
    }

    /// What is left, for error messages.
    pub fn rest(&self) -> &'a str {
        &self.text[self.position.min(self.text.len())..]
    }

    fn token(&mut self) -> &'a str {
        let bytes = self.text.as_bytes();
        let start = self.position;
        while self.position < bytes.len() && !is_delimiter(bytes[self.position]) {
            self.position += 1;
        }
        &self.text[start..self.position]
    }

    /// Read the next value.
    pub fn value(&mut self) -> Result<Edn, String> {
        self.skip_whitespace();
        if matches!(
            self.text.as_bytes().get(self.position),
            Some(b'[' | b'(' | b'{')
        ) {
            if self.depth >= DEPTH_MAX {
                return Err(format!(
                    "values nest deeper than {DEPTH_MAX} levels (at byte {} of the line)",
                    self.position + 1
                ));
            }
            self.depth += 1;
            let nested = self.nested();
            self.depth -= 1;
            return nested;
        }
        self.nested()
    }

    fn nested(&mut self) -> Result<Edn, String> {
        let bytes = self.text.as_bytes();
        let Some(&first) = bytes.get(self.position) else {
            return Err("expected a value, found the end of the line".into());
        };
        match first {
            b'[' | b'(' => {
                let close = if first == b'[' { b']' } else { b')' };
                self.position += 1;
                let mut values = Vec::new();
                loop {
                    self.skip_whitespace();
                    match bytes.get(self.position) {
                        None => {
                            return Err(format!(
                                "expected '{}' to close the vector",
                                close as char
                            ));
                        }
                        Some(&byte) if byte == close => {
                            self.position += 1;
                            return Ok(Edn::Vector(values));
                        }
                        Some(_) => values.push(self.value()?),
                    }
                }
            }
            b'{' => {
                self.position += 1;
                let mut pairs = Vec::new();
                loop {
                    self.skip_whitespace();
                    match bytes.get(self.position) {
                        None => return Err("expected '}' to close the map".into()),
                        Some(b'}') => {
                            self.position += 1;
                            return Ok(Edn::Map(pairs));
                        }
                        Some(_) => {
                            let key = self.value()?;
                            self.skip_whitespace();
                            if matches!(bytes.get(self.position), None | Some(b'}')) {
                                return Err(format!(
                                    "expected a value after the map key {}",
                                    key.describe()
                                ));
                            }
                            let value = self.value()?;
                            pairs.push((key, value));
                        }
                    }
                }
            }
            b'"' => self.string(),
            b']' | b')' | b'}' => Err(format!(
                "expected a value, found an unmatched '{}'",
                first as char
            )),
            b':' => {
                self.position += 1;
                let name = self.token();
                if name.is_empty() {
                    return Err("expected a keyword name after ':'".into());
                }
                Ok(Edn::Keyword(name.to_string()))
            }
            _ => {
                let token = self.token();
                match token {
                    "nil" => Ok(Edn::Nil),
                    "true" => Ok(Edn::Bool(true)),
                    "false" => Ok(Edn::Bool(false)),
                    _ => token
                        .strip_suffix('N')
                        .unwrap_or(token)
                        .parse::<i64>()
                        .map(Edn::Int)
                        .map_err(|_| format!("expected nil, an integer, a string, a keyword, a vector or a map, found {token:?}")),
                }
            }
        }
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.position += 1;
        let mut value = String::new();
        let mut characters = self.text[self.position..].char_indices();
        while let Some((offset, character)) = characters.next() {
            match character {
                '"' => {
                    self.position += offset + 1;
                    return Ok(Edn::Str(value));
                }
                '\\' => match characters.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, other)) => {
                        return Err(format!("unsupported escape \\{other} in a string"));
                    }
                    None => break,
                },
                other => value.push(other),
            }
        }
        Err("expected '\"' to close the string".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_map_reads_with_commas_as_whitespace() {
        let mut reader =
            Reader::new(r#"{:process 0, :type :ok, :f :get, :key "0", :value "x \"q\" y"}"#);
        let Edn::Map(pairs) = reader.value().unwrap() else {
            panic!("expected a map");
        };
        assert!(reader.at_end());
        assert_eq!(pairs.len(), 5);
        assert_eq!(
            pairs[1],
            (Edn::Keyword("type".into()), Edn::Keyword("ok".into()))
        );
        assert_eq!(pairs[4].1, Edn::Str("x \"q\" y".into()));
    }

    #[test]
    fn vectors_and_numbers_become_values() {
        let mut reader = Reader::new("[3 -4] nil");
        assert_eq!(
            reader.value().unwrap().to_value().unwrap(),
            Value::List(vec![Value::Int(3), Value::Int(-4)])
        );
        assert_eq!(reader.value().unwrap(), Edn::Nil);
        assert!(reader.at_end());
    }

    #[test]
    fn values_nested_too_deep_are_an_error_not_a_stack_overflow() {
        let deep = format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000));
        let error = Reader::new(&deep).value().unwrap_err();
        assert!(error.contains("nest deeper than 64 levels"), "{error}");
        let fine = format!("{}1{}", "[".repeat(64), "]".repeat(64));
        assert!(Reader::new(&fine).value().is_ok());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for text in ["[1 2", "{:a}", "\"open", "1.5", ")", "{:a 1", ":"] {
            assert!(Reader::new(text).value().is_err(), "{text}");
        }
    }
}
