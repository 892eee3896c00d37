//! strata-llb
