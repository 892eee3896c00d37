//! System packages with the base image's own package manager, on BuildKit cache mounts.
//!
//! Package lists and downloaded packages live on cache mounts shared (locked) between
//! builds, so nothing of the manager's caches lands in the layer. Cache ids are keyed by
//! the distribution (or, when it is unknown, the image) and the platform, so different
//! releases or architectures never share lists or packages.

use crate::ir::{CacheSharing, Mount};
use crate::sh::quote;

/// How a base image installs packages, as found in the image itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageManager {
    Apt,
    Apk,
    Dnf,
    Microdnf,
    /// The image has none of the above.
    None,
}

impl PackageManager {
    pub fn name(self) -> &'static str {
        match self {
            PackageManager::Apt => "apt-get",
            PackageManager::Apk => "apk",
            PackageManager::Dnf => "dnf",
            PackageManager::Microdnf => "microdnf",
            PackageManager::None => "no package manager",
        }
    }
}

/// What is known of a base image's system: its manager and a key naming its release
/// (e.g. `debian-12`), used in cache ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSystem {
    pub manager: PackageManager,
    pub release: String,
}

/// The shell script that installs `packages` (names validated by the spec pass).
pub fn install_script(manager: PackageManager, packages: &[String]) -> String {
    let pkgs = packages
        .iter()
        .map(|p| quote(p))
        .collect::<Vec<_>>()
        .join(" ");
    let guard = |bin: &str| {
        format!(
            "if ! command -v {bin} >/dev/null 2>&1; then\n\
             \x20 echo 'strata: [system] packages need {bin}, and this image has none' >&2; exit 1\n\
             fi\n"
        )
    };
    match manager {
        // docker-clean would delete the downloaded .debs after every install; the lists
        // are never emptied (they are the cache), only a partial download is dropped.
        PackageManager::Apt => format!(
            "set -eu\n{}\
             export DEBIAN_FRONTEND=noninteractive\n\
             rm -f /etc/apt/apt.conf.d/docker-clean\n\
             rm -rf /var/lib/apt/lists/partial\n\
             apt-get -o APT::Keep-Downloaded-Packages=true update -q\n\
             apt-get -o APT::Keep-Downloaded-Packages=true install -y -q --no-install-recommends {pkgs}\n\
             rm -rf /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old\n",
            guard("apt-get")
        ),
        PackageManager::Apk => format!(
            "set -eu\n{}\
             apk add --no-progress --update-cache --cache-dir /var/cache/apk {pkgs}\n",
            guard("apk")
        ),
        PackageManager::Dnf => format!(
            "set -eu\n{}\
             dnf install -y -q --setopt=install_weak_deps=False --setopt=keepcache=True --nodocs {pkgs}\n\
             rm -rf /var/log/dnf*.log /var/log/hawkey.log\n",
            guard("dnf")
        ),
        PackageManager::Microdnf => format!(
            "set -eu\n{}\
             microdnf install -y --setopt=install_weak_deps=0 --setopt=keepcache=1 --nodocs {pkgs}\n\
             rm -rf /var/log/dnf*.log /var/log/hawkey.log\n",
            guard("microdnf")
        ),
        PackageManager::None => format!("set -eu\n{}", guard("apt-get, apk or dnf")),
    }
}

/// The cache mounts the manager needs.
pub fn cache_mounts(sys: &BaseSystem, platform: &str) -> Vec<Mount> {
    let key = format!("{}|{platform}", sys.release);
    let cache = |target: &str, what: &str| Mount::Cache {
        target: target.into(),
        id: format!("strata-{what}|{key}"),
        sharing: CacheSharing::Locked,
    };
    match sys.manager {
        PackageManager::Apt => {
            vec![
                cache("/var/cache/apt", "apt-archives"),
                cache("/var/lib/apt", "apt-lists"),
            ]
        }
        PackageManager::Apk => vec![cache("/var/cache/apk", "apk")],
        PackageManager::Dnf | PackageManager::Microdnf => {
            vec![
                cache("/var/cache/dnf", "dnf"),
                cache("/var/cache/yum", "yum"),
            ]
        }
        PackageManager::None => vec![],
    }
}

/// Which chain a package step is on: its caches are the chain's own, so that the
/// runtime's and the builder's installs (which BuildKit may run side by side) never
/// wait for each other's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageRole {
    Runtime,
    Builder,
}

/// The role of a package step from its progress prefix (`"builder: "` or `""`).
pub(crate) fn role_of(prefix: &str) -> PackageRole {
    if prefix.starts_with("builder") {
        PackageRole::Builder
    } else {
        PackageRole::Runtime
    }
}

