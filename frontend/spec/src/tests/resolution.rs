//! Resolution: services, variants, dev tiers, merging, build arguments.

use super::*;
use crate::model::{BuildSource, Installer, Protocol, User};

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn tier_names(t: &crate::model::Target) -> Vec<&str> {
    t.tiers.iter().map(|t| t.name.value.as_str()).collect()
}

#[test]
fn example_checks_clean() {
    let spec = parse(EXAMPLE);
    let out = render(EXAMPLE);
    assert_eq!(out, "", "{out}");
    assert_eq!(spec.target_names(), ["core", "core-dev", "tts", "tts-dev"]);
    assert_eq!(spec.variant_names(), ["cuda"]);
    assert_eq!(
        spec.args().get("CUDA_VERSION").map(String::as_str),
        Some("12.4.0")
    );
    assert!(spec.warnings().is_empty());
}

#[test]
fn service_overrides() {
    let spec = parse(EXAMPLE);
    let core = spec.resolve(Some("core"), &none()).unwrap();
    assert_eq!(core.service.as_deref(), Some("core"));
    assert!(!core.dev);
    assert_eq!(core.variant, None);
    assert_eq!(core.image.base.value, "python:3.12-slim");
    assert_eq!(
        core.image.builder.as_ref().map(|b| b.value.as_str()),
        Some("python:3.12")
    );
    assert_eq!(core.image.user, User::Named("app".into()));
    assert_eq!(core.image.workdir, "/app");
    assert_eq!(tier_names(&core), ["base", "core"], "dev tier left out");
    assert_eq!(
        core.run.cmd.as_deref(),
        Some(&["python".to_string(), "-m".into(), "core".into()][..])
    );
    assert_eq!(core.run.entrypoint.as_deref(), Some(&[][..]));
    assert_eq!(core.run.stop_signal.as_deref(), Some("SIGTERM"));
    let hc = core.run.healthcheck.as_ref().unwrap();
    assert_eq!(hc.interval_ns, Some(30_000_000_000));
    assert_eq!(hc.timeout_ns, Some(3_000_000_000));
    assert_eq!(hc.start_period_ns, Some(40_000_000_000));
    assert_eq!(hc.retries, Some(3));
    assert_eq!(core.python.installer, Installer::Pip);
    assert_eq!(core.python.venv, "/opt/venv");
    assert!(core.python.compile_bytecode);

    let tts = spec.resolve(Some("tts"), &none()).unwrap();
    assert_eq!(tier_names(&tts), ["base", "cuda", "tts"]);
    assert!(
        tts.tiers
            .iter()
            .find(|t| t.name.value == "tts")
            .unwrap()
            .no_deps
    );
    // Maps merge key by key, lists replace.
    assert_eq!(
        tts.image.env.get("PYTHONUNBUFFERED").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        tts.image.env.get("TTS_MODEL").map(String::as_str),
        Some("small")
    );
    let ports: Vec<String> = tts.run.expose.iter().map(|p| p.to_string()).collect();
    assert_eq!(ports, ["9000/tcp", "9001/udp"]);
    assert_eq!(tts.run.cmd.as_ref().unwrap()[2], "tts");
    // Untouched tables come from the top level.
    assert_eq!(tts.system.packages, ["curl", "libsndfile1"]);
    assert_eq!(tts.app.include.as_ref().unwrap().len(), 3);
}

#[test]
fn dev_targets_add_dev_tiers() {
    let spec = parse(EXAMPLE);
    let core_dev = spec.resolve(Some("core-dev"), &none()).unwrap();
    assert!(core_dev.dev);
    assert_eq!(tier_names(&core_dev), ["base", "core", "tests"]);
    // tts does not name the dev tier in its `layers`.
    let tts_dev = spec.resolve(Some("tts-dev"), &none()).unwrap();
    assert_eq!(tier_names(&tts_dev), ["base", "cuda", "tts"]);

    let single = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"a\"\nrequirements = [\"a.txt\"]\n\
         [[python.layers]]\nname = \"t\"\nrequirements = [\"t.txt\"]\ndev = true\n",
    );
    assert_eq!(single.target_names(), ["app", "dev"]);
    let app = single.resolve(None, &none()).unwrap();
    assert_eq!((app.service.as_deref(), app.dev), (None, false));
    assert_eq!(tier_names(&app), ["a"]);
    assert_eq!(single.resolve(Some("app"), &none()).unwrap(), app);
    assert_eq!(single.resolve(Some(""), &none()).unwrap(), app);
    let dev = single.resolve(Some("dev"), &none()).unwrap();
    assert!(dev.dev);
    assert_eq!(tier_names(&dev), ["a", "t"]);
}

