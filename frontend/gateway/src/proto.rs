//! Generated gateway protocol types and the tonic `LLBBridge` client.
//!
//! Module layout follows the protobuf packages (`moby::buildkit::v1::frontend`,
//! `...::apicaps`, `...::types`, `fsutil::types`, `google::rpc`,
//! `google::protobuf`); the short aliases below are what the rest of the crate
//! uses. LLB types (`pb.*`) are `strata_llb::pb`.

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

pub use self::fsutil::types as fstypes;
pub use self::google::protobuf::Any;
pub use self::google::rpc::Status;
pub use self::moby::buildkit::v1::apicaps;
pub use self::moby::buildkit::v1::frontend;
pub use self::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
pub use self::moby::buildkit::v1::types as worker;
