//! What a client package built by `halleyd` tells the agent it holds: the
//! server to use, the product's name, and an install token when the
//! package was asked to carry one. The file is `etc/halley-agent/defaults.json`
//! two directories above the agent binary (`/usr/bin/halley-agent` reads
//! `/etc/halley-agent/defaults.json`), so a package unpacked into another
//! root finds its own.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the defaults are, relative to the root the package is installed in.
pub const DEFAULTS_PATH: &str = "etc/halley-agent/defaults.json";
/// Where the agent binary is, relative to the same root.
pub const BINARY_PATH: &str = "usr/bin/halley-agent";
/// Where the systemd unit is, relative to the same root.
pub const UNIT_PATH: &str = "lib/systemd/system/halley-agent.service";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PackageDefaults {
    /// The server's base URL.
    pub server: String,
    pub product_name: String,
    /// Registers the machine on first start without a password when set.
    pub install_token: String,
}

/// The defaults file beside an agent binary at `binary`.
pub fn defaults_beside(binary: &Path) -> Option<PathBuf> {
    let root = binary.parent()?.parent()?.parent()?;
    Some(root.join(DEFAULTS_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_found_from_the_binary() {
        assert_eq!(
            defaults_beside(Path::new("/usr/bin/halley-agent")).unwrap(),
            Path::new("/etc/halley-agent/defaults.json")
        );
        assert_eq!(
            defaults_beside(Path::new("/tmp/root/usr/bin/halley-agent")).unwrap(),
            Path::new("/tmp/root/etc/halley-agent/defaults.json")
        );
    }
}
