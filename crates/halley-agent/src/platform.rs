//! What this machine says about itself: its name, operating system, time
//! zone and the agent's version.

use halley_api::types::OSInfo;
use halley_protocol::device::DeviceInfo;

/// The version the agent reports: the server's own `meta/version`
/// `Version`, since the agent ships with the server it belongs to and
/// integrations (the Prometheus exporter) call a device current when the two
/// are equal.
pub const CLIENT_VERSION: &str = halley_api::constants::APPLICATION_VERSION;

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "linux".into())
}

/// Go's architecture names, which Comet clients report.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

pub fn os_info() -> OSInfo {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        release
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .map(|value| value.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    OSInfo {
        os: "linux".into(),
        arch: arch().into(),
        distribution: field("ID"),
        version: field("VERSION_ID"),
        build: kernel.trim().to_string(),
        ..Default::default()
    }
}

/// The IANA name of the system's time zone (`TZ` first), UTC if unknown.
pub fn timezone_name() -> String {
    jiff::tz::TimeZone::system()
        .iana_name()
        .map(str::to_string)
        .unwrap_or_else(|| "UTC".into())
}

pub fn device_info(friendly_name: &str) -> DeviceInfo {
    DeviceInfo {
        friendly_name: friendly_name.to_string(),
        client_version: CLIENT_VERSION.to_string(),
        platform: format!("linux/{}", arch()),
        platform_version: os_info(),
        timezone: timezone_name(),
        allows_filenames: true,
    }
}
