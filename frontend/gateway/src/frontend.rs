//! One build, as BuildKit asks for it: read the spec from the `dockerfile` local,
//! resolve the target, check the context, resolve base images, lower the plan to LLB,
//! solve it and return the result with its image config.

use std::collections::BTreeMap;

use serde_json::json;
use strata_llb::{pb, ImageRef, LowerOptions, ResolvedImage};
use strata_plan::{Layering, NodeKind, Plan, PlanOptions};
use strata_spec::source::{SourceFile, Span};
use strata_spec::Spec;

use crate::bridge::{Bridge, RefId};
use crate::error::FrontendError;
use crate::options::{NetworkMode, Options};
use crate::{dockerignore, platform};

/// Runs the whole build and returns what `Return` should carry.
pub async fn build(bridge: &Bridge, opts: &Options) -> Result<BuildResult, FrontendError> {
    if let Some(req) = opts.request_id.as_deref().filter(|r| !r.is_empty()) {
        return Err(FrontendError::Unsupported(format!(
            "the subrequest `{req}` (docker buildx build --call ...) is not supported by strata yet"
        )));
    }
    if opts.platforms.len() > 1 {
        return Err(FrontendError::Unsupported(
            "building for several platforms at once is not supported by strata yet".into(),
        ));
    }
    let caps = bridge.ping().await?;

    // The spec, and the .dockerignore beside it or at the context root.
    let spec_dir = solve_local(
        bridge,
        &opts.dockerfile_key,
        opts,
        &[
            opts.filename.clone(),
            format!("{}.dockerignore", opts.filename),
        ],
        "dockerfile",
        &format!("[internal] load build definition from {}", opts.filename),
    )
    .await?;
    let text = bridge
        .read_file(&spec_dir.0, &opts.filename, None)
        .await
        .map_err(|e| FrontendError::SpecMissing {
            filename: opts.filename.clone(),
            detail: e.to_string(),
        })?;
    let file = SourceFile::new(
        opts.filename.clone(),
        String::from_utf8_lossy(&text).into_owned(),
    );
    let spec = Spec::parse(&file).map_err(|d| FrontendError::spec(&file, d))?;
    let (target, warnings) = spec
        .resolve_with_warnings(opts.target.as_deref(), &opts.build_args)
        .map_err(|d| FrontendError::spec(&file, d))?;
    for w in spec.warnings().iter().chain(&warnings) {
        warn(bridge, &file, &spec_dir.1, w).await;
    }

    let ignore_text = match bridge
        .read_file(
            &spec_dir.0,
            &format!("{}.dockerignore", opts.filename),
            None,
        )
        .await
    {
        Ok(t) => Some(t),
        Err(_) => {
            let ctx = solve_local(
                bridge,
                &opts.context_key,
                opts,
                &[".dockerignore".to_string()],
                "context-.dockerignore",
                "[internal] load .dockerignore",
            )
            .await?;
            bridge.read_file(&ctx.0, ".dockerignore", None).await.ok()
        }
    };
    let dockerignore = ignore_text
        .map(|t| dockerignore::parse(&String::from_utf8_lossy(&t)))
        .unwrap_or_default();

    let platform = platform::target(opts, &caps);
    let layering = if caps.has_llb("mergeop") && caps.has_llb("diffop") {
        Layering::MergeDiff
    } else {
        Layering::Copy
    };
    let mut lower_opts = LowerOptions {
        platform: platform.clone(),
        images: vec![],
        image_resolve_mode: Some(opts.image_resolve_mode.as_str().to_string()),
        session_id: opts.session_id.clone(),
        context_name: opts.context_key.clone(),
        dockerignore,
        network: match opts.force_network_mode {
            Some(NetworkMode::Host) => strata_llb::Network::Host,
            Some(NetworkMode::None) => strata_llb::Network::None,
            _ => strata_llb::Network::Sandbox,
        },
        no_cache: opts.no_cache.is_some(),
    };

    let systems = crate::system::detect_all(bridge, &target, &lower_opts).await?;
    let plan = strata_plan::plan(
        &target,
        &PlanOptions {
            platform: platform::format(&platform),
            layering,
            systems,
        },
    )
    .map_err(|e| FrontendError::plan(&file, e))?;

    check_required_paths(bridge, &plan, &lower_opts, &file).await?;

    // Base images: resolved once each, pinned by digest; their Env runs the commands.
    let mut base_config = None;
    for (i, img) in plan.images.iter().enumerate() {
        let span = image_span(&target, &img.reference);
        let r = ImageRef::parse(&img.reference)
            .map_err(|e| FrontendError::at(&file, span, e.to_string()))?;
        let name = r.normalized();
        let (digest, config) = bridge
            .resolve_image_config(
                &name,
                Some(platform.clone()),
                opts.image_resolve_mode,
                &format!("[internal] load metadata for {name}"),
            )
            .await
            .map_err(|e| {
                FrontendError::at(
                    &file,
                    span,
                    format!("cannot resolve image `{}`: {e}", img.reference),
                )
            })?;
        let env = config_env(&config);
        let reference = if digest.is_empty() {
            name
        } else {
            r.with_digest(&digest).normalized()
        };
        lower_opts.images.push(ResolvedImage { reference, env });
        if i == plan.runtime_image.0 {
            base_config = Some(config);
        }
    }

    let def = strata_llb::lower(&plan, &lower_opts)
        .map_err(|e| FrontendError::Internal(e.to_string()))?;
    let result = bridge.solve(def, opts.cache_imports.clone(), false).await?;

    let config = strata_llb::image_config(
        base_config.as_deref(),
        &plan.config,
        &platform,
        &opts.labels,
    )
    .map_err(|e| FrontendError::Internal(e.to_string()))?;
    let id = platform::format(&platform);
    let platforms = json!({"Platforms": [{"ID": id, "Platform": platform::to_json(&platform)}]});
    let metadata = BTreeMap::from([
        ("containerimage.config".to_string(), config),
        (
            "refs.platforms".to_string(),
            serde_json::to_vec(&platforms).unwrap_or_default(),
        ),
    ]);
    Ok(BuildResult {
        reference: result,
        metadata,
    })
}

