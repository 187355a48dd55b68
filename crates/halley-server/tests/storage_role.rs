//! The Storage Role: buckets through the API (`storage/*`) and their data
//! through the bucket data protocol, and an agent backing up into a bucket
//! of a second `halleyd` and restoring from it.

mod common;

use common::agent::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn storage_role_config(extra: Value) -> Value {
    let mut config = json!({
        "StorageRole": {"RoleEnabled": true},
        "AuthenticationRole": {"RoleEnabled": true},
        "LoginProtection": {"Enabled": true, "FailureThreshold": 5, "CooldownSeconds": 300},
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    config
}

/// A new bucket's ID and key.
async fn new_bucket(server: &Server) -> (String, String) {
    let made = storage(server, "register-bucket", &[]).await.json();
    let field = |name: &str| {
        made[name]
            .as_str()
            .unwrap_or_else(|| panic!("{made}"))
            .to_string()
    };
    (field("NewBucketID"), field("NewBucketKey"))
}

async fn bucket_count(server: &Server) -> usize {
    storage(server, "list-buckets", &[])
        .await
        .json()
        .as_object()
        .unwrap()
        .len()
}

fn storage_server() -> Server {
    Server::launch(Launch {
        config: Some(storage_role_config(json!({}))),
        ..Launch::default()
    })
}

async fn storage(server: &Server, call: &str, fields: &[(&str, &str)]) -> Answer {
    admin_post(
        &server.url,
        &format!("/api/v1/admin/storage/{call}"),
        fields,
    )
    .await
}

/// A request of the bucket data protocol.
fn object(
    server: &Server,
    method: reqwest::Method,
    bucket: &str,
    key: &str,
    credentials: (&str, &str),
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/bucket/v1/{bucket}/{key}", server.url))
        .basic_auth(credentials.0, Some(credentials.1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_registered_listed_measured_and_deleted() {
    let server = storage_server();
    let (mut stream, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;

    // A random bucket: its ID and key are answered once, and an event says so.
    let made = storage(&server, "register-bucket", &[]).await.json();
    assert_eq!(made["Status"], 200, "{made}");
    let id = made["NewBucketID"].as_str().unwrap().to_string();
    let key = made["NewBucketKey"].as_str().unwrap().to_string();
    assert_eq!((id.len(), key.len()), (32, 32));
    let event = event_where(&mut stream, |e| e["Type"] == 4300).await;
    assert_eq!(event["ResourceID"], id.as_str());

    // The caller's own ID and key (plain text, or an argon2id hash).
    let chosen = storage(
        &server,
        "register-bucket",
        &[
            ("SetBucketValue", "chosen-1"),
            ("SetKeyHashFormat", "0"),
            ("SetKeyHashValue", "sesame"),
            ("SetQuotaBytes", "1000"),
        ],
    )
    .await
    .json();
    assert_eq!(chosen["NewBucketID"], "chosen-1");
    storage(
        &server,
        "register-bucket",
        &[("SetBucketValue", "chosen-1"), ("SetKeyHashValue", "x")],
    )
    .await
    .assert_refused(400, "exists already");
    storage(
        &server,
        "register-bucket",
        &[("SetKeyHashFormat", "7"), ("SetKeyHashValue", "x")],
    )
    .await
    .assert_refused(400, "SetKeyHashFormat");
    storage(&server, "register-bucket", &[("SetBucketValue", "../up")])
        .await
        .assert_refused(400, "not a bucket ID");

    // The listing has the SDKs' types, and no key hash.
    let listed = storage(&server, "list-buckets", &[]).await.json();
    let properties = &listed[&id];
    assert_eq!(properties["ReadWriteKey"], "", "{listed}");
    assert_eq!(properties["ReadWriteKeyFormat"], 80);
    assert_eq!(properties["OrganizationID"], "");
    assert!(properties["CreateTime"].as_i64().unwrap() > 0);
    assert!(properties["Size"]["Size"].is_i64());
    assert!(properties["Size"]["MeasureCompleted"].is_i64());
    // Exactly the fields and types of the SDKs' BucketProperties, which the
    // Go and Ruby SDKs decode strictly.
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(properties),
        [
            "CreateTime",
            "OrganizationID",
            "ReadWriteKey",
            "ReadWriteKeyFormat",
            "Size"
        ]
    );
    assert_eq!(
        keys(&properties["Size"]),
        ["MeasureCompleted", "MeasureStarted", "Size"]
    );
    assert!(listed["chosen-1"].is_object());

    // The protocol: write, read whole and a range, list, refuse a second
    // create-only write, delete.
    let own = (id.as_str(), key.as_str());
    let put = object(&server, reqwest::Method::PUT, &id, "data/ab/one", own)
        .body(b"0123456789".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let got = object(&server, reqwest::Method::GET, &id, "data/ab/one", own)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"0123456789");
    let part = object(&server, reqwest::Method::GET, &id, "data/ab/one", own)
        .header("Range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"234");
    let again = object(&server, reqwest::Method::PUT, &id, "data/ab/one", own)
        .header("If-None-Match", "*")
        .body(b"other".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::PRECONDITION_FAILED);
    let listing: Value = object(&server, reqwest::Method::GET, &id, "", own)
        .query(&[("prefix", "data/")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing, json!([{"key": "data/ab/one", "size": 10}]));
    let bad_key = object(
        &server,
        reqwest::Method::GET,
        &id,
        "data/../../cometd.cfg",
        own,
    )
    .send()
    .await
    .unwrap();
    assert!(bad_key.status().is_client_error());
    let outside = object(&server, reqwest::Method::GET, &id, "", own)
        .query(&[("prefix", "../")])
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::BAD_REQUEST);
    let folder = object(&server, reqwest::Method::GET, &id, "data/ab", own)
        .send()
        .await
        .unwrap();
    assert_eq!(folder.status(), StatusCode::NOT_FOUND);

    // The size, measured when asked for a measurement after a time.
    let now = unix_now().to_string();
    let measured = storage(
        &server,
        "bucket-properties",
        &[("BucketID", &id), ("AfterTimestamp", &now)],
    )
    .await
    .json();
    assert_eq!(measured["Size"]["Size"], 10, "{measured}");

    // A bucket over its quota refuses the write and keeps what it had.
    let sesame = ("chosen-1", "sesame");
    let full = object(
        &server,
        reqwest::Method::PUT,
        "chosen-1",
        "data/big",
        sesame,
    )
    .body(vec![1u8; 1500])
    .send()
    .await
    .unwrap();
    assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(full.text().await.unwrap().contains("quota of 1000 bytes"));
    let free = storage(&server, "free-space", &[("BucketID", "chosen-1")])
        .await
        .json();
    assert_eq!(free["AvailableBytes"], 1000, "{free}");
    assert_eq!(free["Unlimited"], false);

    // Wrong keys are refused, and throttled like wrong passwords; the
    // right key from elsewhere still works meanwhile.
    for _ in 0..5 {
        let wrong = object(
            &server,
            reqwest::Method::GET,
            &id,
            "data/ab/one",
            (&id, "nope"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = object(&server, reqwest::Method::GET, &id, "data/ab/one", own)
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let stranger = object(
        &server,
        reqwest::Method::GET,
        "no-such",
        "data/x",
        ("no-such", "k"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);

    // Deleting removes the record and the files.
    storage(&server, "delete-bucket", &[("BucketID", &id)])
        .await
        .assert_refused(200, "OK");
    let event = event_where(&mut stream, |e| e["Type"] == 4301).await;
    assert_eq!(event["ResourceID"], id.as_str());
    assert!(!server.data_dir.join("buckets").join(&id).exists());
    storage(&server, "bucket-properties", &[("BucketID", &id)])
        .await
        .assert_refused(400, "No bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_belong_to_their_tenant_and_need_the_role() {
    let server = storage_server();
    let org = create_tenant(&server, "Acme").await;
    create_tenant_admin(&server, &org, "acme-admin", "password1").await;
    let as_tenant = |call: &'static str, fields: Vec<(&'static str, String)>| {
        let url = server.url.clone();
        async move {
            let mut all = vec![
                ("Username", "acme-admin".to_string()),
                ("AuthType", "Password".to_string()),
                ("Password", "password1".to_string()),
            ];
            all.extend(fields);
            let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&url, &format!("/api/v1/admin/storage/{call}"), &borrowed).await
        }
    };
    let theirs = as_tenant("register-bucket", vec![]).await.json();
    let their_id = theirs["NewBucketID"].as_str().unwrap().to_string();
    let (our_id, _) = new_bucket(&server).await;

    // The tenant sees its own bucket only; ours answers as a missing one.
    let listed = as_tenant("list-buckets", vec![]).await.json();
    assert_eq!(listed[&their_id]["OrganizationID"], org.as_str());
    assert!(listed.get(&our_id).is_none(), "{listed}");
    let missing = as_tenant("bucket-properties", vec![("BucketID", "absent".into())]).await;
    let foreign = as_tenant("bucket-properties", vec![("BucketID", our_id.clone())]).await;
    assert_eq!(
        missing.json()["Message"]
            .as_str()
            .unwrap()
            .replace("absent", "X"),
        foreign.json()["Message"]
            .as_str()
            .unwrap()
            .replace(&our_id, "X")
    );
    as_tenant("delete-bucket", vec![("BucketID", our_id.clone())])
        .await
        .assert_refused(400, "No bucket");
    as_tenant(
        "register-bucket",
        vec![("SetOrganizationID", String::new())],
    )
    .await
    .assert_refused(400, "SetOrganizationID");
    // A top-level administrator may place a bucket in a tenant.
    let placed = storage(&server, "register-bucket", &[("SetOrganizationID", &org)])
        .await
        .json();
    let placed_id = placed["NewBucketID"].as_str().unwrap();
    assert_eq!(
        as_tenant("list-buckets", vec![]).await.json()[placed_id]["OrganizationID"],
        org.as_str()
    );

    // With the role off, the endpoints and the protocol refuse by name.
    let mut config = server_config(&server).await;
    config["StorageRole"]["RoleEnabled"] = json!(false);
    set_server_config(&server, &config).await;
    storage(&server, "list-buckets", &[])
        .await
        .assert_refused(403, "Storage");
    let off = object(&server, reqwest::Method::HEAD, &our_id, "", (&our_id, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), StatusCode::FORBIDDEN);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn server_config(server: &Server) -> Value {
    admin_post(&server.url, "/api/v1/admin/meta/server-config/get", &[])
        .await
        .json()
}

async fn set_server_config(server: &Server, config: &Value) {
    server.set_config(config).await.assert_refused(200, "OK");
}

fn bucket_vault(server: &Server, bucket: &str, key: &str) -> Value {
    json!({"Description": "hosted", "DestinationType": 1003,
           "CometServer": format!("{}/", server.url), "CometBucket": bucket,
           "CometBucketKey": key})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_backs_up_into_a_bucket_of_another_server_and_restores() {
    let server = Server::start();
    let storage = storage_server();
    new_account(&server, "ada").await;
    let agent = Agent::login(&server.url, "ada");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    make_tree(&tree);
    std::fs::write(tree.join("noise.bin"), noise(600 * 1024)).unwrap();

    let (bucket, key) = new_bucket(&storage).await;
    let small = self::storage(&storage, "register-bucket", &[("SetQuotaBytes", "100000")])
        .await
        .json();
    let mut p = profile(&server, "ada").await;
    p["Destinations"] = json!({
        "hosted": bucket_vault(&storage, &bucket, &key),
        "wrong-key": bucket_vault(&storage, &bucket, "not-the-key"),
        "small": bucket_vault(&storage, small["NewBucketID"].as_str().unwrap(),
                              small["NewBucketKey"].as_str().unwrap()),
    });
    p["Sources"] = json!({"files": file_item(&agent.device_id(), &tree)});
    set_profile(&server, "ada", &p).await;

    // Back up and restore byte-identical.
    let out = agent.output_within(&["backup", "--item", "files", "--vault", "hosted"], 120);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = data.path().join("restored");
    let out = agent.output_within(
        &[
            "restore",
            "--item",
            "files",
            "--vault",
            "hosted",
            "--target",
            target.to_str().unwrap(),
        ],
        120,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = target.join(tree.strip_prefix("/").unwrap());
    for file in ["top.txt", "a/b/deep.bin", "noise.bin"] {
        assert!(
            std::fs::read(restored.join(file)).unwrap() == std::fs::read(tree.join(file)).unwrap(),
            "{file} differs"
        );
    }
    // The bucket holds the vault, and its size says so.
    let now = unix_now().to_string();
    let measured = self::storage(
        &storage,
        "bucket-properties",
        &[("BucketID", &bucket), ("AfterTimestamp", &now)],
    )
    .await
    .json();
    assert!(
        measured["Size"]["Size"].as_i64().unwrap() > 600 * 1024,
        "{measured}"
    );

    // A wrong key fails the job and names the refusal.
    let out = agent.output_within(&["backup", "--item", "files", "--vault", "wrong-key"], 60);
    assert!(!out.status.success());
    let failed = job_where(&server, "ada", 10, |j| {
        j["DestinationGUID"] == "wrong-key" && j["Status"] == 7002
    })
    .await;
    let log = log_text(&server, failed["GUID"].as_str().unwrap()).await;
    assert!(log.contains("refused"), "{log}");

    // A bucket over its quota stops the job with 7003.
    let out = agent.output_within(&["backup", "--item", "files", "--vault", "small"], 60);
    assert!(!out.status.success());
    let full = job_where(&server, "ada", 10, |j| j["DestinationGUID"] == "small").await;
    assert_eq!(full["Status"], 7003, "{full}");
    let log = log_text(&server, full["GUID"].as_str().unwrap()).await;
    assert!(log.contains("quota of 100000 bytes"), "{log}");
}

async fn request_vault(server: &Server, provider: &str, extra: &[(&str, &str)]) -> Answer {
    let mut fields = vec![("TargetUser", "bob"), ("StorageProvider", provider)];
    fields.extend_from_slice(extra);
    admin_post(&server.url, "/api/v1/admin/request-storage-vault", &fields).await
}

/// B2's account authorisation, answering `s3` as the account's S3 address
/// to the key `test`/`app-key` only.
async fn b2_authorizer(s3: &str) -> String {
    let s3 = s3.to_string();
    let app = axum::Router::new().route(
        "/b2api/v2/b2_authorize_account",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let s3 = s3.clone();
            async move {
                // base64("test:app-key")
                if headers
                    .get("authorization")
                    .is_some_and(|v| v == "Basic dGVzdDphcHAta2V5")
                {
                    (
                        StatusCode::OK,
                        json!({"s3ApiUrl": s3, "apiUrl": "unused"}).to_string(),
                    )
                } else {
                    (StatusCode::UNAUTHORIZED, "{}".to_string())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_role_and_s3_providers_hand_out_vaults() {
    let server = storage_server();
    let other = storage_server();
    let s3 = common::s3::S3Server::start("providers").await;
    new_account(&server, "bob").await;
    let mut providers = vec![
        json!({"ID": "own", "Type": "comet", "Description": "This server",
               "StorageLimitEnabled": true, "StorageLimitBytes": 5000}),
        json!({"ID": "other", "Type": "comet", "Description": "Other server",
               "RemoteAddress": other.url, "Username": "admin", "Password": "admin"}),
        json!({"ID": "wrong", "Type": "comet", "Description": "Wrong password",
               "RemoteAddress": other.url, "Username": "admin", "Password": "nope"}),
        json!({"ID": "no-bucket", "Type": "s3", "Description": "No bucket",
               "S3": {"S3Endpoint": "http://127.0.0.1:9", "AccessKey": "a", "SecretKey": "b"}}),
    ];
    if let Some(s3) = &s3 {
        providers.push(json!({"ID": "s3", "Type": "s3", "Description": "Moto",
            "S3": {"S3Endpoint": s3.endpoint, "MasterBucket": "providers", "Prefix": "tenants",
                   "AccessKey": "test", "SecretKey": "test"}}));
        let b2 = b2_authorizer(&s3.endpoint).await;
        for (id, key) in [("b2", "app-key"), ("b2-wrong", "other")] {
            providers.push(
                json!({"ID": id, "Type": "b2", "Description": "B2", "RemoteAddress": b2,
                "B2": {"KeyID": "test", "AppKey": key, "MasterBucket": "providers"}}),
            );
        }
    }
    admin_post(
        &server.url,
        "/api/v1/admin/meta/remote-storage-vault/set",
        &[("RemoteStorageOptions", &Value::from(providers).to_string())],
    )
    .await
    .assert_refused(200, "OK");

    // This server's own Storage Role: a bucket of the account's tenant,
    // with the provider's quota, at the address the caller gives.
    request_vault(&server, "own", &[])
        .await
        .assert_refused(400, "SelfAddress");
    let own = request_vault(&server, "own", &[("SelfAddress", &server.url)])
        .await
        .json();
    assert_eq!(own["Status"], 200, "{own}");
    let vault =
        &profile(&server, "bob").await["Destinations"][own["DestinationID"].as_str().unwrap()];
    assert_eq!(vault["DestinationType"], 1003);
    assert_eq!(vault["CometServer"], format!("{}/", server.url));
    assert_eq!(vault["StorageLimitBytes"], 5000);
    let bucket = vault["CometBucket"].as_str().unwrap();
    let opened = object(
        &server,
        reqwest::Method::HEAD,
        bucket,
        "",
        (bucket, vault["CometBucketKey"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(opened.status(), StatusCode::NO_CONTENT);
    let free = storage(&server, "free-space", &[("BucketID", bucket)])
        .await
        .json();
    assert_eq!(free["AvailableBytes"], 5000, "{free}");

    // Another server's Storage Role, through its register-bucket.
    let remote = request_vault(&server, "other", &[]).await.json();
    assert_eq!(remote["Status"], 200, "{remote}");
    let vault =
        &profile(&server, "bob").await["Destinations"][remote["DestinationID"].as_str().unwrap()];
    assert_eq!(vault["CometServer"], format!("{}/", other.url));
    let on_other = storage(&other, "list-buckets", &[]).await.json();
    assert!(
        on_other[vault["CometBucket"].as_str().unwrap()].is_object(),
        "{on_other}"
    );

    // Failures name the provider and change nothing.
    let before = profile(&server, "bob").await["Destinations"]
        .as_object()
        .unwrap()
        .len();
    request_vault(&server, "wrong", &[])
        .await
        .assert_refused(502, "'Wrong password' at");
    request_vault(&server, "no-bucket", &[])
        .await
        .assert_refused(400, "MasterBucket");
    assert_eq!(
        profile(&server, "bob").await["Destinations"]
            .as_object()
            .unwrap()
            .len(),
        before
    );
    // A test makes nothing: the other server keeps its one bucket.
    let test = |option: Value| {
        let url = server.url.clone();
        async move {
            admin_post(
                &url,
                "/api/v1/admin/meta/remote-storage-vault/test",
                &[("TemplateOptions", &option.to_string())],
            )
            .await
        }
    };
    test(
        json!({"Type": "comet", "Description": "Other", "RemoteAddress": other.url,
                "Username": "admin", "Password": "admin"}),
    )
    .await
    .assert_refused(200, "OK");
    test(
        json!({"Type": "comet", "Description": "Other", "RemoteAddress": other.url,
                "Username": "admin", "Password": "nope"}),
    )
    .await
    .assert_refused(502, "refused storage/list-buckets");
    assert_eq!(bucket_count(&other).await, 1);

    // S3: a folder of its own in the provider's bucket, checked first.
    if let Some(s3) = &s3 {
        let made = request_vault(&server, "s3", &[]).await.json();
        assert_eq!(made["Status"], 200, "{made}");
        let vault =
            &profile(&server, "bob").await["Destinations"][made["DestinationID"].as_str().unwrap()];
        assert_eq!(vault["DestinationType"], 1000);
        assert_eq!(vault["S3BucketName"], "providers");
        assert_eq!(vault["S3Server"], s3.endpoint.as_str());
        assert!(vault["S3Subdir"]
            .as_str()
            .unwrap()
            .starts_with("tenants/halley-"));

        // B2: its S3 address is asked for with the key, then as above.
        let made = request_vault(&server, "b2", &[]).await.json();
        assert_eq!(made["Status"], 200, "{made}");
        let vault =
            &profile(&server, "bob").await["Destinations"][made["DestinationID"].as_str().unwrap()];
        assert_eq!(vault["S3Server"], s3.endpoint.as_str());
        assert_eq!(vault["S3AccessKey"], "test");
        request_vault(&server, "b2-wrong", &[])
            .await
            .assert_refused(502, "refused the key");
    }

    // An account holder is held to the policy's providers; the
    // administrator above was not.
    let mut p = profile(&server, "bob").await;
    p["Policy"]["StorageVaultProviders"] =
        json!({"ShouldRestrictProviderList": true, "AllowedProvidersWhenRestricted": [1002]});
    set_profile(&server, "bob", &p).await;
    post_form(
        &server.url,
        "/api/v1/user/web/request-storage-vault",
        &[
            ("Username", "bob"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("StorageProvider", "other"),
        ],
    )
    .await
    .assert_refused(403, "StorageVaultProviders");
    assert_eq!(bucket_count(&other).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constellation_reports_unused_buckets_and_prunes_them_on_request_only() {
    let storage = storage_server();
    let overseer = Server::launch(Launch {
        config: Some(json!({"ConstellationRole": {"RoleEnabled": true}})),
        ..Launch::default()
    });
    new_account(&storage, "carol").await;
    let (used, _) = new_bucket(&storage).await;
    let (unused, _) = new_bucket(&storage).await;
    let mut p = profile(&storage, "carol").await;
    p["Destinations"] = json!({"hosted": bucket_vault(&storage, &used, "k")});
    set_profile(&storage, "carol", &p).await;

    let configure = |delete: bool| {
        let (url, storage_url) = (overseer.url.clone(), storage.url.clone());
        async move {
            let options = json!({"RoleEnabled": true, "DeleteUnusedData": delete,
                "Servers": [{"Type": "comet", "Description": "main", "RemoteAddress": storage_url,
                             "Username": "admin", "Password": "admin"}]});
            admin_post(
                &url,
                "/api/v1/admin/meta/constellation/config/set",
                &[("ConstellationRoleOptions", &options.to_string())],
            )
            .await
            .assert_refused(200, "OK");
        }
    };
    let call = |path: &'static str| {
        let url = overseer.url.clone();
        async move { admin_post(&url, &format!("/api/v1/admin/constellation/{path}"), &[]).await }
    };
    configure(false).await;

    let report = call("new-report").await.json();
    assert_eq!(
        report["Usage"][&used]["InUseBy"],
        json!([{"ServerID": 0, "Username": "carol"}]),
        "{report}"
    );
    assert_eq!(report["Usage"][&used]["ExistsOnServers"], json!([0]));
    assert_eq!(report["Usage"][&unused]["InUseBy"], json!([]));
    assert_eq!(report["Usage"][&used]["AccessKey"], "");
    assert_eq!(call("last-report").await.json(), report);

    // Nothing is deleted while DeleteUnusedData is off.
    call("prune-now")
        .await
        .assert_refused(400, "DeleteUnusedData");
    configure(true).await;
    let status = call("status").await.json();
    assert_eq!(status["DeletionEnabled"], true);
    assert_eq!(status["Targets"], json!([storage.url]));
    assert_eq!(status["Stats"]["TotalChecksStarted"], 1);
    call("prune-now").await.assert_refused(200, "1 unused");
    let left = self::storage(&storage, "list-buckets", &[]).await.json();
    assert!(
        left.get(&used).is_some() && left.get(&unused).is_none(),
        "{left}"
    );
    assert_eq!(
        call("status").await.json()["Stats"]["TotalBucketsDeleted"],
        1
    );

    // A server that cannot be asked stops the prune: it might be the one
    // whose accounts use a bucket.
    let options = json!({"RoleEnabled": true, "DeleteUnusedData": true,
        "Servers": [{"Type": "comet", "RemoteAddress": storage.url, "Username": "admin", "Password": "admin"},
                    {"Type": "comet", "RemoteAddress": "http://127.0.0.1:9", "Username": "a", "Password": "b"}]});
    admin_post(
        &overseer.url,
        "/api/v1/admin/meta/constellation/config/set",
        &[("ConstellationRoleOptions", &options.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    call("prune-now")
        .await
        .assert_refused(502, "Constellation server 1");
    assert!(self::storage(&storage, "list-buckets", &[])
        .await
        .json()
        .get(&used)
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_replicated_to_another_storage_role_server() {
    let replica = storage_server();
    let primary = Server::launch(Launch {
        config: Some(storage_role_config(
            json!({"StorageRole": {"RoleEnabled": true,
            "ReplicateTo": [{"Type": "comet", "Description": "replica", "RemoteAddress": replica.url,
                             "Username": "admin", "Password": "admin"}]}}),
        )),
        ..Launch::default()
    });
    let (id, key) = new_bucket(&primary).await;
    let own = (id.as_str(), key.as_str());
    let big = noise(300 * 1024);
    for (name, body) in [("data/one", big.clone()), ("index/two", b"two".to_vec())] {
        let put = object(&primary, reqwest::Method::PUT, &id, name, own)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::NO_CONTENT);
    }

    // The replica gets the bucket, under the same key, and both objects.
    let state = wait_for_replication(&primary, |s| s["ItemsReplicated"] == 2).await;
    assert_eq!(state["RemoteServerID"], replica.url.as_str());
    assert_eq!(state["DisplayClass"], 100);
    assert_eq!(state["BytesReplicated"], 300 * 1024 + 3);
    let copied = object(&replica, reqwest::Method::GET, &id, "data/one", own)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), StatusCode::OK);
    assert!(copied.bytes().await.unwrap().as_ref() == big.as_slice());

    // A deletion reaches the replica too.
    object(&primary, reqwest::Method::DELETE, &id, "index/two", own)
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let gone = object(&replica, reqwest::Method::GET, &id, "index/two", own)
            .send()
            .await
            .unwrap();
        if gone.status() == StatusCode::NOT_FOUND {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not deleted on the replica"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Waits until the first replication target's state `matches`.
async fn wait_for_replication(server: &Server, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let states = admin_post(&server.url, "/api/v1/admin/replication/state", &[])
            .await
            .json();
        if matches(&states[0]) && states[0]["State"] == 4 {
            return states[0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replication state: {states}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_on_s3_storage_behind_the_server_convert_to_direct_s3_vaults() {
    let Some(s3) = common::s3::S3Server::start("behind").await else {
        return;
    };
    let server = Server::launch(Launch {
        config: Some(storage_role_config(
            json!({"StorageRole": {"RoleEnabled": true,
            "Storage": {"DestinationType": 1000, "S3Server": s3.endpoint, "S3BucketName": "behind",
                        "S3Subdir": "hosted", "S3AccessKey": "test", "S3SecretKey": "test"}}}),
        )),
        ..Launch::default()
    });
    new_account(&server, "dan").await;
    let made = storage(&server, "register-bucket", &[("SetQuotaBytes", "400000")])
        .await
        .json();
    let (id, key) = (
        made["NewBucketID"].as_str().unwrap().to_string(),
        made["NewBucketKey"].as_str().unwrap().to_string(),
    );
    let own = (id.as_str(), key.as_str());
    let put = object(&server, reqwest::Method::PUT, &id, "data/x", own)
        .body(b"behind the server".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let part = object(&server, reqwest::Method::GET, &id, "data/x", own)
        .header("Range", "bytes=7-9")
        .send()
        .await
        .unwrap();
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"the");
    let over = object(&server, reqwest::Method::PUT, &id, "data/y", own)
        .body(vec![0u8; 500_000])
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), StatusCode::INSUFFICIENT_STORAGE);

    // A vault written by the command line through the bucket's address.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("file.txt"), b"kept in a bucket").unwrap();
    let address = server.url.replacen("http://", "halley://", 1);
    let through_bucket = |args: &[&str]| {
        let out = vault_cli()
            .args(["--repo", &format!("{address}/{id}")])
            .args(args)
            .env("HALLEY_BUCKET_KEY", &key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    through_bucket(&["init", "--kdf-memory-kib", "1024"]);
    through_bucket(&["backup", data.path().to_str().unwrap()]);

    let mut p = profile(&server, "dan").await;
    p["Destinations"] = json!({"hosted": bucket_vault(&server, &id, &key),
                               "local": local_vault(std::path::Path::new("/tmp/x"))});
    set_profile(&server, "dan", &p).await;
    let convert = |destination: &'static str| {
        let url = server.url.clone();
        async move {
            admin_post(
                &url,
                "/api/v1/admin/convert-storage-role",
                &[("TargetUser", "dan"), ("DestinationId", destination)],
            )
            .await
        }
    };
    convert("local")
        .await
        .assert_refused(400, "not a Storage Role bucket");
    let converted = convert("hosted").await.json();
    assert_eq!(converted["Status"], 200, "{converted}");
    let vault = &profile(&server, "dan").await["Destinations"]["hosted"];
    assert_eq!(vault["DestinationType"], 1000);
    assert_eq!(vault["Description"], "hosted");
    assert_eq!(vault["S3Subdir"], format!("hosted/{id}"));
    assert!(
        vault.get("CometBucketKey").is_none_or(|k| k == ""),
        "{vault}"
    );
    // The same vault, now read from the S3 bucket itself.
    let restored = tempfile::tempdir().unwrap();
    let out = vault_cli()
        .args([
            "--repo",
            &format!("s3://behind/hosted/{id}"),
            "restore",
            "latest",
            "--target",
        ])
        .arg(restored.path())
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = restored
        .path()
        .join(data.path().strip_prefix("/").unwrap())
        .join("file.txt");
    assert_eq!(std::fs::read(file).unwrap(), b"kept in a bucket");
}

/// The `halley-vault` command line, built beside `halleyd`.
fn vault_cli() -> std::process::Command {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "halley-vault", "--bin", "halley-vault"])
            .status()
            .unwrap();
        assert!(built.success(), "halley-vault builds");
    });
    let mut command = std::process::Command::new(
        std::path::Path::new(env!("CARGO_BIN_EXE_halleyd")).with_file_name("halley-vault"),
    );
    command.env("HALLEY_VAULT_PASSWORD", "vault password");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_backup_goes_into_a_bucket_of_another_server() {
    let storage = storage_server();
    let (id, key) = new_bucket(&storage).await;
    let server = Server::launch(Launch {
        config: Some(json!({"SelfBackup": {"Targets": [{
            "Location": bucket_vault(&storage, &id, &key), "EncryptionKey": "self key"}]}})),
        ..Launch::default()
    });
    admin_post(&server.url, "/api/v1/admin/self-backup/start", &[])
        .await
        .assert_refused(200, "Started 1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let version = admin_post(&server.url, "/api/v1/admin/meta/version", &[])
            .await
            .json();
        let status = &version["SelfBackup"][0];
        if status["LastRunStart"].as_i64().unwrap_or(0) > 0 && status["CurrentRunStart"] == 0 {
            assert_eq!(status["LastRunSuccess"], true, "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The bucket holds a vault with the server's snapshot.
    let location = halley_vault::backend::BucketLocation {
        server: format!("{}/", storage.url),
        bucket: id,
        key,
    };
    let snapshots = tokio::task::spawn_blocking(move || {
        let backend = halley_vault::backend::BucketBackend::open(&location).unwrap();
        let repo =
            halley_vault::Repository::open(std::sync::Arc::new(backend), "self key").unwrap();
        repo.snapshots().unwrap().len()
    })
    .await
    .unwrap();
    assert_eq!(snapshots, 1);
}
