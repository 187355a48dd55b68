use std::time::Duration;

use clap::Parser;
use halley_server::handover::Inherited;
use halley_server::lifecycle::Lifecycle;

/// How long the tasks of an ended run may take to finish before the next
/// run starts without them.
const WIND_DOWN: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let options = halley_server::server::Options::parse();
    if let Some(target) = &options.copy_database_to {
        return runtime()?.block_on(halley_server::server::copy_database(&options, target));
    }
    let _log_guard = halley_server::logging::init(&options.data_dir)?;
    let mut inherited = Inherited::default();
    loop {
        // Each run has a runtime of its own: dropping it stops every task
        // of the run, so a restart starts afresh from the files and the
        // database, as a new process would, on the same sockets.
        let runtime = runtime()?;
        let ended = runtime.block_on(halley_server::server::run(options.clone(), inherited));
        runtime.shutdown_timeout(WIND_DOWN);
        let ended = ended?;
        if ended.lifecycle != Lifecycle::Restart {
            return Ok(());
        }
        inherited = ended.handover.into_inherited();
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
