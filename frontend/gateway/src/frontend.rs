//! One build, as BuildKit asks for it: read the spec from the `dockerfile` local and
//! resolve the target once; then for each requested platform plan it, check the context
//! (once), resolve the base images for that platform, lower the plan to LLB and solve it
//! with the build's cache imports; return one image per platform with its config.
//!
//! Every request to BuildKit is a round trip through the frontend's pipes, and a no-op
//! rebuild is made of little else: requests that do not depend on each other are sent
//! together (the spec and the context's .dockerignore; image resolution, context checks
//! and package-manager inspection; the platforms of a multi-platform build).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde_json::json;
use strata_llb::{pb, ImageRef, LowerOptions, ResolvedImage};
use strata_plan::{BaseSystem, Layering, NodeKind, Plan, PlanOptions};
use strata_spec::source::{SourceFile, Span};
use strata_spec::Spec;

use crate::bridge::{Bridge, BridgeError, RefId};
use crate::error::FrontendError;
use crate::options::{NetworkMode, Options};
use crate::{dockerignore, platform};

/// The build argument whose value prefixes every cache mount's id (`NS/ID`), as in
/// the Dockerfile frontend.
pub const CACHE_MOUNT_NS: &str = "BUILDKIT_CACHE_MOUNT_NS";

/// The most bytes of a requirements file read for its warnings.
const REQUIREMENTS_READ_MAX: i64 = 8 << 20;

