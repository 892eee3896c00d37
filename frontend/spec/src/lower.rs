//! From the merged, expanded and checked table of one target to the typed
//! [`Target`]. Values were checked before (validate.rs); what is checked here is
//! what needs the whole target: a base image, the service's `layers`.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::model::{
    App, BuildSource, BuildStep, Healthcheck, Image, Installer, Located, Port, Python, Run, System,
    Target, Tier, User, APP_UID,
};
use crate::source::Span;
use crate::suggest;
use crate::value::{Kind, Table, Value};
use crate::values;

/// What is being resolved, for messages.
pub(crate) struct Subject<'a> {
    pub service: Option<&'a str>,
    /// Where the service is declared (`[services.NAME]`), if it is.
    pub service_span: Option<Span>,
    /// `[image]` (or `version = 1`): where "no base image" points without a service.
    pub anchor: Option<Span>,
    pub dev: bool,
    pub variant: Option<&'a str>,
    /// The build arguments' values (and `VARIANT`), for the build steps' environment.
    pub args: &'a std::collections::BTreeMap<String, String>,
}

impl Subject<'_> {
    fn describe(&self) -> String {
        let mut s = match self.service {
            Some(name) => format!("service `{name}`"),
            None => "the spec".to_string(),
        };
        if let Some(v) = self.variant {
            s.push_str(&format!(" with VARIANT={v}"));
        }
        s
    }
}

fn get<'t>(t: &'t Table, path: &[&str]) -> Option<&'t Value> {
    let (last, init) = path.split_last()?;
    let mut cur = t;
    for k in init {
        cur = cur.value(k)?.table()?;
    }
    cur.value(last)
}

fn string(t: &Table, path: &[&str]) -> Option<String> {
    get(t, path).and_then(Value::str).map(str::to_string)
}

fn located(v: &Value) -> Option<Located<String>> {
    v.str().map(|s| Located::new(s.to_string(), v.span))
}

