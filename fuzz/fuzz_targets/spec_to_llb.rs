//! Any bytes through the whole front end: parse → check → resolve every target (with
//! no variant and with each variant) → plan (both layerings) → lower to LLB, rendering
//! every diagnostic on the way. Errors are fine; a panic (or a hang) is a bug.
//!
//! The input is up to four sections split by a line `%%` (an input without one is a
//! spec alone, so the spec corpus stays valid):
//!
//! 1. the spec;
//! 2. frontend options, one `key=value` a line, as BuildKit passes them
//!    (`BUILDKIT_FRONTEND_OPT_N`): `build-arg:NAME=...`, `target=...`, `cache-imports=...`,
//!    `add-hosts=...`, ... A line starting with `*` has its value repeated to 16 KiB (big
//!    build args);
//! 3. a `.dockerignore`;
//! 4. a requirements file, the text of every requirements path the spec names.
//!
//! Besides "no panic" it asserts, in process: every build arg, option value, ignore
//! pattern and requirement quoted by the plan's shell quoting (`strata_plan::sh::quote`)
//! reads back as one shell word equal to the value (a POSIX word parser below; the
//! property test `frontend/plan/tests/sh_roundtrip.rs` checks the same through a real
//! `sh`); `.dockerignore` patterns are non-empty, one line, relative; requirement lines
//! are in the file and ascending; every warning's span lies in the spec.
//!
//! Run with `scripts/fuzz.sh [SECONDS]`.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use strata_gateway::Options;
use strata_llb::{ImageRef, LowerOptions, ResolvedImage};
use strata_plan::{Layering, PlanOptions};
use strata_spec::{Diagnostic, SourceFile, Spec};

const BIG: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    // The gateway reads the spec lossily; the CLI rejects invalid UTF-8 first.
    let text = String::from_utf8_lossy(data);
    let mut sections = text.split("\n%%\n");
    let spec_text = sections.next().unwrap_or("").to_string();
    let opt_text = sections.next();
    let ignore_text = sections.next().unwrap_or("");
    let requirements = sections.next().map(str::to_string);

    // Frontend options, as the gateway reads them from its environment.
    let mut vars = vec![];
    for (i, line) in opt_text.unwrap_or("").lines().enumerate().take(64) {
        let value = match line.strip_prefix('*') {
            Some(rest) => big(rest),
            None => line.to_string(),
        };
        assert_round_trip(&value);
        vars.push((format!("BUILDKIT_FRONTEND_OPT_{i}"), value));
    }
    let options = match Options::from_env_vars(vars) {
        Ok(o) => Some(o),
        Err(e) => {
            let _ = e.to_string();
            None
        }
    };
    let (build_args, target) = match &options {
        Some(o) => {
            for (k, v) in o.build_args.iter().chain(&o.labels) {
                assert_round_trip(k);
                assert_round_trip(v);
            }
            (o.build_args.clone(), o.target.clone())
        }
        None => (BTreeMap::new(), None),
    };

    let dockerignore = if opt_text.is_some() {
        strata_gateway::dockerignore::parse(ignore_text)
    } else {
        vec!["**/*.pyc".into(), "!keep.pyc".into()]
    };
    for p in &dockerignore {
        let body = p.strip_prefix('!').unwrap_or(p);
        assert!(!body.is_empty(), "empty .dockerignore pattern from {ignore_text:?}");
        assert!(!body.starts_with('/'), "absolute .dockerignore pattern {p:?}");
        // One line each (a \r inside a line stays, as in BuildKit's reader).
        assert!(!p.contains('\n'), ".dockerignore pattern {p:?} spans lines");
        assert_round_trip(p);
    }

    if let Some(req) = &requirements {
        let lines = req.lines().count();
        let mut last = 0;
        for r in strata_spec::requirements::parse(req) {
            assert!(r.line >= 1 && r.line <= lines.max(1), "requirement line {} of {lines}", r.line);
            assert!(r.line > last, "requirement lines not ascending: {} after {last}", r.line);
            last = r.line;
            assert!(!r.name.is_empty(), "requirement without a name: {r:?}");
            assert_round_trip(&r.text);
        }
    }

    let file = SourceFile::new("strata.toml", spec_text);
    let mut seen = Vec::new();
    run(&file, &build_args, target.as_deref(), &dockerignore, requirements.as_deref(), &mut seen);
    for d in &seen {
        if let Some(span) = d.span() {
            assert!(
                span.start <= span.end && span.end <= file.text.len(),
                "diagnostic span {span:?} outside the spec ({} bytes): {}",
                file.text.len(),
                d.message
            );
        }
    }
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