/// Runs the whole build and returns what `Return` should carry: one image per requested
/// platform, each planned, resolved and lowered on its own (so every platform has its own
/// base image, exec ops and platform-keyed caches), all solved with the build's cache
/// imports.
pub async fn build(bridge: &Bridge, opts: &Options) -> Result<BuildResult, FrontendError> {
    if let Some(req) = opts.request_id.as_deref().filter(|r| !r.is_empty()) {
        return Err(FrontendError::Unsupported(format!(
            "the subrequest `{req}` (docker buildx build --call ...) is not supported by strata yet"
        )));
    }
    let (caps, input) = tokio::join!(bridge.ping(), load_spec(bridge, opts));
    let (caps, input) = (caps?, input?);
    let platforms = platform::targets(opts, &caps);
    let multi = opts.multi_platform || platforms.len() > 1;
    let layering = if caps.has_llb("mergeop") && caps.has_llb("diffop") {
        Layering::MergeDiff
    } else {
        Layering::Copy
    };
    let jobs: Vec<PlatformJob> = platforms
        .into_iter()
        .enumerate()
        .map(|(i, p)| PlatformJob {
            platform: p,
            layering,
            // In a multi-platform build, vertex names say which platform they are for.
            tag_names: multi,
            // The context is the same for every platform: check it once.
            check_paths: i == 0,
        })
        .collect();
    let builds = join_all(
        jobs.iter()
            .map(|job| build_platform(bridge, opts, &input, job)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(BuildResult::assemble(builds, multi))
}

/// What every platform's build shares: the spec, the resolved target, the .dockerignore.
struct SpecInput {
    file: SourceFile,
    target: strata_spec::model::Target,
    dockerignore: Vec<String>,
    /// The digest of the vertex that loaded the spec, which warnings refer to.
    spec_vertex: String,
}

/// Reads the spec (and the .dockerignore beside it or at the context root), resolves the
/// target and sends the spec's warnings.
async fn load_spec(bridge: &Bridge, opts: &Options) -> Result<SpecInput, FrontendError> {
    let ignore_beside = format!("{}.dockerignore", opts.filename);
    // The context's .dockerignore is loaded alongside the spec: it is needed unless one
    // beside the spec wins, and loading it later would cost another round trip.
    let spec_paths = [opts.filename.clone(), ignore_beside.clone()];
    let spec_progress = format!("[internal] load build definition from {}", opts.filename);
    let context_paths = [".dockerignore".to_string()];
    let (spec_dir, context_ignore) = tokio::join!(
        solve_local(
            bridge,
            &opts.dockerfile_key,
            opts,
            &spec_paths,
            "dockerfile",
            &spec_progress,
        ),
        solve_local(
            bridge,
            &opts.context_key,
            opts,
            &context_paths,
            "context-.dockerignore",
            "[internal] load .dockerignore",
        ),
    );
    let spec_dir = spec_dir?;
    // The solves are lazy: each read below makes BuildKit fetch its files from the client.
    // The context's .dockerignore is read at once too, though one beside the spec would
    // win over it: it is rarely there, and waiting to know would cost a transfer's time.
    let (text, beside, in_context) = tokio::join!(
        bridge.read_file(&spec_dir.0, &opts.filename, None),
        bridge.read_file(&spec_dir.0, &ignore_beside, None),
        async {
            match &context_ignore {
                Ok(ctx) => bridge.read_file(&ctx.0, ".dockerignore", None).await.ok(),
                Err(_) => None,
            }
        },
    );
    let text = text.map_err(|e| FrontendError::SpecMissing {
        filename: opts.filename.clone(),
        detail: e.to_string(),
    })?;
    let (file, not_utf8) = SourceFile::from_utf8(opts.filename.clone(), text);
    if let Some(d) = not_utf8 {
        return Err(FrontendError::spec(&file, strata_spec::Diagnostics::new(d)));
    }
    let spec = Spec::parse(&file).map_err(|d| FrontendError::spec(&file, d))?;
    let (target, warnings) = spec
        .resolve_with_warnings(opts.target.as_deref(), &opts.build_args)
        .map_err(|d| FrontendError::spec(&file, d))?;
    // The spec's own warnings and the target's overlap (an image's tag is both).
    let mut all: Vec<&strata_spec::Diagnostic> = vec![];
    for w in spec.warnings().iter().chain(&warnings) {
        if !all.contains(&w) {
            all.push(w);
        }
    }
    send_warnings(bridge, &file, &spec_dir.1, &all).await;

    let ignore_text = match beside {
        Ok(t) => Some(t),
        Err(_) => {
            context_ignore?;
            in_context
        }
    };
    let dockerignore = ignore_text
        .map(|t| dockerignore::parse(&String::from_utf8_lossy(&t)))
        .unwrap_or_default();
    Ok(SpecInput {
        file,
        target,
        dockerignore,
        spec_vertex: spec_dir.1,
    })
}

/// How one platform of a build is made.
struct PlatformJob {
    platform: pb::Platform,
    layering: Layering,
    tag_names: bool,
    check_paths: bool,
}

/// One platform's image: its solved filesystem and its image config.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformBuild {
    pub platform: pb::Platform,
    pub reference: RefId,
    pub config: Vec<u8>,
}

/// Plan, resolve, lower and solve the target for one platform.
async fn build_platform(
    bridge: &Bridge,
    opts: &Options,
    input: &SpecInput,
    job: &PlatformJob,
) -> Result<PlatformBuild, FrontendError> {
    let (file, target) = (&input.file, &input.target);
    let platform = job.platform.clone();
    let id = platform::format(&platform);
    let mut lower_opts = LowerOptions {
        platform: platform.clone(),
        images: vec![],
        image_resolve_mode: Some(opts.image_resolve_mode.as_str().to_string()),
        session_id: opts.session_id.clone(),
        context_name: opts.context_key.clone(),
        dockerignore: input.dockerignore.clone(),
        network: match opts.force_network_mode {
            Some(NetworkMode::Host) => strata_llb::Network::Host,
            Some(NetworkMode::None) => strata_llb::Network::None,
            _ => strata_llb::Network::Sandbox,
        },
        no_cache: opts.no_cache.is_some(),
        extra_hosts: opts
            .add_hosts
            .iter()
            .map(|(host, ip)| (host.clone(), ip.to_string()))
            .collect(),
        shm_size: opts.shm_size,
        proxy: strata_llb::proxy_env_from_build_args(&opts.build_args),
        cache_ns: opts.build_args.get(CACHE_MOUNT_NS).cloned(),
    };

    // Which images the plan uses and which paths the context must hold do not depend on
    // the base images' package managers: a plan with the default system gives both, so
    // the context is checked while the images are resolved and then inspected. They are
    // inspected pinned, as the build will use them: BuildKit then solves each image's
    // source once, for the inspection and the build.
    let (systems, early) =
        match plan_platform(target, &id, job.layering, BTreeMap::new(), job.tag_names) {
            Ok(provisional) => {
                let (found, paths) = tokio::join!(
                    resolve_and_inspect(bridge, opts, &provisional, target, file, job, &lower_opts),
                    async {
                        if job.check_paths {
                            check_required_paths(bridge, &provisional, &lower_opts, file).await
                        } else {
                            Ok(BTreeMap::new())
                        }
                    },
                );
                let (systems, resolved) = found?;
                (systems, Some((provisional.images, resolved, paths)))
            }
            // The same error comes from the plan below, after the inspection it may need.
            Err(_) => (
                crate::system::detect_all(
                    bridge,
                    target,
                    &lower_opts,
                    &BTreeMap::new(),
                    &opts.cache_imports,
                )
                .await?,
                None,
            ),
        };
    let plan = plan_platform(target, &id, job.layering, systems, job.tag_names)
        .map_err(|e| FrontendError::plan(file, e))?;
    let (resolved, found) = match early {
        Some((images, resolved, paths)) if images == plan.images => (resolved, paths?),
        _ => {
            let found = if job.check_paths {
                check_required_paths(bridge, &plan, &lower_opts, file).await?
            } else {
                BTreeMap::new()
            };
            (
                resolve_images(bridge, opts, &plan, target, file, job).await?,
                found,
            )
        }
    };
    let (images, base_config) = resolved;
    lower_opts.images = images;

    let def = strata_llb::lower(&plan, &lower_opts)
        .map_err(|e| FrontendError::Internal(e.to_string()))?;
    // Every solve that builds steps gets the cache imports (`--cache-from`): the ones
    // that only load the spec or the context have nothing to import.
    // The requirements files' warnings go out while the build runs.
    let (reference, ()) = tokio::join!(
        bridge.solve(def, opts.cache_imports.clone(), false),
        requirement_warnings(bridge, input, &found),
    );
    let reference = reference?;
    let config = strata_llb::image_config(
        base_config.as_deref(),
        &plan.config,
        &platform,
        &opts.labels,
    )
    .map_err(|e| FrontendError::Internal(e.to_string()))?;
    Ok(PlatformBuild {
        platform,
        reference,
        config,
    })
}

/// Resolves the plan's images, then inspects those that install packages, pinned as the
/// build will use them (see [`crate::system::detect_all`]).
async fn resolve_and_inspect(
    bridge: &Bridge,
    opts: &Options,
    plan: &Plan,
    target: &strata_spec::model::Target,
    file: &SourceFile,
    job: &PlatformJob,
    lower_opts: &LowerOptions,
) -> Result<(BTreeMap<String, BaseSystem>, ResolvedImages), FrontendError> {
    let resolved = resolve_images(bridge, opts, plan, target, file, job).await?;
    let pinned: BTreeMap<String, String> = plan
        .images
        .iter()
        .zip(&resolved.0)
        .map(|(written, r)| (written.reference.clone(), r.reference.clone()))
        .collect();
    let systems =
        crate::system::detect_all(bridge, target, lower_opts, &pinned, &opts.cache_imports).await?;
    Ok((systems, resolved))
}

/// The plan's images pinned, in its order, and the runtime base's config.
type ResolvedImages = (Vec<ResolvedImage>, Option<Vec<u8>>);

/// Resolves every image of the plan for the job's platform (all at once), pinned by
/// digest, with the Env their commands run with; and the runtime base's config.
async fn resolve_images(
    bridge: &Bridge,
    opts: &Options,
    plan: &Plan,
    target: &strata_spec::model::Target,
    file: &SourceFile,
    job: &PlatformJob,
) -> Result<ResolvedImages, FrontendError> {
    let platform = &job.platform;
    let id = platform::format(platform);
    let on = if job.tag_names {
        format!(" for {id}")
    } else {
        String::new()
    };
    let lookups = plan.images.iter().map(|img| async {
        let span = image_span(target, &img.reference);
        let r = ImageRef::parse(&img.reference)
            .map_err(|e| FrontendError::at(file, span, e.to_string()))?;
        let name = r.normalized();
        let log_name = if job.tag_names {
            format!("[internal] load metadata for {name} ({id})")
        } else {
            format!("[internal] load metadata for {name}")
        };
        let (digest, config) = bridge
            .resolve_image_config(
                &name,
                Some(platform.clone()),
                opts.image_resolve_mode,
                &log_name,
            )
            .await
            .map_err(|e| {
                FrontendError::at(
                    file,
                    span,
                    format!("cannot resolve image `{}`{on}: {e}", img.reference),
                )
            })?;
        if let Err(found) = platform::check_config(&config, platform) {
            return Err(FrontendError::at(
                file,
                span,
                format!(
                    "the image `{}` is for {found}, not {id} (the platform being built): \
                     use an image that has {id} (a multi-platform image), or build for {found}",
                    img.reference
                ),
            ));
        }
        let env = config_env(&config);
        let reference = if digest.is_empty() {
            name
        } else {
            r.with_digest(&digest).normalized()
        };
        Ok((ResolvedImage { reference, env }, config))
    });
    let mut images = Vec::with_capacity(plan.images.len());
    let mut base_config = None;
    // In the plan's order: the first image that fails is the one reported.
    for (i, found) in join_all(lookups).await.into_iter().enumerate() {
        let (image, config) = found?;
        images.push(image);
        if i == plan.runtime_image.0 {
            base_config = Some(config);
        }
    }
    Ok((images, base_config))
}

/// The plan of `target` for the platform `id` (`linux/arm64`): its caches keyed by the
/// platform where they must be, its step names tagged with it when `tag_names`.
fn plan_platform(
    target: &strata_spec::model::Target,
    id: &str,
    layering: Layering,
    systems: BTreeMap<String, strata_plan::BaseSystem>,
    tag_names: bool,
) -> Result<Plan, strata_plan::PlanError> {
    let mut plan = strata_plan::plan(
        target,
        &PlanOptions {
            platform: id.to_string(),
            layering,
            systems,
        },
    )?;
    if tag_names {
        platform::tag_names(&mut plan, id);
    }
    Ok(plan)
}

/// The filesystem(s) a build returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Refs {
    /// A single-platform build.
    Single(RefId),
    /// A multi-platform build: one ref per platform id (`linux/arm64`).
    PerPlatform(BTreeMap<String, RefId>),
}

