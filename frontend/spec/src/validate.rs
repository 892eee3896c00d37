//! Checking a tree against the schema: unknown keys (with did-you-mean), types,
//! required keys, and every value (paths, names, ports, ...).
//!
//! The same walk runs at three moments, differing only in how a string's final
//! text is known ([`Mode`]): at parse time (strings that refer to build arguments
//! are checked for their references only), when checking with given build
//! arguments (strings are expanded first), and on a resolved target (strings are
//! already expanded).

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::expand;
use crate::schema::{self, Check, NamedKind, Schema, Ty};
use crate::source::Span;
use crate::suggest;
use crate::value::{Entry, Kind, Table, Value};
use crate::values::{self, Problem};

pub(crate) enum Mode<'a> {
    /// `${}` references are checked against the declared args; strings holding
    /// references are not value-checked.
    Static { declared: &'a [&'a str] },
    /// Strings are expanded with `values` before being checked.
    Args {
        values: &'a BTreeMap<String, String>,
        declared: &'a [&'a str],
    },
    /// Strings are final.
    Literal,
}

/// One step of a table path.
#[derive(Debug, Clone)]
struct Seg {
    key: String,
    /// The table is an element of an array of tables (`[[build]]`).
    array: bool,
}

/// "[system]", "[[python.layers]]", "[services.core.run]".
fn display_path(path: &[Seg]) -> String {
    let keys: Vec<String> = path.iter().map(|s| toml_key(&s.key)).collect();
    if path.last().is_some_and(|s| s.array) {
        format!("[[{}]]", keys.join("."))
    } else {
        format!("[{}]", keys.join("."))
    }
}

/// "in [system]" or "at the top level".
fn where_(path: &[Seg]) -> String {
    if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in {}", display_path(path))
    }
}

/// A key as written in TOML: bare if possible, else quoted.
pub(crate) fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

pub(crate) struct Walker<'a> {
    pub mode: Mode<'a>,
    /// Declared service names (for `[variants.V.services.NAME]`).
    pub services: &'a [String],
    pub diags: Vec<Diagnostic>,
    /// Inside `[variants.NAME]`, `${VARIANT}` is NAME (in [`Mode::Args`]).
    variant: Option<String>,
    /// What `${NAME}` may still add in this walk (checks, then duplicate detection).
    budget: expand::Budget,
    dup_budget: expand::Budget,
}

impl<'a> Walker<'a> {
    pub fn new(mode: Mode<'a>, services: &'a [String]) -> Self {
        Walker {
            mode,
            services,
            diags: Vec::new(),
            variant: None,
            budget: expand::Budget::new(),
            dup_budget: expand::Budget::new(),
        }
    }

    /// Check a whole table; `span` locates it for "missing key" errors (`None` for the root).
    pub fn check_table(&mut self, t: &Table, schema: &'static Schema, span: Option<Span>) {
        self.table(t, schema, &[], span);
    }

