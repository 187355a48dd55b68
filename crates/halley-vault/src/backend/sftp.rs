//! A repository on an SFTP server (`DESTINATIONTYPE_SFTP`), through libssh2.
//!
//! The server's host key must be in a known-hosts file: a backup client that
//! accepts any host key would hand its data to whoever answers. Files are
//! written under `tmp/` and renamed into place, so readers never see a
//! partial file. One SSH session is shared; calls are serialized on it.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ssh2::{CheckResult, ErrorCode, KnownHostFileKind, OpenFlags, OpenType, Session, Sftp};

use super::{Backend, Listed};
use crate::error::{Result, VaultError};

/// `LIBSSH2_FX_NO_SUCH_FILE`.
const FX_NO_SUCH_FILE: i32 = 2;

/// Where an SFTP repository lives (the API's `SFTPDestinationLocation` maps
/// onto this).
#[derive(Debug, Clone, Default)]
pub struct SftpLocation {
    /// Server name or address.
    pub host: String,
    /// Port; 0 means 22.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Private key file for public-key authentication.
    pub private_key: Option<PathBuf>,
    /// Password, when no key is given.
    pub password: Option<String>,
    /// Known-hosts file that must list the server's key.
    pub known_hosts: PathBuf,
    /// Directory of the repository on the server.
    pub path: String,
}

struct Conn {
    // The session must outlive the SFTP channel it carries.
    _session: Session,
    sftp: Sftp,
    made_dirs: HashSet<PathBuf>,
}

/// An SFTP backend.
pub struct SftpBackend {
    conn: Mutex<Conn>,
    root: PathBuf,
    location: String,
}

impl SftpBackend {
    /// Connects, checks the host key and authenticates.
    pub fn connect(loc: &SftpLocation) -> Result<SftpBackend> {
        let port = if loc.port == 0 { 22 } else { loc.port };
        let location = format!(
            "sftp://{}@{}:{}/{}",
            loc.user,
            loc.host,
            port,
            loc.path.trim_start_matches('/')
        );
        let fail = |op: &'static str, detail: String| VaultError::Backend {
            op,
            key: location.clone(),
            detail,
        };
        let tcp = TcpStream::connect((loc.host.as_str(), port))
            .map_err(|e| fail("connect", e.to_string()))?;
        let mut session = Session::new().map_err(|e| fail("connect", e.to_string()))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(60_000);
        session
            .handshake()
            .map_err(|e| fail("handshake", e.to_string()))?;
        let (key, _) = session
            .host_key()
            .ok_or_else(|| fail("handshake", "server sent no host key".into()))?;
        let mut known = session
            .known_hosts()
            .map_err(|e| fail("known hosts", e.to_string()))?;
        known
            .read_file(&loc.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| fail("known hosts", format!("{}: {e}", loc.known_hosts.display())))?;
        match known.check_port(&loc.host, port, key) {
            CheckResult::Match => {}
            CheckResult::Mismatch => {
                return Err(fail(
                    "host key check",
                    "the server's host key CHANGED: refusing to connect".into(),
                ))
            }
            _ => {
                return Err(fail(
                    "host key check",
                    format!("server not in {}", loc.known_hosts.display()),
                ))
            }
        }
        let auth = match (&loc.private_key, &loc.password) {
            (Some(k), _) => session.userauth_pubkey_file(&loc.user, None, k, None),
            (None, Some(p)) => session.userauth_password(&loc.user, p),
            (None, None) => session.userauth_agent(&loc.user),
        };
        auth.map_err(|e| fail("authenticate", e.to_string()))?;
        let sftp = session
            .sftp()
            .map_err(|e| fail("start sftp", e.to_string()))?;
        Ok(SftpBackend {
            conn: Mutex::new(Conn {
                _session: session,
                sftp,
                made_dirs: HashSet::new(),
            }),
            root: PathBuf::from(&loc.path),
            location,
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key.is_empty()
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(VaultError::invalid("backend key", key));
        }
        Ok(self.root.join(key))
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Conn>> {
        self.conn
            .lock()
            .map_err(|_| VaultError::invalid("sftp session", "poisoned by a panic"))
    }

    fn err(&self, op: &'static str, key: &str, e: ssh2::Error) -> VaultError {
        if e.code() == ErrorCode::SFTP(FX_NO_SUCH_FILE) {
            return VaultError::Missing(format!("{key} in {}", self.location));
        }
        VaultError::Backend {
            op,
            key: format!("{} ({key})", self.location),
            detail: e.to_string(),
        }
    }

    fn io_err(&self, op: &'static str, key: &str, e: std::io::Error) -> VaultError {
        VaultError::Backend {
            op,
            key: format!("{} ({key})", self.location),
            detail: e.to_string(),
        }
    }
}

fn mkdir_all(conn: &mut Conn, dir: &Path) {
    if conn.made_dirs.contains(dir) {
        return;
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            mkdir_all(conn, parent);
        }
    }
    // An error here is most often "exists"; a real failure shows at the write.
    let _ = conn.sftp.mkdir(dir, 0o700);
    conn.made_dirs.insert(dir.to_path_buf());
}

