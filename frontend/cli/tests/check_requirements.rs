//! `strata check` reads the tiers' requirements files from the spec's directory and
//! warns about drift (unpinned requirements, a later tier changing an earlier pin); a
//! file that is not there is no warning and no error (the build reports it).

use std::process::Command;

mod common;
use common::TempDir;

fn check(files: &[(&str, &str)]) -> (bool, String) {
    let tmp = TempDir::new("check-req");
    let dir = &tmp.0;
    let spec = "version = 1\n[image]\nbase = \"python:3.12-slim\"\n\
        [[python.layers]]\nname = \"base\"\nrequirements = [\"base.txt\"]\n\
        [[python.layers]]\nname = \"ml\"\nrequirements = [\"ml.txt\"]\n";
    std::fs::write(dir.join("strata.toml"), spec).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    // Run from elsewhere: the files are found beside the spec, not in the cwd.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("check")
        .arg(dir.join("strata.toml"))
        .current_dir(std::env::temp_dir())
        .env_remove("BUILDKIT_SESSION_ID")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn drifting_requirements_are_warnings_with_both_places() {
    let (ok, err) = check(&[
        ("base.txt", "numpy==1.26.4\nrequests>=2\n"),
        ("ml.txt", "numpy==2.1.0\n"),
    ]);
    assert!(ok, "warnings must not fail the check:\n{err}");
    assert!(
        err.contains("warning: `requests>=2` in `base.txt` is not pinned to one version"),
        "{err}"
    );
    assert!(err.contains("base.txt:2: `requests>=2`"), "{err}");
    assert!(
        err.contains(
            "warning: tier `ml` asks for `numpy==2.1.0`, which tier `base` pinned to 1.26.4"
        ),
        "{err}"
    );
    assert!(err.contains("base.txt:1: numpy==1.26.4"), "{err}");
}

#[test]
fn pinned_or_missing_files_say_nothing() {
    let (ok, err) = check(&[("base.txt", "numpy==1.26.4\n")]);
    assert!(ok, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

/// Issue 15: CI runs `strata check` on untrusted pull requests. A requirements file
/// linked out of the directory is an error naming it, and what it points to is never
/// read (nor printed); a device or a fifo is refused, not read without end.
#[test]
fn links_out_of_the_directory_and_devices_are_refused_unread() {
    let tmp = TempDir::new("check-req-links");
    let dir = &tmp.0;
    let spec = "version = 1\n[image]\nbase = \"python:3.12-slim\"\n\
        [[python.layers]]\nname = \"base\"\nrequirements = [\"base.txt\"]\n\
        [[python.layers]]\nname = \"ml\"\nrequirements = [\"ml.txt\"]\n";
    std::fs::write(dir.join("strata.toml"), spec).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.join("base.txt")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("ml.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("check")
        .arg(dir.join("strata.toml"))
        .env_remove("BUILDKIT_SESSION_ID")
        .env("NO_COLOR", "1")
        .env("STRATA_TEST_SECRET", "hunter2-token-value")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("hunter2"), "a secret was printed:\n{err}");
    assert!(
        err.contains(
            "error: `base.txt` (requirements of tier `base`) cannot be read: `base.txt` is a \
             symbolic link to `/proc/self/environ`, which is outside the build context"
        ),
        "{err}"
    );
    assert!(err.contains("--> "), "located: {err}");
    assert!(
        err.contains("`ml.txt` is a symbolic link to `/dev/zero`"),
        "{err}"
    );

    // A named pipe inside the directory: refused without opening it (it would block).
    std::fs::remove_file(dir.join("ml.txt")).unwrap();
    std::fs::remove_file(dir.join("base.txt")).unwrap();
    std::fs::write(dir.join("base.txt"), "numpy==1.26.4\n").unwrap();
    let made = Command::new("mkfifo").arg(dir.join("ml.txt")).status();
    if made.map(|s| s.success()).unwrap_or(false) {
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("check")
            .arg(dir.join("strata.toml"))
            .env_remove("BUILDKIT_SESSION_ID")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("`ml.txt` is a named pipe, not a regular file"),
            "{err}"
        );
    }
}

/// A requirements file over 8 MiB is an error, not read into memory.
#[test]
fn huge_requirements_files_are_refused() {
    let big = "x==1\n".repeat((8 << 20) / 5 + 10);
    let (ok, err) = check(&[("base.txt", &big), ("ml.txt", "y==1\n")]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("more than the 8 MiB a file may have here"),
        "{err}"
    );
}
