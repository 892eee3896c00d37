//! The typed, fully resolved view of one build target: what the later passes consume.
//!
//! A `Target` is one service of a spec with its overrides, the selected variant and the
//! build arguments already applied (`${NAME}` expanded, defaults filled in). Nothing here
//! is raw TOML any more; values that a later pass may still have to report on (paths that
//! must exist in the build context, the base image) keep the span they came from.

use std::collections::BTreeMap;

use crate::source::Span;

/// A value with the place in the spec it came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Located<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Located<T> {
    pub fn new(value: T, span: Span) -> Self {
        Located { value, span }
    }
}

/// One buildable target: a service (or the top level when there are no services),
/// possibly its development flavour, possibly under a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The service name; `None` for a spec without `[services]`.
    pub service: Option<String>,
    /// `--target NAME-dev` (or `dev`): adds `dev = true` tiers, keeps tests/docs.
    pub dev: bool,
    /// The variant chosen with `--build-arg VARIANT=...`, if any.
    pub variant: Option<String>,
    pub image: Image,
    pub system: System,
    pub python: Python,
    /// The tiers this target installs, in order (already filtered by the service's
    /// `layers` and by `dev`).
    pub tiers: Vec<Tier>,
    pub app: App,
    pub run: Run,
    pub builds: Vec<BuildStep>,
}

impl Target {
    /// The name used in progress output and cache ids: the service name, or "app".
    pub fn display_name(&self) -> &str {
        self.service.as_deref().unwrap_or("app")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Runtime base image reference, as written (after `${}` expansion).
    pub base: Located<String>,
    /// Base of the builder stage; `None` means the same as `base`.
    pub builder: Option<Located<String>>,
    /// Absolute path. Default "/app".
    pub workdir: String,
    pub user: User,
    /// Merged over the base image's env.
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// uid of the created user (`[image] uid`, default [`APP_UID`]); unused for root.
    pub uid: u32,
    /// gid of the created user (`[image] gid`, default the uid).
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// Run as root (`user = "root"`).
    Root,
    /// A user created in the image with `[image] uid`/`gid` (default 10001) and no
    /// login shell.
    Named(String),
}

/// Default uid and gid of the user strata creates.
pub const APP_UID: u32 = 10001;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct System {
    /// Installed in the runtime image only (never in the builder).
    pub packages: Vec<String>,
    /// Installed in the builder only.
    pub build_packages: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    Pip,
    Uv,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Python {
    pub installer: Installer,
    /// Default "python3".
    pub interpreter: String,
    /// Absolute path. Default "/opt/venv".
    pub venv: String,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// Default true.
    pub compile_bytecode: bool,
    /// Default true: `tests`/`test` directories inside installed packages, and the
    /// venv's `share/doc` and `share/man`, are removed in the step that installs them
    /// (never for development targets).
    pub prune_tests: bool,
    /// Id of a BuildKit secret (`--secret id=...`) holding a netrc file with the
    /// package indexes' credentials; mounted at /root/.netrc in the steps that
    /// download Python packages, and nowhere else.
    pub netrc_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub name: Located<String>,
    /// Paths relative to the build context, normalised (no `./`, no `..`).
    pub requirements: Vec<Located<String>>,
    /// Replaces the python-level index for this tier when set.
    pub index_url: Option<String>,
    /// Added to the python-level extra indexes for this tier.
    pub extra_index_urls: Vec<String>,
    pub no_deps: bool,
    pub dev: bool,
    /// Default true; false: the tier's sdists build against the venv as installed so
    /// far (`--no-build-isolation`).
    pub build_isolation: bool,
    /// The install step's environment only (never the image's).
    pub env: BTreeMap<String, String>,
    /// Context files pinning isolated build environments (pip `PIP_BUILD_CONSTRAINT`,
    /// uv `--build-constraint`), normalised like `requirements`.
    pub build_constraints: Vec<Located<String>>,
    /// `[[build]]` steps whose `wheels-dir` this tier installs, checked to exist.
    pub wheels: Vec<Located<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct App {
    /// Allowlist relative to the context, normalised; `None` means the whole context.
    pub include: Option<Vec<Located<String>>>,
    /// Patterns applied after include and .dockerignore.
    pub exclude: Vec<String>,
    /// `[app] compile-bytecode` (default true): the app's `.py` compiled in the app
    /// step, hash-based pycs.
    pub compile_bytecode: bool,
    /// `[app] default-excludes` (default true): `.git`, `__pycache__`, `*.pyc`, `.venv`
    /// and `.pytest_cache` are never copied.
    pub default_excludes: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    /// `None` keeps the base image's value; `Some(vec![])` clears it.
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub expose: Vec<Port>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        write!(f, "{}/{}", self.number, proto)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// Exec form, non-empty.
    pub cmd: Vec<String>,
    /// Durations in nanoseconds, as the image config stores them.
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildStep {
    pub name: Located<String>,
    pub source: BuildSource,
    /// Shell commands run in order in one shell, cwd /src. `${NAME}` of a build
    /// argument is left in them for the shell, which finds it in `env`.
    pub run: Vec<String>,
    /// The build arguments the commands refer to, with their values (sorted by
    /// name): part of the step's environment, as a Dockerfile's `ARG` for its `RUN`
    /// (`env` wins over them, as a Dockerfile's `ENV` over an `ARG`).
    pub args: Vec<(String, String)>,
    /// Extra cache mount targets (absolute paths).
    pub cache: Vec<String>,
    /// Builder path → final image path, both absolute.
    pub outputs: BTreeMap<String, String>,
    /// Run with the venv as it is after this tier (of the target) on PATH.
    pub venv: Option<Located<String>>,
    /// The step's environment only.
    pub env: BTreeMap<String, String>,
    /// BuildKit secret ids, each at /run/secrets/ID in this step only.
    pub secrets: Vec<Located<String>>,
    /// The `--ssh default` agent in this step (and for its git source).
    pub ssh: bool,
    /// Absolute path in the builder where the step leaves wheels for a tier's `wheels`.
    pub wheels_dir: Option<Located<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BuildSource {
    Git {
        url: String,
        reference: Option<String>,
        /// BuildKit git auth secrets (`git.authtokensecret`, `git.authheadersecret`);
        /// `None`: BuildKit's conventional `GIT_AUTH_TOKEN` and `GIT_AUTH_HEADER`.
        auth_token_secret: Option<String>,
        auth_header_secret: Option<String>,
    },
    Context(Vec<Located<String>>),
    /// No sources: /src starts empty.
    None,
}
