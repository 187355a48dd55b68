//! The `halley-vault` binary, driven as a person or a script would.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn vault(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("HALLEY_VAULT_PASSWORD", PASSWORD)
        .output()
        .expect("run halley-vault")
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = vault(repo, args);
    assert!(
        out.status.success(),
        "halley-vault {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_command_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"alpha");
    write(&src.join("skip.tmp"), b"tmp");
    write(&src.join("cache/x"), b"cached");
    write(&src.join("sub/b.bin"), &noise(9, 300_000));

    ok(&repo, &["init", "--kdf-memory-kib", "64"]);
    let again = vault(&repo, &["init"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let src_s = src.to_str().unwrap();
    let out = ok(
        &repo,
        &[
            "backup",
            src_s,
            "--exclude",
            "*.tmp",
            "--rexclude",
            "/cache/$",
            "--json",
        ],
    );
    let snap: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = snap["id"].as_str().unwrap().to_string();
    assert_eq!(snap["summary"]["files"], 2);

    let list: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["snapshots", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(ok(&repo, &["snapshots"]).contains(&id[..8]));

    let ls = ok(&repo, &["ls", &id[..8]]);
    assert!(ls.contains("/a.txt"), "{ls}");
    assert!(ls.contains("/sub/b.bin"));
    assert!(!ls.contains("skip.tmp"));
    assert!(!ls.contains("cache"));

    let target = tmp.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    let restored = target.join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("a.txt")).unwrap(), b"alpha");

    // Selected path only, and a tar stream.
    let t2 = tmp.path().join("out2");
    let sel = format!("{src_s}/sub");
    ok(
        &repo,
        &["restore", &id, "--target", t2.to_str().unwrap(), &sel],
    );
    let r2 = t2.join(src.strip_prefix("/").unwrap());
    assert!(r2.join("sub/b.bin").exists() && !r2.join("a.txt").exists());
    let tar_path = tmp.path().join("x.tar");
    ok(
        &repo,
        &["restore", &id, "--tar", tar_path.to_str().unwrap()],
    );
    assert!(std::fs::metadata(&tar_path).unwrap().len() > 300_000);

    let zip = vault(&repo, &["restore", &id, "--zip", "-"]);
    assert!(zip.status.success() && zip.stdout.starts_with(b"PK\x03\x04"));
    let tar = vault(&repo, &["restore", &id, "--tar", "-", &sel]);
    assert!(tar.status.success() && tar.stdout.len() > 300_000);

    ok(&repo, &["verify"]);
    ok(&repo, &["verify", "--deep"]);
    ok(
        &repo,
        &[
            "backup",
            "--stdin-name",
            "dump.sql",
            "--command",
            "echo hello; echo world",
        ],
    );
    let forgot = ok(&repo, &["forget", &id]);
    assert!(forgot.contains(&id[..8]));
    let pruned = ok(&repo, &["prune"]);
    assert!(pruned.contains("deleted"), "{pruned}");
    ok(&repo, &["verify", "--deep"]);

    // Failures: unreadable source, wrong password, unknown snapshot, no repository.
    let partial = vault(&repo, &["backup", src_s, "/no/such/path"]);
    assert!(!partial.status.success());
    assert!(String::from_utf8_lossy(&partial.stderr).contains("could not be read"));
    let bad = Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .args(["--repo", repo.to_str().unwrap(), "snapshots"])
        .env("HALLEY_VAULT_PASSWORD", "nope")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("wrong password"));
    let missing = vault(&repo, &["ls", "ffffffff"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such snapshot"));
    let nowhere = vault(&tmp.path().join("nowhere"), &["snapshots"]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no Halley vault"));
}
