//! Job history queries through the wire: every `get-jobs-*` form, the custom
//! search and its count, one job's properties, abandoning, and the scoping of
//! tenant administrators and end users.

mod common;

use common::*;
use serde_json::{json, Value};

async fn guids(server: &Server, path: &str, fields: &[(&str, &str)]) -> Vec<String> {
    let answer = admin_post(&server.url, path, fields).await.json();
    let jobs = answer
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {answer}"));
    jobs.iter()
        .map(|job| job["GUID"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn administrators_query_the_job_history() {
    let server = Server::start();
    for user in ["amy", "bo"] {
        server
            .admin()
            .admin_add_user(user, "password1", None, None)
            .await
            .unwrap();
    }
    let mut running = job("run", "bo", 0, 6001);
    running["EndTime"] = json!(0);
    record_jobs(
        &server,
        &[
            job("old", "amy", 72, 5000),
            job("err", "amy", 2, 7002),
            running.clone(),
        ],
    )
    .await;

    assert_eq!(
        guids(&server, "/api/v1/admin/get-jobs-all", &[]).await,
        ["old", "err", "run"]
    );
    assert_eq!(
        guids(&server, "/api/v1/admin/get-jobs-recent", &[]).await,
        ["err", "run"]
    );
    assert_eq!(
        guids(
            &server,
            "/api/v1/admin/get-jobs-for-user",
            &[("TargetUser", "amy")]
        )
        .await,
        ["old", "err"]
    );
    let now = running["StartTime"].as_i64().unwrap();
    let day_ago = (now - 86_400).to_string();
    let now = (now + 60).to_string();
    assert_eq!(
        guids(
            &server,
            "/api/v1/admin/get-jobs-for-date-range",
            &[("Start", &day_ago), ("End", &now)]
        )
        .await,
        ["err", "run"]
    );
    assert_eq!(
        guids(
            &server,
            "/api/v1/admin/get-jobs-for-date-range",
            &[("Start", "0"), ("End", "0")]
        )
        .await,
        ["run"],
        "Start = End = 0 asks for running jobs"
    );

    // WHMCS's query: one account's jobs of the last two weeks.
    let two_weeks_ago = (running["StartTime"].as_i64().unwrap() - 14 * 86_400).to_string();
    let query = json!({"ClauseType": "and", "ClauseChildren": [
        {"RuleField": "BackupJobDetail.Username", "RuleOperator": "str_eq", "RuleValue": "amy"},
        {"RuleField": "BackupJobDetail.StartTime", "RuleOperator": "int_gt", "RuleValue": two_weeks_ago}]});
    assert_eq!(
        guids(
            &server,
            "/api/v1/admin/get-jobs-for-custom-search",
            &[("Query", &query.to_string())]
        )
        .await,
        ["old", "err"]
    );
    let count = admin_post(
        &server.url,
        "/api/v1/admin/count-jobs-for-custom-search",
        &[("Query", &query.to_string())],
    )
    .await
    .json();
    assert_eq!(count, json!({"Count": 2}));
    let bad = json!({"RuleField": "BackupJobDetail.Status", "RuleOperator": "int_between", "RuleValue": "1"});
    let refused = admin_post(
        &server.url,
        "/api/v1/admin/get-jobs-for-custom-search",
        &[("Query", &bad.to_string())],
    )
    .await;
    assert_eq!(refused.api_status(), 400);
    assert!(refused.message().contains("int_between"));

    let props = admin_post(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[("JobID", "err")],
    )
    .await
    .json();
    assert_eq!(props["Status"], 7002);
    assert_eq!(props["Username"], "amy");
    let missing = admin_post(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[("JobID", "nope")],
    )
    .await;
    assert_eq!(missing.api_status(), 400);

    // Abandoning: only a running job, only under its own account.
    let (mut stream, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    let wrong_user = admin_post(
        &server.url,
        "/api/v1/admin/job/abandon",
        &[("TargetUser", "amy"), ("JobID", "run")],
    )
    .await;
    assert_eq!(wrong_user.api_status(), 400);
    let not_running = admin_post(
        &server.url,
        "/api/v1/admin/job/abandon",
        &[("TargetUser", "amy"), ("JobID", "err")],
    )
    .await;
    assert!(not_running.message().contains("not running"));
    let abandoned = admin_post(
        &server.url,
        "/api/v1/admin/job/abandon",
        &[("TargetUser", "bo"), ("JobID", "run")],
    )
    .await;
    assert_eq!(abandoned.api_status(), 200, "{}", abandoned.message());
    let event = loop {
        let event = next_event(&mut stream).await;
        if event["Type"] == 4201 {
            break event;
        }
    };
    assert_eq!(event["Data"]["Status"], 7007);
    let props = admin_post(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[("JobID", "run")],
    )
    .await
    .json();
    assert_eq!(props["Status"], 7007);
    assert!(props["EndTime"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn end_users_and_tenants_see_only_their_jobs() {
    let server = Server::start();
    let org = create_tenant(&server, "Tenant A").await;
    create_tenant_admin(&server, &org, "boss", "bosspass").await;
    server
        .admin()
        .admin_add_user("amy", "password1", None, None)
        .await
        .unwrap();
    let mut tenant_job = job("t1", "tina", 1, 5000);
    tenant_job["OrganizationID"] = json!(org);
    record_jobs(
        &server,
        &[
            job("a1", "amy", 1, 5000),
            job("b1", "bo", 1, 5000),
            tenant_job,
        ],
    )
    .await;

    let as_user = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let url = server.url.clone();
        async move {
            let mut all = vec![
                ("Username", "amy".to_string()),
                ("AuthType", "Password".into()),
                ("Password", "password1".into()),
            ];
            all.extend(fields);
            let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&url, path, &all).await.json()
        }
    };
    let own = as_user("/api/v1/user/web/get-jobs", vec![]).await;
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["GUID"], "a1");
    let other = as_user(
        "/api/v1/user/web/get-job-properties",
        vec![("JobID", "b1".into())],
    )
    .await;
    assert_eq!(
        other["Status"], 400,
        "another account's job is not found: {other}"
    );
    let searched = as_user(
        "/api/v1/user/web/get-jobs-for-custom-search",
        vec![("Query", json!({}).to_string())],
    )
    .await;
    assert_eq!(searched.as_array().unwrap().len(), 1);

    let tenant: Value = post_form(
        &server.url,
        "/api/v1/admin/get-jobs-all",
        &[
            ("Username", "boss"),
            ("AuthType", "Password"),
            ("Password", "bosspass"),
        ],
    )
    .await
    .json();
    let tenant_guids: Vec<&str> = tenant
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["GUID"].as_str().unwrap())
        .collect();
    assert_eq!(tenant_guids, ["t1"]);
    let across = post_form(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[
            ("Username", "boss"),
            ("AuthType", "Password"),
            ("Password", "bosspass"),
            ("JobID", "a1"),
        ],
    )
    .await;
    assert_eq!(across.api_status(), 400);
}

/// Jobs belong to an account, not to its name: `delete-user` removes the
/// account's history, and an account created again under the same name, in
/// another tenant or the same one, sees none of it.
#[tokio::test]
async fn a_deleted_accounts_jobs_do_not_follow_its_name() {
    let server = Server::start();
    let org = create_tenant(&server, "Tenant A").await;
    let other_org = create_tenant(&server, "Tenant B").await;
    let admin = server.admin();
    admin
        .admin_add_user("alice", "password1", None, None)
        .await
        .unwrap();
    // A job under the same name in another tenant is not alice's either.
    let mut elsewhere = job("elsewhere", "alice", 1, 5000);
    elsewhere["OrganizationID"] = json!(other_org);
    record_jobs(
        &server,
        &[
            job("old1", "alice", 2, 5000),
            job("old2", "alice", 1, 7002),
            elsewhere,
        ],
    )
    .await;
    let as_alice = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let url = server.url.clone();
        async move {
            let mut all = vec![
                ("Username", "alice".to_string()),
                ("AuthType", "Password".into()),
                ("Password", "password1".into()),
            ];
            all.extend(fields);
            let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&url, path, &all).await.json()
        }
    };
    let before = as_alice("/api/v1/user/web/get-jobs", vec![]).await;
    let before: Vec<&str> = before
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["GUID"].as_str().unwrap())
        .collect();
    assert_eq!(
        before,
        ["old1", "old2"],
        "a job of another tenant is not hers"
    );

    let deleted = admin_post(
        &server.url,
        "/api/v1/admin/delete-user",
        &[("TargetUser", "alice")],
    )
    .await;
    assert_eq!(deleted.api_status(), 200, "{}", deleted.message());
    let left = guids(&server, "/api/v1/admin/get-jobs-all", &[]).await;
    assert_eq!(
        left,
        ["elsewhere"],
        "delete-user removes the account's jobs"
    );

    for tenant in ["", org.as_str()] {
        let created = admin_post(
            &server.url,
            "/api/v1/admin/add-user",
            &[
                ("TargetUser", "alice"),
                ("TargetPassword", "password1"),
                ("TargetOrganization", tenant),
            ],
        )
        .await;
        assert_eq!(created.api_status(), 200, "{}", created.message());
        assert_eq!(
            as_alice("/api/v1/user/web/get-jobs", vec![]).await,
            json!([]),
            "the account created again in '{tenant}' has no history"
        );
        if tenant.is_empty() {
            let old = as_alice(
                "/api/v1/user/web/get-job-properties",
                vec![("JobID", "old1".into())],
            )
            .await;
            assert_eq!(old["Status"], 400, "{old}");
            assert_eq!(old["Message"], "No job has the ID 'old1'");
            let preview = admin_post(
                &server.url,
                "/api/v1/admin/preview-user-email-report",
                &[
                    ("TargetUser", "alice"),
                    (
                        "EmailReportConfig",
                        &json!({"ReportType": 1, "TimeSpan": {"FrequencyType": 8011}}).to_string(),
                    ),
                    ("EmailAddress", "ops@example.com"),
                ],
            )
            .await
            .json();
            assert_eq!(preview["Status"], 200, "{preview}");
            assert!(
                preview["EmailSubject"]
                    .as_str()
                    .unwrap()
                    .contains(": 0 jobs"),
                "{preview}"
            );
        }
        let gone = admin_post(
            &server.url,
            "/api/v1/admin/delete-user",
            &[("TargetUser", "alice")],
        )
        .await;
        assert_eq!(gone.api_status(), 200);
    }
}
