//! Plan → LLB: each plan node becomes one op, in plan order, only if the output needs it.

use std::collections::BTreeMap;

use strata_plan::{
    CacheSharing, ContextView, Exec, FileAction, GitSource, Mount, NodeId, NodeKind, Plan,
};

use crate::graph::{Graph, Output, VertexMeta};
use crate::pb;

/// An image of the plan as the build will use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Normalised reference, pinned to a digest when it was resolved.
    pub reference: String,
    /// The image config's Env (`KEY=VALUE`), which commands run with.
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// BuildKit's default sandbox network.
    #[default]
    Sandbox,
    /// `--network host` (`force-network-mode=host`).
    Host,
    /// `--network none`: even steps that download run without a network.
    None,
}

/// Everything the lowering needs beyond the plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LowerOptions {
    pub platform: pb::Platform,
    /// One per `plan.images`, same order.
    pub images: Vec<ResolvedImage>,
    /// `image-resolve-mode` (`default`, `pull`, `local`).
    pub image_resolve_mode: Option<String>,
    /// The build's session, which owns the local directories.
    pub session_id: Option<String>,
    /// Name of the local directory holding the build context (buildx: `context`).
    pub context_name: String,
    /// `.dockerignore` patterns, applied to everything taken from the context.
    pub dockerignore: Vec<String>,
    pub network: Network,
    pub no_cache: bool,
    /// `--add-host` entries (host, IP), in every command's /etc/hosts.
    pub extra_hosts: Vec<(String, String)>,
    /// `--shm-size` in bytes: a /dev/shm tmpfs of that size in every command.
    pub shm_size: Option<u64>,
    /// The proxy build arguments (`HTTP_PROXY`, ... in either case), for every command
    /// that downloads, as the Dockerfile frontend passes them: in `Meta.proxy_env`,
    /// which BuildKit sets in the command's environment (both cases) but leaves out of
    /// the cache key; they never reach the image config.
    pub proxy: Option<pb::ProxyEnv>,
    /// `BUILDKIT_CACHE_MOUNT_NS` (a build argument): every cache mount's id is
    /// `NS/ID`, as the Dockerfile frontend prefixes its cache ids, so that builds on a
    /// shared builder can keep their caches apart. Empty or `None`: ids as planned.
    pub cache_ns: Option<String>,
}

/// The proxy settings of a build's `--build-arg`s: `HTTP_PROXY`, `HTTPS_PROXY`,
/// `FTP_PROXY`, `NO_PROXY`, `ALL_PROXY`, each in upper or lower case (the upper-case
/// one wins when both are given); `None` when there are none.
pub fn proxy_env_from_build_args(args: &BTreeMap<String, String>) -> Option<pb::ProxyEnv> {
    let pick = |name: &str| -> String {
        args.get(name)
            .or_else(|| args.get(&name.to_ascii_lowercase()))
            .or_else(|| {
                args.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or_default()
    };
    let p = pb::ProxyEnv {
        http_proxy: pick("HTTP_PROXY"),
        https_proxy: pick("HTTPS_PROXY"),
        ftp_proxy: pick("FTP_PROXY"),
        no_proxy: pick("NO_PROXY"),
        all_proxy: pick("ALL_PROXY"),
    };
    (p != pb::ProxyEnv::default()).then_some(p)
}

/// The id of a cache mount under `ns` (see [`LowerOptions::cache_ns`]).
pub fn cache_id(ns: Option<&str>, id: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}/{id}"),
        _ => id.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("the plan has {plan} images but {given} were resolved")]
    ImageCount { plan: usize, given: usize },
}

