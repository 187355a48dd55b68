//! `halley-agent restore` and `halley-agent snapshots`: reading a vault of
//! the account on this machine. The restore is a job ([`restores`]).

use std::sync::Arc;

use anyhow::Result;
use halley_api::constants::*;
use indicatif::HumanBytes;

use super::backup::ProgressDisplay;
use super::one_off_session;
use crate::state::StateDir;
use crate::{restores, vaults};

pub async fn snapshots(dir: StateDir, vault: String) -> Result<()> {
    let session = one_off_session(dir)?;
    let repo = vaults::open_existing(&session, &vault).await?;
    let list = tokio::task::spawn_blocking(move || repo.snapshots()).await??;
    println!(
        "{:<64}  {:<20}  {:<36}  {:>8}  {:>10}",
        "snapshot", "time (UTC)", "protected item", "files", "size"
    );
    for s in list {
        let time = jiff::Timestamp::from_second(s.snapshot.time)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:<64}  {:<20}  {:<36}  {:>8}  {:>10}",
            s.id.to_hex(),
            time,
            s.snapshot.source,
            s.snapshot.summary.files,
            HumanBytes(s.snapshot.summary.bytes).to_string()
        );
    }
    Ok(())
}

pub use crate::restores::Restore;

pub async fn restore(dir: StateDir, restore: Restore) -> Result<i32> {
    let session = one_off_session(dir)?;
    let display = ProgressDisplay::new();
    let shown = display.clone();
    let target = restore.target.clone();
    let end = restores::run(&session, restore, Arc::new(move |p| shown.show(p)), None).await?;
    display.finish();
    if end.status == JOB_STATUS_FAILED_ERROR {
        eprintln!("restore failed: {}", end.message);
        return Ok(1);
    }
    let summary = end.summary.unwrap_or_default();
    println!(
        "restored {} files, {} directories, {} into {}{}",
        summary.files,
        summary.dirs,
        HumanBytes(summary.bytes),
        target.display(),
        if end.message.is_empty() {
            String::new()
        } else {
            format!(" (warning: {})", end.message)
        }
    );
    Ok(0)
}
