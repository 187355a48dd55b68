//! Logs, uploaded resources, install tokens.

mod common;

use std::io::Read;

use common::*;
use serde_json::json;

#[tokio::test]
async fn server_logs_are_listed_read_and_zipped() {
    let server = Server::start();
    // The first-start warning is in today's log.
    let mut days = json!([]);
    for _ in 0..50 {
        days = admin_post(
            &server.url,
            "/api/v1/admin/meta/list-available-log-days",
            &[],
        )
        .await
        .json();
        if !days.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let day = days[0].as_i64().expect("a day");
    assert_eq!(day % 86_400, 0, "a day is named by its start");
    let mut text = String::new();
    for _ in 0..50 {
        let answer = admin_post(
            &server.url,
            "/api/v1/admin/meta/read-logs",
            &[("Log", &day.to_string())],
        )
        .await;
        text = String::from_utf8(answer.body).unwrap();
        if text.contains("created 'admin'") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(text.contains("created 'admin'"), "{text}");
    let select = admin_post(
        &server.url,
        "/api/v1/admin/meta/read-select-logs",
        &[("Logs", &json!([day]).to_string())],
    )
    .await;
    assert_eq!(String::from_utf8(select.body).unwrap(), text);
    let missing = admin_post(
        &server.url,
        "/api/v1/admin/meta/read-logs",
        &[("Log", "86400")],
    )
    .await;
    assert_eq!(missing.api_status(), 400);

    let zipped = admin_post(&server.url, "/api/v1/admin/meta/read-all-logs", &[]).await;
    assert_eq!(zipped.headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.body)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut inside = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut inside)
        .unwrap();
    assert!(inside.contains("created 'admin'"));
}

#[tokio::test]
async fn resources_are_uploaded_by_multipart_and_read_back() {
    let server = Server::start();
    let png = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let body = upload_resource(&server.url, png.clone()).await;
    assert_eq!(body["Status"], 200);
    let hash = body["ResourceHash"].as_str().unwrap().to_string();
    let back = admin_post(
        &server.url,
        "/api/v1/admin/meta/resource/get",
        &[("Hash", &hash)],
    )
    .await;
    assert_eq!(back.body, png);
    let bad = admin_post(
        &server.url,
        "/api/v1/admin/meta/resource/get",
        &[("Hash", "../../cometd.cfg")],
    )
    .await;
    assert_eq!(bad.api_status(), 400);
    let missing = admin_post(&server.url, "/api/v1/admin/meta/resource/new", &[]).await;
    assert_eq!(missing.api_status(), 400);
    assert!(missing.message().contains("upload"));
}

#[tokio::test]
async fn install_tokens_need_the_accounts_password() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("dan", "password1", None, None)
        .await
        .unwrap();
    let created = admin_post(
        &server.url,
        "/api/v1/admin/create-install-token",
        &[
            ("TargetUser", "dan"),
            ("TargetPassword", "password1"),
            ("Server", "https://backup.example.com/"),
        ],
    )
    .await
    .json();
    assert_eq!(created["Status"], 200);
    let token = &created["InstallToken"];
    assert_eq!(token["Username"], "dan");
    assert_eq!(token["Used"], false);
    assert!(token["ExpireTime"].as_i64().unwrap() > token["CreateTime"].as_i64().unwrap());
    assert!(token["Token"].as_str().unwrap().len() >= 32);
    let wrong = admin_post(
        &server.url,
        "/api/v1/admin/create-install-token",
        &[("TargetUser", "dan"), ("TargetPassword", "nope")],
    )
    .await;
    assert_eq!(wrong.api_status(), 400);
}

#[tokio::test]
async fn stats_are_sampled_from_the_start() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("eve", "password1", None, None)
        .await
        .unwrap();
    let stats = admin_post(
        &server.url,
        "/api/v1/admin/meta/stats",
        &[("Simple", "false")],
    )
    .await
    .json();
    let samples = stats.as_object().expect("a map of samples");
    assert!(!samples.is_empty());
    let (at, first) = samples.iter().next().unwrap();
    assert!(at.parse::<i64>().unwrap() > 0);
    for key in ["Buckets", "Users", "Devices", "Boosters", "NetworkDevices"] {
        assert!(first[key].is_i64(), "{key}");
    }
    let simple = admin_post(&server.url, "/api/v1/admin/meta/stats", &[("Simple", "1")])
        .await
        .json();
    assert_eq!(simple.as_object().unwrap().len(), 1, "one sample per day");
}
