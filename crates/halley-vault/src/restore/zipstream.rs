//! A zip writer that never seeks, so a restore can stream a zip to a pipe or
//! an HTTP response (the `zip` crate needs `Seek`).
//!
//! Entries are stored uncompressed (backed-up data is often compressed
//! already, and the point is speed); sizes are known in advance from the
//! tree, the CRC-32 goes into a data descriptor after the data. ZIP64
//! records are written only where a size, an offset or the entry count
//! needs them (APPNOTE.TXT 6.3, sections 4.3.9, 4.5.3 and 4.3.14).

use std::io::{self, Write};

const U32_MAX: u64 = 0xFFFF_FFFF;

/// Unix file type bits in the external attributes.
pub(crate) const S_IFREG: u32 = 0o100000;
pub(crate) const S_IFDIR: u32 = 0o040000;
pub(crate) const S_IFLNK: u32 = 0o120000;

struct Central {
    name: Vec<u8>,
    crc: u32,
    size: u64,
    offset: u64,
    unix_mode: u32,
    dos_time: u16,
    dos_date: u16,
    zip64: bool,
}

/// Writes a zip archive entry by entry.
pub(crate) struct ZipStream<W: Write> {
    out: W,
    written: u64,
    entries: Vec<Central>,
}

fn dos_datetime(unix: i64) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let Some(t) = chrono::DateTime::from_timestamp(unix, 0) else {
        return (0, 0x21);
    };
    if t.year() < 1980 {
        return (0, 0x21); // 1980-01-01, the earliest DOS date
    }
    let year = (t.year() - 1980).min(127) as u16;
    let time = ((t.hour() as u16) << 11) | ((t.minute() as u16) << 5) | (t.second() as u16 / 2);
    let date = (year << 9) | ((t.month() as u16) << 5) | t.day() as u16;
    (time, date)
}

impl<W: Write> ZipStream<W> {
    pub fn new(out: W) -> Self {
        ZipStream {
            out,
            written: 0,
            entries: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Adds one entry whose content (exactly `size` bytes) `content` writes.
    pub fn add(
        &mut self,
        name: &[u8],
        unix_mode: u32,
        mtime: i64,
        size: u64,
        content: &mut dyn io::Read,
    ) -> io::Result<()> {
        let offset = self.written;
        let zip64 = size >= U32_MAX || offset >= U32_MAX;
        let (dos_time, dos_date) = dos_datetime(mtime);
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&0x0808u16.to_le_bytes()); // data descriptor, UTF-8 names
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&dos_time.to_le_bytes());
        h.extend_from_slice(&dos_date.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // CRC follows the data
        let small = if zip64 { U32_MAX as u32 } else { size as u32 };
        h.extend_from_slice(&small.to_le_bytes());
        h.extend_from_slice(&small.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(name);
        if zip64 {
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
        }
        self.put(&h)?;

        let mut crc = crc32fast::Hasher::new();
        let mut copied = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = content.read(&mut buf)?;
            if n == 0 {
                break;
            }
            crc.update(&buf[..n]);
            self.put(&buf[..n])?;
            copied += n as u64;
        }
        if copied != size {
            return Err(io::Error::other(format!(
                "{}: content is {copied} bytes, expected {size}",
                String::from_utf8_lossy(name)
            )));
        }
        let crc = crc.finalize();
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            d.extend_from_slice(&size.to_le_bytes());
            d.extend_from_slice(&size.to_le_bytes());
        } else {
            d.extend_from_slice(&(size as u32).to_le_bytes());
            d.extend_from_slice(&(size as u32).to_le_bytes());
        }
        self.put(&d)?;
        self.entries.push(Central {
            name: name.to_vec(),
            crc,
            size,
            offset,
            unix_mode,
            dos_time,
            dos_date,
            zip64,
        });
        Ok(())
    }

    /// Writes the central directory and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_start = self.written;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut extra = Vec::new();
            if e.zip64 {
                extra.extend_from_slice(&1u16.to_le_bytes());
                let mut fields = Vec::new();
                if e.size >= U32_MAX {
                    fields.extend_from_slice(&e.size.to_le_bytes());
                    fields.extend_from_slice(&e.size.to_le_bytes());
                }
                if e.offset >= U32_MAX {
                    fields.extend_from_slice(&e.offset.to_le_bytes());
                }
                extra.extend_from_slice(&(fields.len() as u16).to_le_bytes());
                extra.extend_from_slice(&fields);
            }
            let size32 = if e.size >= U32_MAX {
                U32_MAX as u32
            } else {
                e.size as u32
            };
            let off32 = if e.offset >= U32_MAX {
                U32_MAX as u32
            } else {
                e.offset as u32
            };
            let version: u16 = if e.zip64 { 45 } else { 20 };
            let mut c = Vec::with_capacity(46 + e.name.len() + extra.len());
            c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            c.extend_from_slice(&((3u16 << 8) | version).to_le_bytes()); // made by Unix
            c.extend_from_slice(&version.to_le_bytes());
            c.extend_from_slice(&0x0808u16.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes());
            c.extend_from_slice(&e.dos_time.to_le_bytes());
            c.extend_from_slice(&e.dos_date.to_le_bytes());
            c.extend_from_slice(&e.crc.to_le_bytes());
            c.extend_from_slice(&size32.to_le_bytes());
            c.extend_from_slice(&size32.to_le_bytes());
            c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            c.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes()); // comment
            c.extend_from_slice(&0u16.to_le_bytes()); // disk
            c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            let dos_dir = if e.unix_mode & 0o170000 == S_IFDIR {
                0x10
            } else {
                0
            };
            c.extend_from_slice(&((e.unix_mode << 16) | dos_dir).to_le_bytes());
            c.extend_from_slice(&off32.to_le_bytes());
            c.extend_from_slice(&e.name);
            c.extend_from_slice(&extra);
            self.put(&c)?;
        }
        let cd_size = self.written - cd_start;
        let count = entries.len() as u64;
        let zip64 = count >= 0xFFFF || cd_start >= U32_MAX || cd_size >= U32_MAX;
        if zip64 {
            let eocd64 = self.written;
            let mut z = Vec::with_capacity(76);
            z.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            z.extend_from_slice(&44u64.to_le_bytes());
            z.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
            z.extend_from_slice(&45u16.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&cd_size.to_le_bytes());
            z.extend_from_slice(&cd_start.to_le_bytes());
            z.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&eocd64.to_le_bytes());
            z.extend_from_slice(&1u32.to_le_bytes());
            self.put(&z)?;
        }
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        let count16 = count.min(0xFFFF) as u16;
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
        end.extend_from_slice(&(cd_start.min(U32_MAX) as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