impl Backend for SftpBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let p = self.path(key)?;
        let conn = self.conn()?;
        let mut f = conn.sftp.open(&p).map_err(|e| self.err("open", key, e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| self.io_err("read", key, e))?;
        Ok(buf)
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let p = self.path(key)?;
        let conn = self.conn()?;
        let mut f = conn.sftp.open(&p).map_err(|e| self.err("open", key, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| self.io_err("seek", key, e))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                VaultError::corrupt(key.to_string(), "file shorter than the index says")
            } else {
                self.io_err("read", key, e)
            }
        })?;
        Ok(buf)
    }

    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let dest = self.path(key)?;
        let tmp_dir = self.root.join("tmp");
        let tmp = tmp_dir.join(format!("{}.tmp", crate::id::Id::random().short()));
        let mut conn = self.conn()?;
        mkdir_all(&mut conn, &tmp_dir);
        if let Some(parent) = dest.parent() {
            mkdir_all(&mut conn, parent);
        }
        let mut f = conn
            .sftp
            .open_mode(
                &tmp,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                0o600,
                OpenType::File,
            )
            .map_err(|e| self.err("create", key, e))?;
        f.write_all(data)
            .map_err(|e| self.io_err("write", key, e))?;
        // fsync is an OpenSSH extension; servers without it still get the data.
        let _ = f.fsync();
        drop(f);
        // SFTP v3 renames refuse to replace; only lock refreshes replace a
        // file, and a lock briefly missing is harmless.
        let _ = conn.sftp.unlink(&dest);
        conn.sftp
            .rename(&tmp, &dest, None)
            .map_err(|e| self.err("rename", key, e))
    }

    fn delete(&self, key: &str) -> Result<()> {
        let p = self.path(key)?;
        let conn = self.conn()?;
        match conn.sftp.unlink(&p) {
            Err(e) if e.code() != ErrorCode::SFTP(FX_NO_SUCH_FILE) => {
                Err(self.err("delete", key, e))
            }
            _ => Ok(()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        let mut stack = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(dir_key) = stack.pop() {
            let entries = match conn.sftp.readdir(self.root.join(&dir_key)) {
                Ok(e) => e,
                Err(e) if e.code() == ErrorCode::SFTP(FX_NO_SUCH_FILE) => continue,
                Err(e) => return Err(self.err("list", &dir_key, e)),
            };
            for (path, stat) in entries {
                let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                    continue;
                };
                if name == "." || name == ".." {
                    continue;
                }
                let key = format!("{dir_key}/{name}");
                if stat.is_dir() {
                    stack.push(key);
                } else if stat.is_file() {
                    out.push(Listed {
                        key,
                        size: stat.size.unwrap_or(0),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn clean_temporary(&self) -> Result<()> {
        for l in self.list("tmp/")? {
            self.delete(&l.key)?;
        }
        Ok(())
    }
}
