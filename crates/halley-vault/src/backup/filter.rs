//! The `engine1/file` selection rules: `INCLUDE*` paths, `EXCLUDE*` globs,
//! `REXCLUDE*` regular expressions, `RESCAN_UNCHANGED`.
//!
//! Globs: one without `/` matches an entry's name at any depth (`*.tmp`);
//! one with `/` matches the whole absolute path, `*` staying inside one
//! component and `**` crossing them (`/home/*/cache`, `**/node_modules`).
//! Regular expressions search the whole absolute path (directories are also
//! tried with a trailing `/`). An excluded directory is skipped with all it
//! holds. The include paths themselves are never excluded.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;

use crate::error::{Result, VaultError};

/// What to back up and what to leave out.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Paths to back up.
    pub includes: Vec<PathBuf>,
    exclude_names: Option<GlobSet>,
    exclude_paths: Option<GlobSet>,
    rexcludes: Vec<Regex>,
    /// Read every file even when its size, mtime and inode are unchanged.
    pub rescan_unchanged: bool,
}

impl Selection {
    /// Builds from explicit lists.
    pub fn new(includes: Vec<PathBuf>, excludes: &[String], rexcludes: &[String]) -> Result<Self> {
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        let (mut n_names, mut n_paths) = (0, 0);
        for g in excludes {
            let glob = GlobBuilder::new(g)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| VaultError::invalid("exclude glob", format!("{g:?}: {e}")))?;
            if g.contains('/') {
                paths.add(glob);
                n_paths += 1;
            } else {
                names.add(glob);
                n_names += 1;
            }
        }
        let build = |b: GlobSetBuilder, n: usize| -> Result<Option<GlobSet>> {
            if n == 0 {
                return Ok(None);
            }
            b.build()
                .map(Some)
                .map_err(|e| VaultError::invalid("exclude glob", e))
        };
        let rexcludes = rexcludes
            .iter()
            .map(|r| {
                Regex::new(r)
                    .map_err(|e| VaultError::invalid("exclude regex", format!("{r:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Selection {
            includes,
            exclude_names: build(names, n_names)?,
            exclude_paths: build(paths, n_paths)?,
            rexcludes,
            rescan_unchanged: false,
        })
    }

    /// Builds from a Protected Item's `EngineProps` (`engine1/file` keys).
    /// Keys are taken in sorted order, so the result does not depend on map order.
    pub fn from_engine_props<'a, I>(props: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let sorted: BTreeMap<&String, &String> = props.into_iter().collect();
        let (mut inc, mut exc, mut rexc, mut rescan) = (vec![], vec![], vec![], false);
        for (k, v) in sorted {
            if k.starts_with("INCLUDE") {
                inc.push(PathBuf::from(v));
            } else if k.starts_with("EXCLUDE") {
                exc.push(v.clone());
            } else if k.starts_with("REXCLUDE") {
                rexc.push(v.clone());
            } else if k == "RESCAN_UNCHANGED" {
                rescan = true;
            }
        }
        let mut s = Selection::new(inc, &exc, &rexc)?;
        s.rescan_unchanged = rescan;
        Ok(s)
    }

    /// Whether an entry below an include path is left out.
    pub fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        if let (Some(set), Some(name)) = (&self.exclude_names, path.file_name()) {
            if set.is_match(Path::new(name)) {
                return true;
            }
        }
        if let Some(set) = &self.exclude_paths {
            if set.is_match(path) {
                return true;
            }
        }
        if !self.rexcludes.is_empty() {
            let bytes = path.as_os_str().as_bytes();
            let mut with_slash;
            let candidate: &[u8] = if is_dir {
                with_slash = bytes.to_vec();
                with_slash.push(b'/');
                &with_slash
            } else {
                bytes
            };
            if self.rexcludes.iter().any(|r| r.is_match(candidate)) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_regex_rules() {
        let s = Selection::new(
            vec![],
            &[
                "*.tmp".into(),
                "/data/*/cache".into(),
                "**/node_modules".into(),
            ],
            &[r"\.bak$".into(), "/skipdir/".into()],
        )
        .unwrap();
        assert!(s.excluded(Path::new("/a/b/x.tmp"), false));
        assert!(!s.excluded(Path::new("/a/b/x.tmpl"), false));
        assert!(s.excluded(Path::new("/data/u/cache"), true));
        assert!(!s.excluded(Path::new("/data/u/v/cache"), true));
        assert!(s.excluded(Path::new("/x/y/node_modules"), true));
        assert!(s.excluded(Path::new("/x/file.bak"), false));
        assert!(s.excluded(Path::new("/x/skipdir"), true));
        assert!(!s.excluded(Path::new("/x/skipdir"), false));
        assert!(!s.excluded(Path::new("/x/keep.txt"), false));
    }

    #[test]
    fn engine_props_keys() {
        let props: BTreeMap<String, String> = [
            ("INCLUDE0", "/srv"),
            ("INCLUDE_1", "/etc"),
            ("EXCLUDE0", "*.log"),
            ("REXCLUDE0", "^/srv/tmp"),
            ("RESCAN_UNCHANGED", ""),
            ("USE_WIN_VSS", ""),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let s = Selection::from_engine_props(&props).unwrap();
        assert_eq!(
            s.includes,
            vec![PathBuf::from("/srv"), PathBuf::from("/etc")]
        );
        assert!(s.rescan_unchanged);
        assert!(s.excluded(Path::new("/srv/a.log"), false));
        assert!(s.excluded(Path::new("/srv/tmp"), true));
        assert!(Selection::new(vec![], &[], &["(".into()]).is_err());
    }
}