/// What `Return` carries: the refs and their metadata (`containerimage.config` or
/// `containerimage.config/<platform>` for each, and `refs.platforms`).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildResult {
    pub refs: Refs,
    pub metadata: BTreeMap<String, Vec<u8>>,
}

impl BuildResult {
    /// The result BuildKit's exporters expect (notes 1.4): a single ref with
    /// `containerimage.config`, or (`multi`) a map of refs keyed by platform id with a
    /// `containerimage.config/<id>` each; `refs.platforms` lists the platforms either
    /// way, with ids matching the map's keys.
    pub fn assemble(builds: Vec<PlatformBuild>, multi: bool) -> BuildResult {
        let mut metadata = BTreeMap::new();
        let platforms: Vec<_> = builds
            .iter()
            .map(|b| {
                json!({
                    "ID": platform::format(&b.platform),
                    "Platform": platform::to_json(&b.platform),
                })
            })
            .collect();
        metadata.insert(
            "refs.platforms".to_string(),
            serde_json::to_vec(&json!({ "Platforms": platforms })).unwrap_or_default(),
        );
        let refs = if multi || builds.len() != 1 {
            let mut refs = BTreeMap::new();
            for b in builds {
                let id = platform::format(&b.platform);
                metadata.insert(format!("containerimage.config/{id}"), b.config);
                refs.insert(id, b.reference);
            }
            Refs::PerPlatform(refs)
        } else {
            let b = builds.into_iter().next().expect("one build");
            metadata.insert("containerimage.config".to_string(), b.config);
            Refs::Single(b.reference)
        };
        BuildResult { refs, metadata }
    }

