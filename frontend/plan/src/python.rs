//! The venv and the pip commands that fill it, one tier at a time.

use strata_spec::model::{Python, Tier};

use crate::sh::quote;

/// pip's cache, on a cache mount whose id is the same for every service and variant.
pub const PIP_CACHE_DIR: &str = "/root/.cache/pip";
pub const PIP_CACHE_ID: &str = "strata-pip";
/// Where a tier's view of the build context (its requirements files) is mounted.
pub const CONTEXT_MOUNT: &str = "/run/strata/context";

/// Creates the venv with the base image's interpreter, failing with a clear message
/// when the interpreter is missing.
pub fn create_venv_script(python: &Python) -> String {
    let i = quote(&python.interpreter);
    let v = quote(&python.venv);
    format!(
        "set -eu\n\
         if ! command -v {i} >/dev/null 2>&1; then\n\
         \x20 echo \"strata: [python] interpreter {i} not found in the builder image\" >&2; exit 1\n\
         fi\n\
         {i} -m venv {v}\n"
    )
}

/// The exact command line that installs one tier into the venv.
pub fn pip_install_args(python: &Python, tier: &Tier) -> Vec<String> {
    let mut a: Vec<String> = vec![
        format!("{}/bin/python", python.venv.trim_end_matches('/')),
        "-m".into(),
        "pip".into(),
        "install".into(),
        // An explicit --cache-dir wins over PIP_NO_CACHE_DIR from the base image's env,
        // which would otherwise silently turn the cache mount into a no-op.
        "--cache-dir".into(),
        PIP_CACHE_DIR.into(),
        "--disable-pip-version-check".into(),
        "--no-input".into(),
        "--progress-bar".into(),
        "off".into(),
        "--root-user-action".into(),
        "ignore".into(),
    ];
    if !python.compile_bytecode {
        a.push("--no-compile".into());
    }
    if tier.no_deps {
        a.push("--no-deps".into());
    }
    if let Some(url) = tier.index_url.as_ref().or(python.index_url.as_ref()) {
        a.push("--index-url".into());
        a.push(url.clone());
    }
    for url in python.extra_index_urls.iter().chain(&tier.extra_index_urls) {
        a.push("--extra-index-url".into());
        a.push(url.clone());
    }
    for r in &tier.requirements {
        a.push("-r".into());
        a.push(format!("{CONTEXT_MOUNT}/{}", r.value));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_spec::model::{Installer, Located};
    use strata_spec::source::Span;

    fn py() -> Python {
        Python {
            installer: Installer::Pip,
            interpreter: "python3".into(),
            venv: "/opt/venv".into(),
            index_url: None,
            extra_index_urls: vec!["https://a.example/simple".into()],
            compile_bytecode: true,
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
        }
    }

    #[test]
    fn tier_indexes_extend_the_python_ones() {
        let a = pip_install_args(&py(), &tier(true)).join(" ");
        assert!(
            a.starts_with("/opt/venv/bin/python -m pip install --cache-dir /root/.cache/pip"),
            "{a}"
        );
        assert!(
            a.contains("--no-deps --index-url https://b.example/simple"),
            "{a}"
        );
        assert!(a.contains("--extra-index-url https://a.example/simple --extra-index-url https://c.example/whl"), "{a}");
        assert!(a.ends_with("-r /run/strata/context/reqs/cuda.txt"), "{a}");
        assert!(!a.contains("--no-compile"));
    }

    #[test]
    fn no_compile_when_bytecode_is_off() {
        let mut p = py();
        p.compile_bytecode = false;
        let a = pip_install_args(&p, &tier(false));
        assert!(a.contains(&"--no-compile".to_string()));
        assert!(!a.contains(&"--no-deps".to_string()));
    }

    #[test]
    fn missing_interpreter_is_reported() {
        let s = create_venv_script(&py());
        assert!(s.contains("command -v python3"));
        assert!(s.contains("python3 -m venv /opt/venv"));
    }
}
