//! Webhooks: events are written to a durable outbox (one row per hook and
//! event) and each configured hook has its own delivery worker, so a slow or
//! dead receiver delays nobody else and nothing is lost across a restart.
//!
//! Delivery: an HTTP POST of the event JSON with a fresh `x-Comet-Tracing-Id`
//! per attempt, the event's stable [`EVENT_ID_HEADER`] and the hook's custom
//! headers; only HTTP 200 counts. A failed attempt is logged with its tracing
//! id and retried up to [`MAX_ATTEMPTS`] times with exponential backoff (1 s,
//! 2 s, 4 s, … capped at 5 minutes: about 13 minutes in all) before it is
//! given up. A worker takes up to [`BATCH`] due rows, delivers them
//! [`IN_FLIGHT`] at a time (so they may arrive unordered), then records every
//! outcome in one write. Delivery is at least once: a row delivered but not
//! yet recorded when the server dies is delivered again after the restart,
//! with the same event ID, by which the receiver recognises it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use halley_api::constants::{SEVT_META_HELLO, STREAM_LEVEL_NONE};
use halley_api::types::{ServerConfigOptions, WebhookOption};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use futures::StreamExt;

use super::Event;
use crate::service::server_info::version_info;
use crate::state::AppState;
use crate::store::{NewDelivery, OutboxRow, Settlement};
use crate::util::now_unix;

pub const MAX_ATTEMPTS: i64 = 10;
pub const MAX_BACKOFF_SECONDS: i64 = 300;
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries of one hook in flight at once.
const IN_FLIGHT: usize = 64;
/// Rows a worker claims from the outbox at once: one round of attempts, so
/// a batch ends within [`DELIVERY_TIMEOUT`], well inside its claim.
const BATCH: i64 = IN_FLIGHT as i64;
/// The header that carries an event's ID, the same on every attempt.
pub const EVENT_ID_HEADER: &str = "X-Halley-Event-Id";

/// Headers a hook's `CustomHeaders` may not override.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "x-comet-tracing-id",
    "x-halley-event-id",
];

/// A configured webhook: top-level (`organization` empty, receives every
/// event) or a tenant's (receives that tenant's events).
#[derive(Debug, Clone)]
pub struct Hook {
    pub key: String,
    pub organization: String,
    pub option: WebhookOption,
}

/// The outbox key of a hook: unambiguous whatever the names hold.
pub fn hook_key(organization: &str, name: &str) -> String {
    serde_json::json!([organization, name]).to_string()
}

pub fn configured_hooks(config: &ServerConfigOptions) -> Vec<Hook> {
    let top = config
        .webhook_options
        .iter()
        .map(|(name, option)| ("", name, option));
    let tenants = config.organizations.iter().flat_map(|(id, org)| {
        org.webhook_options
            .iter()
            .map(move |(name, option)| (id.as_str(), name, option))
    });
    top.chain(tenants)
        .map(|(organization, name, option)| Hook {
            key: hook_key(organization, name),
            organization: organization.to_string(),
            option: option.clone(),
        })
        .collect()
}

/// The body a hook gets for an event, or `None` when its filter excludes it.
pub fn payload_for(option: &WebhookOption, event: &Event) -> Option<String> {
    let allowed = &option.white_listed_event_types;
    if !allowed.is_empty() && !allowed.contains(&event.event.r#type) {
        return None;
    }
    if option.level == STREAM_LEVEL_NONE {
        let mut envelope = event.event.clone();
        envelope.data = serde_json::Value::Null;
        return serde_json::to_string(&envelope).ok();
    }
    Some(event.json.clone())
}

/// Outbox rows for one event.
pub fn rows_for(hooks: &[Hook], event: &Event) -> Vec<NewDelivery> {
    hooks
        .iter()
        .filter(|hook| {
            hook.organization.is_empty() || hook.organization == event.event.owner_organization_id
        })
        .filter_map(|hook| {
            payload_for(&hook.option, event).map(|payload| NewDelivery {
                hook: hook.key.clone(),
                event_id: event.id.clone(),
                payload,
            })
        })
        .collect()
}

/// Checks a webhook map before it is saved.
pub fn validate(options: &BTreeMap<String, WebhookOption>) -> Result<(), String> {
    for (name, option) in options {
        let url = reqwest::Url::parse(&option.url)
            .map_err(|e| format!("webhook '{name}': URL '{}' is not valid: {e}", option.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("webhook '{name}': URL must be http or https"));
        }
        if !matches!(option.level.as_str(), "" | "full" | "none") {
            return Err(format!(
                "webhook '{name}': Level must be \"full\" or \"none\""
            ));
        }
        for header in option.custom_headers.keys() {
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(format!(
                    "webhook '{name}': '{header}' is not a valid header name"
                ));
            }
        }
    }
    Ok(())
}

struct Worker {
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

/// The delivery workers, one per configured hook, and what their attempts
/// came to since start.
#[derive(Default)]
pub struct Deliveries {
    workers: Mutex<HashMap<String, Worker>>,
    delivered: AtomicU64,
    retried: AtomicU64,
    given_up: AtomicU64,
}

impl Deliveries {
    /// Attempts since start by outcome, for `/metrics`.
    pub fn counts(&self) -> [(&'static str, u64); 3] {
        [
            ("delivered", self.delivered.load(Ordering::Relaxed)),
            ("retried", self.retried.load(Ordering::Relaxed)),
            ("given_up", self.given_up.load(Ordering::Relaxed)),
        ]
    }

    fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Wakes the workers of these hooks: they have new rows.
    pub fn wake<'a>(&self, keys: impl IntoIterator<Item = &'a String>) {
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(worker) = workers.get(key) {
                worker.notify.notify_one();
            }
        }
    }

