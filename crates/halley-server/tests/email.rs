//! Email through a real SMTP server on loopback (Python's standard `smtpd`),
//! reading the messages that arrived.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

/// Writes every received message to DIR/N.eml.
const SMTP_SERVER: &str = r#"
import asyncore, os, smtpd, sys
class Saving(smtpd.SMTPServer):
    count = 0
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Saving.count += 1
        body = data.decode() if isinstance(data, bytes) else data
        with open(os.path.join(sys.argv[2], "%d.eml" % Saving.count), "w") as f:
            f.write("X-Envelope-To: %s\n%s" % (",".join(rcpttos), body))
Saving(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
print("ready", flush=True)
asyncore.loop()
"#;

struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Option<SmtpServer> {
        let available = Command::new("python3")
            .args(["-W", "ignore", "-c", "import smtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var_os("CI").is_none(),
                "python3 with smtpd is required in CI"
            );
            eprintln!("SKIPPED: python3's smtpd is not available");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args(["-W", "ignore", "-c", SMTP_SERVER, &port.to_string()])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        Some(SmtpServer { child, port, dir })
    }

    async fn messages(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if files.len() >= count {
                files.sort();
                return files
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{count} messages did not arrive");
    }

    fn options(&self) -> serde_json::Value {
        json!({"Mode": "smtp", "SMTPHost": "127.0.0.1", "SMTPPort": self.port, "SMTPAllowUnencrypted": true,
               "FromEmail": "backup@example.com", "FromName": "Backup Desk"})
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn test_email_arrives() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let server = Server::start();
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/meta/send-test-email",
        &[
            ("EmailOptions", &smtp.options().to_string()),
            ("Recipient", "ops@example.com"),
        ],
    )
    .await;
    assert_eq!(answer.api_status(), 200, "{}", answer.message());
    let message = &smtp.messages(1).await[0];
    assert!(
        message.contains("X-Envelope-To: ops@example.com"),
        "{message}"
    );
    assert!(message.contains("Backup Desk"));
    assert!(message.contains("Subject: Halley: test email"));

    // Encryption is required unless allowed off: this server offers none.
    let mut strict = smtp.options();
    strict["SMTPAllowUnencrypted"] = json!(false);
    let refused = admin_post(
        &server.url,
        "/api/v1/admin/meta/send-test-email",
        &[
            ("EmailOptions", &strict.to_string()),
            ("Recipient", "ops@example.com"),
        ],
    )
    .await;
    assert_eq!(refused.api_status(), 500);
    assert!(refused.message().contains("not sent"));
    let builtin = admin_post(
        &server.url,
        "/api/v1/admin/meta/send-test-email",
        &[
            (
                "EmailOptions",
                &json!({"Mode": "builtin", "SMTPHost": "x"}).to_string(),
            ),
            ("Recipient", "ops@example.com"),
        ],
    )
    .await;
    assert!(builtin.message().contains("not supported"));
}

/// A server whose email options send through `smtp`.
async fn server_sending_to(smtp: &SmtpServer) -> Server {
    let server = Server::start();
    admin_post(
        &server.url,
        "/api/v1/admin/meta/email-options/set",
        &[("EmailOptions", &smtp.options().to_string())],
    )
    .await;
    server
}

#[tokio::test]
async fn bulletins_reach_every_account_address() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let server = server_sending_to(&smtp).await;
    let admin = server.admin();
    for (user, address) in [("amy", "amy@example.com"), ("bo", "bo@example.com")] {
        admin
            .admin_add_user(user, "password1", None, None)
            .await
            .unwrap();
        let mut profile = admin.admin_get_user_profile(user).await.unwrap();
        profile.emails = vec![address.into()];
        admin.admin_set_user_profile(user, &profile).await.unwrap();
    }
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/bulletin/submit",
        &[
            ("Subject", "Planned maintenance"),
            ("Content", "Backups pause on Sunday 02:00 UTC."),
        ],
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"Status": 200, "Message": "Sent to 2 addresses"})
    );
    let messages = smtp.messages(2).await;
    let recipients: Vec<bool> = ["amy@example.com", "bo@example.com"]
        .iter()
        .map(|a| {
            messages
                .iter()
                .any(|m| m.contains(&format!("X-Envelope-To: {a}")))
        })
        .collect();
    assert_eq!(recipients, vec![true, true]);
    assert!(messages[0].contains("Backups pause on Sunday"));
}