/// [`cache_mounts`] of one chain: the runtime's ids are `strata-apt-lists|…`, the
/// builder's `strata-apt-lists-builder|…`. Each id stays `locked`: apt, apk and dnf
/// take their own lock in these directories and fail (not wait) when another install
/// holds it, so two steps on one id must not run at once — but the runtime's and the
/// builder's steps no longer share one.
pub fn cache_mounts_for(sys: &BaseSystem, platform: &str, role: PackageRole) -> Vec<Mount> {
    let mounts = cache_mounts(sys, platform);
    if role == PackageRole::Runtime {
        return mounts;
    }
    mounts
        .into_iter()
        .map(|m| match m {
            Mount::Cache {
                target,
                id,
                sharing,
            } => {
                let id = match id.split_once('|') {
                    Some((what, rest)) => format!("{what}-builder|{rest}"),
                    None => format!("{id}-builder"),
                };
                Mount::Cache {
                    target,
                    id,
                    sharing,
                }
            }
            other => other,
        })
        .collect()
}

/// Reads `/etc/os-release` (`ID` and `VERSION_ID`) into a release key such as
/// `debian-12`; `None` when the file says neither.
pub fn release_key(os_release: &str) -> Option<String> {
    let field = |name: &str| {
        os_release.lines().find_map(|l| {
            let v = l.strip_prefix(name)?.strip_prefix('=')?;
            Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    };
    match (field("ID"), field("VERSION_ID")) {
        (Some(id), Some(v)) if !id.is_empty() => Some(format!("{id}-{v}")),
        (Some(id), None) if !id.is_empty() => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(m: PackageManager) -> BaseSystem {
        BaseSystem {
            manager: m,
            release: "debian-12".into(),
        }
    }

    #[test]
    fn apt_keeps_debs_and_never_empties_the_mounted_lists() {
        let s = install_script(PackageManager::Apt, &["curl".into(), "libsndfile1".into()]);
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
    fn each_manager_has_its_command_and_caches() {
        let apk = install_script(PackageManager::Apk, &["curl".into()]);
        assert!(
            apk.contains("apk add --no-progress --update-cache --cache-dir /var/cache/apk curl")
        );
        assert!(install_script(PackageManager::Dnf, &["gcc".into()]).contains("dnf install -y"));
        assert!(install_script(PackageManager::Microdnf, &["gcc".into()])
            .contains("microdnf install -y"));
        let targets = |m| -> Vec<String> {
            cache_mounts(&sys(m), "linux/amd64")
                .into_iter()
                .map(|m| match m {
                    Mount::Cache { target, .. } => target,
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(
            targets(PackageManager::Apt),
            vec!["/var/cache/apt", "/var/lib/apt"]
        );
        assert_eq!(targets(PackageManager::Apk), vec!["/var/cache/apk"]);
        assert!(targets(PackageManager::None).is_empty());
    }

    #[test]
    fn cache_ids_differ_by_release_and_platform() {
        let a = cache_mounts(&sys(PackageManager::Apt), "linux/amd64");
        let b = cache_mounts(
            &BaseSystem {
                manager: PackageManager::Apt,
                release: "ubuntu-22.04".into(),
            },
            "linux/amd64",
        );
        let c = cache_mounts(&sys(PackageManager::Apt), "linux/arm64");
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

    #[test]
    fn builder_and_runtime_caches_have_their_own_ids() {
        let ids = |role| -> Vec<String> {
            cache_mounts_for(&sys(PackageManager::Apt), "linux/amd64", role)
                .into_iter()
                .map(|m| match m {
                    Mount::Cache { id, sharing, .. } => {
                        assert_eq!(sharing, CacheSharing::Locked);
                        id
                    }
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(
            ids(PackageRole::Runtime),
            vec![
                "strata-apt-archives|debian-12|linux/amd64",
                "strata-apt-lists|debian-12|linux/amd64"
            ]
        );
        assert_eq!(
            ids(PackageRole::Builder),
            vec![
                "strata-apt-archives-builder|debian-12|linux/amd64",
                "strata-apt-lists-builder|debian-12|linux/amd64"
            ]
        );
        assert_eq!(role_of("builder: "), PackageRole::Builder);
        assert_eq!(role_of(""), PackageRole::Runtime);
    }

    #[test]
    fn release_keys_come_from_os_release() {
        assert_eq!(
            release_key("NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n").as_deref(),
            Some("debian-12")
        );
        assert_eq!(
            release_key("ID=alpine\nVERSION_ID=3.20.1\n").as_deref(),
            Some("alpine-3.20.1")
        );
        assert_eq!(release_key("ID=arch\n").as_deref(), Some("arch"));
        assert_eq!(release_key("garbage"), None);
    }
}
