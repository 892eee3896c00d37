//! Checks that tie tiers and `[[build]]` steps together (issue 13): a tier's `wheels`
//! must name build steps that leave wheels, a step's `venv` must name a tier of the
//! target that comes before every tier taking its wheels, and a tier's build settings
//! must be ones its installer can honour.

use crate::diag::Diagnostic;
use crate::model::{BuildStep, Tier};
use crate::source::Span;
use crate::suggest;
use crate::value::{Kind, Table};

/// Checks of one `[[python.layers]]` table on its own.
pub(crate) fn check_tier_table(name: &str, span: Span, t: &Table) -> Vec<Diagnostic> {
    let mut out = vec![];
    if t.value("requirements").is_none() && t.value("wheels").is_none() {
        out.push(
            Diagnostic::error(format!(
                "tier `{name}` installs nothing: it needs `requirements` or `wheels`"
            ))
            .with_primary(span, "neither `requirements` nor `wheels` is set here")
            .with_help(
                "add `requirements = [\"requirements.txt\"]`, or `wheels = [\"STEP\"]` naming a [[build]] step with `wheels-dir`",
            ),
        );
    }
    // Build constraints pin the packages pip and uv install into *isolated* build
    // environments; with build isolation off there are none, and pip and uv would
    // silently ignore the pins.
    if let (Some(iso), Some(bc)) = (t.get("build-isolation"), t.get("build-constraints")) {
        if matches!(iso.value.kind, Kind::Bool(false)) {
            out.push(
                Diagnostic::error(format!(
                    "tier `{name}` sets `build-isolation = false` and `build-constraints`: the installer cannot honour both"
                ))
                .with_primary(iso.key_span.join(iso.value.span), "no isolated build environments")
                .with_secondary(bc.key_span, "pins only isolated build environments")
                .with_help(
                    "with `build-isolation = false` the build tools come from earlier tiers: pin them there (e.g. `setuptools<81` in an earlier tier's requirements) and drop `build-constraints`",
                ),
            );
        }
    }
    out
}

/// Checks across the target's tiers and build steps.
/// `owner` names the target in messages: "service `cpu`", "the spec", with its variant.
pub(crate) fn check(tiers: &[Tier], builds: &[BuildStep], owner: &str) -> Vec<Diagnostic> {
    let mut out = vec![];
    let step_names: Vec<&str> = builds.iter().map(|b| b.name.value.as_str()).collect();
    let tier_names: Vec<&str> = tiers.iter().map(|t| t.name.value.as_str()).collect();

    for step in builds {
        let Some(venv) = &step.venv else { continue };
        if !tier_names.contains(&venv.value.as_str()) {
            let mut d = Diagnostic::error(format!(
                "`venv` of build step `{}` names no tier of {owner}: `{}`",
                step.name.value, venv.value
            ))
            .with_primary(
                venv.span,
                format!("no [[python.layers]] tier of {owner} has this name"),
            );
            if let Some(c) = suggest::closest(&venv.value, tier_names.iter().copied()) {
                d = d.with_help(format!("did you mean `{c}`?"));
            }
            d = if tier_names.is_empty() {
                d.with_note(format!(
                    "{owner} has no tiers: add [[python.layers]] entries"
                ))
            } else {
                d.with_note(format!(
                    "the tiers of {owner} are {}",
                    suggest::list(&tier_names)
                ))
            };
            if owner.starts_with("service") {
                d = d.with_help(
                    "build steps belong to every service: give this service its own `build` list, or add the tier to its `layers`",
                );
            }
            out.push(d);
        }
    }

    for (idx, tier) in tiers.iter().enumerate() {
        for w in &tier.wheels {
            let Some(step) = builds.iter().find(|b| b.name.value == w.value) else {
                let mut d = Diagnostic::error(format!(
                    "`wheels` of tier `{}` names no build step: `{}`",
                    tier.name.value, w.value
                ))
                .with_primary(w.span, "no [[build]] step has this name");
                if let Some(c) = suggest::closest(&w.value, step_names.iter().copied()) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                d = if step_names.is_empty() {
                    d.with_note(
                        "no build steps are declared: add a [[build]] step with `wheels-dir`",
                    )
                } else {
                    d.with_note(format!(
                        "the build steps are {}",
                        suggest::list(&step_names)
                    ))
                };
                out.push(d);
                continue;
            };
            if step.wheels_dir.is_none() {
                out.push(
                    Diagnostic::error(format!(
                        "`wheels` of tier `{}` names build step `{}`, which has no `wheels-dir`",
                        tier.name.value, w.value
                    ))
                    .with_primary(w.span, "this step leaves no wheels")
                    .with_secondary(step.name.span, "the step is declared here")
                    .with_help("add `wheels-dir = \"/src/dist\"` (where the step writes its wheels) to the step"),
                );
            }
            if let Some(venv) = &step.venv {
                let pos = tiers.iter().position(|t| t.name.value == venv.value);
                if pos.is_some_and(|p| p >= idx) {
                    out.push(
                        Diagnostic::error(format!(
                            "build step `{}` runs in the venv after tier `{}`, but tier `{}` installs its wheels",
                            w.value, venv.value, tier.name.value
                        ))
                        .with_primary(venv.span, format!("`venv` must name a tier before `{}`", tier.name.value))
                        .with_secondary(w.span, "its wheels are installed here")
                        .with_help(format!(
                            "a step's `venv` names an earlier tier: the step builds against it, then `{}` installs what it built",
                            tier.name.value
                        )),
                    );
                }
            }
        }
    }
    out
}
