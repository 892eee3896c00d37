//! The venv, the installer that fills it, and the install command of each tier.
//!
//! The installer (pip, or uv) lives in its own tool venv under [`TOOLS_DIR`] in the
//! builder, outside the app's venv: it drives the app venv's interpreter from outside
//! (pip's own runner script run by the app venv's interpreter, which is what
//! `pip --python` does without a second interpreter start; `uv pip install --python`),
//! so production venvs carry no installer.

use strata_spec::model::{Installer, Python, Tier};

use crate::sh::quote;

/// pip's and uv's caches, on cache mounts whose ids are the same for every service and
/// variant (wheels are tagged by platform and ABI, so sharing them is safe).
pub const PIP_CACHE_DIR: &str = "/root/.cache/pip";
pub const PIP_CACHE_ID: &str = "strata-pip";
pub const UV_CACHE_DIR: &str = "/root/.cache/uv";
pub const UV_CACHE_ID: &str = "strata-uv";
/// uv as installed from PyPI into the builder's tool venv.
pub const UV_VERSION: &str = "0.13.9";
/// Where the installers live in the builder. Never part of the final image.
pub const TOOLS_DIR: &str = "/opt/strata-tools";
/// Where the index credentials (a netrc file) are mounted for pip and uv.
pub const NETRC: &str = "/root/.netrc";

/// The credentials mount, for the steps that download packages.
pub fn secret_mounts(python: &Python) -> Vec<crate::ir::Mount> {
    python
        .netrc_secret
        .iter()
        .map(|id| crate::ir::Mount::Secret {
            target: NETRC.into(),
            id: id.clone(),
        })
        .collect()
}

/// With `build-isolation = false`, pip keeps the wheels it builds in a scratch
/// directory over its cache mount's `wheels/`: a wheel built against one venv (one
/// torch) must not be reused, from the shared cache, by a build against another.
/// Downloads stay cached. (uv gets `--refresh` instead, see [`install`].)
pub fn no_isolation_mounts(python: &Python, tier: &Tier) -> Vec<crate::ir::Mount> {
    if tier.build_isolation || python.installer != Installer::Pip {
        return vec![];
    }
    vec![crate::ir::Mount::Tmpfs {
        target: format!("{PIP_CACHE_DIR}/wheels"),
    }]
}

/// Where a tier's view of the build context (its requirements files) is mounted.
pub const CONTEXT_MOUNT: &str = "/run/strata/context";
/// Where a tier's `wheels` steps' wheels-dirs are mounted, one directory per step.
pub const WHEELS_MOUNT: &str = "/run/strata/wheels";

/// The mount point of one build step's wheels in the install step of a tier.
pub fn wheels_mount(step: &str) -> String {
    format!("{WHEELS_MOUNT}/{step}")
}

pub struct Install {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cache_dir: &'static str,
    pub cache_id: &'static str,
}

/// The tool venv for the installer: pip from the interpreter's own ensurepip (no
/// download), and for uv a pinned uv from the index into it.
pub fn tools_script(python: &Python) -> String {
    let i = quote(&python.interpreter);
    let mut s = format!(
        "set -eu\n\
         if ! command -v {i} >/dev/null 2>&1; then\n\
         \x20 echo \"strata: [python] interpreter {i} not found in the builder image\" >&2; exit 1\n\
         fi\n\
         {i} -m venv {TOOLS_DIR}\n"
    );
    if python.installer == Installer::Uv {
        let mut pip = vec![
            format!("{TOOLS_DIR}/bin/python"),
            "-m".into(),
            "pip".into(),
            "install".into(),
        ];
        pip.extend(pip_flags());
        if let Some(url) = &python.index_url {
            pip.push("--index-url".into());
            pip.push(url.clone());
        }
        pip.push(format!("uv=={UV_VERSION}"));
        s.push_str(&join(&pip));
        s.push('\n');
    }
    s
}

/// Whether the tool setup downloads anything (and so needs the network).
pub fn tools_need_network(python: &Python) -> bool {
    python.installer == Installer::Uv
}

