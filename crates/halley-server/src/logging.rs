//! Server logs: to standard error and, one file a day, to
//! `DATA_DIR/logs/halleyd.log.YYYY-MM-DD`, which `meta/read-logs` and friends
//! serve back.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::{fmt, EnvFilter};

use crate::util::unix_of_date;

pub const LOG_FILE_PREFIX: &str = "halleyd.log";

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("HALLEY_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Starts logging; keep the guard alive until the end so the file is flushed.
pub fn init(data_dir: &Path) -> anyhow::Result<WorkerGuard> {
    let dir = log_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let (file, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::daily(&dir, LOG_FILE_PREFIX));
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        )
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(file)
                .with_filter(filter()),
        )
        .try_init()?;
    Ok(guard)
}

/// The days that have a log file: (Unix time of the day's start, file), oldest first.
pub fn days(data_dir: &Path) -> Vec<(i64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(log_dir(data_dir)) else {
        return Vec::new();
    };
    let mut days: Vec<(i64, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let date = name.strip_prefix(LOG_FILE_PREFIX)?.strip_prefix('.')?;
            let mut parts = date.splitn(3, '-').map(str::parse::<i64>);
            let (year, month, day) = (
                parts.next()?.ok()?,
                parts.next()?.ok()?,
                parts.next()?.ok()?,
            );
            Some((unix_of_date(year, month as u32, day as u32), entry.path()))
        })
        .collect();
    days.sort();
    days
}
