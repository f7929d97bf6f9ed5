//! CRC32C (Castagnoli) and record framing for the simulated disk.
//!
//! Protocols frame every durable record as `[len: u32 LE][crc32c(payload): u32 LE]
//! [payload]`. A torn write or a flipped bit then shows up as a checksum mismatch or
//! a truncated frame when the node restarts and reads its log — corruption is
//! detected, never served.

/// The reflected Castagnoli polynomial.
const POLYNOMIAL: u32 = 0x82F6_3B78;

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
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
        table[index] = crc;
        index += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
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
