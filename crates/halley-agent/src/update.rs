//! `dispatcher/update-software` and update campaigns: the agent fetches the
//! build its server offers (with its own device credentials), checks that
//! it runs and says its version, puts it in place of its own executable,
//! and, once the server has the answer, starts it in its own place (the
//! same process, the same arguments), which connects again reporting the
//! new version.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use halley_protocol::device::{agent_version, SoftwareUpdated, SOFTWARE_PATH};

use crate::session::Session;

/// Fetches the offered build and puts it in place: the new version, and
/// the path it is at (this process's own executable, which after the
/// replacement no longer names itself).
pub async fn install_offered_build(session: &Session) -> Result<(SoftwareUpdated, PathBuf)> {
    let state = session.state();
    let url = format!("{}{SOFTWARE_PATH}", state.server.trim_end_matches('/'));
    let answer = reqwest::Client::new()
        .post(&url)
        .form(&[
            ("DeviceID", state.device_id.as_str()),
            ("DeviceKey", state.device_key.as_str()),
        ])
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let is_build = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|kind| kind == "application/octet-stream");
    if !answer.status().is_success() || !is_build {
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        bail!("{url} offered no build ({status}): {text:.300}");
    }
    let build = answer.bytes().await?;
    let exe = std::env::current_exe()?;
    let at = exe.clone();
    let updated = tokio::task::spawn_blocking(move || put_in_place(&at, &build)).await??;
    Ok((updated, exe))
}

/// Writes `build` beside `exe`, checks it, and renames it over `exe`.
fn put_in_place(exe: &Path, build: &[u8]) -> Result<SoftwareUpdated> {
    let staged = staged_path(exe)?;
    std::fs::write(&staged, build).with_context(|| format!("writing {}", staged.display()))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))?;
    let checked = version_of(&staged);
    let version = match checked {
        Ok(version) => version,
        Err(err) => {
            let _ = std::fs::remove_file(&staged);
            return Err(err);
        }
    };
    std::fs::rename(&staged, exe)
        .with_context(|| format!("putting the new build in place of {}", exe.display()))?;
    Ok(SoftwareUpdated { version })
}

fn staged_path(exe: &Path) -> Result<PathBuf> {
    let name = exe
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", exe.display()))?;
    Ok(exe.with_file_name(format!(".{}.update", name.to_string_lossy())))
}

/// What a build says it is (`halley-agent --version`).
fn version_of(build: &Path) -> Result<String> {
    let out = Command::new(build)
        .arg("--version")
        .output()
        .with_context(|| format!("the offered build does not run ({})", build.display()))?;
    agent_version(out.status.success(), &out.stdout).ok_or_else(|| {
        let said = String::from_utf8_lossy(&out.stdout);
        anyhow!("the offered build is not a halley-agent: it says {said:?}")
    })
}

/// Replaces this process with the executable at `exe`, with the same
/// arguments. Returns only if that fails.
pub fn restart(exe: &Path) -> anyhow::Error {
    let err = Command::new(exe).args(std::env::args_os().skip(1)).exec();
    anyhow!("restarting {}: {err}", exe.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_that_is_not_an_agent_is_refused_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("halley-agent");
        std::fs::write(&exe, b"the running one").unwrap();
        let err = put_in_place(&exe, b"#!/bin/sh\necho something else\n").unwrap_err();
        assert!(format!("{err:#}").contains("not a halley-agent"), "{err:#}");
        assert_eq!(std::fs::read(&exe).unwrap(), b"the running one");
        assert!(!staged_path(&exe).unwrap().exists());
        let new = b"#!/bin/sh\necho halley-agent 9.8.7\n";
        assert_eq!(put_in_place(&exe, new).unwrap().version, "9.8.7");
        assert_eq!(std::fs::read(&exe).unwrap(), new);
    }
}
