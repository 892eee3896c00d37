//! From a resolved target to a plan: which states exist and what each is made of.
//!
//! Three independent chains, joined only at the end:
//! * runtime: base image → the user → runtime packages;
//! * builder: builder image → build packages (never the runtime ones), then (in parallel branches)
//!   the installer and venv with one step per tier, and each `[[build]]` step;
//! * app: the workdir and the app's files on an empty layer.
//!
//! With merge/diff the final image is the runtime chain with, on top, one layer per
//! venv tier, one per build output and the app layer; otherwise the same content is
//! copied onto the runtime chain.

use std::collections::BTreeMap;

use strata_spec::model::{Installer, Target, User};

use crate::ir::*;
use crate::packages::{self, PackageManager};
use crate::{app, python, user, Layering, PlanError, PlanOptions};

/// Builds the plan for one target.
pub fn plan(t: &Target, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut b = Builder::new(t.display_name(), opts.layering);

    // Runtime: the base image, the user, the runtime packages.
    let base_ref = t.image.base.value.clone();
    let runtime_img = b.image(&base_ref, "base");
    let runtime_root = b.node(format!("FROM {base_ref}"), NodeKind::Image(runtime_img));
    let mut runtime = runtime_root;
    if let User::Named(name) = &t.image.user {
        runtime = b.exec(
            format!("create user {name} (uid {})", t.image.uid),
            Exec {
                root: runtime,
                env_of: runtime_img,
                args: sh(user::create_user_script_with_ids(
                    name,
                    &t.image.workdir,
                    t.image.uid,
                    t.image.gid,
                )),
                env: vec![],
                cwd: "/".into(),
                mounts: vec![],
                network: false,
            },
        );
    }
    if !t.system.packages.is_empty() {
        runtime = packages_exec(
            &mut b,
            t,
            runtime,
            runtime_img,
            &base_ref,
            &t.system.packages,
            "",
            opts,
        )?;
    }

    // Layers on top of the runtime chain (merge/diff), or copies onto it.
    let mut layers: Vec<NodeId> = vec![runtime];
    let mut copies: Vec<(String, NodeId, String, String)> = vec![];
    // The builder image before its packages, where the app's bytecode is compiled.
    let mut builder_image: Option<(NodeId, ImageId)> = None;

    if !t.tiers.is_empty() || !t.builds.is_empty() {
        let builder_ref = t
            .image
            .builder
            .as_ref()
            .unwrap_or(&t.image.base)
            .value
            .clone();
        let builder_img = b.image(&builder_ref, "builder");
        let mut builder = if builder_img == runtime_img {
            runtime_root
        } else {
            b.node(
                format!("builder: FROM {builder_ref}"),
                NodeKind::Image(builder_img),
            )
        };
        builder_image = Some((builder, builder_img));
        // Only `build-packages`: runtime packages stay off the builder, so a target that
        // adds one (ffmpeg) has the same builder, and the same tier layers, as one that
        // does not.
        if !t.system.build_packages.is_empty() {
            builder = packages_exec(
                &mut b,
                t,
                builder,
                builder_img,
                &builder_ref,
                &t.system.build_packages,
                "builder: ",
                opts,
            )?;
        }

        let mut steps = crate::steps::Steps::new(builder, builder_img);
        if !t.tiers.is_empty() {
            let (venv_layers, venv) = python_tiers(&mut b, t, &mut steps);
            layers.extend(venv_layers);
            let v = t.python.venv.clone();
            copies.push((format!("copy venv {v} from builder"), venv, v.clone(), v));
        }
        for step in &t.builds {
            let ran = steps.get(&mut b, t, step);
            for (from, to) in &step.outputs {
                let name = format!("copy {from} from build {} to {to}", step.name.value);
                if opts.layering == Layering::MergeDiff {
                    layers.push(b.node(
                        name,
                        NodeKind::File {
                            base: None,
                            actions: vec![copy(ran, from, to, None)],
                        },
                    ));
                } else {
                    copies.push((name, ran, from.clone(), to.clone()));
                }
            }
        }
    }

    // The app: the workdir (writable by the user) and the app's files (read-only, root's).
    let app_actions = app_actions(&mut b, t, builder_image, runtime_img, runtime_root);
    let workdir = &t.image.workdir;
    let output = match opts.layering {
        Layering::MergeDiff => {
            layers.push(b.node(
                format!("copy app to {workdir}"),
                NodeKind::File {
                    base: None,
                    actions: app_actions,
                },
            ));
            b.node("assemble image layers".into(), NodeKind::Merge(layers))
        }
        Layering::Copy => {
            let mut state = runtime;
            for (name, from, src, dest) in copies {
                state = b.node(
                    name,
                    NodeKind::File {
                        base: Some(state),
                        actions: vec![copy(from, &src, &dest, None)],
                    },
                );
            }
            b.node(
                format!("copy app to {workdir}"),
                NodeKind::File {
                    base: Some(state),
                    actions: app_actions,
                },
            )
        }
    };

    Ok(b.finish(runtime_img, output, runtime_config(t)))
}

