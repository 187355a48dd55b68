//! The device protocol's messages. A device registers once over HTTP
//! ([`REGISTER_PATH`], answering [`Registration`]), then keeps one websocket
//! open to [`LIVE_PATH`] (it dials out, so it works behind NAT). Every frame
//! is a text frame holding one JSON [`Message`]. The first frame is the
//! device's: [`Message::Hello`] with its credentials, or [`Message::Lobby`]
//! for a device that has none yet. Requests in either direction carry an ID
//! the sender chose, answered by a [`Message::Reply`] with the same ID.
//! `docs/device-protocol.md` is the description for other implementations.

use halley_api::types::{
    BackupJobAdvancedOptions, BackupJobDetail, BackupJobProgress, DestinationLocation, JobEntry,
    OSInfo, SizeMeasurement, UserProfileConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Registration: a form POST, answered with a [`Registration`].
pub const REGISTER_PATH: &str = "/api/v1/device/register";
/// The live connection (a websocket upgrade).
pub const LIVE_PATH: &str = "/api/v1/device/live";
/// A restore archive the server asked for, streamed to it as it is made:
/// a POST whose body is the archive, with the headers [`UPLOAD_HEADERS`].
pub const UPLOAD_PATH: &str = "/api/v1/device/restore-upload";
/// The device's ID, its key, and the token of the `Restore` call.
pub const UPLOAD_HEADERS: [&str; 3] = [
    "X-Halley-Device-Id",
    "X-Halley-Device-Key",
    "X-Halley-Upload",
];
/// The agent build the server offers: a form POST with `DeviceID` and
/// `DeviceKey`, answered with the executable.
pub const SOFTWARE_PATH: &str = "/api/v1/device/software";

/// The version an agent build says it is: what `halley-agent --version`
/// printed, if it succeeded and is an agent's.
pub fn agent_version(succeeded: bool, stdout: &[u8]) -> Option<String> {
    let said = String::from_utf8_lossy(stdout);
    said.trim()
        .strip_prefix("halley-agent ")
        .filter(|version| succeeded && !version.is_empty())
        .map(str::to_string)
}
/// The first frame must arrive within this.
pub const HELLO_TIMEOUT_SECS: u64 = 10;
/// Each side pings the other this often...
pub const HEARTBEAT_SECS: u64 = 15;
/// ...and closes a connection it has heard nothing on for this long.
pub const SILENCE_LIMIT_SECS: u64 = 45;
/// A request unanswered after this has failed.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;
/// Reconnection backoff: starts here, doubles to the cap, with full jitter.
pub const RECONNECT_FIRST_SECS: u64 = 1;
pub const RECONNECT_CAP_SECS: u64 = 60;

/// Websocket close codes the server uses, so a device knows whether to
/// dial again.
pub const CLOSE_DROPPED: u16 = 4000;
/// Credentials refused (revoked, deleted, suspended): do not dial again
/// until logged in anew.
pub const CLOSE_REFUSED: u16 = 4001;
/// Told to stop until started again (`force-login`, `kill-process`).
pub const CLOSE_STOP: u16 = 4002;

/// The answer to a registration, shaped like a `CometAPIResponseMessage`
/// (`Status` 200 on success; otherwise `Message` says what was wrong).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Registration {
    pub status: i64,
    pub message: String,
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    /// The device's own secret: 256 random bits, hex. The server keeps only
    /// its hash. It is not the account password.
    pub device_key: String,
    pub username: String,
    /// The account key (base64 of 32 bytes) that wraps the account's vault
    /// passwords (`vault_key`). Kept by the device beside its key.
    pub account_key: String,
}

