//! Serial numbers and authentication, over HTTP against a real portal: every
//! row of the API guide's licence tables, the legacy aliases, and the activation
//! binding that `halleyd` relies on.

mod common;

use common::{Portal, EMAIL, PASSWORD};

const ACTIVATE: &str = "/api/v1/license/activate";

async fn create_serial(portal: &Portal) -> String {
    let answer = portal.call("/api/v1/license/create", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.content_type().starts_with("text/plain"));
    let serial = answer.text();
    assert_eq!(serial.len(), 29, "serial '{serial}'");
    serial
}

async fn list(portal: &Portal) -> Vec<serde_json::Value> {
    let answer = portal.call("/api/v1/license/list_all", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.content_type().starts_with("application/json"));
    answer.json().as_array().expect("an array").clone()
}

#[tokio::test]
async fn create_list_relax_archive_with_every_auth_form() {
    let portal = Portal::start();
    // Password authentication, authType absent (the default).
    let by_password = portal.call_password("/api/v1/license/create", &[]).await;
    assert_eq!(by_password.status, 200, "{}", by_password.text());
    // authType=password explicitly, then the token forms.
    let explicit = portal
        .post(
            "/api/v1/license/create",
            &[
                ("authType", "password"),
                ("email", EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(explicit.status, 200);
    let by_token = create_serial(&portal).await;
    let synonym = portal
        .post(
            "/api/v1/license/create",
            &[("authType", "authToken"), ("authToken", &portal.token)],
        )
        .await;
    assert_eq!(synonym.status, 200, "{}", synonym.text());
    let bearer = common::answer(
        reqwest::Client::new()
            .post(format!("{}/api/v1/license/create", portal.url))
            .bearer_auth(&portal.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bearer.status, 200, "{}", bearer.text());

    let licenses = list(&portal).await;
    assert_eq!(licenses.len(), 5);
    let mine = licenses
        .iter()
        .find(|l| l["serial"] == by_token.as_str())
        .expect("listed");
    assert_eq!(mine["status"], "unused");
    assert!(mine["created_at"].as_str().unwrap().len() == 19);

    let relaxed = portal
        .call("/api/v1/license/relax", &[("serial", &by_token)])
        .await;
    assert_eq!(relaxed.status, 200);
    assert_eq!(relaxed.text(), "OK");
    let archived = portal
        .call("/api/v1/license/archive", &[("serial", &by_token)])
        .await;
    assert_eq!(archived.status, 200);
    assert_eq!(archived.text(), "OK");
    let licenses = list(&portal).await;
    let mine = licenses
        .iter()
        .find(|l| l["serial"] == by_token.as_str())
        .unwrap();
    assert_eq!(mine["status"], "archived");
    assert!(mine["archived_at"].is_string());
}

#[tokio::test]
async fn legacy_aliases_behave_identically() {
    let portal = Portal::start();
    let created = portal.call("/api/v1/create_license", &[]).await;
    assert_eq!(created.status, 200);
    assert!(created.content_type().starts_with("text/plain"));
    let serial = created.text();
    assert_eq!(list(&portal).await[0]["serial"], serial.as_str());
    let relaxed = portal
        .call("/api/v1/relax_license", &[("serial", &serial)])
        .await;
    assert_eq!((relaxed.status, relaxed.text().as_str()), (200, "OK"));
    let archived = portal
        .call("/api/v1/archive_license", &[("serial", &serial)])
        .await;
    assert_eq!((archived.status, archived.text().as_str()), (200, "OK"));
    assert_eq!(list(&portal).await[0]["status"], "archived");
    // The aliases' error rows too.
    for path in [
        "/api/v1/create_license",
        "/api/v1/relax_license",
        "/api/v1/archive_license",
    ] {
        portal
            .post(path, &[("email", EMAIL), ("password", "wrong")])
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(path, &[("password", PASSWORD)])
            .await
            .assert_text_error(400, "Invalid or missing parameter");
    }
    portal
        .call("/api/v1/relax_license", &[])
        .await
        .assert_text_error(400, "Invalid or missing parameter: serial");
    portal
        .call("/api/v1/archive_license", &[("serial", "NOPE")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: serial");
}

#[tokio::test]
async fn every_licence_call_answers_the_seed_error_rows() {
    let portal = Portal::start();
    let serial = create_serial(&portal).await;
    for path in [
        "/api/v1/license/create",
        "/api/v1/license/relax",
        "/api/v1/license/archive",
        "/api/v1/license/list_all",
    ] {
        let extra: &[(&str, &str)] = if path.ends_with("create") || path.ends_with("list_all") {
            &[]
        } else {
            &[("serial", serial.as_str())]
        };
        let with = |auth: &[(&'static str, &'static str)]| {
            let mut fields: Vec<(&str, &str)> = auth.to_vec();
            fields.extend_from_slice(extra);
            fields
        };
        // Missing credentials: 400.
        portal
            .post(path, &with(&[]))
            .await
            .assert_text_error(400, "Invalid or missing parameter: email");
        portal
            .post(path, &with(&[("email", EMAIL)]))
            .await
            .assert_text_error(400, "Invalid or missing parameter: password");
        portal
            .post(path, &with(&[("authType", "apiToken")]))
            .await
            .assert_text_error(400, "Invalid or missing parameter: apiToken");
        portal
            .post(path, &with(&[("authType", "authToken")]))
            .await
            .assert_text_error(400, "Invalid or missing parameter: authToken");
        portal
            .post(path, &with(&[("authType", "magic")]))
            .await
            .assert_text_error(400, "Invalid or missing parameter: authType");
        // Bad credentials: 403, the same for an unknown account.
        portal
            .post(path, &with(&[("email", EMAIL), ("password", "wrong")]))
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(
                path,
                &with(&[("email", "nobody@example.com"), ("password", PASSWORD)]),
            )
            .await
            .assert_text_error(403, "Invalid credentials");
        // Wrong token: 403.
        portal
            .post(
                path,
                &with(&[("authType", "apiToken"), ("apiToken", "hat_wrong")]),
            )
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(
                path,
                &with(&[("authType", "authToken"), ("authToken", "hat_wrong")]),
            )
            .await
            .assert_text_error(403, "Invalid credentials");
    }
    // Unknown serial: 400 (the serial parameter is invalid).
    for path in ["/api/v1/license/relax", "/api/v1/license/archive"] {
        portal
            .call(path, &[("serial", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")])
            .await
            .assert_text_error(400, "Invalid or missing parameter: serial");
        portal
            .call(path, &[])
            .await
            .assert_text_error(400, "Invalid or missing parameter: serial");
    }
}

#[tokio::test]
async fn another_accounts_serial_is_unknown() {
    let portal = Portal::start();
    let serial = create_serial(&portal).await;
    let dir = portal.data_dir.to_str().unwrap();
    let (ok, _, err) = common::cli(&[
        "create-account",
        "--data-dir",
        dir,
        "--email",
        "other@example.com",
        "--password",
        "other password",
    ]);
    assert!(ok, "{err}");
    let other = |path: &'static str| {
        let serial = serial.clone();
        let portal = &portal;
        async move {
            portal
                .post(
                    path,
                    &[
                        ("email", "other@example.com"),
                        ("password", "other password"),
                        ("serial", &serial),
                    ],
                )
                .await
        }
    };
    other("/api/v1/license/relax")
        .await
        .assert_text_error(400, "Invalid or missing parameter: serial");
    other("/api/v1/license/archive")
        .await
        .assert_text_error(400, "Invalid or missing parameter: serial");
    let listed = other("/api/v1/license/list_all").await;
    assert_eq!(listed.json(), serde_json::json!([]));
}

#[tokio::test]
async fn activation_binds_one_server_until_relaxed() {
    let portal = Portal::start();
    let serial = create_serial(&portal).await;
    let activate = |server: &'static str| {
        let serial = serial.clone();
        let portal = &portal;
        async move {
            portal
                .post(ACTIVATE, &[("serial", &serial), ("server_id", server)])
                .await
        }
    };
    let first = activate("server-a").await;
    assert_eq!((first.status, first.text().as_str()), (200, "OK"));
    assert!(first.content_type().starts_with("text/plain"));
    // The same server again (every start-up): still fine.
    assert_eq!(activate("server-a").await.status, 200);
    let listed = list(&portal).await;
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(listed[0]["server_id"], "server-a");
    // A second server is refused while the serial is bound.
    activate("server-b")
        .await
        .assert_text_error(409, "Serial is in use by another server");
    // Relax frees it; the second server takes it and the first is refused.
    let relaxed = portal
        .call("/api/v1/license/relax", &[("serial", &serial)])
        .await;
    assert_eq!(relaxed.status, 200);
    assert_eq!(activate("server-b").await.status, 200);
    activate("server-a")
        .await
        .assert_text_error(409, "Serial is in use");
    // Archived: refused for everyone.
    portal
        .call("/api/v1/license/archive", &[("serial", &serial)])
        .await;
    activate("server-b")
        .await
        .assert_text_error(410, "Serial is archived");
    // Unknown serial and bad parameters.
    portal
        .post(ACTIVATE, &[("serial", "NOPE"), ("server_id", "server-a")])
        .await
        .assert_text_error(403, "Unknown serial");
    portal
        .post(ACTIVATE, &[("server_id", "server-a")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: serial");
    portal
        .post(ACTIVATE, &[("serial", &serial)])
        .await
        .assert_text_error(400, "Invalid or missing parameter: server_id");
    portal
        .post(ACTIVATE, &[("serial", &serial), ("server_id", "a b/c")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: server_id");
}

#[tokio::test]
async fn tokens_are_created_and_revoked_over_the_api() {
    let portal = Portal::start();
    let created = portal
        .call_password("/api/v1/token/create", &[("name", "billing")])
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let token = created.text();
    assert!(token.starts_with("hat_"));
    let used = portal
        .post(
            "/api/v1/license/list_all",
            &[("authType", "apiToken"), ("apiToken", &token)],
        )
        .await;
    assert_eq!(used.status, 200);
    let revoked = portal
        .call("/api/v1/token/revoke", &[("token", &token)])
        .await;
    assert_eq!((revoked.status, revoked.text().as_str()), (200, "OK"));
    portal
        .post(
            "/api/v1/license/list_all",
            &[("authType", "apiToken"), ("apiToken", &token)],
        )
        .await
        .assert_text_error(403, "Invalid credentials");
    portal
        .call("/api/v1/token/revoke", &[("token", &token)])
        .await
        .assert_text_error(400, "Invalid or missing parameter: token");
    portal
        .post(
            "/api/v1/token/create",
            &[("email", EMAIL), ("password", "x")],
        )
        .await
        .assert_text_error(403, "Invalid credentials");
}

#[tokio::test]
async fn the_command_line_refuses_mistakes_and_unknown_paths_are_404() {
    let portal = Portal::start();
    let dir = portal.data_dir.to_str().unwrap();
    let (ok, _, err) = common::cli(&[
        "create-account",
        "--data-dir",
        dir,
        "--email",
        EMAIL,
        "--password",
        "again",
    ]);
    assert!(!ok);
    assert!(err.contains("exists"), "{err}");
    let (ok, _, _) = common::cli(&[
        "create-account",
        "--data-dir",
        dir,
        "--email",
        "not-an-email",
        "--password",
        "x",
    ]);
    assert!(!ok);
    let (ok, _, err) = common::cli(&[
        "create-token",
        "--data-dir",
        dir,
        "--email",
        "nobody@example.com",
    ]);
    assert!(!ok);
    assert!(err.contains("no account"), "{err}");
    // A new data directory is private to its owner.
    let fresh = portal.data_dir.join("fresh");
    let (ok, out, err) = common::cli(&[
        "create-account",
        "--data-dir",
        fresh.to_str().unwrap(),
        "--email",
        "new@example.com",
        "--password",
        "pw",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "created account new@example.com");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let missing = portal.call("/api/v1/nothing-here", &[]).await;
    assert_eq!(missing.status, 404);
    let wrong_method = common::answer(
        reqwest::get(format!("{}/api/v1/license/create", portal.url))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong_method.status, 405);
}

#[tokio::test]
async fn password_guessing_is_throttled_but_tokens_keep_working() {
    let portal = Portal::start();
    for _ in 0..10 {
        portal
            .post(
                "/api/v1/license/list_all",
                &[("email", EMAIL), ("password", "guess")],
            )
            .await
            .assert_text_error(403, "Invalid credentials");
    }
    // Now even the right password is refused, exactly like a wrong one.
    portal
        .call_password("/api/v1/license/list_all", &[])
        .await
        .assert_text_error(403, "Invalid credentials");
    assert_eq!(
        portal.call("/api/v1/license/list_all", &[]).await.status,
        200
    );
}
