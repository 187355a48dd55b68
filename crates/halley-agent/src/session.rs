//! The agent's connection to its server, kept up for as long as the agent
//! runs: it dials, says hello (or waits in the lobby), redials with backoff
//! and full jitter when the connection drops, and hands the current
//! [`Link`] and profile to whoever needs them. Jobs outlive connections: a
//! job started before a drop reports its end over the next connection, and
//! the hello of that connection lists it as still running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use halley_api::types::UserProfileConfig;
use halley_protocol::device::*;
use rand::Rng;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::link::{Closed, Event, Link};
use crate::platform;
use crate::state::{AgentState, StateDir, Status};
use crate::util::now_unix;

/// A running job's stop switch: why it is asked to stop.
#[derive(Default)]
pub struct JobControl {
    pub stop: Arc<AtomicBool>,
    pub reason: Mutex<Option<StopReason>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    Quota,
    TimedOut,
}

impl JobControl {
    pub fn stop(&self, reason: StopReason) {
        self.reason.lock().unwrap().get_or_insert(reason);
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.lock().unwrap()
    }
}

pub struct Session {
    pub dir: StateDir,
    state: Mutex<AgentState>,
    link: watch::Sender<Option<Arc<Link>>>,
    profile: watch::Sender<Option<UserProfileConfig>>,
    /// Why the server refused this device, until it takes it again: whoever
    /// waits for a connection is told at once instead of timing out.
    refusal: watch::Sender<Option<String>>,
    /// Jobs running on this machine, by job ID.
    jobs: Mutex<HashMap<String, Arc<JobControl>>>,
    /// Whether this process keeps `status.json` (only `run` does).
    keeps_status: bool,
    status: Mutex<Status>,
}

/// How long a job waits for a connection to report through.
const WAIT_FOR_LINK: Duration = Duration::from_secs(300);

impl Session {
    pub fn new(dir: StateDir, keeps_status: bool) -> Result<Arc<Session>> {
        let state = dir.load()?;
        if state.server.is_empty() {
            return Err(anyhow!(
                "no server is configured in {}: run `halley-agent login` first",
                dir.path.display()
            ));
        }
        let status = dir.load_status().unwrap_or_default();
        Ok(Arc::new(Session {
            dir,
            state: Mutex::new(state),
            link: watch::channel(None).0,
            profile: watch::channel(None).0,
            refusal: watch::channel(None).0,
            jobs: Mutex::default(),
            keeps_status,
            status: Mutex::new(status),
        }))
    }

    pub fn state(&self) -> AgentState {
        self.state.lock().unwrap().clone()
    }

