//! Reading a file's content back from its chunk list.

use std::io::Read;

use super::grouped::Windowed;
use crate::id::Id;
use crate::index::Index;
use crate::repo::Repository;

/// A file's content as a [`Read`]; its chunks are fetched a window at a time
/// with grouped reads (see [`super::grouped`]).
///
/// Archive restores give one reader the chunks of all their files and read
/// it file by file ([`ContentReader::next_file`]), so the chunks of many
/// small files come in one read.
pub struct ContentReader<'r> {
    blobs: Windowed<'r>,
    /// Chunks the current file still has to take.
    left: usize,
    current: Vec<u8>,
    pos: usize,
}

impl<'r> ContentReader<'r> {
    /// Reads the chunks `content` in order.
    pub fn new(repo: &'r Repository, index: &'r Index, content: Vec<Id>) -> Self {
        ContentReader {
            left: content.len(),
            blobs: Windowed::new(repo, index, content),
            current: Vec::new(),
            pos: 0,
        }
    }

    /// Makes the reader end after the next `chunks` chunks: those of the next
    /// file.
    pub(crate) fn next_file(&mut self, chunks: usize) {
        self.left = chunks;
        self.current.clear();
        self.pos = 0;
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            if self.left == 0 {
                return Ok(0);
            }
            self.left -= 1;
            match self.blobs.next_blob() {
                None => return Ok(0),
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                Some(Ok(data)) => {
                    self.current.clear();
                    self.current.extend_from_slice(data);
                    self.pos = 0;
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
