//! Native Prometheus metrics at `/metrics` (text format 0.0.4), off unless
//! `--metrics-allow` or `--metrics-token` is given: the series the official
//! exporter derives from the API (accounts, devices, storage and quotas,
//! each Protected Item's last backup, the last day's jobs by status), and
//! the server's own (requests and their latency per endpoint, event stream
//! subscribers, live devices, buckets).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::auth::TenantScope;
use crate::http::ApiResult;
use crate::state::AppState;
use crate::store::{JobQuery, JobWhen};
use crate::util::now_unix;

pub const PATH: &str = "/metrics";

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Client addresses let in without a token.
    pub allowed: Vec<IpAddr>,
    /// `Authorization: Bearer …` lets anyone else in.
    pub token: Option<String>,
}

impl Access {
    pub fn enabled(&self) -> bool {
        !self.allowed.is_empty() || self.token.is_some()
    }

    pub fn admits(&self, client_ip: &str, authorization: Option<&str>) -> bool {
        if client_ip
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.allowed.contains(&ip))
        {
            return true;
        }
        match (
            &self.token,
            authorization.and_then(|a| a.strip_prefix("Bearer ")),
        ) {
            (Some(token), Some(given)) => {
                bool::from(token.as_bytes().ct_eq(given.trim().as_bytes()))
            }
            _ => false,
        }
    }
}

#[derive(Default, Clone)]
struct Timings {
    count: u64,
    sum: f64,
    /// Requests at or under each of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
}

