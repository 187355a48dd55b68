//! The conventions every endpoint shares, checked over HTTP.

mod common;

use common::*;

#[tokio::test]
async fn unknown_path_is_http_404_with_json() {
    let server = Server::start();
    let answer = admin_post(&server.url, "/api/v1/admin/no-such-thing", &[]).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.api_status(), 404);
    assert!(answer.message().contains("/api/v1/admin/no-such-thing"));
}

#[tokio::test]
async fn endpoint_not_built_answers_501_never_404() {
    let server = Server::start();
    // Syncing with PSA systems is not built.
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/meta/psa-config-list/sync-now",
        &[],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.api_status(), 501);
    assert!(
        answer.message().contains("not implemented"),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn every_endpoint_is_routed() {
    let server = Server::start();
    for endpoint in halley_api::endpoints::ENDPOINTS {
        if endpoint.method != "POST" {
            continue;
        }
        let answer = post_form(&server.url, endpoint.path, &[]).await;
        assert_ne!(answer.status, 404, "{} is not routed", endpoint.path);
        let status = answer.json()["Status"].as_i64();
        assert!(
            status.is_some(),
            "{} answered without a Status",
            endpoint.path
        );
    }
}

#[tokio::test]
async fn wrong_method_is_refused_with_json() {
    let server = Server::start();
    let response = reqwest::get(format!("{}/api/v1/admin/list-users", server.url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["Status"], 405);
}

#[tokio::test]
async fn missing_parameter_is_named() {
    let server = Server::start();
    let answer = admin_post(&server.url, "/api/v1/admin/get-user-profile", &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.api_status(), 400);
    assert!(
        answer.message().contains("'TargetUser'"),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn malformed_parameters_are_named_and_change_nothing() {
    let server = Server::start();
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[
            ("TargetUser", "mallory"),
            ("TargetPassword", "password1"),
            ("StoreRecoveryCode", "yes"),
        ],
    )
    .await;
    assert_eq!(answer.api_status(), 400);
    assert!(
        answer.message().contains("'StoreRecoveryCode'"),
        "{}",
        answer.message()
    );
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/add-user-from-profile",
        &[("TargetUser", "mallory"), ("ProfileData", "{not json")],
    )
    .await;
    assert_eq!(answer.api_status(), 400);
    assert!(
        answer.message().contains("'ProfileData'"),
        "{}",
        answer.message()
    );
    assert!(server.admin().admin_list_users().await.unwrap().is_empty());
}

#[tokio::test]
async fn query_string_parameters_are_read_too() {
    let server = Server::start();
    let answer = post_form(
        &server.url,
        "/api/v1/admin/list-users?Username=admin&AuthType=Password&Password=admin",
        &[],
    )
    .await;
    assert_eq!(answer.json(), serde_json::json!([]));
}

#[tokio::test]
async fn multipart_requests_authenticate_with_headers() {
    let server = Server::start();
    let path = "/api/v1/admin/get-user-profile";
    let form = || reqwest::multipart::Form::new().text("TargetUser", "nobody");
    let body = admin_multipart(&server.url, path, "admin", form()).await;
    assert_eq!(
        body,
        serde_json::json!({"Status": 400, "Message": "User not found"})
    );

    let body = admin_multipart(&server.url, path, "wrong", form()).await;
    assert_eq!(body["Status"], 403);
}

#[tokio::test]
async fn gzip_is_used_when_asked() {
    let server = Server::start();
    let admin = server.admin();
    for i in 0..20 {
        admin
            .admin_add_user_from_profile(&format!("user{i:02}"), &Default::default())
            .await
            .unwrap();
    }
    let response = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .post(format!("{}/api/v1/admin/list-users-full", server.url))
        .header("Accept-Encoding", "gzip")
        .form(&[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut plain,
    )
    .unwrap();
    let users: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(users.as_object().unwrap().len(), 20);
}

#[tokio::test]
async fn empty_collections_are_never_null() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("carol", "password1", None, None)
        .await
        .unwrap();
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "carol")],
    )
    .await;
    let profile = answer.json();
    for key in [
        "Sources",
        "Destinations",
        "Devices",
        "BackupRules",
        "OverrideEmailSettings",
    ] {
        assert_eq!(profile[key], serde_json::json!({}), "{key}");
    }
    assert_eq!(profile["Emails"], serde_json::json!([]));
    let text = String::from_utf8(answer.body.clone()).unwrap();
    assert!(!text.contains("null"), "{text}");
}

#[tokio::test]
async fn branding_props_is_a_get_that_ignores_a_body() {
    let server = Server::start();
    let response = reqwest::Client::new()
        .get(format!("{}/gen/branding.props", server.url))
        .form(&[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ServerIsEmpty"], false);
    assert!(body["ExpiredInSeconds"].as_i64().unwrap() > 0);
}

/// The fixed messages integrations compare come in the language the client
/// asks for, as the PHP SDK's `setLanguage` asks.
#[tokio::test]
async fn fixed_messages_follow_accept_language() {
    let server = Server::start();
    let ask = |path: &'static str, field: (&'static str, &'static str), language: Option<&str>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", server.url))
            .form(&[
                ("Username", "admin"),
                ("AuthType", "Password"),
                ("Password", "admin"),
                field,
            ]);
        if let Some(language) = language {
            request = request.header("Accept-Language", language);
        }
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            (body["Status"].as_i64().unwrap(), body["Message"].clone())
        }
    };
    let spanish = Some("es-ES;q=0.9, en;q=0.8, *;q=0.5");
    let profile = "/api/v1/admin/get-user-profile";
    let device = "/api/v1/admin/dispatcher/refetch-profile";
    assert_eq!(
        ask(profile, ("TargetUser", "nobody"), None).await,
        (400, "User not found".into())
    );
    assert_eq!(
        ask(profile, ("TargetUser", "nobody"), spanish).await,
        (400, "Usuario no encontrado".into())
    );
    assert_eq!(
        ask(device, ("TargetID", "nothing"), Some("en-US")).await,
        (403, "Unauthorised".into())
    );
    assert_eq!(
        ask(device, ("TargetID", "nothing"), spanish).await,
        (403, "No autorizado".into())
    );
    // Other messages stay English whatever is asked.
    let (status, message) = ask(profile, ("Unrelated", "x"), spanish).await;
    assert_eq!(status, 400);
    assert!(
        message.as_str().unwrap().contains("TargetUser"),
        "{message}"
    );
}
