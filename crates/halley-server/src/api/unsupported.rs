//! Endpoints that Halley cannot serve on its platform. Each one is not
//! built and answers `Status` 501 at once, with a message naming what is
//! missing. It never waits for a device that could not do the work anyway.
//! There are two kinds:
//! - downloads of clients Halley does not build (Windows, macOS, Synology);
//! - dispatcher calls for engines the Linux agent lacks (disk images,
//!   Hyper-V, VMware, Proxmox, Exchange, MSSQL, MongoDB, Windows VSS and
//!   disk snapshots, SMB, Office 365).
//!
//! The README's compatibility table marks them "not supported" (see
//! `tests/compatibility_table.rs`).

use crate::http::ApiError;

/// Dispatcher calls of engines the agent does not have, by their path below
/// `dispatcher/`, with the engine named in the answer.
const DEVICE_ENGINES: &[(&str, &str)] = &[
    (
        "browse-virtual-machines",
        "virtual machine (Hyper-V, VMware, Proxmox)",
    ),
    ("request-browse-disk-drives", "disk image"),
    ("request-windisk-snapshot", "Windows disk image"),
    ("request-browse-exchange-edb", "Microsoft Exchange"),
    ("request-browse-hyperv", "Hyper-V"),
    ("request-browse-mssql", "Microsoft SQL Server"),
    ("request-browse-mongodb", "MongoDB"),
    ("request-browse-vss-aaw", "Windows VSS writer"),
    ("request-browse-vmware", "VMware"),
    ("request-browse-proxmox", "Proxmox"),
    ("test-smb-auth", "Windows network share (SMB)"),
    ("office365-list-virtual-accounts", "Office 365"),
    ("request-office365-accounts", "Office 365"),
    ("request-office365-sites", "Office 365"),
    ("register-office-application", "Office 365"),
];

/// What an endpoint that cannot be served here answers, or `None` when it
/// is simply not built yet.
pub fn refusal(path: &str) -> Option<ApiError> {
    if let Some(name) = path.strip_prefix("/api/v1/admin/branding/generate-client/") {
        return Some(ApiError::new(
            501,
            format!("Halley does not build the {name} client: only Linux packages (linuxgeneric, linux-deb)"),
        ));
    }
    let call = path
        .strip_prefix("/api/v1/admin/dispatcher/")
        .or_else(|| path.strip_prefix("/api/v1/user/web/dispatcher/"))?;
    let (_, engine) = DEVICE_ENGINES
        .iter()
        .find(|(prefix, _)| call == *prefix || call.starts_with(&format!("{prefix}/")))?;
    Some(ApiError::new(
        501,
        format!(
            "dispatcher/{call} is not supported on this device's platform: Halley's Linux agent has no {engine} engine (it backs up files, command output and MySQL/MariaDB)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_cannot_be_served_is_refused() {
        let hyperv = refusal("/api/v1/user/web/dispatcher/request-browse-hyperv").unwrap();
        let ApiError::Message { status, message } = hyperv else {
            panic!("a message");
        };
        assert_eq!(status, 501);
        assert!(message.contains("no Hyper-V engine"), "{message}");
        assert!(refusal("/api/v1/admin/dispatcher/request-browse-vmware/hosts").is_some());
        assert!(refusal("/api/v1/admin/dispatcher/run-restore").is_none());
        assert!(refusal("/api/v1/admin/dispatcher/request-browse-mysql").is_none());
        assert!(refusal("/api/v1/admin/branding/generate-client/macos-arm64").is_some());
    }
}
