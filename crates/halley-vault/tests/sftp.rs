//! The SFTP backend against Debian's OpenSSH server, started on a loopback
//! port with generated keys. `tests/setup.sh` installs it. Without it the
//! test is skipped loudly, except under CI (`CI` set), where it fails.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use halley_vault::backend::{SftpBackend, SftpLocation};
use halley_vault::verify::verify;
use halley_vault::{
    backup, no_progress, restore, BackupOptions, InitOptions, KdfParams, Repository, Selection,
};

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts sshd on a free loopback port; returns it with the port.
fn start_sshd(dir: &Path) -> Option<(Sshd, u16)> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists() || Command::new("ssh-keygen").arg("-?").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("openssh-server is missing: run crates/halley-vault/tests/setup.sh");
        }
        eprintln!("\n!!! SKIPPED: openssh-server not installed; run crates/halley-vault/tests/setup.sh !!!\n");
        return None;
    }
    // sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    for (name, kind) in [("host_key", "ed25519"), ("client_key", "ed25519")] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(dir.join(name)));
    }
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "ListenAddress 127.0.0.1\nPort {port}\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile {dir}/sshd.pid\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         UsePAM no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
        dir = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .unwrap();
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Sshd(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((server, port))
}

fn inside(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn sftp_backend_round_trip_verify_prune_and_host_key_check() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("ssh");
    std::fs::create_dir_all(&keys).unwrap();
    let Some((_sshd, port)) = start_sshd(&keys) else {
        return;
    };
    let remote = tmp.path().join("remote/vault");
    let loc = SftpLocation {
        host: "127.0.0.1".into(),
        port,
        user: user(),
        private_key: Some(keys.join("client_key")),
        password: None,
        known_hosts: keys.join("known_hosts"),
        path: remote.display().to_string(),
    };
    let backend = std::sync::Arc::new(SftpBackend::connect(&loc).unwrap());
    let opts = InitOptions {
        kdf: KdfParams::insecure_for_tests(),
        pack_size: 1 << 20,
        ..Default::default()
    };
    let repo = Repository::init(backend, PASSWORD, opts).unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.bin"), &noise(1, 3 << 20));
    write(&src.join("dir/b.txt"), &b"text ".repeat(10_000));
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let first = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    // The files really are on the server's disk, under their final names.
    assert!(remote.join("config").exists());
    assert!(std::fs::read_dir(remote.join("tmp"))
        .unwrap()
        .next()
        .is_none());

    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &first, out.path(), &[], &no_progress).unwrap();
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &inside(out.path(), &src));

    std::fs::remove_file(src.join("a.bin")).unwrap();
    backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    halley_vault::forget::forget(&repo, &[first.id]).unwrap();
    let s = halley_vault::prune::prune(&repo).unwrap();
    assert!(s.packs_deleted + s.packs_repacked > 0, "{s:?}");
    assert!(verify(&repo, true, &no_progress).unwrap().is_ok());

    // The binary with an sftp:// location.
    let cli = Command::new(env!("CARGO_BIN_EXE_halley-vault"))
        .arg("--repo")
        .arg(format!(
            "sftp://{}@127.0.0.1:{port}{}",
            user(),
            remote.display()
        ))
        .args(["snapshots", "--json"])
        .env("HALLEY_VAULT_PASSWORD", PASSWORD)
        .env("HALLEY_VAULT_SFTP_KEY", keys.join("client_key"))
        .env("HALLEY_VAULT_SFTP_KNOWN_HOSTS", keys.join("known_hosts"))
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );

    // A server whose key is not the known one is refused.
    let other = tmp.path().join("other_known_hosts");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(tmp.path().join("impostor")));
    let impostor = std::fs::read_to_string(tmp.path().join("impostor.pub")).unwrap();
    std::fs::write(&other, format!("[127.0.0.1]:{port} {impostor}")).unwrap();
    let refused = SftpBackend::connect(&SftpLocation {
        known_hosts: other,
        ..loc.clone()
    });
    let e = refused.err().expect("connected despite a changed host key");
    assert!(e.to_string().contains("CHANGED"), "{e}");
}
