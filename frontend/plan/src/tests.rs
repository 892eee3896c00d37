//! Planner tests on hand-made targets (the spec pass has its own tests).

use std::collections::BTreeMap;

use strata_spec::model::*;
use strata_spec::source::Span;

use crate::*;

fn loc<T>(v: T) -> Located<T> {
    Located::new(v, Span::new(1, 2))
}

pub fn target() -> Target {
    Target {
        service: Some("core".into()),
        dev: false,
        variant: None,
        image: Image {
            base: loc("python:3.12-slim".into()),
            builder: None,
            workdir: "/app".into(),
            user: User::Named("app".into()),
            env: BTreeMap::from([("APP_MODE".into(), "prod".into())]),
            labels: BTreeMap::from([("org.opencontainers.image.source".into(), "x".into())]),
            uid: APP_UID,
            gid: APP_UID,
        },
        system: System {
            packages: vec!["curl".into()],
            build_packages: vec!["gcc".into()],
        },
        python: Python {
            installer: Installer::Pip,
            interpreter: "python3".into(),
            venv: "/opt/venv".into(),
            index_url: None,
            extra_index_urls: vec![],
            compile_bytecode: true,
            prune_tests: true,
            netrc_secret: None,
        },
        tiers: vec![
            Tier {
                name: loc("base".into()),
                requirements: vec![loc("requirements-base.txt".into())],
                index_url: None,
                extra_index_urls: vec![],
                no_deps: false,
                dev: false,
                build_isolation: true,
                env: Default::default(),
                build_constraints: vec![],
                wheels: vec![],
            },
            Tier {
                name: loc("core".into()),
                requirements: vec![loc("core/requirements.txt".into())],
                index_url: None,
                extra_index_urls: vec![],
                no_deps: true,
                dev: false,
                build_isolation: true,
                env: Default::default(),
                build_constraints: vec![],
                wheels: vec![],
            },
        ],
        app: App {
            include: Some(vec![loc("core/".into()), loc("main.py".into())]),
            exclude: vec!["**/tests".into()],
            compile_bytecode: true,
            default_excludes: true,
        },
        run: Run {
            cmd: Some(vec!["python".into(), "-m".into(), "core".into()]),
            entrypoint: None,
            expose: vec![Port {
                number: 8000,
                protocol: Protocol::Tcp,
            }],
            stop_signal: Some("SIGTERM".into()),
            healthcheck: None,
        },
        builds: vec![],
    }
}

fn find<'a>(p: &'a Plan, name: &str) -> (NodeId, &'a Node) {
    let i = p
        .nodes
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no node {name:?} in {:#?}",
                p.nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
            )
        });
    (NodeId(i), &p.nodes[i])
}

fn exec(n: &Node) -> &Exec {
    match &n.kind {
        NodeKind::Exec(e) => e,
        k => panic!("not an exec: {k:?}"),
    }
}

#[test]
fn nodes_only_refer_to_earlier_nodes() {
    for layering in [Layering::MergeDiff, Layering::Copy] {
        let p = plan(
            &target(),
            &PlanOptions {
                layering,
                ..Default::default()
            },
        )
        .unwrap();
        for (i, n) in p.nodes.iter().enumerate() {
            let refs: Vec<NodeId> = match &n.kind {
                NodeKind::Exec(e) => std::iter::once(e.root)
                    .chain(e.mounts.iter().filter_map(|m| match m {
                        Mount::Bind { from, .. } => Some(*from),
                        _ => None,
                    }))
                    .collect(),
                NodeKind::File { base, actions } => base
                    .iter()
                    .copied()
                    .chain(actions.iter().filter_map(|a| match a {
                        FileAction::Copy { from, .. } => Some(*from),
                        _ => None,
                    }))
                    .collect(),
                NodeKind::Diff { lower, upper } => vec![*lower, *upper],
                NodeKind::Merge(v) => v.clone(),
                _ => vec![],
            };
            assert!(refs.iter().all(|r| r.0 < i), "{} refers forward", n.name);
        }
    }
}

