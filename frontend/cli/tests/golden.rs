//! Golden tests: the LLB (as readable JSON) and the explanation of every example spec,
//! pinned with insta snapshots, plus the guarantee that `strata llb` is deterministic.
//! No daemon: the end-to-end tests in tests/e2e build these same specs for real.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec-examples")
}

/// (snapshot name, spec path, extra args) for every target worth pinning.
fn cases() -> Vec<(String, PathBuf, Vec<&'static str>)> {
    let ex = examples();
    vec![
        (
            "fastapi-hello".into(),
            ex.join("fastapi-hello/strata.toml"),
            vec![],
        ),
        (
            "fastapi-hello-copy-layers".into(),
            ex.join("fastapi-hello/strata.toml"),
            vec!["--copy-layers"],
        ),
        (
            "two-services-api".into(),
            ex.join("two-services/strata.toml"),
            vec!["--target", "api"],
        ),
        (
            "two-services-worker".into(),
            ex.join("two-services/strata.toml"),
            vec!["--target", "worker"],
        ),
        (
            "mlbuild".into(),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlbuild/strata.toml"),
            vec![],
        ),
        (
            "gpu-service-cpu".into(),
            ex.join("gpu-service/strata.toml"),
            vec![],
        ),
        (
            "gpu-service-cuda".into(),
            ex.join("gpu-service/strata.toml"),
            vec!["--build-arg", "VARIANT=cuda"],
        ),
        (
            "gpu-service-dev".into(),
            ex.join("gpu-service/strata.toml"),
            vec!["--target", "dev"],
        ),
    ]
}

fn stdout_of(args: &[&str]) -> Vec<u8> {
    let out = strata(args);
    assert!(
        out.status.success(),
        "strata {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn llb_json_is_pinned() {
    for (name, spec, extra) in cases() {
        let spec = spec.to_str().unwrap();
        let mut args = vec!["llb", spec, "--json"];
        args.extend(&extra);
        let json: serde_json::Value = serde_json::from_slice(&stdout_of(&args)).unwrap();
        insta::assert_json_snapshot!(format!("llb-{name}"), json);
    }
}

#[test]
fn explain_is_pinned() {
    for (name, spec, extra) in cases() {
        let spec = spec.to_str().unwrap();
        let mut args = vec!["explain", spec];
        args.extend(&extra);
        let text = String::from_utf8(stdout_of(&args)).unwrap();
        insta::assert_snapshot!(format!("explain-{name}"), text);
    }
}

#[test]
fn llb_bytes_are_identical_across_runs() {
    for (_, spec, extra) in cases() {
        let spec = spec.to_str().unwrap();
        let mut args = vec!["llb", spec];
        args.extend(&extra);
        let a = stdout_of(&args);
        let b = stdout_of(&args);
        assert!(!a.is_empty());
        assert_eq!(a, b, "two runs of strata {args:?} differ");
    }
}

#[test]
fn targets_share_their_common_tier_ops() {
    // Two services that share the `base` tier compile it to the same op digest.
    let spec = examples().join("two-services/strata.toml");
    let spec = spec.to_str().unwrap();
    let digests = |target: &str| -> Vec<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_slice(&stdout_of(&["llb", spec, "--json", "--target", target]))
                .unwrap();
        v["ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| {
                Some((
                    o["name"].as_str()?.to_string(),
                    o["digest"].as_str()?.to_string(),
                ))
            })
            .collect()
    };
    let api = digests("api");
    let worker = digests("worker");
    let tier = |ops: &[(String, String)]| {
        ops.iter()
            .find(|(n, _)| n.ends_with("pip install tier base"))
            .map(|(_, d)| d.clone())
    };
    assert!(tier(&api).is_some(), "no base tier in {api:?}");
    assert_eq!(tier(&api), tier(&worker));
}

#[test]
fn a_runtime_package_keeps_the_tier_ops_of_a_service_without_it() {
    // `tts` adds ffmpeg to the runtime image; its builder, tiers and tier layers are
    // `core`'s, digest for digest (runtime packages never reach the builder).
    let dir = tempdir().join("runtime-pkg");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("strata.toml");
    std::fs::write(
        &spec,
        r#"version = 1
[image]
base = "python:3.12-slim"
[system]
build-packages = ["gcc"]
[[python.layers]]
name = "base"
requirements = ["requirements.txt"]
[services.core]
[services.tts]
system.packages = ["ffmpeg"]
"#,
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    let ops = |target: &str| -> Vec<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_slice(&stdout_of(&["llb", spec, "--json", "--target", target]))
                .unwrap();
        v["ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| {
                let name = o["name"].as_str()?;
                let name = name.split_once("] ").map_or(name, |(_, n)| n);
                Some((name.to_string(), o["digest"].as_str()?.to_string()))
            })
            .collect()
    };
    let (core, tts) = (ops("core"), ops("tts"));
    let digest = |ops: &[(String, String)], name: &str| {
        ops.iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no op `{name}` in {ops:?}"))
    };
    for name in [
        "builder: apt-get install gcc",
        "pip install tier base",
        "layer: venv /opt/venv",
        "layer: tier base",
    ] {
        assert_eq!(digest(&core, name), digest(&tts, name), "{name}");
    }
    assert!(tts.iter().any(|(n, _)| n == "apt-get install ffmpeg"));
    assert!(!core.iter().any(|(n, _)| n.contains("ffmpeg")));
}

#[test]
fn gpu_service_variants_share_what_the_variant_does_not_change() {
    // CPU and CUDA differ in the runtime base and tier `torch` (and so `speech` above it);
    // the builder, tier `base`, the venv and both build steps (fastmel builds against the
    // venv as tier `base` left it) are the same ops.
    let spec = examples().join("gpu-service/strata.toml");
    let spec = spec.to_str().unwrap();
    let ops = |variant: &str| -> Vec<(String, String)> {
        let arg = format!("VARIANT={variant}");
        let v: serde_json::Value =
            serde_json::from_slice(&stdout_of(&["llb", spec, "--json", "--build-arg", &arg]))
                .unwrap();
        v["ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| Some((o["name"].as_str()?.into(), o["digest"].as_str()?.into())))
            .collect()
    };
    let (cpu, cuda) = (ops("cpu"), ops("cuda"));
    let digest = |ops: &[(String, String)], name: &str| {
        ops.iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no op `{name}` in {ops:?}"))
    };
    for name in [
        "[app] builder: apt-get install gcc libc6-dev python3-dev",
        "[app] pip install tier base",
        "[app] layer: tier base",
        "[app] layer: venv /opt/venv",
        "[app] build fastmel",
        "[app] build model",
        "[app] copy /opt/model from build model to /opt/models/whisper-tiny",
    ] {
        assert_eq!(digest(&cpu, name), digest(&cuda, name), "{name}");
    }
    assert_ne!(
        digest(&cpu, "[app] pip install tier torch"),
        digest(&cuda, "[app] pip install tier torch")
    );
}

#[test]
fn check_fails_on_a_misspelt_key_with_file_line_and_suggestion() {
    let dir = tempdir();
    let spec = dir.join("strata.toml");
    std::fs::write(
        &spec,
        "version = 1\n[image]\nbase = \"python:3.12-slim\"\n[system]\npakages = [\"curl\"]\n",
    )
    .unwrap();
    let out = strata(&["check", spec.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pakages"), "{err}");
    assert!(err.contains("strata.toml:5:1"), "{err}");
    assert!(err.contains("did you mean `packages`"), "{err}");
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("strata-golden-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
