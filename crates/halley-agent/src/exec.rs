//! `PreExec` and `PostExec` commands of rules, Protected Items and Storage
//! Vaults: each runs by `/bin/sh -c`, its output goes to the job's log, and
//! a non-zero exit is an error that names the command.

use std::process::Stdio;

/// Runs `commands` in order, stopping at the first that fails. `log`
/// receives each output line; the error names the failing command.
pub async fn run_all(
    what: &str,
    commands: &[String],
    log: &(dyn Fn(String) + Sync),
) -> Result<(), String> {
    for command in commands.iter().filter(|c| !c.trim().is_empty()) {
        log(format!("running {what} command: {command}"));
        let output = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|err| format!("{what} command `{command}` could not start: {err}"))?;
        for line in String::from_utf8_lossy(&output.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&output.stderr).lines())
        {
            log(format!("{what} command: {line}"));
        }
        if !output.status.success() {
            return Err(format!(
                "{what} command `{command}` failed ({})",
                output.status
            ));
        }
    }
    Ok(())
}
