//! strata-gateway
