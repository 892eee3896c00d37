//! The app's copy: what is never copied, and its bytecode.
//!
//! The app layer holds the app's files as the context has them, minus the
//! [`DEFAULT_EXCLUDES`], and (with `[app] compile-bytecode`, the default) their `.pyc`
//! files, compiled in the builder with hash-based invalidation.

use crate::sh::quote;

/// Never copied into the app, even without a `.dockerignore` (unless `[app]
/// default-excludes = false`, or a later `!pattern` in `[app] exclude` re-includes one):
/// version control, bytecode of the developer's own Python, local venvs and test caches.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "**/.git",
    "**/__pycache__",
    "**/*.pyc",
    "**/.venv",
    "**/.pytest_cache",
];

/// Where the app's files are compiled in the builder, away from anything the builder
/// image has at the workdir. The `.pyc` files name the workdir (`-d`), not this.
pub const STAGE: &str = "/strata-app";

/// The command that compiles the `.py` files under [`STAGE`] with `interpreter`, as
/// `python -m compileall --invalidation-mode checked-hash -d WORKDIR` does: each `.pyc`
/// holds a hash of its source instead of its mtime, so it stays valid whatever the
/// copy does to mtimes, and Python checks the hash at import, so an edited source (a
/// bind mount in development) is never shadowed by a stale `.pyc`. The `.pyc` files and
/// their `__pycache__` directories get mtime 0 and the app's directories keep theirs,
/// so the layer does not depend on when it was built. Nothing to compile (no `.py`
/// file) needs no interpreter; `.py` files and no interpreter, or a file that does not
/// compile, is an error that says how to turn this off.
pub fn compile_script(interpreter: &str, workdir: &str) -> String {
    let py = quote(interpreter);
    let stage = quote(STAGE);
    let ddir = quote(workdir);
    format!(
        "set -eu\n\
         if [ -z \"$(find {stage} -name '*.py' -type f | head -n 1)\" ]; then exit 0; fi\n\
         if ! command -v {py} >/dev/null 2>&1; then\n\
         \x20 echo 'strata: [app] compile-bytecode needs '{py}' in the builder image to compile the app; set [python] interpreter, or [app] compile-bytecode = false' >&2; exit 1\n\
         fi\n\
         {py} - {stage} {ddir} <<'STRATA_COMPILE'\n\
         import compileall, os, py_compile, sys\n\
         src, ddir = sys.argv[1], sys.argv[2]\n\
         dirs = {{r: os.stat(r) for r, _, _ in os.walk(src)}}\n\
         ok = compileall.compile_dir(src, maxlevels=1000, ddir=ddir, quiet=1,\n\
         \x20   invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)\n\
         for r, _, files in os.walk(src):\n\
         \x20   if os.path.basename(r) == '__pycache__' and r not in dirs:\n\
         \x20       for n in files:\n\
         \x20           os.utime(os.path.join(r, n), (0, 0))\n\
         \x20       os.utime(r, (0, 0))\n\
         for r, st in dirs.items():\n\
         \x20   os.utime(r, ns=(st.st_atime_ns, st.st_mtime_ns))\n\
         if not ok:\n\
         \x20   sys.exit('strata: some of the app\\'s .py files do not compile (above): fix them, exclude them in [app] exclude, or set [app] compile-bytecode = false')\n\
         STRATA_COMPILE\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_hash_based_pycs_named_after_the_workdir() {
        let s = compile_script("python3", "/srv/my app");
        assert!(
            s.contains("python3 - /strata-app '/srv/my app' <<'STRATA_COMPILE'"),
            "{s}"
        );
        assert!(s.contains("PycInvalidationMode.CHECKED_HASH"), "{s}");
        assert!(s.contains("find /strata-app -name '*.py'"), "{s}");
        assert!(s.contains("compile-bytecode = false"), "{s}");
        assert!(s.ends_with("STRATA_COMPILE\n"), "{s}");
    }

    #[test]
    fn default_excludes_cover_what_the_guides_clean() {
        for p in [
            "**/.git",
            "**/__pycache__",
            "**/*.pyc",
            "**/.venv",
            "**/.pytest_cache",
        ] {
            assert!(DEFAULT_EXCLUDES.contains(&p), "{p}");
        }
    }
}
