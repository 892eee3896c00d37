//! strata-spec: the first pass. Parses a strata.toml (spec format 1), checks every key,
//! and resolves one build target (service × variant × dev) to a typed [`model::Target`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use strata_spec::{SourceFile, Spec};
//!
//! let file = SourceFile::new("strata.toml", "version = 1\n[image]\nbase = \"python:3.12-slim\"\n");
//! let spec = Spec::parse(&file).map_err(|e| e.render(&file, false)).unwrap();
//! let target = spec.resolve(None, &BTreeMap::new()).unwrap();
//! assert_eq!(target.image.base.value, "python:3.12-slim");
//! assert!(spec.check(&BTreeMap::new()).is_empty());
//! ```

// Errors are the cold path; a plain `Diagnostic` keeps call sites simple.
#![allow(clippy::result_large_err)]

pub mod diag;
mod expand;
mod links;
mod lower;
mod merge;
pub mod model;
pub mod requirements;
mod resolve;
mod schema;
pub mod source;
mod spec;
mod suggest;
mod validate;
mod value;
mod values;
mod warn;

#[cfg(test)]
mod tests;

pub use diag::{render_all, Diagnostic, Diagnostics, Label, Severity};
pub use expand::VARIANT;
pub use source::{Location, SourceFile, Span};
pub use spec::{check_source, Spec};
