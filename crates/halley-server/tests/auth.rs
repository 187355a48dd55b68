//! Authentication: first start, credentials, second factor, sessions,
//! throttling, an administrator's own account.

mod common;

use common::*;
use halley_client::{Auth, Error};
use serde_json::json;

#[tokio::test]
async fn loopback_first_start_creates_admin_admin() {
    let server = Server::start();
    server.admin().admin_list_users().await.unwrap();
    let config = server.config();
    let admin = &config["AdminUsers"][0];
    assert_eq!(admin["Username"], "admin");
    assert!(
        admin["Password"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$"),
        "stored hashed"
    );
}

#[tokio::test]
async fn exposed_server_creates_no_default_admin() {
    let server = Server::launch(Launch {
        listen: vec!["0.0.0.0:0".into()],
        ..Default::default()
    });
    let url = server.url.replace("0.0.0.0", "127.0.0.1");
    let anonymous = halley_client::Client::new(&url, Auth::None);
    assert!(anonymous.branding_props().await.unwrap().server_is_empty);
    let admin = halley_client::Client::new(&url, Auth::password("admin", "admin"));
    assert_eq!(
        admin.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );

    let missing = post_form(
        &url,
        "/api/v1/admin/add-first-admin-user",
        &[("TargetUser", "root")],
    )
    .await;
    assert_eq!(missing.api_status(), 400);
    assert!(missing.message().contains("TargetPassword"));
    anonymous
        .admin_add_first_admin_user("root", "a long secret")
        .await
        .unwrap();
    assert!(!anonymous.branding_props().await.unwrap().server_is_empty);
    let root = halley_client::Client::new(&url, Auth::password("root", "a long secret"));
    root.admin_list_users().await.unwrap();
    // Only while no administrator exists.
    let again = anonymous
        .admin_add_first_admin_user("eve", "another secret")
        .await
        .unwrap_err();
    assert_eq!(again.api_status(), Some(403));
    let eve = halley_client::Client::new(&url, Auth::password("eve", "another secret"));
    assert_eq!(
        eve.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
}

#[tokio::test]
async fn initial_admin_password_flag_and_environment() {
    let server = Server::launch(Launch {
        listen: vec!["0.0.0.0:0".into()],
        args: vec!["--initial-admin-password".into(), "flag-secret".into()],
        ..Default::default()
    });
    let url = server.url.replace("0.0.0.0", "127.0.0.1");
    halley_client::Client::new(&url, Auth::password("admin", "flag-secret"))
        .admin_list_users()
        .await
        .unwrap();

    let server = Server::launch(Launch {
        listen: vec![],
        env: vec![
            ("HALLEY_LISTEN".into(), "0.0.0.0:0".into()),
            ("HALLEY_INITIAL_ADMIN_PASSWORD".into(), "env-secret".into()),
        ],
        ..Default::default()
    });
    let url = server.url.replace("0.0.0.0", "127.0.0.1");
    halley_client::Client::new(&url, Auth::password("admin", "env-secret"))
        .admin_list_users()
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_credentials_look_the_same_for_known_and_unknown_accounts() {
    let server = Server::start();
    let wrong_password = post_form(
        &server.url,
        "/api/v1/admin/list-users",
        &[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "nope"),
        ],
    )
    .await;
    let unknown = post_form(
        &server.url,
        "/api/v1/admin/list-users",
        &[
            ("Username", "nobody"),
            ("AuthType", "Password"),
            ("Password", "nope"),
        ],
    )
    .await;
    for answer in [&wrong_password, &unknown] {
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.json(),
            json!({"Status": 403, "Message": "Unauthorised"})
        );
    }
    let no_credentials = post_form(&server.url, "/api/v1/admin/list-users", &[]).await;
    assert_eq!(no_credentials.api_status(), 403);
    let u2f = post_form(
        &server.url,
        "/api/v1/admin/list-users",
        &[
            ("Username", "admin"),
            ("AuthType", "PasswordU2F"),
            ("Password", "admin"),
        ],
    )
    .await;
    // An account without keys needs no U2F signature: the password is it.
    assert_eq!(u2f.status, 200);
    assert!(u2f.json().is_array(), "{}", u2f.message());
    let unknown_type = post_form(
        &server.url,
        "/api/v1/admin/list-users",
        &[
            ("Username", "admin"),
            ("AuthType", "PasswordSMS"),
            ("Password", "admin"),
        ],
    )
    .await;
    unknown_type.assert_refused(400, "unknown authentication type 'PasswordSMS'");
}

#[tokio::test]
async fn admin_sessions_start_work_and_revoke() {
    let server = Server::start();
    let started = server.admin().admin_account_session_start().await.unwrap();
    assert_eq!(started.status, 200);
    assert_eq!(started.session_type, "admin");
    assert!(started.session_key.len() >= 32);
    let session = server.client(Auth::session("admin", &started.session_key));
    session.admin_list_users().await.unwrap();
    // With password credentials the `SessionKey` parameter names the session
    // to upgrade (with session credentials it is the caller's own key).
    server
        .admin()
        .admin_account_session_upgrade(&started.session_key)
        .await
        .unwrap();
    assert_eq!(
        server
            .admin()
            .admin_account_session_upgrade("bogus")
            .await
            .unwrap_err()
            .api_status(),
        Some(400)
    );
    // The key belongs to its account only.
    assert_eq!(
        server
            .client(Auth::session("someone", &started.session_key))
            .admin_list_users()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
    session.admin_account_session_revoke().await.unwrap();
    assert_eq!(
        session.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
    // Revoking needs a session to revoke.
    assert_eq!(
        server
            .admin()
            .admin_account_session_revoke()
            .await
            .unwrap_err()
            .api_status(),
        Some(400)
    );
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let server = Server::launch(Launch {
        config: Some(json!({"SessionSettings": {"ExpiredInSeconds": 2}})),
        ..Default::default()
    });
    let key = server.admin_session_key().await;
    let session = server.client(Auth::session("admin", &key));
    session.admin_list_users().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(
        session.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
}

#[tokio::test]
async fn session_keys_survive_a_restart_and_are_stored_hashed() {
    let mut server = Server::start();
    let key = server.admin_session_key().await;
    let temp = server.keep_data_dir();
    server.kill();
    let stored = common::stored_bytes(&server.data_dir);
    assert!(!stored.is_empty());
    assert!(
        !stored.windows(key.len()).any(|w| w == key.as_bytes()),
        "the raw key is not stored"
    );
    let server = Server::spawn_in(&server.data_dir.clone(), &Launch::default());
    server
        .client(Auth::session("admin", &key))
        .admin_list_users()
        .await
        .unwrap();
    drop(temp);
}

#[tokio::test]
async fn admin_mints_user_sessions_and_hybrid_start_serves_both() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("quinn", "password1", None, None)
        .await
        .unwrap();
    let as_user = admin
        .admin_account_session_start_as_user("quinn")
        .await
        .unwrap();
    assert_eq!(as_user.session_type, "user");
    let user = server.client(Auth::session("quinn", &as_user.session_key));
    assert_eq!(
        user.user_web_get_user_profile_and_hash()
            .await
            .unwrap()
            .profile
            .username,
        "quinn"
    );
    assert_eq!(
        admin
            .admin_account_session_start_as_user("ghost")
            .await
            .unwrap_err()
            .api_status(),
        Some(400)
    );

    let hybrid_admin = admin.hybrid_session_start().await.unwrap();
    assert_eq!(hybrid_admin.session_type, "admin");
    server
        .client(Auth::session("admin", &hybrid_admin.session_key))
        .admin_list_users()
        .await
        .unwrap();
    let hybrid_user = server
        .client(Auth::password("quinn", "password1"))
        .hybrid_session_start()
        .await
        .unwrap();
    assert_eq!(hybrid_user.session_type, "user");
    let user = server.client(Auth::session("quinn", &hybrid_user.session_key));
    user.user_web_get_user_profile_and_hash().await.unwrap();
    user.user_web_session_revoke().await.unwrap();
    assert_eq!(
        user.user_web_get_user_profile_and_hash()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );

    // Deleting the account ends its sessions.
    let key = server
        .client(Auth::password("quinn", "password1"))
        .user_web_session_start()
        .await
        .unwrap()
        .session_key;
    admin.admin_delete_user("quinn").await.unwrap();
    let gone = server
        .client(Auth::session("quinn", &key))
        .user_web_get_user_profile_and_hash()
        .await;
    assert_eq!(gone.unwrap_err().api_status(), Some(403));
}

#[tokio::test]
async fn admin_totp_enrolment_and_login() {
    let server = Server::start();
    let admin = server.admin();
    let totp = admin.admin_account_regenerate_totp().await.unwrap();
    assert!(totp.image.starts_with("data:image/png;base64,"));
    assert!(totp.url.starts_with("otpauth://totp/"));
    let secret = secret_from_url(&totp.url);
    let wrong = admin
        .admin_account_validate_totp("12345x")
        .await
        .unwrap_err();
    assert_eq!(wrong.api_status(), Some(400));
    admin
        .admin_account_validate_totp(&totp_code(&secret, 0))
        .await
        .unwrap();

    // Password alone now asks for the second factor: HTTP 449.
    let answer = admin_post(&server.url, "/api/v1/admin/list-users", &[]).await;
    assert_eq!(answer.status, 449);
    assert_eq!(answer.headers["X-Comet-TOTP-Requested"], "1");
    assert!(matches!(
        admin.admin_list_users().await,
        Err(Error::TotpRequired)
    ));

    let code = totp_code(&secret, 1);
    let with_code = server.client(Auth::PasswordTotp {
        username: "admin".into(),
        password: "admin".into(),
        totp: code.clone(),
    });
    let key = with_code
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    // A code works once.
    assert_eq!(
        with_code.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
    let wrong_code = server.client(Auth::PasswordTotp {
        username: "admin".into(),
        password: "admin".into(),
        totp: "000000".into(),
    });
    assert!(wrong_code.admin_list_users().await.is_err());
    server
        .client(Auth::session("admin", &key))
        .admin_list_users()
        .await
        .unwrap();
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let server = Server::launch(Launch {
        config: Some(
            json!({"LoginProtection": {"Enabled": true, "FailureThreshold": 3, "CooldownSeconds": 60}}),
        ),
        ..Default::default()
    });
    let wrong = server.client(Auth::password("admin", "wrong"));
    for _ in 0..3 {
        assert_eq!(
            wrong.admin_list_users().await.unwrap_err().api_status(),
            Some(403)
        );
    }
    let err = server.admin().admin_list_users().await.unwrap_err();
    match err {
        Error::Api {
            status: 429,
            message,
        } => assert!(message.contains("try again"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn plaintext_password_in_config_is_hashed_at_first_login() {
    let server = Server::launch(Launch {
        config: Some(
            json!({"AdminUsers": [{"Username": "root", "PasswordFormat": 0, "Password": "typed-by-hand"}]}),
        ),
        ..Default::default()
    });
    assert_eq!(
        server.config()["AdminUsers"][0]["Password"],
        "typed-by-hand"
    );
    let root = server.client(Auth::password("root", "typed-by-hand"));
    root.admin_list_users().await.unwrap();
    let stored = server.config()["AdminUsers"][0].clone();
    assert_eq!(stored["PasswordFormat"], 80);
    assert!(stored["Password"]
        .as_str()
        .unwrap()
        .starts_with("$argon2id$"));
    root.admin_list_users().await.unwrap();
    // No default admin was added beside the configured one.
    assert_eq!(server.config()["AdminUsers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn own_account_properties_hide_secrets_and_guard_changes() {
    let server = Server::start();
    let admin = server.admin();
    let properties = admin.admin_account_properties().await.unwrap();
    assert_ne!(properties.security.password, "");
    assert!(
        !properties.security.password.starts_with("$argon2"),
        "the hash is not shown"
    );
    assert!(properties.security.allow_password_login);

    // Echoing the properties back changes nothing.
    admin
        .admin_account_set_properties(&properties.security)
        .await
        .unwrap();
    admin.admin_list_users().await.unwrap();

    let mut no_login = properties.security.clone();
    no_login.allow_password_login = false;
    assert_eq!(
        admin
            .admin_account_set_properties(&no_login)
            .await
            .unwrap_err()
            .api_status(),
        Some(400)
    );

    let mut locked_out = properties.security.clone();
    locked_out.ip_whitelist = "^10\\.9\\.8\\.7$".into();
    let err = admin
        .admin_account_set_properties(&locked_out)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 400, ref message } if message.contains("IPWhitelist"))
    );

    let mut new_password = properties.security.clone();
    new_password.password = "a better password".into();
    let key = admin
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    let by_session = server.client(Auth::session("admin", &key));
    assert_eq!(
        by_session
            .admin_account_set_properties(&new_password)
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
    admin
        .admin_account_set_properties(&new_password)
        .await
        .unwrap();
    assert_eq!(
        admin.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
    server
        .client(Auth::password("admin", "a better password"))
        .admin_list_users()
        .await
        .unwrap();
}
