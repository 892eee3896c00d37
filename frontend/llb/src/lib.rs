//! strata-llb: the third pass. Typed LLB ops, their deterministic marshalling into a
//! `pb::Definition`, the lowering of a plan into that graph, and the image config.

pub mod graph;
pub mod image_config;
pub mod lower;
pub mod pb;
pub mod reference;

pub use graph::{digest_of, Graph, Output, VertexMeta};
pub use image_config::image_config;
pub use lower::{
    lower, proxy_env_from_build_args, LowerError, LowerOptions, Network, ResolvedImage,
};
pub use reference::ImageRef;
