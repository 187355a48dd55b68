use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = halley_server::server::Options::parse();
    if let Some(target) = &options.copy_database_to {
        return halley_server::server::copy_database(&options, target).await;
    }
    let log_guard = halley_server::logging::init(&options.data_dir)?;
    let outcome = halley_server::server::run(options).await?;
    drop(log_guard);
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
