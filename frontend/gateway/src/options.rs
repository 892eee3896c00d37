//! Frontend options, as BuildKit's gateway passes them in the environment.
//!
//! * `BUILDKIT_FRONTEND_OPT_<i>=<key>=<value>`: one variable per option; `<i>`
//!   follows Go map order (arbitrary). The variable's value is split on its
//!   first `=`: the value part may itself contain `=`, commas, JSON, newlines.
//!   A variable with no `=` in its value gives the key with an empty value
//!   (as the Go client's `opts()` does).
//! * `BUILDKIT_SESSION_ID=<id>`
//! * `BUILDKIT_WORKERS=<json>`: `[{"id","labels","platforms":[{"architecture","os",…}],…}]`
//!
//! Option semantics follow the Dockerfile frontend of BuildKit v0.13
//! (`frontend/dockerui/config.go`, `attr.go`). All parsing is done by pure
//! functions over `(name, value)` pairs; malformed values are reported as
//! [`OptionsError`] naming the option and the value.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use strata_llb::pb;

/// Prefix of the environment variables that carry frontend options.
pub const FRONTEND_OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";
/// Environment variable with the session id (for `local.session`).
pub const SESSION_ID_ENV: &str = "BUILDKIT_SESSION_ID";
/// Environment variable with the JSON worker list.
pub const WORKERS_ENV: &str = "BUILDKIT_WORKERS";

/// Default value of the `filename` option.
pub const DEFAULT_FILENAME: &str = "strata.toml";
/// Default local name the spec is read from (`dockerfilekey`).
pub const DEFAULT_DOCKERFILE_KEY: &str = "dockerfile";
/// Default local name of the build context (`contextkey`).
pub const DEFAULT_CONTEXT_KEY: &str = "context";

/// A malformed option or environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A frontend option (or `BUILDKIT_WORKERS`) has a value that cannot be
    /// parsed.
    #[error("invalid value {value:?} for option `{option}`: {reason}")]
    InvalidValue {
        /// Option key, e.g. `platform` or `build-arg:FOO`.
        option: String,
        /// The offending value (or the offending part of a list).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `BUILDKIT_*` variable is not valid UTF-8.
    #[error("environment variable {name} is not valid UTF-8")]
    NotUnicode {
        /// Variable name (lossily converted).
        name: String,
    },
}

/// The most characters of an option's value an error message repeats.
const VALUE_SHOWN_MAX: usize = 60;

impl OptionsError {
    /// The value is kept for the message only as far as it is safe to print: not at
    /// all for options that carry credentials (a gha or s3 cache import's token, a
    /// build argument), else at most [`VALUE_SHOWN_MAX`] characters.
    fn invalid(option: &str, value: &str, reason: impl Into<String>) -> Self {
        OptionsError::InvalidValue {
            option: option.to_string(),
            value: shown_value(option, value),
            reason: reason.into(),
        }
    }
}

fn shown_value(option: &str, value: &str) -> String {
    let secret =
        matches!(option, "cache-imports" | "cache-from") || option.starts_with("build-arg:");
    if secret {
        return format!("<{} bytes, not shown>", value.len());
    }
    if value.chars().count() <= VALUE_SHOWN_MAX {
        return value.to_string();
    }
    let cut: String = value.chars().take(VALUE_SHOWN_MAX).collect();
    format!("{cut}… ({} bytes)", value.len())
}

/// `force-network-mode`: the network mode of every exec step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// `none`
    None,
    /// `host` (needs the `network.host` entitlement)
    Host,
    /// `sandbox` (the default)
    Sandbox,
}

impl NetworkMode {
    /// The LLB value for `ExecOp.network`.
    pub fn to_pb(self) -> pb::NetMode {
        match self {
            NetworkMode::None => pb::NetMode::None,
            NetworkMode::Host => pb::NetMode::Host,
            NetworkMode::Sandbox => pb::NetMode::Unset,
        }
    }
}

/// `no-cache` (when present): which steps ignore the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCache {
    /// Present with an empty value: ignore the cache everywhere.
    All,
    /// Comma list of names (stages/targets) that ignore the cache.
    Names(Vec<String>),
}

