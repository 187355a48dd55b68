//! `/metrics`: off unless configured, refused to strangers, parsed by the
//! Prometheus client library's own text parser, and its figures equal what
//! the API reports.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

/// The samples of an exposition as the `prometheus_client` parser reads
/// them: name, labels, value.
fn parse(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    const PARSER: &str = "import json, sys\nfrom prometheus_client.parser import text_string_to_metric_families\nout = []\nfor family in text_string_to_metric_families(sys.stdin.read()):\n    for s in family.samples:\n        out.append([s.name, s.labels, s.value])\nprint(json.dumps(out))";
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn value(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

async fn scrape(server: &Server, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Whether the `prometheus_client` parser is installed (CI installs it).
fn parser_missing() -> bool {
    let installed = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "prometheus_client is missing: pip install prometheus_client"
    );
    eprintln!("SKIPPED metrics: the Python package prometheus_client is not installed");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_unless_configured_and_match_the_api() {
    if parser_missing() {
        return;
    }
    let off = Server::start();
    assert_eq!(scrape(&off, None).await.status(), 404);

    let server = Server::launch(Launch {
        args: vec!["--metrics-token".into(), "scrape-me".into()],
        config: Some(json!({"StorageRole": {"RoleEnabled": true}})),
        ..Launch::default()
    });
    assert_eq!(scrape(&server, None).await.status(), 403);
    assert_eq!(scrape(&server, Some("wrong")).await.status(), 403);

    // One hook that answers, one that cannot be reached.
    let mut receiver = WebhookReceiver::start(0).await;
    let hooks = json!({"good": {"URL": receiver.url}, "down": {"URL": "http://127.0.0.1:1/"}});
    admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    for name in ["ann", "ben"] {
        new_account(&server, name).await;
    }
    receiver.next(10).await;
    let mut p = profile(&server, "ann").await;
    p["Destinations"] = json!({"v1": {"Description": "Office", "DestinationType": 1002, "LocalcopyPath": "/srv/v1",
        "StorageLimitEnabled": true, "StorageLimitBytes": 1000000,
        "Statistics": {"ClientProvidedSize": {"Size": 4096, "MeasureStarted": 1, "MeasureCompleted": 2}}}});
    p["Sources"] = json!({"docs": {"Description": "Documents", "Engine": "engine1/file",
        "Statistics": {"LastBackupJob": {"StartTime": 100, "EndTime": 190, "Status": 5000, "TotalSize": 777}}}});
    set_profile(&server, "ann", &p).await;
    record_jobs(
        &server,
        &[
            job("j1", "ann", 1, 5000),
            job("j2", "ann", 2, 5000),
            job("j3", "ben", 3, 7002),
            job("j4", "ben", 30, 5000), // older than a day
        ],
    )
    .await;

    let answer = scrape(&server, Some("scrape-me")).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let samples = parse(&answer.text().await.unwrap());

    // The figures the API gives.
    let users = admin_post(&server.url, "/api/v1/admin/list-users", &[])
        .await
        .json();
    assert_eq!(
        value(&samples, "halley_accounts", &[]),
        Some(users.as_array().unwrap().len() as f64)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jobs = admin_post(
        &server.url,
        "/api/v1/admin/get-jobs-for-date-range",
        &[
            ("Start", &(now - 86_400).to_string()),
            ("End", &now.to_string()),
        ],
    )
    .await
    .json();
    let mut by_status: BTreeMap<String, f64> = BTreeMap::new();
    for job in jobs.as_array().unwrap() {
        *by_status.entry(job["Status"].to_string()).or_default() += 1.0;
    }
    assert_eq!(by_status.len(), 2, "{jobs}");
    for (status, count) in &by_status {
        assert_eq!(
            value(&samples, "halley_jobs_last_day", &[("status", status)]),
            Some(*count)
        );
    }
    let vault = [("username", "ann"), ("vault", "v1")];
    assert_eq!(
        value(&samples, "halley_storage_vault_bytes", &vault),
        Some(4096.0)
    );
    assert_eq!(
        value(&samples, "halley_storage_vault_quota_bytes", &vault),
        Some(1_000_000.0)
    );
    let item = [("username", "ann"), ("item", "docs")];
    assert_eq!(
        value(&samples, "halley_protected_item_last_backup_status", &item),
        Some(5000.0)
    );
    assert_eq!(
        value(
            &samples,
            "halley_protected_item_last_backup_size_bytes",
            &item
        ),
        Some(777.0)
    );
    assert_eq!(value(&samples, "halley_devices_online", &[]), Some(0.0));
    // The server's own: the two accounts made before were counted.
    let counted = value(
        &samples,
        "halley_http_request_duration_seconds_count",
        &[("endpoint", "/api/v1/admin/add-user")],
    );
    assert_eq!(counted, Some(2.0));

    // Webhooks: what was delivered, what waits to be tried again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let samples = loop {
        let samples = parse(
            &scrape(&server, Some("scrape-me"))
                .await
                .text()
                .await
                .unwrap(),
        );
        let retried = value(
            &samples,
            "halley_webhook_deliveries_total",
            &[("outcome", "retried")],
        );
        if retried.unwrap_or(0.0) >= 1.0 {
            break samples;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed delivery was counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let delivered = value(
        &samples,
        "halley_webhook_deliveries_total",
        &[("outcome", "delivered")],
    );
    assert!(delivered.unwrap_or(0.0) >= 1.0, "{delivered:?}");
    let pending = value(
        &samples,
        "halley_webhook_outbox_pending",
        &[("hook", "down")],
    );
    assert!(pending.unwrap_or(0.0) >= 1.0, "{pending:?}");
    assert_eq!(
        value(
            &samples,
            "halley_webhook_outbox_pending",
            &[("hook", "good")]
        ),
        None
    );
    let open = value(
        &samples,
        "halley_database_connections",
        &[("state", "open")],
    );
    let idle = value(
        &samples,
        "halley_database_connections",
        &[("state", "idle")],
    );
    assert!(
        open.unwrap_or(0.0) >= 1.0 && idle <= open,
        "{open:?} {idle:?}"
    );

    // The Grafana dashboard charts only series the server exports.
    let dashboard = include_str!("../../../docs/grafana-dashboard.json");
    let exported: std::collections::BTreeSet<&str> =
        samples.iter().map(|(name, _, _)| name.as_str()).collect();
    let charted = regex::Regex::new(r"halley_[a-z_]+").unwrap();
    for name in charted.find_iter(dashboard).map(|m| m.as_str()) {
        assert!(
            exported.contains(name),
            "the dashboard charts {name}, which /metrics lacks"
        );
    }

    // An allowed address needs no token.
    let allowed = Server::launch(Launch {
        args: vec!["--metrics-allow".into(), "127.0.0.1".into()],
        ..Launch::default()
    });
    let answer = scrape(&allowed, None).await;
    assert_eq!(answer.status(), 200);
    let samples = parse(&answer.text().await.unwrap());
    assert_eq!(value(&samples, "halley_accounts", &[]), Some(0.0));
}
