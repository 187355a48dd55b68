//! Outgoing email through SMTP (`EmailOptions`): `Mode` `smtp` uses STARTTLS
//! (plain only with `SMTPAllowUnencrypted`), `smtp-ssl` implicit TLS;
//! `builtin` (direct MX delivery) is not offered.

use halley_api::types::EmailOptions;
use lettre::message::{header::ContentType, Mailbox, MessageBuilder, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmailError {
    /// The email settings cannot work as they are.
    #[error("{0}")]
    Settings(String),
    /// The recipient is not an address.
    #[error("{0}")]
    Recipient(String),
    /// The SMTP server could not be reached or refused the message.
    #[error("{0}")]
    Delivery(String),
}

impl EmailError {
    /// The `Status` of the answer: the caller's input is at fault (400), or
    /// the delivery failed (500).
    pub fn status(&self) -> i64 {
        match self {
            EmailError::Settings(_) | EmailError::Recipient(_) => 400,
            EmailError::Delivery(_) => 500,
        }
    }

    /// The answer's `Status` when some messages of a batch failed.
    pub fn batch_status<'a>(failures: impl IntoIterator<Item = &'a EmailError>) -> i64 {
        failures
            .into_iter()
            .map(EmailError::status)
            .max()
            .unwrap_or(500)
    }
}

/// The options a tenant sends with: the top level's transport, the tenant's
/// sender when it names one.
pub fn effective(top: &EmailOptions, tenant: Option<&EmailOptions>) -> EmailOptions {
    let mut options = top.clone();
    if let Some(tenant) = tenant {
        if !tenant.from_email.is_empty() {
            options.from_email = tenant.from_email.clone();
            options.from_name = tenant.from_name.clone();
        }
    }
    options
}

fn transport(options: &EmailOptions) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    settings_transport(options).map_err(EmailError::Settings)
}

fn settings_transport(
    options: &EmailOptions,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let host = options.smtp_host.as_str();
    if host.is_empty() {
        return Err("SMTPHost is empty".into());
    }
    let tls_parameters = || {
        TlsParameters::builder(host.to_string())
            .dangerous_accept_invalid_certs(options.smtp_allow_invalid_certificate)
            .dangerous_accept_invalid_hostnames(options.smtp_allow_invalid_certificate)
            .build()
            .map_err(|e| format!("TLS settings: {e}"))
    };
    let (tls, default_port) = match options.mode.as_str() {
        "smtp" if options.smtp_allow_unencrypted => (Tls::Opportunistic(tls_parameters()?), 587),
        "smtp" => (Tls::Required(tls_parameters()?), 587),
        "smtp-ssl" => (Tls::Wrapper(tls_parameters()?), 465),
        "builtin" => {
            return Err(
                "Mode builtin (direct delivery) is not supported; use smtp or smtp-ssl".into(),
            )
        }
        "" | "disabled" => return Err("email is not configured (Mode is empty or disabled)".into()),
        other => return Err(format!("unknown Mode '{other}' (use smtp or smtp-ssl)")),
    };
    let port = match options.smtp_port {
        0 => default_port,
        port => u16::try_from(port).map_err(|_| format!("SMTPPort {port} is not a port"))?,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(std::time::Duration::from_secs(30)));
    if !options.smtp_username.is_empty() {
        builder = builder.credentials(Credentials::new(
            options.smtp_username.clone(),
            options.smtp_password.clone(),
        ));
    }
    if !options.smtp_custom_ehlo.is_empty() {
        builder = builder.hello_name(ClientId::Domain(options.smtp_custom_ehlo.clone()));
    }
    Ok(builder.build())
}

/// Sends one plain-text message.
pub async fn send(
    options: &EmailOptions,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), EmailError> {
    deliver(options, to, subject, |builder| {
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
    })
    .await
}

/// Sends a message with plain-text and HTML forms of one content.
pub async fn send_alternative(
    options: &EmailOptions,
    to: &str,
    subject: &str,
    plain: &str,
    html: &str,
) -> Result<(), EmailError> {
    deliver(options, to, subject, |builder| {
        builder.multipart(MultiPart::alternative_plain_html(
            plain.to_string(),
            html.to_string(),
        ))
    })
    .await
}

async fn deliver(
    options: &EmailOptions,
    to: &str,
    subject: &str,
    content: impl FnOnce(MessageBuilder) -> Result<Message, lettre::error::Error>,
) -> Result<(), EmailError> {
    let transport = transport(options)?;
    let from = Mailbox::new(
        (!options.from_name.is_empty()).then(|| options.from_name.clone()),
        options.from_email.parse().map_err(|e| {
            EmailError::Settings(format!("FromEmail '{}': {e}", options.from_email))
        })?,
    );
    let to: Mailbox = to
        .parse()
        .map_err(|e| EmailError::Recipient(format!("recipient '{to}': {e}")))?;
    let message = content(Message::builder().from(from).to(to).subject(subject))
        .map_err(|e| EmailError::Settings(e.to_string()))?;
    transport
        .send(message)
        .await
        .map_err(|e| EmailError::Delivery(format!("SMTP delivery failed: {e}")))?;
    Ok(())
}
