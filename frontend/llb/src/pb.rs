//! LLB protobuf types (package `pb`), generated from `proto/ops.proto`.
//!
//! Wire-compatible with moby/buildkit v0.13 `solver/pb/ops.proto`. Every map
//! is a [`BTreeMap`](std::collections::BTreeMap), so encoding a message twice
//! yields the same bytes (op digests are sha256 over those bytes).
//!
//! Remember the proto3 defaults: index fields where -1 means "none"
//! (`Mount::input/output`, `FileAction::input/secondary_input/output`,
//! `NamedUserOpt::input`, diff inputs) and the -1 "keep" values of
//! `FileActionCopy::mode` and every `timestamp` must be set explicitly.

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/pb.rs"));