/// The installer, the venv and one install step per tier, on the builder. Returns the
/// venv's layers (merge/diff only) and the state with every tier installed.
///
/// The installer's tool venv and the app's venv are made side by side from the builder
/// (neither needs the other); each install step runs on the venv with the tool venv
/// bind-mounted read-only at its own path, so the tools are in no layer's diff.
fn python_tiers(
    b: &mut Builder,
    t: &Target,
    steps: &mut crate::steps::Steps,
) -> (Vec<NodeId>, NodeId) {
    let (builder, builder_img) = (steps.builder, steps.builder_img);
    let merge = b.layering == Layering::MergeDiff;
    let mut layers = vec![];
    let tools = b.exec(
        format!("builder: install {}", installer_name(&t.python)),
        Exec {
            root: builder,
            env_of: builder_img,
            args: sh(python::tools_script(&t.python)),
            env: vec![],
            cwd: "/".into(),
            mounts: tool_mounts(&t.python),
            network: python::tools_need_network(&t.python),
        },
    );
    let venv = b.exec(
        format!("create venv {}", t.python.venv),
        Exec {
            root: builder,
            env_of: builder_img,
            args: sh(python::create_venv_script(&t.python, t.dev)),
            env: vec![],
            cwd: "/".into(),
            mounts: vec![],
            network: false,
        },
    );
    if merge {
        layers.push(b.diff(format!("layer: venv {}", t.python.venv), builder, venv));
    }
    steps.tools = Some(tools);

    let mut seen_reqs: Vec<String> = Vec::new();
    let mut prev = venv;
    for tier in &t.tiers {
        let tier_name = &tier.name.value;
        for r in &tier.requirements {
            if !seen_reqs.contains(&r.value) {
                seen_reqs.push(r.value.clone());
            }
            b.require(
                &r.value,
                format!("requirements of tier `{tier_name}`"),
                r.span,
            );
        }
        // The tier's own constraints files are in its view only.
        let mut view = seen_reqs.clone();
        for c in &tier.build_constraints {
            if !view.contains(&c.value) {
                view.push(c.value.clone());
            }
            b.require(
                &c.value,
                format!("build-constraints of tier `{tier_name}`"),
                c.span,
            );
        }
        // The wheels of the tier's build steps, each step's wheels-dir at its own path.
        let mut wheel_mounts = vec![];
        for w in &tier.wheels {
            if let Some(step) = t.builds.iter().find(|s| s.name.value == w.value) {
                let ran = steps.get(b, t, step);
                let dir = step.wheels_dir.as_ref().map_or("/", |d| d.value.as_str());
                wheel_mounts.push(Mount::Bind {
                    target: python::wheels_mount(&w.value),
                    from: ran,
                    source: dir.to_string(),
                });
            }
        }
        // The tier sees its own requirements files and those of earlier tiers (so
        // `-r`/`-c` between them resolve), never the rest of the context.
        let ctx = b.node(
            format!("[internal] load build context: requirements up to tier {tier_name}"),
            NodeKind::Context(ContextView {
                include: view,
                exclude: vec![],
                purpose: format!("requirements-{tier_name}"),
            }),
        );
        let install = python::install(&t.python, tier, t.python.prune_tests && !t.dev);
        let installed = b.exec(
            format!("{} install tier {tier_name}", installer_name(&t.python)),
            Exec {
                root: prev,
                env_of: builder_img,
                args: install.args,
                env: install.env,
                cwd: python::CONTEXT_MOUNT.into(),
                mounts: [
                    Mount::Bind {
                        target: python::CONTEXT_MOUNT.into(),
                        from: ctx,
                        source: "/".into(),
                    },
                    Mount::Bind {
                        target: python::TOOLS_DIR.into(),
                        from: tools,
                        source: python::TOOLS_DIR.into(),
                    },
                    Mount::Cache {
                        target: install.cache_dir.into(),
                        id: install.cache_id.into(),
                        sharing: CacheSharing::Shared,
                    },
                ]
                .into_iter()
                .chain(python::secret_mounts(&t.python))
                .chain(python::no_isolation_mounts(&t.python, tier))
                .chain(wheel_mounts)
                .collect(),
                network: true,
            },
        );
        if merge {
            layers.push(b.diff(format!("layer: tier {tier_name}"), prev, installed));
        }
        steps.tier_states.insert(tier_name.clone(), installed);
        prev = installed;
    }
    (layers, prev)
}

