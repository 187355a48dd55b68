//! The local placement: each region is a directory on this machine, and an
//! instance is a `halleyd` child process with its data directory under it,
//! listening on a loopback port of its own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Context};
use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Placement, Running};
use crate::store::HostedServer;

/// How long a new `halleyd` may take to print its address.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `halleyd` gets to shut down on SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The line `halleyd` prints once it accepts connections.
const READY_PREFIX: &str = "halleyd listening on http://";

pub struct LocalPlacement {
    halleyd: PathBuf,
    /// Region name -> data root.
    regions: BTreeMap<String, PathBuf>,
}

impl LocalPlacement {
    pub fn new(halleyd: PathBuf, regions: BTreeMap<String, PathBuf>) -> Self {
        LocalPlacement { halleyd, regions }
    }

    /// `<region root>/<id>-<subdomain>`: the id keeps a deleted instance's
    /// leftovers apart from a new one that reuses the subdomain.
    pub fn instance_dir(&self, instance: &HostedServer) -> anyhow::Result<PathBuf> {
        let root = self
            .regions
            .get(&instance.region)
            .ok_or_else(|| anyhow!("region '{}' is not configured", instance.region))?;
        Ok(root.join(format!("{}-{}", instance.id, instance.subdomain)))
    }

    async fn launch(
        &self,
        instance: &HostedServer,
        dir: &Path,
        port: u16,
    ) -> anyhow::Result<LocalRunning> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("halleyd.log"))
            .context("opening halleyd.log")?;
        let mut command = Command::new(&self.halleyd);
        command
            .arg("--data-dir")
            .arg(dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            // The environment form of --initial-admin-password: a command line
            // is readable by every local user (ps), an environment only by
            // the same user. halleyd uses it only while it has no administrator.
            .env("HALLEY_INITIAL_ADMIN_PASSWORD", &instance.admin_password)
            .env_remove("HALLEY_LISTEN")
            .env_remove("HALLEY_DATA_DIR")
            .env_remove("HALLEY_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", self.halleyd.display()))?;
        let stdout = child.stdout.take().context("halleyd stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(address) = line.trim().strip_prefix(READY_PREFIX) {
                    return Ok::<_, anyhow::Error>(Some(address.parse::<SocketAddr>()?));
                }
            }
            Ok(None)
        })
        .await;
        let address = match ready {
            Ok(Ok(Some(address))) => address,
            other => {
                let _ = child.kill().await;
                return Err(match other {
                    Err(_) => anyhow!("halleyd printed no address within {READY_TIMEOUT:?}"),
                    Ok(Err(err)) => err.context("reading halleyd's output"),
                    _ => anyhow!("halleyd exited before listening (see halleyd.log)"),
                });
            }
        };
        // Keep reading stdout so halleyd never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(LocalRunning { child, address })
    }
}

#[async_trait]
impl Placement for LocalPlacement {
    fn regions(&self) -> Vec<String> {
        self.regions.keys().cloned().collect()
    }

    async fn start(&self, instance: &HostedServer) -> anyhow::Result<Box<dyn Running>> {
        let dir = self.instance_dir(instance)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating {}", dir.display()))?;
        // Keep the port the instance had, so its address survives restarts;
        // if another process took it meanwhile, take a new one.
        match instance.port {
            Some(port) => match self.launch(instance, &dir, port).await {
                Ok(running) => Ok(Box::new(running)),
                Err(err) => {
                    tracing::warn!(
                        "instance {}: port {port} unusable ({err:#}); taking a new one",
                        instance.id
                    );
                    Ok(Box::new(self.launch(instance, &dir, 0).await?))
                }
            },
            None => Ok(Box::new(self.launch(instance, &dir, 0).await?)),
        }
    }

    async fn reap_stale(&self, instance: &HostedServer) {
        let (Some(pid), Ok(dir)) = (instance.pid, self.instance_dir(instance)) else {
            return;
        };
        // Only a process whose command line names this instance's directory:
        // the pid may have been reused by anything since.
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(&*dir.to_string_lossy()) {
            return;
        }
        tracing::info!(
            "instance {}: stopping halleyd {pid} left by an earlier run",
            instance.id
        );
        terminate_pid(pid);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while Path::new(&format!("/proc/{pid}")).exists() {
            if tokio::time::Instant::now() > deadline {
                kill_pid(pid);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn destroy(&self, instance: &HostedServer) -> anyhow::Result<()> {
        let dir = self.instance_dir(instance)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).with_context(|| format!("removing {}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    fn url(&self, instance: &HostedServer) -> Option<String> {
        instance.port.map(|port| format!("http://127.0.0.1:{port}"))
    }
}

struct LocalRunning {
    child: Child,
    address: SocketAddr,
}

#[async_trait]
impl Running for LocalRunning {
    fn address(&self) -> SocketAddr {
        self.address
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => format!("halleyd exited: {status}"),
            Err(err) => format!("waiting for halleyd: {err}"),
        }
    }

    async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            terminate_pid(pid);
            if tokio::time::timeout(STOP_GRACE, self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// SIGTERM: halleyd shuts down gracefully on it.
fn terminate_pid(pid: u32) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{kill, Signal};
        if let Ok(pid) = i32::try_from(pid) {
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn kill_pid(pid: u32) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{kill, Signal};
        if let Ok(pid) = i32::try_from(pid) {
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}
