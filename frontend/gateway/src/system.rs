//! What a base image installs packages with, found in the image itself: the package
//! manager binaries it has, and its release from /etc/os-release (for cache ids).

use std::collections::BTreeMap;

use futures_util::future::join_all;

use strata_llb::{ImageRef, LowerOptions};
use strata_plan::{release_key, BaseSystem, PackageManager};
use strata_spec::model::Target;

use crate::bridge::{Bridge, BridgeError};

/// Where each manager's binary lives, in the order they are tried.
const MANAGERS: &[(&str, PackageManager)] = &[
    ("/usr/bin/apt-get", PackageManager::Apt),
    ("/sbin/apk", PackageManager::Apk),
    ("/usr/bin/dnf", PackageManager::Dnf),
    ("/usr/bin/microdnf", PackageManager::Microdnf),
];

/// The systems of the images that will install packages (only those: looking costs a
/// solve of the image), keyed by the reference as written in the spec.
pub async fn detect_all(
    bridge: &Bridge,
    t: &Target,
    o: &LowerOptions,
) -> Result<BTreeMap<String, BaseSystem>, BridgeError> {
    let mut wanted: Vec<&str> = vec![];
    if !t.system.packages.is_empty() {
        wanted.push(&t.image.base.value);
    }
    let builds_something = !t.tiers.is_empty() || !t.builds.is_empty();
    let builder_pkgs = !t.system.packages.is_empty() || !t.system.build_packages.is_empty();
    if builds_something && builder_pkgs {
        wanted.push(&t.image.builder.as_ref().unwrap_or(&t.image.base).value);
    }
    wanted.dedup();
    // An unparsable reference is reported, with its line, when images are resolved.
    let parsed: Vec<(&str, String)> = wanted
        .into_iter()
        .filter_map(|w| ImageRef::parse(w).ok().map(|r| (w, r.normalized())))
        .collect();
    let found = join_all(parsed.iter().map(|(_, n)| detect(bridge, n, o))).await;
    let mut out = BTreeMap::new();
    for ((reference, _), system) in parsed.into_iter().zip(found) {
        out.insert(reference.to_string(), system?);
    }
    Ok(out)
}

async fn detect(
    bridge: &Bridge,
    normalized: &str,
    o: &LowerOptions,
) -> Result<BaseSystem, BridgeError> {
    let def = strata_llb::lower::image_definition(
        normalized,
        &format!("[internal] inspect {normalized} for its package manager"),
        o,
    );
    let root = bridge.solve(def, vec![], false).await?;
    // All the lookups at once; the first manager in MANAGERS' order that exists wins.
    let (stats, releases) = tokio::join!(
        join_all(
            MANAGERS
                .iter()
                .map(|(path, _)| bridge.stat_file(&root, path))
        ),
        join_all(
            ["/etc/os-release", "/usr/lib/os-release"].map(|p| bridge.read_file(&root, p, None))
        ),
    );
    let mut manager = PackageManager::None;
    for ((_, m), stat) in MANAGERS.iter().zip(stats) {
        if stat?.is_some() {
            manager = *m;
            break;
        }
    }
    let release = releases
        .into_iter()
        .filter_map(Result::ok)
        .find_map(|text| release_key(&String::from_utf8_lossy(&text)));
    Ok(BaseSystem {
        manager,
        release: release.unwrap_or_else(|| normalized.to_string()),
    })
}
