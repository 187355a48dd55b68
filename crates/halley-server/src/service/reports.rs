//! Email reports on job history (`EmailReportConfig`): which jobs a report
//! covers, and the message (subject, plain text, HTML) that presents them.
//!
//! - `EMAILREPORTTYPE_IMMEDIATE` (0): the newest job, in detail;
//! - `EMAILREPORTTYPE_SUMMARY` (1): every job of the time span, newest first;
//! - `EMAILREPORTTYPE_GROUPED_STATUS` (2): the same jobs grouped by outcome;
//! - `EMAILREPORTTYPE_RECENT_ACTIVITY` (3): the newest job of each Protected
//!   Item and Storage Vault pair.
//!
//! The time span (`TimeSpan`) is `Seconds` for `SCHEDULE_FREQUENCY_PERIODIC`,
//! otherwise one period of its frequency (hour, day, week, 31 days, 365
//! days); left empty it is one day.

use std::collections::BTreeMap;

use halley_api::constants::*;
use halley_api::types::{BackupJobDetail, EmailReportConfig, TimeSpan, UserProfileConfig};
use jiff::tz::TimeZone;

use super::search;

/// A job with the names its account gives to what it refers to.
#[derive(Debug, Clone)]
pub struct ReportJob {
    pub detail: BackupJobDetail,
    pub item: String,
    pub vault: String,
    pub device: String,
}

impl ReportJob {
    pub fn named_by(detail: BackupJobDetail, profile: Option<&UserProfileConfig>) -> ReportJob {
        let name = |found: Option<&String>, id: &str| {
            found
                .filter(|name| !name.is_empty())
                .cloned()
                .unwrap_or_else(|| id.to_string())
        };
        let item = name(
            profile.and_then(|p| p.sources.get(&detail.source_guid).map(|s| &s.description)),
            &detail.source_guid,
        );
        let vault = name(
            profile.and_then(|p| {
                p.destinations
                    .get(&detail.destination_guid)
                    .map(|d| &d.description)
            }),
            &detail.destination_guid,
        );
        let device = name(
            profile.and_then(|p| p.devices.get(&detail.device_id).map(|d| &d.friendly_name)),
            &detail.device_id,
        );
        ReportJob {
            detail,
            item,
            vault,
            device,
        }
    }
}

/// A report ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub plain: String,
    pub html: String,
}

/// How far back a report looks, in seconds.
pub fn span_seconds(span: &TimeSpan) -> Result<i64, String> {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    Ok(match span.frequency_type {
        0 => DAY,
        SCHEDULE_FREQUENCY_PERIODIC if span.seconds > 0 => span.seconds,
        SCHEDULE_FREQUENCY_PERIODIC => {
            return Err("TimeSpan.Seconds must be positive for a periodic time span".into())
        }
        SCHEDULE_FREQUENCY_HOURLY => HOUR,
        SCHEDULE_FREQUENCY_DAILY => DAY,
        SCHEDULE_FREQUENCY_WEEKLY => 7 * DAY,
        SCHEDULE_FREQUENCY_MONTHLY => 31 * DAY,
        SCHEDULE_FREQUENCY_YEARLY => 365 * DAY,
        other => return Err(format!("TimeSpan.FrequencyType {other} is not a frequency")),
    })
}

/// The time zone a report shows times in: the IANA name given, or UTC.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    if name.is_empty() {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| format!("LocalTimezone '{name}' is not a known time zone"))
}

/// The jobs of `jobs` the report covers, in the order it shows them.
pub fn select(config: &EmailReportConfig, jobs: Vec<ReportJob>) -> Result<Vec<ReportJob>, String> {
    let mut kept = Vec::new();
    for job in jobs {
        let wire = serde_json::to_value(&job.detail).map_err(|e| e.to_string())?;
        if search::matches(&config.filter, "BackupJobDetail", &wire)
            .map_err(|why| format!("Filter: {why}"))?
        {
            kept.push(job);
        }
    }
    kept.sort_by_key(|job| std::cmp::Reverse(job.detail.start_time));
    Ok(match config.report_type {
        EMAILREPORTTYPE_IMMEDIATE => kept.into_iter().take(1).collect(),
        EMAILREPORTTYPE_RECENT_ACTIVITY => {
            let mut newest: BTreeMap<(String, String, String), ReportJob> = BTreeMap::new();
            for job in kept {
                let key = (
                    job.detail.username.clone(),
                    job.detail.source_guid.clone(),
                    job.detail.destination_guid.clone(),
                );
                newest.entry(key).or_insert(job);
            }
            let mut jobs: Vec<ReportJob> = newest.into_values().collect();
            jobs.sort_by_key(|job| std::cmp::Reverse(job.detail.start_time));
            jobs
        }
        EMAILREPORTTYPE_SUMMARY | EMAILREPORTTYPE_GROUPED_STATUS => kept,
        other => return Err(format!("ReportType {other} is unknown (0 to 3)")),
    })
}

