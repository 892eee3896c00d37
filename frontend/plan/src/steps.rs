//! `[[build]]` steps: their sources at /src on the builder (or, with `venv`, on the
//! builder as it is after that tier), their commands in one shell, their caches,
//! environment, secrets and SSH agent. Each step is planned once, when a tier's
//! `wheels` or the final image first needs it.

use std::collections::BTreeMap;

use strata_spec::model::{BuildSource, BuildStep, Target};

use crate::ir::*;
use crate::planner::{copy, sh, Builder};
use crate::python;
use crate::sh::quote;

/// Where a build step's sources are and where its commands run.
pub const BUILD_SRC: &str = "/src";
/// Where BuildKit secrets are mounted: `/run/secrets/ID`, as the Dockerfile frontend does.
pub const SECRETS_DIR: &str = "/run/secrets";
/// Where the SSH agent socket is mounted (the Dockerfile frontend's default path).
pub const SSH_SOCK: &str = "/run/buildkit/ssh_agent.0";
/// The `--ssh` id a step with `ssh = true` uses.
pub const SSH_ID: &str = "default";

pub(crate) struct Steps {
    pub builder: NodeId,
    pub builder_img: ImageId,
    /// The installer's tool venv, once the venv is planned.
    pub tools: Option<NodeId>,
    /// The builder state after each tier, by tier name.
    pub tier_states: BTreeMap<String, NodeId>,
    done: BTreeMap<String, NodeId>,
}

impl Steps {
    pub fn new(builder: NodeId, builder_img: ImageId) -> Self {
        Steps {
            builder,
            builder_img,
            tools: None,
            tier_states: BTreeMap::new(),
            done: BTreeMap::new(),
        }
    }

    /// The state after `step` ran, planning it the first time.
    pub fn get(&mut self, b: &mut Builder, t: &Target, step: &BuildStep) -> NodeId {
        if let Some(id) = self.done.get(&step.name.value) {
            return *id;
        }
        let id = self.plan(b, t, step);
        self.done.insert(step.name.value.clone(), id);
        id
    }

    fn plan(&self, b: &mut Builder, t: &Target, step: &BuildStep) -> NodeId {
        let name = &step.name.value;
        // With `venv`, the step runs on the builder with the venv as after that tier
        // (spec checks guarantee the tier exists and was planned before).
        let venv_root = step
            .venv
            .as_ref()
            .and_then(|v| self.tier_states.get(&v.value).copied());
        let root = venv_root.unwrap_or(self.builder);
        let src = match &step.source {
            BuildSource::Git {
                url,
                reference,
                auth_token_secret,
                auth_header_secret,
            } => Some(b.node(
                format!(
                    "[internal] git source {url}{}",
                    reference
                        .as_ref()
                        .map(|r| format!("#{r}"))
                        .unwrap_or_default()
                ),
                NodeKind::Git(GitSource {
                    url: url.clone(),
                    reference: reference.clone(),
                    keep_git_dir: false,
                    auth_token_secret: auth_token_secret.clone(),
                    auth_header_secret: auth_header_secret.clone(),
                    ssh_sock: (step.ssh && is_ssh_remote(url)).then(|| SSH_ID.to_string()),
                }),
            )),
            BuildSource::Context(paths) => {
                for p in paths {
                    b.require(&p.value, format!("context of build `{name}`"), p.span);
                }
                Some(b.node(
                    format!("[internal] load build context: build {name}"),
                    NodeKind::Context(ContextView {
                        include: paths.iter().map(|p| p.value.clone()).collect(),
                        exclude: vec![],
                        purpose: format!("build-{name}"),
                    }),
                ))
            }
            BuildSource::None => None,
        };
        let prepared = match src {
            Some(src) => b.node(
                format!("build {name}: sources at {BUILD_SRC}"),
                NodeKind::File {
                    base: Some(root),
                    actions: vec![copy(src, "/", BUILD_SRC, None)],
                },
            ),
            None => b.node(
                format!("build {name}: empty {BUILD_SRC}"),
                NodeKind::File {
                    base: Some(root),
                    actions: vec![FileAction::Mkdir {
                        path: BUILD_SRC.into(),
                        mode: 0o755,
                        owner: None,
                    }],
                },
            ),
        };

        let mut mounts: Vec<Mount> = step
            .cache
            .iter()
            .map(|target| Mount::Cache {
                target: target.clone(),
                id: format!("strata-build|{name}|{target}"),
                sharing: CacheSharing::Shared,
            })
            .collect();
        // The build arguments its commands name (`$NAME` is data, not text), then
        // what strata and the step set, which win over them.
        let mut env: Vec<(String, String)> = step.args.clone();
        let mut script = String::new();
        if venv_root.is_some() {
            let v = t.python.venv.trim_end_matches('/');
            // The venv first on PATH; the tool venv's pip after it, told to act on the
            // venv's interpreter (pip --python), as production venvs have no pip.
            script.push_str(&format!(
                "export PATH={}:\"$PATH\"\n",
                quote(&format!("{v}/bin:{}/bin", python::TOOLS_DIR))
            ));
            for (k, val) in [
                ("VIRTUAL_ENV", v.to_string()),
                ("PIP_PYTHON", format!("{v}/bin/python")),
            ] {
                env.retain(|(ek, _)| ek != k);
                env.push((k.into(), val));
            }
            if let Some(tools) = self.tools {
                mounts.push(Mount::Bind {
                    target: python::TOOLS_DIR.into(),
                    from: tools,
                    source: python::TOOLS_DIR.into(),
                });
            }
        }
        for (k, v) in &step.env {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        for id in &step.secrets {
            mounts.push(Mount::Secret {
                target: format!("{SECRETS_DIR}/{}", id.value),
                id: id.value.clone(),
            });
        }
        if step.ssh {
            mounts.push(Mount::Ssh {
                target: SSH_SOCK.into(),
                id: SSH_ID.into(),
            });
            env.push(("SSH_AUTH_SOCK".into(), SSH_SOCK.into()));
        }

        if step.secrets.is_empty() {
            script.insert_str(0, "set -eux\n");
            for cmd in &step.run {
                script.push_str(cmd);
                script.push('\n');
            }
        } else {
            // `set -x` would print expanded words, e.g. a token read with
            // `$(cat /run/secrets/ID)`: echo each command as written instead.
            script.insert_str(0, "set -eu\n");
            for cmd in &step.run {
                script.push_str(&format!("printf '+ %s\\n' {}\n", quote(cmd)));
                script.push_str(cmd);
                script.push('\n');
            }
        }
        if let Some(dir) = &step.wheels_dir {
            script.push_str(&wheels_check(name, &dir.value));
        }
        b.exec(
            format!("build {name}"),
            Exec {
                root: prepared,
                env_of: self.builder_img,
                args: sh(script),
                env,
                cwd: BUILD_SRC.into(),
                mounts,
                network: true,
            },
        )
    }
}

/// Fails the step when its wheels-dir holds no wheel, naming the step.
pub fn wheels_check(step: &str, dir: &str) -> String {
    let d = quote(dir.trim_end_matches('/'));
    let msg = quote(&format!(
        "strata: build step `{step}` left no wheels in its wheels-dir {dir}: its commands must write *.whl files there"
    ));
    format!(
        "set -- {d}/*.whl\n\
         if [ ! -f \"$1\" ]; then echo {msg} >&2; exit 1; fi\n"
    )
}

/// `git@host:path` and `ssh://` remotes, which use the SSH agent.
fn is_ssh_remote(url: &str) -> bool {
    url.starts_with("ssh://") || !url.contains("://")
}