#[test]
fn each_tier_sees_only_its_own_and_earlier_requirements() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let (_, core) = find(&p, "[core] pip install tier core");
    let e = exec(core);
    let ctx = e.mounts.iter().find_map(|m| match m {
        Mount::Bind { from, .. } => Some(*from),
        _ => None,
    });
    match &p.node(ctx.unwrap()).kind {
        NodeKind::Context(c) => {
            assert_eq!(
                c.include,
                vec!["requirements-base.txt", "core/requirements.txt"]
            )
        }
        k => panic!("{k:?}"),
    }
    // tier core installs on top of tier base
    let (base_id, _) = find(&p, "[core] pip install tier base");
    assert_eq!(e.root, base_id);
    assert!(e.args.join(" ").contains("--no-deps"));
    assert!(e.network);
}

#[test]
fn final_image_is_runtime_plus_one_layer_per_tier_plus_app() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let NodeKind::Merge(layers) = &p.node(p.output).kind else {
        panic!("output is not a merge")
    };
    let names: Vec<&str> = layers.iter().map(|l| p.node(*l).name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "[core] apt-get install curl",
            "[core] layer: venv /opt/venv",
            "[core] layer: tier base",
            "[core] layer: tier core",
            "[core] copy app to /app",
        ]
    );
    // build-only packages never reach the runtime chain
    let (_, rt) = find(&p, "[core] apt-get install curl");
    assert!(!exec(rt).args[2].contains("gcc"));
    let (_, bl) = find(&p, "[core] builder: apt-get install gcc");
    assert!(exec(bl).args[2].contains(" gcc"));
    assert!(
        !exec(bl).args[2].contains("curl"),
        "runtime packages stay off the builder"
    );
}

#[test]
fn copy_layering_copies_the_venv_and_has_no_merge() {
    let p = plan(
        &target(),
        &PlanOptions {
            layering: Layering::Copy,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(p
        .nodes
        .iter()
        .all(|n| !matches!(n.kind, NodeKind::Merge(_) | NodeKind::Diff { .. })));
    let (_, n) = find(&p, "[core] copy venv /opt/venv from builder");
    assert!(matches!(&n.kind, NodeKind::File { base: Some(_), .. }));
    assert_eq!(p.node(p.output).name, "[core] copy app to /app");
}

#[test]
fn workdir_belongs_to_the_user_and_app_files_to_root() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let (_, n) = find(&p, "[core] copy app to /app");
    let NodeKind::File { actions, .. } = &n.kind else {
        panic!()
    };
    assert!(matches!(
        &actions[0],
        FileAction::Mkdir {
            owner: Some((10001, 10001)),
            ..
        }
    ));
    assert!(matches!(
        &actions[1],
        FileAction::Copy {
            owner: Some((0, 0)),
            ..
        }
    ));
    assert_eq!(p.config.user.as_deref(), Some("10001:10001"));
}

#[test]
fn root_user_creates_nobody() {
    let mut t = target();
    t.image.user = User::Root;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    assert!(p.nodes.iter().all(|n| !n.name.contains("create user")));
    assert_eq!(p.config.user, None);
}

#[test]
fn config_puts_the_venv_first_on_path_and_keeps_user_env() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    assert_eq!(p.config.path_prepend, vec!["/opt/venv/bin"]);
    assert_eq!(
        p.config.env.get("VIRTUAL_ENV").map(String::as_str),
        Some("/opt/venv")
    );
    assert_eq!(
        p.config.env.get("APP_MODE").map(String::as_str),
        Some("prod")
    );
    assert_eq!(p.config.expose, vec!["8000/tcp"]);
}

#[test]
fn required_paths_name_requirements_and_includes() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let paths: Vec<&str> = p.required_paths.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "requirements-base.txt",
            "core/requirements.txt",
            "core/",
            "main.py"
        ]
    );
}

#[test]
fn no_tiers_no_builder() {
    let mut t = target();
    t.tiers.clear();
    let p = plan(&t, &PlanOptions::default()).unwrap();
    assert!(p
        .nodes
        .iter()
        .all(|n| !n.name.contains("builder") && !n.name.contains("venv")));
    assert!(p.config.path_prepend.is_empty());
}

fn git_step() -> BuildStep {
    BuildStep {
        name: loc("native".into()),
        source: BuildSource::Git {
            url: "https://example.com/lib.git".into(),
            reference: Some("v1".into()),
            auth_token_secret: None,
            auth_header_secret: None,
        },
        run: vec!["cmake -B build".into(), "cmake --build build".into()],
        args: vec![],
        cache: vec!["/root/.cache/ccache".into()],
        outputs: BTreeMap::from([("/src/build/install".into(), "/opt/lib".into())]),
        venv: None,
        env: BTreeMap::new(),
        secrets: vec![],
        ssh: false,
        wheels_dir: None,
    }
}

