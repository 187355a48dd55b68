//! Forget, prune and verify, including damaged repositories.

mod common;

use std::fs;

use common::*;
use halley_vault::verify::verify;
use halley_vault::{backup, no_progress, restore, BackupOptions, Selection, VaultError};

fn inside(target: &std::path::Path, src: &std::path::Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

fn pack_bytes(repo: &halley_vault::Repository) -> u64 {
    repo.backend()
        .list("data/")
        .unwrap()
        .iter()
        .map(|l| l.size)
        .sum()
}

#[test]
fn forget_then_prune_frees_space_and_keeps_the_rest_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("keep.bin"), &noise(1, 600_000));
    write(&src.join("gone.bin"), &noise(2, 3_000_000));
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let first = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    fs::remove_file(src.join("gone.bin")).unwrap();
    write(&src.join("new.bin"), &noise(3, 400_000));
    let second = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let before = pack_bytes(&repo);

    // Nothing to free while both snapshots exist.
    let s = halley_vault::prune::prune(&repo).unwrap();
    assert_eq!((s.packs_deleted, s.packs_repacked), (0, 0), "{s:?}");

    halley_vault::forget::forget(&repo, &[first.id]).unwrap();
    let s = halley_vault::prune::prune(&repo).unwrap();
    // The first backup's single pack held keep.bin (still used) and gone.bin:
    // it is repacked, not kept whole.
    assert!(s.packs_repacked + s.packs_deleted >= 1, "{s:?}");
    assert!(s.blobs_removed >= 1);
    let after = pack_bytes(&repo);
    assert!(after + 2_500_000 < before, "before {before}, after {after}");
    assert_eq!(
        repo.list_ids(halley_vault::repo::FileKind::Index)
            .unwrap()
            .len(),
        1
    );

    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok(), "{r:?}");
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &second, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty());
    assert_same_tree(&src, &inside(out.path(), &src));
    // A second prune has nothing left to do.
    let s = halley_vault::prune::prune(&repo).unwrap();
    assert_eq!(
        (s.packs_deleted, s.packs_repacked, s.blobs_removed),
        (0, 0, 0)
    );
}

#[test]
fn deep_verify_reports_damage_with_the_files_it_affects() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a/victim.bin"), &noise(7, 200_000));
    write(&src.join("b/healthy.txt"), b"fine");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.join("a")], &[], &[]).unwrap();
    backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let sel_b = Selection::new(vec![src.join("b")], &[], &[]).unwrap();
    let healthy = backup(&repo, &sel_b, &BackupOptions::default(), &no_progress).unwrap();

    assert!(verify(&repo, true, &no_progress).unwrap().is_ok());

    // Flip one byte inside the first backup's pack, in victim.bin's chunk.
    let index = repo.load_index().unwrap();
    let first_snap = repo.snapshots().unwrap()[0].clone();
    let entries = halley_vault::browse::list(&repo, &first_snap.snapshot.tree, None).unwrap();
    let victim = entries
        .iter()
        .find(|(p, _)| p.ends_with("victim.bin"))
        .unwrap()
        .1
        .clone();
    let loc = *index.get(&victim.content[0]).unwrap();
    let pack_path = tmp
        .path()
        .join("repo")
        .join(halley_vault::repo::pack_key(&loc.pack));
    let mut bytes = fs::read(&pack_path).unwrap();
    bytes[loc.offset as usize + 100] ^= 0x55;
    fs::write(&pack_path, &bytes).unwrap();

    // Quick verify looks at structure only; the pack is still whole.
    assert!(verify(&repo, false, &no_progress).unwrap().is_ok());
    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(!r.is_ok());
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("authentication failed")),
        "{r:?}"
    );
    let affected: Vec<&str> = r.affected.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(affected.len(), 1, "{affected:?}");
    assert!(affected[0].ends_with("/a/victim.bin"));

    // The damaged file is reported on restore; other snapshots restore whole.
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &first_snap, out.path(), &[], &no_progress).unwrap();
    assert_eq!(rs.errors.len(), 1, "{:?}", rs.errors);
    assert!(rs.errors[0].contains("victim.bin"));
    let rs = restore(&repo, &healthy, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty());
    assert_eq!(
        fs::read(inside(out.path(), &src).join("b/healthy.txt")).unwrap(),
        b"fine"
    );
}

#[test]
fn missing_and_damaged_files_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("f"), &noise(8, 50_000));
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();

    // A damaged snapshot file is named, and does not hide the others.
    let snap_path = tmp.path().join("repo/snapshots").join(snap.id.to_hex());
    let good = fs::read(&snap_path).unwrap();
    let mut bad = good.clone();
    bad[40] ^= 1;
    fs::write(&snap_path, &bad).unwrap();
    let r = verify(&repo, false, &no_progress).unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains(&snap.id.short())),
        "{r:?}"
    );
    assert!(matches!(repo.snapshots(), Err(VaultError::Corrupt { .. })));
    fs::write(&snap_path, &good).unwrap();

    // A missing pack: every file in it is affected.
    for l in repo.backend().list("data/").unwrap() {
        repo.backend().delete(&l.key).unwrap();
    }
    let r = verify(&repo, false, &no_progress).unwrap();
    assert!(r.problems.iter().any(|p| p.contains("missing")), "{r:?}");
    assert!(!r.affected.is_empty());
    // Prune refuses to guess what is used when trees cannot be read.
    assert!(halley_vault::prune::prune(&repo).is_err());
}

