//! Issue 13: tier build settings, wheels of build steps, build steps' env, secrets, ssh
//! and git auth; each key resolved, each bad input an error at its line.

use super::*;
use crate::model::BuildSource;

const HEAD: &str = "version = 1\n[image]\nbase = \"python:3.12-slim\"\n";

fn spec(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

const ML: &str = r#"
[[python.layers]]
name = "torch"
requirements = ["requirements-torch.txt"]
env = { MAX_JOBS = "4" }

[[python.layers]]
name = "ext"
requirements = ["requirements-ext.txt"]
build-isolation = false

[[python.layers]]
name = "pinned"
requirements = ["requirements-pinned.txt"]
build-constraints = ["./constraints-build.txt"]

[[python.layers]]
name = "native"
wheels = ["ttnn"]

[[build]]
name = "ttnn"
venv = "torch"
env = { CMAKE_BUILD_PARALLEL_LEVEL = "8" }
secrets = ["hf-token", "GIT_AUTH_TOKEN.github.com"]
ssh = true
wheels-dir = "/src/dist/"
run = ["pip wheel --no-build-isolation -w /src/dist ."]

[[build]]
name = "private"
git = { url = "https://github.com/org/private.git", ref = "v1", auth-secret = "gh-token", auth-header-secret = "gh-header" }
run = ["make"]
"#;

#[test]
fn every_key_resolves() {
    let text = spec(ML);
    assert_eq!(render(&text), "", "{}", render(&text));
    let t = parse(&text).resolve(None, &BTreeMap::new()).unwrap();
    let [torch, ext, pinned, native] = &t.tiers[..] else {
        panic!("{:?}", t.tiers)
    };
    assert_eq!(torch.env.get("MAX_JOBS").map(String::as_str), Some("4"));
    assert!(torch.build_isolation && !ext.build_isolation);
    assert!(ext.env.is_empty());
    assert_eq!(pinned.build_constraints[0].value, "constraints-build.txt");
    assert!(!pinned.no_deps);
    assert_eq!(native.wheels[0].value, "ttnn");
    assert!(native.requirements.is_empty());
    assert!(
        native.no_deps,
        "a tier of wheels only is --no-deps by default"
    );

    let step = &t.builds[0];
    assert_eq!(step.venv.as_ref().unwrap().value, "torch");
    assert_eq!(step.env["CMAKE_BUILD_PARALLEL_LEVEL"], "8");
    let secrets: Vec<&str> = step.secrets.iter().map(|s| s.value.as_str()).collect();
    assert_eq!(secrets, ["hf-token", "GIT_AUTH_TOKEN.github.com"]);
    assert!(step.ssh);
    assert_eq!(step.wheels_dir.as_ref().unwrap().value, "/src/dist");
    assert_eq!(step.source, BuildSource::None, "a step may have no sources");
    match &t.builds[1].source {
        BuildSource::Git {
            auth_token_secret,
            auth_header_secret,
            ..
        } => {
            assert_eq!(auth_token_secret.as_deref(), Some("gh-token"));
            assert_eq!(auth_header_secret.as_deref(), Some("gh-header"));
        }
        s => panic!("{s:?}"),
    }
    assert!(!t.builds[1].ssh);
}

#[test]
fn a_wheels_tier_may_ask_for_dependencies() {
    let text = spec(
        "[[python.layers]]\nname = \"n\"\nwheels = [\"w\"]\nno-deps = false\n[[build]]\nname = \"w\"\nwheels-dir = \"/src/dist\"\n",
    );
    let t = parse(&text).resolve(None, &BTreeMap::new()).unwrap();
    assert!(!t.tiers[0].no_deps);
}

fn assert_error(text: &str, parts: &[&str]) {
    let out = render(text);
    for p in parts {
        assert!(out.contains(p), "missing {p:?} in:\n{out}");
    }
}

#[test]
fn wheels_naming_no_build_step() {
    assert_error(
        &spec("[[python.layers]]\nname = \"n\"\nwheels = [\"ttnm\"]\n[[build]]\nname = \"ttnn\"\nwheels-dir = \"/src/dist\"\n"),
        &[
            "error: `wheels` of tier `n` names no build step: `ttnm`",
            "--> strata.toml:6:11",
            "no [[build]] step has this name",
            "help: did you mean `ttnn`?",
            "note: the build steps are `ttnn`",
        ],
    );
}

#[test]
fn wheels_of_a_step_without_wheels_dir() {
    assert_error(
        &spec("[[python.layers]]\nname = \"n\"\nwheels = [\"w\"]\n[[build]]\nname = \"w\"\nrun = [\"make\"]\n"),
        &[
            "error: `wheels` of tier `n` names build step `w`, which has no `wheels-dir`",
            "--> strata.toml:6:11",
            "help: add `wheels-dir = \"/src/dist\"`",
        ],
    );
}

#[test]
fn venv_naming_no_tier() {
    assert_error(
        &spec("[[python.layers]]\nname = \"torch\"\nrequirements = [\"r.txt\"]\n[[build]]\nname = \"w\"\nvenv = \"trch\"\n"),
        &[
            "error: `venv` of build step `w` names no tier of the spec: `trch`",
            "--> strata.toml:9:8",
            "help: did you mean `torch`?",
            "note: the tiers of the spec are `torch`",
        ],
    );
}

#[test]
fn venv_naming_a_tier_a_service_leaves_out() {
    assert_error(
        &spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"r.txt\"]\n[[python.layers]]\nname = \"torch\"\nrequirements = [\"t.txt\"]\n[[build]]\nname = \"ext\"\nvenv = \"torch\"\n[services.gpu]\n[services.cpu]\nlayers = [\"base\"]\n"),
        &[
            "error: `venv` of build step `ext` names no tier of service `cpu`: `torch`",
            "--> strata.toml:12:8",
            "help: build steps belong to every service",
            "note: the tiers of service `cpu` are `base`",
        ],
    );
    // With its own (empty) build list the service is fine.
    let text = spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"r.txt\"]\n[[python.layers]]\nname = \"torch\"\nrequirements = [\"t.txt\"]\n[[build]]\nname = \"ext\"\nvenv = \"torch\"\n[services.gpu]\n[services.cpu]\nlayers = [\"base\"]\nbuild = []\n");
    assert_eq!(render(&text), "");
}

