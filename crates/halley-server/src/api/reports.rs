//! Email reports: `preview-user-email-report` (what an account's report
//! would say, without sending it) and `meta/send-test-report` (an
//! administrator's report, sent now to its recipients).
//!
//! An account's report shows times in its `LocalTimezone`; an administrator's
//! in the option's `LocalTimezone`. A top-level administrator's test report
//! covers every account, or those of `TargetOrganization`; a tenant
//! administrator's covers its tenant.

use std::collections::BTreeMap;

use halley_api::constants::EMAILREPORTTYPE_IMMEDIATE;
use halley_api::types::{
    BackupJobDetail, CometAPIResponseMessage, EmailOptions, EmailReportConfig,
    EmailReportGeneratedPreview, EmailReportingOption, UserProfileConfig,
};

use super::scope;
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::reports::{self, ReportJob};
use crate::service::{email, users};
use crate::state::AppState;
use crate::store::{JobQuery, JobWhen};
use crate::util::now_unix;

pub async fn preview_user(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (profile, _) =
        users::load(&call.state, &admin.scope(), call.params.str("TargetUser")?).await?;
    let config: EmailReportConfig = call.params.json("EmailReportConfig")?;
    let to = match call
        .params
        .opt_str("EmailAddress")
        .filter(|a| !a.is_empty())
    {
        Some(address) => vec![address.to_string()],
        None => profile.emails.clone(),
    };
    let tz = reports::time_zone(&profile.local_timezone)
        .map_err(|why| ApiError::invalid_param("TargetUser", why))?;
    let since = since(&config).map_err(|why| ApiError::invalid_param("EmailReportConfig", why))?;
    // The account's jobs: its name within its own tenant.
    let account = scope::tenant_scope(&call, &profile.organization_id)?;
    let details = jobs(&call.state, &account, Some(profile.username.clone()), since).await?;
    let named = details
        .into_iter()
        .map(|detail| ReportJob::named_by(detail, Some(&profile)))
        .collect();
    let selected = reports::select(&config, named)
        .map_err(|why| ApiError::invalid_param("EmailReportConfig", why))?;
    let brand = call.state.config.get().branding.brand_name.clone();
    let who = if profile.account_name.is_empty() {
        &profile.username
    } else {
        &profile.account_name
    };
    let rendered = reports::render(&brand, who, &config, &selected, &tz);
    let options = options_for(&call.state, &profile.organization_id);
    Ok(Reply::json(&EmailReportGeneratedPreview {
        status: 200,
        message: "OK".into(),
        from: sender(&options),
        to,
        email_subject: rendered.subject,
        email_body_html: rendered.html,
        email_body_plaintext: rendered.plain,
        ..Default::default()
    }))
}

pub async fn send_test(call: Call) -> ApiResult<Reply> {
    let option: EmailReportingOption = call.params.json("EmailReportingOption")?;
    if option.recipients.iter().all(|r| r.trim().is_empty()) {
        return Err(ApiError::invalid_param(
            "EmailReportingOption",
            "Recipients is empty: name at least one address",
        ));
    }
    let invalid = |why| ApiError::invalid_param("EmailReportingOption", why);
    let tz = reports::time_zone(&option.local_timezone).map_err(invalid)?;
    let config = &option.email_report_config;
    let since = since(config).map_err(invalid)?;
    let scope = scope::list_scope(&call)?;
    let details = jobs(&call.state, &scope, None, since).await?;
    let profiles = profiles(&call.state, &scope).await?;
    let named = details
        .into_iter()
        .map(|detail| {
            let profile = profiles.get(&detail.username);
            ReportJob::named_by(detail, profile)
        })
        .collect();
    let selected = reports::select(config, named).map_err(invalid)?;
    let config_now = call.state.config.get();
    let who = match scope.tenant() {
        None => "all accounts".to_string(),
        Some(org) => match config_now.organizations.get(org) {
            Some(tenant) if !tenant.name.is_empty() => format!("the accounts of {}", tenant.name),
            _ => "the accounts of this organization".to_string(),
        },
    };
    let rendered = reports::render(
        &config_now.branding.brand_name,
        &who,
        config,
        &selected,
        &tz,
    );
    let options = options_for(&call.state, scope.tenant().unwrap_or(""));
    let mut failures = Vec::new();
    for recipient in option.recipients.iter().filter(|r| !r.trim().is_empty()) {
        if let Err(why) = email::send_alternative(
            &options,
            recipient,
            &rendered.subject,
            &rendered.plain,
            &rendered.html,
        )
        .await
        {
            failures.push((recipient, why));
        }
    }
    if !failures.is_empty() {
        let status = email::EmailError::batch_status(failures.iter().map(|(_, why)| why));
        let listed: Vec<String> = failures
            .iter()
            .map(|(recipient, why)| format!("{recipient}: {why}"))
            .collect();
        return Err(ApiError::new(
            status,
            format!("The test report was not sent: {}", listed.join("; ")),
        ));
    }
    Ok(Reply::json(&CometAPIResponseMessage::new(
        200,
        format!("Sent a report of {} jobs", selected.len()),
    )))
}

/// Where a report's jobs start: one time span back, or (for the immediate
/// report, which shows the newest job) the whole history.
fn since(config: &EmailReportConfig) -> Result<i64, String> {
    if config.report_type == EMAILREPORTTYPE_IMMEDIATE {
        return Ok(0);
    }
    Ok(now_unix() - reports::span_seconds(&config.time_span)?)
}

/// The jobs of `scope` (of `username` alone, when given) since `since`.
async fn jobs(
    state: &AppState,
    scope: &TenantScope,
    username: Option<String>,
    since: i64,
) -> ApiResult<Vec<BackupJobDetail>> {
    let query = JobQuery {
        username,
        when: JobWhen::StartedSince(since),
        ..Default::default()
    };
    state
        .store
        .jobs_find(scope, &query)
        .await?
        .iter()
        .map(super::jobs::detail)
        .collect()
}

async fn profiles(
    state: &AppState,
    scope: &TenantScope,
) -> ApiResult<BTreeMap<String, UserProfileConfig>> {
    state
        .store
        .user_list_full(scope)
        .await?
        .iter()
        .map(|record| Ok((record.username.clone(), users::parse_record(record)?)))
        .collect()
}

fn options_for(state: &AppState, organization: &str) -> EmailOptions {
    let config = state.config.get();
    let tenant = config.organizations.get(organization).map(|org| &org.email);
    email::effective(&config.email, tenant)
}

fn sender(options: &EmailOptions) -> String {
    if options.from_name.is_empty() {
        options.from_email.clone()
    } else {
        format!("{} <{}>", options.from_name, options.from_email)
    }
}