fn boolean(t: &Table, path: &[&str]) -> Option<bool> {
    match get(t, path).map(|v| &v.kind) {
        Some(Kind::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::array).map(|items| {
        items
            .iter()
            .filter_map(Value::str)
            .map(str::to_string)
            .collect()
    })
}

fn string_map(v: Option<&Value>, norm: fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(t) = v.and_then(Value::table) {
        for e in &t.entries {
            if let (Some(k), Some(val)) = (norm(&e.key), e.value.str().and_then(norm)) {
                out.insert(k, val);
            }
        }
    }
    out
}

fn keep(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn abs(s: &str) -> Option<String> {
    values::abs_path(s).ok()
}

/// Normalised context-relative paths, keeping their spans.
fn rel_paths(v: Option<&Value>, file: bool) -> Option<Vec<Located<String>>> {
    let items = v.and_then(Value::array)?;
    Some(
        items
            .iter()
            .filter_map(|i| {
                let s = i.str()?;
                let norm = if file {
                    values::rel_file(s)
                } else {
                    values::rel_path(s)
                };
                norm.ok().map(|p| Located::new(p, i.span))
            })
            .collect(),
    )
}

pub(crate) fn lower(t: &Table, subject: &Subject<'_>) -> Result<Target, Vec<Diagnostic>> {
    let mut errors = Vec::new();

    let base = get(t, &["image", "base"]).and_then(located);
    if base.is_none() {
        let mut d = Diagnostic::error(format!("no base image for {}", subject.describe()))
            .with_help(match subject.service {
                Some(s) => format!(
                    "set `base` in [image], or in [services.{s}.image] for this service only"
                ),
                None => "set `base` in [image], e.g. `base = \"python:3.12-slim\"`".to_string(),
            });
        if let Some(span) = subject.service_span {
            d = d.with_primary(span, "this service has no `base` image");
        } else if let Some(span) = subject.anchor {
            d = d.with_primary(span, "no `base` image is set");
        }
        errors.push(d);
    }
    let user = match string(t, &["image", "user"]).as_deref() {
        None => User::Named("app".to_string()),
        Some("root") => User::Root,
        Some(name) => User::Named(name.to_string()),
    };
    let (uid, gid) = user_ids(t, &user, &mut errors);
    let image = base.map(|base| Image {
        base,
        builder: get(t, &["image", "builder"]).and_then(located),
        workdir: string(t, &["image", "workdir"])
            .and_then(|w| values::abs_path(&w).ok())
            .unwrap_or_else(|| "/app".to_string()),
        user,
        env: string_map(get(t, &["image", "env"]), keep),
        labels: string_map(get(t, &["image", "labels"]), keep),
        uid,
        gid,
    });

    let system = System {
        packages: strings(get(t, &["system", "packages"])).unwrap_or_default(),
        build_packages: strings(get(t, &["system", "build-packages"])).unwrap_or_default(),
    };

    let python = Python {
        installer: string(t, &["python", "installer"])
            .and_then(|i| values::installer(&i).ok())
            .unwrap_or(Installer::Pip),
        interpreter: string(t, &["python", "interpreter"]).unwrap_or_else(|| "python3".to_string()),
        venv: string(t, &["python", "venv"])
            .and_then(|v| values::abs_path(&v).ok())
            .unwrap_or_else(|| "/opt/venv".to_string()),
        index_url: string(t, &["python", "index-url"]),
        extra_index_urls: strings(get(t, &["python", "extra-index-urls"])).unwrap_or_default(),
        compile_bytecode: boolean(t, &["python", "compile-bytecode"]).unwrap_or(true),
        prune_tests: boolean(t, &["python", "prune-tests"]).unwrap_or(true),
        netrc_secret: string(t, &["python", "netrc-secret"]),
    };

    let all_tiers = tiers(get(t, &["python", "layers"]), &mut errors);
    let selected = match get(t, &["layers"]) {
        None => all_tiers,
        Some(layers) => select_tiers(all_tiers, layers, subject, &mut errors),
    };
    let tiers: Vec<Tier> = selected
        .into_iter()
        .filter(|tier| subject.dev || !tier.dev)
        .collect();

    let app = App {
        include: rel_paths(get(t, &["app", "include"]), false),
        exclude: strings(get(t, &["app", "exclude"])).unwrap_or_default(),
        compile_bytecode: boolean(t, &["app", "compile-bytecode"]).unwrap_or(true),
        default_excludes: boolean(t, &["app", "default-excludes"]).unwrap_or(true),
    };

    let run = lower_run(t);
    let builds = builds(get(t, &["build"]), subject.args);
    errors.extend(crate::links::check(&tiers, &builds, &subject.describe()));

    match image {
        Some(image) if errors.is_empty() => Ok(Target {
            service: subject.service.map(str::to_string),
            dev: subject.dev,
            variant: subject.variant.map(str::to_string),
            image,
            system,
            python,
            tiers,
            app,
            run,
            builds,
        }),
        _ => Err(errors),
    }
}

/// `[image] uid` and `gid` of the created user: the uid defaults to [`APP_UID`], the
/// gid to the uid. They name the created user, so with `user = "root"` they are an
/// error (at the value) rather than silently unused.
fn user_ids(t: &Table, user: &User, errors: &mut Vec<Diagnostic>) -> (u32, u32) {
    let id = |key: &str| -> Option<(u32, Span)> {
        let v = get(t, &["image", key])?;
        match v.kind {
            Kind::Int(n) => u32::try_from(n).ok().map(|n| (n, v.span)),
            _ => None,
        }
    };
    let (uid, gid) = (id("uid"), id("gid"));
    if *user == User::Root {
        for (key, found) in [("uid", uid), ("gid", gid)] {
            if let Some((_, span)) = found {
                errors.push(
                    Diagnostic::error(format!(
                        "`{key}` in [image] is for the user strata creates, but `user` is `root`"
                    ))
                    .with_primary(span, "no user is created with `user = \"root\"`")
                    .with_help(format!(
                        "remove `{key}`, or set `user` to the name of the user to create"
                    )),
                );
            }
        }
    }
    let uid = uid.map_or(APP_UID, |(n, _)| n);
    (uid, gid.map_or(uid, |(n, _)| n))
}

fn tiers(v: Option<&Value>, errors: &mut Vec<Diagnostic>) -> Vec<Tier> {
    let Some(items) = v.and_then(Value::array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| Some((item, item.table()?)))
        .filter_map(|(item, t)| {
            let name = t.value("name").and_then(located)?;
            errors.extend(crate::links::check_tier_table(&name.value, item.span, t));
            let requirements = rel_paths(t.value("requirements"), true).unwrap_or_default();
            let wheels: Vec<Located<String>> = t
                .value("wheels")
                .and_then(Value::array)
                .unwrap_or_default()
                .iter()
                .filter_map(located)
                .collect();
            // A tier of wheels only installs exactly them unless it says `no-deps = false`.
            let no_deps = match t.value("no-deps").map(|v| &v.kind) {
                Some(Kind::Bool(b)) => *b,
                _ => requirements.is_empty() && !wheels.is_empty(),
            };
            Some(Tier {
                name,
                requirements,
                index_url: t
                    .value("index-url")
                    .and_then(Value::str)
                    .map(str::to_string),
                extra_index_urls: strings(t.value("extra-index-urls")).unwrap_or_default(),
                no_deps,
                dev: matches!(t.value("dev").map(|v| &v.kind), Some(Kind::Bool(true))),
                build_isolation: !matches!(
                    t.value("build-isolation").map(|v| &v.kind),
                    Some(Kind::Bool(false))
                ),
                env: string_map(t.value("env"), keep),
                build_constraints: rel_paths(t.value("build-constraints"), true)
                    .unwrap_or_default(),
                wheels,
            })
        })
        .collect()
}

/// The tiers named in a service's `layers`, which must follow the tier order.
fn select_tiers(
    all: Vec<Tier>,
    layers: &Value,
    subject: &Subject<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Tier> {
    let names: Vec<&str> = all.iter().map(|t| t.name.value.as_str()).collect();
    let owner = match subject.service {
        Some(s) => format!("service `{s}`"),
        None => "the spec".to_string(),
    };
    let mut picked: Vec<(usize, &Value)> = Vec::new();
    for item in layers.array().unwrap_or_default() {
        let Some(name) = item.str() else { continue };
        let Some(idx) = names.iter().position(|n| *n == name) else {
            let mut d = Diagnostic::error(format!("unknown tier `{name}` in `layers` of {owner}"))
                .with_primary(item.span, "no [[python.layers]] entry has this name");
            d = match suggest::closest(name, names.iter().copied()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d,
            };
            d = if names.is_empty() {
                d.with_note("no tiers are declared: add [[python.layers]] entries")
            } else {
                d.with_note(format!("the tiers are {}", suggest::list(&names)))
            };
            if let Some(v) = subject.variant {
                d = d.with_note(format!("with VARIANT={v}"));
            }
            errors.push(d);
            continue;
        };
        if let Some((_, first)) = picked.iter().find(|(i, _)| *i == idx) {
            errors.push(
                Diagnostic::error(format!(
                    "tier `{name}` is listed twice in `layers` of {owner}"
                ))
                .with_primary(item.span, "listed again here")
                .with_secondary(first.span, "first listed here"),
            );
            continue;
        }
        if let Some((prev_idx, prev)) = picked.last() {
            if *prev_idx > idx {
                let prev_name = prev.str().unwrap_or("");
                let mut d = Diagnostic::error(format!(
                    "`layers` of {owner} lists tier `{name}` after `{prev_name}`, but [[python.layers]] has `{name}` first"
                ))
                .with_primary(item.span, format!("`{name}` must come before `{prev_name}`"));
                if let Some(t) = all.get(idx) {
                    d = d.with_secondary(t.name.span, "tier order is set here");
                }
                errors.push(d.with_help(
                    "tiers are layered in the order of [[python.layers]]; list them in that order",
                ));
                continue;
            }
        }
        picked.push((idx, item));
    }
    let keep: Vec<usize> = picked.iter().map(|(i, _)| *i).collect();
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, t)| t)
        .collect()
}

fn lower_run(t: &Table) -> Run {
    let mut expose: Vec<Port> = Vec::new();
    for item in get(t, &["run", "expose"])
        .and_then(Value::array)
        .unwrap_or_default()
    {
        let port = match &item.kind {
            Kind::Int(n) => values::port_number(*n).ok(),
            Kind::Str(s) => values::port_str(&s.text).ok(),
            _ => None,
        };
        if let Some(p) = port {
            if !expose.contains(&p) {
                expose.push(p);
            }
        }
    }
    let stop_signal = match get(t, &["run", "stop-signal"]).map(|v| &v.kind) {
        Some(Kind::Int(n)) => values::signal_number(*n).ok(),
        Some(Kind::Str(s)) => values::signal_str(&s.text).ok(),
        _ => None,
    };
    let healthcheck = get(t, &["run", "healthcheck"])
        .and_then(Value::table)
        .map(|h| {
            let dur = |k: &str| {
                h.value(k)
                    .and_then(Value::str)
                    .and_then(|s| values::duration(s).ok())
            };
            Healthcheck {
                cmd: strings(h.value("cmd")).unwrap_or_default(),
                interval_ns: dur("interval"),
                timeout_ns: dur("timeout"),
                start_period_ns: dur("start-period"),
                retries: match h.value("retries").map(|v| &v.kind) {
                    Some(Kind::Int(n)) => u32::try_from(*n).ok(),
                    _ => None,
                },
            }
        });
    Run {
        cmd: strings(get(t, &["run", "cmd"])),
        entrypoint: strings(get(t, &["run", "entrypoint"])),
        expose,
        stop_signal,
        healthcheck,
    }
}

fn builds(v: Option<&Value>, args: &std::collections::BTreeMap<String, String>) -> Vec<BuildStep> {
    let Some(items) = v.and_then(Value::array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::table)
        .filter_map(|b| {
            let source = match (b.value("git").and_then(Value::table), b.value("context")) {
                (Some(g), _) => BuildSource::Git {
                    url: g.value("url").and_then(Value::str)?.to_string(),
                    reference: g.value("ref").and_then(Value::str).map(str::to_string),
                    auth_token_secret: g
                        .value("auth-secret")
                        .and_then(Value::str)
                        .map(str::to_string),
                    auth_header_secret: g
                        .value("auth-header-secret")
                        .and_then(Value::str)
                        .map(str::to_string),
                },
                (None, Some(ctx)) => BuildSource::Context(rel_paths(Some(ctx), false)?),
                (None, None) => BuildSource::None,
            };
            let run = strings(b.value("run")).unwrap_or_default();
            Some(BuildStep {
                name: b.value("name").and_then(located)?,
                source,
                args: crate::expand::shell_env(&run, args),
                run,
                cache: strings(b.value("cache"))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|c| abs(c))
                    .collect(),
                outputs: string_map(b.value("outputs"), abs),
                venv: b.value("venv").and_then(located),
                env: string_map(b.value("env"), keep),
                secrets: b
                    .value("secrets")
                    .and_then(Value::array)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(located)
                    .collect(),
                ssh: matches!(b.value("ssh").map(|v| &v.kind), Some(Kind::Bool(true))),
                wheels_dir: b.value("wheels-dir").and_then(|v| {
                    let p = abs(v.str()?)?;
                    Some(Located::new(p, v.span))
                }),
            })
        })
        .collect()
}
