//! The release catalogue: a directory of server release artifacts described by
//! `manifest.json` (layout in the crate README). It is read on each request,
//! so a new release is published by copying files and editing the manifest,
//! with no restart.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const MANIFEST_FILE: &str = "manifest.json";

/// The platforms of `downloads/get`, in the order the download list shows them,
/// with the label the list uses.
pub const PLATFORMS: &[(&str, &str)] = &[
    ("download_windows", "Download for Windows"),
    ("download_linux_deb", "Download for Linux (.deb)"),
    ("download_linux_rpm", "Download for Linux (.rpm)"),
    ("download_linux_tar", "Download for Linux (other)"),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub downloads_url: String,
    #[serde(default)]
    pub updates_info: Vec<String>,
    #[serde(default)]
    pub releases: Vec<Release>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub version_key: String,
    #[serde(default = "default_release_name")]
    pub name: String,
    /// Display version, e.g. `25.9.6 "Voyager"`; the key when absent.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub prerelease: bool,
    /// Platform (`download_windows`, …) -> file path relative to the catalogue.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

fn default_release_name() -> String {
    "Halley Server Release Notes".to_string()
}

pub struct Catalogue {
    dir: PathBuf,
}

impl Catalogue {
    pub fn new(dir: PathBuf) -> Self {
        Catalogue { dir }
    }

    /// The manifest with releases newest first. A catalogue without a manifest
    /// is empty; a manifest that does not parse is an error (a 500), because
    /// answering "no releases" would hide a broken publication.
    pub fn load(&self) -> anyhow::Result<Manifest> {
        let path = self.dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest::default())
            }
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        let mut manifest: Manifest =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        manifest
            .releases
            .sort_by(|a, b| compare_versions(&b.version_key, &a.version_key));
        Ok(manifest)
    }

    /// The file of one platform of one release, if the manifest names it and it
    /// stays inside the catalogue.
    pub fn artifact(&self, release: &Release, platform: &str) -> Option<PathBuf> {
        let relative = Path::new(release.files.get(platform)?);
        let inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        inside.then(|| self.dir.join(relative))
    }

    /// the API guide's `Download` text: each available platform with its size.
    pub fn download_summary(&self, release: &Release) -> String {
        PLATFORMS
            .iter()
            .filter_map(|(platform, label)| {
                let path = self.artifact(release, platform)?;
                let size = std::fs::metadata(path).ok()?.len();
                Some(format!("{label} {:.2} MB", size as f64 / (1024.0 * 1024.0)))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Manifest {
    pub fn latest_stable(&self) -> String {
        self.releases
            .iter()
            .find(|r| !r.prerelease)
            .map(|r| r.version_key.clone())
            .unwrap_or_default()
    }

    /// The newest release of any kind: what a user who accepts prereleases runs.
    pub fn latest_prerelease(&self) -> String {
        self.releases
            .first()
            .map(|r| r.version_key.clone())
            .unwrap_or_default()
    }
}

/// Orders `25.10.1` after `25.9.6`: numeric parts compare as numbers, others as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<String> { v.split(['.', '-']).map(str::to_string).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ordering = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("25.10.1", "25.9.6"), Ordering::Greater);
        assert_eq!(compare_versions("20.8.3", "20.9.3"), Ordering::Less);
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0.1", "1.0"), Ordering::Greater);
    }

    #[test]
    fn artifacts_stay_inside_the_catalogue() {
        let catalogue = Catalogue::new(PathBuf::from("/srv/releases"));
        let release = Release {
            version_key: "1.0".into(),
            name: default_release_name(),
            version: None,
            prerelease: false,
            files: [
                ("download_windows".to_string(), "1.0/setup.exe".to_string()),
                (
                    "download_linux_deb".to_string(),
                    "../etc/passwd".to_string(),
                ),
                ("download_linux_rpm".to_string(), "/etc/passwd".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(
            catalogue.artifact(&release, "download_windows"),
            Some(PathBuf::from("/srv/releases/1.0/setup.exe"))
        );
        assert_eq!(catalogue.artifact(&release, "download_linux_deb"), None);
        assert_eq!(catalogue.artifact(&release, "download_linux_rpm"), None);
        assert_eq!(catalogue.artifact(&release, "download_linux_tar"), None);
    }
}