    /// Keeps the connection up until the server says stop (returns `Ok`)
    /// or the state cannot be read.
    pub async fn maintain(self: Arc<Self>) -> Result<()> {
        let mut failures = 0u32;
        loop {
            let state = self.state();
            let first = self.first_message(&state);
            let lobby = matches!(first, Message::Lobby { .. });
            match Link::connect(&state.server, first).await {
                Ok((link, events)) => {
                    failures = 0;
                    self.refusal.send_replace(None);
                    self.set_status(if lobby { "lobby" } else { "connected" }, "");
                    tracing::info!(
                        "connected to {} ({})",
                        state.server,
                        if lobby {
                            "in the registration lobby"
                        } else {
                            "as a device"
                        }
                    );
                    let closed = self.serve(link, events).await;
                    tracing::info!("connection closed: {}", closed.reason);
                    if closed.code == Some(CLOSE_STOP) {
                        self.set_status("stopped", &closed.reason);
                        return Ok(());
                    }
                    if !closed.reconnect || closed.code == Some(CLOSE_REFUSED) {
                        self.set_status("refused", &closed.reason);
                        self.refusal.send_replace(Some(closed.reason.clone()));
                        self.wait_for_new_credentials(&state).await?;
                        continue;
                    }
                    self.set_status("reconnecting", &closed.reason);
                }
                Err(err) => {
                    let text = format!("{err:#}");
                    tracing::warn!("cannot connect to {}: {text}", state.server);
                    if let Some((_, reason)) = text.split_once("the server refused: ") {
                        self.set_status("refused", reason);
                        self.refusal.send_replace(Some(reason.to_string()));
                        self.wait_for_new_credentials(&state).await?;
                        continue;
                    }
                    self.set_status("reconnecting", &text);
                }
            }
            failures = failures.saturating_add(1);
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    fn first_message(&self, state: &AgentState) -> Message {
        let info = platform::device_info(&state.device_name);
        if state.registered() {
            Message::Hello {
                device_id: state.device_id.clone(),
                device_key: state.device_key.clone(),
                info,
                running_jobs: self.jobs.lock().unwrap().keys().cloned().collect(),
            }
        } else {
            Message::Lobby {
                device_id: state.device_id.clone(),
                info,
            }
        }
    }

    /// One connection's life: profile updates, calls, lobby credentials.
    async fn serve(
        self: &Arc<Self>,
        link: Arc<Link>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    ) -> Closed {
        self.link.send_replace(Some(link.clone()));
        let mut profiles = link.profile.clone();
        let in_lobby = !self.state().registered();
        // In the lobby, `halley-agent login` may register the machine.
        let mut look_at_disk = tokio::time::interval(Duration::from_secs(3));
        let closed = loop {
            // Events first: the server sends `registered` and closes at once,
            // and the credentials must be kept before the closed profile
            // channel ends the loop.
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Some(Event::Call { id, call }) => {
                        let (session, link) = (self.clone(), link.clone());
                        tokio::spawn(async move {
                            link.reply(id, crate::dispatch::answer(&session, call).await);
                        });
                    }
                    Some(Event::Registered(registration)) => {
                        if let Err(err) = self.adopt(&registration) {
                            tracing::error!("cannot keep the credentials the server sent: {err:#}");
                        }
                        link.close();
                        break Closed { code: None, reason: "registered to an account".into(), reconnect: true };
                    }
                    None => break link.wait_closed().await,
                },
                changed = profiles.changed() => {
                    if changed.is_err() { break link.wait_closed().await; }
                    let pushed = profiles.borrow_and_update().clone();
                    if let Some((profile, _)) = pushed {
                        self.profile.send_replace(Some(profile));
                    }
                }
                _ = look_at_disk.tick(), if in_lobby => {
                    if let Ok(on_disk) = self.dir.load() {
                        if on_disk.registered() {
                            *self.state.lock().unwrap() = on_disk;
                            link.close();
                            break Closed { code: None, reason: "registered by `halley-agent login`".into(), reconnect: true };
                        }
                    }
                }
            }
        };
        self.link.send_replace(None);
        closed
    }