/// The definition of `plan`'s final filesystem.
pub fn lower(plan: &Plan, o: &LowerOptions) -> Result<pb::Definition, LowerError> {
    if plan.images.len() != o.images.len() {
        return Err(LowerError::ImageCount {
            plan: plan.images.len(),
            given: o.images.len(),
        });
    }
    let needed = reachable(plan);
    let mut g = Graph::new();
    let mut outs: Vec<Option<Output>> = vec![None; plan.nodes.len()];
    for (i, node) in plan.nodes.iter().enumerate() {
        if !needed[i] {
            continue;
        }
        let get = |id: NodeId| -> Output {
            outs[id.0]
                .clone()
                .expect("plan nodes only refer to earlier, needed nodes")
        };
        let meta = VertexMeta {
            name: node.name.clone(),
            ignore_cache: o.no_cache,
        };
        let op = match &node.kind {
            NodeKind::Image(img) => image_op(&o.images[img.0].reference, o),
            NodeKind::Context(view) => context_op(view, o),
            NodeKind::Git(g) => git_op(g),
            NodeKind::Exec(e) => exec_op(e, o, &get),
            NodeKind::File { base, actions } => file_op(base.map(&get), actions, &get),
            NodeKind::Diff { lower, upper } => pb::Op {
                inputs: vec![get(*lower).input(), get(*upper).input()],
                op: Some(pb::op::Op::Diff(pb::DiffOp {
                    lower: Some(pb::LowerDiffInput { input: 0 }),
                    upper: Some(pb::UpperDiffInput { input: 1 }),
                })),
                ..Default::default()
            },
            NodeKind::Merge(layers) => pb::Op {
                inputs: layers.iter().map(|l| get(*l).input()).collect(),
                op: Some(pb::op::Op::Merge(pb::MergeOp {
                    inputs: (0..layers.len() as i64)
                        .map(|input| pb::MergeInput { input })
                        .collect(),
                })),
                ..Default::default()
            },
        };
        // Sources and file ops are platform-independent; execs and images are not.
        let op = match &node.kind {
            NodeKind::Image(_) | NodeKind::Exec(_) => pb::Op {
                platform: Some(o.platform.clone()),
                ..op
            },
            _ => op,
        };
        outs[i] = Some(g.add(op, meta));
    }
    let out = outs[plan.output.0].clone().expect("the output is needed");
    Ok(g.definition(&out))
}

/// A definition of one context view alone: the same source op the full build uses, so
/// solving it first (to look paths up) costs no second transfer.
pub fn context_definition(view: &ContextView, name: &str, o: &LowerOptions) -> pb::Definition {
    let mut g = Graph::new();
    let out = g.add(
        context_op(view, o),
        VertexMeta {
            name: name.to_string(),
            ignore_cache: false,
        },
    );
    g.definition(&out)
}

/// A definition of one image alone, as the full build uses it (same op).
pub fn image_definition(reference: &str, name: &str, o: &LowerOptions) -> pb::Definition {
    let mut g = Graph::new();
    let op = pb::Op {
        platform: Some(o.platform.clone()),
        ..image_op(reference, o)
    };
    let out = g.add(
        op,
        VertexMeta {
            name: name.to_string(),
            ignore_cache: false,
        },
    );
    g.definition(&out)
}

/// Which nodes the output depends on.
fn reachable(plan: &Plan) -> Vec<bool> {
    let mut needed = vec![false; plan.nodes.len()];
    let mut stack = vec![plan.output];
    while let Some(id) = stack.pop() {
        if needed[id.0] {
            continue;
        }
        needed[id.0] = true;
        match &plan.node(id).kind {
            NodeKind::Image(_) | NodeKind::Context(_) | NodeKind::Git(_) => {}
            NodeKind::Exec(e) => {
                stack.push(e.root);
                stack.extend(e.mounts.iter().filter_map(|m| match m {
                    Mount::Bind { from, .. } => Some(*from),
                    _ => None,
                }));
            }
            NodeKind::File { base, actions } => {
                stack.extend(base.iter().copied());
                stack.extend(actions.iter().filter_map(|a| match a {
                    FileAction::Copy { from, .. } => Some(*from),
                    FileAction::Mkdir { .. } => None,
                }));
            }
            NodeKind::Diff { lower, upper } => stack.extend([*lower, *upper]),
            NodeKind::Merge(layers) => stack.extend(layers.iter().copied()),
        }
    }
    needed
}

fn image_op(reference: &str, o: &LowerOptions) -> pb::Op {
    let mut attrs = BTreeMap::new();
    if let Some(mode) = o.image_resolve_mode.as_deref().filter(|m| *m != "default") {
        attrs.insert("image.resolvemode".to_string(), mode.to_string());
    }
    source(format!("docker-image://{reference}"), attrs)
}

