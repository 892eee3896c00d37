//! Resolving one target: pick the service and variant, merge the layers
//! (top level, service, variant, variant's service), expand `${}`, check, lower.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::expand::{self, VARIANT};
use crate::lower::{self, Subject};
use crate::merge::merge;
use crate::model::Target;
use crate::schema::SERVICE;
use crate::source::Span;
use crate::spec::Spec;
use crate::suggest;
use crate::validate::{Mode, Walker};
use crate::warn;

/// The implicit target name of a spec without `[services]`.
pub(crate) const DEFAULT_TARGET: &str = "app";
/// Its development flavour.
pub(crate) const DEV_TARGET: &str = "dev";

/// `d` pointing at `span` (when there is one): messages about the spec as a whole
/// still get a line, which buildx shows.
fn at(d: Diagnostic, span: Option<Span>, label: &str) -> Diagnostic {
    match span {
        Some(s) => d.with_primary(s, label),
        None => d,
    }
}

/// A chosen target: a service (or none) and whether it is the dev flavour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    pub service: Option<String>,
    pub dev: bool,
}

pub(crate) fn select(spec: &Spec, target: Option<&str>) -> Result<Selected, Diagnostic> {
    let services = spec.service_names();
    let target = target.filter(|t| !t.is_empty());
    // The list of targets is for messages only: made when one is needed (`check`
    // selects every target of a spec with hundreds of services).
    let known = || spec.target_names();
    let Some(target) = target else {
        return match services.as_slice() {
            [] => Ok(Selected {
                service: None,
                dev: false,
            }),
            [only] => Ok(Selected {
                service: Some(only.to_string()),
                dev: false,
            }),
            _ => Err(at(
                Diagnostic::error("this spec has several services: choose one with `--target`"),
                spec.table_span("services"),
                "the services are declared here",
            )
            .with_help(format!(
                "build one with `--target {}` (docker buildx build) or `strata llb --target {}`",
                services[0], services[0]
            ))
            .with_note({
                let known = known();
                let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                format!("the targets are {}", suggest::list(&refs))
            })),
        };
    };
    if services.is_empty() {
        return match target {
            DEFAULT_TARGET => Ok(Selected {
                service: None,
                dev: false,
            }),
            DEV_TARGET => Ok(Selected {
                service: None,
                dev: true,
            }),
            _ => Err(at(
                Diagnostic::error(format!("unknown target `{target}`")),
                spec.anchor(),
                "this spec has no [services]",
            )
            .with_help_opt({
                let known = known();
                suggest::closest(target, known.iter().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
            })
            .with_note(
                "build it without `--target`, or with `--target dev` for the development build",
            )),
        };
    }
    if spec.is_service(target) {
        return Ok(Selected {
            service: Some(target.to_string()),
            dev: false,
        });
    }
    if let Some(base) = target.strip_suffix("-dev") {
        if spec.is_service(base) {
            return Ok(Selected {
                service: Some(base.to_string()),
                dev: true,
            });
        }
    }
    if let (DEV_TARGET, [only]) = (target, services.as_slice()) {
        return Ok(Selected {
            service: Some(only.to_string()),
            dev: true,
        });
    }
    let d = at(
        Diagnostic::error(format!("unknown target `{target}`")),
        spec.table_span("services"),
        "the services are declared here",
    );
    let known = known();
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let d = match suggest::closest(target, known_refs.iter().copied()) {
        Some(c) => d.with_help(format!("did you mean `{c}`?")),
        None => d,
    };
    Err(d.with_note(format!("the targets are {}", suggest::list(&known_refs))))
}

/// The variant selected by `VARIANT` (a build arg, else the `[args]` default).
pub(crate) fn select_variant<'s>(
    spec: &'s Spec,
    build_args: &BTreeMap<String, String>,
) -> Result<Option<&'s str>, Diagnostic> {
    let (name, from_default) = match build_args.get(VARIANT) {
        Some(v) => (v.as_str(), false),
        None => (
            spec.args().get(VARIANT).map(String::as_str).unwrap_or(""),
            true,
        ),
    };
    if name.is_empty() {
        return Ok(None);
    }
    if let Some(v) = spec.variant_name(name) {
        return Ok(Some(v));
    }
    let variants = spec.variant_names();
    let mut d = Diagnostic::error(format!("unknown variant `{name}` selected by VARIANT"));
    if from_default {
        if let Some(span) = spec.arg_span(VARIANT) {
            d = d.with_primary(span, "the default VARIANT");
        }
    } else if variants.is_empty() {
        d = at(d, spec.anchor(), "no [variants] in this spec");
    } else {
        d = at(
            d,
            spec.table_span("variants"),
            "the variants are declared here",
        );
    }
    d = match suggest::closest(name, variants.iter().copied()) {
        Some(c) => d.with_help(format!("did you mean `{c}`?")),
        None => d,
    };
    Err(if variants.is_empty() {
        d.with_note("this spec declares no [variants]")
    } else {
        d.with_note(format!("the variants are {}", suggest::list(&variants)))
    })
}