/// What a device says about itself, at every connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceInfo {
    pub friendly_name: String,
    /// `MAJOR.MINOR.PATCH`, compared with the server's `Version`.
    pub client_version: String,
    /// `<os>/<goarch>`, e.g. `linux/amd64`.
    pub platform: String,
    pub platform_version: OSInfo,
    /// An IANA time zone; schedules run in it.
    pub timezone: String,
    /// Whether the device lets the server see file names (browse, restore).
    pub allows_filenames: bool,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Device → server, first frame of a registered device.
    Hello {
        device_id: String,
        device_key: String,
        info: DeviceInfo,
        /// Jobs this device is running right now (after a reconnection).
        #[serde(default)]
        running_jobs: Vec<String>,
    },
    /// Device → server, first frame of a device without credentials: it
    /// waits in the server's registration lobby.
    Lobby { device_id: String, info: DeviceInfo },
    /// Server → device, answering `Hello` or `Lobby`.
    Welcome {
        connection_id: String,
        /// Empty in the lobby.
        #[serde(default)]
        username: String,
        server_time: i64,
        /// The server's `Version`.
        server_version: String,
    },
    /// Server → device: the account's profile, at once after `Welcome` and
    /// again whenever it changes. The device applies it without restarting.
    Profile {
        profile: UserProfileConfig,
        profile_hash: String,
    },
    /// Server → lobby device: an administrator registered it to an account.
    /// It saves these credentials and reconnects with `Hello`.
    Registered { registration: Registration },
    /// Server → device, before closing: why, and whether to dial again.
    Bye { reason: String, reconnect: bool },
    /// Either way: a call awaiting a `Reply` with the same `id`.
    Request { id: u64, call: Call },
    /// Either way: the answer to `Request` `id`. `ok` false carries `error`.
    Reply {
        id: u64,
        ok: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        error: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        body: Value,
    },
    /// Device → server, no reply: how far a running job is. `Counter`
    /// rises by one per report; the server stamps `RecievedTime`.
    Progress {
        job_id: String,
        progress: BackupJobProgress,
    },
    /// Device → server, no reply: lines for a job's log.
    Log {
        job_id: String,
        entries: Vec<JobEntry>,
    },
}

/// The calls, tagged by `name` with their `args`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "args", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Call {
    /// Device → server: a job begins. `detail` holds `Classification`,
    /// `SourceGUID`, `DestinationGUID`, `BackupRuleGUID`, `StartTime` and,
    /// for a job that ends at once (7006 skipped), its final `Status` and
    /// `EndTime`. Answer: [`JobStarted`].
    JobStart { detail: BackupJobDetail },
    /// Device → server: a job ended. `detail` holds `Status`, `EndTime`
    /// and the totals (`TotalFiles`, `TotalSize`, `UploadSize`,
    /// `SnapshotID`, `DestinationSizeStart/End`, ...). The vault's size as
    /// measured, when known, becomes its `ClientProvidedSize`.
    JobFinish {
        job_id: String,
        detail: BackupJobDetail,
        #[serde(default)]
        destination_size: Option<SizeMeasurement>,
    },
    /// Device → server: a vault was initialised. Stored only if the vault
    /// has no key yet; the answer ([`VaultKeyStored`]) is the key the
    /// profile holds, which the device must use.
    VaultKey {
        destination_id: String,
        encrypted_encryption_key: String,
        encryption_key_encryption_method: u64,
        repo_init_timestamp: i64,
    },
    /// Server → device: stop this job (it ends 7005).
    JobCancel { job_id: String },
    /// Server → device (`dispatcher/run-backup`): run a backup rule now.
    /// Answered with [`JobStarted`] once the job exists; it runs on.
    RunBackup { rule_id: String },
    /// Server → device (`dispatcher/run-backup-custom`): back up a
    /// Protected Item into a Storage Vault now, outside any rule. Answered
    /// like `RunBackup`.
    RunBackupCustom {
        source_id: String,
        destination_id: String,
        /// `StopAfter`, `LimitVaultSpeedBps` and `AllowZeroFilesSuccess`
        /// apply as a rule's would.
        #[serde(default)]
        options: BackupJobAdvancedOptions,
    },
    /// Server → device (`dispatcher/request-vault-snapshots`): the
    /// snapshots a vault holds. Answered with a list of `VaultSnapshot`.
    VaultSnapshots { destination_id: String },
    /// Server → device (`dispatcher/run-restore`): restore a snapshot
    /// (`snapshot` empty: the item's newest), or `paths` of it, into the
    /// directory `target`. Answered like `RunBackup`; the job is 4002.
    Restore {
        source_id: String,
        destination_id: String,
        #[serde(default)]
        snapshot: String,
        target: String,
        #[serde(default)]
        paths: Vec<String>,
        /// Written as one archive file into `target` instead of as files:
        /// `RESTOREARCHIVEFORMAT_*` (tar, tar.gz, zip, tar.zst).
        #[serde(default)]
        archive: Option<i64>,
        /// With `archive`: not written on the device but sent, as it is
        /// made, to [`UPLOAD_PATH`] under this token (`target` is unused).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        upload: String,
    },
    /// Server → device (`dispatcher/delete-snapshot(s)`): forget these
    /// snapshots of the vault. Answered with `null` once they are gone.
    DeleteSnapshots {
        destination_id: String,
        snapshot_ids: Vec<String>,
    },
    /// Server → device (`dispatcher/kill-process`): stop the agent; it
    /// stays stopped until started again. Answered before it exits.
    KillProcess,
    /// Server → device (`dispatcher/apply-retention-rules`,
    /// `deepverify-storage-vault`, `reindex-storage-vault`, `unlock`): a job
    /// on a whole vault. Answered like `RunBackup`.
    Maintain {
        kind: Maintenance,
        destination_id: String,
        /// With `Unlock`: remove live holders' locks too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_unsafe: bool,
    },
    /// Server → device (`dispatcher/uninstall-software`): remove the agent
    /// (its executable, its systemd unit and, with `remove_config`, its
    /// state directory). Answered before it goes; it then exits and is not
    /// restarted.
    Uninstall { remove_config: bool },
    /// Server → device (`dispatcher/update-software`, update campaigns):
    /// fetch the build the server offers from [`SOFTWARE_PATH`] and put it
    /// in place of the running one. Answered with [`SoftwareUpdated`] once
    /// it is in place; the device then restarts into it and connects again.
    UpdateSoftware,
    /// Server → device (`dispatcher/request-stored-objects`): one directory
    /// of a snapshot, the root when `tree_id` is empty. Answered with a
    /// list of `StoredObject`; a directory's `subtree` is its `tree_id`.
    StoredObjects {
        destination_id: String,
        snapshot_id: String,
        #[serde(default)]
        tree_id: String,
    },
    /// Server → device (`dispatcher/request-filesystem-objects`): one
    /// directory of the device's file system (`/` when `path` is empty), as
    /// a list of `StoredObject`.
    FilesystemObjects {
        #[serde(default)]
        path: String,
    },
    /// Server → device (`dispatcher/search-snapshots`): every entry of
    /// these snapshots, which the server filters. Answered with a map of
    /// snapshot ID to a list of `SearchResultFileInfo`.
    SnapshotFiles {
        destination_id: String,
        snapshot_ids: Vec<String>,
    },
    /// Server → device (`dispatcher/request-browse-mysql`): the databases
    /// of a MariaDB or MySQL server, reached with these credentials.
    /// Answered with a map of database name to name.
    BrowseMysql {
        host: String,
        port: String,
        username: String,
        password: String,
    },
    /// Server → device (`dispatcher/ping-destination`): whether the device
    /// reaches this Storage Vault location. Answered with `null`.
    PingDestination { location: DestinationLocation },
    /// Server → device (`dispatcher/update-login-url`): use this server URL
    /// from now on. Answered with `null`; the device then reconnects there.
    UpdateLoginUrl { url: String },
}

