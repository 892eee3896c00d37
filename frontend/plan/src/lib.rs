//! strata-plan
