//! One test per kind of error: the rendered message (file, line, column, the
//! line, the marker, help).

use super::*;

const HEAD: &str = "version = 1\n[image]\nbase = \"python:3.12-slim\"\n";

fn spec(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(render("version = 1\n[system\npackages = []\n"), @r"
        error: invalid TOML: unclosed table, expected `]`
         --> strata.toml:2:8
          |
        2 | [system
          |        ^ unclosed table, expected `]`
    ");
}

#[test]
fn duplicate_toml_key() {
    insta::assert_snapshot!(render(&spec("[system]\npackages = []\npackages = [\"a\"]\n")), @r#"
        error: invalid TOML: duplicate key
         --> strata.toml:6:1
          |
        6 | packages = ["a"]
          | ^^^^^^^^ duplicate key
    "#);
}

#[test]
fn missing_version() {
    insta::assert_snapshot!(render("[image]\nbase = \"python:3.12-slim\"\n"), @r"
        error: missing `version`: the spec must start with `version = 1`
         --> strata.toml:1:2
          |
        1 | [image]
          |  ^^^^^ expected `version = 1` before this
          |
          = help: add `version = 1` at the top of the file, after the `# syntax=` line
    ");
}

#[test]
fn empty_spec() {
    insta::assert_snapshot!(render("# syntax=strata/frontend:dev\n\n"), @r"
        error: the spec is empty: it must start with `version = 1`
         --> strata.toml:1:1
          |
        1 | # syntax=strata/frontend:dev
          | ^ no `version = 1` in this file
          |
          = help: add `version = 1` at the top of the file, after the `# syntax=` line
    ");
    insta::assert_snapshot!(render(""), @r"
        error: the spec is empty: it must start with `version = 1`
         --> strata.toml:1:1
          |
        1 |
          | ^ no `version = 1` in this file
          |
          = help: add `version = 1` at the top of the file, after the `# syntax=` line
    ");
}

#[test]
fn unsupported_version() {
    insta::assert_snapshot!(render("version = 2\n"), @r"
        error: unsupported spec version 2
         --> strata.toml:1:11
          |
        1 | version = 2
          |           ^ this frontend reads version 1
          |
          = help: write `version = 1`, or use a frontend image that reads this version
    ");
}

#[test]
fn version_wrong_type() {
    insta::assert_snapshot!(render("version = \"1\"\n[image]\nbase = \"python:3.12-slim\"\n"), @r#"
        error: invalid type for `version` at the top level: expected the integer 1, found a string
         --> strata.toml:1:11
          |
        1 | version = "1"
          |           ^^^ expected `1`
          |
          = help: write `1` without quotes
    "#);
}

#[test]
fn unknown_key_did_you_mean() {
    insta::assert_snapshot!(render(&spec("[system]\npakages = [\"curl\"]\n")), @r#"
        error: unknown key `pakages` in [system]
         --> strata.toml:5:1
          |
        5 | pakages = ["curl"]
          | ^^^^^^^ unknown key
          |
          = help: did you mean `packages`?
    "#);
}

#[test]
fn unknown_table_did_you_mean() {
    insta::assert_snapshot!(render(&spec("[sytem]\npackages = [\"curl\"]\n")), @r"
        error: unknown table [sytem]
         --> strata.toml:4:2
          |
        4 | [sytem]
          |  ^^^^^ unknown table
          |
          = help: did you mean [system]?
    ");
}

#[test]
fn unknown_key_lists_keys() {
    insta::assert_snapshot!(render(&spec("[app]\nzzz = 1\n")), @r"
        error: unknown key `zzz` in [app]
         --> strata.toml:5:1
          |
        5 | zzz = 1
          | ^^^ unknown key
          |
          = note: expected one of `include`, `exclude`, `compile-bytecode` or `default-excludes`
    ");
}

#[test]
fn key_in_wrong_table() {
    insta::assert_snapshot!(render("version = 1\npackages = [\"curl\"]\n[image]\nbase = \"python:3.12\"\n"), @r#"
        error: unknown top-level key `packages`
         --> strata.toml:2:1
          |
        2 | packages = ["curl"]
          | ^^^^^^^^ unknown key
          |
          = help: `packages` belongs in [system]
    "#);
    insta::assert_snapshot!(render(&spec("[services.core.image]\nvenv = \"/v\"\n")), @r#"
        error: unknown key `venv` in [services.core.image]
         --> strata.toml:5:1
          |
        5 | venv = "/v"
          | ^^^^ unknown key
          |
          = help: `venv` belongs in [services.core.python]
    "#);
}

#[test]
fn top_level_only_key_in_variant() {
    insta::assert_snapshot!(render(&spec("[variants.cuda]\nargs.X = \"1\"\n")), @r#"
        error: unknown key `args` in [variants.cuda]
         --> strata.toml:5:1
          |
        5 | args.X = "1"
          | ^^^^ unknown key
          |
          = help: `args` can only be set at the top level
    "#);
}

#[test]
fn string_instead_of_array() {
    insta::assert_snapshot!(render(&spec("[run]\ncmd = \"python -m core\"\n")), @r#"
        error: invalid type for `cmd` in [run]: expected an array of strings, found a string
         --> strata.toml:5:7
          |
        5 | cmd = "python -m core"
          |       ^^^^^^^^^^^^^^^^ expected an array of strings
          |
          = help: write it as an array: `["python", "-m", "core"]` (exec form; for a shell use `["sh", "-c", "..."]`)
    "#);
}

#[test]
fn wrong_element_type() {
    insta::assert_snapshot!(render(&spec("[system]\npackages = [\"curl\", 1]\n")), @r#"
        error: invalid type for `packages` in [system]: expected an array of strings, found an integer
         --> strata.toml:5:21
          |
        5 | packages = ["curl", 1]
          |                     ^ expected a string
          |
          = help: write it as a string: `"1"`
    "#);
}

#[test]
fn integer_instead_of_string() {
    insta::assert_snapshot!(render(&spec("env = { PYTHONUNBUFFERED = 1 }\n")), @r#"
        error: invalid type for `PYTHONUNBUFFERED` in [image.env]: expected a string, found an integer
         --> strata.toml:4:28
          |
        4 | env = { PYTHONUNBUFFERED = 1 }
          |                            ^ expected a string
          |
          = help: write it as a string: `"1"`
    "#);
}

#[test]
fn arg_not_a_string() {
    insta::assert_snapshot!(render("version = 1\n[args]\nPY = 3.12\n"), @r#"
        error: invalid type for `PY` in [args]: expected a string, found a float
         --> strata.toml:3:6
          |
        3 | PY = 3.12
          |      ^^^^ expected a string
          |
          = help: write it as a string: `"3.12"`
    "#);
}

#[test]
fn invalid_arg_name() {
    insta::assert_snapshot!(render("version = 1\n[args]\n\"MY-ARG\" = \"x\"\n"), @r#"
        error: invalid build argument name `MY-ARG`
         --> strata.toml:3:1
          |
        3 | "MY-ARG" = "x"
          | ^^^^^^^^ names are letters, digits and `_`, not starting with a digit
    "#);
}

#[test]
fn relative_workdir() {
    insta::assert_snapshot!(render(&spec("workdir = \"app\"\n")), @r#"
        error: invalid value for `workdir` in [image]: must be an absolute path
         --> strata.toml:4:11
          |
        4 | workdir = "app"
          |           ^^^^^ not an absolute path
          |
          = help: write `/app`
    "#);
}

#[test]
fn path_leaves_context() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"../requirements.txt\"]\n")), @r#"
        error: invalid value for `requirements` in [[python.layers]]: `../requirements.txt` leaves the build context
         --> strata.toml:6:17
          |
        6 | requirements = ["../requirements.txt"]
          |                 ^^^^^^^^^^^^^^^^^^^^^ outside the build context
          |
          = help: only files in the build context can be used; move the file into it or widen the context
    "#);
}

#[test]
fn absolute_include() {
    insta::assert_snapshot!(render(&spec("[app]\ninclude = [\"/src/core\"]\n")), @r#"
        error: invalid value for `include` in [app]: paths are relative to the build context, not absolute
         --> strata.toml:5:12
          |
        5 | include = ["/src/core"]
          |            ^^^^^^^^^^^ absolute path
          |
          = help: write `src/core`
    "#);
}

#[test]
fn empty_requirements() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirements = []\n")), @r"
        error: `requirements` in [[python.layers]] must not be empty
         --> strata.toml:6:16
          |
        6 | requirements = []
          |                ^^ empty array
    ");
}

#[test]
fn missing_tier_name() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nrequirements = [\"r.txt\"]\n")), @r"
        error: missing `name` in [[python.layers]]
         --> strata.toml:4:1
          |
        4 | [[python.layers]]
          | ^^^^^^^^^^^^^^^^^ `name` is required here
    ");
}

#[test]
fn invalid_tier_name() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"Base\"\nrequirements = [\"r.txt\"]\n")), @r#"
        error: invalid value for `name` in [[python.layers]]: `Base` is not a valid name
         --> strata.toml:5:8
          |
        5 | name = "Base"
          |        ^^^^^^ names are lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit
          |
          = help: write `base`
    "#);
}

#[test]
fn duplicate_tier_name() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"a.txt\"]\n[[python.layers]]\nname = \"base\"\nrequirements = [\"b.txt\"]\n")), @r#"
        error: duplicate tier name `base`
         --> strata.toml:8:8
          |
        5 | name = "base"
          |        ------ first defined here
        ...
        8 | name = "base"
          |        ^^^^^^ `base` defined again here
          |
          = help: tier names must be unique; rename one of them
    "#);
}

#[test]
fn unknown_tier_in_layers() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"a.txt\"]\n[services.core]\nlayers = [\"bsae\"]\n")), @r#"
        error: unknown tier `bsae` in `layers` of service `core`
         --> strata.toml:8:11
          |
        8 | layers = ["bsae"]
          |           ^^^^^^ no [[python.layers]] entry has this name
          |
          = help: did you mean `base`?
          = note: the tiers are `base`
    "#);
}

#[test]
fn layers_out_of_order() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirements = [\"a.txt\"]\n[[python.layers]]\nname = \"core\"\nrequirements = [\"b.txt\"]\n[services.core]\nlayers = [\"core\", \"base\"]\n")), @r#"
        error: `layers` of service `core` lists tier `base` after `core`, but [[python.layers]] has `base` first
          --> strata.toml:11:19
           |
         5 | name = "base"
           |        ------ tier order is set here
        ...
        11 | layers = ["core", "base"]
           |                   ^^^^^^ `base` must come before `core`
           |
           = help: tiers are layered in the order of [[python.layers]]; list them in that order
    "#);
}

#[test]
fn unknown_installer() {
    insta::assert_snapshot!(render(&spec("[python]\ninstaller = \"uvv\"\n")), @r#"
        error: invalid value for `installer` in [python]: unknown installer `uvv`
         --> strata.toml:5:13
          |
        5 | installer = "uvv"
          |             ^^^^^ expected `pip` or `uv`
          |
          = help: did you mean `uv`?
    "#);
}

#[test]
fn bad_package_name() {
    insta::assert_snapshot!(render(&spec("[system]\npackages = [\"curl wget\"]\n")), @r#"
        error: invalid value for `packages` in [system]: `curl wget` is not a package name
         --> strata.toml:5:13
          |
        5 | packages = ["curl wget"]
          |             ^^^^^^^^^^^ whitespace is not allowed in a package name
          |
          = help: give each package as its own string: `["a", "b"]`
    "#);
}

#[test]
fn bad_ports() {
    insta::assert_snapshot!(render(&spec("[run]\nexpose = [70000, \"53/http\"]\n")), @r#"
        error: invalid value for `expose` in [run]: port 70000 is out of range
         --> strata.toml:5:11
          |
        5 | expose = [70000, "53/http"]
          |           ^^^^^ ports are 1-65535

        error: invalid value for `expose` in [run]: `53/http` is not a port
         --> strata.toml:5:18
          |
        5 | expose = [70000, "53/http"]
          |                  ^^^^^^^^^ the protocol is `tcp`, `udp` or `sctp`
    "#);
}

#[test]
fn unknown_signal() {
    insta::assert_snapshot!(render(&spec("[run]\nstop-signal = \"SIGTREM\"\n")), @r#"
        error: invalid value for `stop-signal` in [run]: unknown signal `SIGTREM`
         --> strata.toml:5:15
          |
        5 | stop-signal = "SIGTREM"
          |               ^^^^^^^^^ not a Linux signal
          |
          = help: did you mean `SIGTERM`?
    "#);
}

#[test]
fn healthcheck_without_cmd() {
    insta::assert_snapshot!(render(&spec("[run]\nhealthcheck = { interval = \"30s\" }\n")), @r#"
        error: missing `cmd` in [run.healthcheck]
         --> strata.toml:5:15
          |
        5 | healthcheck = { interval = "30s" }
          |               ^^^^^^^^^^^^^^^^^^^^ `cmd` is required here
    "#);
}

#[test]
fn bad_duration() {
    insta::assert_snapshot!(render(&spec("[run]\nhealthcheck = { cmd = [\"true\"], interval = \"30\" }\n")), @r#"
        error: invalid value for `interval` in [run.healthcheck]: `30` is not a duration
         --> strata.toml:5:44
          |
        5 | healthcheck = { cmd = ["true"], interval = "30" }
          |                                            ^^^^ expected a duration such as `30s`, `1m30s` or `500ms`
          |
          = help: add a unit: `30s`
    "#);
}

#[test]
fn negative_retries() {
    insta::assert_snapshot!(render(&spec("[run]\nhealthcheck = { cmd = [\"true\"], retries = -1 }\n")), @r#"
        error: invalid value for `retries` in [run.healthcheck]: -1 is out of range
         --> strata.toml:5:43
          |
        5 | healthcheck = { cmd = ["true"], retries = -1 }
          |                                           ^^ expected 0 to 4294967295
    "#);
}

#[test]
fn build_git_and_context() {
    insta::assert_snapshot!(render(&spec("[[build]]\nname = \"x\"\ngit = { url = \"https://h/r.git\" }\ncontext = [\"native/\"]\n")), @r#"
        error: [[build]] takes only one of `git` or `context`
         --> strata.toml:7:1
          |
        6 | git = { url = "https://h/r.git" }
          | --- and `git` here
        7 | context = ["native/"]
          | ^^^^^^^ `context` given here
    "#);
}

#[test]
fn build_single_table() {
    insta::assert_snapshot!(render(&spec("[build]\nname = \"x\"\ncontext = [\".\"]\n")), @r"
        error: invalid type for `build` at the top level: expected an array of tables, found a table
         --> strata.toml:4:1
          |
        4 | [build]
          | ^^^^^^^ a single table
          |
          = help: write the header as `[[build]]`
    ");
}

#[test]
fn build_relative_cache_and_output() {
    insta::assert_snapshot!(render(&spec("[[build]]\nname = \"x\"\ncontext = [\".\"]\ncache = [\"ccache\"]\noutputs = { \"out\" = \"/opt/x\" }\n")), @r#"
        error: invalid value for `cache` in [[build]]: must be an absolute path
         --> strata.toml:7:10
          |
        7 | cache = ["ccache"]
          |          ^^^^^^^^ not an absolute path
          |
          = help: write `/ccache`

        error: invalid key in [build.outputs]: must be an absolute path
         --> strata.toml:8:13
          |
        8 | outputs = { "out" = "/opt/x" }
          |             ^^^^^ not an absolute path
          |
          = help: write `/out`
    "#);
}

#[test]
fn bad_git_url() {
    insta::assert_snapshot!(render(&spec("[[build]]\nname = \"x\"\ngit = { url = \"github.com/a/b\" }\n")), @r#"
        error: invalid value for `url` in [build.git]: `github.com/a/b` is not a git URL
         --> strata.toml:6:15
          |
        6 | git = { url = "github.com/a/b" }
          |               ^^^^^^^^^^^^^^^^ expected `https://host/repo.git` or `git@host:repo.git`
    "#);
}

#[test]
fn unknown_build_arg_reference() {
    insta::assert_snapshot!(render("version = 1\n[args]\nCUDA_VERSION = \"12.4\"\n[image]\nbase = \"nvidia/cuda:${CUDA_VER}-runtime\"\n"), @r#"
        error: unknown build argument `${CUDA_VER}`
         --> strata.toml:5:21
          |
        5 | base = "nvidia/cuda:${CUDA_VER}-runtime"
          |                     ^^^^^^^^^^^ not declared in [args]
          |
          = help: did you mean `${CUDA_VERSION}`?
          = note: declared build arguments: `CUDA_VERSION`
    "#);
}

#[test]
fn unterminated_reference() {
    insta::assert_snapshot!(render(&spec("[run]\ncmd = [\"echo\", \"${HOME\"]\n")), @r#"
        error: unterminated `${` in a string
         --> strata.toml:5:17
          |
        5 | cmd = ["echo", "${HOME"]
          |                 ^^ this `${` has no closing `}`
          |
          = help: close it (`${NAME}`), or write `$${` for a literal `${`
    "#);
}

#[test]
fn unknown_variant() {
    let text = spec("[variants.cuda]\nimage.base = \"nvidia/cuda:12\"\n");
    insta::assert_snapshot!(render_with(&text, &[("VARIANT", "cdua")]), @r"
        error: unknown variant `cdua` selected by VARIANT
         --> strata.toml:4:2
          |
        4 | [variants.cuda]
          |  ^^^^^^^^ the variants are declared here
          |
          = help: did you mean `cuda`?
          = note: the variants are `cuda`
    ");
    insta::assert_snapshot!(render_with(HEAD, &[("VARIANT", "cuda")]), @r"
        error: unknown variant `cuda` selected by VARIANT
         --> strata.toml:1:1
          |
        1 | version = 1
          | ^^^^^^^^^^^ no [variants] in this spec
          |
          = note: this spec declares no [variants]
    ");
    let spec = parse(&text);
    let e = spec
        .resolve(None, &args(&[("VARIANT", "cdua")]))
        .unwrap_err();
    assert_eq!(
        e.first().message,
        "unknown variant `cdua` selected by VARIANT"
    );
    // A default VARIANT in [args] must name a variant too.
    insta::assert_snapshot!(render("version = 1\n[args]\nVARIANT = \"gpu\"\n[image]\nbase = \"python:3.12\"\n"), @r#"
        error: unknown variant `gpu` selected by VARIANT
         --> strata.toml:3:11
          |
        3 | VARIANT = "gpu"
          |           ^^^^^ the default VARIANT
          |
          = note: this spec declares no [variants]
    "#);
}

#[test]
fn unknown_service_in_variant() {
    insta::assert_snapshot!(render(&spec("[services.core]\n[variants.cuda.services.cor.run]\ncmd = [\"x\"]\n")), @r"
        error: unknown service `cor` in [variants.cuda]
         --> strata.toml:5:25
          |
        5 | [variants.cuda.services.cor.run]
          |                         ^^^ no such service
          |
          = help: did you mean `core`?
          = note: the services are `core`
    ");
}

#[test]
fn service_name_clash() {
    insta::assert_snapshot!(render(&spec("[services.core]\n[services.core-dev]\n")), @r"
        error: service name `core-dev` clashes with the development target of service `core`
         --> strata.toml:5:11
          |
        4 | [services.core]
          |           ---- `--target core-dev` already means this service's dev build
        5 | [services.core-dev]
          |           ^^^^^^^^ this name
          |
          = help: rename one of the services
    ");
}

#[test]
fn missing_base_image() {
    insta::assert_snapshot!(render("version = 1\n[services.core]\n[services.tts.image]\nbase = \"python:3.12\"\n"), @r"
        error: no base image for service `core`
         --> strata.toml:2:11
          |
        2 | [services.core]
          |           ^^^^ this service has no `base` image
          |
          = help: set `base` in [image], or in [services.core.image] for this service only
    ");
}

#[test]
fn image_reference_uppercase() {
    insta::assert_snapshot!(render("version = 1\n[image]\nbase = \"Python:3.12\"\n"), @r#"
        error: invalid value for `base` in [image]: `Python:3.12` is not a valid image reference
         --> strata.toml:3:8
          |
        3 | base = "Python:3.12"
          |        ^^^^^^^^^^^^^ repository names must be lowercase
          |
          = help: write `python:3.12`
    "#);
}

#[test]
fn numeric_user() {
    insta::assert_snapshot!(render(&spec("user = \"1000\"\n")), @r#"
        error: invalid value for `user` in [image]: `1000` is a numeric id; give a user name
         --> strata.toml:4:8
          |
        4 | user = "1000"
          |        ^^^^^^ not a user name
          |
          = help: strata creates the user with uid/gid 10001 (`uid`/`gid` in [image] set others); use `root` to run as root
    "#);
}

#[test]
fn value_invalid_after_expansion() {
    let text = "version = 1\n[args]\nWD = \"/app\"\n[image]\nbase = \"python:3.12\"\nworkdir = \"${WD}\"\n";
    assert_eq!(render(text), "");
    insta::assert_snapshot!(render_with(text, &[("WD", "srv")]), @r#"
        error: invalid value for `workdir` in [image]: must be an absolute path
         --> strata.toml:6:11
          |
        6 | workdir = "${WD}"
          |           ^^^^^^^ not an absolute path
          |
          = help: write `/srv`
    "#);
}

#[test]
fn target_errors() {
    let text = spec("[services.core]\n[services.tts]\n");
    let two = parse(&text);
    let none = BTreeMap::new();
    insta::assert_snapshot!(two.resolve(None, &none).unwrap_err().render(&file(&text), false), @r"
        error: this spec has several services: choose one with `--target`
         --> strata.toml:4:2
          |
        4 | [services.core]
          |  ^^^^^^^^ the services are declared here
          |
          = help: build one with `--target core` (docker buildx build) or `strata llb --target core`
          = note: the targets are `core`, `core-dev`, `tts` and `tts-dev`
    ");
    insta::assert_snapshot!(two.resolve(Some("tst"), &none).unwrap_err().render(&file(&text), false), @r"
        error: unknown target `tst`
         --> strata.toml:4:2
          |
        4 | [services.core]
          |  ^^^^^^^^ the services are declared here
          |
          = help: did you mean `tts`?
          = note: the targets are `core`, `core-dev`, `tts` and `tts-dev`
    ");
    let one = parse(HEAD);
    insta::assert_snapshot!(one.resolve(Some("core"), &none).unwrap_err().render(&file(HEAD), false), @r"
        error: unknown target `core`
         --> strata.toml:1:1
          |
        1 | version = 1
          | ^^^^^^^^^^^ this spec has no [services]
          |
          = note: build it without `--target`, or with `--target dev` for the development build
    ");
}

#[test]
fn no_base_image_without_services() {
    insta::assert_snapshot!(render("version = 1\n[image]\nworkdir = \"/srv\"\n"), @r#"
        error: no base image for the spec
         --> strata.toml:2:2
          |
        2 | [image]
          |  ^^^^^ no `base` image is set
          |
          = help: set `base` in [image], e.g. `base = "python:3.12-slim"`
    "#);
    insta::assert_snapshot!(render("version = 1\n[run]\ncmd = [\"x\"]\n"), @r#"
        error: no base image for the spec
         --> strata.toml:1:1
          |
        1 | version = 1
          | ^^^^^^^^^^^ no `base` image is set
          |
          = help: set `base` in [image], e.g. `base = "python:3.12-slim"`
    "#);
}

#[test]
fn warnings() {
    let text = "version = 1\n[args]\nA = \"1\"\n[image]\nbase = \"python\"\nbuilder = \"python:latest\"\nenv = { PIP_NO_CACHE_DIR = \"1\" }\n";
    insta::assert_snapshot!(render_with(text, &[("B", "2"), ("HTTP_PROXY", "x")]), @r#"
        warning: build argument `B` is not declared in [args]; it has no effect
        --> strata.toml
         = help: declare it in [args] to use it as `${B}`

        warning: base image `python` has no tag
         --> strata.toml:5:8
          |
        5 | base = "python"
          |        ^^^^^^^^ this image can change from one build to the next
          |
          = help: pin a version (e.g. `python:3.12-slim`) or a digest (`@sha256:...`) for reproducible builds

        warning: builder image `python:latest` uses the tag `latest`
         --> strata.toml:6:11
          |
        6 | builder = "python:latest"
          |           ^^^^^^^^^^^^^^^ this image can change from one build to the next
          |
          = help: pin a version (e.g. `python:3.12-slim`) or a digest (`@sha256:...`) for reproducible builds

        warning: `PIP_NO_CACHE_DIR` has no effect on strata's install steps
         --> strata.toml:7:9
          |
        7 | env = { PIP_NO_CACHE_DIR = "1" }
          |         ^^^^^^^^^^^^^^^^ only the running container gets this variable
          |
          = help: remove it: strata keeps pip's cache on a BuildKit cache mount, never in the image, and its install steps set the cache directory explicitly; in a Dockerfile this variable switches the cache mount off, here it only changes pip inside the container
    "#);
}

#[test]
fn misspelt_required_key_is_one_error() {
    insta::assert_snapshot!(render(&spec("[[python.layers]]\nname = \"base\"\nrequirement = [\"r.txt\"]\n")), @r#"
        error: unknown key `requirement` in [[python.layers]]
         --> strata.toml:6:1
          |
        6 | requirement = ["r.txt"]
          | ^^^^^^^^^^^ unknown key
          |
          = help: did you mean `requirements`?
    "#);
    insta::assert_snapshot!(render("verison = 1\n[image]\nbase = \"python:3.12\"\n"), @r"
        error: unknown top-level key `verison`
         --> strata.toml:1:1
          |
        1 | verison = 1
          | ^^^^^^^ unknown key
          |
          = help: did you mean `version`?
    ");
}

#[test]
fn uid_out_of_range() {
    insta::assert_snapshot!(render(&spec("uid = 0\ngid = 4294967296\n")), @r#"
        error: invalid value for `uid` in [image]: 0 is out of range
         --> strata.toml:4:7
          |
        4 | uid = 0
          |       ^ expected 1 to 2147483647
          |
          = help: 0 is root: to run as root write `user = "root"` and no uid/gid

        error: invalid value for `gid` in [image]: 4294967296 is out of range
         --> strata.toml:5:7
          |
        5 | gid = 4294967296
          |       ^^^^^^^^^^ expected 1 to 2147483647
          |
          = help: the created user's gid is 1 to 2147483647 (default 10001)
    "#);
}

#[test]
fn uid_with_root_user() {
    insta::assert_snapshot!(render(&spec("user = \"root\"\nuid = 1000\n")), @r#"
        error: `uid` in [image] is for the user strata creates, but `user` is `root`
         --> strata.toml:5:7
          |
        5 | uid = 1000
          |       ^^^^ no user is created with `user = "root"`
          |
          = help: remove `uid`, or set `user` to the name of the user to create
    "#);
}

#[test]
fn uid_as_a_string() {
    insta::assert_snapshot!(render(&spec("uid = \"1000\"\n")), @r#"
        error: invalid type for `uid` in [image]: expected an integer, found a string
         --> strata.toml:4:7
          |
        4 | uid = "1000"
          |       ^^^^^^ expected an integer
          |
          = help: write `1000` without quotes
    "#);
}

#[test]
fn dev_table_takes_only_env_and_run() {
    insta::assert_snapshot!(render(&spec("[services.api.dev]\nimage.base = \"python:3.13\"\npython.installer = \"uv\"\n")), @r#"
        error: unknown key `base` in [services.api.dev.image]
         --> strata.toml:5:7
          |
        5 | image.base = "python:3.13"
          |       ^^^^ unknown key
          |
          = help: a [dev] table overrides only `image.env` and `run` of the development target; its other settings are the service's own

        error: unknown key `python` in [services.api.dev]
         --> strata.toml:6:1
          |
        6 | python.installer = "uv"
          | ^^^^^^ unknown key
          |
          = help: a [dev] table overrides only `image.env` and `run` of the development target; its other settings are the service's own
    "#);
}
