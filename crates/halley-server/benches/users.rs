//! Throughput and latency of the account endpoints on a server holding 10,000
//! users, beside a trivial route of the same server measured in the same run.
//! `meta/version` is measured with a password and with a session key side by
//! side (integrations that start a session and reuse its key must not be the
//! slow ones), and once more with a session key while wrong passwords arrive
//! at about 100 per second (their argon2 cost must not reach signed-in
//! callers; login protection is off, so every one of them runs argon2).
//!
//! `cargo bench -p halley-server --bench users` (optionally `-- USERS REQUESTS CONCURRENCY`).

mod support;

use std::time::{Duration, Instant};

use support::{measure, Measurement};

use halley_api::types::UserProfileConfig;
use halley_client::{Auth, Client};

async fn measure_version(
    name: &'static str,
    client: &Client,
    requests: usize,
    concurrency: usize,
) -> Measurement {
    let client = client.clone();
    measure(
        name,
        requests,
        concurrency,
        |_| (),
        move |()| {
            let client = client.clone();
            async move {
                client.admin_meta_version().await.unwrap();
            }
        },
    )
    .await
}

async fn measure_wrong_hybrid(
    name: &'static str,
    url: &str,
    username: &'static str,
    requests: usize,
) -> Measurement {
    let client = Client::new(url, Auth::password(username, "wrong-password"));
    measure(
        name,
        requests.max(4),
        4,
        |_| (),
        move |()| {
            let client = client.clone();
            async move {
                assert!(client.hybrid_session_start().await.is_err());
            }
        },
    )
    .await
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let users = args.first().copied().unwrap_or(10_000);
    let requests = args.get(1).copied().unwrap_or(4_000);
    let concurrency = args.get(2).copied().unwrap_or(16);

    let data_dir = tempfile::tempdir().unwrap();
    // Without login protection, so the wrong-password flood really runs
    // argon2 instead of being refused cheaply after ten tries.
    std::fs::write(
        data_dir.path().join("cometd.cfg"),
        r#"{"AuthenticationRole": {"RoleEnabled": true}, "LoginProtection": {"Enabled": false}}"#,
    )
    .unwrap();
    let server = support::Halleyd::start(data_dir.path(), &[]);
    let url = server.url.clone();
    let admin = Client::new(&url, Auth::password("admin", "admin"));

    let loading = Instant::now();
    support::load_accounts(&admin, users, 16, |n| UserProfileConfig {
        account_name: format!("Customer {n}"),
        emails: vec![format!("user{n}@example.com")],
        ..Default::default()
    })
    .await;
    println!("loaded {users} users in {:.1?} ({concurrency} concurrent clients, {requests} requests per endpoint)", loading.elapsed());

    let http = reqwest::Client::new();
    let trivial = {
        let http = http.clone();
        let url = url.clone();
        measure(
            "GET /gen/branding.props (trivial)",
            requests,
            concurrency,
            |_| (),
            move |()| {
                let request = http.get(format!("{url}/gen/branding.props"));
                async move {
                    request.send().await.unwrap().bytes().await.unwrap();
                }
            },
        )
        .await
    };
    let version = {
        let admin = admin.clone();
        measure(
            "meta/version (password)",
            requests,
            concurrency,
            |_| (),
            move |()| {
                let admin = admin.clone();
                async move {
                    admin.admin_meta_version().await.unwrap();
                }
            },
        )
        .await
    };
    let key = admin
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    let session = Client::new(&url, Auth::session("admin", &key));
    let version_session = measure_version(
        "meta/version (session key)",
        &session,
        requests,
        concurrency,
    )
    .await;
    let flood = {
        let wrong = Client::new(&url, Auth::password("admin", "wrong-password"));
        tokio::spawn(async move {
            // Dropped with this task: the calls still in flight end with it.
            let mut calls = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tick.tick().await;
                let wrong = wrong.clone();
                calls.spawn(async move { wrong.admin_meta_version().await.ok() });
                while calls.try_join_next().is_some() {}
            }
        })
    };
    let version_flooded = measure_version(
        "meta/version (session, under flood)",
        &session,
        requests,
        concurrency,
    )
    .await;
    let password_flooded = {
        let admin = admin.clone();
        measure(
            "meta/version (password, under flood)",
            requests,
            concurrency,
            |_| (),
            move |()| {
                let admin = admin.clone();
                async move {
                    admin.admin_meta_version().await.unwrap();
                }
            },
        )
        .await
    };
    flood.abort();
    // Let the server work off the verifications the flood left queued.
    let _ = flood.await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // A wrong password answers as fast for an administrator's name as for any
    // other name (the p50s should match).
    let hybrid_admin = measure_wrong_hybrid(
        "hybrid sign-in, admin name, wrong",
        &url,
        "admin",
        requests / 20,
    )
    .await;
    let hybrid_other = measure_wrong_hybrid(
        "hybrid sign-in, other name, wrong",
        &url,
        "nobody",
        requests / 20,
    )
    .await;
    let list = {
        let admin = admin.clone();
        measure(
            "list-users",
            requests / 4,
            concurrency,
            |_| (),
            move |()| {
                let admin = admin.clone();
                async move {
                    assert_eq!(admin.admin_list_users().await.unwrap().len(), users);
                }
            },
        )
        .await
    };
    let get = {
        let admin = admin.clone();
        measure(
            "get-user-profile",
            requests,
            concurrency,
            |w| w,
            move |w| {
                let admin = admin.clone();
                async move {
                    admin
                        .admin_get_user_profile(&format!("user{:05}", (w * 7919) % users))
                        .await
                        .unwrap();
                    w + concurrency
                }
            },
        )
        .await
    };
    let mut hashes = Vec::new();
    for worker in 0..concurrency {
        let got = admin
            .admin_get_user_profile_and_hash(&format!("user{worker:05}"))
            .await
            .unwrap();
        hashes.push((worker, got.profile, got.profile_hash));
    }
    let set = {
        let admin = admin.clone();
        measure(
            "set-user-profile-hash",
            requests,
            concurrency,
            move |w| hashes[w].clone(),
            move |(worker, mut profile, hash)| {
                let admin = admin.clone();
                async move {
                    profile.account_name.push('.');
                    let saved = admin
                        .admin_set_user_profile_hash(&format!("user{worker:05}"), &profile, &hash)
                        .await
                        .unwrap();
                    (worker, saved.profile, saved.profile_hash)
                }
            },
        )
        .await
    };
    drop(server);

    println!();
    println!(
        "{:<36} {:>10} {:>10} {:>10} {:>14}",
        "endpoint", "req/s", "p50", "p99", "vs trivial"
    );
    for m in [
        &trivial,
        &version,
        &version_session,
        &version_flooded,
        &password_flooded,
        &hybrid_admin,
        &hybrid_other,
        &list,
        &get,
        &set,
    ] {
        println!(
            "{:<36} {:>10.0} {:>10.2?} {:>10.2?} {:>13.2}x",
            m.name,
            m.per_second,
            m.p50,
            m.p99,
            m.per_second / trivial.per_second
        );
    }
}
