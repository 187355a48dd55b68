//! `dispatcher/uninstall-software`: the agent removes itself. Installed by
//! the Debian package, it asks dpkg to remove the package (purge it, with
//! the configuration); installed from the tarball (or copied by hand) it
//! deletes its executable, the systemd unit and defaults laid beside it,
//! and, with the configuration, its state directory. Then it exits with
//! [`EXIT_KILLED`](crate::dispatch::EXIT_KILLED), which its unit does not
//! restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

const PACKAGE: &str = "halley-agent";
/// Where dpkg lists the files of the installed package.
const DPKG_FILE_LIST: &str = "/var/lib/dpkg/info/halley-agent.list";

/// What removing this installation means.
#[derive(Debug, PartialEq)]
pub enum Removal {
    /// The Debian package owns the executable: dpkg removes it.
    Package { purge: bool },
    /// Files to delete (directories whole), and whether the systemd unit
    /// must be disabled first.
    Files {
        paths: Vec<PathBuf>,
        disable_unit: bool,
    },
}

/// Decides what to remove for the executable `exe` and state directory
/// `state_dir`. The tarball installs below a root (`/` or `$DESTDIR`) as
/// `usr/bin/halley-agent`, `lib/systemd/system/halley-agent.service` and
/// `etc/halley-agent/`; the unit and defaults are removed only when they
/// stand there beside the executable.
pub fn plan(exe: &Path, state_dir: &Path, remove_config: bool) -> Removal {
    let packaged = std::fs::read_to_string(DPKG_FILE_LIST)
        .map(|list| list.lines().any(|line| Path::new(line) == exe))
        .unwrap_or(false);
    if packaged {
        return Removal::Package {
            purge: remove_config,
        };
    }
    let mut paths = vec![exe.to_path_buf()];
    let root = exe
        .strip_prefix("/")
        .ok()
        .filter(|relative| relative.ends_with("usr/bin/halley-agent"))
        .and_then(|_| exe.ancestors().nth(3));
    let mut disable_unit = false;
    if let Some(root) = root {
        let unit = root.join("lib/systemd/system/halley-agent.service");
        if unit.exists() {
            disable_unit = root == Path::new("/");
            paths.push(unit);
        }
        if remove_config {
            paths.push(root.join("etc/halley-agent"));
        }
    }
    if remove_config {
        paths.push(state_dir.to_path_buf());
    }
    Removal::Files {
        paths,
        disable_unit,
    }
}

/// Carries out the removal; the caller exits right after.
pub fn carry_out(removal: &Removal) -> Result<()> {
    match removal {
        Removal::Package { purge } => {
            let action = if *purge { "--purge" } else { "--remove" };
            // dpkg stops this service while it works, so it runs in a unit
            // of its own where systemd runs, outside this one's processes.
            let mut command = if Path::new("/run/systemd/system").exists() {
                let mut c = Command::new("systemd-run");
                c.args(["--no-block", "--collect", "dpkg", action, PACKAGE]);
                c
            } else {
                let mut c = Command::new("dpkg");
                c.args([action, PACKAGE]);
                c
            };
            let status = command.status().context("starting dpkg")?;
            anyhow::ensure!(status.success(), "dpkg {action} {PACKAGE}: {status}");
        }
        Removal::Files {
            paths,
            disable_unit,
        } => {
            if *disable_unit && Path::new("/run/systemd/system").exists() {
                let _ = Command::new("systemctl")
                    .args(["disable", "halley-agent.service"])
                    .status();
            }
            for path in paths {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                match removed {
                    Ok(()) => tracing::warn!("uninstall: removed {}", path.display()),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => {
                        return Err(err).with_context(|| format!("removing {}", path.display()))
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tarball_install_loses_its_unit_and_with_the_configuration_its_state() {
        let root = tempfile::tempdir().unwrap();
        let exe = root.path().join("usr/bin/halley-agent");
        let unit = root.path().join("lib/systemd/system/halley-agent.service");
        std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
        std::fs::write(&unit, "[Unit]").unwrap();
        let state = root.path().join("var/lib/halley-agent");
        let Removal::Files {
            paths,
            disable_unit,
        } = plan(&exe, &state, true)
        else {
            panic!("not packaged");
        };
        assert!(
            !disable_unit,
            "a unit below another root is not this system's"
        );
        assert_eq!(
            paths,
            vec![
                exe.clone(),
                unit,
                root.path().join("etc/halley-agent"),
                state.clone()
            ]
        );
        let Removal::Files { paths, .. } = plan(&exe, &state, false) else {
            panic!("not packaged");
        };
        assert_eq!(paths.len(), 2, "the configuration stays: {paths:?}");
    }

    #[test]
    fn a_copy_elsewhere_removes_only_itself_and_its_state() {
        let exe = Path::new("/opt/tools/agent");
        let Removal::Files { paths, .. } = plan(exe, Path::new("/srv/state"), true) else {
            panic!("not packaged");
        };
        assert_eq!(paths, vec![exe.to_path_buf(), PathBuf::from("/srv/state")]);
    }
}
