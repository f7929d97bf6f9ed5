//! A small binary encoding for what protocols persist and put on the wire:
//! little-endian integers and length-prefixed byte strings.
//!
//! Decoding never panics: a short or malformed buffer is a [`DecodeError`]. Records
//! are CRC-framed on disk ([`crate::sim::crc32c`]), so a decode error on a record
//! whose checksum passed means the writer and reader disagree — a bug, not damage.

use crate::sim::Value;

/// A buffer being written.
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl Encoder {
    /// An empty buffer.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Writes one byte.
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    /// Writes a u64.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Writes an i64.
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Writes a length-prefixed byte string.
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.u64(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    /// Writes a history [`Value`].
    pub fn value(&mut self, value: &Value) -> &mut Self {
        match value {
            Value::Nil => self.u8(0),
            Value::Int(int) => self.u8(1).i64(*int),
            Value::Str(text) => self.u8(2).str(text),
            Value::List(items) => {
                self.u8(3).u64(items.len() as u64);
                for item in items {
                    self.value(item);
                }
                self
            }
        }
    }
}

/// Why a buffer could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A buffer being read.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    /// Reads from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, at: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                DecodeError(format!(
                    "needed {count} bytes at offset {}, the buffer has {}",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let raw = self.take(8)?;
        Ok(u64::from_le_bytes(raw.try_into().expect("8 bytes")))
    }

    /// Reads an i64.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let raw = self.take(8)?;
        Ok(i64::from_le_bytes(raw.try_into().expect("8 bytes")))
    }

    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = self.u64()?;
        let length = usize::try_from(length)
            .map_err(|_| DecodeError(format!("length {length} does not fit in memory")))?;
        self.take(length)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let raw = self.bytes()?;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError("string is not UTF-8".into()))
    }

    /// Reads a history [`Value`].
    pub fn value(&mut self) -> Result<Value, DecodeError> {
        match self.u8()? {
            0 => Ok(Value::Nil),
            1 => Ok(Value::Int(self.i64()?)),
            2 => Ok(Value::Str(self.str()?)),
            3 => {
                let count = self.u64()?;
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value()?);
                }
                Ok(Value::List(items))
            }
            tag => Err(DecodeError(format!("unknown value tag {tag}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_short_buffers_are_errors() {
        let value = Value::List(vec![Value::Int(-3), Value::Str("ab".into()), Value::Nil]);
        let mut encoder = Encoder::new();
        encoder.u64(7).value(&value).str("tail");
        let mut decoder = Decoder::new(&encoder.bytes);
        assert_eq!(decoder.u64().unwrap(), 7);
        assert_eq!(decoder.value().unwrap(), value);
        assert_eq!(decoder.str().unwrap(), "tail");
        assert!(decoder.is_empty());
        let short = &encoder.bytes[..encoder.bytes.len() - 1];
        let mut decoder = Decoder::new(short);
        decoder.u64().unwrap();
        decoder.value().unwrap();
        assert!(decoder.str().is_err());
        assert!(Decoder::new(&[9]).value().is_err());
    }
}
