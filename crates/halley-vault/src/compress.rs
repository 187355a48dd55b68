//! Payload encoding shared by every sealed object: an optional zstd layer.
//!
//! A payload is one flag byte, then either the raw bytes (flag 0) or the raw
//! length as u64 little-endian followed by one zstd frame (flag 1). The length
//! lets a reader refuse absurd sizes before allocating.

use crate::error::{Result, VaultError};

/// Largest decoded payload accepted (a chunk is at most 8 MiB; trees and
/// indexes of very large repositories stay far below this).
const MAX_DECODED: u64 = 1 << 32;

/// A compression level of the API (`COMPRESS_LVL_1`..`COMPRESS_LVL_5`) turned
/// into what the encoder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// `None` stores data raw.
    zstd_level: Option<i32>,
}

impl Compression {
    /// Maps the API level: 1 stores raw, 2..5 use zstd -3, 1, 3 and 9.
    /// Out-of-range values (including `COMPRESS_INVALID` = 0) use the default 4.
    pub fn from_api_level(level: i64) -> Compression {
        let zstd_level = match level {
            1 => None,
            2 => Some(-3),
            3 => Some(1),
            5 => Some(9),
            _ => Some(3),
        };
        Compression { zstd_level }
    }

    /// The default (`COMPRESS_LVL_4`).
    pub fn default_level() -> Compression {
        Compression::from_api_level(halley_api::constants::COMPRESS_LVL_4)
    }

    /// Metadata (trees, indexes, snapshots) always compresses well; it uses
    /// zstd 3 whatever the data level.
    pub fn metadata() -> Compression {
        Compression {
            zstd_level: Some(3),
        }
    }

    /// Encodes `data`, storing it raw when zstd does not make it smaller.
    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        if let Some(level) = self.zstd_level {
            if let Some(frame) = compress_if_useful(data, level) {
                // Keep the compressed form only when it saves at least 1/64,
                // so incompressible data costs no decompression on restore.
                if frame.len() + 9 < data.len() - data.len() / 64 {
                    let mut out = Vec::with_capacity(frame.len() + 9);
                    out.push(1);
                    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
                    out.extend_from_slice(&frame);
                    return out;
                }
            }
        }
        let mut out = Vec::with_capacity(data.len() + 1);
        out.push(0);
        out.extend_from_slice(data);
        out
    }
}

/// Below this size a chunk is compressed outright; above, a sample decides.
const SAMPLE_FROM: usize = 256 * 1024;
const SAMPLE_LEN: usize = 64 * 1024;

thread_local! {
    // One zstd context per thread and level: creating one per chunk costs
    // more than compressing a small chunk.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

fn zstd_compress(data: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        slot.as_mut()?.1.compress(data).ok()
    })
}

/// Compresses `data` unless a sample shows it will not shrink: already
/// compressed or encrypted data (media, archives) is common in backups, and
/// compressing it only to throw the result away would halve throughput.
fn compress_if_useful(data: &[u8], level: i32) -> Option<Vec<u8>> {
    if data.len() >= SAMPLE_FROM {
        let start = data.len() / 2 - SAMPLE_LEN / 2;
        let sample = &data[start..start + SAMPLE_LEN];
        let small = zstd_compress(sample, level.min(1))?;
        if small.len() > SAMPLE_LEN - SAMPLE_LEN / 32 {
            return None;
        }
    }
    zstd_compress(data, level)
}

/// Decodes a payload written by [`Compression::encode`].
pub fn decode(what: &str, mut payload: Vec<u8>) -> Result<Vec<u8>> {
    match payload.first() {
        Some(0) => {
            payload.remove(0);
            Ok(payload)
        }
        Some(1) if payload.len() >= 9 => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&payload[1..9]);
            let len = u64::from_le_bytes(len);
            if len > MAX_DECODED {
                return Err(VaultError::corrupt(what, format!("declared size {len}")));
            }
            let out = zstd::bulk::decompress(&payload[9..], len as usize)
                .map_err(|e| VaultError::corrupt(what, format!("zstd: {e}")))?;
            if out.len() as u64 != len {
                return Err(VaultError::corrupt(what, "decoded size mismatch"));
            }
            Ok(out)
        }
        _ => Err(VaultError::corrupt(what, "unknown payload encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_round_trips_and_random_data_is_stored_raw() {
        let text = b"abcabcabc".repeat(1000);
        let random: Vec<u8> = (0..10_000).map(|_| rand::random::<u8>()).collect();
        for level in 0..=6 {
            let c = Compression::from_api_level(level);
            for data in [&text[..], &random[..], &[][..]] {
                let enc = c.encode(data);
                assert_eq!(decode("t", enc).unwrap(), data);
            }
        }
        assert_eq!(Compression::default_level().encode(&random)[0], 0);
        assert_eq!(Compression::default_level().encode(&text)[0], 1);
        assert_eq!(Compression::from_api_level(1).encode(&text)[0], 0);
        // Large incompressible chunks are detected from a sample.
        let big_random: Vec<u8> = (0..1_000_000).map(|_| rand::random::<u8>()).collect();
        assert_eq!(Compression::default_level().encode(&big_random)[0], 0);
        let big_text = b"some text that repeats ".repeat(50_000);
        let enc = Compression::default_level().encode(&big_text);
        assert_eq!(enc[0], 1);
        assert_eq!(decode("t", enc).unwrap(), big_text);
        assert!(decode("t", vec![7]).is_err());
        assert!(decode("t", vec![]).is_err());
    }
}
