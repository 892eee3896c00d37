//! The catalogue of bad specs, through the `strata` binary as a user runs it: every one
//! exits with status 1 and a message naming the file, the line and column, and the
//! problem (the exact rendering of each message is pinned by the spec crate's unit
//! tests; docs/errors.md lists them). Never a panic, never more than a moment.
//!
//! What needs the build context or a daemon (missing requirements files, unresolvable
//! images, apt failures) is in tests/e2e/bad-specs.sh.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A fresh directory under the system's temp dir, removed when dropped.
mod common;
use common::TempDir;

/// Runs `strata ARGS` in `dir`; the spec is `dir/strata.toml`.
fn strata_in(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("BUILDKIT_SESSION_ID")
        .output()
        .expect("run strata");
    (out, t.elapsed())
}

struct Case {
    name: &'static str,
    spec: &'static [u8],
    /// Extra arguments after the spec (e.g. `--target nope`).
    args: &'static [&'static str],
    /// `file:line:col` the first message must point at.
    at: &'static str,
    /// Texts the output must contain: the problem, the suggestion.
    says: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "invalid TOML",
            spec: b"version = 1\n[image\nbase = \"python:3.12\"\n",
            args: &[],
            at: "strata.toml:2:7",
            says: &["invalid TOML", "expected `]`"],
        },
        Case {
            name: "unterminated string",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\n",
            args: &[],
            at: "strata.toml:3:",
            says: &["invalid TOML"],
        },
        Case {
            name: "empty file",
            spec: b"",
            args: &[],
            at: "strata.toml:1:1",
            says: &["the spec is empty", "version = 1"],
        },
        Case {
            name: "only the syntax line",
            spec: b"# syntax=strata/frontend:dev\n",
            args: &[],
            at: "strata.toml:1:1",
            says: &["the spec is empty", "version = 1"],
        },
        Case {
            name: "missing version",
            spec: b"[image]\nbase = \"python:3.12\"\n",
            args: &[],
            at: "strata.toml:1:2",
            says: &["missing `version`", "add `version = 1`"],
        },
        Case {
            name: "wrong version",
            spec: b"version = 2\n[image]\nbase = \"python:3.12\"\n",
            args: &[],
            at: "strata.toml:1:11",
            says: &["unsupported spec version 2", "write `version = 1`"],
        },
        Case {
            name: "version as a string",
            spec: b"version = \"1\"\n[image]\nbase = \"python:3.12\"\n",
            args: &[],
            at: "strata.toml:1:11",
            says: &["invalid type for `version`", "without quotes"],
        },
        Case {
            name: "not UTF-8",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n# caf\xe9\n",
            args: &[],
            at: "strata.toml:4:6",
            says: &["not valid UTF-8", "byte 0xe9"],
        },
        Case {
            name: "unknown key",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[system]\npakages = [\"curl\"]\n",
            args: &[],
            at: "strata.toml:5:1",
            says: &["unknown key `pakages` in [system]", "did you mean `packages`?"],
        },
        Case {
            name: "unknown table",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[pyton]\nvenv = \"/v\"\n",
            args: &[],
            at: "strata.toml:4:2",
            says: &["unknown table [pyton]", "did you mean [python]?"],
        },
        Case {
            name: "unknown key in a tier",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"base\"\nrequirement = [\"r.txt\"]\n",
            args: &[],
            at: "strata.toml:6:1",
            says: &["unknown key `requirement`", "did you mean `requirements`?"],
        },
        Case {
            name: "string for an array",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[system]\npackages = \"curl\"\n",
            args: &[],
            at: "strata.toml:5:12",
            says: &["invalid type for `packages`", "expected an array of strings, found a string"],
        },
        Case {
            name: "boolean as a string",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[python]\ncompile-bytecode = \"yes\"\n",
            args: &[],
            at: "strata.toml:5:20",
            says: &["invalid type for `compile-bytecode`", "expected a boolean"],
        },
        Case {
            name: "empty base",
            spec: b"version = 1\n[image]\nbase = \"\"\n",
            args: &[],
            at: "strata.toml:3:8",
            says: &["`base`", "must not be empty"],
        },
        Case {
            name: "no base at all",
            spec: b"version = 1\n[run]\ncmd = [\"python\"]\n",
            args: &[],
            at: "strata.toml:1:1",
            says: &["no base image", "set `base` in [image]"],
        },
        Case {
            name: "unknown ${ARG}",
            spec: b"version = 1\n[args]\nPY = \"3.12\"\n[image]\nbase = \"python:${PYTHON}\"\n",
            args: &[],
            at: "strata.toml:5:16",
            says: &["unknown build argument `${PYTHON}`", "declared build arguments: `PY`"],
        },
        Case {
            name: "requirements outside the context",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"base\"\nrequirements = [\"../requirements.txt\"]\n",
            args: &[],
            at: "strata.toml:6:17",
            says: &["leaves the build context"],
        },
        Case {
            name: "absolute include",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[app]\ninclude = [\"/etc/passwd\"]\n",
            args: &[],
            at: "strata.toml:5:12",
            says: &["not absolute", "write `etc/passwd`"],
        },
        Case {
            name: "include escaping through a subdirectory",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[app]\ninclude = [\"src/../../x\"]\n",
            args: &[],
            at: "strata.toml:5:12",
            says: &["leaves the build context"],
        },
        Case {
            name: "duplicate tier",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"base\"\nrequirements = [\"a.txt\"]\n[[python.layers]]\nname = \"base\"\nrequirements = [\"b.txt\"]\n",
            args: &[],
            at: "strata.toml:8:8",
            says: &["duplicate tier name `base`", "first defined here"],
        },
        Case {
            name: "service naming an unknown tier",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"base\"\nrequirements = [\"a.txt\"]\n[services.api]\nlayers = [\"base\", \"web\"]\n",
            args: &[],
            at: "strata.toml:8:19",
            says: &["unknown tier `web`", "the tiers are `base`"],
        },
        Case {
            name: "port out of range",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nexpose = [80000]\n",
            args: &[],
            at: "strata.toml:5:11",
            says: &["port 80000 is out of range", "1-65535"],
        },
        Case {
            name: "port with a bad protocol",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nexpose = [\"8000/http\"]\n",
            args: &[],
            at: "strata.toml:5:11",
            says: &["`8000/http` is not a port", "`tcp`, `udp` or `sctp`"],
        },
        Case {
            name: "duration without a unit",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nhealthcheck = { cmd = [\"true\"], timeout = \"3\" }\n",
            args: &[],
            at: "strata.toml:5:43",
            says: &["`3` is not a duration", "add a unit: `3s`"],
        },
        Case {
            name: "unknown signal",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nstop-signal = \"SIGKIL\"\n",
            args: &[],
            at: "strata.toml:5:15",
            says: &["unknown signal `SIGKIL`", "did you mean `SIGKILL`?"],
        },
        Case {
            name: "signal number out of range",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nstop-signal = 99\n",
            args: &[],
            at: "strata.toml:5:15",
            says: &["signal 99 does not exist"],
        },
        Case {
            name: "healthcheck without a command",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run.healthcheck]\ninterval = \"30s\"\n",
            args: &[],
            at: "strata.toml:4:",
            says: &["missing `cmd` in [run.healthcheck]"],
        },
        Case {
            name: "healthcheck with an empty command",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[run]\nhealthcheck = { cmd = [] }\n",
            args: &[],
            at: "strata.toml:5:23",
            says: &["`cmd` in [run.healthcheck] must not be empty"],
        },
        Case {
            name: "unknown target without services",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n",
            args: &["--target", "api"],
            at: "strata.toml:1:1",
            says: &["unknown target `api`", "--target dev"],
        },
        Case {
            name: "unknown target lists the targets",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[services.api]\n[services.worker]\n",
            args: &["--target", "wroker"],
            at: "strata.toml:4:2",
            says: &[
                "unknown target `wroker`",
                "did you mean `worker`?",
                "the targets are `api`, `api-dev`, `worker` and `worker-dev`",
            ],
        },
        Case {
            name: "no target with several services",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[services.api]\n[services.worker]\n",
            args: &[],
            at: "strata.toml:4:2",
            says: &["several services", "the targets are `api`, `api-dev`, `worker` and `worker-dev`"],
        },
        Case {
            name: "unknown variant",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[variants.cuda]\nimage.base = \"nvidia/cuda:12.4.0-runtime-ubuntu22.04\"\n",
            args: &["--build-arg", "VARIANT=cdua"],
            at: "strata.toml:4:2",
            says: &["unknown variant `cdua`", "did you mean `cuda`?"],
        },
        Case {
            name: "numeric user",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\nuser = \"1000\"\n",
            args: &[],
            at: "strata.toml:4:8",
            says: &["numeric id"],
        },
        Case {
            name: "package with a space",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[system]\npackages = [\"curl wget\"]\n",
            args: &[],
            at: "strata.toml:5:13",
            says: &["`curl wget` is not a package name", "its own string"],
        },
        Case {
            name: "package that is an option",
            spec: b"version = 1\n[image]\nbase = \"python:3.12\"\n[system]\npackages = [\"--allow-unauthenticated\"]\n",
            args: &[],
            at: "strata.toml:5:13",
            says: &["is not a package name"],
        },
    ]
}

/// The text after `-->` on the first location line.
fn first_location(out: &str) -> Option<&str> {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim)
}

fn assert_case(c: &Case, sub: &str) {
    let dir = TempDir::new("bad-specs");
    std::fs::write(dir.0.join("strata.toml"), c.spec).unwrap();
    let mut args = vec![sub, "strata.toml"];
    if sub == "check" && (c.args.contains(&"--target") || c.name.contains("several services")) {
        return; // `check` checks every target: choosing one is not its business.
    }
    args.extend(c.args);
    let (out, took) = strata_in(&dir.0, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = format!("{} (`strata {}`):\n{stderr}", c.name, args.join(" "));
    assert_eq!(out.status.code(), Some(1), "exit status of {ctx}");
    assert!(!stderr.contains("panicked"), "{ctx}");
    assert!(
        out.stdout.is_empty() || sub == "check",
        "{ctx}: nothing on stdout"
    );
    let at = first_location(&stderr).unwrap_or_else(|| panic!("no location in {ctx}"));
    assert!(at.starts_with(c.at), "{ctx}: points at {at}, want {}", c.at);
    for s in c.says {
        assert!(stderr.contains(s), "{ctx}: does not say {s:?}");
    }
    assert!(took < Duration::from_secs(5), "{ctx}: took {took:?}");
}

#[test]
fn check_rejects_every_bad_spec_with_its_place_and_problem() {
    for c in cases() {
        assert_case(&c, "check");
    }
}

#[test]
fn llb_rejects_every_bad_spec_with_its_place_and_problem() {
    for c in cases() {
        assert_case(&c, "llb");
    }
}

#[test]
fn explain_rejects_a_bad_spec_too() {
    for c in cases().iter().take(3) {
        assert_case(c, "explain");
    }
}

#[test]
fn a_missing_spec_file_is_named() {
    let dir = TempDir::new("bad-specs");
    let (out, _) = strata_in(&dir.0, &["check", "nope.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read nope.toml"), "{stderr}");
}

#[test]
fn a_directory_instead_of_a_spec_is_named() {
    let dir = TempDir::new("bad-specs");
    std::fs::create_dir(dir.0.join("strata.toml")).unwrap();
    let (out, _) = strata_in(&dir.0, &["check", "strata.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read strata.toml"), "{stderr}");
}

#[test]
fn many_errors_are_all_reported_quickly() {
    // 3,000 unknown keys: every one is reported (as rustc does), in well under a second
    // of work per thousand (debug build).
    let mut spec = String::from("version = 1\n[image]\nbase = \"python:3.12\"\n[system]\n");
    for i in 0..3000 {
        spec.push_str(&format!("pakages{i} = [\"curl\"]\n"));
    }
    let dir = TempDir::new("bad-specs");
    std::fs::write(dir.0.join("strata.toml"), spec).unwrap();
    let (out, took) = strata_in(&dir.0, &["check", "strata.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.matches("error: unknown key").count(), 3000);
    assert!(stderr.contains("--> strata.toml:3004:1"));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = TempDir::new("bad-specs");
    for spec in [
        format!(
            "version = 1\na = {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        format!(
            "version = 1\na = {}1{}\n",
            "{b=".repeat(10_000),
            "}".repeat(10_000)
        ),
        format!("version = 1\n[{}b]\n", "a.".repeat(10_000)),
    ] {
        std::fs::write(dir.0.join("strata.toml"), spec).unwrap();
        let (out, took) = strata_in(&dir.0, &["check", "strata.toml"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("invalid TOML"), "{stderr}");
        assert!(stderr.contains("strata.toml"), "{stderr}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }
}