/// Requests and their latency, per endpoint path.
#[derive(Default)]
pub struct Requests(Mutex<BTreeMap<&'static str, Timings>>);

impl Requests {
    pub fn record(&self, path: &'static str, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let timings = all.entry(path).or_default();
        timings.count += 1;
        timings.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(timings.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }
}

/// A metric's `# HELP` and `# TYPE` lines, then its samples.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let escaped = text
                    .replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('"', "\\\"");
                let _ = write!(self.0, "{label}=\"{escaped}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
}

/// The whole exposition, read now.
pub async fn render(state: &AppState) -> ApiResult<String> {
    let scope = TenantScope::server_wide();
    let mut out = Text(String::new());
    out.family("halley_build_info", "gauge", "The server's version.");
    out.sample(
        "halley_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    let users = state.store.user_list_full(&scope).await?;
    out.gauge("halley_accounts", "Accounts on this server.", users.len());
    let profiles: Vec<(String, Value)> = users
        .iter()
        .map(|u| {
            let profile = serde_json::from_str(&u.profile_json).unwrap_or(Value::Null);
            (u.username.clone(), profile)
        })
        .collect();
    let registered: usize = profiles
        .iter()
        .map(|(_, p)| p["Devices"].as_object().map_or(0, |d| d.len()))
        .sum();
    out.gauge(
        "halley_devices_registered",
        "Devices registered to accounts.",
        registered,
    );
    out.gauge(
        "halley_devices_online",
        "Devices connected to this node now.",
        state.devices.devices(&scope, None).len(),
    );
    storage_series(&mut out, &profiles);
    item_series(&mut out, &profiles);

    let jobs = state
        .store
        .jobs_find(
            &scope,
            &JobQuery {
                when: JobWhen::StartedSince(now_unix() - 86_400),
                ..Default::default()
            },
        )
        .await?;
    let mut by_status: BTreeMap<i64, usize> = BTreeMap::new();
    for job in &jobs {
        *by_status.entry(job.status).or_default() += 1;
    }
    out.family(
        "halley_jobs_last_day",
        "gauge",
        "Jobs started in the last 24 hours, by status code.",
    );
    for (status, count) in by_status {
        out.sample(
            "halley_jobs_last_day",
            &[("status", &status.to_string())],
            count,
        );
    }

    out.gauge(
        "halley_event_stream_subscribers",
        "Live event stream (websocket) subscribers of this node.",
        state.events.subscriber_count(),
    );
    if state.config.get().storage_role.role_enabled {
        let buckets = crate::storage::buckets::list(state, &scope).await?;
        out.gauge("halley_buckets", "Storage Role buckets.", buckets.len());
    }
    out.family(
        "halley_webhook_outbox_pending",
        "gauge",
        "Webhook deliveries queued, by hook (organization/name).",
    );
    for (key, pending) in state.store.outbox_depth().await? {
        // Keys are `["organization","name"]`; a top-level hook is its name.
        let hook = match serde_json::from_str::<(String, String)>(&key) {
            Ok((organization, name)) if organization.is_empty() => name,
            Ok((organization, name)) => format!("{organization}/{name}"),
            Err(_) => key,
        };
        out.sample("halley_webhook_outbox_pending", &[("hook", &hook)], pending);
    }
    out.family(
        "halley_webhook_deliveries_total",
        "counter",
        "Webhook delivery attempts of this node since start, by outcome.",
    );
    for (outcome, count) in state.deliveries.counts() {
        out.sample(
            "halley_webhook_deliveries_total",
            &[("outcome", outcome)],
            count,
        );
    }
    let pool = state.store.pool_use();
    out.family(
        "halley_database_connections",
        "gauge",
        "This node's database connections, open and idle among them.",
    );
    out.sample(
        "halley_database_connections",
        &[("state", "open")],
        pool.open,
    );
    out.sample(
        "halley_database_connections",
        &[("state", "idle")],
        pool.idle,
    );
    request_series(&mut out, &state.requests);
    Ok(out.0)
}

fn number(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn storage_series(out: &mut Text, profiles: &[(String, Value)]) {
    out.family(
        "halley_storage_vault_bytes",
        "gauge",
        "Size of each Storage Vault as its device last measured it.",
    );
    let mut quotas = Vec::new();
    for (username, profile) in profiles {
        for (id, vault) in profile["Destinations"].as_object().into_iter().flatten() {
            let description = vault["Description"].as_str().unwrap_or_default();
            let labels = [
                ("username", username.as_str()),
                ("vault", id.as_str()),
                ("description", description),
            ];
            out.sample(
                "halley_storage_vault_bytes",
                &labels,
                number(&vault["Statistics"]["ClientProvidedSize"]["Size"]),
            );
            if vault["StorageLimitEnabled"] == true {
                quotas.push((
                    username.clone(),
                    id.clone(),
                    number(&vault["StorageLimitBytes"]),
                ));
            }
        }
    }
    out.family(
        "halley_storage_vault_quota_bytes",
        "gauge",
        "Quota of each Storage Vault that has one.",
    );
    for (username, id, bytes) in quotas {
        out.sample(
            "halley_storage_vault_quota_bytes",
            &[("username", &username), ("vault", &id)],
            bytes,
        );
    }
}

fn item_series(out: &mut Text, profiles: &[(String, Value)]) {
    let mut backed_up = Vec::new();
    for (username, profile) in profiles {
        for (id, item) in profile["Sources"].as_object().into_iter().flatten() {
            let last = &item["Statistics"]["LastBackupJob"];
            if number(&last["StartTime"]) > 0 {
                backed_up.push((username.clone(), id.clone(), last.clone()));
            }
        }
    }
    for (name, field, help) in [
        (
            "halley_protected_item_last_backup_status",
            "Status",
            "Status code of each Protected Item's last backup.",
        ),
        (
            "halley_protected_item_last_backup_end_seconds",
            "EndTime",
            "When each Protected Item's last backup ended (Unix time).",
        ),
        (
            "halley_protected_item_last_backup_size_bytes",
            "TotalSize",
            "Size of each Protected Item's last backup.",
        ),
    ] {
        out.family(name, "gauge", help);
        for (username, id, last) in &backed_up {
            out.sample(
                name,
                &[("username", username), ("item", id)],
                number(&last[field]),
            );
        }
    }
}

fn request_series(out: &mut Text, requests: &Requests) {
    let all = requests.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    out.family(
        "halley_http_request_duration_seconds",
        "histogram",
        "API requests and how long they took, per endpoint.",
    );
    for (path, timings) in &all {
        for (bound, count) in BUCKETS.iter().zip(timings.buckets.iter()) {
            out.sample(
                "halley_http_request_duration_seconds_bucket",
                &[("endpoint", path), ("le", &bound.to_string())],
                count,
            );
        }
        let name = "halley_http_request_duration_seconds";
        out.sample(
            &format!("{name}_bucket"),
            &[("endpoint", path), ("le", "+Inf")],
            timings.count,
        );
        out.sample(&format!("{name}_sum"), &[("endpoint", path)], timings.sum);
        out.sample(
            &format!("{name}_count"),
            &[("endpoint", path)],
            timings.count,
        );
    }
}