/// `s` repeated to [`BIG`] bytes (a big build arg), `s` itself when empty.
fn big(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(BIG + s.len());
    while out.len() < BIG {
        out.push_str(s);
    }
    out
}

/// `quote(s)` must read back, as one POSIX shell word, as `s` without its NULs.
fn assert_round_trip(s: &str) {
    let q = strata_plan::sh::quote(s);
    let want: String = s.chars().filter(|c| *c != '\0').collect();
    match sh_word(&q) {
        Some(got) if got == want => {}
        got => panic!("quote({s:?}) = {q:?} reads back as {got:?}"),
    }
}

/// The one word a POSIX shell reads from `q`, or `None` when `q` is not exactly one
/// word of literal text (an unquoted metacharacter, expansion or blank; an unclosed
/// quote). Single quotes hold anything but `'`; double quotes hold anything, with `\`
/// escaping `$`, `` ` ``, `"`, `\` and newline, and `$`/`` ` `` unescaped being an
/// expansion; unquoted, `\` escapes any byte, and only letters, digits, non-ASCII and
/// `-_./,:=+@%^]` are literal.
fn sh_word(q: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = q.chars().peekable();
    if q.is_empty() {
        return None;
    }
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '$' | '`' => return None,
                    '\\' => match chars.next()? {
                        c @ ('$' | '`' | '"' | '\\') => out.push(c),
                        '\n' => {}
                        c => {
                            out.push('\\');
                            out.push(c);
                        }
                    },
                    c => out.push(c),
                }
            },
            '\\' => match chars.next()? {
                '\n' => {}
                c => out.push(c),
            },
            c if c.is_ascii_alphanumeric() || "-_./,:=+@%^]".contains(c) || !c.is_ascii() => {
                out.push(c)
            }
            _ => return None,
        }
    }
    Some(out)
}

fn run(
    file: &SourceFile,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
    dockerignore: &[String],
    requirements: Option<&str>,
    seen: &mut Vec<Diagnostic>,
) {
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
    for d in spec.warnings() {
        touch(file, d);
    }
    for d in spec.check(build_args) {
        touch(file, &d);
    }
    if let Some(req) = requirements {
        for d in spec.requirement_warnings(build_args, &|_| Ok(Some(req.to_string()))) {
            touch(file, &d);
        }
    }
    let mut variants: Vec<String> = vec![String::new()];
    variants.extend(spec.variant_names().iter().map(|v| v.to_string()));
    let mut targets: Vec<Option<String>> = spec.target_names().into_iter().map(Some).collect();
    targets.push(None);
    targets.push(Some("no-such-target".into()));
    if let Some(t) = target {
        targets.push(Some(t.to_string()));
    }
    for variant in &variants {
        let mut args = build_args.clone();
        args.insert("VARIANT".to_string(), variant.clone());
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
                    dockerignore: dockerignore.to_vec(),
                    ..Default::default()
                };
                let def = strata_llb::lower(&plan, &o).expect("lowering a plan never fails");
                let _ = strata_llb::image_config(None, &plan.config, &o.platform, &BTreeMap::new());
                let _ = def;
            }
        }
    }
}
