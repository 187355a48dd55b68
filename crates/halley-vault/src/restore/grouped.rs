//! Grouped blob reads: the chunks a stretch of restore work needs are
//! fetched with one ranged read per run of neighbouring blobs in a pack, not
//! one read per chunk, which is what makes remote restores fast (an object
//! store or WebDAV server answers each request after a round trip).
//!
//! Memory stays bounded: a window plans at most [`WINDOW`] bytes of
//! plaintext, and one read covers at most [`MAX_RUN`] stored bytes.

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::id::Id;
use crate::index::{BlobKind, Index};
use crate::pack;
use crate::repo::{pack_key, Repository};

/// Plaintext bytes one window of restore work plans at once.
pub(crate) const WINDOW: u64 = 8 << 20;
/// Largest single read, in stored bytes (a larger blob is read alone).
pub(crate) const MAX_RUN: u64 = 8 << 20;
/// Bytes of unneeded blobs read to join two runs into one request.
pub(crate) const MAX_GAP: u64 = 256 << 10;

/// One ranged read of a pack and the blobs it covers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub pack: Id,
    pub start: u64,
    pub end: u64,
    /// (id, kind, offset, length) of each blob wanted from the run.
    pub blobs: Vec<(Id, BlobKind, u64, u64)>,
}

/// Groups the wanted blobs into reads: per pack, in offset order, joined
/// while the gap between them is at most [`MAX_GAP`] and the read stays
/// within [`MAX_RUN`]. Blobs the index does not know are left out (a single
/// read reports them).
pub(crate) fn plan<'a>(index: &Index, ids: impl IntoIterator<Item = &'a Id>) -> Vec<Run> {
    let mut by_pack: BTreeMap<Id, Vec<(Id, BlobKind, u64, u64)>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(*id) {
            continue;
        }
        if let Some(loc) = index.get(id) {
            by_pack.entry(loc.pack).or_default().push((
                *id,
                loc.kind,
                loc.offset,
                u64::from(loc.length),
            ));
        }
    }
    let mut runs = Vec::new();
    for (pack, mut blobs) in by_pack {
        blobs.sort_by_key(|b| b.2);
        let mut current: Option<Run> = None;
        for b in blobs {
            let (offset, end) = (b.2, b.2 + b.3);
            if let Some(run) = current.as_mut() {
                if offset <= run.end + MAX_GAP && end.max(run.end) - run.start <= MAX_RUN {
                    run.end = run.end.max(end);
                    run.blobs.push(b);
                    continue;
                }
            }
            runs.extend(current.replace(Run {
                pack,
                start: offset,
                end,
                blobs: vec![b],
            }));
        }
        runs.extend(current);
    }
    runs
}

/// Reads the blobs `ids` (repeats allowed) with grouped reads. A blob that
/// could not be read or authenticated is absent from the result: the caller
/// reads it alone with [`Repository::read_blob`], which reports exactly what
/// is wrong with it, while every other blob of the run is still used.
pub(crate) fn fetch<'a>(
    repo: &Repository,
    index: &Index,
    ids: impl IntoIterator<Item = &'a Id>,
) -> HashMap<Id, Vec<u8>> {
    let mut out = HashMap::new();
    for run in plan(index, ids) {
        let Ok(bytes) =
            repo.backend()
                .get_range(&pack_key(&run.pack), run.start, run.end - run.start)
        else {
            continue;
        };
        for (id, kind, offset, len) in run.blobs {
            let from = (offset - run.start) as usize;
            let Some(sealed) = bytes.get(from..from + len as usize) else {
                continue;
            };
            if let Ok(plain) = pack::open_blob(repo.keys(), &id, kind, sealed) {
                out.insert(id, plain);
            }
        }
    }
    out
}

/// Blob ids consumed in order, a window at a time: each window is fetched
/// with [`fetch`] when the first of its blobs is needed.
pub(crate) struct Windowed<'r> {
    repo: &'r Repository,
    index: &'r Index,
    ids: Vec<Id>,
    /// Next id to hand out.
    next: usize,
    /// End of the fetched window.
    window_end: usize,
    blobs: HashMap<Id, Vec<u8>>,
}

impl<'r> Windowed<'r> {
    /// Will hand out the blobs of `ids`, in order.
    pub fn new(repo: &'r Repository, index: &'r Index, ids: Vec<Id>) -> Self {
        Windowed {
            repo,
            index,
            ids,
            next: 0,
            window_end: 0,
            blobs: HashMap::new(),
        }
    }

    /// Skips the next `n` ids (the rest of a file that cannot be restored).
    pub fn skip(&mut self, n: usize) {
        self.next = (self.next + n).min(self.ids.len());
    }

    /// The next blob's content; `None` after the last.
    pub fn next_blob(&mut self) -> Option<Result<&[u8]>> {
        let id = *self.ids.get(self.next)?;
        if self.next >= self.window_end {
            let mut end = self.next;
            let mut planned = 0u64;
            while end < self.ids.len() && (end == self.next || planned < WINDOW) {
                planned += self
                    .index
                    .get(&self.ids[end])
                    .map(|l| u64::from(l.raw_length))
                    .unwrap_or(0);
                end += 1;
            }
            if planned > WINDOW && end > self.next + 1 {
                end -= 1;
            }
            self.blobs = HashMap::new();
            self.blobs = fetch(self.repo, self.index, &self.ids[self.next..end]);
            self.window_end = end;
        }
        self.next += 1;
        if !self.blobs.contains_key(&id) {
            match self.repo.read_blob(self.index, &id) {
                Ok(data) => {
                    self.blobs.insert(id, data);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        self.blobs.get(&id).map(|d| Ok(d.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{IndexFile, PackEntry, PackedBlob};

    fn blob(n: u8, offset: u64, length: u32) -> PackedBlob {
        PackedBlob {
            id: Id([n; 32]),
            kind: BlobKind::Data,
            offset,
            length,
            raw_length: length,
        }
    }

    #[test]
    fn runs_join_neighbours_within_the_gap_and_size_limits() {
        let (p, q) = (Id([200; 32]), Id([201; 32]));
        let mut index = Index::default();
        index.add_file(IndexFile {
            packs: vec![
                PackEntry {
                    id: p,
                    blobs: vec![
                        blob(1, 0, 1000),
                        blob(2, 1000, 1000),
                        // 100 KiB later: joined.
                        blob(3, 2000 + (100 << 10), 1000),
                        // Far after: a new run.
                        blob(4, 10 << 20, 1000),
                        // Would make the run larger than MAX_RUN.
                        blob(5, (10 << 20) + 1000, MAX_RUN as u32),
                    ],
                },
                PackEntry {
                    id: q,
                    blobs: vec![blob(6, 0, 10)],
                },
            ],
        });
        let ids: Vec<Id> = [3, 1, 2, 1, 4, 5, 6, 99].map(|n| Id([n; 32])).to_vec();
        let runs = plan(&index, &ids);
        let shape: Vec<(Id, u64, u64, usize)> = runs
            .iter()
            .map(|r| (r.pack, r.start, r.end, r.blobs.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (p, 0, 2000 + (100 << 10) + 1000, 3),
                (p, 10 << 20, (10 << 20) + 1000, 1),
                (p, (10 << 20) + 1000, (10 << 20) + 1000 + MAX_RUN, 1),
                (q, 0, 10, 1),
            ]
        );
    }
}