#[test]
fn stdout_engine_and_archives() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let repo = init_repo(tmp.path());
    let data = noise(11, 1_500_000);
    let snap = halley_vault::backup_stream(
        &repo,
        &data[..],
        "dump.sql",
        "pg_dump db",
        &BackupOptions::default(),
        &no_progress,
    )
    .unwrap();
    assert_eq!(snap.snapshot.engine, "engine1/stdout");
    assert_eq!(snap.snapshot.paths, vec!["pg_dump db"]);
    let out = tempfile::tempdir().unwrap();
    restore(&repo, &snap, out.path(), &[], &no_progress).unwrap();
    assert_eq!(fs::read(out.path().join("dump.sql")).unwrap(), data);

    // tar of a file tree, read back with the tar crate.
    let src = tmp.path().join("src");
    write(&src.join("x/y.txt"), b"yy");
    std::os::unix::fs::symlink("y.txt", src.join("x/link")).unwrap();
    fs::hard_link(src.join("x/y.txt"), src.join("x/hard")).unwrap();
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let files = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let tar_bytes = halley_vault::restore_tar(&repo, &files, &[], Vec::new()).unwrap();
    let mut ar = tar::Archive::new(&tar_bytes[..]);
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let kind = e.header().entry_type();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        seen.push((path, kind, body));
    }
    let rel = src.strip_prefix("/").unwrap().display().to_string();
    // Entries come in name order: `hard` carries the content, `y.txt` links to it.
    let find = |name: &str| {
        seen.iter()
            .find(|(p, _, _)| *p == format!("{rel}/x/{name}"))
            .unwrap()
    };
    assert!(find("hard").1.is_file() && find("hard").2 == b"yy");
    assert!(find("y.txt").1.is_hard_link());
    assert!(find("link").1.is_symlink());
    let mut ar = tar::Archive::new(&tar_bytes[..]);
    let unpacked = tempfile::tempdir().unwrap();
    ar.unpack(unpacked.path()).unwrap();
    assert_eq!(
        fs::read(unpacked.path().join(&rel).join("x/y.txt")).unwrap(),
        b"yy"
    );

    // zip of the stream snapshot, read back with the zip crate.
    let zip_bytes = halley_vault::restore_zip(&repo, &snap, &[], std::io::Cursor::new(Vec::new()))
        .unwrap()
        .into_inner();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut f = z.by_name("dump.sql").unwrap();
    let mut body = Vec::new();
    f.read_to_end(&mut body).unwrap();
    assert_eq!(body, data);
    drop(f);

    // zip of the file tree, streamed to a plain Vec (no seeking).
    let zip_bytes = halley_vault::restore_zip(&repo, &files, &[], Vec::new()).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.clone())).unwrap();
    let mut names = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap(); // checks the CRC
        names.push((e.name().to_string(), e.is_dir(), e.unix_mode(), body));
    }
    let get = |n: &str| {
        names
            .iter()
            .find(|(p, ..)| *p == format!("{rel}/{n}"))
            .unwrap_or_else(|| panic!("{n} not in {names:?}"))
    };
    assert_eq!(get("x/y.txt").3, b"yy");
    assert_eq!(get("x/hard").3, b"yy");
    assert!(get("x/").1);
    let link = get("x/link");
    assert_eq!(link.2.unwrap() & 0o170000, 0o120000);
    assert_eq!(link.3, b"y.txt");
    // Python's zipfile agrees, when it is there.
    let zpath = tmp.path().join("t.zip");
    fs::write(&zpath, &zip_bytes).unwrap();
    if let Ok(out) = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-t"])
        .arg(&zpath)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_damaged_index_is_reported_and_rebuilt_from_the_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("one"), &noise(21, 300_000));
    write(&src.join("two"), b"second");
    let repo = init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let snap = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    let ids = repo.list_ids(halley_vault::repo::FileKind::Index).unwrap();
    let path = tmp.path().join("repo/index").join(ids[0].to_hex());
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let r = verify(&repo, false, &no_progress).unwrap();
    assert!(r.problems.iter().any(|p| p.starts_with("index")), "{r:?}");
    // Prune refuses to work from a damaged index rather than delete live packs.
    assert!(halley_vault::prune::prune(&repo).is_err());
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &snap, out.path(), &[], &no_progress).unwrap();
    assert!(
        rs.errors.iter().any(|e| e.contains("repair-index")),
        "{:?}",
        rs.errors
    );

    let s = halley_vault::repair::rebuild_index(&repo).unwrap();
    assert!(s.problems.is_empty() && s.packs_indexed >= 1, "{s:?}");
    assert!(verify(&repo, true, &no_progress).unwrap().is_ok());
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &snap, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &inside(out.path(), &src));
}