fn app_actions(
    b: &mut Builder,
    t: &Target,
    builder_image: Option<(NodeId, ImageId)>,
    runtime_img: ImageId,
    runtime_root: NodeId,
) -> Vec<FileAction> {
    // `!` patterns would re-include what .dockerignore excludes if they came after it
    // in one list: then the view takes .dockerignore alone and the copy out of the
    // context applies the excludes to what is left (.dockerignore wins).
    let excludes = app_excludes(&t.app);
    let negates = excludes.iter().any(|p| p.starts_with('!'));
    let (view_excludes, copy_excludes) = if negates {
        (vec![], excludes)
    } else {
        (excludes, vec![])
    };
    let app_owner = match t.image.user {
        User::Named(_) => Some((t.image.uid, t.image.gid)),
        User::Root => None,
    };
    if let Some(include) = &t.app.include {
        for p in include {
            b.require(&p.value, "[app] include".into(), p.span);
        }
    }
    let app_ctx = b.node(
        "[internal] load build context: app".into(),
        NodeKind::Context(ContextView {
            include: t
                .app
                .include
                .iter()
                .flatten()
                .map(|p| p.value.clone())
                .collect(),
            exclude: view_excludes,
            purpose: "app".into(),
        }),
    );
    let workdir = t.image.workdir.clone();
    let mut actions = vec![FileAction::Mkdir {
        path: workdir.clone(),
        mode: 0o755,
        owner: app_owner,
    }];
    // `include = []` copies nothing; no `include` copies the whole context.
    if t.app.include.as_ref().is_none_or(|i| !i.is_empty()) {
        let (from, src) = if t.app.compile_bytecode {
            let (root, img) =
                builder_image.unwrap_or_else(|| builder_root(b, t, runtime_img, runtime_root));
            (
                compile_app(b, t, app_ctx, &copy_excludes, root, img),
                app::STAGE,
            )
        } else {
            (app_ctx, "/")
        };
        let mut c = copy(from, src, &workdir, Some((0, 0)));
        if !t.app.compile_bytecode {
            set_excludes(&mut c, &copy_excludes);
        }
        actions.push(c);
    }
    actions
}

/// `[app] exclude` after the [`app::DEFAULT_EXCLUDES`] (unless `default-excludes =
/// false`), so that a `!pattern` there re-includes one.
fn app_excludes(a: &strata_spec::model::App) -> Vec<String> {
    let defaults: &[&str] = if a.default_excludes {
        app::DEFAULT_EXCLUDES
    } else {
        &[]
    };
    defaults
        .iter()
        .map(|p| p.to_string())
        .chain(a.exclude.iter().cloned())
        .collect()
}

/// The builder image's root, for a target that builds nothing else on it.
fn builder_root(
    b: &mut Builder,
    t: &Target,
    runtime_img: ImageId,
    runtime_root: NodeId,
) -> (NodeId, ImageId) {
    let builder_ref = t
        .image
        .builder
        .as_ref()
        .unwrap_or(&t.image.base)
        .value
        .clone();
    let img = b.image(&builder_ref, "builder");
    if img == runtime_img {
        return (runtime_root, img);
    }
    let node = b.node(format!("builder: FROM {builder_ref}"), NodeKind::Image(img));
    (node, img)
}

/// The app's files staged on the builder image (without its packages: they do not
/// change the bytecode) and compiled there; the app layer copies the result.
fn compile_app(
    b: &mut Builder,
    t: &Target,
    app_ctx: NodeId,
    exclude: &[String],
    root: NodeId,
    img: ImageId,
) -> NodeId {
    let mut stage = copy(app_ctx, "/", app::STAGE, None);
    set_excludes(&mut stage, exclude);
    let staged = b.node(
        format!("app: sources at {}", app::STAGE),
        NodeKind::File {
            base: Some(root),
            actions: vec![stage],
        },
    );
    b.exec(
        "compile app bytecode (checked-hash)".into(),
        Exec {
            root: staged,
            env_of: img,
            args: sh(app::compile_script(&t.python.interpreter, &t.image.workdir)),
            env: vec![],
            cwd: "/".into(),
            mounts: vec![],
            network: false,
        },
    )
}

/// Exclude patterns on a copy out of the context (see `app_actions`).
fn set_excludes(c: &mut FileAction, patterns: &[String]) {
    if let FileAction::Copy { exclude, .. } = c {
        exclude.extend(patterns.iter().cloned());
    }
}