#[test]
fn one_declared_service_needs_no_target() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\n[services.api]\nrun.cmd = [\"api\"]\n",
    );
    let t = spec.resolve(None, &none()).unwrap();
    assert_eq!(t.service.as_deref(), Some("api"));
    assert!(spec.resolve(Some("dev"), &none()).unwrap().dev);
    assert!(spec.resolve(Some("api-dev"), &none()).unwrap().dev);
}

#[test]
fn variants_apply_after_services() {
    let spec = parse(EXAMPLE);
    let cuda = args(&[("VARIANT", "cuda")]);
    let tts = spec.resolve(Some("tts"), &cuda).unwrap();
    assert_eq!(tts.variant.as_deref(), Some("cuda"));
    assert_eq!(
        tts.image.base.value,
        "nvidia/cuda:12.4.0-runtime-ubuntu22.04"
    );
    // The variant's services.tts overrides come last, merged key by key.
    let env: Vec<(&str, &str)> = tts
        .image
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("CUDA", "1"),
            ("PYTHONUNBUFFERED", "1"),
            ("TTS_MODEL", "large")
        ]
    );
    assert_eq!(
        tts.run.cmd.as_ref().unwrap().last().map(String::as_str),
        Some("--cuda")
    );
    // Other services get the variant's top-level overrides only.
    let core = spec.resolve(Some("core"), &cuda).unwrap();
    assert_eq!(
        core.image.base.value,
        "nvidia/cuda:12.4.0-runtime-ubuntu22.04"
    );
    assert_eq!(core.run.cmd.as_ref().unwrap()[2], "core");
    assert!(!core.image.env.contains_key("CUDA"));
    // The span of an overridden value is where the override is written.
    let f = file(EXAMPLE);
    assert_eq!(
        f.slice(tts.image.base.span),
        Some("\"nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu22.04\"")
    );
}

#[test]
fn build_args_override_defaults() {
    let spec = parse(EXAMPLE);
    let a = args(&[("VARIANT", "cuda"), ("CUDA_VERSION", "12.6.1")]);
    let t = spec.resolve(Some("core"), &a).unwrap();
    assert_eq!(t.image.base.value, "nvidia/cuda:12.6.1-runtime-ubuntu22.04");
    match &t.builds[0].source {
        BuildSource::Git { url, reference, .. } => {
            assert_eq!(url, "https://github.com/tenstorrent/tt-metal.git");
            assert_eq!(reference.as_deref(), Some("v0.51.0"));
        }
        other => panic!("{other:?}"),
    }
    let t = spec
        .resolve(
            Some("core"),
            &args(&[("TT_METAL_COMMIT_SHA_OR_TAG", "abc123")]),
        )
        .unwrap();
    assert!(
        matches!(&t.builds[0].source, BuildSource::Git { reference: Some(r), .. } if r == "abc123")
    );
}