/// `image-resolve-mode` (also `ResolveImageConfigRequest.ResolveMode` and the
/// `image.resolvemode` source attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageResolveMode {
    /// `default`
    #[default]
    Default,
    /// `pull` (`--pull`)
    Pull,
    /// `local` (buildx's default with the docker driver)
    Local,
}

impl ImageResolveMode {
    /// The wire string: `default`, `pull` or `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageResolveMode::Default => "default",
            ImageResolveMode::Pull => "pull",
            ImageResolveMode::Local => "local",
        }
    }
}

/// One cache import (`SolveRequest.CacheImports` entry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CacheImport {
    /// e.g. `registry`, `local`, `gha`
    #[serde(rename = "Type", alias = "type")]
    pub kind: String,
    /// e.g. `{"ref": "registry.example/app:cache"}`
    #[serde(
        rename = "Attrs",
        alias = "attrs",
        default,
        deserialize_with = "null_as_default"
    )]
    pub attrs: BTreeMap<String, String>,
}

/// One worker from `BUILDKIT_WORKERS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerInfo {
    /// Worker id.
    pub id: String,
    /// Worker labels.
    pub labels: BTreeMap<String, String>,
    /// Platforms the worker can run; the first is its native platform.
    pub platforms: Vec<pb::Platform>,
}

/// Parsed frontend options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// `filename`: path of the spec inside the `dockerfilekey` local
    /// (default `strata.toml`).
    pub filename: String,
    /// `dockerfilekey`: local name the spec is read from (default `dockerfile`).
    pub dockerfile_key: String,
    /// `contextkey`: name of the build context (default `context`).
    pub context_key: String,
    /// `target`
    pub target: Option<String>,
    /// `build-arg:NAME=value`
    pub build_args: BTreeMap<String, String>,
    /// `label:NAME=value`
    pub labels: BTreeMap<String, String>,
    /// `platform`: comma list, normalized as containerd does. Empty = the
    /// worker's default platform.
    pub platforms: Vec<pb::Platform>,
    /// `multi-platform` (or `build-arg:BUILDKIT_MULTI_PLATFORM`); true as well
    /// when more than one platform is requested.
    pub multi_platform: bool,
    /// `force-network-mode`
    pub force_network_mode: Option<NetworkMode>,
    /// `no-cache`; `None` when the option is absent (use the cache).
    pub no_cache: Option<NoCache>,
    /// `cache-imports` (JSON) followed by the legacy `cache-from` (comma list
    /// of registry refs).
    pub cache_imports: Vec<CacheImport>,
    /// `image-resolve-mode`
    pub image_resolve_mode: ImageResolveMode,
    /// `add-hosts`: `host=ip` pairs (host lowercased, IP validated), in order.
    pub add_hosts: Vec<(String, IpAddr)>,
    /// `shm-size`: bytes.
    pub shm_size: Option<u64>,
    /// `BUILDKIT_SESSION_ID`
    pub session_id: Option<String>,
    /// `requestid` (subrequests such as `frontend.outline`).
    pub request_id: Option<String>,
    /// `BUILDKIT_WORKERS`
    pub workers: Vec<WorkerInfo>,
    /// Every frontend option, unparsed (including the ones above, `source`,
    /// `cmdline`, `context:*`, `attest:*`, `frontend.caps`, ...).
    pub raw: BTreeMap<String, String>,
}