    /// `Return`s this result to BuildKit.
    pub async fn send(self, bridge: &Bridge) -> Result<(), BridgeError> {
        match self.refs {
            Refs::Single(r) => bridge.return_result(&r, self.metadata).await,
            Refs::PerPlatform(refs) => bridge.return_refs(refs, self.metadata).await,
        }
    }
}

/// A local directory narrowed to `paths` (followed, not matched), solved on its own;
/// also the digest of its vertex, which warnings about its files refer to.
async fn solve_local(
    bridge: &Bridge,
    name: &str,
    opts: &Options,
    paths: &[String],
    key_hint: &str,
    progress: &str,
) -> Result<(RefId, String), FrontendError> {
    let mut attrs = BTreeMap::new();
    if let Some(s) = &opts.session_id {
        attrs.insert("local.session".to_string(), s.clone());
    }
    attrs.insert(
        "local.followpaths".to_string(),
        serde_json::to_string(paths).unwrap_or_default(),
    );
    attrs.insert("local.sharedkeyhint".to_string(), key_hint.to_string());
    attrs.insert("local.differ".to_string(), "none".to_string());
    let op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: format!("local://{name}"),
            attrs,
        })),
        ..Default::default()
    };
    let mut g = strata_llb::Graph::new();
    let out = g.add(
        op,
        strata_llb::VertexMeta {
            name: progress.to_string(),
            ignore_cache: false,
        },
    );
    Ok((
        bridge.solve(g.definition(&out), vec![], false).await?,
        out.digest,
    ))
}