#[test]
fn build_steps_run_on_the_builder_beside_the_tiers_and_only_outputs_reach_the_image() {
    let mut t = target();
    t.builds.push(git_step());
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (run_id, run) = find(&p, "[core] build native");
    let e = exec(run);
    assert!(
        e.args[2].starts_with("set -eux\ncmake -B build\ncmake --build build\n"),
        "{:?}",
        e.args
    );
    assert_eq!(e.cwd, "/src");
    assert!(e
        .mounts
        .iter()
        .any(|m| matches!(m, Mount::Cache { target, .. } if target == "/root/.cache/ccache")));
    // sources copied onto the builder after its packages, not after any tier
    let (_, prep) = find(&p, "[core] build native: sources at /src");
    let NodeKind::File {
        base: Some(base), ..
    } = &prep.kind
    else {
        panic!()
    };
    assert_eq!(p.node(*base).name, "[core] builder: apt-get install gcc");
    let (_, git) = find(&p, "[internal] git source https://example.com/lib.git#v1");
    assert!(
        matches!(&git.kind, NodeKind::Git(g) if g.reference.as_deref() == Some("v1") && !g.keep_git_dir)
    );
    // the output is its own layer, copied from the build's result
    let (_, out) = find(
        &p,
        "[core] copy /src/build/install from build native to /opt/lib",
    );
    let NodeKind::File {
        base: None,
        actions,
    } = &out.kind
    else {
        panic!()
    };
    assert!(
        matches!(&actions[0], FileAction::Copy { from, src, dest, .. }
        if *from == run_id && src == "/src/build/install" && dest == "/opt/lib")
    );
    let NodeKind::Merge(layers) = &p.node(p.output).kind else {
        panic!()
    };
    assert!(layers
        .iter()
        .any(|l| p.node(*l).name.contains("copy /src/build/install")));
}

#[test]
fn build_steps_without_tiers_still_get_a_builder() {
    let mut t = target();
    t.tiers.clear();
    t.builds.push(BuildStep {
        source: BuildSource::Context(vec![loc("native/".into())]),
        ..git_step()
    });
    let p = plan(
        &t,
        &PlanOptions {
            layering: Layering::Copy,
            ..Default::default()
        },
    )
    .unwrap();
    find(&p, "[core] build native");
    find(
        &p,
        "[core] copy /src/build/install from build native to /opt/lib",
    );
    assert!(p.required_paths.iter().any(|r| r.path == "native/"));
}

#[test]
fn packages_use_the_image_s_own_manager_or_fail_clearly() {
    let mut o = PlanOptions::default();
    o.systems.insert(
        "python:3.12-slim".into(),
        BaseSystem {
            manager: PackageManager::Apk,
            release: "alpine-3.20".into(),
        },
    );
    let p = plan(&target(), &o).unwrap();
    let (_, n) = find(&p, "[core] apk install curl");
    assert!(exec(n).args[2].contains("apk add"));
    o.systems.insert(
        "python:3.12-slim".into(),
        BaseSystem {
            manager: PackageManager::None,
            release: "x".into(),
        },
    );
    let e = plan(&target(), &o).unwrap_err();
    assert!(
        e.to_string()
            .contains("has none (no apt-get, apk, dnf or microdnf)"),
        "{e}"
    );
    assert_eq!(e.span(), Some(Span::new(1, 2)));
}

#[test]
fn explain_mentions_every_step() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let text = explain(&p);
    for n in &p.nodes {
        assert!(text.contains(&n.name), "{} missing from:\n{text}", n.name);
    }
    assert!(
        text.contains("cache /root/.cache/pip (id strata-pip, Shared)"),
        "{text}"
    );
}

