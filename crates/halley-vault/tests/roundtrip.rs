//! Backup and restore round trips over a real local repository.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use common::*;
use halley_vault::backend::LocalBackend;
use halley_vault::{
    backup, no_progress, restore, BackupOptions, Repository, Selection, VaultError,
};

fn inside(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn round_trip_is_bit_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    assert!(
        snap.snapshot.summary.errors.is_empty(),
        "{:?}",
        snap.snapshot.summary.errors
    );

    // Restore with a freshly opened repository, as another process would.
    let repo = open_repo(tmp.path());
    let target = tmp.path().join("out");
    let s = restore(&repo, &snap, &target, &[], &no_progress).unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let restored = inside(&target, &src);
    assert_same_tree(&src, &restored);
    let (a, b) = (
        fs::metadata(&src).unwrap(),
        fs::metadata(&restored).unwrap(),
    );
    assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()));
    // Holes came back as holes.
    assert!(allocated(&restored.join("sparse.img")) < 1 << 20);
    // Duplicated data was stored once: the repository is far smaller than the source.
    let stored: u64 = repo
        .backend()
        .list("data/")
        .unwrap()
        .iter()
        .map(|l| l.size)
        .sum();
    assert!(stored < 16 << 20, "stored {stored} bytes");
}

#[test]
fn wrong_password_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    init_repo(tmp.path());
    let backend = Arc::new(LocalBackend::new(tmp.path().join("repo")));
    match Repository::open(backend, "not the password") {
        Err(e @ VaultError::WrongPassword { .. }) => {
            assert!(e.to_string().contains("wrong password"), "{e}")
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened with a wrong password"),
    }
    let nothing = Arc::new(LocalBackend::new(tmp.path().join("nothing")));
    assert!(matches!(
        Repository::open(nothing, PASSWORD),
        Err(VaultError::NotARepository(_))
    ));
    let again = Arc::new(LocalBackend::new(tmp.path().join("repo")));
    assert!(matches!(
        Repository::init(again, PASSWORD, Default::default()),
        Err(VaultError::AlreadyExists(_))
    ));
}

fn props(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn restored_names(repo: &Repository, snap: &halley_vault::SnapshotInfo, src: &Path) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let s = restore(repo, snap, out.path(), &[], &no_progress).unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    snapshot_of(&inside(out.path(), src))
        .keys()
        .map(|k| k.display().to_string())
        .collect()
}

#[test]
fn include_exclude_and_rexclude_rules_from_engine_props() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for f in [
        "a/keep.txt",
        "a/drop.tmp",
        "a/cache/x",
        "b/keep.txt",
        "b/old.bak",
        "c/not-included",
        "node_modules/m",
        "a/deeper/node_modules/m",
    ] {
        write(&src.join(f), f.as_bytes());
    }
    let repo = init_repo(tmp.path());
    let p = props(&[
        ("INCLUDE0", src.join("a").display().to_string()),
        ("INCLUDE1", src.join("b").display().to_string()),
        ("INCLUDE2", src.join("node_modules").display().to_string()),
        ("EXCLUDE0", "*.tmp".into()),
        ("EXCLUDE1", format!("{}/*/cache", src.display())),
        ("EXCLUDE2", "**/node_modules".into()),
        ("REXCLUDE0", r"\.bak$".into()),
    ]);
    let sel = Selection::from_engine_props(&p).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let names = restored_names(&repo, &snap, &src);
    assert_eq!(
        names,
        vec![
            "a",
            "a/deeper",
            "a/keep.txt",
            "b",
            "b/keep.txt",
            // An include path is never excluded by the rules, its content is.
            "node_modules",
            "node_modules/m",
        ]
    );
}