impl Options {
    /// Reads the options from this process's environment.
    pub fn from_env() -> Result<Options, OptionsError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name_str) = name.to_str() else {
                continue;
            };
            if !is_relevant_env(name_str) {
                continue;
            }
            let Some(value) = value.to_str() else {
                return Err(OptionsError::NotUnicode {
                    name: name_str.to_string(),
                });
            };
            vars.push((name_str.to_string(), value.to_string()));
        }
        Options::from_env_vars(vars)
    }

    /// Parses the options from environment pairs. Variables other than
    /// `BUILDKIT_FRONTEND_OPT_*`, `BUILDKIT_SESSION_ID` and `BUILDKIT_WORKERS`
    /// are ignored.
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<Options, OptionsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut opts = BTreeMap::new();
        let mut session_id = None;
        let mut workers = Vec::new();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name.starts_with(FRONTEND_OPT_PREFIX) {
                let (key, val) = split_opt(value);
                opts.insert(key.to_string(), val.to_string());
            } else if name == SESSION_ID_ENV {
                if !value.is_empty() {
                    session_id = Some(value.to_string());
                }
            } else if name == WORKERS_ENV {
                workers = parse_workers(value)?;
            }
        }
        let mut options = Options::from_opts(opts)?;
        options.session_id = session_id;
        options.workers = workers;
        Ok(options)
    }

    /// Parses an option map (key → value), e.g. one collected from the
    /// environment or forwarded by another frontend. `session_id` and
    /// `workers` are left empty.
    pub fn from_opts(raw: BTreeMap<String, String>) -> Result<Options, OptionsError> {
        let get = |k: &str| raw.get(k).map(String::as_str);
        let non_empty = |k: &str| get(k).filter(|v| !v.is_empty()).map(str::to_string);

        let platforms = match get("platform") {
            Some(v) if !v.is_empty() => parse_platforms("platform", v)?,
            _ => Vec::new(),
        };

        let mut multi_platform = platforms.len() > 1;
        let mp_key = if get("build-arg:BUILDKIT_MULTI_PLATFORM").is_some_and(|v| !v.is_empty()) {
            Some("build-arg:BUILDKIT_MULTI_PLATFORM")
        } else if get("multi-platform").is_some_and(|v| !v.is_empty()) {
            Some("multi-platform")
        } else {
            None
        };
        if let Some(key) = mp_key {
            let v = &raw[key];
            let b = parse_go_bool(v).ok_or_else(|| {
                OptionsError::invalid(key, v, "expected a boolean (true/false/1/0)")
            })?;
            if !b && multi_platform {
                return Err(OptionsError::invalid(
                    key,
                    v,
                    "more than one target platform is requested, which needs multi-platform",
                ));
            }
            multi_platform = b;
        }

        let force_network_mode = match get("force-network-mode") {
            None | Some("") => None,
            Some("none") => Some(NetworkMode::None),
            Some("host") => Some(NetworkMode::Host),
            Some("sandbox") => Some(NetworkMode::Sandbox),
            Some(v) => {
                return Err(OptionsError::invalid(
                    "force-network-mode",
                    v,
                    "expected none, host or sandbox",
                ))
            }
        };

        let no_cache = match get("no-cache") {
            None => None,
            Some("") => Some(NoCache::All),
            Some(v) => Some(NoCache::Names(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )),
        };

        let mut cache_imports = match get("cache-imports") {
            Some(v) if !v.trim().is_empty() => parse_cache_imports(v)?,
            _ => Vec::new(),
        };
        if let Some(v) = get("cache-from") {
            for r in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                cache_imports.push(CacheImport {
                    kind: "registry".to_string(),
                    attrs: BTreeMap::from([("ref".to_string(), r.to_string())]),
                });
            }
        }

        let image_resolve_mode = match get("image-resolve-mode") {
            None | Some("") | Some("default") => ImageResolveMode::Default,
            Some("pull") => ImageResolveMode::Pull,
            Some("local") => ImageResolveMode::Local,
            Some(v) => {
                return Err(OptionsError::invalid(
                    "image-resolve-mode",
                    v,
                    "expected default, pull or local",
                ))
            }
        };

        let add_hosts = match get("add-hosts") {
            Some(v) if !v.is_empty() => parse_add_hosts("add-hosts", v)?,
            _ => Vec::new(),
        };

        let shm_size = match get("shm-size") {
            Some(v) if !v.is_empty() => Some(v.trim().parse::<u64>().map_err(|_| {
                OptionsError::invalid(
                    "shm-size",
                    v,
                    "expected a size in bytes (non-negative integer)",
                )
            })?),
            _ => None,
        };

        Ok(Options {
            filename: non_empty("filename").unwrap_or_else(|| DEFAULT_FILENAME.to_string()),
            dockerfile_key: non_empty("dockerfilekey")
                .unwrap_or_else(|| DEFAULT_DOCKERFILE_KEY.to_string()),
            context_key: non_empty("contextkey").unwrap_or_else(|| DEFAULT_CONTEXT_KEY.to_string()),
            target: non_empty("target"),
            build_args: with_prefix(&raw, "build-arg:")?,
            labels: with_prefix(&raw, "label:")?,
            platforms,
            multi_platform,
            force_network_mode,
            no_cache,
            cache_imports,
            image_resolve_mode,
            add_hosts,
            shm_size,
            session_id: None,
            request_id: non_empty("requestid"),
            workers: Vec::new(),
            raw,
        })
    }
}