/// Sends warnings about the spec through BuildKit, which buildx prints after the
/// build: at most [`crate::warnings::MAX_WARNINGS_SENT`], then one counting the rest,
/// each with only as much of the spec as it needs. A warning that cannot be delivered
/// is logged, never fatal.
async fn send_warnings(
    bridge: &Bridge,
    file: &SourceFile,
    vertex: &str,
    list: &[&strata_spec::Diagnostic],
) {
    let requests = crate::warnings::requests(file, vertex, list);
    join_all(requests.into_iter().map(|w| async move {
        if let Err(e) = bridge.warn(w).await {
            tracing::warn!("could not send a warning to BuildKit: {e}");
        }
    }))
    .await;
}

/// Warnings about the target's requirements files (unpinned requirements, later tiers
/// changing earlier pins), read from the context views the path check solved (`found`:
/// path → view). Only the build that checked the paths sends them, once.
async fn requirement_warnings(bridge: &Bridge, input: &SpecInput, found: &BTreeMap<String, RefId>) {
    let mut paths: Vec<&String> = input
        .target
        .tiers
        .iter()
        .flat_map(|t| &t.requirements)
        .map(|r| &r.value)
        .filter(|p| found.contains_key(p.as_str()))
        .collect();
    // A file listed by several tiers is read once.
    paths.sort_unstable();
    paths.dedup();
    if paths.is_empty() {
        return;
    }
    let texts =
        join_all(paths.iter().map(|p| {
            bridge.read_file(&found[p.as_str()], p, Some((0, REQUIREMENTS_READ_MAX + 1)))
        }))
        .await;
    // A file bigger than that gets no warnings (the install step reads it all the same).
    let texts: BTreeMap<&str, String> = paths
        .iter()
        .zip(texts)
        .filter_map(|(p, t)| {
            let t = t.ok()?;
            (t.len() as i64 <= REQUIREMENTS_READ_MAX)
                .then(|| (p.as_str(), String::from_utf8_lossy(&t).into_owned()))
        })
        .collect();
    let warnings =
        strata_spec::requirements::warnings(&input.target.tiers, &|p| texts.get(p).cloned());
    let list: Vec<&strata_spec::Diagnostic> = warnings.iter().collect();
    send_warnings(bridge, &input.file, &input.spec_vertex, &list).await;
}

