//! Any bytes through the whole front end: parse → check → resolve every target (with
//! no variant and with each variant) → plan (both layerings) → lower to LLB, rendering
//! every diagnostic on the way. Errors are fine; a panic (or a hang) is a bug.
//!
//! Run with `scripts/fuzz.sh [SECONDS]`.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use strata_llb::{ImageRef, LowerOptions, ResolvedImage};
use strata_plan::{Layering, PlanOptions};
use strata_spec::{Diagnostic, SourceFile, Spec};

fuzz_target!(|data: &[u8]| {
    // The gateway reads the spec lossily; the CLI rejects invalid UTF-8 first.
    let text = String::from_utf8_lossy(data);
    let file = SourceFile::new("strata.toml", text.into_owned());
    let mut seen = Vec::new();
    run(&file, &mut seen);
    // Rendering is most of the cost: render a few distinct messages per input (the
    // first ones of each kind), which covers the renderer as well as rendering all.
    seen.sort_by(|a: &Diagnostic, b| a.message.cmp(&b.message));
    seen.dedup_by(|a, b| a.message == b.message);
    for d in seen.iter().take(6) {
        let _ = d.render(&file, false);
        let _ = d.to_string();
        if let Some(loc) = d.location(&file) {
            let _ = file.line_text(loc.line);
        }
    }
});

fn run(file: &SourceFile, seen: &mut Vec<Diagnostic>) {
    let mut touch = |_: &SourceFile, d: &Diagnostic| {
        if seen.len() < 64 {
            seen.push(d.clone());
        }
    };
    let spec = match Spec::parse(file) {
        Ok(s) => s,
        Err(e) => {
            e.iter().for_each(|d| touch(file, d));
            return;
        }
    };
    let none = BTreeMap::new();
    for d in spec.check(&none) {
        touch(file, &d);
    }
    let mut variants: Vec<String> = vec![String::new()];
    variants.extend(spec.variant_names().iter().map(|v| v.to_string()));
    let mut targets: Vec<Option<String>> = spec.target_names().into_iter().map(Some).collect();
    targets.push(None);
    targets.push(Some("no-such-target".into()));
    for variant in &variants {
        let args = BTreeMap::from([("VARIANT".to_string(), variant.clone())]);
        for t in &targets {
            let target = match spec.resolve_with_warnings(t.as_deref(), &args) {
                Ok((target, warnings)) => {
                    warnings.iter().for_each(|d| touch(file, d));
                    target
                }
                Err(e) => {
                    e.iter().for_each(|d| touch(file, d));
                    continue;
                }
            };
            for layering in [Layering::MergeDiff, Layering::Copy] {
                let opts = PlanOptions {
                    platform: "linux/amd64".into(),
                    layering,
                    ..Default::default()
                };
                let plan = match strata_plan::plan(&target, &opts) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = e.to_string();
                        continue;
                    }
                };
                let _ = strata_plan::explain(&plan);
                // As `strata llb` does: images by normalised name.
                let mut images = vec![];
                for img in &plan.images {
                    match ImageRef::parse(&img.reference) {
                        Ok(r) => images.push(ResolvedImage {
                            reference: r.normalized(),
                            env: vec!["PATH=/usr/bin:/bin".into()],
                        }),
                        Err(e) => {
                            // The spec checked this reference: lowering must accept it.
                            panic!(
                                "spec accepted `{}` but ImageRef rejects it: {e}",
                                img.reference
                            );
                        }
                    }
                }
                let o = LowerOptions {
                    images,
                    context_name: "context".into(),
                    dockerignore: vec!["**/*.pyc".into(), "!keep.pyc".into()],
                    ..Default::default()
                };
                let def = strata_llb::lower(&plan, &o).expect("lowering a plan never fails");
                let _ = strata_llb::image_config(None, &plan.config, &o.platform, &BTreeMap::new());
                let _ = def;
            }
        }
    }
}