fn is_relevant_env(name: &str) -> bool {
    name.starts_with(FRONTEND_OPT_PREFIX) || name == SESSION_ID_ENV || name == WORKERS_ENV
}

/// Splits `key=value` on the first `=`; no `=` gives an empty value.
fn split_opt(v: &str) -> (&str, &str) {
    v.split_once('=').unwrap_or((v, ""))
}

/// The options `PREFIXname=value` as name → value; a name may not be empty
/// (`--build-arg =x`, `--label =x`).
fn with_prefix(
    raw: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<BTreeMap<String, String>, OptionsError> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let Some(name) = k.strip_prefix(prefix) else {
            continue;
        };
        if name.trim().is_empty() {
            return Err(OptionsError::invalid(
                k,
                v,
                format!("`{prefix}` needs a name: `{prefix}NAME=VALUE`"),
            ));
        }
        out.insert(name.to_string(), v.clone());
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn parse_cache_imports(v: &str) -> Result<Vec<CacheImport>, OptionsError> {
    let parsed: Option<Vec<CacheImport>> = serde_json::from_str(v).map_err(|e| {
        OptionsError::invalid(
            "cache-imports",
            v,
            format!("expected a JSON list like [{{\"Type\":\"registry\",\"Attrs\":{{\"ref\":\"…\"}}}}]: {e}"),
        )
    })?;
    Ok(parsed.unwrap_or_default())
}

#[derive(Deserialize)]
struct WorkerJson {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    platforms: Vec<PlatformJson>,
}

/// OCI platform JSON (`ocispecs.Platform`).
#[derive(Deserialize)]
struct PlatformJson {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: String,
    #[serde(default, rename = "os.version")]
    os_version: String,
    #[serde(default, rename = "os.features", deserialize_with = "null_as_default")]
    os_features: Vec<String>,
}

fn parse_workers(v: &str) -> Result<Vec<WorkerInfo>, OptionsError> {
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parsed: Option<Vec<WorkerJson>> = serde_json::from_str(v).map_err(|e| {
        OptionsError::invalid(
            WORKERS_ENV,
            v,
            format!("expected a JSON list of workers: {e}"),
        )
    })?;
    Ok(parsed
        .unwrap_or_default()
        .into_iter()
        .map(|w| WorkerInfo {
            id: w.id,
            labels: w.labels,
            platforms: w
                .platforms
                .into_iter()
                .map(|p| pb::Platform {
                    architecture: p.architecture,
                    os: p.os,
                    variant: p.variant,
                    os_version: p.os_version,
                    os_features: p.os_features,
                })
                .collect(),
        })
        .collect())
}

/// Parses a comma list of platform specifiers (`os/arch[/variant]`, or a
/// lone os or arch), each normalized like containerd's
/// `platforms.Normalize(platforms.Parse(s))`.
pub fn parse_platforms(option: &str, v: &str) -> Result<Vec<pb::Platform>, OptionsError> {
    v.split(',')
        .map(|s| parse_platform(s).map_err(|reason| OptionsError::invalid(option, s, reason)))
        .collect()
}

/// Parses one platform specifier; see [`parse_platforms`].
pub fn parse_platform(spec: &str) -> Result<pb::Platform, String> {
    let spec = spec.trim();
    let parts: Vec<&str> = spec.split('/').collect();
    for part in &parts {
        if part.is_empty()
            || !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "{part:?} is not a valid platform component (expected os/arch[/variant] with letters, digits, '_' or '-')"
            ));
        }
    }
    let (os, arch, variant) = match parts.as_slice() {
        [one] => {
            let os = normalize_os(one);
            if is_known_os(&os) {
                (os, host_arch().to_string(), String::new())
            } else {
                let (arch, variant) = normalize_arch(one, "");
                if !is_known_arch(&arch) {
                    return Err("unknown operating system or architecture".to_string());
                }
                ("linux".to_string(), arch, variant)
            }
        }
        [os, arch] => {
            let (arch, variant) = normalize_arch(arch, "");
            (normalize_os(os), arch, variant)
        }
        [os, arch, variant] => {
            let (arch, variant) = normalize_arch(arch, variant);
            (normalize_os(os), arch, variant)
        }
        _ => return Err("expected os/arch[/variant]".to_string()),
    };
    Ok(pb::Platform {
        architecture: arch,
        os,
        variant,
        ..Default::default()
    })
}

