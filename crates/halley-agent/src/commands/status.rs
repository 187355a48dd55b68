//! `halley-agent status`: the server, the account, the device, the state of
//! the connection as `run` last saw it, and the last job of each rule.

use anyhow::Result;

use crate::state::StateDir;

pub fn run(dir: &StateDir) -> Result<()> {
    let state = dir.load()?;
    let status = dir.load_status()?;
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.to_string()
        }
    };
    println!("server:     {}", or_none(&state.server));
    println!(
        "account:    {}",
        if state.registered() {
            state.username.clone()
        } else {
            "(not registered)".into()
        }
    );
    println!(
        "device:     {} ({})",
        or_none(&state.device_id),
        or_none(&state.device_name)
    );
    let since = jiff::Timestamp::from_second(status.since)
        .map(|t| t.to_string())
        .unwrap_or_default();
    match status.connection.as_str() {
        "" => println!("connection: none (the service has not run)"),
        state => println!(
            "connection: {state} since {since}{}",
            if status.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", status.detail)
            }
        ),
    }
    if status.last_jobs.is_empty() {
        println!("last jobs:  none");
    }
    for (rule, job) in &status.last_jobs {
        let ended = jiff::Timestamp::from_second(job.end_time)
            .map(|t| t.to_string())
            .unwrap_or_default();
        println!(
            "rule {rule}: job {} status {} at {ended}{}",
            job.job_id,
            job.status,
            if job.message.is_empty() {
                String::new()
            } else {
                format!(": {}", job.message)
            }
        );
    }
    Ok(())
}