    fn table(&mut self, t: &Table, schema: &'static Schema, path: &[Seg], span: Option<Span>) {
        for e in &t.entries {
            match schema.field(&e.key) {
                Some(field) => self.value(e, &field.ty, path),
                None => self.unknown_key(e, schema, path),
            }
        }
        for req in schema.required {
            // A misspelt required key (`requirement = [...]`) is one mistake: its
            // "unknown key ... did you mean" says it all, without "missing" first.
            let misspelt = || {
                t.entries.iter().any(|e| {
                    schema.field(&e.key).is_none()
                        && suggest::closest(&e.key, schema.key_names().iter().copied())
                            == Some(*req)
                })
            };
            if t.get(req).is_none() && !misspelt() {
                self.missing(req, schema, path, span, t);
            }
        }
        if !schema.exactly_one.is_empty() {
            let present: Vec<&Entry> = t
                .entries
                .iter()
                .filter(|e| schema.exactly_one.contains(&e.key.as_str()))
                .collect();
            let names = suggest::list(schema.exactly_one).replace(" and ", " or ");
            match present.as_slice() {
                // None is fine: a build step may have no sources.
                [] | [_] => {}
                [first, rest @ ..] => {
                    for other in rest {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "{} takes only one of {names}",
                                display_path(path)
                            ))
                            .with_primary(other.key_span, format!("`{}` given here", other.key))
                            .with_secondary(first.key_span, format!("and `{}` here", first.key)),
                        );
                    }
                }
            }
        }
    }

    fn missing(
        &mut self,
        key: &str,
        schema: &'static Schema,
        path: &[Seg],
        span: Option<Span>,
        t: &Table,
    ) {
        if std::ptr::eq(schema, &schema::TOP) && key == "version" {
            let help = "add `version = 1` at the top of the file, after the `# syntax=` line";
            // Point at the first key, or at the start of an empty file, so that the
            // message has a line (buildx then shows the spec's first lines).
            let d = match t.entries.iter().min_by_key(|e| e.key_span.start) {
                Some(first) => {
                    Diagnostic::error("missing `version`: the spec must start with `version = 1`")
                        .with_primary(first.key_span, "expected `version = 1` before this")
                }
                None => Diagnostic::error("the spec is empty: it must start with `version = 1`")
                    .with_primary(Span::new(0, 0), "no `version = 1` in this file"),
            };
            self.diags.push(d.with_help(help));
            return;
        }
        let mut d = Diagnostic::error(format!("missing `{key}` {}", where_(path)));
        if let Some(s) = span {
            d = d.with_primary(s, format!("`{key}` is required here"));
        }
        self.diags.push(d);
    }

    fn unknown_key(&mut self, e: &Entry, schema: &'static Schema, path: &[Seg]) {
        let is_table = matches!(e.value.kind, Kind::Table(_));
        let (msg, label) = if path.is_empty() && is_table {
            (
                format!("unknown table [{}]", toml_key(&e.key)),
                "unknown table",
            )
        } else if path.is_empty() {
            (format!("unknown top-level key `{}`", e.key), "unknown key")
        } else {
            (
                format!("unknown key `{}` {}", e.key, where_(path)),
                "unknown key",
            )
        };
        let mut d = Diagnostic::error(msg).with_primary(e.key_span, label);
        let names = schema.key_names();
        let level = std::ptr::eq(schema, &schema::TOP)
            || std::ptr::eq(schema, &schema::SERVICE)
            || std::ptr::eq(schema, &schema::VARIANT);
        let in_section = schema::SECTIONS
            .iter()
            .any(|(_, s)| std::ptr::eq(*s, schema));
        // The path of the level (top, service, variant) this table belongs to.
        let level_path: &[Seg] = if in_section {
            path.split_last().map(|(_, p)| p).unwrap_or(path)
        } else {
            path
        };
        let prefix: String = level_path
            .iter()
            .map(|s| format!("{}.", toml_key(&s.key)))
            .collect();
        let section = (level || in_section)
            .then(|| {
                schema::SECTIONS
                    .iter()
                    .find(|(_, s)| s.field(&e.key).is_some())
            })
            .flatten();
        let in_dev = std::ptr::eq(schema, &schema::DEV) || std::ptr::eq(schema, &schema::DEV_IMAGE);
        if in_dev && suggest::closest(&e.key, names.iter().copied()).is_none() {
            d = d.with_help(
                "a [dev] table overrides only `image.env` and `run` of the development target; \
                 its other settings are the service's own",
            );
        } else if let Some((section, _)) = section {
            d = d.with_help(format!("`{}` belongs in [{prefix}{section}]", e.key));
        } else if let Some(c) = suggest::closest(&e.key, names.iter().copied()) {
            d = if path.is_empty() && is_table {
                d.with_help(format!("did you mean [{c}]?"))
            } else {
                d.with_help(format!("did you mean `{c}`?"))
            };
        } else if level && schema::TOP.field(&e.key).is_some() {
            d = d.with_help(format!("`{}` can only be set at the top level", e.key));
        } else {
            d = d.with_note(format!(
                "expected one of {}",
                suggest::list(&names).replace(" and ", " or ")
            ));
        }
        self.diags.push(d);
    }

    fn type_error(
        &mut self,
        key: &str,
        ty: &Ty,
        path: &[Seg],
        found: &Value,
        at: &Value,
        label: &str,
    ) {
        let mut d = Diagnostic::error(format!(
            "invalid type for `{key}` {}: expected {}, found {}",
            where_(path),
            ty.expected(),
            found.describe()
        ))
        .with_primary(at.span, label);
        d = d.with_help_opt(type_help(key, ty, found));
        self.diags.push(d);
    }

    fn value_error(&mut self, key: &str, path: &[Seg], v: &Value, p: Problem) {
        self.diags.push(
            Diagnostic::error(format!(
                "invalid value for `{key}` {}: {}",
                where_(path),
                p.message
            ))
            .with_primary(v.span, p.label)
            .with_help_opt(p.help),
        );
    }

    /// The final text of a string value, if it can be known now.
    fn text(&mut self, v: &Value) -> Option<String> {
        let raw = v.str()?;
        match &self.mode {
            Mode::Static { declared } => {
                let errs = expand::check_refs(v, raw, declared);
                if !errs.is_empty() {
                    self.diags.extend(errs);
                    return None;
                }
                if expand::has_refs(raw) {
                    return None;
                }
                expand::expand_value(v, raw, &|_| None, declared).ok()
            }
            Mode::Args { values, declared } => {
                let lookup = |n: &str| match (&self.variant, n) {
                    (Some(variant), expand::VARIANT) => Some(variant.clone()),
                    _ => values.get(n).cloned(),
                };
                match expand::expand_bounded(v, raw, &lookup, declared, &mut self.budget) {
                    Ok(s) => Some(s),
                    Err(d) => {
                        self.diags.extend(d);
                        None
                    }
                }
            }
            Mode::Literal => Some(raw.to_string()),
        }
    }

    fn check_string(&mut self, key: &str, path: &[Seg], v: &Value, check: Check) {
        if let Some(text) = self.text(v) {
            if let Err(p) = check_str(check, &text) {
                self.value_error(key, path, v, p);
            }
        }
    }

    fn value(&mut self, e: &Entry, ty: &Ty, path: &[Seg]) {
        let v = &e.value;
        let key = e.key.as_str();
        match ty {
            Ty::Str(check) => match &v.kind {
                Kind::Str(_) => self.check_string(key, path, v, *check),
                _ => self.type_error(key, ty, path, v, v, &format!("expected {}", ty.expected())),
            },
            Ty::Bool => {
                if !matches!(v.kind, Kind::Bool(_)) {
                    self.type_error(key, ty, path, v, v, "expected `true` or `false`");
                }
            }
            Ty::Int { min, max } => match v.kind {
                Kind::Int(n) if n < *min || n > *max => self.value_error(
                    key,
                    path,
                    v,
                    Problem {
                        message: format!("{n} is out of range"),
                        label: format!("expected {min} to {max}"),
                        help: match key {
                            "uid" | "gid" if n == 0 => Some(
                                "0 is root: to run as root write `user = \"root\"` and no uid/gid"
                                    .to_string(),
                            ),
                            "uid" | "gid" => Some(format!(
                                "the created user's {key} is 1 to {max} (default {})",
                                crate::model::APP_UID
                            )),
                            _ => None,
                        },
                    },
                ),
                Kind::Int(_) => {}
                _ => self.type_error(key, ty, path, v, v, "expected an integer"),
            },
            Ty::Version => match v.kind {
                Kind::Int(1) => {}
                Kind::Int(n) => self.diags.push(
                    Diagnostic::error(format!("unsupported spec version {n}"))
                        .with_primary(v.span, "this frontend reads version 1")
                        .with_help(
                            "write `version = 1`, or use a frontend image that reads this version",
                        ),
                ),
                _ => {
                    self.type_error(key, ty, path, v, v, "expected `1`");
                }
            },
            Ty::Signal => match &v.kind {
                Kind::Int(n) => {
                    if let Err(p) = values::signal_number(*n) {
                        self.value_error(key, path, v, p);
                    }
                }
                Kind::Str(_) => {
                    if let Some(t) = self.text(v) {
                        if let Err(p) = values::signal_str(&t) {
                            self.value_error(key, path, v, p);
                        }
                    }
                }
                _ => self.type_error(key, ty, path, v, v, "expected a signal"),
            },
            Ty::Ports => match v.array() {
                None => self.type_error(key, ty, path, v, v, "expected an array"),
                Some(items) => {
                    for item in items {
                        let r = match &item.kind {
                            Kind::Int(n) => Some(values::port_number(*n).map(|_| ())),
                            Kind::Str(_) => {
                                self.text(item).map(|t| values::port_str(&t).map(|_| ()))
                            }
                            _ => {
                                self.type_error(key, ty, path, item, item, "expected a port");
                                None
                            }
                        };
                        if let Some(Err(p)) = r {
                            self.value_error(key, path, item, p);
                        }
                    }
                }
            },
            Ty::List(check) | Ty::NonEmptyList(check) => match v.array() {
                None => {
                    self.type_error(key, ty, path, v, v, &format!("expected {}", ty.expected()))
                }
                Some(items) => {
                    if items.is_empty() && matches!(ty, Ty::NonEmptyList(_)) {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "`{key}` {} must not be empty",
                                where_(path)
                            ))
                            .with_primary(v.span, "empty array"),
                        );
                    }
                    for item in items {
                        if matches!(item.kind, Kind::Str(_)) {
                            self.check_string(key, path, item, *check);
                        } else {
                            self.type_error(key, ty, path, item, item, "expected a string");
                        }
                    }
                }
            },
            Ty::Map {
                key: kcheck,
                value: vcheck,
            } => match v.table() {
                None => self.type_error(key, ty, path, v, v, "expected a table"),
                Some(t) => {
                    let sub = child(path, key, false);
                    for me in &t.entries {
                        if let Err(p) = check_str(*kcheck, &me.key) {
                            self.diags.push(
                                Diagnostic::error(format!(
                                    "invalid key {}: {}",
                                    where_(&sub),
                                    p.message
                                ))
                                .with_primary(me.key_span, p.label)
                                .with_help_opt(p.help),
                            );
                        }
                        if matches!(me.value.kind, Kind::Str(_)) {
                            self.check_string(&me.key, &sub, &me.value, *vcheck);
                        } else {
                            self.type_error(
                                &me.key,
                                &Ty::Str(*vcheck),
                                &sub,
                                &me.value,
                                &me.value,
                                "expected a string",
                            );
                        }
                    }
                }
            },
            Ty::Args => match v.table() {
                None => self.type_error(key, ty, path, v, v, "expected a table"),
                Some(t) => {
                    let sub = child(path, key, false);
                    for a in &t.entries {
                        if let Err(p) = values::arg_name(&a.key) {
                            self.diags.push(
                                Diagnostic::error(format!(
                                    "invalid build argument name `{}`",
                                    a.key
                                ))
                                .with_primary(a.key_span, p.label),
                            );
                        }
                        if !matches!(a.value.kind, Kind::Str(_)) {
                            self.type_error(
                                &a.key,
                                &Ty::Str(Check::Any),
                                &sub,
                                &a.value,
                                &a.value,
                                "expected a string",
                            );
                        }
                    }
                }
            },
            Ty::Table(schema) | Ty::Atomic(schema) => match v.table() {
                None => self.type_error(key, ty, path, v, v, "expected a table"),
                Some(t) => self.table(t, schema, &child(path, key, false), Some(v.span)),
            },
            Ty::Tables { schema, unique } => match (&v.kind, v.array()) {
                (_, Some(items)) => {
                    let sub = child(path, key, true);
                    let mut seen: Vec<(String, Span)> = Vec::new();
                    for item in items {
                        match item.table() {
                            Some(t) => {
                                self.table(t, schema, &sub, Some(item.span));
                                if let Some(u) = unique.and_then(|u| t.value(u)) {
                                    if let (Some(name), true) =
                                        (self.final_text(u), u.str().is_some())
                                    {
                                        if let Some((_, first)) =
                                            seen.iter().find(|(n, _)| *n == name)
                                        {
                                            self.diags.push(duplicate(key, &name, u.span, *first));
                                        } else {
                                            seen.push((name, u.span));
                                        }
                                    }
                                }
                            }
                            None => self.type_error(key, ty, path, item, item, "expected a table"),
                        }
                    }
                }
                (Kind::Table(_), None) => {
                    let mut d = Diagnostic::error(format!(
                        "invalid type for `{key}` {}: expected an array of tables, found a table",
                        where_(path)
                    ))
                    .with_primary(v.span, "a single table");
                    let full: Vec<String> = path
                        .iter()
                        .map(|s| toml_key(&s.key))
                        .chain([toml_key(key)])
                        .collect();
                    d = d.with_help(format!("write the header as `[[{}]]`", full.join(".")));
                    self.diags.push(d);
                }
                _ => self.type_error(key, ty, path, v, v, "expected an array of tables"),
            },
            Ty::Named { schema, kind } => match v.table() {
                None => self.type_error(key, ty, path, v, v, "expected a table"),
                Some(t) => {
                    for n in &t.entries {
                        self.named_entry(key, n, t, schema, *kind, path);
                    }
                }
            },
        }
    }

    /// Text of a string for duplicate detection, without reporting again.
    fn final_text(&mut self, v: &Value) -> Option<String> {
        let raw = v.str()?;
        match &self.mode {
            Mode::Static { .. } => (!expand::has_refs(raw))
                .then(|| expand::expand_value(v, raw, &|_| None, &[]).ok())
                .flatten(),
            Mode::Args { values, .. } => {
                let lookup = |n: &str| match (&self.variant, n) {
                    (Some(variant), expand::VARIANT) => Some(variant.clone()),
                    _ => values.get(n).cloned(),
                };
                expand::expand_bounded(v, raw, &lookup, &[], &mut self.dup_budget).ok()
            }
            Mode::Literal => Some(raw.to_string()),
        }
    }

    fn named_entry(
        &mut self,
        key: &str,
        n: &Entry,
        all: &Table,
        schema: &'static Schema,
        kind: NamedKind,
        path: &[Seg],
    ) {
        let sub = child(&child(path, key, false), &n.key, false);
        match kind {
            NamedKind::Services => {
                if let Err(p) = values::name(&n.key) {
                    self.diags.push(
                        Diagnostic::error(format!("invalid service name `{}`", n.key))
                            .with_primary(n.key_span, p.label)
                            .with_help_opt(p.help),
                    );
                }
                if let Some(base) = n.key.strip_suffix("-dev") {
                    if let Some(other) = all.get(base) {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "service name `{}` clashes with the development target of service `{base}`",
                                n.key
                            ))
                            .with_primary(n.key_span, "this name")
                            .with_secondary(other.key_span, format!("`--target {}` already means this service's dev build", n.key))
                            .with_help("rename one of the services"),
                        );
                    }
                }
            }
            NamedKind::Variants => {
                if let Err(p) = values::variant_name(&n.key) {
                    self.diags.push(
                        Diagnostic::error(format!("invalid variant name `{}`", n.key))
                            .with_primary(n.key_span, p.label),
                    );
                }
            }
            NamedKind::VariantServices => {
                if !self.services.contains(&n.key) {
                    let mut d =
                        Diagnostic::error(format!("unknown service `{}` {}", n.key, where_(path)))
                            .with_primary(n.key_span, "no such service");
                    d = if self.services.is_empty() {
                        d.with_note("this spec has no [services]; override the top-level tables directly in the variant")
                    } else {
                        let names: Vec<&str> = self.services.iter().map(String::as_str).collect();
                        let d = match suggest::closest(&n.key, names.iter().copied()) {
                            Some(c) => d.with_help(format!("did you mean `{c}`?")),
                            None => d,
                        };
                        d.with_note(format!("the services are {}", suggest::list(&names)))
                    };
                    self.diags.push(d);
                }
            }
        }
        match n.value.table() {
            Some(t) if kind == NamedKind::Variants => {
                let outer = self.variant.replace(n.key.clone());
                self.table(t, schema, &sub, Some(n.value.span));
                self.variant = outer;
            }
            Some(t) => self.table(t, schema, &sub, Some(n.value.span)),
            None => self.type_error(
                &n.key,
                &Ty::Table(schema),
                &child(path, key, false),
                &n.value,
                &n.value,
                "expected a table",
            ),
        }
    }
}