#[test]
fn builds_and_paths_are_normalised() {
    let spec = parse(EXAMPLE);
    let t = spec.resolve(Some("core"), &none()).unwrap();
    assert_eq!(t.builds.len(), 2);
    let native = &t.builds[1];
    assert_eq!(native.name.value, "native");
    match &native.source {
        BuildSource::Context(paths) => {
            assert_eq!(
                paths.iter().map(|p| p.value.as_str()).collect::<Vec<_>>(),
                ["native"]
            );
            assert_eq!(file(EXAMPLE).slice(paths[0].span), Some("\"./native//\""));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        native.outputs.get("/src/out").map(String::as_str),
        Some("/usr/local/lib/native")
    );
    assert_eq!(t.builds[0].cache, ["/root/.cache/ccache"]);
    let core_tier = t.tiers.iter().find(|t| t.name.value == "core").unwrap();
    assert_eq!(core_tier.requirements[0].value, "requirements-core.txt");
    let inc: Vec<&str> = t
        .app
        .include
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(inc, ["core", "shared", "main.py"]);
    assert_eq!(t.app.exclude, ["**/tests/", "**/*.md"]);
}

#[test]
fn dollar_dollar_and_variant_arg() {
    let spec = parse(
        "version = 1\n[args]\nA = \"x\"\n[image]\nbase = \"python:3.12\"\nlabels = { v = \"${VARIANT}\" }\n\
         [run]\ncmd = [\"sh\", \"-c\", \"echo $$HOME $HOME $${A} ${A}\"]\n[variants.gpu]\nimage.env.V = \"on-${VARIANT}\"\n",
    );
    let t = spec.resolve(None, &none()).unwrap();
    assert_eq!(t.run.cmd.as_ref().unwrap()[2], "echo $HOME $HOME ${A} x");
    assert_eq!(t.image.labels.get("v").map(String::as_str), Some(""));
    let t = spec
        .resolve(None, &args(&[("VARIANT", "gpu"), ("A", "y")]))
        .unwrap();
    assert_eq!(t.run.cmd.as_ref().unwrap()[2], "echo $HOME $HOME ${A} y");
    assert_eq!(t.image.labels.get("v").map(String::as_str), Some("gpu"));
    assert_eq!(t.image.env.get("V").map(String::as_str), Some("on-gpu"));
}

#[test]
fn default_variant_from_args() {
    let spec = parse(
        "version = 1\n[args]\nVARIANT = \"cpu\"\n[image]\nbase = \"python:3.12\"\n[variants.cpu]\nimage.base = \"python:3.12-slim\"\n[variants.gpu]\nimage.base = \"nvidia/cuda:12.4.0-runtime-ubuntu22.04\"\n",
    );
    assert_eq!(
        spec.resolve(None, &none()).unwrap().variant.as_deref(),
        Some("cpu")
    );
    assert_eq!(
        spec.resolve(None, &args(&[("VARIANT", "")]))
            .unwrap()
            .variant,
        None
    );
    assert_eq!(
        spec.resolve(None, &args(&[("VARIANT", "gpu")]))
            .unwrap()
            .variant
            .as_deref(),
        Some("gpu")
    );
}

#[test]
fn users_and_values() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\nuser = \"root\"\nworkdir = \"/srv/./app/\"\n[python]\ninstaller = \"uv\"\n\
         compile-bytecode = false\n[run]\nstop-signal = 9\nexpose = [\"8000\", 8000, \"53/udp\"]\n[services.a]\n[services.b.image]\nuser = \"svc\"\n",
    );
    let a = spec.resolve(Some("a"), &none()).unwrap();
    assert_eq!(a.image.user, User::Root);
    assert_eq!(a.image.workdir, "/srv/app");
    assert_eq!(a.python.installer, Installer::Uv);
    assert!(!a.python.compile_bytecode);
    assert_eq!(a.run.stop_signal.as_deref(), Some("9"));
    assert_eq!(a.run.expose.len(), 2, "duplicate ports are dropped");
    assert_eq!(a.run.expose[1].protocol, Protocol::Udp);
    assert_eq!(a.run.cmd, None, "absent keeps the base image's value");
    let b = spec.resolve(Some("b"), &none()).unwrap();
    assert_eq!(b.image.user, User::Named("svc".into()));
}

#[test]
fn service_may_replace_tier_list() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\n[[python.layers]]\nname = \"a\"\nrequirements = [\"a.txt\"]\n\
         [services.x]\n[[services.x.python.layers]]\nname = \"own\"\nrequirements = [\"own.txt\"]\n[services.y]\n",
    );
    assert_eq!(
        tier_names(&spec.resolve(Some("x"), &none()).unwrap()),
        ["own"]
    );
    assert_eq!(
        tier_names(&spec.resolve(Some("y"), &none()).unwrap()),
        ["a"]
    );
}

#[test]
fn check_covers_every_variant_and_target() {
    // Only wrong for tts under the cuda variant.
    let text = EXAMPLE.replace(
        "services.tts.run.cmd = [\"python\", \"-m\", \"tts\", \"--cuda\"]",
        "services.tts.layers = [\"base\", \"cuda\", \"tts\", \"gpu\"]",
    );
    let spec = parse(&text);
    assert!(spec.resolve(Some("tts"), &none()).is_ok());
    let errors: Vec<_> = spec
        .check(&none())
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0].message,
        "unknown tier `gpu` in `layers` of service `tts`"
    );
    assert_eq!(
        errors[0].notes.last().map(String::as_str),
        Some("with VARIANT=cuda")
    );
}

