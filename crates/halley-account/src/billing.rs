//! The billing model: every active service (a serial that is not archived, a
//! hosted instance that is not deleted) costs its configured daily price for
//! each UTC day on which it was active, the day it started and the day it
//! ended included. A billing pass writes the charges that are due as
//! deductions; one per service per day, so passes can run any number of times.

use crate::clock;
use crate::store::{Deduction, Store, StoreResult};

pub const SERVICE_LICENSE: &str = "license";
pub const SERVICE_HOSTED: &str = "hosted_server";

/// Daily prices, in hundredths of the account's currency unit.
#[derive(Debug, Clone, Copy)]
pub struct Prices {
    pub license_cents_per_day: i64,
    pub hosted_cents_per_day: i64,
}

/// Reads a price like `1`, `1.5` or `0.25` as hundredths.
pub fn parse_price(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return Err(format!(
            "'{text}' is not a price (use a number with at most two decimals, e.g. 1.50)"
        ));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("'{text}' is too large"))?;
    let fraction: i64 = format!("{fraction:0<2}").parse().unwrap_or(0);
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// `150` -> `1.50`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// Writes every charge due up to `now`, for every account.
pub async fn charge_due(store: &dyn Store, prices: Prices, now: i64) -> StoreResult<()> {
    for license in store.license_list(None).await? {
        let end = license.archived_at.unwrap_or(now).min(now);
        for day in clock::days_between(license.created_at, end) {
            store
                .deduction_add(&Deduction {
                    account_id: license.account_id,
                    service_type: SERVICE_LICENSE.into(),
                    service_id: license.serial.clone(),
                    day: day.to_string(),
                    description: format!("Server licence {}", license.serial),
                    amount_cents: prices.license_cents_per_day,
                    charged_at: now,
                })
                .await?;
        }
    }
    let mut offset = 0;
    loop {
        let page = store.hosted_list(None, offset, 500).await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for server in page {
            let end = server.deleted_at.unwrap_or(now).min(now);
            for day in clock::days_between(server.created_at, end) {
                store
                    .deduction_add(&Deduction {
                        account_id: server.account_id,
                        service_type: SERVICE_HOSTED.into(),
                        service_id: server.id.to_string(),
                        day: day.to_string(),
                        description: format!(
                            "Hosted server {} ({})",
                            server.server_name, server.subdomain
                        ),
                        amount_cents: prices.hosted_cents_per_day,
                        charged_at: now,
                    })
                    .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_to_hundredths() {
        assert_eq!(parse_price("1"), Ok(100));
        assert_eq!(parse_price("1.5"), Ok(150));
        assert_eq!(parse_price("0.25"), Ok(25));
        assert!(parse_price("-1").is_err());
        assert!(parse_price("1.234").is_err());
        assert!(parse_price("abc").is_err());
        assert_eq!(format_cents(150), "1.50");
        assert_eq!(format_cents(5), "0.05");
    }
}
