//! When a `ScheduleConfig` fires, in the schedule's time zone.
//!
//! - `SecondsPast` counts from the start of the period: :00 (hourly), 00:00
//!   (daily), Sunday 00:00 (weekly), the 1st at 00:00 (monthly), 1 January
//!   00:00 (yearly). For `SCHEDULE_FREQUENCY_PERIODIC` it is the period,
//!   shifted by `Offset` from the Unix epoch; for `SCHEDULE_FREQUENCY_ONCEONLY`
//!   a Unix time.
//! - `SelectedDay` and `SelectedMonth` are not documented by Comet; Halley
//!   reads them so: a monthly period starts at 00:00 on `SelectedDay` (1–31)
//!   of each month instead of the 1st, and a yearly one at 00:00 on
//!   `SelectedDay` (1–31, else the 1st) of `SelectedMonth` (1–12) instead of
//!   1 January. A day past the month's end means its last day (31 is 30 April
//!   and 28 or 29 February). 0 or a value out of range means not set;
//!   `SelectedDay` alone does nothing for yearly schedules.
//! - `RestrictDays` skips occurrences on days (of their local date) not in
//!   `DaysSelect`.
//! - `RestrictRuntime` skips occurrences whose local time of day, in whole
//!   minutes, is outside `FromTime`..=`ToTime`; when `FromTime` is later than
//!   `ToTime` the window wraps midnight (22:00–06:00).
//!
//! With a restriction, the latest occurrence may be skipped while an earlier
//! one counts, so `fires_between` walks back through the window. It searches
//! only the first `MAX_OCCURRENCES` spacings (the period, or an hour for the
//! calendar schedules) after `after`: about 68 minutes for a 1-second period,
//! 170 days otherwise. That bounds the work and keeps the answer monotone in
//! `until`, which the server's bisection for the first occurrence relies on.

use halley_api::constants::*;
use halley_api::types::{HourSchedConfig, ScheduleConfig};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

/// How many occurrences a restricted schedule's search may cover.
const MAX_OCCURRENCES: i64 = 4096;

/// Whether the schedule has an occurrence in `(after, until]` (Unix seconds)
/// that its restrictions let run.
pub fn fires_between(schedule: &ScheduleConfig, tz: &TimeZone, after: i64, until: i64) -> bool {
    let restricted = schedule.restrict_days || schedule.restrict_runtime;
    let mut before = until;
    if restricted {
        // Only the first MAX_OCCURRENCES occurrences after `after` (see the
        // module doc); calendar periods are at least an hour apart.
        let spacing = match schedule.frequency_type {
            SCHEDULE_FREQUENCY_PERIODIC => i64::try_from(schedule.seconds_past).unwrap_or(i64::MAX),
            _ => 3600,
        };
        before = before.min(after.saturating_add(spacing.max(1).saturating_mul(MAX_OCCURRENCES)));
    }
    // Newest first; the bound is a safety net, the window above already
    // holds at most MAX_OCCURRENCES occurrences.
    for _ in 0..=MAX_OCCURRENCES {
        let Some(at) = latest_at_or_before(schedule, tz, before) else {
            return false;
        };
        let second = at.timestamp().as_second();
        if second <= after {
            return false;
        }
        if allowed(schedule, &at) {
            return true;
        }
        before = second - 1;
    }
    false
}

/// The schedule's latest occurrence at or before `until`, restrictions aside.
fn latest_at_or_before(schedule: &ScheduleConfig, tz: &TimeZone, until: i64) -> Option<Zoned> {
    let past = i64::try_from(schedule.seconds_past).ok()?;
    let zoned = |second: i64| Some(Timestamp::from_second(second).ok()?.to_zoned(tz.clone()));
    match schedule.frequency_type {
        SCHEDULE_FREQUENCY_ONCEONLY => {
            if past > until {
                return None;
            }
            zoned(past)
        }
        SCHEDULE_FREQUENCY_PERIODIC => {
            if past <= 0 {
                return None;
            }
            let offset = schedule.offset;
            let at = until.checked_sub(offset)?.div_euclid(past) * past;
            zoned(at.checked_add(offset)?)
        }
        _ => {
            let now = zoned(until)?;
            // The period of `until`'s hour, day, week, month or year may
            // start after it (a `SelectedDay` still to come) or fire after
            // it; then the one before is the latest. A third covers a
            // `SecondsPast` longer than a period.
            (0..3).find_map(|back| {
                let at = period_start(schedule, &now, back)?
                    .checked_add(SignedDuration::from_secs(past))
                    .ok()?;
                (at.timestamp().as_second() <= until).then_some(at)
            })
        }
    }
}