fn context_op(view: &ContextView, o: &LowerOptions) -> pb::Op {
    let mut attrs = BTreeMap::new();
    if let Some(s) = &o.session_id {
        attrs.insert("local.session".to_string(), s.clone());
    }
    if !view.include.is_empty() {
        let include: Vec<String> = view.include.iter().map(|p| clean_pattern(p)).collect();
        attrs.insert("local.includepattern".to_string(), json_list(&include));
    }
    let exclude: Vec<String> = o
        .dockerignore
        .iter()
        .chain(&view.exclude)
        .map(|p| clean_pattern(p))
        .collect();
    if !exclude.is_empty() {
        attrs.insert("local.excludepatterns".to_string(), json_list(&exclude));
    }
    attrs.insert(
        "local.sharedkeyhint".to_string(),
        format!("strata-{}", view.purpose),
    );
    source(format!("local://{}", o.context_name), attrs)
}

/// BuildKit's git source: `git://host/path#ref`, with the real URL in `git.fullurl`
/// (so http, https and ssh remotes keep their scheme).
fn git_op(g: &GitSource) -> pb::Op {
    let url = g.url.as_str();
    let (scheme_less, _) = match url.split_once("://") {
        Some((scheme, rest)) => (rest, scheme),
        // scp-like `git@host:path`
        None => (url, "ssh"),
    };
    let without_user = match scheme_less.split_once('@') {
        Some((user, rest)) if !user.contains('/') => rest,
        _ => scheme_less,
    };
    let mut id = without_user.replacen(':', "/", usize::from(!url.contains("://")));
    if let Some(r) = &g.reference {
        id.push('#');
        id.push_str(r);
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("git.fullurl".to_string(), url.to_string());
    // The secrets BuildKit's git source reads for an http(s) remote's credentials
    // (`GIT_AUTH_TOKEN.<host>`, then `GIT_AUTH_TOKEN`; the same for the header), as
    // `llb.Git` names them by default: a URL never carries them (the spec refuses it).
    attrs.insert(
        "git.authtokensecret".to_string(),
        "GIT_AUTH_TOKEN".to_string(),
    );
    attrs.insert(
        "git.authheadersecret".to_string(),
        "GIT_AUTH_HEADER".to_string(),
    );
    if g.keep_git_dir {
        attrs.insert("git.keepgitdir".to_string(), "true".to_string());
    }
    git_auth_attrs(g, &mut attrs);
    source(format!("git://{id}"), attrs)
}

/// BuildKit's default secret names for git credentials, which its Go client (and so
/// the Dockerfile frontend) always sets: the daemon has no default of its own.
pub const GIT_AUTH_TOKEN: &str = "GIT_AUTH_TOKEN";
pub const GIT_AUTH_HEADER: &str = "GIT_AUTH_HEADER";

/// The git source's credentials: BuildKit looks up each secret as `ID.<host>` first,
/// then `ID` (`source/git`), and sends a token as `Authorization: basic
/// base64(x-access-token:TOKEN)`, a header secret as the whole header. Secrets the
/// build was not given are skipped.
fn git_auth_attrs(g: &GitSource, attrs: &mut BTreeMap<String, String>) {
    attrs.insert(
        "git.authtokensecret".to_string(),
        g.auth_token_secret
            .as_deref()
            .unwrap_or(GIT_AUTH_TOKEN)
            .to_string(),
    );
    attrs.insert(
        "git.authheadersecret".to_string(),
        g.auth_header_secret
            .as_deref()
            .unwrap_or(GIT_AUTH_HEADER)
            .to_string(),
    );
    if let Some(id) = &g.ssh_sock {
        attrs.insert("git.mountsshsock".to_string(), id.clone());
    }
}

/// Patterns as BuildKit's matcher wants them: no leading `./` or `/`, no trailing `/`
/// (a directory pattern matches everything below it).
fn clean_pattern(p: &str) -> String {
    let (neg, body) = match p.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", p),
    };
    let mut b = body.trim();
    while let Some(rest) = b.strip_prefix("./") {
        b = rest;
    }
    let b = b.trim_start_matches('/').trim_end_matches('/');
    format!("{neg}{}", if b.is_empty() { "." } else { b })
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn source(identifier: String, attrs: BTreeMap<String, String>) -> pb::Op {
    pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp { identifier, attrs })),
        ..Default::default()
    }
}

