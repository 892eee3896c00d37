//! strata-spec: the first pass. Parses a strata.toml (spec format 1), checks every key,
//! and resolves one build target (service × variant × dev) to a typed [`model::Target`].

pub mod model;
pub mod source;
