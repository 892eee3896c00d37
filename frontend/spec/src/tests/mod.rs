//! Tests of the whole pass: rendered errors, resolution, robustness.

mod errors;
mod fuzz;
mod hostile;
mod mlbuild;
mod resolution;

use std::collections::BTreeMap;

use crate::{Diagnostic, SourceFile, Spec};

pub(crate) const EXAMPLE: &str = include_str!("example.toml");

pub(crate) fn file(text: &str) -> SourceFile {
    SourceFile::new("strata.toml", text)
}

pub(crate) fn parse(text: &str) -> Spec {
    let f = file(text);
    match Spec::parse(&f) {
        Ok(s) => s,
        Err(e) => panic!("{}", e.render(&f, false)),
    }
}

pub(crate) fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parse errors, or else check's output, rendered.
pub(crate) fn render(text: &str) -> String {
    render_with(text, &[])
}

pub(crate) fn render_with(text: &str, build_args: &[(&str, &str)]) -> String {
    let f = file(text);
    let diags: Vec<Diagnostic> = crate::check_source(&f, &args(build_args));
    crate::render_all(&diags, &f, false)
}