fn child(path: &[Seg], key: &str, array: bool) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg {
        key: key.to_string(),
        array,
    });
    p
}

fn duplicate(key: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    let what = match key {
        "layers" => "tier",
        "build" => "build step",
        _ => "entry",
    };
    Diagnostic::error(format!("duplicate {what} name `{name}`"))
        .with_primary(span, format!("`{name}` defined again here"))
        .with_secondary(first, "first defined here")
        .with_help(format!("{what} names must be unique; rename one of them"))
}

/// Check a string against a [`Check`].
pub(crate) fn check_str(check: Check, s: &str) -> Result<(), Problem> {
    values::no_nul(s)?;
    match check {
        Check::Any => Ok(()),
        Check::ImagePath => values::image_path(s).map(|_| ()),
        Check::NonEmpty => values::non_empty(s),
        Check::AbsPath => values::abs_path(s).map(|_| ()),
        Check::RelPath => values::rel_path(s).map(|_| ()),
        Check::RelFile => values::rel_file(s).map(|_| ()),
        Check::Package => values::package(s),
        Check::Name => values::name(s),
        Check::EnvName => values::env_name(s),
        Check::ImageRef => values::image_ref(s),
        Check::IndexUrl => values::index_url(s),
        Check::GitUrl => values::git_url(s),
        Check::GitRef => values::git_ref(s),
        Check::Installer => values::installer(s).map(|_| ()),
        Check::User => values::user(s),
        Check::Interpreter => values::interpreter(s),
        Check::Duration => values::duration(s).map(|_| ()),
        Check::SecretId => values::secret_id(s),
    }
}