#[test]
fn venv_naming_a_tier_that_is_not_earlier() {
    assert_error(
        &spec("[[python.layers]]\nname = \"native\"\nwheels = [\"w\"]\n[[python.layers]]\nname = \"torch\"\nrequirements = [\"r.txt\"]\n[[build]]\nname = \"w\"\nvenv = \"torch\"\nwheels-dir = \"/src/dist\"\n"),
        &[
            "error: build step `w` runs in the venv after tier `torch`, but tier `native` installs its wheels",
            "--> strata.toml:12:8",
            "`venv` must name a tier before `native`",
        ],
    );
    // The tier itself is not earlier either.
    assert_error(
        &spec("[[python.layers]]\nname = \"native\"\nwheels = [\"w\"]\n[[build]]\nname = \"w\"\nvenv = \"native\"\nwheels-dir = \"/src/dist\"\n"),
        &["runs in the venv after tier `native`, but tier `native` installs its wheels"],
    );
}

#[test]
fn secret_ids_buildkit_rejects() {
    for (id, label) in [
        ("hf token", "whitespace is not allowed in a secret id"),
        ("a,b", "`,` is not allowed in a secret id"),
        ("a=b", "`=` is not allowed in a secret id"),
        ("../x", "`/` is not allowed in a secret id"),
        (".hidden", "must start with a letter or digit"),
        ("", "empty id"),
    ] {
        assert_error(
            &spec(&format!("[[build]]\nname = \"w\"\nsecrets = [\"{id}\"]\n")),
            &[
                "error:",
                "--> strata.toml:6:",
                label,
                "secret ids are letters, digits",
            ],
        );
    }
    assert_error(
        &spec(
            "[[build]]\nname = \"w\"\ngit = { url = \"https://h/r.git\", auth-secret = \"a/b\" }\n",
        ),
        &["`a/b` is not a valid secret id", "--> strata.toml:6:"],
    );
}

#[test]
fn build_isolation_off_with_build_constraints() {
    assert_error(
        &spec("[[python.layers]]\nname = \"ext\"\nrequirements = [\"r.txt\"]\nbuild-isolation = false\nbuild-constraints = [\"c.txt\"]\n"),
        &[
            "error: tier `ext` sets `build-isolation = false` and `build-constraints`: the installer cannot honour both",
            "--> strata.toml:7:1",
            "no isolated build environments",
            "pins only isolated build environments",
            "help: with `build-isolation = false` the build tools come from earlier tiers",
        ],
    );
}

#[test]
fn a_tier_needs_requirements_or_wheels() {
    assert_error(
        &spec("[[python.layers]]\nname = \"empty\"\nbuild-isolation = false\n"),
        &[
            "error: tier `empty` installs nothing: it needs `requirements` or `wheels`",
            "--> strata.toml:",
        ],
    );
}

#[test]
fn wrong_types() {
    assert_error(
        &spec("[[python.layers]]\nname = \"t\"\nrequirements = [\"r.txt\"]\nbuild-isolation = \"false\"\n"),
        &["write `false` without quotes"],
    );
    assert_error(
        &spec("[[build]]\nname = \"w\"\nwheels-dir = \"dist\"\n"),
        &["--> strata.toml:6:14"],
    );
    assert_error(
        &spec("[[build]]\nname = \"w\"\nsecrets = \"tok\"\n"),
        &["write it as an array: `[\"tok\"]`"],
    );
}