pub struct BuildResult {
    pub reference: RefId,
    pub metadata: BTreeMap<String, Vec<u8>>,
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

/// Sends a spec warning through BuildKit, which buildx prints after the build. A
/// warning that cannot be delivered is logged, never fatal.
async fn warn(bridge: &Bridge, file: &SourceFile, vertex: &str, d: &strata_spec::Diagnostic) {
    let mut details: Vec<String> = d.help.iter().cloned().collect();
    details.extend(d.notes.iter().cloned());
    let ranges = d
        .span()
        .map(|s| {
            let l = file.location(s);
            vec![pb::Range {
                start: Some(pb::Position {
                    line: l.line as i32,
                    character: l.column as i32 - 1,
                }),
                end: Some(pb::Position {
                    line: l.end_line as i32,
                    character: l.end_column as i32 - 1,
                }),
            }]
        })
        .unwrap_or_default();
    let w = crate::bridge::Warning {
        vertex_digest: vertex.to_string(),
        level: 1,
        short: format!("{}: {}", file.name, d.message),
        details,
        url: None,
        source_info: Some(pb::SourceInfo {
            filename: file.name.clone(),
            data: file.text.clone().into_bytes(),
            definition: None,
            language: "TOML".into(),
        }),
        ranges,
    };
    if let Err(e) = bridge.warn(w).await {
        tracing::warn!("could not send a warning to BuildKit: {e}");
    }
}

/// Every requirements file and include path must be in the context (after
/// .dockerignore). Each context view is solved as the build will solve it (same op, so
/// BuildKit transfers it once) and the paths are looked up in it.
async fn check_required_paths(
    bridge: &Bridge,
    plan: &Plan,
    o: &LowerOptions,
    file: &SourceFile,
) -> Result<(), FrontendError> {
    let mut checked: Vec<&str> = vec![];
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
        let def = strata_llb::lower::context_definition(view, &node.name, o);
        let dir = bridge.solve(def, vec![], false).await?;
        for r in wanted {
            checked.push(&r.path);
            let path = r.path.trim_end_matches('/');
            if bridge.stat_file(&dir, path).await?.is_none() {
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
        }
    }
    Ok(())
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
    #[test]
    fn env_comes_from_the_config_section() {
        let c = br#"{"config":{"Env":["PATH=/usr/bin","A=1"]}}"#;
        assert_eq!(super::config_env(c), vec!["PATH=/usr/bin", "A=1"]);
        assert!(super::config_env(b"garbage").is_empty());
    }
}