fn exec_op(e: &Exec, o: &LowerOptions, get: &dyn Fn(NodeId) -> Output) -> pb::Op {
    let mut env: Vec<String> = o
        .images
        .get(e.env_of.0)
        .map(|i| i.env.clone())
        .unwrap_or_default();
    for (k, v) in &e.env {
        let prefix = format!("{k}=");
        env.retain(|kv| !kv.starts_with(&prefix));
        env.push(format!("{k}={v}"));
    }

    // Mounts sorted by destination, the root first; each distinct input once.
    struct M<'a> {
        dest: &'a str,
        from: Option<Output>,
        selector: String,
        kind: &'a Mount,
    }
    let mut ms: Vec<M> = vec![M {
        dest: "/",
        from: Some(get(e.root)),
        selector: String::new(),
        kind: &ROOT,
    }];
    for m in &e.mounts {
        let (dest, from, selector) = match m {
            Mount::Cache { target, .. }
            | Mount::Tmpfs { target }
            | Mount::Secret { target, .. }
            | Mount::Ssh { target, .. } => (target.as_str(), None, String::new()),
            Mount::Bind {
                target,
                from,
                source,
            } => {
                let sel = if source == "/" {
                    String::new()
                } else {
                    source.clone()
                };
                (target.as_str(), Some(get(*from)), sel)
            }
        };
        ms.push(M {
            dest,
            from,
            selector,
            kind: m,
        });
    }
    if o.shm_size.is_some() {
        ms.push(M {
            dest: SHM_DIR,
            from: None,
            selector: String::new(),
            kind: &SHM,
        });
    }
    ms.sort_by(|a, b| a.dest.cmp(b.dest));

    let mut inputs: Vec<pb::Input> = vec![];
    let mut mounts = vec![];
    let mut next_output = 0;
    for m in &ms {
        let input = match &m.from {
            Some(out) => input_index(&mut inputs, out),
            None => -1,
        };
        let mut mount = pb::Mount {
            input,
            selector: m.selector.clone(),
            dest: m.dest.to_string(),
            output: -1,
            ..Default::default()
        };
        match m.kind {
            Mount::Bind { .. } if m.dest == "/" => {
                mount.output = next_output;
                next_output += 1;
            }
            Mount::Bind { .. } => mount.readonly = true,
            Mount::Cache { id, sharing, .. } => {
                mount.mount_type = pb::MountType::Cache as i32;
                mount.cache_opt = Some(pb::CacheOpt {
                    id: cache_id(o.cache_ns.as_deref(), id),
                    sharing: match sharing {
                        CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                        CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                    } as i32,
                });
            }
            Mount::Secret { id, .. } => {
                mount.mount_type = pb::MountType::Secret as i32;
                mount.secret_opt = Some(pb::SecretOpt {
                    id: id.clone(),
                    uid: 0,
                    gid: 0,
                    mode: 0o400,
                    optional: false,
                });
            }
            Mount::Ssh { id, .. } => {
                mount.mount_type = pb::MountType::Ssh as i32;
                mount.ssh_opt = Some(pb::SshOpt {
                    id: id.clone(),
                    uid: 0,
                    gid: 0,
                    mode: 0o600,
                    optional: false,
                });
            }
            Mount::Tmpfs { .. } => {
                mount.mount_type = pb::MountType::Tmpfs as i32;
                let size = match o.shm_size {
                    Some(n) if std::ptr::eq(m.kind, &SHM) => i64::try_from(n).unwrap_or(i64::MAX),
                    _ => 0,
                };
                mount.tmpfs_opt = Some(pb::TmpfsOpt { size });
            }
        }
        mounts.push(mount);
    }

    let network = match (e.network, o.network) {
        (false, _) | (true, Network::None) => pb::NetMode::None,
        (true, Network::Host) => pb::NetMode::Host,
        (true, Network::Sandbox) => pb::NetMode::Unset,
    };
    pb::Op {
        inputs,
        op: Some(pb::op::Op::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: e.args.clone(),
                env,
                cwd: e.cwd.clone(),
                extra_hosts: o
                    .extra_hosts
                    .iter()
                    .map(|(host, ip)| pb::HostIp {
                        host: host.clone(),
                        ip: ip.clone(),
                    })
                    .collect(),
                remove_mount_stubs_recursive: true,
                proxy_env: if e.network { o.proxy.clone() } else { None },
                ..Default::default()
            }),
            mounts,
            network: network as i32,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The `--shm-size` mount (its size comes from the options).
static SHM: Mount = Mount::Tmpfs {
    target: String::new(),
};
const SHM_DIR: &str = "/dev/shm";

/// Stands for the root mount while sorting mounts.
static ROOT: Mount = Mount::Bind {
    target: String::new(),
    from: NodeId(0),
    source: String::new(),
};

