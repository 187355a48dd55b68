//! `IPRateLimit`: a client whose address a rule matches sends and receives
//! no faster than the rule's `BytesPerSecond`, each direction on its own;
//! a client no rule matches is not slowed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const RATE: usize = 100_000;

async fn upload(url: &str, bytes: Vec<u8>) -> String {
    let answer = upload_resource(url, bytes).await;
    answer["ResourceHash"]
        .as_str()
        .expect("uploaded")
        .to_string()
}

#[tokio::test]
async fn a_matching_client_is_held_to_the_rate_each_way() {
    let server = Server::launch(Launch {
        config: Some(json!({"IPRateLimit": {"Rules": [
            {"MatchRegex": "^10\\.", "BytesPerSecond": 1},
            {"MatchRegex": "^127\\.0\\.0\\.1$", "BytesPerSecond": RATE},
        ]}})),
        ..Default::default()
    });
    // Three seconds of data: the bucket holds one, so at least two of waiting.
    let blob: Vec<u8> = (0..3 * RATE).map(|n| (n * 7 % 251) as u8).collect();
    let started = Instant::now();
    let hash = upload(&server.url, blob.clone()).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1800), "uploaded in {took:?}");

    let started = Instant::now();
    let back = admin_post(
        &server.url,
        "/api/v1/admin/meta/resource/get",
        &[("Hash", &hash)],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(back.body, blob);
    assert!(
        took >= Duration::from_millis(1800),
        "downloaded in {took:?}"
    );
}

#[tokio::test]
async fn a_client_no_rule_matches_is_not_slowed() {
    let server = Server::launch(Launch {
        config: Some(json!({"IPRateLimit": {"Rules": [
            {"MatchRegex": "^10\\.", "BytesPerSecond": 1000},
        ]}})),
        ..Default::default()
    });
    // At the rule's rate this would take over a minute.
    let blob = vec![7u8; 100 * 1000];
    let hash = tokio::time::timeout(Duration::from_secs(30), upload(&server.url, blob))
        .await
        .expect("not held to a rule that does not match");
    assert_eq!(hash.len(), 64);
}