/// Every requirements file and include path must be in the context (after
/// .dockerignore). Each context view is solved as the build will solve it (same op, so
/// BuildKit transfers it once) and the paths are looked up in it.
async fn check_required_paths(
    bridge: &Bridge,
    plan: &Plan,
    o: &LowerOptions,
    file: &SourceFile,
) -> Result<BTreeMap<String, RefId>, FrontendError> {
    // Each path is looked up in the first view that has it; the views are solved and the
    // paths looked up all at once.
    let mut checked: Vec<&str> = vec![];
    let mut lookups = vec![];
    for node in &plan.nodes {
        let NodeKind::Context(view) = &node.kind else {
            continue;
        };
        let wanted: Vec<_> = plan
            .required_paths
            .iter()
            .filter(|r| !checked.contains(&r.path.as_str()) && view.include.contains(&r.path))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        checked.extend(wanted.iter().map(|r| r.path.as_str()));
        let def = strata_llb::lower::context_definition(view, &node.name, o);
        lookups.push(async move {
            let dir = bridge.solve(def, vec![], false).await?;
            let stats = join_all(
                wanted
                    .iter()
                    .map(|r| bridge.stat_file(&dir, r.path.trim_end_matches('/'))),
            )
            .await;
            Ok::<_, BridgeError>((dir, wanted.into_iter().zip(stats).collect::<Vec<_>>()))
        });
    }
    // In the plan's order: the first missing path is the one reported.
    let mut found_in = BTreeMap::new();
    for looked in join_all(lookups).await {
        let (dir, stats) = looked?;
        for (r, stat) in stats {
            if stat?.is_none() {
                return Err(FrontendError::at(
                    file,
                    Some(r.span),
                    format!(
                        "`{}` ({}) is not in the build context{}",
                        r.path,
                        r.what,
                        if o.dockerignore.is_empty() {
                            ""
                        } else {
                            " (or .dockerignore excludes it)"
                        }
                    ),
                ));
            }
            found_in.insert(r.path.clone(), dir.clone());
        }
    }
    Ok(found_in)
}

fn image_span(t: &strata_spec::model::Target, reference: &str) -> Option<Span> {
    if t.image.base.value == reference {
        return Some(t.image.base.span);
    }
    t.image
        .builder
        .as_ref()
        .filter(|b| b.value == reference)
        .map(|b| b.span)
}