/// The jobs [`Call::Maintain`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Maintenance {
    /// Each Protected Item's retention in the vault, then prune (4003).
    Retention,
    /// Read and authenticate every blob (4010).
    DeepVerify,
    /// Rebuild the index from the packs' own headers (4009).
    Reindex,
    /// Remove stale lock files (4004).
    Unlock,
}

/// The file name extension of a restore archive format (`Restore`'s
/// `archive`), `None` for one devices do not make.
pub fn archive_extension(format: i64) -> Option<&'static str> {
    use halley_api::constants::*;
    match format {
        RESTOREARCHIVEFORMAT_TAR => Some("tar"),
        RESTOREARCHIVEFORMAT_TARGZ => Some("tar.gz"),
        RESTOREARCHIVEFORMAT_ZIP => Some("zip"),
        RESTOREARCHIVEFORMAT_TARZSTD => Some("tar.zst"),
        _ => None,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStarted {
    pub job_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SoftwareUpdated {
    /// The version of the build now in place.
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaultKeyStored {
    pub encrypted_encryption_key: String,
    pub encryption_key_encryption_method: u64,
    pub repo_init_timestamp: i64,
}

impl Message {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("messages serialise")
    }

    pub fn reply_ok(id: u64, body: impl Serialize) -> Message {
        Message::Reply {
            id,
            ok: true,
            error: String::new(),
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    pub fn reply_err(id: u64, error: impl Into<String>) -> Message {
        Message::Reply {
            id,
            ok: false,
            error: error.into(),
            body: Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_have_the_documented_shape() {
        let request = Message::Request {
            id: 7,
            call: Call::JobCancel { job_id: "j".into() },
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"type": "request", "id": 7, "call": {"name": "job_cancel", "args": {"job_id": "j"}}})
        );
        let reply: Message =
            serde_json::from_value(json!({"type": "reply", "id": 7, "ok": true})).unwrap();
        assert_eq!(reply, Message::reply_ok(7, Value::Null));
        let hello: Message = serde_json::from_value(json!({"type": "hello",
            "device_id": "d", "device_key": "k", "info": {"client_version": "25.9.6"}}))
        .unwrap();
        assert!(matches!(hello, Message::Hello { running_jobs, .. } if running_jobs.is_empty()));
    }
}
