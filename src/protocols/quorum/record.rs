//! A replica's stored records: each key's version set in a record of its
//! own, checked on every read.
//!
//! A record is `[length u32][check u32][payload]`. The check covers the
//! record's *key* as well as its payload, though the key is not stored: a
//! record is found by its key, so a record read back from another key's place
//! (a misdirected write: the device put it at the wrong address) fails its
//! check like a flipped bit does, and is never served. A record cut short
//! (a torn write) fails on its length.
//!
//! Two checks are built. CRC32C (Castagnoli) detects every error burst up to
//! 32 bits and every odd number of flipped bits. The *additive* checksum (the
//! bytes summed mod 2³²) is the weak alternative a planted bug uses: it sees
//! any single flipped bit, but not bytes that trade places, nor a change in
//! one byte that another change makes up for — so it lets through reordered
//! and compensating damage that CRC32C catches. The other planted bug leaves
//! the key out of the check, so a misdirected record passes.

use crate::sim::crc32c::crc32c;

/// The check a record carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Check {
    /// CRC32C.
    #[default]
    Crc32c,
    /// The bytes summed mod 2³² (planted bug).
    Additive,
}

/// How records are written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// The check.
    pub check: Check,
    /// Whether the key is covered (false: planted bug).
    pub covers_key: bool,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            check: Check::Crc32c,
            covers_key: true,
        }
    }
}

/// Why a stored record cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Shorter than its header or its length: torn, or not a record.
    Torn,
    /// The check fails: damaged, or another key's record.
    Mismatch,
}

/// The sum of `bytes` mod 2³².
pub fn additive(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |sum, &byte| sum.wrapping_add(u32::from(byte)))
}

impl Format {
    fn check_of(&self, key: u64, payload: &[u8]) -> u32 {
        let mut covered = Vec::with_capacity(payload.len() + 8);
        if self.covers_key {
            covered.extend_from_slice(&key.to_le_bytes());
        }
        covered.extend_from_slice(payload);
        match self.check {
            Check::Crc32c => crc32c(&covered),
            Check::Additive => additive(&covered),
        }
    }

    /// The stored bytes of `key`'s record holding `payload`.
    pub fn encode(&self, key: u64, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).expect("record larger than 4 GiB");
        let mut out = Vec::with_capacity(payload.len() + 8);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.check_of(key, payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// The payload of the record stored at `key`'s place, if it checks out.
    pub fn decode<'a>(&self, key: u64, bytes: &'a [u8]) -> Result<&'a [u8], RecordError> {
        let header = bytes.get(..8).ok_or(RecordError::Torn)?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let check = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let payload = bytes
            .get(8..)
            .filter(|p| p.len() == length)
            .ok_or(RecordError::Torn)?;
        if self.check_of(key, payload) == check {
            Ok(payload)
        } else {
            Err(RecordError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRC: Format = Format {
        check: Check::Crc32c,
        covers_key: true,
    };
    const ADDITIVE: Format = Format {
        check: Check::Additive,
        covers_key: true,
    };
    const KEYLESS: Format = Format {
        check: Check::Crc32c,
        covers_key: false,
    };

    fn payload() -> Vec<u8> {
        (0u8..40)
            .map(|b| b.wrapping_mul(37).wrapping_add(11))
            .collect()
    }

    #[test]
    fn a_record_reads_back_at_its_key() {
        for format in [CRC, ADDITIVE, KEYLESS] {
            let stored = format.encode(7, &payload());
            assert_eq!(format.decode(7, &stored), Ok(payload().as_slice()));
            assert_eq!(format.decode(7, &format.encode(7, &[])), Ok(&[][..]));
        }
    }

    #[test]
    fn every_single_flipped_bit_is_caught_by_both_checks() {
        for format in [CRC, ADDITIVE] {
            let stored = format.encode(3, &payload());
            for bit in 0..stored.len() * 8 {
                let mut flipped = stored.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert!(format.decode(3, &flipped).is_err(), "{format:?} bit {bit}");
            }
        }
    }

    #[test]
    fn a_torn_record_is_refused() {
        let stored = CRC.encode(3, &payload());
        for keep in 0..stored.len() {
            assert_eq!(CRC.decode(3, &stored[..keep]), Err(RecordError::Torn));
        }
    }

    #[test]
    fn a_misdirected_record_fails_unless_the_key_is_left_out() {
        let stored = CRC.encode(1, &payload());
        assert_eq!(CRC.decode(2, &stored), Err(RecordError::Mismatch));
        let stored = KEYLESS.encode(1, &payload());
        assert_eq!(KEYLESS.decode(2, &stored), Ok(payload().as_slice()));
    }

    #[test]
    fn reordered_and_compensating_damage_passes_the_additive_check_only() {
        // Two payload bytes trade places.
        let mut swapped = payload();
        swapped.swap(3, 17);
        // One byte one up, another one down.
        let mut compensated = payload();
        compensated[5] = compensated[5].wrapping_add(1);
        compensated[30] = compensated[30].wrapping_sub(1);
        for damaged in [swapped, compensated] {
            let stored = CRC.encode(9, &payload());
            let mut bad = stored[..8].to_vec();
            bad.extend_from_slice(&damaged);
            assert_eq!(CRC.decode(9, &bad), Err(RecordError::Mismatch));
            let stored = ADDITIVE.encode(9, &payload());
            let mut bad = stored[..8].to_vec();
            bad.extend_from_slice(&damaged);
            assert_eq!(ADDITIVE.decode(9, &bad), Ok(damaged.as_slice()));
        }
        // Keys whose bytes sum alike: a misdirected record passes the
        // additive check even with the key covered.
        let stored = ADDITIVE.encode(0x0102, &payload());
        assert!(ADDITIVE.decode(0x0201, &stored).is_ok());
        assert!(CRC.decode(0x0201, &CRC.encode(0x0102, &payload())).is_err());
    }
}
