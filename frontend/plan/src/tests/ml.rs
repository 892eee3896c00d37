//! Issue 13 in the plan: tier build settings, wheels of build steps, and build steps
//! with a venv, env, secrets, ssh and git credentials.

use super::*;

fn ml_target() -> Target {
    let mut t = target();
    // base: build-isolation default; core: no isolation, env, and (pip) constraints.
    t.tiers[1].build_isolation = false;
    t.tiers[1].env = BTreeMap::from([("MAX_JOBS".into(), "4".into())]);
    t.tiers[0].build_constraints = vec![loc("constraints-build.txt".into())];
    t.tiers.push(Tier {
        name: loc("native".into()),
        requirements: vec![],
        index_url: None,
        extra_index_urls: vec![],
        no_deps: true,
        dev: false,
        build_isolation: true,
        env: BTreeMap::new(),
        build_constraints: vec![],
        wheels: vec![loc("ttnn".into())],
    });
    t.builds.push(BuildStep {
        name: loc("ttnn".into()),
        source: BuildSource::None,
        run: vec!["pip wheel -w /src/dist .".into()],
        args: vec![],
        cache: vec![],
        outputs: BTreeMap::new(),
        venv: Some(loc("base".into())),
        env: BTreeMap::from([("CMAKE_BUILD_PARALLEL_LEVEL".into(), "8".into())]),
        secrets: vec![loc("hf-token".into())],
        ssh: true,
        wheels_dir: Some(loc("/src/dist".into())),
    });
    t
}

fn script(e: &Exec) -> &str {
    assert_eq!(e.args[..2], ["/bin/sh", "-c"]);
    &e.args[2]
}

#[test]
fn tier_settings_reach_only_their_own_install_step() {
    let p = plan(&ml_target(), &PlanOptions::default()).unwrap();
    let base = exec(find(&p, "[core] pip install tier base").1);
    let core = exec(find(&p, "[core] pip install tier core").1);
    assert!(!script(base).contains("--no-build-isolation"));
    assert!(
        script(core).contains(" --no-build-isolation "),
        "{}",
        script(core)
    );
    assert_eq!(core.env, [("MAX_JOBS".to_string(), "4".to_string())]);
    assert!(base.env.is_empty());
    // Wheels pip builds without isolation are not kept in the shared cache.
    assert!(core.mounts.contains(&Mount::Tmpfs {
        target: "/root/.cache/pip/wheels".into()
    }));
    assert!(!base.mounts.iter().any(|m| matches!(m, Mount::Tmpfs { .. })));
    // Old pip reads PIP_CONSTRAINT, pip >= 25.3 PIP_BUILD_CONSTRAINT: both from the
    // tier's context view.
    let s = script(base);
    assert!(
        s.contains("export PIP_BUILD_CONSTRAINT=/run/strata/context/constraints-build.txt"),
        "{s}"
    );
    assert!(
        s.contains("export PIP_CONSTRAINT=/run/strata/context/constraints-build.txt"),
        "{s}"
    );
    assert!(!script(core).contains("CONSTRAINT"));
    let ctx = |e: &Exec| match e.mounts.iter().find_map(|m| match m {
        Mount::Bind { target, from, .. } if target == "/run/strata/context" => Some(*from),
        _ => None,
    }) {
        Some(id) => match &p.node(id).kind {
            NodeKind::Context(v) => v.include.clone(),
            k => panic!("{k:?}"),
        },
        None => panic!("no context mount"),
    };
    assert_eq!(
        ctx(base),
        ["requirements-base.txt", "constraints-build.txt"]
    );
    assert_eq!(
        ctx(core),
        ["requirements-base.txt", "core/requirements.txt"],
        "constraints are the tier's own"
    );
    assert!(
        p.required_paths
            .iter()
            .any(|r| r.path == "constraints-build.txt"
                && r.what == "build-constraints of tier `base`")
    );
    // The image config never gets a tier's env.
    assert!(!p.config.env.contains_key("MAX_JOBS"));
    // The runtime config is untouched by build settings.
    assert!(p
        .config
        .env
        .keys()
        .all(|k| k != "CMAKE_BUILD_PARALLEL_LEVEL"));
}

#[test]
fn uv_takes_build_constraints_as_flags() {
    let mut t = ml_target();
    t.python.installer = Installer::Uv;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let base = exec(find(&p, "[core] uv install tier base").1);
    let a = base.args.join(" ");
    assert!(
        a.contains("--build-constraint /run/strata/context/constraints-build.txt"),
        "{a}"
    );
    assert!(!a.contains("PIP_"), "{a}");
    let core = exec(find(&p, "[core] uv install tier core").1);
    assert!(core
        .args
        .join(" ")
        .contains("--no-build-isolation --refresh"));
    assert!(!core.mounts.iter().any(|m| matches!(m, Mount::Tmpfs { .. })));
    assert!(core.env.contains(&("MAX_JOBS".into(), "4".into())));
}

