//! What a base image installs packages with, found in the image itself: the package
//! manager binaries it has, and its release from /etc/os-release (for cache ids).

use std::collections::BTreeMap;

use futures_util::future::join_all;

use strata_llb::{ImageRef, LowerOptions};
use strata_plan::{release_key, BaseSystem, PackageManager};
use strata_spec::model::Target;

use crate::bridge::{Bridge, BridgeError};
use crate::options::CacheImport;

/// Where each manager's binary lives, in the order they are tried.
const MANAGERS: &[(&str, PackageManager)] = &[
    ("/usr/bin/apt-get", PackageManager::Apt),
    ("/sbin/apk", PackageManager::Apk),
    ("/usr/bin/dnf", PackageManager::Dnf),
    ("/usr/bin/microdnf", PackageManager::Microdnf),
];

/// The systems of the images that will install packages (only those: looking costs a
/// solve of the image), keyed by the reference as written in the spec.
///
/// `pinned` maps a reference as written to the digest-pinned one the build will use:
/// the image is then looked at through the very source op of the build's own `FROM`,
/// which BuildKit solves once for both (the build's first vertex is ready when it
/// starts). A reference not in it is looked at by its tag.
pub async fn detect_all(
    bridge: &Bridge,
    t: &Target,
    o: &LowerOptions,
    pinned: &BTreeMap<String, String>,
    cache_imports: &[CacheImport],
) -> Result<BTreeMap<String, BaseSystem>, BridgeError> {
    let mut wanted: Vec<&str> = vec![];
    if !t.system.packages.is_empty() {
        wanted.push(&t.image.base.value);
    }
    let builds_something = !t.tiers.is_empty() || !t.builds.is_empty();
    let builder_pkgs = !t.system.build_packages.is_empty();
    if builds_something && builder_pkgs {
        wanted.push(&t.image.builder.as_ref().unwrap_or(&t.image.base).value);
    }
    wanted.dedup();
    // An unparsable reference is reported, with its line, when images are resolved.
    let parsed: Vec<(&str, String)> = wanted
        .into_iter()
        .filter_map(|w| match pinned.get(w) {
            Some(p) => Some((w, p.clone())),
            None => ImageRef::parse(w).ok().map(|r| (w, r.normalized())),
        })
        .collect();
    let found = join_all(
        parsed
            .iter()
            .map(|(_, n)| detect(bridge, n, o, cache_imports)),
    )
    .await;
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
    cache_imports: &[CacheImport],
) -> Result<BaseSystem, BridgeError> {
    let shown = normalized.split('@').next().unwrap_or(normalized);
    let def = strata_llb::lower::image_definition(
        normalized,
        &format!("[internal] inspect {shown} for its package manager"),
        o,
    );
    // With the build's cache imports: BuildKit keeps the cache sources of the solve that
    // first loads a vertex, and this one is the build's `FROM`. Without them, nothing
    // built on it would match `--cache-from` (every step ran again after a prune).
    let root = bridge.solve(def, cache_imports.to_vec(), false).await?;
    // Each lookup mounts the image anew in BuildKit: ask for the likely case first (apt,
    // and the release from /etc/os-release), the other managers only when apt is missing.
    let ((apt, _), rest) = MANAGERS.split_first().expect("MANAGERS is not empty");
    let (has_apt, release) = tokio::join!(
        bridge.stat_file(&root, apt),
        bridge.read_file(&root, "/etc/os-release", None),
    );
    let mut manager = PackageManager::None;
    if has_apt?.is_some() {
        manager = MANAGERS[0].1;
    } else {
        let stats = join_all(rest.iter().map(|(path, _)| bridge.stat_file(&root, path))).await;
        for ((_, m), stat) in rest.iter().zip(stats) {
            if stat?.is_some() {
                manager = *m;
                break;
            }
        }
    }
    let key = |text: Vec<u8>| release_key(&String::from_utf8_lossy(&text));
    let release = match release.ok().and_then(key) {
        Some(k) => Some(k),
        None => bridge
            .read_file(&root, "/usr/lib/os-release", None)
            .await
            .ok()
            .and_then(key),
    };
    Ok(BaseSystem {
        manager,
        // Without an os-release, the reference as tagged keys the caches (not its digest,
        // which would start them empty whenever the image is updated).
        release: release.unwrap_or_else(|| shown.to_string()),
    })
}