/// Creates the app's venv. Production venvs have no pip; development ones keep it.
pub fn create_venv_script(python: &Python, with_pip: bool) -> String {
    let i = quote(&python.interpreter);
    let v = quote(&python.venv);
    let without = if with_pip { "" } else { " --without-pip" };
    format!("set -eu\n{i} -m venv{without} {v}\n")
}

fn venv_python(python: &Python) -> String {
    format!("{}/bin/python", python.venv.trim_end_matches('/'))
}

/// The command that installs one tier, with its cache, and (for production targets)
/// removes tests and docs of what it installed in the same step.
pub fn install(python: &Python, tier: &Tier, prune: bool) -> Install {
    let (mut cmd, env, cache_dir, cache_id) = match python.installer {
        Installer::Pip => (pip_args(python, tier), vec![], PIP_CACHE_DIR, PIP_CACHE_ID),
        Installer::Uv => (
            uv_args(python, tier),
            vec![
                ("UV_LINK_MODE".to_string(), "copy".to_string()),
                ("UV_PYTHON_DOWNLOADS".to_string(), "never".to_string()),
                ("UV_NO_PROGRESS".to_string(), "1".to_string()),
                // A builder image whose env sets UV_NO_CACHE would otherwise make uv ignore
                // the cache mount (as --cache-dir does for PIP_NO_CACHE_DIR).
                ("UV_NO_CACHE".to_string(), "0".to_string()),
                // Trust the builder image's CA store, as pip does, not uv's bundled roots
                // (TLS-intercepting proxies and private CAs).
                ("UV_SYSTEM_CERTS".to_string(), "1".to_string()),
            ],
            UV_CACHE_DIR,
            UV_CACHE_ID,
        ),
    };
    let mut env = env;
    for r in &tier.requirements {
        cmd.push("-r".into());
        cmd.push(format!("{CONTEXT_MOUNT}/{}", r.value));
    }
    if python.installer == Installer::Uv {
        for c in &tier.build_constraints {
            cmd.push("--build-constraint".into());
            cmd.push(format!("{CONTEXT_MOUNT}/{}", c.value));
        }
    }
    // The tier's own environment, after strata's (it may override them).
    for (k, v) in &tier.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let pre = pip_build_constraints(python, tier);
    // Wheels of build steps: shell globs (names are checked: no quoting needed).
    let wheel_globs: Vec<String> = tier
        .wheels
        .iter()
        .map(|w| format!("{}/*.whl", wheels_mount(&w.value)))
        .collect();
    let globs = if wheel_globs.is_empty() {
        String::new()
    } else {
        format!(" {}", wheel_globs.join(" "))
    };
    let pruning = if prune {
        prune_script(python)
    } else {
        String::new()
    };
    let (lookup, line) = match python.installer {
        // pip's runner lives under the tool venv's lib/pythonX.Y: found by the shell.
        Installer::Pip => (
            pip_runner_lookup(),
            format!(
                "{} \"$1\" {}{globs}",
                quote(&venv_python(python)),
                join(&cmd)
            ),
        ),
        Installer::Uv => (String::new(), format!("{}{globs}", join(&cmd))),
    };
    // When the install fails, the last line of the step's log (which buildx shows under
    // the failing step's name) says which tier, files and index; the installer's own
    // lines above it name the package and why.
    let failed = quote(&failure_line(python, tier));
    let args = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "set -eu\n{lookup}{pre}{line} || {{ s=$?; echo {failed} >&2; exit $s; }}\n{pruning}"
        ),
    ];
    Install {
        args,
        env,
        cache_dir,
        cache_id,
    }
}

