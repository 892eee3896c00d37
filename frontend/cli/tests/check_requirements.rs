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
