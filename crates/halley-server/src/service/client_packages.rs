//! Client packages, built on request from the agent binary installed beside
//! `halleyd` (or named by `--agent-binary`) and the caller's branding: a
//! Linux tarball with an install script, and a Debian package. Both hold the
//! binary, its systemd unit and `defaults.json` (the server's URL, the
//! product's name and, when asked, an install token), laid out as
//! `halley_protocol::package` says, so the agent finds them.
//! `docs/client-packages.md` says how a packager places the binary.

use std::io::Write;

use halley_protocol::package::{PackageDefaults, BINARY_PATH, DEFAULTS_PATH, UNIT_PATH};

/// The agent's systemd unit, as shipped with it.
pub const SYSTEMD_UNIT: &str = include_str!("../../../halley-agent/dist/halley-agent.service");

/// A download platform of `branding/available-platforms`. Comet does not
/// document its numbers; these are Halley's, in the order of the API's
/// fixed download paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub id: i64,
    pub category: &'static str,
    pub description: &'static str,
    /// Only the Linux packages are built here.
    pub kind: Option<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tarball,
    Deb,
}

pub const PLATFORMS: &[Platform] = &[
    Platform {
        id: 0,
        category: "Windows",
        description: "Windows (x86_64, zip)",
        kind: None,
    },
    Platform {
        id: 1,
        category: "Windows",
        description: "Windows (x86_32, zip)",
        kind: None,
    },
    Platform {
        id: 2,
        category: "Windows",
        description: "Windows (AnyCPU, zip)",
        kind: None,
    },
    Platform {
        id: 3,
        category: "macOS",
        description: "macOS (x86_64, pkg)",
        kind: None,
    },
    Platform {
        id: 4,
        category: "macOS",
        description: "macOS (Apple Silicon, pkg)",
        kind: None,
    },
    Platform {
        id: 5,
        category: "Linux",
        description: "Linux (other), tar.gz with an install script",
        kind: Some(Kind::Tarball),
    },
    Platform {
        id: 6,
        category: "Linux",
        description: "Linux (Debian, Ubuntu), .deb",
        kind: Some(Kind::Deb),
    },
    Platform {
        id: 7,
        category: "Synology",
        description: "Synology DSM 6 (spk)",
        kind: None,
    },
    Platform {
        id: 8,
        category: "Synology",
        description: "Synology DSM 7 (spk)",
        kind: None,
    },
];

pub fn platform(id: i64) -> Option<&'static Platform> {
    PLATFORMS.iter().find(|p| p.id == id)
}

/// What goes into a package besides the binary.
pub struct Contents {
    pub defaults: PackageDefaults,
    /// The Debian package name (the branding's `PackageIdentifier`, else
    /// `halley-agent`).
    pub package_name: String,
    pub company_name: String,
    pub version: String,
}

/// The Debian architecture of the machine `halleyd` runs on, which the
/// agent beside it is built for.
pub fn deb_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        other => other,
    }
}

fn defaults_json(contents: &Contents) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(&contents.defaults).unwrap_or_default();
    json.push(b'\n');
    json
}

/// An install token makes the defaults a secret, readable by root alone.
fn defaults_mode(contents: &Contents) -> u32 {
    if contents.defaults.install_token.is_empty() {
        0o644
    } else {
        0o600
    }
}

/// `halley-agent-linux.tar.gz`: a `halley-agent/` directory holding the
/// package's root (`usr/`, `lib/`, `etc/`) and `install.sh`, which copies it
/// to `/` (or to `$DESTDIR`) and starts the service where systemd runs.
pub fn tarball(binary: &[u8], contents: &Contents) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(gzip());
    let prefix = "halley-agent";
    add(
        &mut tar,
        &format!("{prefix}/install.sh"),
        INSTALL_SH.as_bytes(),
        0o755,
    )?;
    add(&mut tar, &format!("{prefix}/{BINARY_PATH}"), binary, 0o755)?;
    add(
        &mut tar,
        &format!("{prefix}/{UNIT_PATH}"),
        SYSTEMD_UNIT.as_bytes(),
        0o644,
    )?;
    let defaults = defaults_json(contents);
    add(
        &mut tar,
        &format!("{prefix}/{DEFAULTS_PATH}"),
        &defaults,
        defaults_mode(contents),
    )?;
    tar.into_inner()?.finish()
}

