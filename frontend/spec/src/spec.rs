//! A parsed and checked spec: the entry point of this pass.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::diag::{dedupe_sort, Diagnostic, Diagnostics};
use crate::expand;
use crate::model::Target;
use crate::resolve::{self, DEFAULT_TARGET, DEV_TARGET};
use crate::schema::TOP;
use crate::source::{SourceFile, Span};
use crate::validate::{Mode, Walker};
use crate::value::{self, Table, Value};
use crate::warn;

/// Reads a requirements file by its path in the context (see
/// [`Spec::requirement_warnings`]).
pub type Reader<'a> = dyn Fn(&str) -> Result<Option<String>, String> + 'a;

/// A target's tiers as far as their requirements warnings go: names and files.
type TiersKey = Vec<(String, Vec<(String, Span)>)>;

/// A spec that parsed and passed the schema check. Resolve targets from it.
#[derive(Debug, Clone)]
pub struct Spec {
    root: Table,
    args: BTreeMap<String, String>,
    arg_spans: BTreeMap<String, Span>,
    services: Vec<String>,
    variants: Vec<String>,
    /// Name → position in `[services]` / `[variants]`: resolving every target × variant
    /// of a big spec must not search the lists each time.
    service_index: HashMap<String, usize>,
    variant_index: HashMap<String, usize>,
    warnings: Vec<Diagnostic>,
    /// `version = 1`: where messages about the spec as a whole point.
    anchor: Option<Span>,
}

impl Spec {
    /// Parse TOML and check every key and value of format 1 (values that refer to
    /// build arguments are checked when resolved, see [`Spec::check`]).
    pub fn parse(file: &SourceFile) -> Result<Spec, Diagnostics> {
        let root = value::parse(file).map_err(to_diags)?;

        let mut args = BTreeMap::new();
        let mut arg_spans = BTreeMap::new();
        if let Some(t) = root.value("args").and_then(Value::table) {
            for e in &t.entries {
                if let Some(s) = e.value.str() {
                    args.insert(e.key.clone(), s.to_string());
                    arg_spans.insert(e.key.clone(), e.value.span);
                }
            }
        }
        let services = names(&root, "services");
        let variants = names(&root, "variants");

        let declared: Vec<&str> = args.keys().map(String::as_str).collect();
        let mut walker = Walker::new(
            Mode::Static {
                declared: &declared,
            },
            &services,
        );
        walker.check_table(&root, &TOP, None);
        let errors = dedupe_sort(walker.diags);
        if !errors.is_empty() {
            return Err(to_diags(errors));
        }
        let warnings = dedupe_sort(warn::static_warnings(&root));
        let anchor = root.get("version").map(|e| e.key_span.join(e.value.span));
        let service_index = index(&root, "services");
        let variant_index = index(&root, "variants");
        Ok(Spec {
            service_index,
            variant_index,
            anchor,
            root,
            args,
            arg_spans,
            services,
            variants,
            warnings,
        })
    }

    /// The `--target` values this spec accepts, in the order of the spec.
    /// Without `[services]`: `app` (also what omitting `--target` means) and `dev`.
    /// With services: each `NAME` and `NAME-dev`.
    pub fn target_names(&self) -> Vec<String> {
        if self.services.is_empty() {
            return vec![DEFAULT_TARGET.to_string(), DEV_TARGET.to_string()];
        }
        self.services
            .iter()
            .flat_map(|s| [s.clone(), format!("{s}-dev")])
            .collect()
    }

