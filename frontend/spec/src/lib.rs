//! strata-spec
