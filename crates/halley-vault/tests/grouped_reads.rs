//! Restores and deep verifies read packs with grouped requests: a counting
//! backend shows far fewer reads than chunks, and the result stays
//! bit-exact.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use halley_vault::backend::{Backend, Listed, LocalBackend};
use halley_vault::{
    backup, no_progress, restore, restore_tar, BackupOptions, InitOptions, KdfParams, Repository,
    Result, Selection,
};

/// A backend that counts the reads of pack data.
struct Counting {
    inner: LocalBackend,
    pack_reads: AtomicU64,
    pack_bytes: AtomicU64,
}

impl Counting {
    fn reset(&self) -> (u64, u64) {
        (
            self.pack_reads.swap(0, Ordering::SeqCst),
            self.pack_bytes.swap(0, Ordering::SeqCst),
        )
    }

    fn count(&self, key: &str, bytes: usize) {
        if key.starts_with("data/") {
            self.pack_reads.fetch_add(1, Ordering::SeqCst);
            self.pack_bytes.fetch_add(bytes as u64, Ordering::SeqCst);
        }
    }
}

impl Backend for Counting {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let r = self.inner.get(key)?;
        self.count(key, r.len());
        Ok(r)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let r = self.inner.get_range(key, offset, len)?;
        self.count(key, r.len());
        Ok(r)
    }
    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        self.inner.put(key, data)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        self.inner.list(prefix)
    }
}

#[test]
fn restore_reads_runs_of_chunks_not_single_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Arc::new(Counting {
        inner: LocalBackend::new(tmp.path().join("repo")),
        pack_reads: AtomicU64::new(0),
        pack_bytes: AtomicU64::new(0),
    });
    let small_chunks = halley_vault::repo::ChunkerParams {
        min: 16 << 10,
        avg: 64 << 10,
        max: 256 << 10,
    };
    let repo = Repository::init(
        backend.clone(),
        PASSWORD,
        InitOptions {
            kdf: KdfParams::insecure_for_tests(),
            chunker: small_chunks,
            pack_size: 4 << 20,
        },
    )
    .unwrap();
    let src = tmp.path().join("src");
    // 300 small files (one chunk each) and two files of many chunks, one of
    // them sparse (repeated zero chunks).
    for i in 0..300u64 {
        write(
            &src.join(format!("small/{i:03}")),
            &noise(i, 2000 + i as usize),
        );
    }
    write(&src.join("big.bin"), &noise(1000, 20 << 20));
    let mut sparse = vec![0u8; 6 << 20];
    sparse.extend_from_slice(&noise(1001, 1 << 20));
    write(&src.join("sparse.img"), &sparse);
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();

    let index = repo.load_index().unwrap();
    let mut trees = 1u64;
    let chunk_refs: usize = {
        let mut n = 0;
        halley_vault::browse::walk(
            &repo,
            &index,
            &snap.snapshot.tree,
            &[],
            &mut |v| {
                n += v.node.content.len();
                trees += u64::from(v.node.subtree.is_some());
                Ok(())
            },
            &mut |_, e| Err(e),
        )
        .unwrap();
        n
    };
    assert!(chunk_refs > 500, "{chunk_refs} chunk references");

    // Restore to a directory.
    let started = std::time::Instant::now();
    backend.reset();
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &snap, out.path(), &[], &no_progress).unwrap();
    eprintln!("restore took {:?}", started.elapsed());
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &out.path().join(src.strip_prefix("/").unwrap()));
    let (reads, bytes) = backend.reset();
    let stored: u64 = repo
        .backend()
        .list("data/")
        .unwrap()
        .iter()
        .map(|l| l.size)
        .sum();
    eprintln!(
        "restore: {reads} pack reads ({bytes} bytes) for {chunk_refs} chunk references, {stored} bytes stored"
    );
    // Tree blobs are read one by one while walking; contents come in runs.
    assert!(
        reads * 10 < chunk_refs as u64,
        "{reads} reads for {chunk_refs} chunks"
    );
    // Joining runs over small gaps reads little that is not needed.
    assert!(bytes < stored + stored / 4, "{bytes} read of {stored}");

    // Restore as a tar stream.
    let tar = restore_tar(&repo, &snap, &[], Vec::new()).unwrap();
    let (reads, _) = backend.reset();
    assert!(!tar.is_empty());
    assert!(
        reads * 10 < chunk_refs as u64,
        "tar: {reads} reads for {chunk_refs} chunks"
    );

    // Deep verify reads each pack once (and each tree while walking).
    let packs = repo.backend().list("data/").unwrap().len() as u64;
    let r = halley_vault::verify::verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok(), "{r:?}");
    let (reads, _) = backend.reset();
    assert_eq!(reads, packs + trees, "deep verify: one read per pack");
}