/// The start of the calendar period `back` periods before the one named by
/// `now`'s hour, day, week (from Sunday), month or year.
fn period_start(schedule: &ScheduleConfig, now: &Zoned, back: i16) -> Option<Zoned> {
    let date = now.date();
    let day = match schedule.frequency_type {
        SCHEDULE_FREQUENCY_HOURLY => {
            // Whole hours back, so a skipped or repeated hour at a DST
            // change is no period or its own one.
            let hour = now.with().minute(0).second(0).build().ok()?;
            return hour
                .checked_sub(SignedDuration::from_hours(back.into()))
                .ok();
        }
        SCHEDULE_FREQUENCY_DAILY => date.checked_sub(back.days()).ok()?,
        SCHEDULE_FREQUENCY_WEEKLY => {
            let sunday = date.weekday().to_sunday_zero_offset() as i16;
            date.checked_sub((sunday + 7 * back).days()).ok()?
        }
        SCHEDULE_FREQUENCY_MONTHLY => {
            let month = date.first_of_month().checked_sub(back.months()).ok()?;
            on_selected_day(month, schedule.selected_day)?
        }
        SCHEDULE_FREQUENCY_YEARLY => {
            let year = date.year().checked_sub(back)?;
            match schedule.selected_month {
                month @ 1..=12 => {
                    let month = Date::new(year, month as i8, 1).ok()?;
                    on_selected_day(month, schedule.selected_day)?
                }
                _ => Date::new(year, 1, 1).ok()?,
            }
        }
        _ => return None,
    };
    day.to_zoned(now.time_zone().clone()).ok()
}

/// `SelectedDay` in the month starting on `first`, clamped to its last day;
/// the 1st when not set.
fn on_selected_day(first: Date, selected: u64) -> Option<Date> {
    match selected {
        day @ 1..=31 => {
            let day = (day as i8).min(first.days_in_month());
            first.with().day(day).build().ok()
        }
        _ => Some(first),
    }
}

/// Whether `RestrictDays` and `RestrictRuntime` let an occurrence at `at`
/// run.
fn allowed(schedule: &ScheduleConfig, at: &Zoned) -> bool {
    if schedule.restrict_days && !day_selected(schedule, at.weekday()) {
        return false;
    }
    if schedule.restrict_runtime {
        let minute_of_day =
            |time: &HourSchedConfig| time.hour.saturating_mul(60).saturating_add(time.minutes);
        let from = minute_of_day(&schedule.from_time);
        let to = minute_of_day(&schedule.to_time);
        let minute = at.hour() as u64 * 60 + at.minute() as u64;
        let inside = if from <= to {
            from <= minute && minute <= to
        } else {
            // Wraps midnight, e.g. 22:00–06:00.
            minute >= from || minute <= to
        };
        if !inside {
            return false;
        }
    }
    true
}