/// The OCI platform string `os/arch[/variant]` (containerd `platforms.Format`).
pub fn format_platform(p: &pb::Platform) -> String {
    if p.variant.is_empty() {
        format!("{}/{}", p.os, p.architecture)
    } else {
        format!("{}/{}/{}", p.os, p.architecture, p.variant)
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

/// containerd `normalizeArch`.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => (
            "amd64".into(),
            if variant == "v1" {
                String::new()
            } else {
                variant
            },
        ),
        "aarch64" | "arm64" => (
            "arm64".into(),
            if variant == "8" || variant == "v8" {
                String::new()
            } else {
                variant
            },
        ),
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), variant)
        }
        _ => (arch, variant),
    }
}

fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

/// This process's architecture in Go/OCI naming.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Parses `add-hosts`: one CSV record of `host=ip` fields (double quotes
/// allowed, as Go's `encoding/csv`). Hosts are lowercased like the
/// Dockerfile frontend does.
fn parse_add_hosts(option: &str, v: &str) -> Result<Vec<(String, IpAddr)>, OptionsError> {
    let fields = split_csv_record(v).map_err(|reason| OptionsError::invalid(option, v, reason))?;
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let lower = field.to_lowercase();
        let Some((host, ip)) = lower.split_once('=') else {
            return Err(OptionsError::invalid(option, &field, "expected host=ip"));
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| OptionsError::invalid(option, &field, "not an IP address after `=`"))?;
        // The name goes into /etc/hosts: a space, a tab or a newline there would add
        // names or lines of its own.
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && !host.starts_with(['-', '.'])
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !host_ok {
            return Err(OptionsError::invalid(
                option,
                &field,
                "the host name must be letters, digits, `.`, `-` and `_`, not starting with `-` or `.`",
            ));
        }
        out.push((host.to_string(), ip));
    }
    Ok(out)
}

