//! When a `ScheduleConfig` fires. `SecondsPast` counts from the start of the
//! period in the schedule's time zone: after :00 (hourly), 00:00 (daily),
//! Sunday 00:00 (weekly), the 1st at 00:00 (monthly), 1 January 00:00
//! (yearly); for `SCHEDULE_FREQUENCY_PERIODIC` it is the period, shifted by
//! `Offset` from the Unix epoch; for `SCHEDULE_FREQUENCY_ONCEONLY` a Unix time.
//! `RestrictDays` skips occurrences on days not selected.

use halley_api::constants::*;
use halley_api::types::ScheduleConfig;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan, Zoned};

/// Whether the schedule has an occurrence in `(after, until]` (Unix seconds).
pub fn fires_between(schedule: &ScheduleConfig, tz: &TimeZone, after: i64, until: i64) -> bool {
    latest_at_or_before(schedule, tz, until).is_some_and(|at| at > after)
}

/// The schedule's latest occurrence at or before `until`.
fn latest_at_or_before(schedule: &ScheduleConfig, tz: &TimeZone, until: i64) -> Option<i64> {
    let past = schedule.seconds_past as i64;
    let occurrence = match schedule.frequency_type {
        SCHEDULE_FREQUENCY_ONCEONLY => return (past <= until).then_some(past),
        SCHEDULE_FREQUENCY_PERIODIC => {
            if past <= 0 {
                return None;
            }
            let offset = schedule.offset;
            let at = (until - offset).div_euclid(past) * past + offset;
            Timestamp::from_second(at).ok()?.to_zoned(tz.clone())
        }
        frequency => {
            let now = Timestamp::from_second(until).ok()?.to_zoned(tz.clone());
            let (start, period): (Zoned, Span) = match frequency {
                SCHEDULE_FREQUENCY_HOURLY => (
                    now.start_of_day()
                        .ok()?
                        .checked_add((now.hour() as i64).hours())
                        .ok()?,
                    1.hour(),
                ),
                SCHEDULE_FREQUENCY_DAILY => (now.start_of_day().ok()?, 1.day()),
                SCHEDULE_FREQUENCY_WEEKLY => {
                    let back = now.weekday().to_sunday_zero_offset() as i64;
                    (
                        now.start_of_day().ok()?.checked_sub(back.days()).ok()?,
                        1.week(),
                    )
                }
                SCHEDULE_FREQUENCY_MONTHLY => {
                    (now.first_of_month().ok()?.start_of_day().ok()?, 1.month())
                }
                SCHEDULE_FREQUENCY_YEARLY => {
                    (now.first_of_year().ok()?.start_of_day().ok()?, 1.year())
                }
                _ => return None,
            };
            let mut at = start.checked_add(past.seconds()).ok()?;
            if at.timestamp().as_second() > until {
                at = start
                    .checked_sub(period)
                    .ok()?
                    .checked_add(past.seconds())
                    .ok()?;
            }
            at
        }
    };
    if schedule.restrict_days && !day_selected(schedule, occurrence.weekday()) {
        return None;
    }
    Some(occurrence.timestamp().as_second())
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
}