/// What a failed install of `tier` prints last: `strata: tier base: pip install of
/// req/base.txt from https://pypi.example/simple failed; the package and the reason are
/// in pip's lines above`. Printed by the step's script, through [`quote`]: data, whatever
/// the tier's name, files and URLs hold.
pub fn failure_line(python: &Python, tier: &Tier) -> String {
    let installer = match python.installer {
        Installer::Pip => "pip",
        Installer::Uv => "uv",
    };
    let mut what: Vec<String> = tier.requirements.iter().map(|r| r.value.clone()).collect();
    what.extend(
        tier.wheels
            .iter()
            .map(|w| format!("the wheels of build step {}", w.value)),
    );
    if tier.wheels.len() == what.len() {
        // Wheels only: installed with --no-index, no index is involved.
        return format!(
            "strata: tier {}: {installer} install of {} failed; \
             the package and the reason are in {installer}'s lines above",
            tier.name.value,
            what.join(", "),
        );
    }
    let index = match tier.index_url.as_ref().or(python.index_url.as_ref()) {
        Some(url) => url.clone(),
        None => format!(
            "the default index ({})",
            match python.installer {
                Installer::Pip => "PIP_INDEX_URL, else https://pypi.org/simple",
                Installer::Uv => "UV_INDEX_URL, else https://pypi.org/simple",
            }
        ),
    };
    let extra: Vec<&str> = python
        .extra_index_urls
        .iter()
        .chain(&tier.extra_index_urls)
        .map(String::as_str)
        .collect();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" (extra indexes: {})", extra.join(", "))
    };
    format!(
        "strata: tier {}: {installer} install of {} from {index}{extra} failed; \
         the package and the reason are in {installer}'s lines above",
        tier.name.value,
        what.join(", "),
    )
}

/// Shell lines setting `$1` to pip's runner script in the tool venv (pip >= 22.3, as
/// `--python` needs). Run by another interpreter, it makes only pip importable from the
/// tool venv, so pip installs into that interpreter's environment and sees nothing else
/// of the tool venv: `pip --python` runs it the same way, after starting a first
/// interpreter for nothing.
fn pip_runner_lookup() -> String {
    format!(
        "set -- {TOOLS_DIR}/lib/python*/site-packages/pip/__pip-runner__.py\n\
         if [ ! -f \"$1\" ]; then\n\
         \x20 echo 'strata: the builder image'\\''s pip is older than 22.3 (no __pip-runner__.py); use a Python whose ensurepip has pip 22.3 or later, or installer = \"uv\"' >&2; exit 1\n\
         fi\n"
    )
}

/// Shell lines giving pip a tier's build constraints. pip 25.3 and later read
/// `PIP_BUILD_CONSTRAINT` (pins for isolated build environments only); older pip has
/// no such setting, and its documented way is `PIP_CONSTRAINT`, which the build
/// environment's pip inherits (and which then also constrains the tier's own install).
fn pip_build_constraints(python: &Python, tier: &Tier) -> String {
    if python.installer != Installer::Pip || tier.build_constraints.is_empty() {
        return String::new();
    }
    let files: Vec<String> = tier
        .build_constraints
        .iter()
        .map(|c| format!("{CONTEXT_MOUNT}/{}", c.value))
        .collect();
    let files = quote(&files.join(" "));
    format!(
        "if {TOOLS_DIR}/bin/python -c 'import sys, pip; sys.exit(tuple(int(x) for x in pip.__version__.split(\".\")[:2]) < (25, 3))' 2>/dev/null; then\n\
         \x20 export PIP_BUILD_CONSTRAINT={files}\n\
         else\n\
         \x20 export PIP_CONSTRAINT={files}\n\
         fi\n"
    )
}

/// pip's arguments after the interpreter and the runner script.
fn pip_args(python: &Python, tier: &Tier) -> Vec<String> {
    let mut a: Vec<String> = vec!["install".into()];
    a.extend(pip_flags());
    if !python.compile_bytecode {
        a.push("--no-compile".into());
    }
    push_common(&mut a, python, tier);
    a
}

/// Flags of every pip install strata runs. An explicit --cache-dir wins over
/// PIP_NO_CACHE_DIR from the base image's env, which would otherwise silently turn the
/// cache mount into a no-op.
fn pip_flags() -> Vec<String> {
    [
        "--cache-dir",
        PIP_CACHE_DIR,
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--root-user-action",
        "ignore",
    ]
    .map(String::from)
    .to_vec()
}

fn uv_args(python: &Python, tier: &Tier) -> Vec<String> {
    let mut a: Vec<String> = vec![
        format!("{TOOLS_DIR}/bin/uv"),
        "pip".into(),
        "install".into(),
        "--python".into(),
        venv_python(python),
        "--cache-dir".into(),
        UV_CACHE_DIR.into(),
        // pip's semantics across several indexes: the best version from any of them.
        "--index-strategy".into(),
        "unsafe-best-match".into(),
    ];
    if python.compile_bytecode {
        a.push("--compile-bytecode".into());
    }
    push_common(&mut a, python, tier);
    a
}

