use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HALLEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = halley_server::server::run(halley_server::server::Options::parse()).await?;
    if outcome == halley_server::lifecycle::Lifecycle::Restart {
        restart();
    }
    Ok(())
}

/// Replaces this process with a fresh copy of itself, same arguments and
/// environment: everything the server knows is in its files.
#[cfg(unix)]
fn restart() {
    use std::os::unix::process::CommandExt;
    let program = std::env::current_exe().unwrap_or_else(|_| "halleyd".into());
    let err = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("halleyd: restart failed: {err}");
    std::process::exit(1);
}

#[cfg(not(unix))]
fn restart() {
    eprintln!("halleyd: restart is only supported on Unix; exiting");
}
