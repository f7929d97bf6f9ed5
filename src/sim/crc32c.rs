//! CRC32C (Castagnoli) and record framing for the simulated disk.
//!
//! Protocols frame every durable record as `[len: u32 LE][crc32c(payload): u32 LE]
//! [payload]`. A torn write or a flipped bit then shows up as a checksum mismatch or
//! a truncated frame when the node restarts and reads its log — corruption is
//! detected, never served.

/// The reflected Castagnoli polynomial.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// Slicing-by-8 tables: `TABLES[0]` is the classic byte-at-a-time table, and
/// `TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes, so eight
/// input bytes are folded with eight independent lookups (Intel's "slicing-by-8").
const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][index] = crc;
        index += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut index = 0;
        while index < 256 {
            let previous = tables[k - 1][index];
            tables[k][index] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            index += 1;
        }
        k += 1;
    }
    tables
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let t = &TABLES;
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let low = crc ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let high = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = t[7][(low & 0xFF) as usize]
            ^ t[6][((low >> 8) & 0xFF) as usize]
            ^ t[5][((low >> 16) & 0xFF) as usize]
            ^ t[4][(low >> 24) as usize]
            ^ t[3][(high & 0xFF) as usize]
            ^ t[2][((high >> 8) & 0xFF) as usize]
            ^ t[1][((high >> 16) & 0xFF) as usize]
            ^ t[0][(high >> 24) as usize];
    }
    for &byte in chunks.remainder() {
        crc = t[0][((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Bytes of framing before each payload.
pub const FRAME_HEADER: usize = 8;

/// Appends one framed record to `out`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(payload.len()).expect("record larger than 4 GiB");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Starts a framed record at the end of `out` by reserving its header; append the
/// payload to `out`, then seal it with [`finish_frame`]. Saves copying a payload
/// built elsewhere.
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    at
}

/// Fills in the header of the record [`begin_frame`] started at `at`: everything
/// after the header up to the end of `out` is its payload.
pub fn finish_frame(out: &mut [u8], at: usize) {
    let payload = &out[at + FRAME_HEADER..];
    let length = u32::try_from(payload.len()).expect("record larger than 4 GiB");
    let crc = crc32c(payload);
    out[at..at + 4].copy_from_slice(&length.to_le_bytes());
    out[at + 4..at + FRAME_HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// Why reading a framed log stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The file ends inside a frame (a torn write).
    Truncated {
        /// Byte offset of the incomplete frame.
        offset: usize,
    },
    /// The payload does not match its checksum (a flipped bit).
    Checksum {
        /// Byte offset of the bad frame.
        offset: usize,
    },
}

/// Splits a framed log into its payloads. Reading stops at the first bad frame;
/// everything before it is returned along with the error, so a protocol can keep
/// the valid prefix (the usual recovery for a torn tail) or refuse to start.
pub fn unframe(bytes: &[u8]) -> (Vec<&[u8]>, Option<FrameError>) {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        if bytes.len() - offset < FRAME_HEADER {
            return (records, Some(FrameError::Truncated { offset }));
        }
        let length = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        let checksum = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        let start = offset + FRAME_HEADER;
        if bytes.len() - start < length {
            return (records, Some(FrameError::Truncated { offset }));
        }
        let payload = &bytes[start..start + length];
        if crc32c(payload) != checksum {
            return (records, Some(FrameError::Checksum { offset }));
        }
        records.push(payload);
        offset = start + length;
    }
    (records, None)
}

/// Like [`unframe`], but skips a frame whose payload fails its checksum when its
/// length still fits the file, and goes on reading: one flipped payload bit then
/// costs one record instead of the whole tail. Reading stops for good only where
/// the framing itself is lost (a truncated frame, or a damaged length that runs
/// past the end). Returns the good payloads and every problem met, in order.
pub fn salvage(bytes: &[u8]) -> (Vec<&[u8]>, Vec<FrameError>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        if bytes.len() - offset < FRAME_HEADER {
            problems.push(FrameError::Truncated { offset });
            break;
        }
        let length = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        let checksum = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        let start = offset + FRAME_HEADER;
        if bytes.len() - start < length {
            problems.push(FrameError::Truncated { offset });
            break;
        }
        let payload = &bytes[start..start + length];
        if crc32c(payload) == checksum {
            records.push(payload);
        } else {
            problems.push(FrameError::Checksum { offset });
        }
        offset = start + length;
    }
    (records, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The check value from the CRC catalogue for CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // 32 bytes of zeros and of 0xFF (RFC 3720, B.4): the 8-byte path.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn slicing_by_8_agrees_with_the_bitwise_definition_at_every_length() {
        fn bitwise(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 {
                        (crc >> 1) ^ POLYNOMIAL
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + i / 7) as u8).collect();
        for start in 0..8 {
            for end in start..data.len() {
                assert_eq!(crc32c(&data[start..end]), bitwise(&data[start..end]));
            }
        }
    }

    #[test]
    fn every_single_bit_flip_in_a_frame_is_detected() {
        let mut log = Vec::new();
        frame(b"hello", &mut log);
        for bit in 0..log.len() * 8 {
            let mut damaged = log.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let (records, error) = unframe(&damaged);
            assert!(
                error.is_some() || records != vec![&b"hello"[..]],
                "bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn salvage_skips_a_damaged_payload_and_keeps_the_rest() {
        let mut log = Vec::new();
        for payload in [&b"one"[..], b"two", b"three"] {
            frame(payload, &mut log);
        }
        log[FRAME_HEADER + 3 + FRAME_HEADER] ^= 0x10; // a bit of "two"
        let (records, problems) = salvage(&log);
        assert_eq!(records, vec![&b"one"[..], &b"three"[..]]);
        assert_eq!(problems, vec![FrameError::Checksum { offset: 11 }]);
        // unframe, by contrast, stops at the damage.
        assert_eq!(unframe(&log).0, vec![&b"one"[..]]);
    }

    #[test]
    fn a_torn_tail_keeps_the_valid_prefix() {
        let mut log = Vec::new();
        frame(b"one", &mut log);
        frame(b"two", &mut log);
        let torn = &log[..log.len() - 1];
        let (records, error) = unframe(torn);
        assert_eq!(records, vec![&b"one"[..]]);
        assert_eq!(error, Some(FrameError::Truncated { offset: 11 }));
    }
}