fn push_common(a: &mut Vec<String>, python: &Python, tier: &Tier) {
    if tier.no_deps {
        a.push("--no-deps".into());
    }
    if !tier.build_isolation {
        a.push("--no-build-isolation".into());
        // uv caches the wheels it builds from sdists without regard to the venv they
        // were built against: revalidate instead of reusing them (see no_isolation_mounts).
        if python.installer == Installer::Uv {
            a.push("--refresh".into());
        }
    }
    // A tier of build-step wheels only, installed exactly: no index is needed.
    if tier.requirements.is_empty() && !tier.wheels.is_empty() && tier.no_deps {
        a.push("--no-index".into());
        return;
    }
    if let Some(url) = tier.index_url.as_ref().or(python.index_url.as_ref()) {
        a.push("--index-url".into());
        a.push(url.clone());
    }
    for url in python.extra_index_urls.iter().chain(&tier.extra_index_urls) {
        a.push("--extra-index-url".into());
        a.push(url.clone());
    }
}

/// Removes `tests`/`test` directories inside installed packages (never a top-level
/// package) and the venv's `share/doc` and `share/man`. Already pruned trees of
/// earlier tiers are untouched, so their layers do not change.
fn prune_script(python: &Python) -> String {
    let v = quote(python.venv.trim_end_matches('/'));
    format!(
        "find {v}/lib -depth -type d \\( -name tests -o -name test \\) -path '*/site-packages/*/*' -exec rm -rf {{}} +\n\
         rm -rf {v}/share/doc {v}/share/man\n"
    )
}

