//! Writes never fail because another one ran: eight concurrent writers of
//! each kind (policies, user groups, news, install tokens) while a webhook is
//! configured, so the outbox writes contend too. Every call must answer 200.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const WRITERS_PER_KIND: usize = 8;
/// Long enough for hundreds of overlapping writes; a longer soak is the
/// ignored test below.
const RUN_FOR: Duration = Duration::from_secs(3);

/// One write of kind `kind`, numbered `n` so that `policies/set` writes
/// several IDs and overwrites each one often.
async fn write(url: &str, kind: &str, n: usize) -> Answer {
    match kind {
        "policies/new" => {
            admin_post(
                url,
                "/api/v1/admin/policies/new",
                &[(
                    "Policy",
                    &json!({"Description": format!("p{n}")}).to_string(),
                )],
            )
            .await
        }
        "policies/set" => {
            admin_post(
                url,
                "/api/v1/admin/policies/set",
                &[
                    ("PolicyID", &format!("fixed-{}", n % 3)),
                    (
                        "Policy",
                        &json!({"Description": format!("s{n}")}).to_string(),
                    ),
                ],
            )
            .await
        }
        "user-groups/new" => {
            admin_post(
                url,
                "/api/v1/admin/user-groups/new",
                &[("Name", &format!("g{n}"))],
            )
            .await
        }
        "news/submit" => {
            admin_post(
                url,
                "/api/v1/admin/news/submit",
                &[("NewsContent", &format!("news {n}"))],
            )
            .await
        }
        "install-token" => {
            admin_post(
                url,
                "/api/v1/admin/create-install-token",
                &[("TargetUser", "dan"), ("TargetPassword", "password1")],
            )
            .await
        }
        other => unreachable!("{other}"),
    }
}

async fn hammer(run_for: Duration) {
    let server = Server::start();
    let receiver = WebhookReceiver::start(0).await;
    let hooks = json!({"main": {"URL": receiver.url, "Level": "full"}});
    let set = admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    server
        .admin()
        .admin_add_user("dan", "password1", None, None)
        .await
        .unwrap();

    let kinds = [
        "policies/new",
        "policies/set",
        "user-groups/new",
        "news/submit",
        "install-token",
    ];
    let deadline = Instant::now() + run_for;
    let mut writers = Vec::new();
    for kind in kinds {
        for writer in 0..WRITERS_PER_KIND {
            let url = server.url.clone();
            writers.push(tokio::spawn(async move {
                let (mut done, mut failures) = (0usize, Vec::new());
                while Instant::now() < deadline {
                    let answer = write(&url, kind, writer * 10_000 + done).await;
                    if answer.api_status() != 200 {
                        failures.push(format!("{kind}: {}", answer.message()));
                    }
                    done += 1;
                }
                (kind, done, failures)
            }));
        }
    }
    let mut failures = Vec::new();
    let mut done_per_kind = std::collections::BTreeMap::new();
    for writer in writers {
        let (kind, done, failed) = writer.await.unwrap();
        *done_per_kind.entry(kind).or_insert(0) += done;
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} of the writes failed, first: {:?}",
        failures.len(),
        failures.first()
    );
    for kind in kinds {
        assert!(done_per_kind[kind] >= WRITERS_PER_KIND, "{done_per_kind:?}");
    }

    // What was written is there: every policies/new call made one policy.
    let listed = admin_post(&server.url, "/api/v1/admin/policies/list", &[])
        .await
        .json();
    let fixed = ["fixed-0", "fixed-1", "fixed-2"];
    assert_eq!(
        listed.as_object().unwrap().len(),
        done_per_kind["policies/new"] + fixed.len(),
        "one policy per policies/new plus the three set ones"
    );
    let groups = admin_post(&server.url, "/api/v1/admin/user-groups/list", &[])
        .await
        .json();
    assert_eq!(
        groups.as_object().unwrap().len(),
        done_per_kind["user-groups/new"]
    );
    let news = admin_post(&server.url, "/api/v1/admin/news/get-all", &[])
        .await
        .json();
    assert_eq!(
        news.as_object().unwrap().len(),
        done_per_kind["news/submit"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_with_a_webhook_all_succeed() {
    hammer(RUN_FOR).await;
}

/// The soak: 30 s of the same load (`cargo test -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn concurrent_writers_for_thirty_seconds() {
    hammer(Duration::from_secs(30)).await;
}
