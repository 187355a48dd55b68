//! `meta/send-test-email` and `bulletin/submit`.

use halley_api::types::{CometAPIResponseMessage, EmailOptions};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::{email, secrets};

pub async fn send_test(call: Call) -> ApiResult<Reply> {
    let mut options: EmailOptions = call.params.json("EmailOptions")?;
    // The settings page sends back the obscured password it was shown.
    secrets::restore_email(&mut options, &super::settings::stored_email(&call)?);
    let recipient = call.params.non_empty("Recipient")?;
    let brand = call.state.config.get().branding.brand_name.clone();
    email::send(
        &options,
        recipient,
        &format!("{brand}: test email"),
        &format!("This is a test email from {brand}. Your email settings work."),
    )
    .await
    .map_err(|why| ApiError::new(why.status(), format!("The test email was not sent: {why}")))?;
    Ok(Reply::ok())
}

/// Emails `Subject`/`Content` to every address of every account in the
/// caller's scope.
pub async fn bulletin(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let subject = call.params.non_empty("Subject")?;
    let content = call.params.str("Content")?;
    let config = call.state.config.get();
    let tenant = config
        .organizations
        .get(admin.organization_id())
        .map(|org| &org.email);
    let options = email::effective(&config.email, tenant);
    let mut sent = 0;
    let mut failures = Vec::new();
    for record in call.state.store.user_list_full(&admin.scope()).await? {
        let profile = crate::service::users::parse_record(&record)?;
        for address in &profile.emails {
            match email::send(&options, address, subject, content).await {
                Ok(()) => sent += 1,
                Err(why) => failures.push((address.clone(), why)),
            }
        }
    }
    if !failures.is_empty() {
        let status = email::EmailError::batch_status(failures.iter().map(|(_, why)| why));
        let listed: Vec<String> = failures
            .iter()
            .map(|(address, why)| format!("{address}: {why}"))
            .collect();
        return Err(ApiError::new(
            status,
            format!("Sent {sent}; failed: {}", listed.join("; ")),
        ));
    }
    Ok(Reply::json(&CometAPIResponseMessage::new(
        200,
        format!("Sent to {sent} addresses"),
    )))
}
