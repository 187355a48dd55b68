use std::path::PathBuf;

use clap::{Parser, Subcommand};
use halley_agent::commands::{backup, login, restore, run, status};
use halley_agent::state::{StateDir, DEFAULT_STATE_DIR};

/// The Halley backup agent.
#[derive(Parser)]
#[command(version = halley_agent::platform::client_version(), about)]
struct Cli {
    /// Where the agent keeps its credentials and status.
    #[arg(long, global = true, env = "HALLEY_AGENT_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register this machine as a device of an account.
    Login {
        /// The server's URL; a package's own server when not given.
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long, env = "HALLEY_AGENT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The current code, for an account with a second factor.
        #[arg(long)]
        totp: Option<String>,
        /// An install token instead of a username and password.
        #[arg(long, conflicts_with_all = ["username", "password"])]
        install_token: Option<String>,
        #[arg(long)]
        device_name: Option<String>,
    },
    /// The background service: live connection, profile, schedules, jobs.
    Run {
        /// The server to wait at, unregistered, in its lobby.
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        device_name: Option<String>,
    },
    /// Back up now, reported to the server like any job.
    Backup {
        #[arg(long)]
        rule: Option<String>,
        #[arg(long, requires = "vault")]
        item: Option<String>,
        #[arg(long, requires = "item")]
        vault: Option<String>,
    },
    /// Restore a Protected Item from a vault onto this machine.
    Restore {
        #[arg(long)]
        item: String,
        #[arg(long)]
        vault: String,
        /// A snapshot ID (or a prefix), or `latest`.
        #[arg(long, default_value = "latest")]
        snapshot: String,
        #[arg(long)]
        target: PathBuf,
        /// Paths inside the snapshot; all of it when none.
        paths: Vec<String>,
    },
    /// List the snapshots of a vault.
    Snapshots {
        #[arg(long)]
        vault: String,
    },
    /// The server, account, device, connection and last job of each rule.
    Status,
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HALLEY_AGENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = StateDir::new(cli.state_dir);
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Login {
                server,
                username,
                password,
                totp,
                install_token,
                device_name,
            } => {
                let login = login::Login {
                    server,
                    username,
                    password,
                    totp,
                    install_token,
                    device_name,
                };
                login::run(&dir, login).await.map(|()| 0)
            }
            Command::Run {
                server,
                device_name,
            } => run::run(dir, server, device_name).await.map(|()| 0),
            Command::Backup { rule, item, vault } => {
                backup::run(dir, backup::check_target(rule, item, vault)?).await
            }
            Command::Restore {
                item,
                vault,
                snapshot,
                target,
                paths,
            } => {
                restore::restore(
                    dir,
                    restore::Restore {
                        item,
                        vault,
                        snapshot,
                        target,
                        paths,
                        archive: None,
                        upload: None,
                    },
                )
                .await
            }
            Command::Snapshots { vault } => restore::snapshots(dir, vault).await.map(|()| 0),
            Command::Status => status::run(&dir).map(|()| 0),
        }
    });
    // Background connection tasks end with the runtime.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("halley-agent: {err:#}");
            std::process::exit(1);
        }
    }
}
