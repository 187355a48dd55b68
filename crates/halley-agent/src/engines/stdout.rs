//! `engine1/stdout`: the output of a command, stored as one file.
//! `COMMAND` is run by `/bin/sh -c`; `FILENAME` names the stored file
//! (default `stdout`). A command that exits non-zero fails the job, with
//! what it wrote to standard error in the log.

use std::io::Read;
use std::process::{Command, Stdio};

use super::{prop, EngineContext, EngineError, EngineOutcome, LogLevel};

pub fn run(ctx: &EngineContext<'_>) -> Result<EngineOutcome, EngineError> {
    let command = prop(ctx, "COMMAND");
    if command.trim().is_empty() {
        return Err(EngineError::Failed(
            "the Protected Item has no command (EngineProps COMMAND)".into(),
        ));
    }
    let file_name = match prop(ctx, "FILENAME") {
        "" => "stdout",
        name => name,
    };
    let stream = ChildOutput::spawn(Command::new("/bin/sh").arg("-c").arg(command), command)?;
    let stream: Box<dyn Read> = Box::new(stream);
    let mut one = std::iter::once(Ok((file_name.to_string(), stream)));
    let snapshot =
        halley_vault::backup_streams(ctx.repo, &mut one, command, &ctx.options(), ctx.progress)
            .map_err(|err| {
                (ctx.log)(LogLevel::Error, err.to_string());
                EngineError::from(err)
            })?;
    Ok(snapshot.into())
}

/// A child's standard output as a stream that fails at its end when the
/// child exits non-zero, so a broken dump never becomes a snapshot.
pub struct ChildOutput {
    child: std::process::Child,
    stdout: std::process::ChildStdout,
    stderr: std::thread::JoinHandle<String>,
    label: String,
    done: bool,
}

impl ChildOutput {
    pub fn spawn(command: &mut Command, label: &str) -> Result<ChildOutput, EngineError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| EngineError::Failed(format!("cannot run {label}: {err}")))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(ChildOutput {
            child,
            stdout,
            stderr,
            label: label.to_string(),
            done: false,
        })
    }
}

impl Read for ChildOutput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        self.done = true;
        let status = self.child.wait()?;
        if status.success() {
            return Ok(0);
        }
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        let stderr = stderr.join().unwrap_or_default();
        Err(std::io::Error::other(format!(
            "{} exited with {status}: {}",
            self.label,
            stderr.trim()
        )))
    }
}

impl Drop for ChildOutput {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
