//! What this machine says about itself: its name, operating system, time
//! zone and the agent's version.

use halley_api::types::OSInfo;
use halley_protocol::device::DeviceInfo;

/// Marks the version stamp in the binary.
pub const VERSION_STAMP_PREFIX: &str = "halley-agent-version:";
const STAMP_LEN: usize = 64;

/// The version this build reports, as text after [`VERSION_STAMP_PREFIX`]
/// (NUL-padded), read at run time: a release pipeline can stamp a build
/// with its version without compiling it again (`docs/client-packages.md`).
/// As built, it is the server's own `meta/version` `Version`, since the
/// agent ships with the server it belongs to and integrations (the
/// Prometheus exporter) call a device current when the two are equal.
static VERSION_STAMP: [u8; STAMP_LEN] = stamp(halley_api::constants::APPLICATION_VERSION);

const fn stamp(version: &str) -> [u8; STAMP_LEN] {
    let mut out = [0u8; STAMP_LEN];
    let prefix = VERSION_STAMP_PREFIX.as_bytes();
    let version = version.as_bytes();
    assert!(prefix.len() + version.len() <= STAMP_LEN);
    let mut i = 0;
    while i < prefix.len() {
        out[i] = prefix[i];
        i += 1;
    }
    let mut j = 0;
    while j < version.len() {
        out[i + j] = version[j];
        j += 1;
    }
    out
}

/// The version this agent reports (`MAJOR.MINOR.PATCH`).
pub fn client_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        // Read through an opaque reference, so a stamped binary's bytes are
        // what count, not a value the compiler folded in.
        let stamp = std::hint::black_box(&VERSION_STAMP);
        let text = &stamp[VERSION_STAMP_PREFIX.len()..];
        let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
        String::from_utf8_lossy(&text[..end]).into_owned()
    })
}

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
        client_version: client_version().to_string(),
        platform: format!("linux/{}", arch()),
        platform_version: os_info(),
        timezone: timezone_name(),
        allows_filenames: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_holds_the_version_as_built() {
        assert_eq!(client_version(), halley_api::constants::APPLICATION_VERSION);
        let stamped = stamp("1.2.3");
        assert!(stamped.starts_with(b"halley-agent-version:1.2.3\0"));
    }
}
