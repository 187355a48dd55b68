//! `halley-vault`: the command-line front of the vault engine, to use and
//! benchmark it by hand. Each command opens the repository, runs one library
//! operation and prints its outcome; failures exit non-zero with a message
//! that says what failed and where.

mod cli;
mod output;
mod password;
mod progress_bar;

use anyhow::{bail, Context, Result};
use clap::Parser;

use cli::{Cli, Command};
use halley_vault::backend::open_location;
use halley_vault::{Repository, Selection};

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("halley-vault: error: {e:#}");
        std::process::exit(1);
    }
}

fn open(repo: &str) -> Result<Repository> {
    let backend = open_location(repo)?;
    let pw = password::get(false)?;
    Ok(Repository::open(backend, &pw)?)
}

fn run(cli: Cli) -> Result<()> {
    let repo_loc = cli.repo.clone();
    if repo_loc.is_empty() {
        bail!("no repository: give --repo PATH|s3://BUCKET/PREFIX or set HALLEY_VAULT_REPO");
    }
    match cli.command {
        Command::Init { kdf_memory_kib } => {
            let backend = open_location(&repo_loc)?;
            let pw = password::get(true)?;
            let mut opts = halley_vault::InitOptions::default();
            if let Some(m) = kdf_memory_kib {
                opts.kdf.memory_kib = m;
            }
            let repo = Repository::init(backend, &pw, opts)?;
            println!(
                "created Halley vault {} at {repo_loc}",
                repo.config().id.short()
            );
        }
        Command::Backup {
            paths,
            exclude,
            rexclude,
            rescan_unchanged,
            source,
            compression,
            tag,
            stdin_name,
            command,
            json,
        } => {
            let repo = open(&repo_loc)?;
            let opts = halley_vault::BackupOptions {
                source,
                compression,
                tags: tag,
                ..Default::default()
            };
            let bar = progress_bar::Bar::new(None);
            let snap = if let Some(cmd) = command {
                // engine1/stdout: run the program and store what it prints.
                let mut child = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .with_context(|| format!("starting {cmd:?}"))?;
                let stdout = child.stdout.take().context("no stdout of the command")?;
                let name = stdin_name.unwrap_or_else(|| "stdout".into());
                let snap = halley_vault::backup_stream(&repo, stdout, &name, &cmd, &opts, &|p| {
                    bar.update(p)
                })?;
                let status = child.wait()?;
                if !status.success() {
                    bail!("the command {cmd:?} failed ({status}); its output was stored as snapshot {}", snap.id.short());
                }
                snap
            } else if let Some(name) = stdin_name {
                halley_vault::backup_stream(
                    &repo,
                    std::io::stdin().lock(),
                    &name,
                    "(stdin)",
                    &opts,
                    &|p| bar.update(p),
                )?
            } else {
                let mut sel = Selection::new(paths, &exclude, &rexclude)?;
                sel.rescan_unchanged = rescan_unchanged;
                halley_vault::backup(&repo, &sel, &opts, &|p| bar.update(p))?
            };
            bar.finish();
            output::backup_done(&snap, json)?;
            let skipped = snap.snapshot.summary.errors.len();
            if skipped > 0 {
                bail!(
                    "snapshot {} was saved, but {skipped} entries could not be read (listed above)",
                    snap.id.short()
                );
            }
        }
        Command::Snapshots { json } => {
            let repo = open(&repo_loc)?;
            output::snapshots(&repo.snapshots()?, json)?;
        }
        Command::Ls {
            snapshot,
            path,
            json,
        } => {
            let repo = open(&repo_loc)?;
            let snap = repo.find_snapshot(&snapshot)?;
            let entries = halley_vault::browse::list(&repo, &snap.snapshot.tree, path.as_deref())?;
            output::listing(&entries, json)?;
        }
        Command::Restore {
            snapshot,
            target,
            tar,
            zip,
            paths,
        } => {
            let repo = open(&repo_loc)?;
            let snap = repo.find_snapshot(&snapshot)?;
            if let Some(t) = tar {
                if t.as_os_str() == "-" {
                    let out = std::io::BufWriter::new(std::io::stdout().lock());
                    halley_vault::restore_tar(&repo, &snap, &paths, out)?;
                } else {
                    let f = std::fs::File::create(&t)
                        .with_context(|| format!("creating {}", t.display()))?;
                    halley_vault::restore_tar(&repo, &snap, &paths, std::io::BufWriter::new(f))?;
                }
                return Ok(());
            }
            if let Some(z) = zip {
                if z.as_os_str() == "-" {
                    let out = std::io::BufWriter::new(std::io::stdout().lock());
                    halley_vault::restore_zip(&repo, &snap, &paths, out)?;
                } else {
                    let f = std::fs::File::create(&z)
                        .with_context(|| format!("creating {}", z.display()))?;
                    halley_vault::restore_zip(&repo, &snap, &paths, std::io::BufWriter::new(f))?;
                }
                return Ok(());
            }
            let target = target.context("give --target DIR, --tar FILE or --zip FILE")?;
            let bar = progress_bar::Bar::new(None);
            let s = halley_vault::restore(&repo, &snap, &target, &paths, &|p| bar.update(p))?;
            bar.finish();
            eprintln!(
                "restored {} files, {} directories, {} to {}",
                s.files,
                s.dirs,
                output::bytes(s.bytes),
                target.display()
            );
            if !s.errors.is_empty() {
                for e in &s.errors {
                    eprintln!("  not restored: {e}");
                }
                bail!("{} entries could not be restored", s.errors.len());
            }
        }
        Command::Forget {
            snapshots,
            policy,
            source,
            dry_run,
        } => {
            let repo = open(&repo_loc)?;
            if let Some(policy) = policy {
                let policy: halley_api::types::RetentionPolicy = serde_json::from_str(&policy)
                    .context("parsing --policy (a RetentionPolicy in JSON)")?;
                let out = halley_vault::forget::apply_retention(
                    &repo,
                    &policy,
                    source.as_deref(),
                    chrono::Utc::now().timestamp(),
                    dry_run,
                )?;
                for s in &out.forgotten {
                    println!(
                        "{} {}",
                        if dry_run { "would forget" } else { "forgot" },
                        s.id.short()
                    );
                }
                println!("kept {} snapshots", out.kept.len());
            } else {
                if snapshots.is_empty() {
                    bail!("name the snapshots to forget, or give --policy");
                }
                let ids = snapshots
                    .iter()
                    .map(|s| repo.find_snapshot(s).map(|s| s.id))
                    .collect::<Result<Vec<_>, _>>()?;
                if !dry_run {
                    halley_vault::forget::forget(&repo, &ids)?;
                }
                for id in ids {
                    println!(
                        "{} {}",
                        if dry_run { "would forget" } else { "forgot" },
                        id.short()
                    );
                }
            }
        }
        Command::Prune => {
            let repo = open(&repo_loc)?;
            let s = halley_vault::prune::prune(&repo)?;
            println!(
                "packs: {} kept, {} deleted, {} repacked into {}, {} left by interrupted backups deleted; {} blobs removed, {} freed",
                s.packs_kept,
                s.packs_deleted,
                s.packs_repacked,
                s.packs_written,
                s.unindexed_packs_deleted,
                s.blobs_removed,
                output::bytes(s.bytes_freed.max(0) as u64)
            );
        }
        Command::RepairIndex => {
            let repo = open(&repo_loc)?;
            let s = halley_vault::repair::rebuild_index(&repo)?;
            println!("indexed {} packs, {} blobs", s.packs_indexed, s.blobs);
            if !s.problems.is_empty() {
                for p in &s.problems {
                    eprintln!("  unreadable: {p}");
                }
                bail!("{} packs could not be read", s.problems.len());
            }
        }
        Command::Verify { deep } => {
            let repo = open(&repo_loc)?;
            let bar = progress_bar::Bar::new(None);
            let r = halley_vault::verify::verify(&repo, deep, &|p| bar.update(p))?;
            bar.finish();
            output::verify(&r, deep);
            if !r.is_ok() {
                bail!(
                    "repository {repo_loc} is damaged: {} problems, {} snapshot entries affected",
                    r.problems.len(),
                    r.affected.len()
                );
            }
        }
    }
    Ok(())
}
