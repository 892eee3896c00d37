//! Issue 15, through the binary: hostile build arguments stay data in the LLB, and
//! specs whose costs could grow faster than their size check in bounded time.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::TempDir;

fn strata(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(dir)
        .env_remove("BUILDKIT_SESSION_ID")
        .env("NO_COLOR", "1")
        .output()
        .expect("run strata");
    (out, t.elapsed())
}

/// `--build-arg 'VERSION=1"; echo PWNED; echo "'`: the build step's command in the
/// LLB is the spec's text; the value is in the step's environment, byte for byte.
#[test]
fn a_hostile_build_arg_is_in_the_build_steps_env_not_its_command() {
    let dir = TempDir::new("hostile-llb");
    std::fs::write(
        dir.0.join("strata.toml"),
        "version = 1\n[args]\nVERSION = \"1.0\"\n[image]\nbase = \"python:3.12-slim\"\n\
         [[build]]\nname = \"lib\"\ncontext = [\".\"]\nrun = [\"echo \\\"${VERSION}\\\" > /src/version\"]\n\
         outputs = { \"/src/version\" = \"/opt/version\" }\n",
    )
    .unwrap();
    let hostile = "1\"; echo PWNED; echo \"";
    let arg = format!("VERSION={hostile}");
    let (out, _) = strata(
        &dir.0,
        &["llb", "strata.toml", "--json", "--build-arg", &arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found = false;
    for op in json["ops"].as_array().unwrap() {
        let exec = &op["op"];
        if exec["kind"] != "exec" {
            continue;
        }
        let args: Vec<&str> = exec["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if !args.iter().any(|a| a.contains("/src/version")) {
            continue;
        }
        found = true;
        assert_eq!(args[2], "set -eux\necho \"${VERSION}\" > /src/version\n");
        let env: Vec<&str> = exec["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            env.contains(&format!("VERSION={hostile}").as_str()),
            "{env:?}"
        );
    }
    assert!(found, "no build step in {json}");
    assert!(!String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains("PWNED") && !l.contains("VERSION=")));
}

/// Every cache mount id of `strata llb --json`'s output.
fn cache_ids(json: &serde_json::Value) -> Vec<String> {
    let mut ids = vec![];
    for op in json["ops"].as_array().unwrap() {
        for m in op["op"]["mounts"].as_array().into_iter().flatten() {
            if let Some(id) = m["cache"]["id"].as_str() {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// `BUILDKIT_CACHE_MOUNT_NS` puts every cache mount (pip's, uv's, apt's, a build
/// step's) under `NS/`, as the Dockerfile frontend does; without it the ids are as
/// before.
#[test]
fn cache_mount_ids_honour_buildkit_cache_mount_ns() {
    let dir = TempDir::new("cache-ns");
    std::fs::write(
        dir.0.join("strata.toml"),
        "version = 1\n[image]\nbase = \"python:3.12-slim\"\n[system]\npackages = [\"curl\"]\n\
         [python]\ninstaller = \"uv\"\n[[python.layers]]\nname = \"base\"\nrequirements = [\"r.txt\"]\n\
         [[build]]\nname = \"lib\"\ncontext = [\".\"]\nrun = [\"true\"]\ncache = [\"/root/.cache/x\"]\noutputs = { \"/src/a\" = \"/opt/a\" }\n",
    )
    .unwrap();
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["llb", "strata.toml", "--json"];
        args.extend_from_slice(extra);
        let (out, _) = strata(&dir.0, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plain = cache_ids(&json(&[]));
    assert!(plain.iter().any(|i| i == "strata-uv"), "{plain:?}");
    assert!(
        plain.iter().any(|i| i.starts_with("strata-apt-")),
        "{plain:?}"
    );
    assert!(
        plain.iter().any(|i| i == "strata-build|lib|/root/.cache/x"),
        "{plain:?}"
    );
    let spaced = cache_ids(&json(&["--build-arg", "BUILDKIT_CACHE_MOUNT_NS=tenant-a"]));
    assert_eq!(spaced.len(), plain.len());
    for (a, b) in plain.iter().zip(&spaced) {
        assert_eq!(b, &format!("tenant-a/{a}"));
    }
    // An empty namespace changes nothing.
    assert_eq!(
        cache_ids(&json(&["--build-arg", "BUILDKIT_CACHE_MOUNT_NS="])),
        plain
    );
}

/// `[app] exclude = ["!.env"]` must not bring back what .dockerignore excludes: the
/// context view takes .dockerignore alone (so `.env` is never sent) and the copy
/// applies the app's patterns to what is left. Without `!` the LLB is as before: one
/// list on the view.
#[test]
fn app_exclude_negations_do_not_beat_dockerignore() {
    let dir = TempDir::new("exclude-neg");
    std::fs::write(dir.0.join(".dockerignore"), ".env\n*.log\n").unwrap();
    let spec = |exclude: &str| {
        format!("version = 1\n[image]\nbase = \"python:3.12-slim\"\n[app]\nexclude = {exclude}\n")
    };
    let app_ops = |exclude: &str| -> (serde_json::Value, serde_json::Value) {
        std::fs::write(dir.0.join("strata.toml"), spec(exclude)).unwrap();
        let (out, _) = strata(&dir.0, &["llb", "strata.toml", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ops = json["ops"].as_array().unwrap();
        let view = ops
            .iter()
            .find(|o| o["name"] == "[internal] load build context: app")
            .unwrap()["op"]["attrs"]
            .clone();
        // The app's files leave the context in the copy that stages them for the
        // bytecode compile (on by default).
        let copy = ops
            .iter()
            .find(|o| o["name"] == "[app] app: sources at /strata-app")
            .unwrap()["op"]["actions"][0]["action"]["copy"]
            .clone();
        (view, copy)
    };
    let (view, copy) = app_ops("[\"tests/\", \"!.env\"]");
    let defaults = [
        "**/.git",
        "**/__pycache__",
        "**/*.pyc",
        "**/.venv",
        "**/.pytest_cache",
    ];
    assert_eq!(
        view["local.excludepatterns"], r#"[".env","*.log"]"#,
        "{view}"
    );
    let mut expected: Vec<&str> = defaults.to_vec();
    expected.extend(["tests", "!.env"]);
    assert_eq!(copy["exclude"], serde_json::json!(expected), "{copy}");

    let (view, copy) = app_ops("[\"tests/\"]");
    let mut expected: Vec<&str> = vec![".env", "*.log"];
    expected.extend(defaults);
    expected.push("tests");
    assert_eq!(
        view["local.excludepatterns"],
        serde_json::to_string(&expected).unwrap(),
        "{view}"
    );
    assert_eq!(copy["exclude"], serde_json::json!([]), "{copy}");
}

/// Issue 15 #7: `strata check` of specs whose costs grew faster than their size.
/// The bounds are generous (a debug build on a shared machine); the behaviour they
/// guard against took minutes.
fn check_within(name: &str, spec: &str, bound: Duration) -> String {
    let dir = TempDir::new(name);
    std::fs::write(dir.0.join("strata.toml"), spec).unwrap();
    let (out, took) = strata(&dir.0, &["check", "strata.toml"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        took < bound,
        "{name}: `strata check` of {} bytes took {took:?}",
        spec.len()
    );
    eprintln!("{name}: {} bytes checked in {took:?}", spec.len());
    err
}

/// 300 services × 300 variants: 600 targets × 301 variant choices resolved. It took
/// 17 s in a release build (every resolution listed every target).
#[test]
fn hundreds_of_services_times_hundreds_of_variants_check_fast() {
    let mut s = String::from("version = 1\n[image]\nbase = \"python:3.12-slim\"\n");
    for i in 0..300 {
        s.push_str(&format!(
            "[services.s{i}]\nrun.cmd = [\"python\", \"-m\", \"s{i}\"]\n"
        ));
    }
    for v in 0..300 {
        s.push_str(&format!("[variants.v{v}]\nimage.env = {{ V = \"{v}\" }}\n"));
    }
    let err = check_within("services-variants", &s, Duration::from_secs(90));
    assert!(err.is_empty(), "{err}");
}

/// A service overriding 100,000 env keys of 100,000: the merge was N × M (200,000
/// keys took 59 s in a release build).
#[test]
fn a_big_env_map_merges_in_linear_time() {
    let keys: Vec<String> = (0..100_000).map(|i| format!("K{i} = \"{i}\"")).collect();
    let s = format!(
        "version = 1\n[image]\nbase = \"python:3.12-slim\"\nenv = {{ {} }}\n\
         [services.a.image]\nenv = {{ {} }}\n",
        keys.join(", "),
        keys.join(", ")
    );
    let err = check_within("env-merge", &s, Duration::from_secs(90));
    assert!(err.is_empty(), "{err}");
}

/// 60,000 errors, each located and rendered: locating one scanned the text up to it
/// (100,000 took 44 s in a release build).
#[test]
fn thousands_of_errors_render_in_linear_time() {
    let mut s =
        String::from("version = 1\n[image]\nbase = \"python:3.12-slim\"\n[system]\npackages = [\n");
    for i in 0..60_000 {
        s.push_str(&format!("  \"bad package {i}\",\n"));
    }
    s.push_str("]\n");
    let err = check_within("many-errors", &s, Duration::from_secs(90));
    assert_eq!(err.matches("error: ").count(), 60_000);
    assert!(
        err.contains("strata.toml:60005:"),
        "the last one is located"
    );
}
