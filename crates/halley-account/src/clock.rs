//! Time as the portal stores it (Unix seconds) and shows it (UTC text in the
//! API guide's `2020-04-20 15:02:10` shape).

use chrono::{DateTime, NaiveDate, Utc};

pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// `YYYY-MM-DD HH:MM:SS`, UTC, as in the API guide's hosted-instance sample.
pub fn format_timestamp(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The UTC day holding `seconds`.
pub fn day_of(seconds: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .date_naive()
}

/// Every UTC day from the one holding `start` to the one holding `end`, both included.
pub fn days_between(start: i64, end: i64) -> Vec<NaiveDate> {
    let (first, last) = (day_of(start), day_of(end));
    first.iter_days().take_while(|day| *day <= last).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_seed() {
        assert_eq!(format_timestamp(1_587_394_930), "2020-04-20 15:02:10");
    }

    #[test]
    fn day_ranges_include_both_ends() {
        let day = 86_400;
        assert_eq!(days_between(10, 20).len(), 1);
        assert_eq!(days_between(day - 1, day).len(), 2);
        assert_eq!(days_between(0, 3 * day + 5).len(), 4);
    }
}