/// Splits one CSV record (RFC 4180 quoting, no newlines outside quotes).
fn split_csv_record(v: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = v.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".to_string()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("bare \" in a non-quoted field".to_string()),
                    Some('\n') | Some('\r') => return Err("line break outside quotes".to_string()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Options, OptionsError> {
        Options::from_env_vars(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    fn opt(i: usize, kv: &str) -> (String, String) {
        (format!("BUILDKIT_FRONTEND_OPT_{i}"), kv.to_string())
    }

    fn plat(os: &str, arch: &str, variant: &str) -> pb::Platform {
        pb::Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let o = env(&[("PATH", "/bin"), ("HOME", "/")]).unwrap();
        assert_eq!(o.filename, "strata.toml");
        assert_eq!(o.dockerfile_key, "dockerfile");
        assert_eq!(o.context_key, "context");
        assert_eq!(o.target, None);
        assert!(o.platforms.is_empty());
        assert!(!o.multi_platform);
        assert_eq!(o.no_cache, None);
        assert_eq!(o.image_resolve_mode, ImageResolveMode::Default);
        assert_eq!(o.force_network_mode, None);
        assert_eq!(o.shm_size, None);
        assert_eq!(o.session_id, None);
        assert!(o.raw.is_empty());
    }

    #[test]
    fn values_keep_equals_commas_json_and_newlines() {
        let vars = vec![
            opt(3, "build-arg:A=x=y,z"),
            opt(0, "label:org.opencontainers.image.title=My app"),
            opt(1, "build-arg:JSON={\"a\":[1,2]}"),
            opt(2, "build-arg:MULTI=line1\nline2=\n"),
            opt(4, "build-arg:EMPTY="),
            opt(5, "source=registry.example/strata:1"),
            opt(6, "filename=build/spec.toml"),
            opt(7, "target=app"),
            opt(8, "requestid=frontend.outline"),
            opt(9, "noequals"),
            ("BUILDKIT_SESSION_ID".to_string(), "abc123".to_string()),
            ("UNRELATED".to_string(), "build-arg:X=1".to_string()),
        ];
        let o = Options::from_env_vars(vars).unwrap();
        assert_eq!(o.build_args["A"], "x=y,z");
        assert_eq!(o.build_args["JSON"], "{\"a\":[1,2]}");
        assert_eq!(o.build_args["MULTI"], "line1\nline2=\n");
        assert_eq!(o.build_args["EMPTY"], "");
        assert!(!o.build_args.contains_key("X"));
        assert_eq!(o.labels["org.opencontainers.image.title"], "My app");
        assert_eq!(o.raw["source"], "registry.example/strata:1");
        assert_eq!(o.raw["noequals"], "");
        assert_eq!(o.filename, "build/spec.toml");
        assert_eq!(o.target.as_deref(), Some("app"));
        assert_eq!(o.request_id.as_deref(), Some("frontend.outline"));
        assert_eq!(o.session_id.as_deref(), Some("abc123"));
    }

    #[test]
    fn keys_and_empty_values() {
        let o = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "dockerfilekey=dockerfile2"),
            ("BUILDKIT_FRONTEND_OPT_1", "contextkey=ctx"),
            ("BUILDKIT_FRONTEND_OPT_2", "filename="),
            ("BUILDKIT_FRONTEND_OPT_3", "target="),
        ])
        .unwrap();
        assert_eq!(o.dockerfile_key, "dockerfile2");
        assert_eq!(o.context_key, "ctx");
        assert_eq!(o.filename, "strata.toml");
        assert_eq!(o.target, None);
    }

    #[test]
    fn platforms_are_normalized() {
        let o = env(&[(
            "BUILDKIT_FRONTEND_OPT_0",
            "platform=linux/amd64,linux/arm64/v8,linux/arm64,LINUX/aarch64,linux/arm,linux/armhf,linux/arm/6,linux/x86_64/v1,linux/amd64/v3,linux/i386,linux/riscv64",
        )])
        .unwrap();
        assert_eq!(
            o.platforms,
            vec![
                plat("linux", "amd64", ""),
                plat("linux", "arm64", ""),
                plat("linux", "arm64", ""),
                plat("linux", "arm64", ""),
                plat("linux", "arm", "v7"),
                plat("linux", "arm", "v7"),
                plat("linux", "arm", "v6"),
                plat("linux", "amd64", ""),
                plat("linux", "amd64", "v3"),
                plat("linux", "386", ""),
                plat("linux", "riscv64", ""),
            ]
        );
        assert!(
            o.multi_platform,
            "more than one platform implies multi-platform"
        );
        let ids: Vec<String> = o.platforms.iter().map(format_platform).collect();
        assert_eq!(ids[0], "linux/amd64");
        assert_eq!(ids[4], "linux/arm/v7");
    }

    #[test]
    fn lone_os_or_arch() {
        assert_eq!(parse_platform("arm64").unwrap(), plat("linux", "arm64", ""));
        let p = parse_platform("linux").unwrap();
        assert_eq!(p.os, "linux");
        assert!(!p.architecture.is_empty());
        assert!(parse_platform("foo").is_err());
    }

    #[test]
    fn bad_platforms_name_the_option() {
        for bad in [
            "linux/amd64,",
            "linux//amd64",
            "linux/amd64/v1/x",
            "linux/*",
            "linux/amd 64",
            "bogus",
        ] {
            let err = env(&[("BUILDKIT_FRONTEND_OPT_0", &format!("platform={bad}"))]).unwrap_err();
            match err {
                OptionsError::InvalidValue { option, .. } => {
                    assert_eq!(option, "platform", "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn single_platform_with_multi_platform_flag() {
        let o = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "platform=linux/arm64"),
            ("BUILDKIT_FRONTEND_OPT_1", "multi-platform=true"),
        ])
        .unwrap();
        assert_eq!(o.platforms, vec![plat("linux", "arm64", "")]);
        assert!(o.multi_platform);

        let o = env(&[(
            "BUILDKIT_FRONTEND_OPT_0",
            "build-arg:BUILDKIT_MULTI_PLATFORM=1",
        )])
        .unwrap();
        assert!(o.multi_platform);
        // The build-arg wins over the option, as in dockerui.
        let o = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "multi-platform=true"),
            (
                "BUILDKIT_FRONTEND_OPT_1",
                "build-arg:BUILDKIT_MULTI_PLATFORM=false",
            ),
        ])
        .unwrap();
        assert!(!o.multi_platform);
    }

    #[test]
    fn multi_platform_errors() {
        let err = env(&[("BUILDKIT_FRONTEND_OPT_0", "multi-platform=yes")]).unwrap_err();
        assert_eq!(
            err,
            OptionsError::InvalidValue {
                option: "multi-platform".into(),
                value: "yes".into(),
                reason: "expected a boolean (true/false/1/0)".into()
            }
        );
        let err = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "multi-platform=false"),
            (
                "BUILDKIT_FRONTEND_OPT_1",
                "platform=linux/amd64,linux/arm64",
            ),
        ])
        .unwrap_err();
        assert!(
            matches!(err, OptionsError::InvalidValue { ref option, .. } if option == "multi-platform")
        );
    }

    #[test]
    fn network_mode() {
        for (v, want) in [
            ("none", Some(NetworkMode::None)),
            ("host", Some(NetworkMode::Host)),
            ("sandbox", Some(NetworkMode::Sandbox)),
            ("", None),
        ] {
            let o = env(&[(
                "BUILDKIT_FRONTEND_OPT_0",
                &format!("force-network-mode={v}"),
            )])
            .unwrap();
            assert_eq!(o.force_network_mode, want);
        }
        assert_eq!(NetworkMode::Sandbox.to_pb(), pb::NetMode::Unset);
        assert_eq!(NetworkMode::None.to_pb(), pb::NetMode::None);
        let err = env(&[("BUILDKIT_FRONTEND_OPT_0", "force-network-mode=bridge")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("force-network-mode") && msg.contains("bridge"),
            "{msg}"
        );
    }

    #[test]
    fn no_cache() {
        let o = env(&[("BUILDKIT_FRONTEND_OPT_0", "no-cache=")]).unwrap();
        assert_eq!(o.no_cache, Some(NoCache::All));
        let o = env(&[("BUILDKIT_FRONTEND_OPT_0", "no-cache=build,test")]).unwrap();
        assert_eq!(
            o.no_cache,
            Some(NoCache::Names(vec!["build".into(), "test".into()]))
        );
        // Present without "=" at all: same as empty value.
        let o = env(&[("BUILDKIT_FRONTEND_OPT_0", "no-cache")]).unwrap();
        assert_eq!(o.no_cache, Some(NoCache::All));
    }

    #[test]
    fn cache_imports_json_and_legacy_cache_from() {
        let o = env(&[
            (
                "BUILDKIT_FRONTEND_OPT_0",
                r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"reg.example/app:cache","mode":"max"}},{"type":"local","attrs":{"src":"/tmp/c"}},{"Type":"gha","Attrs":null}]"#,
            ),
            ("BUILDKIT_FRONTEND_OPT_1", "cache-from=reg.example/a:1,reg.example/b:2"),
        ])
        .unwrap();
        let kinds: Vec<&str> = o.cache_imports.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["registry", "local", "gha", "registry", "registry"]);
        assert_eq!(o.cache_imports[0].attrs["mode"], "max");
        assert_eq!(o.cache_imports[1].attrs["src"], "/tmp/c");
        assert!(o.cache_imports[2].attrs.is_empty());
        assert_eq!(o.cache_imports[4].attrs["ref"], "reg.example/b:2");

        let o = env(&[("BUILDKIT_FRONTEND_OPT_0", "cache-imports=null")]).unwrap();
        assert!(o.cache_imports.is_empty());

        for bad in [
            "{",
            r#"{"Type":"registry"}"#,
            r#"[{"Attrs":{}}]"#,
            r#"[{"Type":"r","Attrs":{"n":1}}]"#,
        ] {
            let err =
                env(&[("BUILDKIT_FRONTEND_OPT_0", &format!("cache-imports={bad}"))]).unwrap_err();
            match err {
                OptionsError::InvalidValue { option, value, .. } => {
                    assert_eq!(option, "cache-imports");
                    // A cache import can hold a token: never repeated.
                    assert_eq!(value, format!("<{} bytes, not shown>", bad.len()));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn image_resolve_mode() {
        for (v, want) in [
            ("default", ImageResolveMode::Default),
            ("pull", ImageResolveMode::Pull),
            ("local", ImageResolveMode::Local),
            ("", ImageResolveMode::Default),
        ] {
            let o = env(&[(
                "BUILDKIT_FRONTEND_OPT_0",
                &format!("image-resolve-mode={v}"),
            )])
            .unwrap();
            assert_eq!(o.image_resolve_mode, want);
        }
        assert_eq!(ImageResolveMode::Local.as_str(), "local");
        let err = env(&[("BUILDKIT_FRONTEND_OPT_0", "image-resolve-mode=always")]).unwrap_err();
        assert!(err.to_string().contains("image-resolve-mode"));
    }

    #[test]
    fn add_hosts() {
        let o = env(&[(
            "BUILDKIT_FRONTEND_OPT_0",
            r#"add-hosts=Registry.Local=10.0.0.1,"db=::1",x.y=2001:db8::2"#,
        )])
        .unwrap();
        assert_eq!(
            o.add_hosts,
            vec![
                ("registry.local".to_string(), "10.0.0.1".parse().unwrap()),
                ("db".to_string(), "::1".parse().unwrap()),
                ("x.y".to_string(), "2001:db8::2".parse().unwrap()),
            ]
        );
        for bad in ["host", "host=not-an-ip", "\"host=1.2.3.4", "a=1.2.3.4,b"] {
            let err = env(&[("BUILDKIT_FRONTEND_OPT_0", &format!("add-hosts={bad}"))]).unwrap_err();
            assert!(
                matches!(err, OptionsError::InvalidValue { ref option, .. } if option == "add-hosts"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn shm_size() {
        let o = env(&[("BUILDKIT_FRONTEND_OPT_0", "shm-size=67108864")]).unwrap();
        assert_eq!(o.shm_size, Some(64 << 20));
        for bad in ["64m", "-1", "1.5"] {
            let err = env(&[("BUILDKIT_FRONTEND_OPT_0", &format!("shm-size={bad}"))]).unwrap_err();
            assert_eq!(
                err,
                OptionsError::InvalidValue {
                    option: "shm-size".into(),
                    value: bad.into(),
                    reason: "expected a size in bytes (non-negative integer)".into()
                }
            );
        }
    }

    #[test]
    fn workers() {
        let json = r#"[{"id":"w1","labels":{"org.mobyproject.buildkit.worker.executor":"oci"},
            "platforms":[{"architecture":"amd64","os":"linux"},{"architecture":"arm64","os":"linux","variant":"v8"}],
            "gcPolicy":[{"all":true,"keepBytes":1}],"buildkitVersion":{"version":"v0.13.2"}},
            {"id":"w2","labels":null,"platforms":null}]"#;
        let o = env(&[("BUILDKIT_WORKERS", json)]).unwrap();
        assert_eq!(o.workers.len(), 2);
        assert_eq!(o.workers[0].id, "w1");
        assert_eq!(o.workers[0].platforms[0], plat("linux", "amd64", ""));
        assert_eq!(o.workers[0].platforms[1].variant, "v8");
        assert!(o.workers[1].platforms.is_empty());
        assert!(env(&[("BUILDKIT_WORKERS", "")]).unwrap().workers.is_empty());
        let err = env(&[("BUILDKIT_WORKERS", "{not json")]).unwrap_err();
        assert!(
            matches!(err, OptionsError::InvalidValue { ref option, .. } if option == "BUILDKIT_WORKERS")
        );
    }

    #[test]
    fn csv_records() {
        assert_eq!(split_csv_record("a,b").unwrap(), ["a", "b"]);
        assert_eq!(
            split_csv_record(r#""a,b","c""d""#).unwrap(),
            ["a,b", "c\"d"]
        );
        assert_eq!(split_csv_record("").unwrap(), [""]);
        assert!(split_csv_record(r#""a"b"#).is_err());
    }
}
