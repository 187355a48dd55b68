//! Every `RETENTIONRANGE_*` kind, one by one, then a policy applied to a
//! real repository.

mod common;

use chrono::{TimeZone, Utc};
use halley_api::constants::*;
use halley_api::types::{RetentionPolicy, RetentionRange};
use halley_vault::retention::{kept, kept_by_range, Job};

/// Unix time of a UTC date and hour.
fn t(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp()
}

/// "Now": Sunday 2026-11-29 12:00 UTC.
fn now() -> i64 {
    t(2026, 11, 29, 12)
}

fn range(kind: i64) -> RetentionRange {
    RetentionRange {
        r#type: kind,
        ..Default::default()
    }
}

/// Runs one range over jobs keyed by their times; returns kept times, sorted.
fn keep(r: &RetentionRange, times: &[i64]) -> Vec<i64> {
    let mut jobs: Vec<Job<i64>> = times.iter().map(|&time| Job { key: time, time }).collect();
    jobs.sort_by_key(|j| j.time);
    let mut out = kept_by_range(r, &jobs, now());
    out.sort();
    out
}

#[test]
fn most_recent_x_jobs() {
    let jobs = [
        t(2026, 11, 1, 0),
        t(2026, 11, 2, 0),
        t(2026, 11, 3, 0),
        t(2026, 11, 4, 0),
    ];
    let mut r = range(RETENTIONRANGE_MOST_RECENT_X_JOBS);
    r.jobs = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[3]]);
    r.jobs = RETENTIONRANGE_MAXINT;
    assert_eq!(keep(&r, &jobs), jobs.to_vec());
    r.jobs = 0;
    assert!(keep(&r, &jobs).is_empty());
}

#[test]
fn newer_than_x() {
    let jobs = [t(2026, 11, 1, 0), t(2026, 11, 2, 0), t(2026, 11, 3, 0)];
    let mut r = range(RETENTIONRANGE_NEWER_THAN_X);
    r.timestamp = jobs[1];
    assert_eq!(keep(&r, &jobs), vec![jobs[2]]);
}

#[test]
fn jobs_since() {
    let jobs = [
        t(2026, 8, 1, 0),
        t(2026, 10, 20, 0),
        t(2026, 11, 20, 13),
        t(2026, 11, 28, 0),
    ];
    let mut r = range(RETENTIONRANGE_JOBS_SINCE);
    r.days = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[3]]);
    r.weeks = 1; // 9 days: back to 2026-11-20 12:00
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[3]]);
    let mut r = range(RETENTIONRANGE_JOBS_SINCE);
    r.months = 1; // back to 2026-10-29 12:00
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[3]]);
    r.months = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[2], jobs[3]]);
    let mut r = range(RETENTIONRANGE_JOBS_SINCE);
    r.years = 1;
    assert_eq!(keep(&r, &jobs), jobs.to_vec());
}

#[test]
fn first_job_for_each_last_x_days() {
    let jobs = [
        t(2026, 11, 26, 1),  // 3 days ago: outside 3 days
        t(2026, 11, 27, 23), // 2 days ago
        t(2026, 11, 28, 9),  // yesterday, first
        t(2026, 11, 28, 11), // yesterday, second
        t(2026, 11, 29, 8),  // today, first
        t(2026, 11, 29, 10),
    ];
    let mut r = range(RETENTIONRANGE_FIRST_JOB_FOR_EACH_LAST_X_DAYS);
    r.days = 3;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[2], jobs[4]]);
}

#[test]
fn first_job_for_last_x_months() {
    let jobs = [
        t(2026, 8, 15, 9), // 4 months back: outside
        t(2026, 9, 15, 9),
        t(2026, 10, 15, 9),
        t(2026, 10, 16, 9), // wrong day
        t(2026, 11, 15, 10),
        t(2026, 11, 15, 11), // not the first that day
    ];
    let mut r = range(RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_MONTHS);
    r.months = 3;
    r.month_offset = 15;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[2], jobs[4]]);
    // November has no 31st: it keeps nothing for that month.
    let jobs = [t(2026, 10, 31, 9), t(2026, 11, 30, 9)];
    r.months = 2;
    r.month_offset = 31;
    assert_eq!(keep(&r, &jobs), vec![jobs[0]]);
}

#[test]
fn first_job_for_last_x_weeks() {
    // Weeks start on Sunday; WeekOffset 1 is Monday.
    let jobs = [
        t(2026, 11, 9, 9),  // Monday three weeks ago
        t(2026, 11, 16, 9), // Monday two weeks ago
        t(2026, 11, 23, 9), // Monday last week, first
        t(2026, 11, 23, 10),
        t(2026, 11, 24, 9), // Tuesday
    ];
    let mut r = range(RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_WEEKS);
    r.weeks = 2;
    r.week_offset = 1;
    assert_eq!(keep(&r, &jobs), vec![jobs[2]]);
    r.weeks = 3;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[2]]);
    r.week_offset = 0; // Sunday: none of these
    assert!(keep(&r, &jobs).is_empty());
}

#[test]
fn first_job_for_last_x_years() {
    let jobs = [
        t(2024, 12, 31, 9),
        t(2025, 6, 1, 9),
        t(2025, 7, 1, 9),
        t(2026, 1, 5, 9),
        t(2026, 3, 1, 9),
    ];
    let mut r = range(RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_YEARS);
    r.years = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[3]]);
}

