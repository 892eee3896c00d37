//! System packages with apt, on BuildKit cache mounts.
//!
//! The lists and the downloaded .debs live on cache mounts shared (locked) between
//! builds, so nothing of apt's caches lands in the layer; `docker-clean` is removed first
//! because it would delete the downloaded .debs after every install.

use crate::ir::{CacheSharing, Mount};
use crate::sh::quote;

pub const LISTS_DIR: &str = "/var/lib/apt";
pub const ARCHIVES_DIR: &str = "/var/cache/apt";

/// The shell script that installs `packages` (already validated names).
pub fn install_script(packages: &[String]) -> String {
    let pkgs: Vec<String> = packages.iter().map(|p| quote(p)).collect();
    format!(
        "set -eu\n\
         if ! command -v apt-get >/dev/null 2>&1; then\n\
         \x20 echo 'strata: [system] packages need apt-get, and this base image has none' >&2; exit 1\n\
         fi\n\
         export DEBIAN_FRONTEND=noninteractive\n\
         rm -f /etc/apt/apt.conf.d/docker-clean\n\
         rm -rf /var/lib/apt/lists/partial\n\
         apt-get -o APT::Keep-Downloaded-Packages=true update -q\n\
         apt-get -o APT::Keep-Downloaded-Packages=true install -y -q --no-install-recommends {}\n\
         rm -rf /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old\n",
        pkgs.join(" ")
    )
}

/// The two cache mounts apt needs. Ids are keyed by base image and platform so that
/// different distributions or architectures never share lists or packages.
pub fn cache_mounts(image: &str, platform: &str) -> Vec<Mount> {
    let key = format!("{image}|{platform}");
    vec![
        Mount::Cache {
            target: ARCHIVES_DIR.into(),
            id: format!("strata-apt-archives|{key}"),
            sharing: CacheSharing::Locked,
        },
        Mount::Cache {
            target: LISTS_DIR.into(),
            id: format!("strata-apt-lists|{key}"),
            sharing: CacheSharing::Locked,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_script_keeps_debs_and_never_empties_the_mounted_lists() {
        let s = install_script(&["curl".into(), "libsndfile1".into()]);
        assert!(
            s.contains("install -y -q --no-install-recommends curl libsndfile1"),
            "{s}"
        );
        assert!(s.contains("rm -f /etc/apt/apt.conf.d/docker-clean"));
        assert!(
            !s.contains("rm -rf /var/lib/apt/lists/*"),
            "would empty the cache mount: {s}"
        );
    }

    #[test]
    fn cache_ids_differ_by_image_and_platform() {
        let a = cache_mounts("debian:12", "linux/amd64");
        let b = cache_mounts("ubuntu:22.04", "linux/amd64");
        let c = cache_mounts("debian:12", "linux/arm64");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|m| matches!(
            m,
            Mount::Cache {
                sharing: CacheSharing::Locked,
                ..
            }
        )));
    }
}