    /// Wakes every worker: another node queued deliveries.
    pub fn wake_all(&self) {
        for worker in self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            worker.notify.notify_one();
        }
    }

    pub fn stop_all(&self) {
        for (_, worker) in self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            worker.task.abort();
        }
    }
}

/// Brings the workers in line with the configuration, forgets the queues of
/// removed hooks, and greets `greet` (hook keys) with `SEVT_META_HELLO`.
pub async fn reconcile(state: &Arc<AppState>, greet: &[String]) -> anyhow::Result<()> {
    let hooks = configured_hooks(&state.config.get());
    let keys: Vec<String> = hooks.iter().map(|h| h.key.clone()).collect();
    {
        let mut workers = state
            .deliveries
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        workers.retain(|key, worker| {
            let keep = keys.contains(key);
            if !keep {
                worker.task.abort();
            }
            keep
        });
        for key in &keys {
            workers.entry(key.clone()).or_insert_with(|| {
                let notify = Arc::new(Notify::new());
                let task = tokio::spawn(run_worker(state.clone(), key.clone(), notify.clone()));
                Worker { notify, task }
            });
        }
    }
    state.store.outbox_forget_hooks_except(&keys).await?;
    let server = serde_json::to_value(version_info(state).await).ok();
    let rows: Vec<NewDelivery> = hooks
        .iter()
        .filter(|hook| greet.contains(&hook.key))
        .filter_map(|hook| {
            let hello = Event::new(
                SEVT_META_HELLO,
                "system",
                &hook.organization,
                "",
                server.clone(),
            );
            // HELLO passes every white list; the hook's Level still applies.
            let level_only = WebhookOption {
                level: hook.option.level.clone(),
                ..Default::default()
            };
            payload_for(&level_only, &hello).map(|payload| NewDelivery {
                hook: hook.key.clone(),
                event_id: hello.id.clone(),
                payload,
            })
        })
        .collect();
    if !rows.is_empty() {
        state.store.outbox_insert(&rows).await?;
        state.deliveries.wake(rows.iter().map(|row| &row.hook));
    }
    Ok(())
}

async fn run_worker(state: Arc<AppState>, key: String, notify: Arc<Notify>) {
    let client = match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!("webhook {key}: cannot build an HTTP client: {err}");
            return;
        }
    };
    loop {
        let now = now_unix();
        let rows = match state.store.outbox_due(&key, now, BATCH).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!("webhook {key}: reading the outbox: {err}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if rows.is_empty() {
            let wait = match state.store.outbox_next_due(&key).await {
                Ok(Some(at)) => (at - now).clamp(1, 60),
                _ => 60,
            };
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
            }
            continue;
        }
        let Some(hook) = configured_hooks(&state.config.get())
            .into_iter()
            .find(|h| h.key == key)
        else {
            return;
        };
        let hook = Arc::new(hook);
        let outcomes: Vec<Settlement> = futures::stream::iter(rows)
            .map(|row| {
                let (client, hook, state) = (client.clone(), hook.clone(), state.clone());
                async move { deliver(&client, &hook, &row, &state.deliveries).await }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        // Every outcome of the batch in one write; retried, since a lost
        // write would deliver the batch again.
        while let Err(err) = state.store.outbox_settle(&outcomes).await {
            tracing::warn!("webhook {key}: updating the outbox: {err}; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Delivers one row and says what becomes of it.
async fn deliver(
    client: &reqwest::Client,
    hook: &Hook,
    row: &OutboxRow,
    counts: &Deliveries,
) -> Settlement {
    let tracing_id = uuid::Uuid::new_v4().to_string();
    let mut request = client
        .post(&hook.option.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("x-Comet-Tracing-Id", &tracing_id)
        .header(EVENT_ID_HEADER, &row.event_id)
        .body(row.payload.clone());
    for (name, value) in &hook.option.custom_headers {
        if !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            request = request.header(name, value);
        }
    }
    let failure = match request.send().await {
        Ok(response) if response.status() == reqwest::StatusCode::OK => None,
        Ok(response) => Some(format!("HTTP {}", response.status())),
        Err(err) => Some(err.to_string()),
    };
    let Some(why) = failure else {
        counts.count(&counts.delivered);
        return Settlement::Done(row.id);
    };
    let attempts = row.attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        tracing::error!(
            "webhook {} ({}): delivery {tracing_id} failed ({why}); giving up after {attempts} attempts",
            hook.key,
            hook.option.url
        );
        counts.count(&counts.given_up);
        return Settlement::Done(row.id);
    }
    let backoff = (1i64 << (attempts - 1).min(20)).min(MAX_BACKOFF_SECONDS);
    tracing::warn!(
        "webhook {} ({}): delivery {tracing_id} failed ({why}); attempt {attempts} of {MAX_ATTEMPTS}, retrying in {backoff} s",
        hook.key,
        hook.option.url
    );
    counts.count(&counts.retried);
    Settlement::RetryAt {
        id: row.id,
        attempts,
        at: now_unix() + backoff,
    }
}
