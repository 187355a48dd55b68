//! File modes of what holds secrets: the data directory is the owner's alone
//! (0700), and `cometd.cfg`, `halley.db` and SQLite's `-wal`/`-shm` beside it
//! are 0600. New files are created with that mode (never world-readable for a
//! moment), and files an older version left open are narrowed at start.

use std::fs;
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) when missing and makes it the owner's alone.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Opens `path` for writing, creating it 0600 and truncating what was there.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    // A file that existed keeps its mode through `open`: narrow it too.
    set_mode(path, FILE_MODE)?;
    Ok(file)
}

/// Narrows an existing file to 0600; a missing one is fine.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    match set_mode(path, FILE_MODE) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Prepares an SQLite database path: the file exists 0600 before SQLite opens
/// it, because SQLite gives its `-wal` and `-shm` files the database file's
/// mode; files left by an older version are narrowed.
pub fn prepare_database(path: &Path) -> io::Result<()> {
    if !path.exists() {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(FILE_MODE);
        match options.open(path) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        restrict_file(Path::new(&name))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}