#[test]
fn last_x_backups_one_for_each_day() {
    let jobs = [
        t(2026, 11, 20, 9),
        t(2026, 11, 24, 9),
        t(2026, 11, 28, 9),
        t(2026, 11, 28, 11),
        t(2026, 11, 29, 8),
        t(2026, 11, 29, 10),
    ];
    let mut r = range(RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_DAY);
    r.jobs = 3;
    assert_eq!(keep(&r, &jobs), vec![jobs[1], jobs[3], jobs[5]]);
}

#[test]
fn last_x_backups_one_for_each_week() {
    let jobs = [
        t(2026, 11, 2, 9),  // Monday, week of Nov 1
        t(2026, 11, 10, 9), // week of Nov 8
        t(2026, 11, 14, 9), // Saturday, same week
        t(2026, 11, 29, 8), // Sunday: a new week
        t(2026, 11, 29, 10),
    ];
    let mut r = range(RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_WEEK);
    r.jobs = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[4]]);
    r.jobs = 10;
    assert_eq!(keep(&r, &jobs), vec![jobs[0], jobs[2], jobs[4]]);
}

#[test]
fn last_x_backups_one_for_each_month() {
    let jobs = [
        t(2026, 8, 1, 9),
        t(2026, 10, 1, 9),
        t(2026, 10, 30, 9),
        t(2026, 11, 2, 9),
        t(2026, 11, 28, 9),
    ];
    let mut r = range(RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_MONTH);
    r.jobs = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[4]]);
}

#[test]
fn last_x_backups_one_for_each_year() {
    let jobs = [
        t(2023, 5, 1, 9),
        t(2024, 1, 1, 9),
        t(2024, 12, 31, 9),
        t(2026, 11, 2, 9),
    ];
    let mut r = range(RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_YEAR);
    r.jobs = 2;
    assert_eq!(keep(&r, &jobs), vec![jobs[2], jobs[3]]);
}

#[test]
fn modes_and_reserved_kind() {
    let jobs: Vec<Job<i64>> = (1..=5)
        .map(|d| Job {
            key: d,
            time: t(2026, 11, d as u32, 0),
        })
        .collect();
    let mut p = RetentionPolicy {
        mode: RETENTIONMODE_KEEP_EVERYTHING,
        ..Default::default()
    };
    let mut r900 = range(RETENTIONRANGE_MOST_RECENT_X_JOBS);
    r900.jobs = 1;
    p.ranges = vec![r900.clone()];
    assert_eq!(kept(&p, &jobs, now()).len(), 5, "801 ignores its ranges");
    p.mode = RETENTIONMODE_DELETE_EXCEPT;
    assert_eq!(
        kept(&p, &jobs, now()).into_iter().collect::<Vec<_>>(),
        vec![5]
    );
    // Ranges add up.
    let mut r901 = range(RETENTIONRANGE_NEWER_THAN_X);
    r901.timestamp = t(2026, 11, 3, 12);
    p.ranges.push(r901);
    assert_eq!(
        kept(&p, &jobs, now()).into_iter().collect::<Vec<_>>(),
        vec![4, 5]
    );
    // The reserved kind keeps nothing by itself.
    p.ranges = vec![range(RETENTIONRANGE__RESERVED904)];
    assert!(kept(&p, &jobs, now()).is_empty());
    // A mode this build does not know keeps everything.
    p.mode = 0;
    assert_eq!(kept(&p, &jobs, now()).len(), 5);
    // A policy in the API's JSON form.
    let json = r#"{"Mode":802,"Ranges":[{"Type":900,"Jobs":2}]}"#;
    let p: RetentionPolicy = serde_json::from_str(json).unwrap();
    assert_eq!(
        kept(&p, &jobs, now()).into_iter().collect::<Vec<_>>(),
        vec![4, 5]
    );
}

#[test]
fn apply_retention_to_a_repository_per_source() {
    use halley_vault::{backup, no_progress, BackupOptions, Selection};
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::write(&src.join("f"), b"data");
    let repo = common::init_repo(tmp.path());
    let sel = Selection::new(vec![src.clone()], &[], &[]).unwrap();
    for (source, day) in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)] {
        let opts = BackupOptions {
            source: source.into(),
            time: Some(t(2026, 11, day, 0)),
            ..Default::default()
        };
        backup(&repo, &sel, &opts, &no_progress).unwrap();
    }
    let json = r#"{"Mode":802,"Ranges":[{"Type":900,"Jobs":1}]}"#;
    let policy: RetentionPolicy = serde_json::from_str(json).unwrap();
    let dry = halley_vault::forget::apply_retention(&repo, &policy, None, now(), true).unwrap();
    assert_eq!(dry.forgotten.len(), 3);
    assert_eq!(repo.snapshots().unwrap().len(), 5);
    let out =
        halley_vault::forget::apply_retention(&repo, &policy, Some("a"), now(), false).unwrap();
    assert_eq!(out.forgotten.len(), 2);
    let left: Vec<(String, i64)> = repo
        .snapshots()
        .unwrap()
        .into_iter()
        .map(|s| (s.snapshot.source, s.snapshot.time))
        .collect();
    assert_eq!(
        left,
        vec![
            ("b".to_string(), t(2026, 11, 1, 0)),
            ("b".to_string(), t(2026, 11, 2, 0)),
            ("a".to_string(), t(2026, 11, 3, 0)),
        ]
    );
}
