//! Login protection keys on the (account, address) pair plus a budget per
//! address, and takes the address from `X-Forwarded-For` only as written by
//! a trusted proxy (the right-most hop that is not one).

mod common;

use common::*;
use serde_json::json;

const PROFILE: &str = "/api/v1/user/web/get-user-profile-and-hash";
const THRESHOLD: usize = 3;
/// `auth::throttle::ADDRESS_BUDGET_FACTOR` x `THRESHOLD`.
const ADDRESS_BUDGET: usize = 10 * THRESHOLD;

/// A server behind a "proxy" on loopback: every test request comes from
/// 127.0.0.1, a trusted proxy, so `X-Forwarded-For` says who the client is.
async fn behind_a_proxy() -> Server {
    let server = Server::launch(Launch {
        config: Some(json!({
            "TrustXForwardedFor": true,
            "TrustedProxies": ["127.0.0.1", "192.0.2.0/24"],
            "LoginProtection": {"Enabled": true, "FailureThreshold": THRESHOLD, "CooldownSeconds": 300},
        })),
        ..Default::default()
    });
    let added = admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[("TargetUser", "alice"), ("TargetPassword", "alicepass1")],
    )
    .await;
    assert_eq!(added.api_status(), 200, "{}", added.message());
    server
}

/// Signs in as `username` through the proxy, which appends `forwarded`.
async fn sign_in(server: &Server, username: &str, password: &str, forwarded: &str) -> i64 {
    let response = reqwest::Client::new()
        .post(format!("{}{PROFILE}", server.url))
        .header("X-Forwarded-For", forwarded)
        .form(&[
            ("Username", username),
            ("AuthType", "Password"),
            ("Password", password),
        ])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["Status"].as_i64().expect("a Status")
}

#[tokio::test]
async fn one_address_locks_only_itself_out_of_an_account() {
    let server = behind_a_proxy().await;
    let attacker = "203.0.113.66";
    for _ in 0..THRESHOLD {
        assert_eq!(sign_in(&server, "alice", "wrong", attacker).await, 403);
    }
    assert_eq!(sign_in(&server, "alice", "alicepass1", attacker).await, 429);
    assert_eq!(
        sign_in(&server, "alice", "alicepass1", "198.51.100.2").await,
        200,
        "the account still opens from a clean address"
    );
}

#[tokio::test]
async fn forged_hops_neither_lock_a_victim_nor_escape_throttling() {
    let server = behind_a_proxy().await;
    let victim = "198.51.100.77";
    let attacker = "203.0.113.66";
    // The attacker writes the victim's address in the header; the proxy
    // appends the attacker's own.
    let forged = format!("{victim}, {attacker}");
    for _ in 0..THRESHOLD {
        assert_eq!(sign_in(&server, "alice", "wrong", &forged).await, 403);
    }
    assert_eq!(sign_in(&server, "alice", "alicepass1", victim).await, 200);
    assert_eq!(sign_in(&server, "alice", "alicepass1", &forged).await, 429);

    // Rotating the forged part, over as many names as it likes, spends one
    // address budget: the right-most untrusted hop stays the same.
    let sprayer = "203.0.113.99";
    for n in 0..ADDRESS_BUDGET {
        let rotated = format!("10.{}.{}.1, {sprayer}, 192.0.2.10", n / 250, n % 250);
        let status = sign_in(&server, &format!("guess{n}"), "wrong", &rotated).await;
        assert_eq!(status, 403, "attempt {n}");
    }
    let next = format!("10.99.99.1, {sprayer}");
    assert_eq!(sign_in(&server, "guess-next", "wrong", &next).await, 429);
    assert_eq!(sign_in(&server, "alice", "alicepass1", &next).await, 429);
}