#[test]
fn the_installer_stays_in_the_builder() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let (tools, t) = find(&p, "[core] builder: install pip");
    let (venv, v) = find(&p, "[core] create venv /opt/venv");
    let (_, layer) = find(&p, "[core] layer: venv /opt/venv");
    // The tool venv and the app's venv are made side by side from the builder: no false
    // ordering edge between them, and the venv layer cannot hold the installer.
    assert_eq!(exec(v).root, exec(t).root);
    assert_eq!(
        layer.kind,
        NodeKind::Diff {
            lower: exec(t).root,
            upper: venv
        }
    );
    assert!(exec(v).args[2].contains("--without-pip"));
    // Each install step runs on the venv chain with the tools bind-mounted read-only.
    for tier in ["base", "core"] {
        let (_, n) = find(&p, &format!("[core] pip install tier {tier}"));
        assert!(
            exec(n).mounts.iter().any(|m| matches!(m, Mount::Bind { target, from, source }
                if target == "/opt/strata-tools" && *from == tools && source == "/opt/strata-tools")),
            "tier {tier} does not mount the tool venv"
        );
        assert_ne!(exec(n).root, tools);
    }
}

#[test]
fn production_tiers_prune_tests_and_dev_tiers_do_not() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let (_, n) = find(&p, "[core] pip install tier base");
    assert!(exec(n).args.join(" ").contains("-name tests"));
    let mut t = target();
    t.dev = true;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, n) = find(&p, "[core] pip install tier base");
    assert!(!exec(n).args.join(" ").contains("-name tests"));
    let (_, v) = find(&p, "[core] create venv /opt/venv");
    assert!(
        !exec(v).args[2].contains("--without-pip"),
        "dev venvs keep pip"
    );
    let mut t = target();
    t.python.prune_tests = false;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, n) = find(&p, "[core] pip install tier base");
    assert!(!exec(n).args.join(" ").contains("-name tests"));
}

#[test]
fn uv_tiers_use_the_uv_cache_and_its_tool_needs_the_network() {
    let mut t = target();
    t.python.installer = Installer::Uv;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, tools) = find(&p, "[core] builder: install uv");
    assert!(exec(tools).network);
    let (_, n) = find(&p, "[core] uv install tier base");
    let e = exec(n);
    assert!(e
        .mounts
        .iter()
        .any(|m| matches!(m, Mount::Cache { id, target, .. }
        if id == "strata-uv" && target == "/root/.cache/uv")));
    assert!(e
        .env
        .contains(&("UV_LINK_MODE".to_string(), "copy".to_string())));
}

#[test]
fn index_credentials_reach_only_the_download_steps() {
    let mut t = target();
    t.python.netrc_secret = Some("pip-netrc".into());
    t.python.installer = Installer::Uv;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let with_secret: Vec<&str> = p
        .nodes
        .iter()
        .filter(|n| {
            matches!(&n.kind, NodeKind::Exec(e) if e.mounts.iter().any(|m| matches!(m,
            Mount::Secret { id, target } if id == "pip-netrc" && target == "/root/.netrc")))
        })
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(
        with_secret,
        vec![
            "[core] builder: install uv",
            "[core] uv install tier base",
            "[core] uv install tier core"
        ]
    );
}

#[test]
fn an_empty_include_copies_nothing() {
    let mut t = target();
    t.app.include = Some(vec![]);
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, n) = find(&p, "[core] copy app to /app");
    let NodeKind::File { actions, .. } = &n.kind else {
        panic!()
    };
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(matches!(actions[0], FileAction::Mkdir { .. }));
}

/// Issue 15: a build argument's value reaches a build step as an environment
/// variable, never as text of its commands.
#[test]
fn build_args_reach_build_steps_as_environment_not_command_text() {
    let text = "version = 1\n[args]\nVERSION = \"1.0\"\n[image]\nbase = \"python:3.12-slim\"\n\
        [[build]]\nname = \"lib\"\ncontext = [\".\"]\n\
        run = [\"echo \\\"${VERSION}\\\" > v\", \"test \\\"$VERSION\\\" = \\\"$(cat v)\\\"\", \"echo $$HOME\"]\n";
    let file = strata_spec::SourceFile::new("strata.toml", text);
    let spec = strata_spec::Spec::parse(&file).unwrap();
    let hostile = "1\"; echo PWNED; echo \"";
    let args = BTreeMap::from([("VERSION".to_string(), hostile.to_string())]);
    let t = spec.resolve(None, &args).unwrap();
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, run) = find(&p, "[app] build lib");
    let e = exec(run);
    assert_eq!(
        e.args[2],
        "set -eux\necho \"${VERSION}\" > v\ntest \"$VERSION\" = \"$(cat v)\"\necho $HOME\n",
        "the commands are as written, whatever the value"
    );
    assert!(!e.args[2].contains("PWNED"));
    assert_eq!(e.env, vec![("VERSION".to_string(), hostile.to_string())]);

    // Without the --build-arg: the default.
    let t = spec.resolve(None, &BTreeMap::new()).unwrap();
    assert_eq!(
        t.builds[0].args,
        vec![("VERSION".to_string(), "1.0".to_string())]
    );
    // A step that names no build argument gets none (its cache does not depend on them).
    let text = text.replace("${VERSION}", "x").replace("$VERSION", "y");
    let file = strata_spec::SourceFile::new("strata.toml", text);
    let spec = strata_spec::Spec::parse(&file).unwrap();
    let t = spec.resolve(None, &args).unwrap();
    assert!(t.builds[0].args.is_empty());
}

