//! `report/active_services` (what is being charged now) and
//! `report/billing_history` (every deduction), as CSV, JSON or XLSX.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use crate::auth::authenticate;
use crate::billing::{charge_due, SERVICE_HOSTED, SERVICE_LICENSE};
use crate::clock::{format_timestamp, now};
use crate::http::{ApiError, Params};
use crate::report::{render, Cell, ReportFormat, Table};
use crate::state::AppState;
use crate::store::Account;

pub async fn active_services(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let (account, format) = prepare(&state, &headers, &params).await?;
    let mut rows = Vec::new();
    for license in state.store.license_list(Some(account.id)).await? {
        if license.archived_at.is_some() {
            continue;
        }
        rows.push(vec![
            Cell::Text(SERVICE_LICENSE.into()),
            Cell::Text(license.serial.clone()),
            Cell::Text(match &license.server_id {
                Some(server) => format!("Server licence, bound to {server}"),
                None => "Server licence, not activated".into(),
            }),
            Cell::Text(format_timestamp(license.created_at)),
            Cell::Money(state.prices.license_cents_per_day),
        ]);
    }
    let mut offset = 0;
    loop {
        let page = state
            .store
            .hosted_list(Some(account.id), offset, 500)
            .await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for server in page.into_iter().filter(|s| s.deleted_at.is_none()) {
            rows.push(vec![
                Cell::Text(SERVICE_HOSTED.into()),
                Cell::Text(server.id.to_string()),
                Cell::Text(format!(
                    "Hosted server {} ({}.{}, {})",
                    server.server_name, server.subdomain, state.dns_suffix, server.region
                )),
                Cell::Text(format_timestamp(server.created_at)),
                Cell::Money(state.prices.hosted_cents_per_day),
            ]);
        }
    }
    let table = Table {
        sheet: "Active services",
        columns: vec![
            "service_type",
            "service_id",
            "description",
            "started_at",
            "daily_price",
        ],
        rows,
    };
    answer(&table, format, "active_services")
}

pub async fn billing_history(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let (account, format) = prepare(&state, &headers, &params).await?;
    let rows = state
        .store
        .deduction_list(account.id)
        .await?
        .into_iter()
        .map(|d| {
            vec![
                Cell::Text(d.day),
                Cell::Text(d.service_type),
                Cell::Text(d.service_id),
                Cell::Text(d.description),
                Cell::Money(d.amount_cents),
            ]
        })
        .collect();
    let table = Table {
        sheet: "Credit usage",
        columns: vec![
            "date",
            "service_type",
            "service_id",
            "description",
            "amount",
        ],
        rows,
    };
    answer(&table, format, "billing_history")
}

/// Authenticates, reads `format`, and brings the charges up to date so both
/// reports reflect this moment.
async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(Account, ReportFormat), ApiError> {
    let account = authenticate(state, headers, params).await?;
    let format = ReportFormat::parse(params.required("format")?)
        .ok_or_else(|| ApiError::invalid_param("format", "use csv, json or xlsx"))?;
    charge_due(&*state.store, state.prices, now()).await?;
    Ok((account, format))
}

fn answer(table: &Table, format: ReportFormat, name: &str) -> Result<Response, ApiError> {
    let body = render(table, format)?;
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