fn join(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_spec::model::Located;
    use strata_spec::source::Span;

    fn py(installer: Installer) -> Python {
        Python {
            installer,
            interpreter: "python3".into(),
            venv: "/opt/venv".into(),
            index_url: None,
            extra_index_urls: vec!["https://a.example/simple".into()],
            compile_bytecode: true,
            prune_tests: true,
            netrc_secret: None,
        }
    }

    fn tier(no_deps: bool) -> Tier {
        Tier {
            name: Located::new("cuda".into(), Span::default()),
            requirements: vec![Located::new("reqs/cuda.txt".into(), Span::default())],
            index_url: Some("https://b.example/simple".into()),
            extra_index_urls: vec!["https://c.example/whl".into()],
            no_deps,
            dev: false,
            build_isolation: true,
            env: Default::default(),
            build_constraints: vec![],
            wheels: vec![],
        }
    }

    #[test]
    fn pip_runs_from_the_tool_venv_against_the_app_venv() {
        let i = install(&py(Installer::Pip), &tier(true), false);
        assert_eq!(i.args[..2], ["/bin/sh", "-c"]);
        let a = &i.args[2];
        assert!(
            a.contains(
                "set -- /opt/strata-tools/lib/python*/site-packages/pip/__pip-runner__.py\n"
            ),
            "{a}"
        );
        assert!(
            a.contains("\n/opt/venv/bin/python \"$1\" install --cache-dir /root/.cache/pip"),
            "{a}"
        );
        assert!(!a.contains("-name tests"), "no pruning asked: {a}");
        assert!(
            a.contains("--no-deps --index-url https://b.example/simple"),
            "{a}"
        );
        assert!(a.contains("--extra-index-url https://a.example/simple --extra-index-url https://c.example/whl"), "{a}");
        assert!(
            a.contains("-r /run/strata/context/reqs/cuda.txt || { s=$?; echo "),
            "{a}"
        );
        assert!(!a.contains("--no-compile"));
        assert_eq!((i.cache_dir, i.cache_id), (PIP_CACHE_DIR, PIP_CACHE_ID));
    }

    #[test]
    fn uv_copies_from_its_cache_and_never_downloads_python() {
        let i = install(&py(Installer::Uv), &tier(false), false);
        assert_eq!(i.args[..2], ["/bin/sh", "-c"]);
        let a = i.args.join(" ");
        assert!(a.starts_with("/bin/sh -c set -eu\n/opt/strata-tools/bin/uv pip install --python /opt/venv/bin/python --cache-dir /root/.cache/uv"), "{a}");
        assert!(a.contains("--compile-bytecode"), "{a}");
        assert!(i.env.contains(&("UV_LINK_MODE".into(), "copy".into())));
        assert!(i
            .env
            .contains(&("UV_PYTHON_DOWNLOADS".into(), "never".into())));
        assert_eq!(i.cache_id, UV_CACHE_ID);
        assert!(tools_script(&py(Installer::Uv)).contains("uv==0.13.9"));
        assert!(!tools_script(&py(Installer::Pip)).contains("pip install"));
    }

    #[test]
    fn a_failed_install_names_its_tier_files_and_index() {
        let t = tier(false);
        let line = failure_line(&py(Installer::Pip), &t);
        assert_eq!(
            line,
            "strata: tier cuda: pip install of reqs/cuda.txt from https://b.example/simple \
             (extra indexes: https://a.example/simple, https://c.example/whl) failed; the \
             package and the reason are in pip's lines above"
        );
        let mut no_index = t.clone();
        no_index.index_url = None;
        no_index.extra_index_urls.clear();
        let mut p = py(Installer::Uv);
        p.extra_index_urls.clear();
        assert_eq!(
            failure_line(&p, &no_index),
            "strata: tier cuda: uv install of reqs/cuda.txt from the default index \
             (UV_INDEX_URL, else https://pypi.org/simple) failed; the package and the reason \
             are in uv's lines above"
        );
    }

    /// The script of a tier whose installer fails: the installer's exit status is kept,
    /// the failure line is the last thing on stderr, byte for byte (a hostile tier name
    /// or URL stays text), and the pruning after it does not run.
    #[test]
    fn a_failing_installer_exits_with_its_status_and_the_failure_line() {
        let mut t = tier(false);
        t.name = Located::new("x'; echo pwned; '$(id)".into(), Span::default());
        let i = install(&py(Installer::Uv), &t, true);
        // The uv binary does not exist here: the command fails with 127.
        let out = std::process::Command::new(&i.args[0])
            .args(&i.args[1..])
            .output()
            .expect("/bin/sh runs");
        assert_eq!(out.status.code(), Some(127), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert_eq!(last, failure_line(&py(Installer::Uv), &t), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("pwned"));
    }

    /// The install script, run where the tool venv has no pip runner (this host has no
    /// /opt/strata-tools), stops before pip with the message for an old pip.
    #[test]
    fn a_missing_pip_runner_stops_the_step_with_a_clear_message() {
        assert!(
            !std::path::Path::new(TOOLS_DIR).exists(),
            "needs a host without {TOOLS_DIR}"
        );
        let i = install(&py(Installer::Pip), &tier(false), true);
        let out = std::process::Command::new(&i.args[0])
            .args(&i.args[1..])
            .output()
            .expect("/bin/sh runs");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim(),
            "strata: the builder image's pip is older than 22.3 (no __pip-runner__.py); \
             use a Python whose ensurepip has pip 22.3 or later, or installer = \"uv\""
        );
    }

    #[test]
    fn no_compile_when_bytecode_is_off() {
        let mut p = py(Installer::Pip);
        p.compile_bytecode = false;
        let a = install(&p, &tier(false), false).args.join(" ");
        assert!(a.contains(" --no-compile "), "{a}");
        assert!(!a.contains("--no-deps"), "{a}");
    }

    #[test]
    fn pruning_happens_in_the_install_step() {
        let i = install(&py(Installer::Pip), &tier(false), true);
        assert_eq!(i.args[0], "/bin/sh");
        let script = &i.args[2];
        assert!(
            script.contains("/opt/venv/bin/python \"$1\" install"),
            "{script}"
        );
        assert!(script.contains("-name tests -o -name test"), "{script}");
        assert!(script.contains("-path '*/site-packages/*/*'"), "{script}");
    }

    #[test]
    fn production_venvs_have_no_pip() {
        assert!(create_venv_script(&py(Installer::Pip), false)
            .contains("python3 -m venv --without-pip /opt/venv"));
        assert!(create_venv_script(&py(Installer::Pip), true).contains("python3 -m venv /opt/venv"));
        assert!(tools_script(&py(Installer::Pip)).contains("command -v python3"));
    }
}
