//! `${NAME}` expansion of string values.
//!
//! Rules: `${NAME}` is replaced by the value of build argument NAME (declared in
//! `[args]`, or `VARIANT`); `$$` is a literal `$`; a `$` followed by anything else
//! (including a bare `$NAME`) is kept literally. `${` without a closing `}` and a
//! `${...}` whose inside is not a name are errors.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::suggest;
use crate::value::{Kind, Str, Table, Value};

/// The build argument that selects a variant; it need not be declared.
pub const VARIANT: &str = "VARIANT";

/// The most bytes one string value may hold once its `${NAME}`s are expanded.
pub const MAX_EXPANDED_VALUE: usize = 64 * 1024;
/// The most bytes expansion may add to a spec, over all its values, per pass
/// (one target's resolution, or the check of every value).
pub const MAX_EXPANSION_GROWTH: usize = 1024 * 1024;

/// What expansion may still add in this pass; reported once when used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Budget {
    left: usize,
    reported: bool,
}

impl Budget {
    pub fn new() -> Self {
        Budget {
            left: MAX_EXPANSION_GROWTH,
            reported: false,
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Lit(&'a str),
    /// `${name}` at bytes `start..end` of the string.
    Ref {
        name: &'a str,
        start: usize,
        end: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyntaxError {
    /// `${` at `start` without `}`.
    Unterminated { start: usize },
    /// `${...}` at `start..end` whose inside is not a name.
    BadName { start: usize, end: usize },
}

pub(crate) fn is_arg_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Split a string into literal text and references.
pub(crate) fn pieces(s: &str) -> Result<Vec<Piece<'_>>, SyntaxError> {
    let mut out = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        if bytes.get(i) != Some(&b'$') {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => {
                // "$$": keep one "$".
                if let Some(lit) = s.get(lit_start..i + 1) {
                    if !lit.is_empty() {
                        out.push(Piece::Lit(lit));
                    }
                }
                i += 2;
                lit_start = i;
            }
            Some(b'{') => {
                let open = i;
                let close = s
                    .get(open + 2..)
                    .and_then(|rest| rest.find('}'))
                    .map(|c| open + 2 + c);
                let Some(close) = close else {
                    return Err(SyntaxError::Unterminated { start: open });
                };
                let name = s.get(open + 2..close).unwrap_or("");
                if !is_arg_name(name) {
                    return Err(SyntaxError::BadName {
                        start: open,
                        end: close + 1,
                    });
                }
                if let Some(lit) = s.get(lit_start..open) {
                    if !lit.is_empty() {
                        out.push(Piece::Lit(lit));
                    }
                }
                out.push(Piece::Ref {
                    name,
                    start: open,
                    end: close + 1,
                });
                i = close + 1;
                lit_start = i;
            }
            _ => i += 1,
        }
    }
    if let Some(lit) = s.get(lit_start..) {
        if !lit.is_empty() {
            out.push(Piece::Lit(lit));
        }
    }
    Ok(out)
}

/// Whether the string refers to any build argument.
pub(crate) fn has_refs(s: &str) -> bool {
    match pieces(s) {
        Ok(p) => p.iter().any(|p| matches!(p, Piece::Ref { .. })),
        Err(_) => true,
    }
}

/// Expand `value` (a string value of the spec) with `lookup`; errors are
/// reported at the offending part of the string. `declared` lists the names
/// that may be used, for the message.
///
/// The result is bounded: at most [`MAX_EXPANDED_VALUE`] bytes when the value
/// refers to anything, and what the references add is taken from `budget`
/// (`Err(None)` when the budget was used up and that was already reported).
pub(crate) fn expand_value(
    value: &Value,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    declared: &[&str],
) -> Result<String, Diagnostic> {
    let mut budget = Budget::new();
    expand_bounded(value, text, lookup, declared, &mut budget)
        .map_err(|e| e.unwrap_or_else(|| too_big_diag(value, 0, true)))
}

/// [`expand_value`] drawing on a budget shared by a whole pass.
pub(crate) fn expand_bounded(
    value: &Value,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    declared: &[&str],
    budget: &mut Budget,
) -> Result<String, Option<Diagnostic>> {
    let parts = pieces(text).map_err(|e| Some(syntax_diag(value, text, &e)))?;
    if !parts.iter().any(|p| matches!(p, Piece::Ref { .. })) {
        // Only `$$`s: the result is shorter than the text.
        let mut out = String::with_capacity(text.len());
        for p in parts {
            if let Piece::Lit(l) = p {
                out.push_str(l);
            }
        }
        return Ok(out);
    }
    let mut out = String::with_capacity(text.len().min(MAX_EXPANDED_VALUE));
    for p in parts {
        let add = match p {
            Piece::Lit(l) => l,
            Piece::Ref { name, start, end } => match lookup(name) {
                Some(v) => {
                    // Checked before the copy: a reference repeated thousands of
                    // times costs its length once per use only while within bounds.
                    let total = out.len() + v.len();
                    if total > MAX_EXPANDED_VALUE {
                        return Err(value_too_big(value, total, budget));
                    }
                    out.push_str(&v);
                    continue;
                }
                None => return Err(Some(unknown_diag(value, name, start, end, declared))),
            },
        };
        if out.len() + add.len() > MAX_EXPANDED_VALUE {
            return Err(value_too_big(value, out.len() + add.len(), budget));
        }
        out.push_str(add);
    }
    let grown = out.len().saturating_sub(text.len());
    if grown > budget.left {
        budget.left = 0;
        if budget.reported {
            return Err(None);
        }
        budget.reported = true;
        return Err(Some(too_big_diag(value, 0, true)));
    }
    budget.left -= grown;
    Ok(out)
}

/// A value over [`MAX_EXPANDED_VALUE`]: what it tried to hold is charged to the
/// pass's budget, so that a spec of thousands of such values gets a few messages
/// and then stops (the budget's message is not repeated either).
fn value_too_big(value: &Value, total: usize, budget: &mut Budget) -> Option<Diagnostic> {
    if budget.reported {
        return None;
    }
    budget.left = budget.left.saturating_sub(total);
    if budget.left == 0 {
        budget.reported = true;
    }
    Some(too_big_diag(value, total, false))
}

fn too_big_diag(value: &Value, at_least: usize, whole_spec: bool) -> Diagnostic {
    if whole_spec {
        Diagnostic::error(format!(
            "build arguments expand to more than {} KiB in this spec",
            MAX_EXPANSION_GROWTH / 1024
        ))
        .with_primary(value.span, "the expansion passes the bound here")
        .with_help("refer to long build arguments fewer times, or pass long data as a file of the build context")
        .with_note(format!(
            "`${{NAME}}` may add at most {} KiB to a spec, and a value may hold at most {} KiB once expanded",
            MAX_EXPANSION_GROWTH / 1024,
            MAX_EXPANDED_VALUE / 1024
        ))
    } else {
        Diagnostic::error(format!(
            "this value is longer than {} KiB once its build arguments are expanded",
            MAX_EXPANDED_VALUE / 1024
        ))
        .with_primary(
            value.span,
            format!("expands to at least {at_least} bytes"),
        )
        .with_help("shorten the build arguments it refers to, or pass long data as a file of the build context")
        .with_note(format!(
            "a value may hold at most {} KiB once `${{NAME}}` is expanded",
            MAX_EXPANDED_VALUE / 1024
        ))
    }
}

/// Check the references of a string without expanding: syntax and names.
pub(crate) fn check_refs(value: &Value, text: &str, declared: &[&str]) -> Vec<Diagnostic> {
    match pieces(text) {
        Err(e) => vec![syntax_diag(value, text, &e)],
        Ok(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Piece::Ref { name, start, end } if *name != VARIANT && !declared.contains(name) => {
                    Some(unknown_diag(value, name, *start, *end, declared))
                }
                _ => None,
            })
            .collect(),
    }
}

fn syntax_diag(value: &Value, text: &str, e: &SyntaxError) -> Diagnostic {
    match *e {
        SyntaxError::Unterminated { start } => Diagnostic::error("unterminated `${` in a string")
            .with_primary(
                value.sub_span(start, start + 2),
                "this `${` has no closing `}`",
            )
            .with_help("close it (`${NAME}`), or write `$${` for a literal `${`"),
        SyntaxError::BadName { start, end } => {
            let inner = text.get(start..end).unwrap_or("${}");
            Diagnostic::error(format!("invalid build argument reference `{inner}`"))
                .with_primary(value.sub_span(start, end), "not a `${NAME}` reference")
                .with_help(
                    "only `${NAME}` is supported (letters, digits and `_`); write `$$` for a literal `$`",
                )
        }
    }
}

fn unknown_diag(
    value: &Value,
    name: &str,
    start: usize,
    end: usize,
    declared: &[&str],
) -> Diagnostic {
    let mut d = Diagnostic::error(format!("unknown build argument `${{{name}}}`"))
        .with_primary(value.sub_span(start, end), "not declared in [args]");
    d = match suggest::closest(name, declared.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `${{{s}}}`?")),
        None => d.with_help(format!("declare it in [args], e.g. `{name} = \"...\"`")),
    };
    if declared.is_empty() {
        d.with_note("no build arguments are declared in [args]")
    } else {
        let list: Vec<String> = declared.iter().map(|n| format!("`{n}`")).collect();
        d.with_note(format!("declared build arguments: {}", list.join(", ")))
    }
}

/// The build arguments' values: declared defaults, overridden by `--build-arg`s
/// for declared names, plus `VARIANT` (the selected variant, or "").
pub(crate) fn arg_values(
    declared: &BTreeMap<String, String>,
    build_args: &BTreeMap<String, String>,
    variant: &str,
) -> BTreeMap<String, String> {
    let mut out = declared.clone();
    for (k, v) in out.iter_mut() {
        if let Some(b) = build_args.get(k) {
            v.clone_from(b);
        }
    }
    out.insert(VARIANT.to_string(), variant.to_string());
    out
}

/// Expand every string value of a tree (keys are left alone).
pub(crate) fn expand_table(
    t: &Table,
    values: &BTreeMap<String, String>,
    declared: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Table {
    let mut out = t.clone();
    let mut budget = Budget::new();
    for e in out.entries.iter_mut() {
        if e.key == "build" {
            expand_builds(&mut e.value, values, declared, diags, &mut budget);
        } else {
            expand_in(&mut e.value, values, declared, diags, &mut budget);
        }
    }
    out
}

/// `[[build]]`: every value as anywhere else, but `run`'s commands keep their
/// `${NAME}`s for the shell, which finds each build argument in its environment (as
/// a Dockerfile's `ARG` in a `RUN`): a value is data, never command text.
fn expand_builds(
    v: &mut Value,
    values: &BTreeMap<String, String>,
    declared: &[&str],
    diags: &mut Vec<Diagnostic>,
    budget: &mut Budget,
) {
    let Kind::Array(steps) = &mut v.kind else {
        return expand_in(v, values, declared, diags, budget);
    };
    for step in steps {
        let Kind::Table(t) = &mut step.kind else {
            expand_in(step, values, declared, diags, budget);
            continue;
        };
        for e in t.entries.iter_mut() {
            match (&e.key[..], &mut e.value.kind) {
                ("run", Kind::Array(cmds)) => {
                    for c in cmds {
                        shell_in(c, values, declared, diags);
                    }
                }
                _ => expand_in(&mut e.value, values, declared, diags, budget),
            }
        }
    }
}

/// A command of `run`: `$$` becomes `$`, `${NAME}` stays `${NAME}` (checked: NAME is
/// a build argument, whose value can be put in an environment).
fn shell_in(
    v: &mut Value,
    values: &BTreeMap<String, String>,
    declared: &[&str],
    diags: &mut Vec<Diagnostic>,
) {
    let span = v.span;
    let Kind::Str(s) = &mut v.kind else { return };
    if !s.text.contains('$') {
        return;
    }
    let snapshot = Value {
        kind: Kind::Str(s.clone()),
        span,
    };
    let parts = match pieces(&s.text) {
        Ok(p) => p,
        Err(e) => return diags.push(syntax_diag(&snapshot, &s.text, &e)),
    };
    let mut out = String::with_capacity(s.text.len());
    for p in parts {
        match p {
            Piece::Lit(l) => out.push_str(l),
            Piece::Ref { name, start, end } => match values.get(name) {
                Some(val) if val.contains('\0') => return diags.push(
                    Diagnostic::error(format!("build argument `{name}` holds a NUL character"))
                        .with_primary(
                            snapshot.sub_span(start, end),
                            "its value goes in this step's environment",
                        )
                        .with_help(
                            "an environment variable cannot hold a NUL: remove it from the value",
                        ),
                ),
                Some(_) => {
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
                None => return diags.push(unknown_diag(&snapshot, name, start, end, declared)),
            },
        }
    }
    if out != s.text {
        *s = Str {
            text: out,
            verbatim_at: None,
        };
    }
}

/// The build arguments a build step's commands refer to (`${NAME}` or `$NAME`, of a
/// declared argument or `VARIANT`), with their values: the step's environment.
pub(crate) fn shell_env(
    commands: &[String],
    values: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut used: Vec<&str> = vec![];
    for c in commands {
        let b = c.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                i += 1;
                continue;
            }
            let braced = b.get(i + 1) == Some(&b'{');
            let start = i + 1 + usize::from(braced);
            let mut end = start;
            while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                end += 1;
            }
            if let Some(name) = c.get(start..end) {
                if values.contains_key(name) && !used.contains(&name) {
                    used.push(name);
                }
            }
            i = end.max(i + 1);
        }
    }
    used.sort_unstable();
    used.into_iter()
        .filter_map(|n| values.get(n).map(|v| (n.to_string(), v.clone())))
        .collect()
}

fn expand_in(
    v: &mut Value,
    values: &BTreeMap<String, String>,
    declared: &[&str],
    diags: &mut Vec<Diagnostic>,
    budget: &mut Budget,
) {
    let span = v.span;
    match &mut v.kind {
        Kind::Str(s) => {
            if !s.text.contains('$') {
                return;
            }
            // Only strings are copied for their messages (a table's copy would
            // make a deep tree cost its depth times its size).
            let snapshot = Value {
                kind: Kind::Str(s.clone()),
                span,
            };
            let lookup = |n: &str| values.get(n).cloned();
            match expand_bounded(&snapshot, &s.text, &lookup, declared, budget) {
                Ok(text) => {
                    if text != s.text {
                        *s = Str {
                            text,
                            verbatim_at: None,
                        };
                    }
                }
                Err(Some(d)) => diags.push(d),
                Err(None) => {}
            }
        }
        Kind::Array(items) => {
            for i in items {
                expand_in(i, values, declared, diags, budget);
            }
        }
        Kind::Table(t) => {
            for e in t.entries.iter_mut() {
                expand_in(&mut e.value, values, declared, diags, budget);
            }
        }
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) | Kind::Datetime(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    fn val(s: &str) -> Value {
        Value {
            kind: Kind::Str(Str {
                text: s.to_string(),
                verbatim_at: Some(10),
            }),
            span: Span::new(9, 11 + s.len()),
        }
    }

    fn exp(s: &str) -> Result<String, Diagnostic> {
        let lookup = |n: &str| match n {
            "A" => Some("x".to_string()),
            "VARIANT" => Some("cuda".to_string()),
            _ => None,
        };
        expand_value(&val(s), s, &lookup, &["A"])
    }

    #[test]
    fn expansion_rules() {
        assert_eq!(exp("a${A}b").unwrap(), "axb");
        assert_eq!(exp("$${A}").unwrap(), "${A}");
        assert_eq!(exp("$$$${A}").unwrap(), "$${A}");
        assert_eq!(exp("$$${A}").unwrap(), "$x");
        assert_eq!(exp("$A $ $").unwrap(), "$A $ $");
        assert_eq!(exp("${VARIANT}-${A}").unwrap(), "cuda-x");
        assert_eq!(exp("é${A}é").unwrap(), "éxé");
        assert_eq!(exp("").unwrap(), "");
        let e = exp("x${B}").unwrap_err();
        assert_eq!(e.message, "unknown build argument `${B}`");
        assert_eq!(e.span(), Some(Span::new(11, 15)));
        assert_eq!(e.notes, ["declared build arguments: `A`"]);
        let e = exp("ab${A").unwrap_err();
        assert_eq!(e.message, "unterminated `${` in a string");
        assert_eq!(e.span(), Some(Span::new(12, 14)));
        assert_eq!(
            exp("${}").unwrap_err().message,
            "invalid build argument reference `${}`"
        );
        assert_eq!(
            exp("${A:-b}").unwrap_err().message,
            "invalid build argument reference `${A:-b}`"
        );
    }

    #[test]
    fn check_refs_allows_variant() {
        assert!(check_refs(&val("${VARIANT}"), "${VARIANT}", &[]).is_empty());
        assert_eq!(check_refs(&val("${X}${Y}"), "${X}${Y}", &[]).len(), 2);
        assert!(has_refs("${X}"));
        assert!(!has_refs("$$X $Y"));
    }
}
