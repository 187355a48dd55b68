//! Requestable Storage Vaults from a Custom Remote Bucket provider: a real
//! HTTP endpoint started here answers with a `DestinationLocation` (or
//! fails in each way a provider can), and checks what Halley sent it.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use common::*;
use serde_json::{json, Value};

/// What the provider received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    api_key: String,
    content_type: String,
    body: String,
}

/// The provider's endpoint: `/ok` answers a local-path location; the
/// other paths fail as their names say.
async fn provider() -> (String, Arc<Mutex<Vec<Received>>>) {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            log.lock().unwrap().push(Received {
                path: uri.path().to_string(),
                api_key: header("x-api-key"),
                content_type: header("content-type"),
                body: String::from_utf8_lossy(&body).to_string(),
            });
            match uri.path() {
                "/ok" => (
                    StatusCode::OK,
                    json!({"DestinationType": 1002, "LocalcopyPath": "/srv/vaults/new"})
                        .to_string(),
                ),
                "/refuses" => (StatusCode::INTERNAL_SERVER_ERROR, "out of buckets".into()),
                "/not-a-location" => (StatusCode::OK, "hello".into()),
                _ => (StatusCode::OK, json!({"DestinationType": 4242}).to_string()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn custom(id: &str, url: &str, body_type: &str, body: &str) -> Value {
    json!({"ID": id, "Type": "custom", "Description": format!("Provider {id}"),
        "StorageLimitEnabled": true, "StorageLimitBytes": 5_000_000,
        "Custom": {"URL": url, "CustomHeaders": {"X-Api-Key": "k1"},
                   "CustomBody": body, "CustomBodyType": body_type}})
}

async fn request(server: &Server, provider: &str) -> Answer {
    admin_post(
        &server.url,
        "/api/v1/admin/request-storage-vault",
        &[("TargetUser", "eve"), ("StorageProvider", provider)],
    )
    .await
}

async fn profile_hash(server: &Server) -> Value {
    admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile-and-hash",
        &[("TargetUser", "eve")],
    )
    .await
    .json()["ProfileHash"]
        .clone()
}

async fn vault_count(server: &Server) -> usize {
    profile(server, "eve").await["Destinations"]
        .as_object()
        .map_or(0, |all| all.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_remote_bucket_adds_the_vault_it_answers() {
    let server = Server::start();
    new_account(&server, "eve").await;
    let (url, received) = provider().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let options = json!([
        custom("none", &format!("{url}/ok"), "none", ""),
        custom("json", &format!("{url}/ok"), "json", r#"{"plan":"gold"}"#),
        custom("urlencoded", &format!("{url}/ok"), "urlencoded", "plan=gold&size=5"),
        custom("form", &format!("{url}/ok"), "form", "plan=gold&size=5"),
        custom("refuses", &format!("{url}/refuses"), "none", ""),
        custom("garbled", &format!("{url}/not-a-location"), "none", ""),
        custom("strange", &format!("{url}/unknown-type"), "none", ""),
        custom("gone", &closed, "none", ""),
        {"ID": "storj", "Type": "storj", "Description": "Storj"},
    ]);
    admin_post(
        &server.url,
        "/api/v1/admin/meta/remote-storage-vault/set",
        &[("RemoteStorageOptions", &options.to_string())],
    )
    .await
    .assert_refused(200, "OK");

    let listed = admin_post(
        &server.url,
        "/api/v1/admin/request-storage-vault-providers",
        &[],
    )
    .await
    .json();
    assert_eq!(listed["json"], "Provider json", "{listed}");
    assert_eq!(listed.as_object().unwrap().len(), 9);

    // Each body type: the provider gets the headers and the body as
    // declared, and the vault it answers is in the profile.
    for (id, content_type, body) in [
        ("none", "", ""),
        ("json", "application/json", r#"{"plan":"gold"}"#),
        (
            "urlencoded",
            "application/x-www-form-urlencoded",
            "plan=gold&size=5",
        ),
        ("form", "multipart/form-data", "name=\"plan\""),
    ] {
        let answer = request(&server, id).await;
        answer.assert_refused(200, "OK");
        let answer = answer.json();
        let vault_id = answer["DestinationID"].as_str().unwrap().to_string();
        let p = profile(&server, "eve").await;
        let vault = &p["Destinations"][&vault_id];
        assert_eq!(vault["DestinationType"], 1002, "{id}: {p}");
        assert_eq!(vault["LocalcopyPath"], "/srv/vaults/new");
        assert_eq!(vault["Description"], format!("Provider {id}"));
        assert_eq!(vault["StorageLimitBytes"], 5_000_000);
        assert_eq!(answer["ProfileHash"], profile_hash(&server).await);
        let got = received.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (got.path.as_str(), got.api_key.as_str()),
            ("/ok", "k1"),
            "{id}"
        );
        assert!(got.content_type.starts_with(content_type), "{id}: {got:?}");
        assert!(got.body.contains(body), "{id}: {got:?}");
    }

    // Every failure names the provider and changes nothing.
    let before = vault_count(&server).await;
    for (id, status, needle) in [
        ("refuses", 502, "answered HTTP 500"),
        ("garbled", 502, "not a DestinationLocation"),
        ("strange", 502, "unknown DestinationType 4242"),
        ("gone", 502, "could not be reached"),
        ("storj", 501, "type 'storj'"),
        ("nope", 400, "no Storage Vault provider 'nope'"),
    ] {
        let refused = request(&server, id).await;
        refused.assert_refused(status, needle);
        if !["nope", "storj"].contains(&id) {
            assert!(refused.message().contains(&format!("Provider {id}")));
        }
    }
    assert_eq!(vault_count(&server).await, before);

    // A test of a provider keeps nothing.
    admin_post(
        &server.url,
        "/api/v1/admin/meta/remote-storage-vault/test",
        &[("TemplateOptions", &options[1].to_string())],
    )
    .await
    .assert_refused(200, "OK");
    admin_post(
        &server.url,
        "/api/v1/admin/meta/remote-storage-vault/test",
        &[("TemplateOptions", &options[4].to_string())],
    )
    .await
    .assert_refused(502, "answered HTTP 500");
    assert_eq!(vault_count(&server).await, before);

    // The account holder: the same providers, a stale ProfileHash refused,
    // and the policy honoured.
    let as_eve = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let url = server.url.clone();
        async move {
            let mut all = vec![
                ("Username", "eve".to_string()),
                ("AuthType", "Password".into()),
                ("Password", "password1".into()),
            ];
            all.extend(fields);
            let fields: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&url, path, &fields).await
        }
    };
    let own = as_eve("/api/v1/user/web/request-storage-vault-providers", vec![])
        .await
        .json();
    assert_eq!(own["form"], "Provider form", "{own}");
    as_eve(
        "/api/v1/user/web/request-storage-vault",
        vec![
            ("StorageProvider", "json".into()),
            ("ProfileHash", "stale".into()),
        ],
    )
    .await
    .assert_refused(409, "ProfileHash");
    let hash = profile_hash(&server).await;
    let mine = as_eve(
        "/api/v1/user/web/request-storage-vault",
        vec![
            ("StorageProvider", "json".into()),
            ("ProfileHash", hash.as_str().unwrap_or("").to_string()),
        ],
    )
    .await;
    mine.assert_refused(200, "OK");
    assert_eq!(vault_count(&server).await, before + 1);
    let mut p = profile(&server, "eve").await;
    p["Policy"]["PreventRequestStorageVault"] = json!(true);
    set_profile(&server, "eve", &p).await;
    as_eve(
        "/api/v1/user/web/request-storage-vault",
        vec![("StorageProvider", "json".into())],
    )
    .await
    .assert_refused(403, "PreventRequestStorageVault");
    request(&server, "json").await.assert_refused(200, "OK");
}
