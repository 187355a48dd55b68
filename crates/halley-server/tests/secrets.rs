//! Secrets never leave the server: not in answers, not in events, not in
//! files other local users can read.

mod common;

use common::*;

const SMTP_PASSWORD: &str = "smtp-secret-7Qx";

#[cfg(unix)]
#[tokio::test]
async fn data_directory_configuration_and_database_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    // A configuration write replaces cometd.cfg: the new file is private too.
    let set = admin_post(
        &server.url,
        "/api/v1/admin/meta/email-options/set",
        &[(
            "EmailOptions",
            r#"{"Mode":"smtp","SMTPHost":"mail.example.com"}"#,
        )],
    )
    .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    let mode = |name: &str| {
        let path = server.data_dir.join(name);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        meta.permissions().mode() & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    for file in secret_files() {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

/// The files of a data directory that hold secrets: the configuration, and
/// the SQLite database with its journal when the store is there.
fn secret_files() -> &'static [&'static str] {
    if on_postgres() {
        &["cometd.cfg"]
    } else {
        &["cometd.cfg", "halley.db", "halley.db-wal", "halley.db-shm"]
    }
}

#[cfg(unix)]
#[tokio::test]
async fn files_an_older_version_left_readable_are_narrowed_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = Server::start();
    let data = server.keep_data_dir();
    let dir = server.data_dir.clone();
    server.kill();
    let set = |path: std::path::PathBuf, mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set(dir.clone(), 0o755);
    for file in secret_files() {
        set(dir.join(file), 0o644);
    }
    let _server = Server::spawn_in(&dir, &Launch::default());
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700);
    for file in secret_files() {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    drop(data);
}

#[tokio::test]
async fn smtp_password_is_answered_obscured_and_kept_when_sent_back() {
    let server = Server::start();
    let options = serde_json::json!({"Mode": "smtp", "SMTPHost": "mail.example.com",
        "SMTPUsername": "mailer", "SMTPPassword": SMTP_PASSWORD});
    let set = admin_post(
        &server.url,
        "/api/v1/admin/meta/email-options/set",
        &[("EmailOptions", &options.to_string())],
    )
    .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());

    let shown = admin_post(&server.url, "/api/v1/admin/meta/email-options/get", &[]).await;
    let shown_text = String::from_utf8_lossy(&shown.body).to_string();
    assert!(!shown_text.contains(SMTP_PASSWORD), "{shown_text}");
    assert_eq!(shown.json()["SMTPPassword"], "**********");
    assert_eq!(shown.json()["SMTPUsername"], "mailer");

    let config = admin_post(&server.url, "/api/v1/admin/meta/server-config/get", &[]).await;
    let config_text = String::from_utf8_lossy(&config.body).to_string();
    assert!(!config_text.contains(SMTP_PASSWORD), "server-config/get");
    assert_eq!(config.json()["Email"]["SMTPPassword"], "**********");

    // Both settings pages send back what they were shown: the secret stays.
    let resent = admin_post(
        &server.url,
        "/api/v1/admin/meta/email-options/set",
        &[("EmailOptions", &shown.json().to_string())],
    )
    .await;
    assert_eq!(resent.api_status(), 200, "{}", resent.message());
    assert_eq!(server.config()["Email"]["SMTPPassword"], SMTP_PASSWORD);
    let whole = server.set_config(&config.json()).await;
    assert_eq!(whole.api_status(), 200, "{}", whole.message());
    assert_eq!(server.config()["Email"]["SMTPPassword"], SMTP_PASSWORD);
}

#[tokio::test]
async fn account_events_and_the_users_own_profile_carry_no_password_hash_or_recovery_code() {
    let server = Server::start();
    let mut receiver = WebhookReceiver::start(0).await;
    let hooks = serde_json::json!({"watch": {"URL": receiver.url, "Level": "full"}});
    let set = admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    let (mut socket, answer) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(answer, "200 OK");

    let added = admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[
            ("TargetUser", "carol"),
            ("TargetPassword", "password1"),
            ("StoreRecoveryCode", "1"),
        ],
    )
    .await;
    assert_eq!(added.api_status(), 200, "{}", added.message());
    let stored = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "carol")],
    )
    .await
    .json();
    let hash = stored["PasswordHash"].as_str().unwrap().to_string();
    let recovery = stored["PasswordRecovery"].as_str().unwrap().to_string();
    assert!(hash.starts_with("$argon2"), "{stored}");
    assert!(!recovery.is_empty(), "{stored}");

    const ACCOUNT_NEW: i64 = 4100;
    let on_socket = loop {
        let event = next_event(&mut socket).await;
        if event["Type"] == ACCOUNT_NEW {
            break event;
        }
    };
    let on_hook = receiver.until_type(ACCOUNT_NEW, 20).await.event;
    for event in [on_socket, on_hook] {
        assert_eq!(event["Data"]["Username"], "carol", "{event}");
        let text = event.to_string();
        assert!(!text.contains(&hash), "hash in {text}");
        assert!(!text.contains(&recovery), "recovery code in {text}");
    }

    let own = post_form(
        &server.url,
        "/api/v1/user/web/get-user-profile-and-hash",
        &[
            ("Username", "carol"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    assert_eq!(own.api_status(), 200, "{}", own.message());
    let text = String::from_utf8_lossy(&own.body).to_string();
    assert_eq!(own.json()["Profile"]["Username"], "carol");
    assert!(!text.contains(&hash), "hash in {text}");
    assert!(!text.contains(&recovery), "recovery code in {text}");
}
