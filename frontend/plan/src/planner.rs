//! From a resolved target to a plan: which states exist and what each is made of.

use std::collections::BTreeMap;

use strata_spec::model::{Installer, Target, User, APP_UID};

use crate::ir::*;
use crate::{apt, python, user, Layering, PlanError, PlanOptions};

/// Builds the plan for one target.
pub fn plan(t: &Target, opts: &PlanOptions) -> Result<Plan, PlanError> {
    reject_unsupported(t)?;
    let mut b = Builder::new(t.display_name());

    // Runtime: the base image, the user, the runtime packages.
    let runtime_img = b.image(&t.image.base.value, "base");
    let runtime_root = b.node(
        format!("FROM {}", t.image.base.value),
        NodeKind::Image(runtime_img),
    );
    let mut runtime = runtime_root;
    if let User::Named(name) = &t.image.user {
        runtime = b.exec(
            format!("create user {name} (uid {APP_UID})"),
            Exec {
                root: runtime,
                env_of: runtime_img,
                args: sh(user::create_user_script(name, &t.image.workdir)),
                env: vec![],
                cwd: "/".into(),
                mounts: vec![],
                network: false,
            },
        );
    }
    if !t.system.packages.is_empty() {
        runtime = b.exec(
            format!("apt-get install {}", t.system.packages.join(" ")),
            apt_exec(
                runtime,
                runtime_img,
                &t.image.base.value,
                &t.system.packages,
                opts,
            ),
        );
    }

    // Builder: its base, every package (runtime and build-only), then the venv and tiers.
    let mut layers = vec![runtime];
    let mut venv_state = None;
    if !t.tiers.is_empty() {
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
        let pkgs: Vec<String> = t
            .system
            .packages
            .iter()
            .chain(&t.system.build_packages)
            .cloned()
            .collect();
        if !pkgs.is_empty() {
            builder = b.exec(
                format!("builder: apt-get install {}", pkgs.join(" ")),
                apt_exec(builder, builder_img, &builder_ref, &pkgs, opts),
            );
        }
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
                root: tools,
                env_of: builder_img,
                args: sh(python::create_venv_script(&t.python, t.dev)),
                env: vec![],
                cwd: "/".into(),
                mounts: vec![],
                network: false,
            },
        );
        if opts.layering == Layering::MergeDiff {
            layers.push(b.diff(format!("layer: venv {}", t.python.venv), tools, venv));
        }

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
            // The tier sees its own requirements files and those of earlier tiers (so
            // `-r`/`-c` between them resolve), never the rest of the context.
            let ctx = b.node(
                format!("[internal] load build context: requirements up to tier {tier_name}"),
                NodeKind::Context(ContextView {
                    include: seen_reqs.clone(),
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
                    mounts: vec![
                        Mount::Bind {
                            target: python::CONTEXT_MOUNT.into(),
                            from: ctx,
                            source: "/".into(),
                        },
                        Mount::Cache {
                            target: install.cache_dir.into(),
                            id: install.cache_id.into(),
                            sharing: CacheSharing::Shared,
                        },
                    ],
                    network: true,
                },
            );
            if opts.layering == Layering::MergeDiff {
                layers.push(b.diff(format!("layer: tier {tier_name}"), prev, installed));
            }
            prev = installed;
        }
        venv_state = Some(prev);
    }

    // The app: the workdir (writable by the user) and the app's files (read-only, root's).
    let app_owner = match t.image.user {
        User::Named(_) => Some((APP_UID, APP_UID)),
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
            exclude: t.app.exclude.clone(),
            purpose: "app".into(),
        }),
    );
    let workdir = t.image.workdir.clone();
    let app_actions = vec![
        FileAction::Mkdir {
            path: workdir.clone(),
            mode: 0o755,
            owner: app_owner,
        },
        FileAction::Copy {
            from: app_ctx,
            src: "/".into(),
            dest: workdir.clone(),
            owner: Some((0, 0)),
            include: vec![],
            exclude: vec![],
        },
    ];

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
            if let Some(v) = venv_state {
                let venv = t.python.venv.clone();
                state = b.node(
                    format!("copy venv {venv} from builder"),
                    NodeKind::File {
                        base: Some(state),
                        actions: vec![FileAction::Copy {
                            from: v,
                            src: venv.clone(),
                            dest: venv,
                            owner: None,
                            include: vec![],
                            exclude: vec![],
                        }],
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

    let config = runtime_config(t);
    Ok(b.finish(runtime_img, output, config))
}

fn reject_unsupported(t: &Target) -> Result<(), PlanError> {
    if let Some(step) = t.builds.first() {
        return Err(PlanError::NotSupported {
            what: "[[build]] steps".into(),
            span: Some(step.name.span),
        });
    }
    Ok(())
}

fn installer_name(p: &strata_spec::model::Python) -> &'static str {
    match p.installer {
        Installer::Pip => "pip",
        Installer::Uv => "uv",
    }
}

/// uv itself comes from the index, through pip's cache.
fn tool_mounts(p: &strata_spec::model::Python) -> Vec<Mount> {
    if python::tools_need_network(p) {
        vec![Mount::Cache {
            target: python::PIP_CACHE_DIR.into(),
            id: python::PIP_CACHE_ID.into(),
            sharing: CacheSharing::Shared,
        }]
    } else {
        vec![]
    }
}

fn sh(script: String) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn apt_exec(root: NodeId, img: ImageId, image_ref: &str, pkgs: &[String], o: &PlanOptions) -> Exec {
    Exec {
        root,
        env_of: img,
        args: sh(apt::install_script(pkgs)),
        env: vec![],
        cwd: "/".into(),
        mounts: apt::cache_mounts(image_ref, &o.platform),
        network: true,
    }
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
            User::Named(_) => Some(format!("{APP_UID}:{APP_UID}")),
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
struct Builder {
    target: String,
    images: Vec<ImageSource>,
    nodes: Vec<Node>,
    required: Vec<RequiredPath>,
}

impl Builder {
    fn new(target: &str) -> Self {
        Builder {
            target: target.to_string(),
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
    fn node(&mut self, name: String, kind: NodeKind) -> NodeId {
        let name = if name.starts_with('[') {
            name
        } else {
            format!("[{}] {}", self.target, name)
        };
        self.nodes.push(Node { name, kind });
        NodeId(self.nodes.len() - 1)
    }

    fn exec(&mut self, name: String, e: Exec) -> NodeId {
        self.node(name, NodeKind::Exec(e))
    }

    fn diff(&mut self, name: String, lower: NodeId, upper: NodeId) -> NodeId {
        self.node(name, NodeKind::Diff { lower, upper })
    }

    fn require(&mut self, path: &str, what: String, span: strata_spec::source::Span) {
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
