//! strata-plan: the second pass. Turns one resolved [`strata_spec::model::Target`] into a
//! [`Plan`]: images, narrowed views of the build context, commands with their cache and
//! bind mounts, and how the final image's layers are put together. Pure: no I/O, no
//! BuildKit; everything here is unit-tested.

mod app;
mod explain;
pub mod ir;
mod packages;
mod planner;
mod python;
pub mod sh;
mod steps;
mod user;

use std::collections::BTreeMap;

pub use app::DEFAULT_EXCLUDES;
pub use explain::explain;
pub use ir::*;
pub use packages::{release_key, BaseSystem, PackageManager};
pub use planner::plan;

/// Facts about the build that are not in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `os/arch[/variant]` of the target platform; keys the caches that must not be
    /// shared across platforms (apt's).
    pub platform: String,
    /// How tier layers reach the final image.
    pub layering: Layering,
    /// What each base image (by reference, as in the spec) installs packages with.
    /// Images not listed are taken to be apt-based and keyed by their reference.
    pub systems: BTreeMap<String, BaseSystem>,
}

impl PlanOptions {
    pub fn system_of(&self, image: &str) -> BaseSystem {
        self.systems.get(image).cloned().unwrap_or(BaseSystem {
            manager: PackageManager::Apt,
            release: image.to_string(),
        })
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            platform: "linux/amd64".into(),
            layering: Layering::MergeDiff,
            systems: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layering {
    /// Each tier is its own layer (a diff of the builder's venv), stacked with a merge:
    /// a tier's layer does not change when later tiers or the app change, and services
    /// that share a tier share its layer. Needs BuildKit's `mergeop` and `diffop`.
    MergeDiff,
    /// The whole venv is copied from the builder in one step: for daemons without
    /// merge/diff (Docker's classic image store).
    Copy,
}

/// What the planner cannot build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("[system] packages need a package manager, and the image `{image}` has none (no apt-get, apk, dnf or microdnf)")]
    NoPackageManager {
        image: String,
        span: Option<strata_spec::source::Span>,
    },
}

impl PlanError {
    /// Where in the spec the problem is.
    pub fn span(&self) -> Option<strata_spec::source::Span> {
        match self {
            PlanError::NoPackageManager { span, .. } => *span,
        }
    }
}

#[cfg(test)]
mod tests;
