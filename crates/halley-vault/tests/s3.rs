//! The S3 backend against a real S3-compatible server (moto's server mode)
//! on a loopback port. `tests/setup.sh` installs it. Without it the test is
//! skipped loudly, except under CI (`CI` set), where it fails.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use halley_vault::backend::{open_s3, S3Location};
use halley_vault::verify::verify;
use halley_vault::{
    backup, no_progress, restore, BackupOptions, InitOptions, KdfParams, Repository, Selection,
};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_moto() -> Option<String> {
    let ok = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| "moto_server".to_string())
}

fn start_moto() -> Option<Server> {
    let Some(bin) = find_moto() else {
        if std::env::var_os("CI").is_some() {
            panic!("moto_server is missing: run crates/halley-vault/tests/setup.sh");
        }
        eprintln!("\n!!! SKIPPED: moto_server not installed; run crates/halley-vault/tests/setup.sh !!!\n");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

/// Creates a bucket with a plain HTTP request (moto does not check signatures).
fn create_bucket(port: u16, bucket: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

fn inside(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn s3_backend_round_trip_verify_prune_and_cli() {
    let Some(server) = start_moto() else { return };
    create_bucket(server.port, "vault");
    let loc = S3Location {
        endpoint: format!("http://127.0.0.1:{}", server.port),
        bucket: "vault".into(),
        prefix: "customers/one".into(),
        access_key: "test".into(),
        secret_key: "test".into(),
        ..Default::default()
    };
    let opts = InitOptions {
        kdf: KdfParams::insecure_for_tests(),
        pack_size: 1 << 20,
        ..Default::default()
    };
    let repo = Repository::init(open_s3(&loc).unwrap(), PASSWORD, opts).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.bin"), &noise(1, 3 << 20));
    write(&src.join("dir/b.txt"), &b"text ".repeat(10_000));
    std::os::unix::fs::symlink("a.bin", src.join("link")).unwrap();
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let first = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    assert!(
        repo.backend().list("data/").unwrap().len() > 1,
        "several packs"
    );

    let repo = Repository::open(open_s3(&loc).unwrap(), PASSWORD).unwrap();
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &first, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &inside(out.path(), &src));

    std::fs::remove_file(src.join("a.bin")).unwrap();
    let second = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    halley_vault::forget::forget(&repo, &[first.id]).unwrap();
    let s = halley_vault::prune::prune(&repo).unwrap();
    assert!(s.packs_deleted + s.packs_repacked > 0, "{s:?}");
    let r = verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(repo.snapshots().unwrap(), vec![second]);
    assert!(repo.backend().list("locks/").unwrap().is_empty());

    // The binary with an s3:// location and the usual AWS_* variables.
    let cli = Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .args(["--repo", "s3://vault/customers/one", "snapshots", "--json"])
        .env("HALLEY_VAULT_PASSWORD", PASSWORD)
        .env("AWS_ENDPOINT_URL", &loc.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
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