/// The `[dev]` overrides (the top level's, then the service's and the variant's, already
/// merged into one `dev` table) merged over the target when it is a development target;
/// other targets drop them.
fn apply_dev(merged: crate::value::Table, dev: bool) -> crate::value::Table {
    let over = merged.value("dev").and_then(|d| d.table()).cloned();
    let mut out = merged.without(&["dev"]);
    if let (true, Some(over)) = (dev, over) {
        merge(&mut out, &over, &SERVICE);
    }
    out
}

/// Resolve a target; warnings (floating base image tags) come with it.
pub(crate) fn resolve(
    spec: &Spec,
    target: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> Result<(Target, Vec<Diagnostic>), Diagnostics> {
    let selected = select(spec, target)?;
    let variant = select_variant(spec, build_args)?;
    let root = spec.root();

    // Layers, in order.
    let mut merged = root.without(&["version", "args", "services", "variants"]);
    let mut service_span: Option<Span> = None;
    let service_of = |t: &crate::value::Table, name: &str| {
        t.value("services")
            .and_then(|s| s.table())
            .and_then(|s| s.get(name))
            .cloned()
    };
    if let Some(name) = &selected.service {
        if let Some(e) = spec.service_table(name) {
            service_span = Some(e.key_span);
            if let Some(t) = e.value.table() {
                merge(&mut merged, t, &SERVICE);
            }
        }
    }
    if let Some(v) = variant {
        let vt = spec.variant_table(v);
        if let Some(vt) = vt {
            merge(&mut merged, &vt.without(&["services"]), &SERVICE);
            if let Some(name) = &selected.service {
                if let Some(t) = service_of(vt, name).as_ref().and_then(|e| e.value.table()) {
                    merge(&mut merged, t, &SERVICE);
                }
            }
        }
    }

    let merged = apply_dev(merged, selected.dev);

    // `${}` expansion, then checks of the final values.
    let declared = spec.declared();
    let values = expand::arg_values(spec.args(), build_args, variant.unwrap_or(""));
    let mut errors = Vec::new();
    let expanded = expand::expand_table(&merged, &values, &declared, &mut errors);
    let mut walker = Walker::new(Mode::Literal, spec.services());
    walker.check_table(&expanded, &SERVICE, None);
    errors.extend(walker.diags);
    if let Some(d) = Diagnostics::from_vec(crate::diag::dedupe_sort(errors)) {
        return Err(d);
    }

    let subject = Subject {
        anchor: spec.table_span("image").or(spec.anchor()),
        service: selected.service.as_deref(),
        service_span,
        dev: selected.dev,
        variant,
        args: &values,
    };
    let target = lower::lower(&expanded, &subject).map_err(|e| {
        Diagnostics::from_vec(e).unwrap_or_else(|| {
            Diagnostics::new(Diagnostic::error(
                "internal error: target could not be resolved",
            ))
        })
    })?;
    let warnings = expanded
        .value("image")
        .and_then(|i| i.table())
        .map(|i| warn::image_warnings(i, true))
        .unwrap_or_default();
    Ok((target, warnings))
}