#[test]
fn uid_and_gid_reach_the_user_the_workdir_and_the_config() {
    let mut t = target();
    t.image.uid = 1500;
    t.image.gid = 2500;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (_, u) = find(&p, "[core] create user app (uid 1500)");
    assert!(exec(u).args[2].contains("--uid 1500 --gid 2500"));
    let (_, n) = find(&p, "[core] copy app to /app");
    let NodeKind::File { actions, .. } = &n.kind else {
        panic!()
    };
    assert!(matches!(
        &actions[0],
        FileAction::Mkdir {
            owner: Some((1500, 2500)),
            ..
        }
    ));
    assert_eq!(p.config.user.as_deref(), Some("1500:2500"));
}

fn app_copy_source(p: &Plan) -> (&Node, String) {
    let (_, n) = find(p, "[core] copy app to /app");
    let NodeKind::File { actions, .. } = &n.kind else {
        panic!()
    };
    match &actions[1] {
        FileAction::Copy { from, src, .. } => (p.node(*from), src.clone()),
        a => panic!("not a copy: {a:?}"),
    }
}

#[test]
fn the_app_is_compiled_on_the_builder_image_and_copied_from_there() {
    let p = plan(&target(), &PlanOptions::default()).unwrap();
    let (from, src) = app_copy_source(&p);
    assert_eq!(from.name, "[core] compile app bytecode (checked-hash)");
    assert_eq!(src, "/strata-app");
    let e = exec(from);
    assert!(e.args[2].contains("CHECKED_HASH"), "{}", e.args[2]);
    assert!(
        e.args[2].contains("python3 - /strata-app /app"),
        "{}",
        e.args[2]
    );
    assert!(!e.network);
    // staged on the builder image itself, not on its packages: build-packages do not
    // rebuild the app layer
    let NodeKind::File {
        base: Some(base), ..
    } = &p.node(e.root).kind
    else {
        panic!()
    };
    assert_eq!(p.node(*base).name, "[core] FROM python:3.12-slim");

    let mut t = target();
    t.app.compile_bytecode = false;
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (from, src) = app_copy_source(&p);
    assert_eq!(from.name, "[internal] load build context: app");
    assert_eq!(src, "/");
    assert!(p.nodes.iter().all(|n| !n.name.contains("bytecode")));
}

#[test]
fn a_target_without_tiers_compiles_on_its_builder_image() {
    let mut t = target();
    t.tiers.clear();
    t.image.builder = Some(loc("python:3.12".into()));
    let p = plan(&t, &PlanOptions::default()).unwrap();
    let (from, _) = app_copy_source(&p);
    let NodeKind::File {
        base: Some(base), ..
    } = &p.node(exec(from).root).kind
    else {
        panic!()
    };
    assert_eq!(p.node(*base).name, "[core] builder: FROM python:3.12");
}

#[test]
fn the_app_view_never_holds_git_bytecode_or_venvs() {
    let view = |t: &Target| {
        let p = plan(t, &PlanOptions::default()).unwrap();
        let (_, n) = find(&p, "[internal] load build context: app");
        match &n.kind {
            NodeKind::Context(v) => v.exclude.clone(),
            k => panic!("{k:?}"),
        }
    };
    let ex = view(&target());
    assert_eq!(
        ex,
        vec![
            "**/.git",
            "**/__pycache__",
            "**/*.pyc",
            "**/.venv",
            "**/.pytest_cache",
            "**/tests"
        ],
        "the defaults first, so that a `!pattern` of [app] exclude re-includes"
    );
    let mut t = target();
    t.app.default_excludes = false;
    assert_eq!(view(&t), vec!["**/tests"]);
}
mod ml;