    /// Declared services, in the order of the spec (empty without `[services]`).
    pub fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(String::as_str).collect()
    }

    /// Declared variants, in the order of the spec.
    pub fn variant_names(&self) -> Vec<&str> {
        self.variants.iter().map(String::as_str).collect()
    }

    /// Declared build arguments and their defaults (`[args]`).
    pub fn args(&self) -> &BTreeMap<String, String> {
        &self.args
    }

    /// Warnings found without resolving (e.g. `PIP_NO_CACHE_DIR`, untagged base images).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Resolve one target: `target` is a `--target` value (`None` or `""` when not
    /// given); `build_args` are the `--build-arg`s (`VARIANT` selects a variant).
    pub fn resolve(
        &self,
        target: Option<&str>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Target, Diagnostics> {
        self.resolve_with_warnings(target, build_args)
            .map(|(t, _)| t)
    }

    /// [`Spec::resolve`], with the warnings that apply to this target.
    pub fn resolve_with_warnings(
        &self,
        target: Option<&str>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<(Target, Vec<Diagnostic>), Diagnostics> {
        resolve::resolve(self, target, build_args)
    }

    /// The warnings about the requirements files of every target × (no variant and each
    /// variant): unpinned requirements, later tiers changing earlier pins (see
    /// [`crate::requirements`]). `read` gives a file's text by its path in the context.
    ///
    /// Each file is read and parsed once, however many targets list it. `read` may
    /// refuse a file (`Err(why)`: a link leaving the context, not a regular file, too
    /// big), which is an error at the spec's entry naming it.
    pub fn requirement_warnings(
        &self,
        build_args: &BTreeMap<String, String>,
        read: &dyn Fn(&str) -> Result<Option<String>, String>,
    ) -> Vec<Diagnostic> {
        let memo: RefCell<HashMap<String, crate::requirements::Parsed>> =
            RefCell::new(HashMap::new());
        let get = |p: &str| -> crate::requirements::Parsed {
            if let Some(r) = memo.borrow().get(p) {
                return r.clone();
            }
            let r = read(p).map(|t| t.map(|t| Rc::new(crate::requirements::parse(&t))));
            memo.borrow_mut().insert(p.to_string(), r.clone());
            r
        };
        let mut variants: Vec<&str> = vec![""];
        variants.extend(self.variant_names());
        let mut out = vec![];
        for target in self.target_names() {
            for v in &variants {
                let mut args = build_args.clone();
                args.insert(expand::VARIANT.to_string(), v.to_string());
                if let Ok(t) = self.resolve(Some(&target), &args) {
                    out.extend(crate::requirements::checked(&t.tiers, &get));
                }
            }
        }
        dedupe_sort(out)
    }

    /// Check everything up front: every target × (no variant and each variant),
    /// with these build arguments, plus every value of the spec (also those that
    /// every target overrides). Errors first, then warnings; duplicates removed.
    pub fn check(&self, build_args: &BTreeMap<String, String>) -> Vec<Diagnostic> {
        self.check_all(build_args, None)
    }

    /// [`Spec::check`] and [`Spec::requirement_warnings`] in one pass: every target ×
    /// variant is resolved once (a spec of 300 services and 300 variants has 180,600
    /// of them).
    pub fn check_with_requirements(
        &self,
        build_args: &BTreeMap<String, String>,
        read: &dyn Fn(&str) -> Result<Option<String>, String>,
    ) -> Vec<Diagnostic> {
        self.check_all(build_args, Some(read))
    }

    fn check_all(
        &self,
        build_args: &BTreeMap<String, String>,
        read: Option<&Reader<'_>>,
    ) -> Vec<Diagnostic> {
        let memo: RefCell<HashMap<String, crate::requirements::Parsed>> =
            RefCell::new(HashMap::new());
        let get = |p: &str| -> crate::requirements::Parsed {
            if let Some(r) = memo.borrow().get(p) {
                return r.clone();
            }
            let r = match read {
                Some(read) => read(p).map(|t| t.map(|t| Rc::new(crate::requirements::parse(&t)))),
                None => Ok(None),
            };
            memo.borrow_mut().insert(p.to_string(), r.clone());
            r
        };
        // Targets whose tiers list the same files the same way warn the same.
        let mut tiers_seen: std::collections::HashSet<TiersKey> = std::collections::HashSet::new();
        let mut out: Vec<Diagnostic> = self.warnings.clone();
        out.extend(warn::unused_build_args(&self.args, build_args));
        if let Err(d) = resolve::select_variant(self, build_args) {
            out.push(d);
        }

        // Every value of the spec, expanded with these build arguments.
        let declared = self.declared();
        let variant = build_args
            .get(expand::VARIANT)
            .or(self.args.get(expand::VARIANT));
        let values = expand::arg_values(
            &self.args,
            build_args,
            variant.map(String::as_str).unwrap_or(""),
        );
        let mut walker = Walker::new(
            Mode::Args {
                values: &values,
                declared: &declared,
            },
            &self.services,
        );
        walker.check_table(&self.root, &TOP, None);
        out.extend(walker.diags);

        let targets: Vec<String> = self.target_names();
        let mut variants: Vec<&str> = vec![""];
        variants.extend(self.variant_names());
        let mut args = build_args.clone();
        for target in &targets {
            for v in &variants {
                args.insert(expand::VARIANT.to_string(), v.to_string());
                match self.resolve_with_warnings(Some(target), &args) {
                    Ok((t, w)) => {
                        out.extend(w);
                        if read.is_some() {
                            let key: TiersKey = t
                                .tiers
                                .iter()
                                .map(|tier| {
                                    (
                                        tier.name.value.clone(),
                                        tier.requirements
                                            .iter()
                                            .map(|r| (r.value.clone(), r.span))
                                            .collect(),
                                    )
                                })
                                .collect();
                            if tiers_seen.insert(key) {
                                out.extend(crate::requirements::checked(&t.tiers, &get));
                            }
                        }
                    }
                    Err(e) => out.extend(e),
                }
            }
        }
        dedupe_sort(out)
    }

    pub(crate) fn services(&self) -> &[String] {
        &self.services
    }

    /// `[services.NAME]` (or `[variants.V.services.NAME]` when `within` is a variant's table).
    pub(crate) fn service_table(&self, name: &str) -> Option<&crate::value::Entry> {
        let i = *self.service_index.get(name)?;
        self.root
            .value("services")
            .and_then(Value::table)
            .and_then(|t| t.entries.get(i))
            .filter(|e| e.key == name)
    }

    /// `[variants.NAME]`.
    pub(crate) fn variant_table(&self, name: &str) -> Option<&Table> {
        let i = *self.variant_index.get(name)?;
        self.root
            .value("variants")
            .and_then(Value::table)
            .and_then(|t| t.entries.get(i))
            .filter(|e| e.key == name)
            .and_then(|e| e.value.table())
    }

    pub(crate) fn is_service(&self, name: &str) -> bool {
        self.service_index.contains_key(name)
    }

    /// The declared variant named `name`, as the spec spells it.
    pub(crate) fn variant_name(&self, name: &str) -> Option<&str> {
        let i = *self.variant_index.get(name)?;
        self.root
            .value("variants")
            .and_then(Value::table)
            .and_then(|t| t.entries.get(i))
            .filter(|e| e.key == name)
            .map(|e| e.key.as_str())
    }

    pub(crate) fn root(&self) -> &Table {
        &self.root
    }

    pub(crate) fn declared(&self) -> Vec<&str> {
        self.args.keys().map(String::as_str).collect()
    }

    /// The `version = 1` line, where messages about the whole spec point.
    pub(crate) fn anchor(&self) -> Option<Span> {
        self.anchor
    }

    /// Where a top-level table (`services`, `variants`, `image`) is first named.
    pub(crate) fn table_span(&self, key: &str) -> Option<Span> {
        self.root.get(key).map(|e| e.key_span)
    }

    pub(crate) fn arg_span(&self, name: &str) -> Option<Span> {
        self.arg_spans.get(name).copied()
    }
}

/// Parse and check in one go, for `strata check`: all errors and warnings.
pub fn check_source(file: &SourceFile, build_args: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    match Spec::parse(file) {
        Ok(spec) => spec.check(build_args),
        Err(e) => e.into_vec(),
    }
}

/// Name → position in `root.key` of its sub-tables (the first, if a name repeats).
fn index(root: &Table, key: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    if let Some(t) = root.value(key).and_then(Value::table) {
        for (i, e) in t.entries.iter().enumerate() {
            if e.value.table().is_some() {
                out.entry(e.key.clone()).or_insert(i);
            }
        }
    }
    out
}

fn names(root: &Table, key: &str) -> Vec<String> {
    root.value(key)
        .and_then(Value::table)
        .map(|t| {
            t.entries
                .iter()
                .filter(|e| e.value.table().is_some())
                .map(|e| e.key.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn to_diags(list: Vec<Diagnostic>) -> Diagnostics {
    Diagnostics::from_vec(list)
        .unwrap_or_else(|| Diagnostics::new(Diagnostic::error("invalid spec")))
}
