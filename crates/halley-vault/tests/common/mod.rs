//! Shared helpers of the integration tests: repositories in temporary
//! directories, a generated source tree, and a bit-exact tree comparison.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use filetime::FileTime;
use halley_vault::backend::LocalBackend;
use halley_vault::{InitOptions, KdfParams, Repository};

pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh repository in `dir/repo`, with cheap KDF parameters.
pub fn init_repo(dir: &Path) -> Repository {
    let backend = Arc::new(LocalBackend::new(dir.join("repo")));
    Repository::init(
        backend,
        PASSWORD,
        InitOptions {
            kdf: KdfParams::insecure_for_tests(),
            ..Default::default()
        },
    )
    .expect("init")
}

pub fn open_repo(dir: &Path) -> Repository {
    Repository::open(Arc::new(LocalBackend::new(dir.join("repo"))), PASSWORD).expect("open")
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no big fixtures.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    fs::write(path, data).unwrap();
}

pub fn set_mtime(path: &Path, secs: i64, nsec: u32) {
    let t = FileTime::from_unix_time(secs, nsec);
    filetime::set_symlink_file_times(path, t, t).unwrap();
}

/// Builds a tree with every kind of entry the round trip must keep.
pub fn make_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    write(&root.join("empty"), b"");
    write(&root.join("small.txt"), b"hello, vault\n");
    // Larger than the biggest chunk, with repeated parts to deduplicate.
    let mut big = noise(1, 5 << 20);
    big.extend_from_slice(&noise(2, 3 << 20));
    big.extend_from_slice(&noise(1, 5 << 20));
    write(&root.join("big.bin"), &big);
    write(&root.join("copy-of-big.bin"), &big);
    write(
        &root.join("text.log"),
        &b"line of compressible text\n".repeat(20_000),
    );
    // Sparse: 12 MiB with two islands of data.
    {
        let f = fs::File::create(root.join("sparse.img")).unwrap();
        f.set_len(12 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&noise(3, 4096), 1 << 20).unwrap();
        f.write_all_at(&noise(4, 100), (9 << 20) + 7).unwrap();
    }
    // Unicode and odd names.
    write(&root.join("héllo wörld ✓.txt"), "unicode".as_bytes());
    write(&root.join("日本語/ファイル"), b"jp");
    write(&root.join(" leading space"), b"s");
    write(&root.join("-dash"), b"d");
    write(&root.join("new\nline"), b"n");
    write(&root.join("back\\slash*?[x]"), b"b");
    let raw = std::ffi::OsStr::from_bytes(b"latin1-\xe9\xff");
    write(&root.join(raw), b"raw name");
    // Deep tree.
    let mut deep = root.join("deep");
    for i in 0..40 {
        deep.push(format!("d{i}"));
    }
    write(&deep.join("leaf"), b"deep leaf");
    // Symlinks: relative, absolute, dangling, to a directory.
    std::os::unix::fs::symlink("small.txt", root.join("link-rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("link-abs")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("link-dangling")).unwrap();
    std::os::unix::fs::symlink("deep", root.join("link-dir")).unwrap();
    // Hard links: three names, one inode.
    write(&root.join("hl/a"), &noise(5, 70_000));
    fs::hard_link(root.join("hl/a"), root.join("hl/b")).unwrap();
    fs::hard_link(root.join("hl/a"), root.join("c-link")).unwrap();
    // A fifo.
    nix::unistd::mkfifo(
        &root.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    // Permissions.
    write(&root.join("perm/private"), b"p");
    fs::set_permissions(root.join("perm/private"), fs::Permissions::from_mode(0o600)).unwrap();
    write(&root.join("perm/exec"), b"#!/bin/sh\n");
    fs::set_permissions(root.join("perm/exec"), fs::Permissions::from_mode(0o755)).unwrap();
    write(&root.join("perm/readonly"), b"r");
    fs::set_permissions(
        root.join("perm/readonly"),
        fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    write(&root.join("perm/setgid-sticky"), b"s");
    fs::set_permissions(
        root.join("perm/setgid-sticky"),
        fs::Permissions::from_mode(0o2750),
    )
    .unwrap();
    fs::create_dir(root.join("perm/closed-dir")).unwrap();
    write(&root.join("perm/closed-dir/inner"), b"i");
    fs::set_permissions(
        root.join("perm/closed-dir"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    fs::create_dir(root.join("empty-dir")).unwrap();
    // Distinct mtimes with nanoseconds, set last (children first).
    let mut n = 0i64;
    let mut all = Vec::new();
    collect(root, &mut all);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in all {
        n += 1;
        set_mtime(
            &p,
            1_600_000_000 + n * 1000,
            (n as u32 * 7919) % 1_000_000_000,
        );
    }
    set_mtime(root, 1_500_000_000, 123_456_789);
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            collect(&p, out);
        }
        out.push(p);
    }
}

/// What a comparison looks at for one entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub content: Option<blake3::Hash>,
    pub size: u64,
    pub target: Option<PathBuf>,
    /// Index of the hard-link group within the tree (by first path), if nlink > 1.
    pub link_group: Option<String>,
}

/// Everything below `root` (not `root` itself), keyed by relative path.
pub fn snapshot_of(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut paths = Vec::new();
    collect(root, &mut paths);
    paths.sort();
    let mut groups: HashMap<(u64, u64), String> = HashMap::new();
    let mut out = BTreeMap::new();
    for p in paths {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        let content = ft.is_file().then(|| blake3::hash(&fs::read(&p).unwrap()));
        let link_group = (ft.is_file() && m.nlink() > 1).then(|| {
            groups
                .entry((m.dev(), m.ino()))
                .or_insert_with(|| rel.display().to_string())
                .clone()
        });
        out.insert(
            rel,
            Entry {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: (m.mtime(), m.mtime_nsec()),
                content,
                size: if ft.is_dir() { 0 } else { m.len() },
                target: ft.is_symlink().then(|| fs::read_link(&p).unwrap()),
                link_group,
            },
        );
    }
    out
}

pub fn assert_same_tree(a: &Path, b: &Path) {
    let (x, y) = (snapshot_of(a), snapshot_of(b));
    let xk: Vec<_> = x.keys().collect();
    let yk: Vec<_> = y.keys().collect();
    assert_eq!(xk, yk, "entry names differ");
    for (k, v) in &x {
        assert_eq!(Some(v), y.get(k), "entry {} differs", k.display());
    }
    let (ma, mb) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
    assert_eq!(ma.mode() & 0o7777, mb.mode() & 0o7777, "root mode");
}

/// Allocated bytes of a file (to check holes survive).
pub fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

pub fn append(path: &Path, data: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(data).unwrap();
}

/// The round trip every remote backend test runs: init, backup (several
/// packs), restore bit-exact from a freshly opened repository, a second
/// backup, forget, prune, deep verify.
pub fn remote_round_trip(open: &dyn Fn() -> Arc<dyn halley_vault::backend::Backend>, seed: u64) {
    use halley_vault::{backup, no_progress, restore, BackupOptions, Selection};
    let opts = InitOptions {
        kdf: KdfParams::insecure_for_tests(),
        pack_size: 1 << 20,
        ..Default::default()
    };
    let repo = Repository::init(open(), PASSWORD, opts).expect("init");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.bin"), &noise(seed, 3 << 20));
    write(&src.join("dir/b.txt"), &b"text ".repeat(10_000));
    for i in 0..20 {
        write(&src.join(format!("small/{i}")), &noise(seed + i, 3000));
    }
    std::os::unix::fs::symlink("a.bin", src.join("link")).unwrap();
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    let first = backup(&repo, &sel, &BackupOptions::default(), &no_progress).expect("backup");
    assert!(
        repo.backend().list("data/").unwrap().len() > 1,
        "several packs"
    );

    let repo = Repository::open(open(), PASSWORD).expect("open");
    let out = tempfile::tempdir().unwrap();
    let rs = restore(&repo, &first, out.path(), &[], &no_progress).expect("restore");
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    assert_same_tree(&src, &out.path().join(src.strip_prefix("/").unwrap()));

    fs::remove_file(src.join("a.bin")).unwrap();
    let second = backup(&repo, &sel, &BackupOptions::default(), &no_progress).unwrap();
    halley_vault::forget::forget(&repo, &[first.id]).unwrap();
    let s = halley_vault::prune::prune(&repo).unwrap();
    assert!(s.packs_deleted + s.packs_repacked > 0, "{s:?}");
    let r = halley_vault::verify::verify(&repo, true, &no_progress).unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(repo.snapshots().unwrap(), vec![second]);
    assert!(repo.backend().list("locks/").unwrap().is_empty());
}

/// A server process a test started, killed when the test ends.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub port: u16,
    pub _dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the port, or panics naming the server.
pub fn wait_for_port(port: u16, what: &str, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A test server that is not installed: a failure under CI (`CI` set), a
/// loud skip elsewhere.
pub fn missing_server(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing: run crates/halley-vault/tests/setup.sh");
    }
    eprintln!("\n!!! SKIPPED: {what} not installed; run crates/halley-vault/tests/setup.sh !!!\n");
}

/// Runs the `halley-vault` binary with the repository password and `env`.
pub fn vault_cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_halley-vault"));
    cmd.args(args).env("HALLEY_VAULT_PASSWORD", PASSWORD);
    for k in [
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_STORAGE_ENDPOINT",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run halley-vault")
}

/// Runs the CLI expecting a failure whose message names `needle`.
pub fn vault_cli_fails(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = vault_cli(args, env);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
}
