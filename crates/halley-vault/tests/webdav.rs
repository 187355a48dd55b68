//! The WebDAV backend against a real WebDAV server (WsgiDAV, from PyPI) on a
//! loopback port. `tests/setup.sh` installs it. Without it the test is
//! skipped loudly, except under CI (`CI` set), where it fails.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use halley_vault::backend::open_webdav;
use halley_vault::verify::verify;
use halley_vault::{
    backup, no_progress, restore, BackupOptions, InitOptions, KdfParams, Repository, Selection,
};

struct Server {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_wsgidav() -> Option<Server> {
    let installed = Command::new("wsgidav")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        if std::env::var_os("CI").is_some() {
            panic!("wsgidav is missing: run crates/halley-vault/tests/setup.sh");
        }
        eprintln!(
            "\n!!! SKIPPED: wsgidav not installed; run crates/halley-vault/tests/setup.sh !!!\n"
        );
        return None;
    }
    let root = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("wsgidav")
        .args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--auth",
            "anonymous",
            "--no-config",
            "-r",
        ])
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "wsgidav did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Server {
        child,
        port,
        _root: root,
    })
}

fn inside(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn webdav_backend_round_trip_verify_prune_and_cli() {
    let Some(server) = start_wsgidav() else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/customers/one", server.port);
    let opts = InitOptions {
        kdf: KdfParams::insecure_for_tests(),
        pack_size: 1 << 20,
        ..Default::default()
    };
    let repo = Repository::init(open_webdav(&url, None, None).unwrap(), PASSWORD, opts).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.bin"), &noise(7, 3 << 20));
    write(&src.join("dir/b.txt"), &b"text ".repeat(10_000));
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let first = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    assert!(
        repo.backend().list("data/").unwrap().len() > 1,
        "several packs"
    );

    let repo = Repository::open(open_webdav(&url, None, None).unwrap(), PASSWORD).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &first, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &inside(out.path(), &src));

    std::fs::remove_file(src.join("a.bin")).unwrap();
    let second = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    halley_vault::forget::forget(&repo, &[first.id]).unwrap();
    halley_vault::prune::prune(&repo).unwrap();
    let report = verify(&repo, true, &no_progress).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(repo.snapshots().unwrap(), vec![second]);

    // The binary with a webdav:// location.
    let cli = Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .args([
            "--repo",
            &format!("webdav://127.0.0.1:{}/customers/one", server.port),
            "snapshots",
            "--json",
        ])
        .env("HALLEY_VAULT_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}
