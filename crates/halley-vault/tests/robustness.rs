//! kill -9 at any moment, concurrent writers, and locks.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use halley_vault::verify::verify;
use halley_vault::{backup, lock, no_progress, restore, BackupOptions, Selection, VaultError};

fn inside(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

fn make_source(root: &Path, seed: u64) {
    for i in 0..30 {
        write(
            &root.join(format!("small/{i}.txt")),
            &noise(seed * 1000 + i, 10_000),
        );
    }
    for i in 0..2 {
        write(
            &root.join(format!("large/{i}.bin")),
            &noise(seed * 1000 + 500 + i, 2 << 20),
        );
    }
}

fn spawn_backup(repo: &Path, src: &Path, source: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "backup",
            "--source",
            source,
        ])
        .arg(src)
        .env("HALLEY_VAULT_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_at_any_moment_leaves_a_verifiable_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_source(&src, 1);
    let repo = init_repo(tmp.path());
    let repo_dir = tmp.path().join("repo");
    let mut completed = 0;
    for (round, delay_ms) in [10u64, 50, 150, 350, 700].into_iter().enumerate() {
        // A different file each round, so every round has new data to write.
        write(
            &src.join(format!("round-{round}")),
            &noise(100 + round as u64, 512 << 10),
        );
        let mut child = spawn_backup(&repo_dir, &src, "killed");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if finished {
            completed += 1;
        }
        let r = verify(&repo, true, &no_progress).unwrap();
        assert!(r.is_ok(), "after kill at {delay_ms} ms: {r:?}");
    }
    // The killed writers' locks belong to dead processes: the next backup runs.
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let opts = BackupOptions {
        source: "killed".into(),
        ..Default::default()
    };
    let snap = backup(&repo, &sel, &opts, &no_progress).unwrap();
    assert!(snap.snapshot.summary.errors.is_empty());
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &snap, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &inside(out.path(), &src));
    // Prune clears what the killed runs left.
    halley_vault::prune::prune(&repo).unwrap();
    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok() && r.unindexed_packs == 0, "{r:?}");
    assert!(
        completed < 5,
        "every backup finished before its kill: the test proved nothing"
    );
}

#[test]
fn concurrent_writers_do_not_corrupt_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    make_source(&a, 2);
    make_source(&b, 3);
    // Shared data in both, so both writers store the same chunks at once.
    write(&a.join("shared.bin"), &noise(42, 2 << 20));
    write(&b.join("shared.bin"), &noise(42, 2 << 20));
    let repo = init_repo(tmp.path());
    let repo_dir = tmp.path().join("repo");
    let ca = spawn_backup(&repo_dir, &a, "a");
    let cb = spawn_backup(&repo_dir, &b, "b");
    for c in [ca, cb] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok(), "{r:?}");
    let snaps = repo.snapshots().unwrap();
    assert_eq!(snaps.len(), 2);
    for (s, src) in snaps.iter().map(|s| {
        let src = if s.snapshot.source == "a" { &a } else { &b };
        (s, src)
    }) {
        let out = tempfile::tempdir().unwrap();
        let rs = restore(&repo, s, out.path(), &[], &no_progress).unwrap();
        assert!(rs.errors.is_empty());
        assert_same_tree(src, &inside(out.path(), src));
    }
    // Prune keeps exactly one copy of the shared chunks and breaks nothing.
    halley_vault::prune::prune(&repo).unwrap();
    assert!(verify(&repo, true, &no_progress).unwrap().is_ok());
}

#[test]
fn exclusive_operations_wait_for_no_one() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("f"), b"x");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    {
        // A running backup (shared lock) blocks prune and forget, not another backup.
        let _shared = lock::acquire(&repo, false, "backup").unwrap();
        assert!(matches!(
            halley_vault::prune::prune(&repo),
            Err(VaultError::Locked(_))
        ));
        assert!(matches!(
            halley_vault::forget::forget(&repo, &[snap.id]),
            Err(VaultError::Locked(_))
        ));
        backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    }
    {
        // A prune (exclusive lock) blocks backups.
        let _excl = lock::acquire(&repo, true, "prune").unwrap();
        let e = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap_err();
        assert!(e.to_string().contains("locked by prune"), "{e}");
    }
    // Released locks leave no file behind.
    assert!(repo.backend().list("locks/").unwrap().is_empty());
    halley_vault::prune::prune(&repo).unwrap();
}

#[test]
fn stale_locks_are_ignored_fresh_foreign_ones_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("f"), b"x");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let now = chrono::Utc::now().timestamp();
    let put = |name: &str, l: &lock::LockFile| {
        repo.backend()
            .put(&format!("locks/{name}"), &serde_json::to_vec(l).unwrap())
            .unwrap();
    };
    // Left by a process of this host that no longer exists.
    put(
        "dead",
        &lock::LockFile {
            exclusive: true,
            hostname: lock::hostname(),
            pid: 999_999_999,
            operation: "prune".into(),
            time: now,
        },
    );
    // Another host's lock, not refreshed for an hour.
    put(
        "old",
        &lock::LockFile {
            exclusive: true,
            hostname: "elsewhere".into(),
            pid: 1,
            operation: "prune".into(),
            time: now - 3600,
        },
    );
    backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    // Another host's live lock.
    put(
        "live",
        &lock::LockFile {
            exclusive: true,
            hostname: "elsewhere".into(),
            pid: 1,
            operation: "prune".into(),
            time: now,
        },
    );
    let e = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap_err();
    assert!(e.to_string().contains("elsewhere"), "{e}");
}

#[test]
fn kill_9_during_prune_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let repo = init_repo(tmp.path());
    let repo_dir = tmp.path().join("repo");
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let mut killed_early = 0;
    for (round, delay_ms) in [5u64, 30, 90].into_iter().enumerate() {
        // Work for prune: a snapshot to forget whose packs also hold data
        // the kept snapshot still uses (so packs are repacked, not just deleted).
        let seed = 10 * round as u64;
        write(&src.join("kept.bin"), &noise(seed, 400_000));
        write(&src.join("dropped.bin"), &noise(seed + 1, 800_000));
        let old = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
        std::fs::remove_file(src.join("dropped.bin")).unwrap();
        let kept = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
        halley_vault::forget::forget(&repo, &[old.id]).unwrap();

        let mut child = Command::new(env!("CARGO_BIN_EXE_halley-vault"))
            .args(["--repo", repo_dir.to_str().unwrap(), "prune"])
            .env("HALLEY_VAULT_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_early += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let r = verify(&repo, true, &no_progress).unwrap();
        assert!(r.is_ok(), "after killing prune at {delay_ms} ms: {r:?}");
        let out = tempfile::tempdir().unwrap();
        let rs = restore(&repo, &kept, out.path(), &[], &no_progress).unwrap();
        assert!(rs.errors.is_empty(), "{:?}", rs.errors);
        assert_same_tree(&src, &inside(out.path(), &src));
    }
    halley_vault::prune::prune(&repo).unwrap();
    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok() && r.unindexed_packs == 0, "{r:?}");
    assert!(
        killed_early > 0,
        "every prune finished before its kill: the test proved nothing"
    );
}
