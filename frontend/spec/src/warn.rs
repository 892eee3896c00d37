//! Warnings: settings that work, but not as the user likely wants.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::expand;
use crate::suggest;
use crate::value::{Table, Value};
use crate::values;

/// Environment variables that switch off the installers' caches.
const NO_CACHE_VARS: &[(&str, &str)] = &[("PIP_NO_CACHE_DIR", "pip"), ("UV_NO_CACHE", "uv")];

/// Build arguments BuildKit and Docker define for every build.
fn predefined_arg(name: &str) -> bool {
    const PROXIES: &[&str] = &[
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ];
    name.starts_with("BUILDKIT_")
        || name == "SOURCE_DATE_EPOCH"
        || PROXIES.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Warnings that need no build arguments, from every `[image]` table of the spec
/// (top level, services, variants, variants' services).
pub(crate) fn static_warnings(root: &Table) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for image in image_tables(root) {
        out.extend(image_warnings(image, false));
    }
    out
}

fn named<'t>(t: &'t Table, key: &str) -> Vec<&'t Table> {
    t.value(key)
        .and_then(Value::table)
        .map(|n| n.entries.iter().filter_map(|e| e.value.table()).collect())
        .unwrap_or_default()
}

fn image_tables(root: &Table) -> Vec<&Table> {
    let mut layers: Vec<&Table> = vec![root];
    let mut rest: Vec<&Table> = named(root, "services");
    for v in named(root, "variants") {
        rest.push(v);
        rest.extend(named(v, "services"));
    }
    layers.extend(rest);
    layers
        .iter()
        .filter_map(|t| t.value("image").and_then(Value::table))
        .collect()
}

/// Warnings about one `[image]` table. `expanded`: its strings are final; otherwise
/// strings that refer to build arguments are skipped.
pub(crate) fn image_warnings(image: &Table, expanded: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(env) = image.value("env").and_then(Value::table) {
        for e in &env.entries {
            if let Some((_, tool)) = NO_CACHE_VARS.iter().find(|(k, _)| *k == e.key) {
                out.push(
                    Diagnostic::warning(format!("`{}` has no effect on strata's install steps", e.key))
                        .with_primary(e.key_span, "only the running container gets this variable")
                        .with_help(format!(
                            "remove it: strata keeps {tool}'s cache on a BuildKit cache mount, never in the image, \
                             and its install steps set the cache directory explicitly; in a Dockerfile this \
                             variable switches the cache mount off, here it only changes {tool} inside the container"
                        )),
                );
            }
        }
    }
    for key in ["base", "builder"] {
        if let Some(v) = image.value(key) {
            if let Some(d) = floating_image(key, v, expanded) {
                out.push(d);
            }
        }
    }
    out
}

fn floating_image(key: &str, v: &Value, expanded: bool) -> Option<Diagnostic> {
    let raw = v.str()?;
    let text = if expanded {
        raw.to_string()
    } else if expand::has_refs(raw) {
        return None;
    } else {
        expand::expand_value(v, raw, &|_| None, &[]).ok()?
    };
    if values::image_ref(&text).is_err() {
        return None;
    }
    let why = values::floating_tag(&text)?;
    let what = if key == "base" {
        "base image"
    } else {
        "builder image"
    };
    Some(
        Diagnostic::warning(format!("{what} `{text}` {why}"))
            .with_primary(v.span, "this image can change from one build to the next")
            .with_help("pin a version (e.g. `python:3.12-slim`) or a digest (`@sha256:...`) for reproducible builds"),
    )
}

/// `--build-arg`s that no `[args]` entry declares: they have no effect.
pub(crate) fn unused_build_args(
    declared: &BTreeMap<String, String>,
    build_args: &BTreeMap<String, String>,
) -> Vec<Diagnostic> {
    let names: Vec<&str> = declared.keys().map(String::as_str).collect();
    build_args
        .keys()
        .filter(|k| !declared.contains_key(*k) && *k != expand::VARIANT && !predefined_arg(k))
        .map(|k| {
            let d = Diagnostic::warning(format!(
                "build argument `{k}` is not declared in [args]; it has no effect"
            ));
            match suggest::closest(k, names.iter().copied()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(format!("declare it in [args] to use it as `${{{k}}}`")),
            }
        })
        .collect()
}
