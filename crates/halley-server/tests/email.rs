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

#[tokio::test]
async fn bulletins_reach_every_account_address() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let server = Server::start();
    admin_post(
        &server.url,
        "/api/v1/admin/meta/email-options/set",
        &[("EmailOptions", &smtp.options().to_string())],
    )
    .await;
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
