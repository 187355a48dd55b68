//! Reading a file's content back from its chunk list.

use std::io::Read;

use crate::error::Result;
use crate::id::Id;
use crate::index::Index;
use crate::repo::Repository;

/// A file's content as a [`Read`], one chunk in memory at a time.
pub struct ContentReader<'r> {
    repo: &'r Repository,
    index: &'r Index,
    chunks: std::vec::IntoIter<Id>,
    current: Vec<u8>,
    pos: usize,
}

impl<'r> ContentReader<'r> {
    /// Reads the chunks `content` in order.
    pub fn new(repo: &'r Repository, index: &'r Index, content: Vec<Id>) -> Self {
        ContentReader {
            repo,
            index,
            chunks: content.into_iter(),
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            match self.chunks.next() {
                None => return Ok(0),
                Some(id) => {
                    self.current = self
                        .repo
                        .read_blob(self.index, &id)
                        .map_err(std::io::Error::other)?;
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

/// Reads one blob, reusing the previous one when the id repeats (runs of
/// identical chunks, such as the zeros of sparse files).
pub(crate) struct BlobCache {
    last: Option<(Id, Vec<u8>)>,
}

impl BlobCache {
    pub fn new() -> Self {
        BlobCache { last: None }
    }

    pub fn get(&mut self, repo: &Repository, index: &Index, id: &Id) -> Result<&[u8]> {
        if self.last.as_ref().map(|(l, _)| l) != Some(id) {
            let data = repo.read_blob(index, id)?;
            self.last = Some((*id, data));
        }
        Ok(self.last.as_ref().map(|(_, d)| d.as_slice()).unwrap_or(&[]))
    }
}