    /// `update-login-url`: keeps the new server URL and, once the answer
    /// is out, leaves this connection so the next one dials there.
    pub fn move_to_server(self: &Arc<Self>, url: &str) -> Result<()> {
        let url = url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(anyhow!("{url:?} is not an http:// or https:// URL"));
        }
        let mut state = self.state.lock().unwrap();
        state.server = url.to_string();
        self.dir.save(&state)?;
        drop(state);
        let session = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Some(link) = session.link.borrow().clone() {
                link.close();
            }
        });
        Ok(())
    }

    /// The stop switch of a job running here.
    pub fn running_job(&self, job_id: &str) -> Option<Arc<JobControl>> {
        self.jobs.lock().unwrap().get(job_id).cloned()
    }

    /// Keeps credentials received in the lobby.
    pub fn adopt(&self, registration: &Registration) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.device_id = registration.device_id.clone();
        state.device_key = registration.device_key.clone();
        state.username = registration.username.clone();
        state.account_key = registration.account_key.clone();
        self.dir.save(&state)
    }

    /// After a refusal: waits until `agent.json` holds other credentials
    /// (a new `login`), checking every few seconds.
    async fn wait_for_new_credentials(&self, refused: &AgentState) -> Result<()> {
        loop {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let now = self.dir.load()?;
            if now.device_key != refused.device_key || now.server != refused.server {
                *self.state.lock().unwrap() = now;
                return Ok(());
            }
        }
    }

    /// The current connection, waiting up to [`WAIT_FOR_LINK`] for one.
    pub async fn link(&self) -> Result<Arc<Link>> {
        self.when_connected(&self.link).await.ok_or_else(|| {
            anyhow!(
                "not connected to the server for {} s",
                WAIT_FOR_LINK.as_secs()
            )
        })?
    }

    /// Waits up to [`WAIT_FOR_LINK`] for `value` to be set; a refusal by the
    /// server ends the wait at once with its reason. `None` on timeout.
    async fn when_connected<T: Clone>(
        &self,
        value: &watch::Sender<Option<T>>,
    ) -> Option<Result<T>> {
        let mut value = value.subscribe();
        let mut refusal = self.refusal.subscribe();
        let waited = tokio::time::timeout(WAIT_FOR_LINK, async {
            tokio::select! {
                Ok(current) = value.wait_for(Option::is_some) => Ok(current.clone().expect("waited for some")),
                Ok(why) = refusal.wait_for(Option::is_some) => Err(anyhow!(
                    "the server refused this device: {}",
                    why.as_deref().unwrap_or_default()
                )),
            }
        });
        waited.await.ok()
    }

    /// Sends a frame if connected; progress and log lines are not kept for
    /// later when the connection is down.
    pub fn send(&self, message: &Message) {
        if let Some(link) = self.link.borrow().as_ref() {
            link.send(message);
        }
    }

    pub async fn request<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.link().await?.request(call).await
    }

    pub fn profile_updates(&self) -> watch::Receiver<Option<UserProfileConfig>> {
        self.profile.subscribe()
    }

    /// The account's profile, waiting for the first one.
    pub async fn profile(&self) -> Result<UserProfileConfig> {
        self.when_connected(&self.profile)
            .await
            .ok_or_else(|| anyhow!("the server sent no profile"))?
    }

    pub fn job_started(&self, job_id: &str) -> Arc<JobControl> {
        let control = Arc::new(JobControl::default());
        self.jobs
            .lock()
            .unwrap()
            .insert(job_id.to_string(), control.clone());
        control
    }

    pub fn job_ended(&self, job_id: &str) {
        self.jobs.lock().unwrap().remove(job_id);
    }

    /// When the rule's last job on this machine started, if one did.
    pub fn last_job_start(&self, rule_id: &str) -> Option<i64> {
        let status = self.status.lock().unwrap();
        status
            .last_jobs
            .get(rule_id)
            .map(|job| job.start_time)
            .filter(|t| *t > 0)
    }

    /// Records a rule's last job for `status`.
    pub fn record_job(&self, rule_id: &str, job: crate::state::LastJob) {
        if rule_id.is_empty() {
            return;
        }
        let mut status = self.status.lock().unwrap();
        status.last_jobs.insert(rule_id.to_string(), job);
        if self.keeps_status {
            let _ = self.dir.save_status(&status);
        } else if let Ok(mut on_disk) = self.dir.load_status() {
            // A one-off command updates the file `run` keeps, if any.
            on_disk.last_jobs = status.last_jobs.clone();
            let _ = self.dir.save_status(&on_disk);
        }
    }

    fn set_status(&self, connection: &str, detail: &str) {
        if !self.keeps_status {
            return;
        }
        let mut status = self.status.lock().unwrap();
        status.connection = connection.to_string();
        status.detail = detail.to_string();
        status.since = now_unix();
        let _ = self.dir.save_status(&status);
    }
}

/// Full jitter: a random wait up to the capped exponential delay.
fn backoff(failures: u32) -> Duration {
    let cap = RECONNECT_FIRST_SECS
        .saturating_mul(1u64 << failures.min(16).saturating_sub(1))
        .min(RECONNECT_CAP_SECS);
    Duration::from_millis(rand::thread_rng().gen_range(0..=cap * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_never_beyond() {
        for failures in 1..40 {
            let cap = (1u64 << (failures.min(16) - 1)).min(RECONNECT_CAP_SECS);
            assert!(backoff(failures) <= Duration::from_secs(cap));
        }
    }
}
