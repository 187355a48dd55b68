//! `halley-agent backup`: a backup now, of a rule or of an item into a
//! vault, reported to the server like any job, with a progress line.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use halley_api::constants::*;
use halley_vault::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use super::one_off_session;
use crate::job::{self, BackupRequest, Observer};
use crate::state::StateDir;

pub enum Target {
    Rule(String),
    ItemIntoVault { item: String, vault: String },
}

/// Returns the process's exit code: 0 when the job succeeded (also with
/// warnings), 1 otherwise.
pub async fn run(dir: StateDir, target: Target) -> Result<i32> {
    let session = one_off_session(dir)?;
    let profile = session.profile().await?;
    let request = match target {
        Target::Rule(rule) => job::rule_request(&profile, &rule)?,
        Target::ItemIntoVault { item, vault } => BackupRequest {
            rule_id: String::new(),
            source_id: item,
            destination_id: vault,
            options: None,
        },
    };
    let display = ProgressDisplay::new();
    let observer: Observer = {
        let display = display.clone();
        Arc::new(move |p: &Progress| display.show(p))
    };
    let end = job::run_backup(
        &session,
        &profile,
        &request,
        job::RunOptions {
            observer: Some(observer),
            ..Default::default()
        },
    )
    .await?;
    display.finish();
    let outcome = &end.outcome;
    match end.status {
        JOB_STATUS_STOP_SUCCESS | JOB_STATUS_FAILED_WARNING => {
            println!(
                "job {}: snapshot {}: {} files, {} directories, {}, {} uploaded{}",
                end.job_id,
                outcome.snapshot_id,
                outcome.files,
                outcome.directories,
                HumanBytes(outcome.total_bytes),
                HumanBytes(outcome.uploaded_bytes),
                if end.message.is_empty() {
                    String::new()
                } else {
                    format!(" (warning: {})", end.message)
                }
            );
            Ok(0)
        }
        status => {
            eprintln!("job {} failed ({status}): {}", end.job_id, end.message);
            Ok(1)
        }
    }
}

/// A bar on a terminal; a plain line every few seconds otherwise.
#[derive(Clone)]
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    last_line: Arc<Mutex<Option<Instant>>>,
}

impl Default for ProgressDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressDisplay {
    pub fn new() -> ProgressDisplay {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ProgressDisplay {
            bar,
            last_line: Arc::default(),
        }
    }

    pub fn show(&self, p: &Progress) {
        let rate = p.bytes_per_second();
        let mut line = format!(
            "{} files, {} directories, {} at {}/s",
            p.files,
            p.dirs,
            HumanBytes(p.bytes),
            HumanBytes(rate as u64)
        );
        if let Some(total) = p.total_bytes.filter(|t| *t > 0) {
            let left = total.saturating_sub(p.bytes) as f64;
            let eta = if rate > 0.0 {
                format!("{:.0} s", left / rate)
            } else {
                "?".into()
            };
            line.push_str(&format!(" of {}, ETA {eta}", HumanBytes(total)));
        }
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => {
                let mut last = self.last_line.lock().unwrap();
                if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                    *last = Some(Instant::now());
                    eprintln!("{line}");
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn check_target(
    rule: Option<String>,
    item: Option<String>,
    vault: Option<String>,
) -> Result<Target> {
    match (rule, item, vault) {
        (Some(rule), None, None) => Ok(Target::Rule(rule)),
        (None, Some(item), Some(vault)) => Ok(Target::ItemIntoVault { item, vault }),
        _ => bail!("give --rule ID, or --item ID and --vault ID"),
    }
}
