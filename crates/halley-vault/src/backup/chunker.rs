//! Cutting a file into content-defined chunks (FastCDC 2020, seeded gear
//! table).
//!
//! Most files of a backup are small: a file that fits in one maximal chunk
//! is read whole into one buffer and cut in memory, which spares the
//! streaming chunker's per-file buffer of `max` bytes. Both paths use the
//! same algorithm and parameters, so they cut identical data identically and
//! a file that grows past `max` still deduplicates against its old chunks.

use std::io::Read;

use fastcdc::v2020::{FastCDC, Normalization, StreamCDC};

use crate::repo::ChunkerParams;

/// The chunks of one file, in order; an error ends the file.
pub(crate) type Chunks = Box<dyn Iterator<Item = std::io::Result<Vec<u8>>>>;

/// Chunks `file`, whose size was `size_hint` when it was listed.
pub(crate) fn chunks(
    mut file: std::fs::File,
    size_hint: u64,
    cp: ChunkerParams,
    seed: u64,
) -> std::io::Result<Chunks> {
    if size_hint <= u64::from(cp.max) {
        // Read at most one byte past `max`: a file that grew meanwhile falls
        // back to streaming below instead of growing this buffer.
        let mut data = Vec::with_capacity(size_hint as usize);
        (&mut file)
            .take(u64::from(cp.max) + 1)
            .read_to_end(&mut data)?;
        if data.len() <= cp.max as usize {
            return Ok(in_memory(data, cp, seed));
        }
        let head = std::io::Cursor::new(data);
        return Ok(streaming(Box::new(head.chain(file)), cp, seed));
    }
    Ok(streaming(Box::new(file), cp, seed))
}

pub(crate) fn in_memory(data: Vec<u8>, cp: ChunkerParams, seed: u64) -> Chunks {
    if data.len() <= cp.min as usize {
        // FastCDC never cuts below `min`: the whole file is one chunk.
        if data.is_empty() {
            return Box::new(std::iter::empty());
        }
        return Box::new(std::iter::once(Ok(data)));
    }
    let cuts: Vec<(usize, usize)> =
        FastCDC::with_level_and_seed(&data, cp.min, cp.avg, cp.max, Normalization::Level1, seed)
            .map(|c| (c.offset, c.length))
            .collect();
    if cuts.len() == 1 {
        return Box::new(std::iter::once(Ok(data)));
    }
    Box::new(
        cuts.into_iter()
            .map(move |(off, len)| Ok(data[off..off + len].to_vec())),
    )
}

fn streaming(source: Box<dyn Read>, cp: ChunkerParams, seed: u64) -> Chunks {
    Box::new(
        StreamCDC::with_level_and_seed(source, cp.min, cp.avg, cp.max, Normalization::Level1, seed)
            .map(|r| r.map(|c| c.data).map_err(std::io::Error::other)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(c: Chunks) -> Vec<Vec<u8>> {
        c.map(|r| r.unwrap()).collect()
    }

    #[test]
    fn in_memory_and_streaming_cut_alike() {
        let cp = ChunkerParams {
            min: 4096,
            avg: 16384,
            max: 65536,
        };
        let data: Vec<u8> = (0..60_000u32)
            .flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes())
            .collect();
        let data = &data[..60_000];
        let a = collect(in_memory(data.to_vec(), cp, 7));
        let b = collect(streaming(
            Box::new(std::io::Cursor::new(data.to_vec())),
            cp,
            7,
        ));
        assert_eq!(a, b);
        assert!(a.len() > 1);
        assert_eq!(a.concat(), data);
        assert!(collect(in_memory(vec![], cp, 7)).is_empty());
    }
}