/// A Debian package: `debian-binary`, `control.tar.gz` (control, conffiles,
/// postinst, prerm) and `data.tar.gz` (the binary, the unit, the defaults).
pub fn deb(binary: &[u8], contents: &Contents) -> std::io::Result<Vec<u8>> {
    let defaults = defaults_json(contents);
    let data = tar_gz(&[
        (BINARY_PATH, binary, 0o755),
        (UNIT_PATH, SYSTEMD_UNIT.as_bytes(), 0o644),
        (DEFAULTS_PATH, &defaults, defaults_mode(contents)),
    ])?;
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: {maintainer}\n\
         Section: admin\nPriority: optional\nInstalled-Size: {size}\n\
         Description: {product}\n The backup agent of {product}: it registers this machine with\n {server}\n and backs it up on the schedules set there.\n",
        name = contents.package_name,
        version = contents.version,
        arch = deb_architecture(),
        maintainer = if contents.company_name.is_empty() { "Halley" } else { &contents.company_name },
        size = binary.len().div_ceil(1024),
        product = contents.defaults.product_name,
        server = contents.defaults.server,
    );
    let conffiles = format!("/{DEFAULTS_PATH}\n");
    let control = tar_gz(&[
        ("control", control.as_bytes(), 0o644),
        ("conffiles", conffiles.as_bytes(), 0o644),
        ("postinst", POSTINST.as_bytes(), 0o755),
        ("prerm", PRERM.as_bytes(), 0o755),
    ])?;
    let mut deb = b"!<arch>\n".to_vec();
    for (name, body) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
    ] {
        ar_member(&mut deb, name, body)?;
    }
    Ok(deb)
}

/// Fast compression: a package is built anew for each download, and the
/// binary compresses little better at higher levels.
fn gzip() -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
}

fn tar_gz(files: &[(&str, &[u8], u32)]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(gzip());
    for (path, body, mode) in files {
        add(&mut tar, &format!("./{path}"), body, *mode)?;
    }
    tar.into_inner()?.finish()
}

fn add<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    body: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(mode);
    header.set_mtime(crate::util::now_unix().max(0) as u64);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, body)
}

/// One member of an `ar` archive, as `dpkg-deb` reads them: a 60-byte
/// header, the body, and a pad byte to an even length.
fn ar_member(out: &mut Vec<u8>, name: &str, body: &[u8]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`",
        name,
        crate::util::now_unix().max(0),
        0,
        0,
        "100644",
        body.len()
    )?;
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(b'\n');
    }
    Ok(())
}

const POSTINST: &str = r#"#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  mkdir -p /var/lib/halley-agent
  chmod 0700 /var/lib/halley-agent
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable halley-agent.service
    systemctl restart halley-agent.service
  fi
  echo "halley-agent is installed. Register this machine with:"
  echo "  halley-agent --state-dir /var/lib/halley-agent login --username USER --password PASSWORD"
fi
"#;

const PRERM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
  systemctl disable --now halley-agent.service || true
fi
"#;

const INSTALL_SH: &str = r#"#!/bin/sh
# Installs halley-agent from this directory into / (or into $DESTDIR) and,
# where systemd runs and DESTDIR is not set, starts its service.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=${DESTDIR:-}
install -D -m 0755 "$here/usr/bin/halley-agent" "$root/usr/bin/halley-agent"
install -D -m 0644 "$here/lib/systemd/system/halley-agent.service" "$root/lib/systemd/system/halley-agent.service"
if [ ! -e "$root/etc/halley-agent/defaults.json" ]; then
  install -D -m "$(stat -c %a "$here/etc/halley-agent/defaults.json")" "$here/etc/halley-agent/defaults.json" "$root/etc/halley-agent/defaults.json"
fi
mkdir -p "$root/var/lib/halley-agent"
chmod 0700 "$root/var/lib/halley-agent"
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable halley-agent.service
  systemctl restart halley-agent.service
fi
echo "halley-agent is installed. Register this machine with:"
echo "  $root/usr/bin/halley-agent --state-dir $root/var/lib/halley-agent login --username USER --password PASSWORD"
"#;
