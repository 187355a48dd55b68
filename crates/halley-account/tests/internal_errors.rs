//! the API guide's 500 rows: when the store fails under the portal (here, tables
//! dropped behind its back), every call answers 500 `Internal error` in its
//! own shape, text for most calls and `{"status": "error"}` for hosted ones,
//! and the portal keeps serving.

mod common;

use std::str::FromStr;

use common::Portal;
use sqlx::ConnectOptions;

#[tokio::test]
async fn a_failing_store_is_a_500_in_each_calls_shape() {
    let portal = Portal::start();
    let serial = portal.call("/api/v1/license/create", &[]).await.text();
    let mut db = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(portal.data_dir.join("portal.db"))
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(
        "DROP TABLE licenses; DROP TABLE hosted_servers; DROP TABLE deductions; \
         DROP TABLE api_tokens;",
    )
    .execute(&mut db)
    .await
    .unwrap();

    let text_calls: &[(&str, &[(&str, &str)])] = &[
        ("/api/v1/license/create", &[]),
        ("/api/v1/create_license", &[]),
        ("/api/v1/license/relax", &[("serial", &serial)]),
        ("/api/v1/license/archive", &[("serial", &serial)]),
        ("/api/v1/license/list_all", &[]),
        ("/api/v1/report/active_services", &[("format", "csv")]),
        ("/api/v1/report/billing_history", &[("format", "xlsx")]),
        ("/api/v1/token/create", &[]),
    ];
    for (path, fields) in text_calls {
        portal
            .call_password(path, fields)
            .await
            .assert_text_error(500, "Internal error");
    }
    portal
        .post(
            "/api/v1/license/activate",
            &[("serial", &serial), ("server_id", "s")],
        )
        .await
        .assert_text_error(500, "Internal error");
    // A token cannot be checked without its table: that is a 500 too, not a 403.
    portal
        .call("/api/v1/license/list_all", &[])
        .await
        .assert_text_error(500, "Internal error");

    let hosted_calls: &[(&str, &[(&str, &str)])] = &[
        (
            "/api/v1/hosted/create",
            &[
                ("region", "local"),
                ("subdomain", "a"),
                ("server_name", "a"),
            ],
        ),
        ("/api/v1/hosted/status", &[("hosted_server_id", "1")]),
        ("/api/v1/hosted/terminate", &[("hosted_server_id", "1")]),
        ("/api/v1/hosted/list", &[]),
    ];
    for (path, fields) in hosted_calls {
        let answer = portal.call_password(path, fields).await;
        assert_eq!(answer.status, 500, "{path}: {}", answer.text());
        assert!(answer.content_type().starts_with("application/json"));
        assert_eq!(answer.json()["status"], "error");
    }
    // Still serving: authentication by password works, the feed too.
    let latest = common::answer(
        reqwest::get(format!("{}/latestversion", portal.url))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(latest.status, 200);
}