/// The outcome group a job status belongs to.
pub fn status_name(status: u64) -> &'static str {
    match status {
        JOB_STATUS_STOP_SUCCESS__MIN..=JOB_STATUS_STOP_SUCCESS__MAX => "Success",
        JOB_STATUS_NOT_YET_STARTED => "Not started",
        JOB_STATUS_RUNNING__MIN..=JOB_STATUS_RUNNING__MAX => "Running",
        JOB_STATUS_FAILED_TIMEOUT => "Timed out",
        JOB_STATUS_FAILED_WARNING => "Warning",
        JOB_STATUS_FAILED_QUOTA => "Quota exceeded",
        JOB_STATUS_FAILED_SCHEDULEMISSED => "Missed",
        JOB_STATUS_FAILED_CANCELLED => "Cancelled",
        JOB_STATUS_FAILED_SKIPALREADYRUNNING => "Skipped (already running)",
        JOB_STATUS_FAILED_ABANDONED => "Abandoned",
        _ => "Error",
    }
}

fn classification_name(classification: u64) -> &'static str {
    match classification {
        JOB_CLASSIFICATION_BACKUP => "Backup",
        JOB_CLASSIFICATION_RESTORE => "Restore",
        JOB_CLASSIFICATION_RETENTION => "Retention pass",
        JOB_CLASSIFICATION_UNLOCK => "Unlock",
        JOB_CLASSIFICATION_DELETE_CUSTOM => "Delete",
        JOB_CLASSIFICATION_REMEASURE => "Re-measure",
        JOB_CLASSIFICATION_UPDATE => "Software update",
        JOB_CLASSIFICATION_IMPORT => "Import",
        JOB_CLASSIFICATION_REINDEX => "Reindex",
        JOB_CLASSIFICATION_DEEPVERIFY => "Deep verify",
        JOB_CLASSIFICATION_UNINSTALL => "Uninstall",
        _ => "Job",
    }
}

const COLUMNS: [&str; 9] = [
    "Started",
    "Account",
    "Device",
    "Protected Item",
    "Storage Vault",
    "Type",
    "Status",
    "Duration",
    "Size",
];

fn row(job: &ReportJob, tz: &TimeZone) -> [String; 9] {
    let d = &job.detail;
    [
        local_time(d.start_time, tz),
        d.username.clone(),
        job.device.clone(),
        job.item.clone(),
        job.vault.clone(),
        classification_name(d.classification).to_string(),
        status_name(d.status).to_string(),
        duration(d.start_time, d.end_time),
        size(d.total_size),
    ]
}

fn local_time(unix: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| unix.to_string())
}