fn day_selected(schedule: &ScheduleConfig, day: Weekday) -> bool {
    let days = &schedule.days_select;
    match day {
        Weekday::Sunday => days.sunday,
        Weekday::Monday => days.monday,
        Weekday::Tuesday => days.tuesday,
        Weekday::Wednesday => days.wednesday,
        Weekday::Thursday => days.thursday,
        Weekday::Friday => days.friday,
        Weekday::Saturday => days.saturday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(value: serde_json::Value) -> ScheduleConfig {
        serde_json::from_value(value).unwrap()
    }

    /// 2026-12-01 (a Tuesday) at hh:mm UTC.
    fn at(hh: i64, mm: i64) -> i64 {
        1_796_083_200 + hh * 3600 + mm * 60
    }

    /// The Unix time of a wall-clock time in `tz`.
    fn local(tz: &TimeZone, y: i16, m: i8, d: i8, hh: i8, mm: i8) -> i64 {
        jiff::civil::date(y, m, d)
            .at(hh, mm, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_second()
    }

    /// Whether the schedule fires in the second ending at `second`.
    fn fires_at(schedule: &ScheduleConfig, tz: &TimeZone, second: i64) -> bool {
        fires_between(schedule, tz, second - 1, second)
    }

    /// The server's bisection (devices/watch.rs): it needs `fires_between`
    /// monotone in `until`.
    fn first_occurrence(schedule: &ScheduleConfig, after: i64, until: i64) -> Option<i64> {
        let utc = TimeZone::UTC;
        if !fires_between(schedule, &utc, after, until) {
            return None;
        }
        let (mut low, mut high) = (after, until);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if fires_between(schedule, &utc, after, middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }

    #[test]
    fn daily_and_hourly_fire_once_per_period() {
        let utc = TimeZone::UTC;
        let daily = schedule(json!({"FrequencyType": 8011, "SecondsPast": 7200}));
        assert!(fires_between(&daily, &utc, at(1, 59), at(2, 0)));
        assert!(!fires_between(&daily, &utc, at(2, 0), at(23, 0)));
        let hourly = schedule(json!({"FrequencyType": 8012, "SecondsPast": 600}));
        assert!(fires_between(&hourly, &utc, at(5, 0), at(5, 11)));
        assert!(!fires_between(&hourly, &utc, at(5, 11), at(6, 9)));
    }

    #[test]
    fn time_zones_and_restricted_days_apply() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let daily = schedule(json!({"FrequencyType": 8011, "SecondsPast": 7200}));
        // 02:00 in Paris is 01:00 UTC in winter.
        assert!(fires_between(&daily, &paris, at(0, 59), at(1, 0)));
        let weekends = schedule(json!({"FrequencyType": 8011, "SecondsPast": 7200,
            "RestrictDays": true, "DaysSelect": {"Saturday": true, "Sunday": true}}));
        assert!(!fires_between(
            &weekends,
            &TimeZone::UTC,
            at(1, 0),
            at(3, 0)
        ));
    }

    #[test]
    fn periodic_weekly_and_once_only() {
        let utc = TimeZone::UTC;
        let periodic = schedule(json!({"FrequencyType": 8015, "SecondsPast": 900}));
        assert!(fires_between(&periodic, &utc, at(10, 14), at(10, 15)));
        assert!(!fires_between(&periodic, &utc, at(10, 15), at(10, 29)));
        // Weekly, Tuesday 03:00 = 2 days and 3 hours after Sunday 00:00.
        let weekly = schedule(json!({"FrequencyType": 8013, "SecondsPast": 2 * 86_400 + 3 * 3600}));
        assert!(fires_between(&weekly, &utc, at(2, 0), at(3, 0)));
        assert!(!fires_between(&weekly, &utc, at(3, 0), at(23, 0)));
        let once = schedule(json!({"FrequencyType": 8010, "SecondsPast": at(4, 0)}));
        assert!(fires_between(&once, &utc, at(3, 0), at(4, 30)));
        assert!(!fires_between(&once, &utc, at(4, 30), at(9, 0)));
    }

    #[test]
    fn runtime_window_limits_hourly_runs() {
        let utc = TimeZone::UTC;
        let office = schedule(json!({"FrequencyType": 8012, "SecondsPast": 0,
            "RestrictRuntime": true,
            "FromTime": {"Hour": 9, "Minutes": 0}, "ToTime": {"Hour": 17, "Minutes": 0}}));
        for hour in 9..=17 {
            assert!(fires_at(&office, &utc, at(hour, 0)), "{hour}:00");
        }
        for hour in [0, 8, 18, 23] {
            assert!(!fires_at(&office, &utc, at(hour, 0)), "{hour}:00");
        }
        // Wrapping midnight.
        let night = schedule(json!({"FrequencyType": 8012, "SecondsPast": 0,
            "RestrictRuntime": true,
            "FromTime": {"Hour": 22, "Minutes": 0}, "ToTime": {"Hour": 6, "Minutes": 0}}));
        for hour in [22, 23, 0, 1, 5, 6] {
            assert!(fires_at(&night, &utc, at(hour, 0)), "{hour}:00");
        }
        for hour in [7, 12, 21] {
            assert!(!fires_at(&night, &utc, at(hour, 0)), "{hour}:00");
        }
    }

    #[test]
    fn an_earlier_occurrence_counts_when_the_latest_is_restricted() {
        // Every 5 s, during the minute 09:00 only.
        let periodic = schedule(json!({"FrequencyType": 8015, "SecondsPast": 5,
            "RestrictRuntime": true,
            "FromTime": {"Hour": 9, "Minutes": 0}, "ToTime": {"Hour": 9, "Minutes": 0}}));
        let utc = TimeZone::UTC;
        // 09:00:45 .. 09:01:10: the latest ones (09:01:xx) are outside.
        let (after, until) = (at(9, 0) + 40, at(9, 1) + 10);
        assert!(fires_between(&periodic, &utc, after, until));
        assert_eq!(
            first_occurrence(&periodic, after, until),
            Some(at(9, 0) + 45)
        );
        assert!(!fires_between(&periodic, &utc, at(9, 1), at(9, 1) + 30));
        assert_eq!(
            first_occurrence(&periodic, at(8, 59) + 50, at(9, 0) + 20),
            Some(at(9, 0))
        );

        // Every 10 s on Mondays; 2026-12-01 00:00 is a Tuesday.
        let mondays = schedule(json!({"FrequencyType": 8015, "SecondsPast": 10,
            "RestrictDays": true, "DaysSelect": {"Monday": true}}));
        assert!(fires_between(&mondays, &utc, at(0, 0) - 30, at(0, 0) + 20));
        assert_eq!(
            first_occurrence(&mondays, at(0, 0) - 30, at(0, 0) + 20),
            Some(at(0, 0) - 20)
        );
        assert!(!fires_between(&mondays, &utc, at(0, 0) - 1, at(0, 0) + 20));
        // A huge window with a 1-second period stays bounded: only its
        // first MAX_OCCURRENCES seconds are searched (see the module doc).
        let every_second = schedule(json!({"FrequencyType": 8015, "SecondsPast": 1,
            "RestrictDays": true, "DaysSelect": {"Monday": true}}));
        assert!(!fires_between(
            &every_second,
            &utc,
            at(0, 0),
            at(0, 0) + 86_400 * 365
        ));
        assert!(fires_between(
            &every_second,
            &utc,
            at(0, 0) - 60,
            at(0, 0) + 86_400 * 365
        ));
    }

    #[test]
    fn monthly_selected_day_is_clamped_to_the_month() {
        let utc = TimeZone::UTC;
        let last = schedule(json!({"FrequencyType": 8014, "SecondsPast": 3600,
            "SelectedDay": 31}));
        assert!(fires_at(&last, &utc, local(&utc, 2026, 4, 30, 1, 0)));
        assert!(fires_at(&last, &utc, local(&utc, 2026, 5, 31, 1, 0)));
        assert!(fires_at(&last, &utc, local(&utc, 2026, 2, 28, 1, 0)));
        assert!(fires_at(&last, &utc, local(&utc, 2028, 2, 29, 1, 0)));
        assert!(!fires_at(&last, &utc, local(&utc, 2026, 5, 30, 1, 0)));
        assert!(!fires_at(&last, &utc, local(&utc, 2026, 5, 1, 1, 0)));
        // Early in May the latest one is still 30 April's.
        let (apr30, may) = (
            local(&utc, 2026, 4, 30, 0, 0),
            local(&utc, 2026, 5, 5, 0, 0),
        );
        assert!(fires_between(&last, &utc, apr30, may));
        assert!(!fires_between(&last, &utc, apr30 + 3600, may));
        // Out of range is not set: the 1st.
        let unset = schedule(json!({"FrequencyType": 8014, "SecondsPast": 0, "SelectedDay": 40}));
        assert!(fires_at(&unset, &utc, local(&utc, 2026, 5, 1, 0, 0)));
        // In Berlin (CEST), local midnight on 30 April is 22:00 UTC on the 29th.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let midnight = schedule(json!({"FrequencyType": 8014, "SecondsPast": 0,
            "SelectedDay": 31}));
        let apr30 = local(&berlin, 2026, 4, 30, 0, 0);
        assert_eq!(apr30, local(&utc, 2026, 4, 29, 22, 0));
        assert!(fires_at(&midnight, &berlin, apr30));
        assert!(!fires_at(&midnight, &utc, apr30));
    }

    #[test]
    fn yearly_selected_month_and_day() {
        let utc = TimeZone::UTC;
        let ides = schedule(json!({"FrequencyType": 8016, "SecondsPast": 0,
            "SelectedMonth": 3, "SelectedDay": 15}));
        let march15 = local(&utc, 2026, 3, 15, 0, 0);
        assert!(fires_at(&ides, &utc, march15));
        assert!(!fires_at(&ides, &utc, local(&utc, 2026, 1, 1, 0, 0)));
        assert!(!fires_at(&ides, &utc, local(&utc, 2026, 3, 1, 0, 0)));
        assert!(fires_between(
            &ides,
            &utc,
            local(&utc, 2026, 1, 1, 0, 0),
            local(&utc, 2026, 4, 1, 0, 0)
        ));
        assert!(!fires_between(
            &ides,
            &utc,
            march15,
            local(&utc, 2027, 3, 14, 23, 59)
        ));
        // SelectedMonth alone: the 1st; SelectedDay alone: 1 January.
        let march = schedule(json!({"FrequencyType": 8016, "SecondsPast": 0, "SelectedMonth": 3}));
        assert!(fires_at(&march, &utc, local(&utc, 2026, 3, 1, 0, 0)));
        let day_only =
            schedule(json!({"FrequencyType": 8016, "SecondsPast": 0, "SelectedDay": 15}));
        assert!(fires_at(&day_only, &utc, local(&utc, 2026, 1, 1, 0, 0)));
        // 30 February is the last day of February.
        let feb = schedule(json!({"FrequencyType": 8016, "SecondsPast": 0,
            "SelectedMonth": 2, "SelectedDay": 30}));
        assert!(fires_at(&feb, &utc, local(&utc, 2026, 2, 28, 0, 0)));
        // New York is on EDT (UTC-4) by 15 March 2026.
        let new_york = TimeZone::get("America/New_York").unwrap();
        let ny = local(&new_york, 2026, 3, 15, 0, 0);
        assert_eq!(ny, local(&utc, 2026, 3, 15, 4, 0));
        assert!(fires_at(&ides, &new_york, ny));
        assert!(!fires_at(&ides, &new_york, march15));
    }

    #[test]
    fn runtime_window_is_local_time() {
        // 09:00–17:00 in New York (EST, UTC-5, in December).
        let new_york = TimeZone::get("America/New_York").unwrap();
        let office = schedule(json!({"FrequencyType": 8012, "SecondsPast": 1800,
            "RestrictRuntime": true,
            "FromTime": {"Hour": 9, "Minutes": 0}, "ToTime": {"Hour": 17, "Minutes": 0}}));
        assert!(fires_at(&office, &new_york, at(14, 30)));
        assert!(fires_at(&office, &new_york, at(21, 30)));
        assert!(!fires_at(&office, &new_york, at(22, 30)));
        assert!(!fires_at(&office, &new_york, at(9, 30)));
        // Hourly across the spring DST change: 01:30 then 03:30 local.
        let hourly = schedule(json!({"FrequencyType": 8012, "SecondsPast": 1800}));
        let (before, after) = (
            local(&new_york, 2026, 3, 8, 1, 30),
            local(&new_york, 2026, 3, 8, 3, 30),
        );
        assert_eq!(after - before, 3600);
        assert!(fires_at(&hourly, &new_york, before));
        assert!(fires_at(&hourly, &new_york, after));
        assert!(!fires_between(&hourly, &new_york, before, after - 1));
    }
}
