//! The plan: a small graph of filesystem states, each made from earlier ones.
//!
//! It says *what* is built from what (images, narrowed views of the build context,
//! commands with their mounts, copies, layer diffs and merges) and nothing about
//! protobuf. The LLB pass turns each node into ops, one to one.

use std::collections::BTreeMap;

/// Index of a node in [`Plan::nodes`]. A node only refers to nodes before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Index of an image in [`Plan::images`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageId(pub usize);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Progress prefix and cache-id scope: the service name, or "app".
    pub target: String,
    /// Base images, deduplicated. `images[runtime_image]` is the final image's base.
    pub images: Vec<ImageSource>,
    pub runtime_image: ImageId,
    pub nodes: Vec<Node>,
    /// The final filesystem.
    pub output: NodeId,
    /// The final image's configuration, before the base image's config is merged in.
    pub config: RuntimeConfig,
    /// Paths in the build context that must exist (requirements files, include paths),
    /// with where the spec names them, for an early, precise error.
    pub required_paths: Vec<RequiredPath>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// As written in the spec (after `${}` expansion).
    pub reference: String,
    /// What the image is used for, for progress names: "base" or "builder".
    pub role: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredPath {
    pub path: String,
    /// Which spec key names it, e.g. `python.layers "base" requirements`.
    pub what: String,
    pub span: strata_spec::source::Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Shown in the build progress, e.g. `[core] pip install tier base`.
    pub name: String,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// An image's root filesystem.
    Image(ImageId),
    /// Files of the build context, narrowed to `include` (empty: everything) minus
    /// `exclude` (`.dockerignore` is added by the LLB pass, which reads it).
    Context(ContextView),
    /// A git repository at a ref (commit, tag or branch), without its `.git`.
    Git(GitSource),
    /// A command run on `root`'s filesystem; the result is the changed root.
    Exec(Exec),
    /// A file operation on `base` (or on an empty filesystem).
    File {
        base: Option<NodeId>,
        actions: Vec<FileAction>,
    },
    /// Only what `upper` changed relative to `lower`.
    Diff { lower: NodeId, upper: NodeId },
    /// Layers stacked in order; the first is the bottom.
    Merge(Vec<NodeId>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContextView {
    /// Paths relative to the context root: only these (and what is below them) are sent.
    pub include: Vec<String>,
    /// Patterns in .dockerignore syntax.
    pub exclude: Vec<String>,
    /// Distinguishes transfers in BuildKit's shared-key cache (e.g. "requirements").
    pub purpose: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// As written: `https://host/path.git`, `http://...`, `git@host:path`.
    pub url: String,
    pub reference: Option<String>,
    pub keep_git_dir: bool,
    /// BuildKit secret ids for the remote's credentials (`git.authtokensecret`,
    /// `git.authheadersecret`); `None`: `GIT_AUTH_TOKEN`, `GIT_AUTH_HEADER`.
    pub auth_token_secret: Option<String>,
    pub auth_header_secret: Option<String>,
    /// The SSH agent id for ssh remotes (`git.mountsshsock`).
    pub ssh_sock: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub root: NodeId,
    /// The image whose environment the command runs with (its Env, then `env` below).
    pub env_of: ImageId,
    pub args: Vec<String>,
    /// Added to (or replacing) the image's environment, in order.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    pub mounts: Vec<Mount>,
    /// Needs the network (package downloads). Builds may force host networking.
    pub network: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A persistent cache directory shared between builds.
    Cache {
        target: String,
        id: String,
        sharing: CacheSharing,
    },
    /// Read-only view of another node (e.g. requirements files from the context).
    Bind {
        target: String,
        from: NodeId,
        source: String,
    },
    /// An empty scratch directory that never reaches a layer.
    Tmpfs { target: String },
    /// A BuildKit secret as a read-only file (mode 0400, root's); only its id is in
    /// the graph, its content never reaches a layer or a cache key.
    Secret { target: String, id: String },
    /// The client's SSH agent (`--ssh ID`) as a socket; `SSH_AUTH_SOCK` points at it.
    Ssh { target: String, id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSharing {
    Shared,
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Mkdir {
        path: String,
        mode: u32,
        owner: Option<(u32, u32)>,
    },
    Copy {
        from: NodeId,
        src: String,
        dest: String,
        /// Numeric owner for the copied files; `None` keeps the source's.
        owner: Option<(u32, u32)>,
        include: Vec<String>,
        exclude: Vec<String>,
    },
}

/// What the final image runs with: the spec's `[image]` and `[run]`, made explicit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeConfig {
    /// Set over the base image's Env in this order (PATH entries are prepended to the
    /// base image's PATH by the config writer).
    pub env: BTreeMap<String, String>,
    /// Directories put in front of the base image's PATH.
    pub path_prepend: Vec<String>,
    pub workdir: String,
    /// `uid:gid`, or `None` for root.
    pub user: Option<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub expose: Vec<String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<strata_spec::model::Healthcheck>,
    pub labels: BTreeMap<String, String>,
}

impl Plan {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }
}