/// Help for a value of the wrong type: how to write it.
fn type_help(key: &str, ty: &Ty, found: &Value) -> Option<String> {
    let scalar = found.scalar_text();
    match (ty, &found.kind) {
        (Ty::Str(_), Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) | Kind::Datetime(_)) => {
            scalar.map(|s| format!("write it as a string: `{s:?}`"))
        }
        (Ty::Bool, Kind::Str(s)) if s.text == "true" || s.text == "false" => {
            Some(format!("write `{}` without quotes", s.text))
        }
        (Ty::Int { .. } | Ty::Version, Kind::Str(s)) if s.text.parse::<i64>().is_ok() => {
            Some(format!("write `{}` without quotes", s.text))
        }
        (Ty::List(_) | Ty::NonEmptyList(_), Kind::Str(s)) => {
            let words: Vec<String> = if key == "cmd" || key == "entrypoint" {
                s.text
                    .split_whitespace()
                    .map(|w| format!("{w:?}"))
                    .collect()
            } else {
                vec![format!("{:?}", s.text)]
            };
            let mut h = format!("write it as an array: `[{}]`", words.join(", "));
            if key == "cmd" || key == "entrypoint" {
                h.push_str(" (exec form; for a shell use `[\"sh\", \"-c\", \"...\"]`)");
            }
            Some(h)
        }
        (Ty::List(_) | Ty::NonEmptyList(_), Kind::Int(_) | Kind::Float(_) | Kind::Bool(_)) => {
            scalar.map(|s| format!("write it as a string: `{s:?}`"))
        }
        (Ty::Ports, Kind::Int(n)) => Some(format!("write it as an array: `[{n}]`")),
        (Ty::Ports, Kind::Str(s)) => Some(format!("write it as an array: `[{:?}]`", s.text)),
        (Ty::Named { .. } | Ty::Table(_) | Ty::Atomic(_), _) => Some(format!(
            "write it as a table: `{} = {{ ... }}`",
            toml_key(key)
        )),
        _ => None,
    }
}
