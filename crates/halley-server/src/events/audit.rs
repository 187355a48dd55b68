//! The audit file sink: `AuditFileOptions` (top level and per tenant) write
//! events as JSON lines to `DATA_DIR/logs/FILENAME.YYYY-MM-DD.jsonl`, beside
//! the server logs, filtered like webhooks, and pruned after `PruningLimit`
//! days (0: the Auth Role's `PruneLogsAfterDays`) when pruning is enabled.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use halley_api::constants::STREAM_LEVEL_NONE;
use halley_api::types::{FileOption, ServerConfigOptions};

use super::Event;
use crate::util::{civil_date, now_unix};

pub struct AuditFiles {
    dir: PathBuf,
    /// Day of the last pruning pass per file prefix.
    pruned: Mutex<HashMap<String, i64>>,
}

impl AuditFiles {
    pub fn new(dir: PathBuf) -> Self {
        AuditFiles {
            dir,
            pruned: Mutex::new(HashMap::new()),
        }
    }

    pub fn write(&self, config: &ServerConfigOptions, events: &[Arc<Event>]) {
        let top = config
            .audit_file_options
            .values()
            .map(|option| ("", option));
        let tenants = config.organizations.iter().flat_map(|(id, org)| {
            org.audit_file_options
                .values()
                .map(move |option| (id.as_str(), option))
        });
        for (organization, option) in top.chain(tenants) {
            let Some(prefix) = safe_prefix(&option.filename) else {
                continue;
            };
            let lines: String = events
                .iter()
                .filter(|e| {
                    organization.is_empty() || e.event.owner_organization_id == organization
                })
                .filter_map(|e| line_for(option, e))
                .collect();
            if !lines.is_empty() {
                if let Err(err) = self.append(&prefix, &lines) {
                    tracing::warn!("audit file {prefix}: {err}");
                }
            }
            if option.pruning_enabled {
                let days = match option.pruning_limit {
                    0 => config.authentication_role.prune_logs_after_days,
                    days => days,
                };
                self.prune(&prefix, days);
            }
        }
    }

    fn append(&self, prefix: &str, lines: &str) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let (year, month, day) = civil_date(now_unix());
        let path = self
            .dir
            .join(format!("{prefix}.{year:04}-{month:02}-{day:02}.jsonl"));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(lines.as_bytes())
    }

    /// Deletes this prefix's files older than `days` days, once a day.
    fn prune(&self, prefix: &str, days: i64) {
        if days <= 0 {
            return;
        }
        let today = now_unix() / 86_400;
        {
            let mut pruned = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
            if pruned.get(prefix) == Some(&today) {
                return;
            }
            pruned.insert(prefix.to_string(), today);
        }
        let (year, month, day) = civil_date((today - days) * 86_400);
        let oldest_kept = format!("{prefix}.{year:04}-{month:02}-{day:02}.jsonl");
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dated = name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".jsonl"));
            // Dates in the names sort as text.
            if dated && name.len() == oldest_kept.len() && name < oldest_kept {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn line_for(option: &FileOption, event: &Event) -> Option<String> {
    if !option.allow_event_types.is_empty()
        && !option.allow_event_types.contains(&event.event.r#type)
    {
        return None;
    }
    let mut line = if option.level == STREAM_LEVEL_NONE {
        let mut envelope = event.event.clone();
        envelope.data = serde_json::Value::Null;
        serde_json::to_string(&envelope).ok()?
    } else {
        event.json.clone()
    };
    line.push('\n');
    Some(line)
}

/// File names come from the configuration: keep them to one plain path part.
fn safe_prefix(filename: &str) -> Option<String> {
    let prefix: String = filename
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let prefix = prefix.trim_matches('.').to_string();
    (!prefix.is_empty()).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_only_old_files_of_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let files = AuditFiles::new(dir.path().to_path_buf());
        let (y, m, d) = civil_date(now_unix());
        let today = format!("audit.{y:04}-{m:02}-{d:02}.jsonl");
        for name in [
            "audit.2001-01-01.jsonl",
            "other.2001-01-01.jsonl",
            today.as_str(),
        ] {
            fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        files.prune("audit", 7);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![today, "other.2001-01-01.jsonl".to_string()]);
    }

    #[test]
    fn file_names_cannot_leave_the_log_directory() {
        assert_eq!(
            safe_prefix("../../etc/passwd").as_deref(),
            Some("etcpasswd")
        );
        assert_eq!(safe_prefix("..").as_deref(), None);
    }
}
