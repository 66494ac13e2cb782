//! Where the cache lives: the `cache_dir` option, then `OVEP_CACHE_DIR`, then
//! `$XDG_CACHE_HOME/ovep`, then `~/.cache/ovep`.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const ENV_CACHE_DIR: &str = "OVEP_CACHE_DIR";

/// The cache directory, or `None` when caching is off: the option (or, without it,
/// `OVEP_CACHE_DIR`) is the empty string, or there is no usable home directory.
/// `env` looks up an environment variable (`|k| std::env::var_os(k)` in the EP); passing it
/// in keeps this pure and testable.
pub fn resolve_dir(option: Option<&str>, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = option {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    if let Some(dir) = env(ENV_CACHE_DIR) {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(xdg) = env("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Some(Path::new(&xdg).join("ovep"));
    }
    env("HOME").filter(|h| Path::new(h).is_absolute()).map(|home| Path::new(&home).join(".cache").join("ovep"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(option: Option<&str>, vars: &[(&str, &str)]) -> Option<PathBuf> {
        resolve_dir(option, |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v)))
    }

    #[test]
    fn resolution_order() {
        let all = [("OVEP_CACHE_DIR", "/env"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")];
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(resolve(Some("/opt"), &all), p("/opt"));
        assert_eq!(resolve(Some("rel/dir"), &all), p("rel/dir"));
        assert_eq!(resolve(Some(""), &all), None, "empty option disables");
        assert_eq!(resolve(None, &all), p("/env"));
        assert_eq!(resolve(None, &[("OVEP_CACHE_DIR", ""), ("HOME", "/home/u")]), None, "empty env disables");
        assert_eq!(resolve(None, &all[1..]), p("/xdg/ovep"));
        assert_eq!(resolve(None, &[("XDG_CACHE_HOME", "relative"), ("HOME", "/home/u")]), p("/home/u/.cache/ovep"));
        assert_eq!(resolve(None, &[("XDG_CACHE_HOME", ""), ("HOME", "/home/u")]), p("/home/u/.cache/ovep"));
        assert_eq!(resolve(None, &all[2..]), p("/home/u/.cache/ovep"));
        assert_eq!(resolve(None, &[("HOME", "")]), None);
        assert_eq!(resolve(None, &[]), None);
    }
}