/// Writes each message to DIR/N.eml; serves STARTTLS (required) or implicit TLS.
const TLS_SMTP_SERVER: &str = r#"
import os, ssl, sys, time
from aiosmtpd.controller import Controller
mode, port, outdir, cert, key = sys.argv[1:6]
class Saving:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Saving.count += 1
        with open(os.path.join(outdir, "%d.eml" % Saving.count), "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\n" + envelope.content)
        return "250 OK"
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
if mode == "starttls":
    controller = Controller(Saving(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True)
else:
    controller = Controller(Saving(), hostname="127.0.0.1", port=int(port), ssl_context=context)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// A self-signed certificate and its key, by the `openssl` command.
fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    (cert, key)
}

#[tokio::test]
async fn encrypted_delivery_with_starttls_and_implicit_tls() {
    let ready = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("openssl")
            .arg("version")
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd and openssl are required in CI"
        );
        eprintln!("SKIPPED: aiosmtpd or openssl is not available");
        return;
    }
    let server = Server::start();
    for (mode, halley_mode) in [("starttls", "smtp"), ("tls", "smtp-ssl")] {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path());
        let inbox = dir.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args(["-c", TLS_SMTP_SERVER, mode, &port.to_string()])
            .args([&inbox, &cert, &key])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready", "{mode} server");
        let options = json!({"Mode": halley_mode, "SMTPHost": "127.0.0.1", "SMTPPort": port,
            "SMTPAllowInvalidCertificate": true, "FromEmail": "backup@example.com"});
        let answer = admin_post(
            &server.url,
            "/api/v1/admin/meta/send-test-email",
            &[
                ("EmailOptions", &options.to_string()),
                ("Recipient", "ops@example.com"),
            ],
        )
        .await;
        assert_eq!(answer.api_status(), 200, "{mode}: {}", answer.message());
        let mut arrived = String::new();
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(inbox.join("1.eml")) {
                arrived = text;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            arrived.contains("X-Envelope-To: ops@example.com"),
            "{mode}: {arrived}"
        );
        // A certificate that does not check out is refused unless allowed.
        let mut strict = options.clone();
        strict["SMTPAllowInvalidCertificate"] = json!(false);
        let refused = admin_post(
            &server.url,
            "/api/v1/admin/meta/send-test-email",
            &[
                ("EmailOptions", &strict.to_string()),
                ("Recipient", "ops@example.com"),
            ],
        )
        .await;
        assert_eq!(refused.api_status(), 500, "{mode}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A message as text: folded headers unfolded, quoted-printable soft breaks
/// removed.
fn readable(message: &str) -> String {
    message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("\r\n ", " ")
        .replace("\n ", " ")
}

#[tokio::test]
async fn email_reports_cover_the_job_history() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let server = server_sending_to(&smtp).await;
    let admin = server.admin();
    for user in ["amy", "bo"] {
        admin
            .admin_add_user(user, "password1", None, None)
            .await
            .unwrap();
    }
    let mut profile = admin.admin_get_user_profile("amy").await.unwrap();
    profile.emails = vec!["amy@example.com".into()];
    profile.sources.insert(
        "docs".into(),
        serde_json::from_value(json!({"Description": "Documents", "Engine": "engine1/file"}))
            .unwrap(),
    );
    profile.destinations.insert(
        "v1".into(),
        serde_json::from_value(json!({"Description": "Cloud vault", "DestinationType": 1003}))
            .unwrap(),
    );
    admin.admin_set_user_profile("amy", &profile).await.unwrap();
    record_jobs(
        &server,
        &[
            job("j1", "amy", 2, 5000),
            job("j2", "amy", 1, 7002),
            job("j3", "bo", 240, 5000),
            job("j4", "bo", 0, 7001),
        ],
    )
    .await;

    let daily_summary = json!({"ReportType": 1, "TimeSpan": {"FrequencyType": 8011}});
    let preview = admin_post(
        &server.url,
        "/api/v1/admin/preview-user-email-report",
        &[
            ("TargetUser", "amy"),
            ("EmailReportConfig", &daily_summary.to_string()),
        ],
    )
    .await
    .json();
    assert_eq!(preview["Status"], 200, "{preview}");
    assert_eq!(preview["To"], json!(["amy@example.com"]));
    assert_eq!(preview["From"], "Backup Desk <backup@example.com>");
    assert_eq!(
        preview["EmailSubject"],
        "Halley report for amy: 2 jobs, 1 unsuccessful"
    );
    let plain = preview["EmailBodyPlaintext"].as_str().unwrap();
    assert!(
        plain.contains("| amy | ")
            && plain.contains("| Documents | Cloud vault | Backup | Error |"),
        "{plain}"
    );
    assert!(preview["EmailBodyHTML"]
        .as_str()
        .unwrap()
        .contains("<td>Documents</td>"));

    // A filter narrows the report; the address may be overridden.
    let errors_only = json!({"ReportType": 1, "Filter": {"RuleField": "BackupJobDetail.Status",
        "RuleOperator": "int_eq", "RuleValue": "7002"}});
    let preview = admin_post(
        &server.url,
        "/api/v1/admin/preview-user-email-report",
        &[
            ("TargetUser", "amy"),
            ("EmailReportConfig", &errors_only.to_string()),
            ("EmailAddress", "boss@example.com"),
        ],
    )
    .await
    .json();
    assert_eq!(preview["To"], json!(["boss@example.com"]));
    assert_eq!(
        preview["EmailSubject"],
        "Halley report for amy: 1 job, 1 unsuccessful"
    );
    let bad_filter = json!({"ReportType": 1, "Filter": {"RuleField": "BackupJobDetail.Status",
        "RuleOperator": "int_eq", "RuleValue": "failed"}});
    let refused = admin_post(
        &server.url,
        "/api/v1/admin/preview-user-email-report",
        &[
            ("TargetUser", "amy"),
            ("EmailReportConfig", &bad_filter.to_string()),
        ],
    )
    .await;
    assert_eq!(refused.api_status(), 400);
    assert!(
        refused.message().contains("'failed'"),
        "{}",
        refused.message()
    );
    let unknown = admin_post(
        &server.url,
        "/api/v1/admin/preview-user-email-report",
        &[
            ("TargetUser", "nobody"),
            ("EmailReportConfig", &daily_summary.to_string()),
        ],
    )
    .await;
    assert_eq!(unknown.api_status(), 400);

    // The administrator's test report covers every account and arrives.
    let option = json!({"EmailReportConfig": daily_summary, "LocalTimezone": "Europe/Paris",
        "Recipients": ["ops@example.com"]});
    let sent = admin_post(
        &server.url,
        "/api/v1/admin/meta/send-test-report",
        &[("EmailReportingOption", &option.to_string())],
    )
    .await;
    assert_eq!(sent.api_status(), 200, "{}", sent.message());
    let message = readable(&smtp.messages(1).await[0]);
    assert!(
        message.contains("X-Envelope-To: ops@example.com"),
        "{message}"
    );
    assert!(
        message.contains("Subject: Halley report for all accounts: 3 jobs, 2 unsuccessful"),
        "{message}"
    );
    assert!(message.contains("multipart/alternative") && message.contains("text/html"));
    assert!(message.contains("| bo | ") && message.contains("Warning"));
    assert!(
        message.contains(" CET |") || message.contains(" CEST |"),
        "{message}"
    );

    for (bad, named) in [
        (json!({"Recipients": []}), "Recipients"),
        (
            json!({"Recipients": ["ops@example.com"], "LocalTimezone": "Mars/Olympus"}),
            "Mars/Olympus",
        ),
    ] {
        let refused = admin_post(
            &server.url,
            "/api/v1/admin/meta/send-test-report",
            &[("EmailReportingOption", &bad.to_string())],
        )
        .await;
        assert_eq!(refused.api_status(), 400);
        assert!(refused.message().contains(named), "{}", refused.message());
    }
}