#[test]
fn unchanged_files_are_not_read_again_unless_rescan_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for i in 0..20 {
        write(&src.join(format!("f{i}")), &noise(i, 10_000));
    }
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let opts = BackupOptions::default();
    let first = backup(&repo, &sel, &opts, &no_progress).unwrap();
    assert_eq!(first.snapshot.summary.files_read, 20);

    append(&src.join("f3"), b"changed");
    let second = backup(&repo, &sel, &opts, &no_progress).unwrap();
    assert_eq!(second.snapshot.summary.files_read, 1);
    assert_eq!(second.snapshot.parent, Some(first.id));

    // A file changed behind our back with the same size and mtime is only
    // seen with RESCAN_UNCHANGED.
    let m = fs::metadata(src.join("f5")).unwrap();
    let mut data = fs::read(src.join("f5")).unwrap();
    data[0] ^= 0xff;
    fs::write(src.join("f5"), &data).unwrap();
    set_mtime(&src.join("f5"), m.mtime(), m.mtime_nsec() as u32);
    let third = backup(&repo, &sel, &opts, &no_progress).unwrap();
    assert_eq!(third.snapshot.summary.files_read, 0);

    let p = props(&[
        ("INCLUDE0", src.display().to_string()),
        ("RESCAN_UNCHANGED", String::new()),
    ]);
    let rescan = Selection::from_engine_props(&p).unwrap();
    let fourth = backup(&repo, &rescan, &opts, &no_progress).unwrap();
    assert_eq!(fourth.snapshot.summary.files_read, 20);
    let out = tempfile::tempdir().unwrap();
    restore(&repo, &fourth, out.path(), &[], &no_progress).unwrap();
    assert_eq!(fs::read(inside(out.path(), &src).join("f5")).unwrap(), data);
}

#[test]
fn restore_selected_paths_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("x/one"), b"1");
    write(&src.join("x/two"), b"2");
    write(&src.join("y/three"), b"3");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let out = tempfile::tempdir().unwrap();
    let want = format!("{}/x/two", src.display());
    let s = restore(&repo, &snap, out.path(), &[want], &no_progress).unwrap();
    assert_eq!(s.files, 1);
    let r = inside(out.path(), &src);
    assert_eq!(fs::read(r.join("x/two")).unwrap(), b"2");
    assert!(!r.join("x/one").exists());
    assert!(!r.join("y").exists());
    let missing = restore(&repo, &snap, out.path(), &["/no/such".into()], &no_progress);
    assert!(matches!(missing, Err(VaultError::PathNotFound(_))));
}

#[test]
fn restore_replaces_symlinks_in_the_target_instead_of_following_them() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("d/file"), b"payload");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    // A hostile target: the file and the directory are symlinks pointing outside.
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    write(&outside.join("victim"), b"untouched");
    let target = tmp.path().join("target");
    let r = inside(&target, &src);
    fs::create_dir_all(r.join("d")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), r.join("d/file")).unwrap();
    let s = restore(&repo, &snap, &target, &[], &no_progress).unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"untouched");
    assert_eq!(fs::read(r.join("d/file")).unwrap(), b"payload");
    assert!(!fs::symlink_metadata(r.join("d/file"))
        .unwrap()
        .file_type()
        .is_symlink());

    fs::remove_dir_all(&target).unwrap();
    fs::create_dir_all(&r).unwrap();
    std::os::unix::fs::symlink(&outside, r.join("d")).unwrap();
    let s = restore(&repo, &snap, &target, &[], &no_progress).unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(!outside.join("file").exists());
    assert_eq!(fs::read(r.join("d/file")).unwrap(), b"payload");
}

#[test]
fn unreadable_entries_are_reported_and_the_rest_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("ok"), b"fine");
    let repo = init_repo(tmp.path());
    let missing = tmp.path().join("does-not-exist");
    let sel = Selection::new(vec![src.clone(), missing], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    assert_eq!(
        snap.snapshot.summary.errors.len(),
        1,
        "{:?}",
        snap.snapshot.summary.errors
    );
    assert_eq!(restored_names(&repo, &snap, &src), vec!["ok"]);
}

#[test]
fn progress_reports_files_bytes_and_rate() {
    use std::sync::Mutex;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for i in 0..5 {
        write(&src.join(format!("f{i}")), &noise(i, 100_000));
    }
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let seen = Mutex::new(Vec::new());
    let cb = |p: &halley_vault::Progress| seen.lock().unwrap().push(p.clone());
    let snap = backup(&repo, &sel, &BackupOptions::default(), &cb).unwrap();
    let last = seen
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("no progress reported");
    assert_eq!((last.files, last.bytes), (5, 500_000));
    assert!(last.new_bytes >= 500_000);
    assert!(last.bytes_per_second() > 0.0);

    seen.lock().unwrap().clear();
    let out = tempfile::tempdir().unwrap();
    restore(&repo, &snap, out.path(), &[], &cb).unwrap();
    // Restore reports against a known total (throttled: maybe no report at all
    // for so little data, but never past the total).
    for p in seen.lock().unwrap().iter() {
        assert_eq!(p.total_bytes, Some(500_000));
        assert!(p.bytes <= 500_000);
    }
}
