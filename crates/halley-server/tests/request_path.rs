//! The steps every call goes through, seen from a client: roles, endpoints
//! not built, body limits, authentication before a large body is read, and
//! the spellings and error messages integrations meet.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const NOT_BUILT: &str = "/api/v1/admin/meta/psa-config-list/sync-now";

#[tokio::test]
async fn request_path_behaviour() {
    let server = Server::start();
    let url = server.url.as_str();

    not_built_reads_the_body_and_keeps_the_connection(url).await;
    role_not_run_is_named(url).await;
    dispatcher_list_active_is_empty_without_devices(url).await;
    empty_php_array_is_an_empty_map(url).await;
    configuration_errors_are_the_callers(url).await;
    bad_values_are_quoted_briefly(url).await;
    bodies_over_the_endpoint_limit_are_refused(url).await;
    strangers_are_refused_before_their_body_is_read(url).await;
}

/// A client that sends a body to an endpoint not built reads the 501, and
/// its next call on the same connection works.
async fn not_built_reads_the_body_and_keeps_the_connection(url: &str) {
    let client = reqwest::Client::new();
    let filler = "x".repeat(512 * 1024);
    for _ in 0..2 {
        let answer: serde_json::Value = client
            .post(format!("{url}{NOT_BUILT}"))
            .form(&[
                ("Username", "admin"),
                ("AuthType", "Password"),
                ("Password", "admin"),
                ("Filler", filler.as_str()),
            ])
            .send()
            .await
            .expect("the 501 arrives")
            .json()
            .await
            .unwrap();
        assert_eq!(answer["Status"], 501, "{answer}");
        assert!(answer["Message"]
            .as_str()
            .unwrap()
            .contains("not implemented"));
    }
}

async fn role_not_run_is_named(url: &str) {
    let answer = admin_post(url, "/api/v1/admin/storage/list-buckets", &[]).await;
    assert_eq!(answer.status, 200);
    answer.assert_refused(403, "does not run the Storage Role");
}

/// The Prometheus exporter calls this on every scrape.
async fn dispatcher_list_active_is_empty_without_devices(url: &str) {
    let answer = admin_post(url, "/api/v1/admin/dispatcher/list-active", &[]).await;
    assert_eq!(answer.json(), json!({}));
    let answer = admin_post(
        url,
        "/api/v1/admin/dispatcher/list-active",
        &[("TargetUser", "x")],
    )
    .await;
    assert_eq!(answer.json(), json!({}));
}

/// PHP SDKs before 4.x send an empty map as `[]`.
async fn empty_php_array_is_an_empty_map(url: &str) {
    let answer = admin_post(
        url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", "[]")],
    )
    .await;
    assert_eq!(answer.api_status(), 200, "{}", answer.message());
    let answer = admin_post(url, "/api/v1/admin/meta/webhook-options/get", &[]).await;
    assert_eq!(answer.json(), json!({}));
    // A list where a struct is expected is still an error.
    let answer = admin_post(
        url,
        "/api/v1/admin/meta/send-test-email",
        &[("EmailOptions", "[]"), ("Recipient", "a@example.com")],
    )
    .await;
    answer.assert_refused(400, "'EmailOptions'");
}

async fn configuration_errors_are_the_callers(url: &str) {
    let options = json!({"Mode": "smtp", "SMTPHost": "", "FromEmail": "a@example.com"});
    let answer = admin_post(
        url,
        "/api/v1/admin/meta/send-test-email",
        &[
            ("EmailOptions", &options.to_string()),
            ("Recipient", "b@example.com"),
        ],
    )
    .await;
    answer.assert_refused(400, "SMTPHost is empty");
}

async fn bad_values_are_quoted_briefly(url: &str) {
    let huge = "9".repeat(300_000) + "z";
    let answer = admin_post(
        url,
        "/api/v1/admin/get-jobs-for-date-range",
        &[("Start", &huge), ("End", "0")],
    )
    .await;
    answer.assert_refused(400, "'Start'");
    assert!(
        answer.message().len() < 1200,
        "{} bytes",
        answer.message().len()
    );
    assert!(answer.message().contains("more characters"));
}

async fn bodies_over_the_endpoint_limit_are_refused(url: &str) {
    let big = "x".repeat(2 * 1024 * 1024);
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/admin/list-users"))
        .form(&[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "admin"),
            ("Filler", big.as_str()),
        ])
        .send()
        .await;
    // The server stops reading past its limit: the client sees the 413, or
    // (still writing) the connection closing.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["Status"], 413);
        assert!(body["Message"].as_str().unwrap().contains("larger than"));
    }
    // A document-carrying call takes a profile of several megabytes.
    let name = "bigprofile";
    admin_post(
        url,
        "/api/v1/admin/add-user",
        &[("TargetUser", name), ("TargetPassword", "password1")],
    )
    .await
    .assert_refused(200, "");
    let mut profile = admin_post(
        url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", name)],
    )
    .await
    .json();
    profile["Notes"] = json!("n".repeat(3 * 1024 * 1024));
    let answer = admin_post(
        url,
        "/api/v1/admin/set-user-profile",
        &[("TargetUser", name), ("ProfileData", &profile.to_string())],
    )
    .await;
    assert_eq!(answer.api_status(), 200, "{}", answer.message());
}

/// Credentials at the start of a large body are checked before the rest is
/// read: a wrong password is answered while the body is still being sent.
async fn strangers_are_refused_before_their_body_is_read(url: &str) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let start = "Username=admin&AuthType=Password&Password=wrong&ProfileData=";
    let mut first = start.as_bytes().to_vec();
    first.extend(std::iter::repeat_n(b'a', 100 * 1024));
    sender.send(Ok(first)).await.unwrap();
    // The sender stays open: the body never ends unless the server waits.
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        reqwest::Client::new()
            .post(format!("{url}/api/v1/admin/set-user-profile"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send(),
    )
    .await
    .expect("answered before the body ended")
    .expect("an answer");
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["Status"], 403, "{answer}");
    drop(sender);
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
