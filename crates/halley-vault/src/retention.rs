//! Retention policies (`RetentionPolicy` of the API): which snapshots of one
//! source to keep. Pure functions of the snapshot times and "now"; calendar
//! days, weeks (starting on Sunday, as `WeekOffset` 0 = Sunday implies),
//! months and years are taken in UTC.
//!
//! Range kinds, as the API describes them:
//! - 900 most recent `Jobs` jobs;
//! - 901 jobs newer than `Timestamp`;
//! - 902 every job in the last `Days` + `Weeks` + `Months` + `Years`;
//! - 903 the first job of each of the last `Days` days;
//! - 905 the first job on day `MonthOffset` of each of the last `Months`
//!   months (a month without that day keeps nothing);
//! - 906 the first job on weekday `WeekOffset` of each of the last `Weeks` weeks;
//! - 911 the first job of each of the last `Years` years (`YearOffset` is not
//!   used: the public description gives it no meaning for this kind);
//! - 907/908/909/910 the last `Jobs` jobs, at most one per day/week/month/year
//!   (the newest of each period).
//!
//! Mode 801 keeps everything; 802 keeps only what some range keeps. Any other
//! mode keeps everything, because deleting on a misunderstanding cannot be undone.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use halley_api::constants::*;
use halley_api::types::{RetentionPolicy, RetentionRange};

/// One job (snapshot) as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job<K> {
    /// Caller's key (a snapshot id).
    pub key: K,
    /// Start time, Unix seconds.
    pub time: i64,
}

const DAY: i64 = 86_400;

fn count(v: i64) -> i64 {
    v.clamp(0, RETENTIONRANGE_MAXINT)
}

fn date_of(t: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn day_number(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// Weeks counted from a Sunday.
fn week_number(t: i64) -> i64 {
    // 1970-01-01 was a Thursday; shifting by 4 days makes weeks start on Sunday.
    (day_number(t) + 4).div_euclid(7)
}

fn month_number(t: i64) -> i64 {
    let d = date_of(t);
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

fn year_number(t: i64) -> i64 {
    i64::from(date_of(t).year())
}

/// The keys a policy keeps; `jobs` in any order.
pub fn kept<K: Copy + Ord>(policy: &RetentionPolicy, jobs: &[Job<K>], now: i64) -> BTreeSet<K> {
    if policy.mode != RETENTIONMODE_DELETE_EXCEPT {
        return jobs.iter().map(|j| j.key).collect();
    }
    let mut sorted = jobs.to_vec();
    sorted.sort_by_key(|j| (j.time, j.key));
    let mut keep = BTreeSet::new();
    for range in &policy.ranges {
        keep.extend(kept_by_range(range, &sorted, now));
    }
    keep
}

/// The keys one range keeps; `sorted` oldest first.
pub fn kept_by_range<K: Copy + Ord>(r: &RetentionRange, sorted: &[Job<K>], now: i64) -> Vec<K> {
    let newest_first = || sorted.iter().rev();
    match r.r#type {
        RETENTIONRANGE_MOST_RECENT_X_JOBS => newest_first()
            .take(count(r.jobs) as usize)
            .map(|j| j.key)
            .collect(),
        RETENTIONRANGE_NEWER_THAN_X => sorted
            .iter()
            .filter(|j| j.time > r.timestamp)
            .map(|j| j.key)
            .collect(),
        RETENTIONRANGE_JOBS_SINCE => {
            let cutoff = jobs_since_cutoff(r, now);
            sorted
                .iter()
                .filter(|j| j.time >= cutoff)
                .map(|j| j.key)
                .collect()
        }
        RETENTIONRANGE_FIRST_JOB_FOR_EACH_LAST_X_DAYS => {
            let today = day_number(now);
            let first_day = today - count(r.days) + 1;
            first_per_period(sorted, day_number, |d| d >= first_day && d <= today)
        }
        RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_MONTHS => {
            let this_month = month_number(now);
            let first = this_month - count(r.months) + 1;
            let day = r.month_offset;
            sorted
                .iter()
                .filter(|j| {
                    let m = month_number(j.time);
                    m >= first && m <= this_month && i64::from(date_of(j.time).day()) == day
                })
                .fold(Vec::<(i64, K)>::new(), |mut acc, j| {
                    let m = month_number(j.time);
                    if acc.last().map(|(lm, _)| *lm) != Some(m) {
                        acc.push((m, j.key));
                    }
                    acc
                })
                .into_iter()
                .map(|(_, k)| k)
                .collect()
        }
        RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_WEEKS => {
            let this_week = week_number(now);
            let first = this_week - count(r.weeks) + 1;
            let weekday = r.week_offset;
            sorted
                .iter()
                .filter(|j| {
                    let w = week_number(j.time);
                    w >= first
                        && w <= this_week
                        && i64::from(date_of(j.time).weekday().num_days_from_sunday()) == weekday
                })
                .fold(Vec::<(i64, K)>::new(), |mut acc, j| {
                    let w = week_number(j.time);
                    if acc.last().map(|(lw, _)| *lw) != Some(w) {
                        acc.push((w, j.key));
                    }
                    acc
                })
                .into_iter()
                .map(|(_, k)| k)
                .collect()
        }
        RETENTIONRANGE_FIRST_JOB_FOR_LAST_X_YEARS => {
            let this_year = year_number(now);
            let first = this_year - count(r.years) + 1;
            first_per_period(sorted, year_number, |y| y >= first && y <= this_year)
        }
        RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_DAY => last_one_per(sorted, r.jobs, day_number),
        RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_WEEK => {
            last_one_per(sorted, r.jobs, week_number)
        }
        RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_MONTH => {
            last_one_per(sorted, r.jobs, month_number)
        }
        RETENTIONRANGE_LAST_X_BACKUPS_ONE_FOR_EACH_YEAR => {
            last_one_per(sorted, r.jobs, year_number)
        }
        // 904 is reserved and unknown kinds keep nothing by themselves; the
        // mode check above already keeps everything for unknown modes.
        _ => vec![],
    }
}

fn jobs_since_cutoff(r: &RetentionRange, now: i64) -> i64 {
    let secs = now
        .saturating_sub(count(r.days).saturating_mul(DAY))
        .saturating_sub(count(r.weeks).saturating_mul(7 * DAY));
    let months = count(r.months).saturating_add(count(r.years).saturating_mul(12));
    let Some(t) = DateTime::<Utc>::from_timestamp(secs, 0) else {
        return i64::MIN;
    };
    u32::try_from(months)
        .ok()
        .and_then(|m| t.checked_sub_months(Months::new(m)))
        .map(|t| t.timestamp())
        .unwrap_or(i64::MIN)
}

fn first_per_period<K: Copy>(
    sorted: &[Job<K>],
    period: fn(i64) -> i64,
    wanted: impl Fn(i64) -> bool,
) -> Vec<K> {
    let mut out = Vec::new();
    let mut last = None;
    for j in sorted {
        let p = period(j.time);
        if wanted(p) && last != Some(p) {
            out.push(j.key);
            last = Some(p);
        }
    }
    out
}

fn last_one_per<K: Copy>(sorted: &[Job<K>], jobs: i64, period: fn(i64) -> i64) -> Vec<K> {
    let mut out = Vec::new();
    let mut last = None;
    for j in sorted.iter().rev() {
        if out.len() as i64 >= count(jobs) {
            break;
        }
        let p = period(j.time);
        if last != Some(p) {
            out.push(j.key);
            last = Some(p);
        }
    }
    out
}
