//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Halley vault: deduplicated, compressed, encrypted backups.
///
/// The password comes from HALLEY_VAULT_PASSWORD, else from a prompt.
#[derive(Parser)]
#[command(name = "halley-vault", version)]
pub struct Cli {
    /// The repository: a local path, s3://BUCKET/PREFIX (credentials and
    /// endpoint from AWS_* variables, e.g. AWS_ENDPOINT_URL), or a Storage
    /// Role bucket, halleys://HOST[:PORT]/BUCKET (halley:// without TLS;
    /// the key from HALLEY_BUCKET_KEY).
    #[arg(
        long,
        short = 'r',
        env = "HALLEY_VAULT_REPO",
        global = true,
        default_value = ""
    )]
    pub repo: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a repository.
    Init {
        /// argon2id memory in KiB (default 65536).
        #[arg(long)]
        kdf_memory_kib: Option<u32>,
    },
    /// Back up paths (or a command's output with --command).
    Backup {
        /// Paths to back up.
        #[arg(required_unless_present_any = ["command", "stdin_name"])]
        paths: Vec<PathBuf>,
        /// Leave out entries matching this glob (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// Leave out paths matching this regular expression (repeatable).
        #[arg(long)]
        rexclude: Vec<String>,
        /// Read every file, even those unchanged since the last backup.
        #[arg(long)]
        rescan_unchanged: bool,
        /// Name of the source (its history, for retention and change detection).
        #[arg(long, default_value = "default")]
        source: String,
        /// Compression level 1 (none) to 5 (smallest).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=5))]
        compression: i64,
        /// Tag the snapshot (repeatable).
        #[arg(long)]
        tag: Vec<String>,
        /// Store standard input (or the --command output) as this file name.
        #[arg(long)]
        stdin_name: Option<String>,
        /// Run this shell command and back up its standard output.
        #[arg(long)]
        command: Option<String>,
        /// Print the snapshot as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List snapshots.
    Snapshots {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a snapshot's entries (`latest` names the newest snapshot).
    Ls {
        /// Snapshot id, unique prefix, or `latest`.
        snapshot: String,
        /// Only this path and below.
        path: Option<String>,
        /// As JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot, or the given paths of it.
    Restore {
        /// Snapshot id, unique prefix, or `latest`.
        snapshot: String,
        /// Directory to restore into.
        #[arg(long, required_unless_present_any = ["tar", "zip"])]
        target: Option<PathBuf>,
        /// Write a tar archive to this file (`-` for standard output) instead.
        #[arg(long, conflicts_with_all = ["target", "zip"])]
        tar: Option<PathBuf>,
        /// Write a zip archive to this file (`-` for standard output) instead.
        #[arg(long, conflicts_with_all = ["target"])]
        zip: Option<PathBuf>,
        /// Snapshot paths to restore (default: everything).
        paths: Vec<String>,
    },
    /// Delete snapshots, by name or by a retention policy.
    Forget {
        /// Snapshot ids or prefixes.
        snapshots: Vec<String>,
        /// A RetentionPolicy in JSON, e.g. '{"Mode":802,"Ranges":[{"Type":900,"Jobs":3}]}'.
        #[arg(long)]
        policy: Option<String>,
        /// Apply the policy to this source only.
        #[arg(long)]
        source: Option<String>,
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete data no snapshot references.
    Prune,
    /// Rebuild the index from the pack files (after index damage).
    RepairIndex,
    /// Check the repository; --deep reads and authenticates every byte.
    Verify {
        /// Read every pack.
        #[arg(long)]
        deep: bool,
    },
}
