//! Endpoints that Halley cannot serve on its platform. Each one is not
//! built and answers `Status` 501 at once, with a message naming what is
//! missing. It never waits for a device that could not do the work anyway.
//! There are two kinds:
//! - downloads of clients Halley does not build (Windows, macOS, Synology);
//! - dispatcher calls for engines the Linux agent lacks (disk images,
//!   Hyper-V, VMware, Proxmox, Exchange, MSSQL, MongoDB, Windows VSS and
//!   disk snapshots, SMB, Office 365, previews of backed-up email) and
//!   imports of other backup software's settings.
//!
//! The README's compatibility table marks them "not supported" (see
//! `tests/compatibility_table.rs`).

use crate::http::ApiError;

/// Dispatcher calls a Linux agent cannot honour, by their path below
/// `dispatcher/`, with what it lacks.
const DEVICE_LACKS: &[(&str, &str)] = &[
    (
        "browse-virtual-machines",
        "no virtual machine (Hyper-V, VMware, Proxmox) engine",
    ),
    ("request-browse-disk-drives", "no disk image engine"),
    ("request-windisk-snapshot", "no Windows disk image engine"),
    (
        "request-browse-exchange-edb",
        "no Microsoft Exchange engine",
    ),
    ("request-browse-hyperv", "no Hyper-V engine"),
    ("request-browse-mssql", "no Microsoft SQL Server engine"),
    ("request-browse-mongodb", "no MongoDB engine"),
    ("request-browse-vss-aaw", "no Windows VSS writer engine"),
    ("request-browse-vmware", "no VMware engine"),
    ("request-browse-proxmox", "no Proxmox engine"),
    ("test-smb-auth", "no Windows network share (SMB) engine"),
    ("office365-list-virtual-accounts", "no Office 365 engine"),
    ("request-office365-accounts", "no Office 365 engine"),
    ("request-office365-sites", "no Office 365 engine"),
    ("register-office-application", "no Office 365 engine"),
    (
        "email-preview",
        "no email engine (Office 365, Exchange) whose messages it could preview",
    ),
    (
        "request-import-sources",
        "no importer of other backup software's settings",
    ),
    (
        "import-apply",
        "no importer of other backup software's settings",
    ),
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
        .or_else(|| path.strip_prefix("/api/v1/user/web/dispatcher/"))
        .or_else(|| path.strip_prefix("/api/v1/user/dispatcher/"))?;
    let (_, lack) = DEVICE_LACKS
        .iter()
        .find(|(prefix, _)| call == *prefix || call.starts_with(&format!("{prefix}/")))?;
    Some(ApiError::new(
        501,
        format!(
            "dispatcher/{call} is not supported on this device's platform: Halley's Linux agent has {lack} (it backs up files, command output and MySQL/MariaDB)"
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
        assert!(refusal("/api/v1/user/dispatcher/email-preview").is_some());
        assert!(refusal("/api/v1/admin/dispatcher/import-apply").is_some());
    }
}