/// `config.Env` of an image config, or nothing.
fn config_env(config: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(config)
        .ok()
        .and_then(|v| {
            v.get("config")?.get("Env")?.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;
    use strata_llb::{pb, LowerOptions, ResolvedImage};
    use strata_plan::{BaseSystem, Layering, PackageManager};
    use strata_spec::source::SourceFile;
    use strata_spec::Spec;

    use super::*;

    #[test]
    fn env_comes_from_the_config_section() {
        let c = br#"{"config":{"Env":["PATH=/usr/bin","A=1"]}}"#;
        assert_eq!(super::config_env(c), vec!["PATH=/usr/bin", "A=1"]);
        assert!(super::config_env(b"garbage").is_empty());
    }

    fn plat(arch: &str) -> pb::Platform {
        pb::Platform {
            os: "linux".into(),
            architecture: arch.into(),
            ..Default::default()
        }
    }

    fn build(arch: &str, config: &str) -> PlatformBuild {
        PlatformBuild {
            platform: plat(arch),
            reference: RefId(format!("ref-{arch}")),
            config: config.as_bytes().to_vec(),
        }
    }

    fn platforms_json(r: &BuildResult) -> serde_json::Value {
        serde_json::from_slice(&r.metadata["refs.platforms"]).unwrap()
    }

    #[test]
    fn one_platform_returns_one_ref_and_its_config() {
        let r = BuildResult::assemble(vec![build("amd64", "{}")], false);
        assert_eq!(r.refs, Refs::Single(RefId("ref-amd64".into())));
        let keys: Vec<&str> = r.metadata.keys().map(String::as_str).collect();
        assert_eq!(keys, ["containerimage.config", "refs.platforms"]);
        assert_eq!(
            platforms_json(&r),
            json!({"Platforms": [{"ID": "linux/amd64", "Platform": {"architecture": "amd64", "os": "linux"}}]})
        );
    }

    #[test]
    fn several_platforms_return_a_ref_and_a_config_per_platform() {
        let r = BuildResult::assemble(
            vec![build("amd64", "{\"a\":1}"), build("arm64", "{\"a\":2}")],
            true,
        );
        let Refs::PerPlatform(refs) = &r.refs else {
            panic!("{:?}", r.refs)
        };
        assert_eq!(
            refs,
            &BTreeMap::from([
                ("linux/amd64".to_string(), RefId("ref-amd64".into())),
                ("linux/arm64".to_string(), RefId("ref-arm64".into())),
            ])
        );
        let keys: Vec<&str> = r.metadata.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "containerimage.config/linux/amd64",
                "containerimage.config/linux/arm64",
                "refs.platforms"
            ]
        );
        assert_eq!(
            r.metadata["containerimage.config/linux/arm64"],
            b"{\"a\":2}"
        );
        // The ids of refs.platforms are the keys of the refs (BuildKit's exporters and
        // attestation processors look refs up by them).
        let ids: BTreeSet<String> = platforms_json(&r)["Platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ID"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, refs.keys().cloned().collect());
        assert_eq!(
            platforms_json(&r)["Platforms"][1]["Platform"],
            json!({"architecture": "arm64", "os": "linux"})
        );
    }

    #[test]
    fn multi_platform_with_one_platform_still_returns_a_map() {
        let r = BuildResult::assemble(vec![build("arm64", "{}")], true);
        assert!(
            matches!(&r.refs, Refs::PerPlatform(m) if m.len() == 1 && m.contains_key("linux/arm64"))
        );
        assert!(r.metadata.contains_key("containerimage.config/linux/arm64"));
        assert!(!r.metadata.contains_key("containerimage.config"));
    }

    const SPEC: &str = r#"version = 1
[image]
base = "python:3.12-slim"
[system]
packages = ["curl"]
[[python.layers]]
name = "base"
requirements = ["requirements.txt"]
[app]
include = ["app/"]
[run]
cmd = ["python", "-m", "app"]
"#;

    /// The definition for one platform, as `build_platform` makes it (images pinned to
    /// a per-platform digest).
    fn lowered(arch: &str, tag: bool) -> (Plan, Vec<(String, pb::Op)>) {
        let file = SourceFile::new("strata.toml", SPEC);
        let target = Spec::parse(&file)
            .unwrap()
            .resolve(None, &BTreeMap::new())
            .unwrap();
        let id = format!("linux/{arch}");
        let systems = BTreeMap::from([(
            "python:3.12-slim".to_string(),
            BaseSystem {
                manager: PackageManager::Apt,
                release: "debian-12".into(),
            },
        )]);
        let plan = plan_platform(&target, &id, Layering::MergeDiff, systems, tag).unwrap();
        let o = LowerOptions {
            platform: plat(arch),
            images: plan
                .images
                .iter()
                .map(|_| ResolvedImage {
                    reference: format!("docker.io/library/python:3.12-slim@sha256:{arch:0>64}"),
                    env: vec!["PATH=/usr/bin".into()],
                })
                .collect(),
            session_id: Some("session".into()),
            context_name: "context".into(),
            ..Default::default()
        };
        let def = strata_llb::lower(&plan, &o).unwrap();
        let ops = def
            .def
            .iter()
            .map(|b| (op_key(b), pb::Op::decode(b.as_slice()).unwrap()))
            .collect();
        (plan, ops)
    }

    /// Stands for an op's digest (the digest of its encoding): ops are compared for
    /// equality only, so the encoding itself will do.
    fn op_key(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn cache_ids(ops: &[(String, pb::Op)]) -> BTreeSet<String> {
        ops.iter()
            .filter_map(|(_, o)| match &o.op {
                Some(pb::op::Op::Exec(e)) => Some(
                    e.mounts
                        .iter()
                        .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone())),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn each_platform_has_its_own_execs_images_and_apt_caches_and_shares_the_context() {
        let (_, amd) = lowered("amd64", true);
        let (plan, arm) = lowered("arm64", true);
        for (arch, ops) in [("amd64", &amd), ("arm64", &arm)] {
            for (_, op) in ops.iter() {
                match &op.op {
                    Some(pb::op::Op::Exec(_)) => {
                        assert_eq!(
                            op.platform.as_ref().map(|p| p.architecture.as_str()),
                            Some(arch)
                        )
                    }
                    Some(pb::op::Op::Source(s)) if s.identifier.starts_with("docker-image://") => {
                        assert_eq!(
                            op.platform.as_ref().map(|p| p.architecture.as_str()),
                            Some(arch)
                        );
                        assert!(
                            s.identifier.ends_with(&format!("{arch:0>64}")),
                            "{}",
                            s.identifier
                        )
                    }
                    _ => {}
                }
            }
        }
        let digests = |ops: &[(String, pb::Op)], f: &dyn Fn(&pb::Op) -> bool| -> BTreeSet<String> {
            ops.iter()
                .filter(|(_, o)| f(o))
                .map(|(d, _)| d.clone())
                .collect()
        };
        let is_exec = |o: &pb::Op| matches!(o.op, Some(pb::op::Op::Exec(_)));
        let is_local = |o: &pb::Op| matches!(&o.op, Some(pb::op::Op::Source(s)) if s.identifier.starts_with("local://"));
        let (ea, eb) = (digests(&amd, &is_exec), digests(&arm, &is_exec));
        assert!(
            !ea.is_empty() && ea.is_disjoint(&eb),
            "exec ops must differ per platform"
        );
        let (la, lb) = (digests(&amd, &is_local), digests(&arm, &is_local));
        assert!(!la.is_empty());
        assert_eq!(la, lb, "the context is loaded once for all platforms");

        // apt's caches are per platform, pip's (wheels are tagged) are shared.
        let (ca, cb) = (cache_ids(&amd), cache_ids(&arm));
        let shared: Vec<_> = ca.intersection(&cb).collect();
        assert!(shared.iter().all(|id| !id.contains("apt")), "{shared:?}");
        assert!(ca.iter().any(|id| id.contains("apt")), "{ca:?}");
        assert!(ca.difference(&cb).count() > 0);

        // Step names carry the platform; [internal] ones do not.
        assert!(plan
            .nodes
            .iter()
            .any(|n| n.name.starts_with("[app linux/arm64] ")));
        assert!(
            plan.nodes
                .iter()
                .all(|n| n.name.starts_with("[app linux/arm64] ")
                    || n.name.starts_with("[internal] "))
        );
    }

    #[test]
    fn tagging_names_changes_no_digest() {
        let (_, tagged) = lowered("arm64", true);
        let (_, plain) = lowered("arm64", false);
        let d = |ops: &[(String, pb::Op)]| ops.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>();
        assert_eq!(d(&tagged), d(&plain));
    }
}