fn duration(start: i64, end: i64) -> String {
    if end < start || end == 0 {
        return "-".into();
    }
    let seconds = end - start;
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Renders the report on `jobs` (as [`select`] returned them) for `who`
/// (an account, or the accounts of an organization).
pub fn render(
    brand: &str,
    who: &str,
    config: &EmailReportConfig,
    jobs: &[ReportJob],
    tz: &TimeZone,
) -> Rendered {
    let failed = jobs
        .iter()
        .filter(|j| (JOB_STATUS_FAILED__MIN..=JOB_STATUS_FAILED__MAX).contains(&j.detail.status))
        .count();
    let subject = match (config.report_type, jobs.first()) {
        (EMAILREPORTTYPE_IMMEDIATE, Some(job)) => format!(
            "{brand}: {} {} for {who}",
            classification_name(job.detail.classification),
            status_name(job.detail.status).to_lowercase()
        ),
        _ => format!(
            "{brand} report for {who}: {} job{}, {failed} unsuccessful",
            jobs.len(),
            if jobs.len() == 1 { "" } else { "s" }
        ),
    };
    let groups: Vec<(&str, Vec<&ReportJob>)> =
        if config.report_type == EMAILREPORTTYPE_GROUPED_STATUS {
            let mut by_status: BTreeMap<&str, Vec<&ReportJob>> = BTreeMap::new();
            for job in jobs {
                by_status
                    .entry(status_name(job.detail.status))
                    .or_default()
                    .push(job);
            }
            by_status.into_iter().collect()
        } else {
            vec![("", jobs.iter().collect())]
        };

    let mut plain = format!("{subject}\n");
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h2>{}</h2>",
        escape(&subject)
    );
    if jobs.is_empty() {
        plain.push_str("\nNo jobs in this period.\n");
        html.push_str("<p>No jobs in this period.</p>");
    }
    for (group, members) in groups.iter().filter(|(_, m)| !m.is_empty()) {
        if !group.is_empty() {
            plain.push_str(&format!("\n{group} ({})\n", members.len()));
            html.push_str(&format!("<h3>{} ({})</h3>", escape(group), members.len()));
        }
        plain.push('\n');
        plain.push_str(&COLUMNS.join(" | "));
        plain.push('\n');
        html.push_str(
            "<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><tr>",
        );
        for column in COLUMNS {
            html.push_str(&format!("<th>{column}</th>"));
        }
        html.push_str("</tr>");
        for job in members {
            let cells = row(job, tz);
            plain.push_str(&cells.join(" | "));
            plain.push('\n');
            html.push_str("<tr>");
            for cell in &cells {
                html.push_str(&format!("<td>{}</td>", escape(cell)));
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    Rendered {
        subject,
        plain,
        html,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(guid: &str, start: i64, status: u64, source: &str) -> ReportJob {
        let detail: BackupJobDetail =
            serde_json::from_value(json!({"GUID": guid, "Username": "ann",
            "Classification": 4001, "Status": status, "StartTime": start, "EndTime": start + 65,
            "SourceGUID": source, "DestinationGUID": "v", "TotalSize": 3 << 20}))
            .unwrap();
        ReportJob::named_by(detail, None)
    }

    fn config(report_type: i64) -> EmailReportConfig {
        EmailReportConfig {
            report_type,
            ..Default::default()
        }
    }

    #[test]
    fn each_report_type_picks_its_jobs() {
        let jobs = vec![
            job("a", 100, 5000, "s1"),
            job("b", 200, 7002, "s1"),
            job("c", 150, 5000, "s2"),
        ];
        let guids = |report_type| -> Vec<String> {
            select(&config(report_type), jobs.clone())
                .unwrap()
                .into_iter()
                .map(|j| j.detail.guid)
                .collect()
        };
        assert_eq!(guids(EMAILREPORTTYPE_IMMEDIATE), ["b"]);
        assert_eq!(guids(EMAILREPORTTYPE_SUMMARY), ["b", "c", "a"]);
        assert_eq!(guids(EMAILREPORTTYPE_RECENT_ACTIVITY), ["b", "c"]);
        assert!(select(&config(9), jobs).is_err());
    }

    #[test]
    fn a_grouped_report_counts_each_outcome_and_escapes_names() {
        let mut jobs = vec![job("a", 100, 5000, "<docs>"), job("b", 200, 7002, "s1")];
        jobs.push(job("c", 300, 7002, "s1"));
        let tz = time_zone("Europe/Paris").unwrap();
        let report = render(
            "Halley",
            "ann",
            &config(EMAILREPORTTYPE_GROUPED_STATUS),
            &jobs,
            &tz,
        );
        assert_eq!(
            report.subject,
            "Halley report for ann: 3 jobs, 2 unsuccessful"
        );
        assert!(report.plain.contains("\nError (2)\n"), "{}", report.plain);
        assert!(report.plain.contains("\nSuccess (1)\n"));
        assert!(
            report.plain.contains("1970-01-01 01:01 CET | ann | "),
            "{}",
            report.plain
        );
        assert!(report.plain.contains("0:01:05 | 3.0 MiB"));
        assert!(report.html.contains("&lt;docs&gt;") && !report.html.contains("<docs>"));
    }

    #[test]
    fn spans_and_zones_are_checked() {
        let span = |frequency_type, seconds| TimeSpan {
            frequency_type,
            seconds,
            ..Default::default()
        };
        assert_eq!(span_seconds(&span(0, 0)), Ok(86_400));
        assert_eq!(
            span_seconds(&span(SCHEDULE_FREQUENCY_PERIODIC, 600)),
            Ok(600)
        );
        assert!(span_seconds(&span(SCHEDULE_FREQUENCY_PERIODIC, 0)).is_err());
        assert!(span_seconds(&span(42, 0)).is_err());
        assert!(time_zone("Mars/Olympus")
            .unwrap_err()
            .contains("Mars/Olympus"));
    }
}