#[test]
fn a_wheels_tier_installs_the_step_s_wheels_without_an_index() {
    let p = plan(&ml_target(), &PlanOptions::default()).unwrap();
    let (step_id, step) = find(&p, "[core] build ttnn");
    let native = exec(find(&p, "[core] pip install tier native").1);
    let s = script(native);
    assert!(s.contains("--no-deps --no-index"), "{s}");
    assert!(!s.contains("--index-url"), "{s}");
    assert!(s.contains(" /run/strata/wheels/ttnn/*.whl"), "{s}");
    assert!(native.mounts.contains(&Mount::Bind {
        target: "/run/strata/wheels/ttnn".into(),
        from: step_id,
        source: "/src/dist".into(),
    }));
    // The step fails, naming itself, when it leaves no wheel.
    let e = exec(step);
    assert!(script(e).contains("build step `ttnn` left no wheels in its wheels-dir /src/dist"));
    let _ = step_id;
}

#[test]
fn a_venv_step_runs_on_that_tier_with_the_venv_first_on_path() {
    let p = plan(&ml_target(), &PlanOptions::default()).unwrap();
    let (base_id, _) = find(&p, "[core] pip install tier base");
    let (_, prepared) = find(&p, "[core] build ttnn: empty /src");
    match &prepared.kind {
        NodeKind::File {
            base: Some(b),
            actions,
        } => {
            assert_eq!(*b, base_id, "the step runs on the venv as after tier base");
            assert!(matches!(&actions[..], [FileAction::Mkdir { path, .. }] if path == "/src"));
        }
        k => panic!("{k:?}"),
    }
    let e = exec(find(&p, "[core] build ttnn").1);
    let s = script(e);
    assert!(
        s.contains("export PATH=/opt/venv/bin:/opt/strata-tools/bin:\"$PATH\""),
        "{s}"
    );
    assert!(e.env.contains(&("VIRTUAL_ENV".into(), "/opt/venv".into())));
    assert!(e
        .env
        .contains(&("PIP_PYTHON".into(), "/opt/venv/bin/python".into())));
    assert!(e
        .env
        .contains(&("CMAKE_BUILD_PARALLEL_LEVEL".into(), "8".into())));
    assert!(e
        .mounts
        .iter()
        .any(|m| matches!(m, Mount::Bind { target, .. } if target == "/opt/strata-tools")));
    // The tier that installs its wheels comes after it in the venv chain.
    let (native_id, _) = find(&p, "[core] pip install tier native");
    assert!(native_id > base_id);
}

#[test]
fn secrets_and_ssh_are_mounts_of_that_step_only_and_never_traced() {
    let p = plan(&ml_target(), &PlanOptions::default()).unwrap();
    let e = exec(find(&p, "[core] build ttnn").1);
    assert!(e.mounts.contains(&Mount::Secret {
        target: "/run/secrets/hf-token".into(),
        id: "hf-token".into()
    }));
    assert!(e.mounts.contains(&Mount::Ssh {
        target: "/run/buildkit/ssh_agent.0".into(),
        id: "default".into()
    }));
    assert!(e
        .env
        .contains(&("SSH_AUTH_SOCK".into(), "/run/buildkit/ssh_agent.0".into())));
    let s = script(e);
    assert!(s.starts_with("set -eu\n"), "no `set -x` with secrets: {s}");
    assert!(
        s.contains("printf '+ %s\\n' 'pip wheel -w /src/dist .'\npip wheel -w /src/dist .\n"),
        "{s}"
    );
    // No other step sees them.
    for n in &p.nodes {
        if let NodeKind::Exec(x) = &n.kind {
            if n.name != "[core] build ttnn" {
                assert!(
                    !x.mounts
                        .iter()
                        .any(|m| matches!(m, Mount::Secret { .. } | Mount::Ssh { .. })),
                    "{}",
                    n.name
                );
            }
        }
    }
}

#[test]
fn git_sources_carry_their_auth_secrets_and_the_agent_for_ssh_remotes() {
    let mut t = target();
    t.builds.push(BuildStep {
        source: BuildSource::Git {
            url: "git@github.com:org/private.git".into(),
            reference: Some("v1".into()),
            auth_token_secret: Some("gh-token".into()),
            auth_header_secret: None,
        },
        ssh: true,
        ..git_step()
    });
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let g = p
        .nodes
        .iter()
        .find_map(|n| match &n.kind {
            NodeKind::Git(g) => Some(g),
            _ => None,
        })
        .unwrap();
    assert_eq!(g.auth_token_secret.as_deref(), Some("gh-token"));
    assert_eq!(g.auth_header_secret, None);
    assert_eq!(g.ssh_sock.as_deref(), Some("default"));
    // An https remote does not use the agent; the step without secrets keeps `set -eux`.
    let p = plan(
        &{
            let mut t = target();
            t.builds.push(git_step());
            t
        },
        &PlanOptions::default(),
    )
    .unwrap();
    let g = p
        .nodes
        .iter()
        .find_map(|n| match &n.kind {
            NodeKind::Git(g) => Some(g),
            _ => None,
        })
        .unwrap();
    assert_eq!(g.ssh_sock, None);
    assert!(script(exec(find(&p, "[core] build native").1)).starts_with("set -eux\n"));
}