#[test]
fn check_covers_overridden_values() {
    // Every service overrides workdir; the top-level value is still checked.
    let text = "version = 1\n[args]\nW = \"/w\"\n[image]\nbase = \"python:3.12\"\nworkdir = \"${W}\"\n[services.a.image]\nworkdir = \"/a\"\n";
    let spec = parse(text);
    assert!(spec.check(&none()).is_empty());
    let diags = spec.check(&args(&[("W", "rel")]));
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("must be an absolute path"));
}

#[test]
fn spec_examples_check_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec-examples");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path().join("strata.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let out = render(&text);
        assert_eq!(out, "", "{}:\n{out}", path.display());
        let spec = parse(&text);
        for t in spec.target_names() {
            assert!(
                spec.resolve(Some(&t), &BTreeMap::new()).is_ok(),
                "{} --target {t}",
                path.display()
            );
        }
    }
}

#[test]
fn check_expands_variant_name_inside_variants() {
    let text = "version = 1\n[image]\nbase = \"python:3.12\"\n[variants.gpu]\nimage.base = \"reg.io/app:${VARIANT}\"\n";
    let spec = parse(text);
    assert!(spec.check(&none()).is_empty(), "{:#?}", spec.check(&none()));
    assert_eq!(
        spec.resolve(None, &args(&[("VARIANT", "gpu")]))
            .unwrap()
            .image
            .base
            .value,
        "reg.io/app:gpu"
    );
}

#[test]
fn uid_and_gid_of_the_created_user() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\n[services.a]\n[services.b.image]\nuid = 1500\n\
         [services.c.image]\nuid = 1500\ngid = 2500\n",
    );
    let ids = |s: &str| {
        let t = spec.resolve(Some(s), &none()).unwrap();
        (t.image.uid, t.image.gid)
    };
    assert_eq!(ids("a"), (10001, 10001));
    assert_eq!(ids("b"), (1500, 1500), "gid defaults to the uid");
    assert_eq!(ids("c"), (1500, 2500));
}

#[test]
fn dev_tables_override_env_and_run_of_dev_targets_only() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\nenv = { A = \"1\", LOG_LEVEL = \"info\" }\n\
         [run]\ncmd = [\"uvicorn\", \"api:app\"]\nexpose = [8000]\n\
         [dev]\nimage.env = { LOG_LEVEL = \"debug\" }\nrun.cmd = [\"uvicorn\", \"api:app\", \"--reload\"]\n\
         [services.api]\n[services.api.dev]\nimage.env = { RELOAD = \"1\" }\n\
         [services.worker]\nrun.cmd = [\"python\", \"-m\", \"worker\"]\n",
    );
    let api = spec.resolve(Some("api"), &none()).unwrap();
    assert_eq!(api.image.env["LOG_LEVEL"], "info");
    assert!(!api.image.env.contains_key("RELOAD"));
    assert_eq!(api.run.cmd.as_ref().unwrap().len(), 2);

    let dev = spec.resolve(Some("api-dev"), &none()).unwrap();
    assert_eq!(dev.image.env["LOG_LEVEL"], "debug", "top-level [dev]");
    assert_eq!(
        dev.image.env["RELOAD"], "1",
        "the service's dev merges over it"
    );
    assert_eq!(dev.image.env["A"], "1", "env merges key by key");
    assert_eq!(
        dev.run.cmd.as_deref().unwrap(),
        ["uvicorn", "api:app", "--reload"]
    );
    assert_eq!(dev.run.expose.len(), 1, "run merges key by key");

    // [dev] applies after the service's own settings.
    let w = spec.resolve(Some("worker-dev"), &none()).unwrap();
    assert_eq!(
        w.run.cmd.as_deref().unwrap(),
        ["uvicorn", "api:app", "--reload"]
    );
    let w = spec.resolve(Some("worker"), &none()).unwrap();
    assert_eq!(w.run.cmd.as_deref().unwrap(), ["python", "-m", "worker"]);
}

#[test]
fn dev_table_of_a_spec_without_services() {
    let spec = parse(
        "version = 1\n[image]\nbase = \"python:3.12\"\n[dev.run]\ncmd = [\"flask\", \"run\", \"--debug\"]\n",
    );
    assert_eq!(spec.resolve(None, &none()).unwrap().run.cmd, None);
    let dev = spec.resolve(Some("dev"), &none()).unwrap();
    assert_eq!(dev.run.cmd.as_deref().unwrap(), ["flask", "run", "--debug"]);
}