pub(crate) fn copy(from: NodeId, src: &str, dest: &str, owner: Option<(u32, u32)>) -> FileAction {
    FileAction::Copy {
        from,
        src: src.to_string(),
        dest: dest.to_string(),
        owner,
        include: vec![],
        exclude: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn packages_exec(
    b: &mut Builder,
    t: &Target,
    root: NodeId,
    img: ImageId,
    image_ref: &str,
    pkgs: &[String],
    prefix: &str,
    o: &PlanOptions,
) -> Result<NodeId, PlanError> {
    let sys = o.system_of(image_ref);
    if sys.manager == PackageManager::None {
        let span = match &t.image.builder {
            Some(bld) if bld.value == image_ref => Some(bld.span),
            _ => Some(t.image.base.span),
        };
        return Err(PlanError::NoPackageManager {
            image: image_ref.to_string(),
            span,
        });
    }
    Ok(b.exec(
        format!("{prefix}{} install {}", sys.manager.name(), pkgs.join(" ")),
        Exec {
            root,
            env_of: img,
            args: sh(packages::install_script(sys.manager, pkgs)),
            env: vec![],
            cwd: "/".into(),
            mounts: packages::cache_mounts_for(&sys, &o.platform, packages::role_of(prefix)),
            network: true,
        },
    ))
}

fn installer_name(p: &strata_spec::model::Python) -> &'static str {
    match p.installer {
        Installer::Pip => "pip",
        Installer::Uv => "uv",
    }
}

/// uv itself comes from the index, through pip's cache (and the index's credentials).
fn tool_mounts(p: &strata_spec::model::Python) -> Vec<Mount> {
    if !python::tools_need_network(p) {
        return vec![];
    }
    let mut m = vec![Mount::Cache {
        target: python::PIP_CACHE_DIR.into(),
        id: python::PIP_CACHE_ID.into(),
        sharing: CacheSharing::Shared,
    }];
    m.extend(python::secret_mounts(p));
    m
}

pub(crate) fn sh(script: String) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn runtime_config(t: &Target) -> RuntimeConfig {
    let mut env = BTreeMap::new();
    env.insert("PYTHONUNBUFFERED".to_string(), "1".to_string());
    env.insert("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string());
    let mut path_prepend = vec![];
    if !t.tiers.is_empty() {
        env.insert("VIRTUAL_ENV".to_string(), t.python.venv.clone());
        path_prepend.push(format!("{}/bin", t.python.venv.trim_end_matches('/')));
    }
    for (k, v) in &t.image.env {
        env.insert(k.clone(), v.clone());
    }
    RuntimeConfig {
        env,
        path_prepend,
        workdir: t.image.workdir.clone(),
        user: match t.image.user {
            User::Named(_) => Some(format!("{}:{}", t.image.uid, t.image.gid)),
            User::Root => None,
        },
        cmd: t.run.cmd.clone(),
        entrypoint: t.run.entrypoint.clone(),
        expose: t.run.expose.iter().map(|p| p.to_string()).collect(),
        stop_signal: t.run.stop_signal.clone(),
        healthcheck: t.run.healthcheck.clone(),
        labels: t.image.labels.clone(),
    }
}

/// Accumulates nodes and images in order.
pub(crate) struct Builder {
    target: String,
    layering: Layering,
    images: Vec<ImageSource>,
    nodes: Vec<Node>,
    required: Vec<RequiredPath>,
}

impl Builder {
    fn new(target: &str, layering: Layering) -> Self {
        Builder {
            target: target.to_string(),
            layering,
            images: vec![],
            nodes: vec![],
            required: vec![],
        }
    }

    fn image(&mut self, reference: &str, role: &'static str) -> ImageId {
        if let Some(i) = self.images.iter().position(|i| i.reference == reference) {
            return ImageId(i);
        }
        self.images.push(ImageSource {
            reference: reference.to_string(),
            role,
        });
        ImageId(self.images.len() - 1)
    }

    /// Adds a node; names not starting with `[` get the target's prefix.
    pub(crate) fn node(&mut self, name: String, kind: NodeKind) -> NodeId {
        let name = if name.starts_with('[') {
            name
        } else {
            format!("[{}] {}", self.target, name)
        };
        self.nodes.push(Node { name, kind });
        NodeId(self.nodes.len() - 1)
    }

    pub(crate) fn exec(&mut self, name: String, e: Exec) -> NodeId {
        self.node(name, NodeKind::Exec(e))
    }

    fn diff(&mut self, name: String, lower: NodeId, upper: NodeId) -> NodeId {
        self.node(name, NodeKind::Diff { lower, upper })
    }

    pub(crate) fn require(&mut self, path: &str, what: String, span: strata_spec::source::Span) {
        if !self.required.iter().any(|r| r.path == path) {
            self.required.push(RequiredPath {
                path: path.to_string(),
                what,
                span,
            });
        }
    }

    fn finish(self, runtime_image: ImageId, output: NodeId, config: RuntimeConfig) -> Plan {
        Plan {
            target: self.target,
            images: self.images,
            runtime_image,
            nodes: self.nodes,
            output,
            config,
            required_paths: self.required,
        }
    }
}