fn owner(o: Option<(u32, u32)>) -> Option<pb::ChownOpt> {
    o.map(|(u, g)| pb::ChownOpt {
        user: Some(pb::UserOpt {
            user: Some(pb::user_opt::User::ById(u)),
        }),
        group: Some(pb::UserOpt {
            user: Some(pb::user_opt::User::ById(g)),
        }),
    })
}

/// The index of `out` among an op's inputs, adding it once.
fn input_index(inputs: &mut Vec<pb::Input>, out: &Output) -> i64 {
    let inp = out.input();
    match inputs.iter().position(|i| *i == inp) {
        Some(i) => i as i64,
        None => {
            inputs.push(inp);
            inputs.len() as i64 - 1
        }
    }
}

fn file_op(base: Option<Output>, actions: &[FileAction], get: &dyn Fn(NodeId) -> Output) -> pb::Op {
    let mut inputs: Vec<pb::Input> = vec![];
    let base_index = base.map(|b| input_index(&mut inputs, &b));
    // Inputs first, so that chained action indexes (inputs.len() + k) are known.
    let secondary: Vec<Option<i64>> = actions
        .iter()
        .map(|a| match a {
            FileAction::Copy { from, .. } => Some(input_index(&mut inputs, &get(*from))),
            FileAction::Mkdir { .. } => None,
        })
        .collect();
    let n = inputs.len() as i64;
    let last = actions.len().saturating_sub(1);
    let pb_actions = actions
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let input = if k == 0 {
                base_index.unwrap_or(-1)
            } else {
                n + k as i64 - 1
            };
            let output = if k == last { 0 } else { -1 };
            let action = match a {
                FileAction::Mkdir {
                    path,
                    mode,
                    owner: o,
                } => pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                    path: path.clone(),
                    mode: *mode as i32,
                    make_parents: true,
                    owner: owner(*o),
                    timestamp: -1,
                }),
                FileAction::Copy {
                    src,
                    dest,
                    owner: o,
                    include,
                    exclude,
                    ..
                } => pb::file_action::Action::Copy(pb::FileActionCopy {
                    src: src.clone(),
                    dest: dest.clone(),
                    owner: owner(*o),
                    mode: -1,
                    follow_symlink: true,
                    dir_copy_contents: true,
                    create_dest_path: true,
                    allow_wildcard: true,
                    allow_empty_wildcard: true,
                    timestamp: -1,
                    include_patterns: include.iter().map(|p| clean_pattern(p)).collect(),
                    exclude_patterns: exclude.iter().map(|p| clean_pattern(p)).collect(),
                    ..Default::default()
                }),
            };
            pb::FileAction {
                input,
                secondary_input: secondary[k].unwrap_or(-1),
                output,
                action: Some(action),
            }
        })
        .collect();
    pb::Op {
        inputs,
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: pb_actions,
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use strata_plan::{ImageId, ImageSource, Node, RuntimeConfig};

    fn plan() -> Plan {
        let n = |name: &str, kind| Node {
            name: name.into(),
            kind,
        };
        Plan {
            target: "t".into(),
            images: vec![ImageSource {
                reference: "python:3.12".into(),
                role: "base",
            }],
            runtime_image: ImageId(0),
            nodes: vec![
                n("img", NodeKind::Image(ImageId(0))),
                n(
                    "ctx",
                    NodeKind::Context(ContextView {
                        include: vec!["./req.txt".into()],
                        exclude: vec![],
                        purpose: "requirements-base".into(),
                    }),
                ),
                n(
                    "install",
                    NodeKind::Exec(Exec {
                        root: NodeId(0),
                        env_of: ImageId(0),
                        args: vec!["pip".into()],
                        env: vec![("PATH".into(), "/x".into())],
                        cwd: "/".into(),
                        mounts: vec![
                            Mount::Cache {
                                target: "/root/.cache/pip".into(),
                                id: "pip".into(),
                                sharing: CacheSharing::Shared,
                            },
                            Mount::Bind {
                                target: "/ctx".into(),
                                from: NodeId(1),
                                source: "/".into(),
                            },
                        ],
                        network: true,
                    }),
                ),
                n("unused", NodeKind::Image(ImageId(0))),
                n(
                    "diff",
                    NodeKind::Diff {
                        lower: NodeId(0),
                        upper: NodeId(2),
                    },
                ),
                n(
                    "app",
                    NodeKind::File {
                        base: None,
                        actions: vec![
                            FileAction::Mkdir {
                                path: "/app".into(),
                                mode: 0o755,
                                owner: Some((1, 1)),
                            },
                            FileAction::Copy {
                                from: NodeId(1),
                                src: "/".into(),
                                dest: "/app".into(),
                                owner: Some((0, 0)),
                                include: vec![],
                                exclude: vec![],
                            },
                        ],
                    },
                ),
                n(
                    "merge",
                    NodeKind::Merge(vec![NodeId(0), NodeId(4), NodeId(5)]),
                ),
            ],
            output: NodeId(6),
            config: RuntimeConfig::default(),
            required_paths: vec![],
        }
    }

    fn opts() -> LowerOptions {
        LowerOptions {
            platform: pb::Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            },
            images: vec![ResolvedImage {
                reference: "docker.io/library/python:3.12".into(),
                env: vec!["PATH=/usr/bin".into(), "LANG=C".into()],
            }],
            context_name: "context".into(),
            dockerignore: vec!["*.log".into()],
            network: Network::Host,
            ..Default::default()
        }
    }

    fn ops(d: &pb::Definition) -> Vec<pb::Op> {
        d.def
            .iter()
            .map(|b| pb::Op::decode(b.as_slice()).unwrap())
            .collect()
    }

    #[test]
    fn exec_mounts_are_sorted_with_contiguous_outputs() {
        let d = lower(&plan(), &opts()).unwrap();
        let ops = ops(&d);
        let exec = ops
            .iter()
            .find_map(|o| match &o.op {
                Some(pb::op::Op::Exec(e)) => Some(e),
                _ => None,
            })
            .unwrap();
        let dests: Vec<&str> = exec.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(dests, vec!["/", "/ctx", "/root/.cache/pip"]);
        let outputs: Vec<i64> = exec.mounts.iter().map(|m| m.output).collect();
        assert_eq!(outputs, vec![0, -1, -1]);
        let inputs: Vec<i64> = exec.mounts.iter().map(|m| m.input).collect();
        assert_eq!(inputs, vec![0, 1, -1]);
        assert!(exec.mounts[1].readonly);
        assert_eq!(exec.network, pb::NetMode::Host as i32);
        assert_eq!(exec.meta.as_ref().unwrap().env, vec!["LANG=C", "PATH=/x"]);
    }

    #[test]
    fn add_hosts_and_shm_size_reach_every_command() {
        let exec_of = |o: &LowerOptions| {
            ops(&lower(&plan(), o).unwrap())
                .into_iter()
                .find_map(|op| match op.op {
                    Some(pb::op::Op::Exec(e)) => Some(e),
                    _ => None,
                })
                .unwrap()
        };
        let plain = exec_of(&opts());
        assert!(plain.meta.as_ref().unwrap().extra_hosts.is_empty());
        assert!(plain.mounts.iter().all(|m| m.dest != "/dev/shm"));

        let mut o = opts();
        o.extra_hosts = vec![("index.internal".into(), "10.0.0.7".into())];
        o.shm_size = Some(256 << 20);
        let e = exec_of(&o);
        let hosts = &e.meta.as_ref().unwrap().extra_hosts;
        assert_eq!(
            hosts,
            &vec![pb::HostIp {
                host: "index.internal".into(),
                ip: "10.0.0.7".into()
            }]
        );
        let dests: Vec<&str> = e.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(dests, vec!["/", "/ctx", "/dev/shm", "/root/.cache/pip"]);
        let shm = &e.mounts[2];
        assert_eq!(shm.mount_type, pb::MountType::Tmpfs as i32);
        assert_eq!(shm.tmpfs_opt.as_ref().unwrap().size, 256 << 20);
        assert_eq!((shm.input, shm.output), (-1, -1));
    }

    #[test]
    fn proxy_build_args_reach_downloading_commands_only() {
        let args = BTreeMap::from([
            ("https_proxy".to_string(), "http://lower:3128".to_string()),
            ("HTTPS_PROXY".to_string(), "http://upper:3128".to_string()),
            ("no_proxy".to_string(), "localhost".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ]);
        let p = proxy_env_from_build_args(&args).unwrap();
        assert_eq!(p.https_proxy, "http://upper:3128");
        assert_eq!(p.no_proxy, "localhost");
        assert_eq!(p.http_proxy, "");
        assert_eq!(
            proxy_env_from_build_args(&BTreeMap::from([("A".into(), "b".into())])),
            None
        );

        let execs = |o: &LowerOptions| -> Vec<pb::ExecOp> {
            ops(&lower(&plan(), o).unwrap())
                .into_iter()
                .filter_map(|op| match op.op {
                    Some(pb::op::Op::Exec(e)) => Some(e),
                    _ => None,
                })
                .collect()
        };
        assert!(execs(&opts())
            .iter()
            .all(|e| e.meta.as_ref().unwrap().proxy_env.is_none()));
        let mut o = opts();
        o.proxy = Some(p.clone());
        let with = execs(&o);
        assert!(!with.is_empty());
        for e in &with {
            let meta = e.meta.as_ref().unwrap();
            // the command's env (and so the image's) never holds it
            assert!(meta
                .env
                .iter()
                .all(|kv| !kv.to_ascii_uppercase().contains("PROXY")));
            if e.network == pb::NetMode::None as i32 {
                assert_eq!(meta.proxy_env, None);
            } else {
                assert_eq!(meta.proxy_env.as_ref(), Some(&p));
            }
        }
    }

    #[test]
    fn unreachable_nodes_are_not_emitted_and_terminal_is_last() {
        let d = lower(&plan(), &opts()).unwrap();
        // image, ctx, exec, diff, file, merge + terminal ("unused" is the same op as "img")
        assert_eq!(d.def.len(), 7);
        let names: Vec<&str> = d
            .metadata
            .values()
            .filter_map(|m| m.description.get("llb.customname").map(String::as_str))
            .collect();
        assert!(!names.contains(&"unused"));
        let last = ops(&d).pop().unwrap();
        assert!(last.op.is_none());
    }

    #[test]
    fn file_actions_chain_and_copy_keeps_modes() {
        let d = lower(&plan(), &opts()).unwrap();
        let file = ops(&d)
            .into_iter()
            .find_map(|o| match o.op {
                Some(pb::op::Op::File(f)) => Some((o.inputs, f)),
                _ => None,
            })
            .unwrap();
        let (inputs, f) = file;
        assert_eq!(inputs.len(), 1);
        assert_eq!(
            (
                f.actions[0].input,
                f.actions[0].secondary_input,
                f.actions[0].output
            ),
            (-1, -1, -1)
        );
        assert_eq!(
            (
                f.actions[1].input,
                f.actions[1].secondary_input,
                f.actions[1].output
            ),
            (1, 0, 0)
        );
        let Some(pb::file_action::Action::Copy(c)) = &f.actions[1].action else {
            panic!()
        };
        assert_eq!((c.mode, c.timestamp), (-1, -1));
    }

    #[test]
    fn context_attrs_carry_patterns_as_json() {
        let d = lower(&plan(), &opts()).unwrap();
        let src = ops(&d)
            .into_iter()
            .find_map(|o| match o.op {
                Some(pb::op::Op::Source(s)) if s.identifier.starts_with("local://") => Some(s),
                _ => None,
            })
            .unwrap();
        assert_eq!(src.identifier, "local://context");
        assert_eq!(src.attrs["local.includepattern"], r#"["req.txt"]"#);
        assert_eq!(src.attrs["local.excludepatterns"], r#"["*.log"]"#);
        assert_eq!(src.attrs["local.sharedkeyhint"], "strata-requirements-base");
    }

    #[test]
    fn wrong_image_count_is_an_error() {
        let mut o = opts();
        o.images.clear();
        assert!(lower(&plan(), &o).is_err());
    }

    #[test]
    fn git_sources_name_buildkits_auth_secrets() {
        let op = git_op(&GitSource {
            url: "https://github.com/o/private.git".into(),
            reference: None,
            keep_git_dir: false,
            auth_token_secret: None,
            auth_header_secret: None,
            ssh_sock: None,
        });
        let Some(pb::op::Op::Source(s)) = op.op else {
            panic!()
        };
        assert_eq!(s.attrs["git.authtokensecret"], "GIT_AUTH_TOKEN");
        assert_eq!(s.attrs["git.authheadersecret"], "GIT_AUTH_HEADER");
    }

    #[test]
    fn git_identifiers_keep_host_and_path_and_the_full_url() {
        let g = |url: &str, r: Option<&str>| {
            let op = git_op(&GitSource {
                url: url.into(),
                reference: r.map(String::from),
                keep_git_dir: false,
                auth_token_secret: None,
                auth_header_secret: None,
                ssh_sock: None,
            });
            match op.op {
                Some(pb::op::Op::Source(s)) => (s.identifier, s.attrs["git.fullurl"].clone()),
                _ => panic!(),
            }
        };
        assert_eq!(
            g("https://github.com/tenstorrent/tt-metal.git", Some("v0.1")),
            (
                "git://github.com/tenstorrent/tt-metal.git#v0.1".into(),
                "https://github.com/tenstorrent/tt-metal.git".into()
            )
        );
        assert_eq!(
            g("http://127.0.0.1:8080/repo.git", None).0,
            "git://127.0.0.1:8080/repo.git"
        );
        assert_eq!(
            g("git@github.com:org/repo.git", Some("abc")).0,
            "git://github.com/org/repo.git#abc"
        );
    }

    #[test]
    fn secret_and_ssh_mounts_are_required_and_root_only() {
        let mut p = plan();
        if let NodeKind::Exec(e) = &mut p.nodes[2].kind {
            e.mounts.push(Mount::Secret {
                target: "/run/secrets/hf-token".into(),
                id: "hf-token".into(),
            });
            e.mounts.push(Mount::Ssh {
                target: "/run/buildkit/ssh_agent.0".into(),
                id: "default".into(),
            });
        }
        let d = lower(&p, &opts()).unwrap();
        let exec = ops(&d)
            .into_iter()
            .find_map(|o| match o.op {
                Some(pb::op::Op::Exec(e)) => Some(e),
                _ => None,
            })
            .unwrap();
        let secret = exec
            .mounts
            .iter()
            .find(|m| m.dest == "/run/secrets/hf-token")
            .unwrap();
        assert_eq!(secret.mount_type, pb::MountType::Secret as i32);
        let so = secret.secret_opt.as_ref().unwrap();
        assert_eq!(
            (so.id.as_str(), so.mode, so.optional),
            ("hf-token", 0o400, false)
        );
        let ssh = exec
            .mounts
            .iter()
            .find(|m| m.dest == "/run/buildkit/ssh_agent.0")
            .unwrap();
        assert_eq!(ssh.mount_type, pb::MountType::Ssh as i32);
        assert_eq!((ssh.input, ssh.output), (-1, -1));
        let o = ssh.ssh_opt.as_ref().unwrap();
        assert_eq!(
            (o.id.as_str(), o.mode, o.optional),
            ("default", 0o600, false)
        );
    }

    #[test]
    fn git_auth_secrets_and_the_agent_are_source_attrs() {
        let op = git_op(&GitSource {
            url: "git@github.com:org/private.git".into(),
            reference: Some("v1".into()),
            keep_git_dir: false,
            auth_token_secret: Some("gh-token".into()),
            auth_header_secret: Some("gh-header".into()),
            ssh_sock: Some("default".into()),
        });
        let Some(pb::op::Op::Source(s)) = op.op else {
            panic!()
        };
        assert_eq!(s.attrs["git.authtokensecret"], "gh-token");
        assert_eq!(s.attrs["git.authheadersecret"], "gh-header");
        assert_eq!(s.attrs["git.mountsshsock"], "default");
        let plain = git_op(&GitSource {
            url: "https://h/r.git".into(),
            reference: None,
            keep_git_dir: false,
            auth_token_secret: None,
            auth_header_secret: None,
            ssh_sock: None,
        });
        let Some(pb::op::Op::Source(s)) = plain.op else {
            panic!()
        };
        // Without names, BuildKit's conventional ones, as its Go client sets them.
        assert_eq!(s.attrs["git.authtokensecret"], "GIT_AUTH_TOKEN");
        assert_eq!(s.attrs["git.authheadersecret"], "GIT_AUTH_HEADER");
        assert!(!s.attrs.contains_key("git.mountsshsock"));
    }

    #[test]
    fn patterns_are_cleaned() {
        assert_eq!(clean_pattern("./core/"), "core");
        assert_eq!(clean_pattern("/main.py"), "main.py");
        assert_eq!(clean_pattern("!keep/"), "!keep");
        assert_eq!(clean_pattern("**/tests/"), "**/tests");
        assert_eq!(clean_pattern("./"), ".");
    }
}
