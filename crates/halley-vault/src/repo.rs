//! An opened repository: its backend, its keys and its configuration, and the
//! typed reads and writes of its files.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::compress::{self, Compression};
use crate::crypto::MasterKeys;
use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{Index, IndexFile};
use crate::keyfile::{KdfParams, KeyFile};
use crate::pack;
use crate::snapshot::{Snapshot, SnapshotInfo};
use crate::tree::Tree;

/// The repository format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// FastCDC sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk, bytes.
    pub min: u32,
    /// Target average.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            min: 256 * 1024,
            avg: 1024 * 1024,
            max: 4 * 1024 * 1024,
        }
    }
}

/// The plain `config` file: what a reader must know before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Always `halley-vault`.
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// Random repository id.
    pub id: Id,
    /// Chunk sizes.
    pub chunker: ChunkerParams,
    /// Target pack size, bytes.
    pub pack_size: u64,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Choices made once, at `init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Cost of the password KDF.
    pub kdf: KdfParams,
    /// Chunk sizes.
    pub chunker: ChunkerParams,
    /// Target pack size; 0 means 16 MiB.
    pub pack_size: u64,
}

/// The kinds of whole files stored besides packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `index/<id>`
    Index,
    /// `snapshots/<id>`
    Snapshot,
}

impl FileKind {
    /// The key prefix.
    pub fn dir(self) -> &'static str {
        match self {
            FileKind::Index => "index/",
            FileKind::Snapshot => "snapshots/",
        }
    }

    fn aad(self) -> &'static [u8] {
        match self {
            FileKind::Index => b"halley-file index",
            FileKind::Snapshot => b"halley-file snapshot",
        }
    }
}

/// The key of a pack file: spread over 256 directories.
pub fn pack_key(id: &Id) -> String {
    let hex = id.to_hex();
    format!("data/{}/{hex}", &hex[..2])
}

/// An opened, unlocked repository.
pub struct Repository {
    backend: Arc<dyn Backend>,
    keys: MasterKeys,
    config: RepoConfig,
}

impl Repository {
    /// Creates a repository at an empty location.
    pub fn init(backend: Arc<dyn Backend>, password: &str, opts: InitOptions) -> Result<Self> {
        // A missing bucket or container is created where the backend can,
        // and otherwise named in the error.
        backend.prepare(true)?;
        match backend.get("config") {
            Ok(_) => return Err(VaultError::AlreadyExists(backend.location())),
            Err(VaultError::Missing(_)) => {}
            Err(e) => return Err(e),
        }
        let config = RepoConfig {
            format: "halley-vault".into(),
            version: FORMAT_VERSION,
            id: Id::random(),
            chunker: opts.chunker,
            pack_size: if opts.pack_size == 0 {
                16 << 20
            } else {
                opts.pack_size
            },
            created: chrono::Utc::now().timestamp(),
        };
        let keys = MasterKeys::generate();
        let key_file = KeyFile::wrap(&keys, password, opts.kdf)?;
        let key_json =
            serde_json::to_vec_pretty(&key_file).map_err(|e| VaultError::invalid("key file", e))?;
        // The key goes first: a config without a key would be a dead repository.
        backend.put(&format!("keys/{}", Id::random().to_hex()), &key_json)?;
        let config_json =
            serde_json::to_vec_pretty(&config).map_err(|e| VaultError::invalid("config", e))?;
        backend.put("config", &config_json)?;
        Ok(Repository {
            backend,
            keys,
            config,
        })
    }

    /// Opens an existing repository with its password.
    pub fn open(backend: Arc<dyn Backend>, password: &str) -> Result<Self> {
        let raw = match backend.get("config") {
            Err(VaultError::Missing(_)) => {
                // Say so when the bucket or container itself is missing.
                backend.prepare(false)?;
                return Err(VaultError::NotARepository(backend.location()));
            }
            r => r?,
        };
        let config: RepoConfig =
            serde_json::from_slice(&raw).map_err(|e| VaultError::corrupt("config", e))?;
        if config.format != "halley-vault" {
            return Err(VaultError::NotARepository(backend.location()));
        }
        if config.version != FORMAT_VERSION {
            return Err(VaultError::UnsupportedVersion(
                config.version,
                FORMAT_VERSION,
            ));
        }
        for listed in backend.list("keys/")? {
            let raw = backend.get(&listed.key)?;
            let kf: KeyFile = serde_json::from_slice(&raw)
                .map_err(|e| VaultError::corrupt(listed.key.clone(), e))?;
            if let Some(keys) = kf.unwrap_keys(password)? {
                return Ok(Repository {
                    backend,
                    keys,
                    config,
                });
            }
        }
        Err(VaultError::WrongPassword {
            repo: backend.location(),
        })
    }

    /// The storage backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// A shared handle on the backend, for threads that outlive a borrow.
    pub fn backend_arc(&self) -> Arc<dyn Backend> {
        Arc::clone(&self.backend)
    }

    /// The repository secrets.
    pub fn keys(&self) -> &MasterKeys {
        &self.keys
    }

    /// The configuration.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Serializes, compresses, seals and stores a file; its id is the hash of
    /// the stored bytes.
    pub fn save_file<T: Serialize>(&self, kind: FileKind, value: &T) -> Result<Id> {
        self.save_file_sized(kind, value).map(|(id, _)| id)
    }

    /// [`Repository::save_file`], also returning the stored size.
    pub fn save_file_sized<T: Serialize>(&self, kind: FileKind, value: &T) -> Result<(Id, u64)> {
        let json = serde_json::to_vec(value).map_err(|e| VaultError::invalid(kind.dir(), e))?;
        let sealed = self
            .keys
            .seal(kind.aad(), &Compression::metadata().encode(&json));
        let id = Id::of_file(&sealed);
        self.backend
            .put(&format!("{}{}", kind.dir(), id.to_hex()), &sealed)?;
        Ok((id, sealed.len() as u64))
    }

    /// Loads and checks a file written by [`Repository::save_file`].
    pub fn load_file<T: DeserializeOwned>(&self, kind: FileKind, id: &Id) -> Result<T> {
        let key = format!("{}{}", kind.dir(), id.to_hex());
        let sealed = self.backend.get(&key)?;
        if Id::of_file(&sealed) != *id {
            return Err(VaultError::corrupt(key, "content does not match its name"));
        }
        let plain = self.keys.open(&key, kind.aad(), &sealed)?;
        let json = compress::decode(&key, plain)?;
        serde_json::from_slice(&json).map_err(|e| VaultError::corrupt(key, e))
    }

    /// The ids of every file of a kind.
    pub fn list_ids(&self, kind: FileKind) -> Result<Vec<Id>> {
        self.backend
            .list(kind.dir())?
            .iter()
            .filter_map(|l| l.key.strip_prefix(kind.dir()))
            .map(|name| name.parse())
            .collect()
    }

    /// The union of all index files. A damaged index file is an error here;
    /// `verify` reports it, `prune` rebuilds around it.
    pub fn load_index(&self) -> Result<Index> {
        let mut index = Index::default();
        for id in self.list_ids(FileKind::Index)? {
            let file: IndexFile = self.load_file(FileKind::Index, &id)?;
            index.add_file(file);
        }
        Ok(index)
    }

    /// Like [`Repository::load_index`], but a damaged index file is skipped
    /// and described in the returned list, so reads (restore, browse) still
    /// reach every blob the other index files describe. Never used before
    /// deleting anything: a skipped file would make live packs look unused.
    pub fn load_index_lenient(&self) -> Result<(Index, Vec<String>)> {
        let mut index = Index::default();
        let mut problems = Vec::new();
        for id in self.list_ids(FileKind::Index)? {
            match self.load_file::<IndexFile>(FileKind::Index, &id) {
                Ok(file) => index.add_file(file),
                Err(e) => problems.push(format!("index {}: {e} (run repair-index)", id.short())),
            }
        }
        Ok((index, problems))
    }

    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        for id in self.list_ids(FileKind::Snapshot)? {
            let snapshot: Snapshot = self.load_file(FileKind::Snapshot, &id)?;
            out.push(SnapshotInfo { id, snapshot });
        }
        sort_snapshots(&mut out);
        Ok(out)
    }

    /// A snapshot by full id, unique id prefix, or `latest`.
    pub fn find_snapshot(&self, spec: &str) -> Result<SnapshotInfo> {
        let all = self.snapshots()?;
        if spec == "latest" {
            return all.into_iter().last().ok_or_else(|| {
                VaultError::SnapshotNotFound("latest: the repository has none".into())
            });
        }
        let spec_l = spec.to_ascii_lowercase();
        let mut matches: Vec<SnapshotInfo> = all
            .into_iter()
            .filter(|s| s.id.to_hex().starts_with(&spec_l))
            .collect();
        match matches.len() {
            1 if !spec.is_empty() => Ok(matches.remove(0)),
            0 => Err(VaultError::SnapshotNotFound(format!(
                "{spec}: no such snapshot"
            ))),
            _ => Err(VaultError::SnapshotNotFound(format!(
                "{spec}: matches more than one snapshot"
            ))),
        }
    }

    /// Reads, authenticates and decodes one blob.
    pub fn read_blob(&self, index: &Index, id: &Id) -> Result<Vec<u8>> {
        let loc = index
            .get(id)
            .ok_or_else(|| VaultError::Missing(format!("blob {id} (not in the index)")))?;
        let sealed =
            self.backend
                .get_range(&pack_key(&loc.pack), loc.offset, u64::from(loc.length))?;
        pack::open_blob(&self.keys, id, loc.kind, &sealed)
    }

    /// Reads and checks one directory.
    pub fn load_tree(&self, index: &Index, id: &Id) -> Result<Tree> {
        let raw = self.read_blob(index, id)?;
        let tree: Tree = serde_json::from_slice(&raw)
            .map_err(|e| VaultError::corrupt(format!("tree {id}"), e))?;
        tree.check()?;
        Ok(tree)
    }

    /// Adds a key file for another password (the caller has opened the repository).
    pub fn add_password(&self, password: &str, kdf: KdfParams) -> Result<Id> {
        let kf = KeyFile::wrap(&self.keys, password, kdf)?;
        let json =
            serde_json::to_vec_pretty(&kf).map_err(|e| VaultError::invalid("key file", e))?;
        let id = Id::random();
        self.backend.put(&format!("keys/{}", id.to_hex()), &json)?;
        Ok(id)
    }
}

/// Oldest first; ties by id so the order is stable.
pub fn sort_snapshots(list: &mut [SnapshotInfo]) {
    list.sort_by(|a, b| {
        (a.snapshot.time, a.snapshot.time_nsec, a.id).cmp(&(
            b.snapshot.time,
            b.snapshot.time_nsec,
            b.id,
        ))
    });
}
