//! Keeps hosted instances running: one task per instance starts its process,
//! records where it listens, restarts it when it ends by itself, and stops it
//! when the instance is terminated or the portal shuts down. State lives in
//! the store, so a restarted portal picks every instance up again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{states, Placement};
use crate::clock;
use crate::store::{HostedServer, Store};

/// Restart delays grow from the first to the last, doubling.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A process that ran this long resets the backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

struct Handle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub struct Supervisor {
    store: Arc<dyn Store>,
    placement: Arc<dyn Placement>,
    handles: Mutex<HashMap<i64, Handle>>,
}

impl Supervisor {
    pub fn new(store: Arc<dyn Store>, placement: Arc<dyn Placement>) -> Arc<Self> {
        Arc::new(Supervisor {
            store,
            placement,
            handles: Mutex::new(HashMap::new()),
        })
    }

    pub fn placement(&self) -> &dyn Placement {
        &*self.placement
    }

    /// Picks up every instance of the store after a (re)start of the portal:
    /// live ones run again, interrupted terminations finish.
    pub async fn resume_all(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut offset = 0;
        loop {
            let page = self.store.hosted_list(None, offset, 500).await?;
            if page.is_empty() {
                return Ok(());
            }
            offset += page.len() as i64;
            for instance in page.into_iter().filter(|i| i.deleted_at.is_none()) {
                self.placement.reap_stale(&instance).await;
                if instance.terminate_requested {
                    let this = self.clone();
                    tokio::spawn(async move { this.finish_termination(instance.id).await });
                } else {
                    // Whatever the store says ("Running" before a crash) is
                    // stale until the process is up again.
                    let (status, aws) = states::STARTING;
                    self.set_status(instance.id, status, aws).await;
                    self.supervise(instance);
                }
            }
        }
    }

    /// Starts supervising a live instance.
    pub fn supervise(self: &Arc<Self>, instance: HostedServer) {
        let (stop, stopped) = watch::channel(false);
        let id = instance.id;
        let this = self.clone();
        let task = tokio::spawn(async move { this.run(instance, stopped).await });
        if let Ok(mut handles) = self.handles.lock() {
            handles.insert(id, Handle { stop, task });
        }
    }

    /// Stops the instance's process, removes its data and marks it deleted, in
    /// the background. The caller has recorded the request in the store.
    pub fn terminate(self: &Arc<Self>, id: i64) {
        let this = self.clone();
        tokio::spawn(async move { this.finish_termination(id).await });
    }

    async fn finish_termination(&self, id: i64) {
        let (status, aws) = states::DELETING;
        self.set_status(id, status, aws).await;
        let handle = self.handles.lock().ok().and_then(|mut h| h.remove(&id));
        if let Some(handle) = handle {
            let _ = handle.stop.send(true);
            let _ = handle.task.await;
        }
        let instance = match self.store.hosted_get(id).await {
            Ok(Some(instance)) => instance,
            Ok(None) => return,
            Err(err) => {
                tracing::error!("instance {id}: reading it for termination: {err}");
                return;
            }
        };
        if let Err(err) = self.placement.destroy(&instance).await {
            // Recorded as deleted anyway: the process is gone and the data is
            // no longer reachable through the portal; the log says what is left.
            tracing::error!("instance {id}: removing its data: {err:#}");
        }
        // The deletion date first: whoever sees "Deleted" also sees when.
        if let Err(err) = self.store.hosted_mark_deleted(id, clock::now()).await {
            tracing::error!("instance {id}: marking it deleted: {err}");
        }
        let (status, aws) = states::DELETED;
        self.set_status(id, status, aws).await;
    }

    /// Stops every process (the portal is shutting down). Instances stay live
    /// in the store and start again with the portal.
    pub async fn shutdown(&self) {
        let handles: Vec<(i64, Handle)> = match self.handles.lock() {
            Ok(mut handles) => handles.drain().collect(),
            Err(_) => return,
        };
        for (_, handle) in &handles {
            let _ = handle.stop.send(true);
        }
        for (id, handle) in handles {
            let _ = handle.task.await;
            let (status, aws) = states::STOPPED;
            self.set_status(id, status, aws).await;
        }
    }

    async fn set_status(&self, id: i64, install_status: &str, aws_status: &str) {
        if let Err(err) = self
            .store
            .hosted_set_status(id, install_status, aws_status)
            .await
        {
            tracing::error!("instance {id}: recording status '{install_status}': {err}");
        }
    }

    /// One instance's life under supervision, until `stopped` turns true.
    async fn run(&self, mut instance: HostedServer, mut stopped: watch::Receiver<bool>) {
        let id = instance.id;
        let mut backoff = FIRST_BACKOFF;
        // An instance that never listened is still being created.
        let mut phase = if instance.port.is_none() {
            states::CREATING
        } else {
            states::STARTING
        };
        loop {
            self.set_status(id, phase.0, phase.1).await;
            let started = tokio::select! {
                started = self.placement.start(&instance) => started,
                _ = stop_requested(&mut stopped) => return,
            };
            let mut running = match started {
                Ok(running) => running,
                Err(err) => {
                    tracing::warn!("instance {id}: start failed: {err:#}");
                    let (status, aws) = states::START_FAILED;
                    self.set_status(id, status, aws).await;
                    if sleep_or_stop(&mut stopped, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            phase = states::RESTARTING;
            let port = running.address().port();
            instance.port = Some(port);
            if let Err(err) = self
                .store
                .hosted_set_runtime(id, Some(port), running.pid())
                .await
            {
                tracing::error!("instance {id}: recording its address: {err}");
            }
            let (status, aws) = states::RUNNING;
            self.set_status(id, status, aws).await;
            tracing::info!("instance {id} running on {}", running.address());
            let started_at = tokio::time::Instant::now();
            tokio::select! {
                how = running.wait() => {
                    tracing::warn!("instance {id}: {how}; restarting");
                }
                _ = stop_requested(&mut stopped) => {
                    running.stop().await;
                    let _ = self.store.hosted_set_runtime(id, None, None).await;
                    return;
                }
            }
            if started_at.elapsed() >= HEALTHY_RUN {
                backoff = FIRST_BACKOFF;
            }
            let (status, aws) = states::RESTARTING;
            self.set_status(id, status, aws).await;
            if sleep_or_stop(&mut stopped, backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Waits `delay`; true when a stop came first.
async fn sleep_or_stop(stopped: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = stop_requested(stopped) => true,
    }
}

/// Resolves once a stop is requested (or the supervisor is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it before returning.
    let _ = stopped.wait_for(|stop| *stop).await.map(|_| ());
}
