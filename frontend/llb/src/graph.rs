//! An LLB graph under construction, and its marshalling into a `pb::Definition`.
//!
//! Each op is encoded exactly once; its digest is the sha256 of those bytes and the
//! same bytes go into the definition, so digests, inputs and metadata keys always
//! agree. Ops are kept in insertion order (inputs before their users) and duplicates
//! (same bytes) collapse into one vertex: the same graph always gives the same bytes.

use std::collections::BTreeMap;

use prost::Message;
use sha2::{Digest as _, Sha256};

use crate::pb;

/// One output of a vertex: what an op's `Input` points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Output {
    pub digest: String,
    pub index: i64,
}

impl Output {
    pub fn input(&self) -> pb::Input {
        pb::Input {
            digest: self.digest.clone(),
            index: self.index,
        }
    }
}

/// What is shown and decided about a vertex beyond its op.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VertexMeta {
    /// Shown in the build progress (`llb.customname`).
    pub name: String,
    /// Run even if a cached result exists (`--no-cache`).
    pub ignore_cache: bool,
}

#[derive(Debug, Default)]
pub struct Graph {
    ops: Vec<(String, Vec<u8>)>,
    metadata: BTreeMap<String, pb::OpMetadata>,
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    /// Adds `op` (its inputs must already be in the graph) and returns its output 0.
    pub fn add(&mut self, op: pb::Op, meta: VertexMeta) -> Output {
        let bytes = op.encode_to_vec();
        let digest = digest_of(&bytes);
        if !self.metadata.contains_key(&digest) {
            let mut description = BTreeMap::new();
            if !meta.name.is_empty() {
                description.insert("llb.customname".to_string(), meta.name);
            }
            self.metadata.insert(
                digest.clone(),
                pb::OpMetadata {
                    ignore_cache: meta.ignore_cache,
                    description,
                    ..Default::default()
                },
            );
            self.ops.push((digest.clone(), bytes));
        }
        Output { digest, index: 0 }
    }

    /// The definition whose result is `output`: every op, then the terminal op.
    pub fn definition(&self, output: &Output) -> pb::Definition {
        let mut def: Vec<Vec<u8>> = self.ops.iter().map(|(_, b)| b.clone()).collect();
        let terminal = pb::Op {
            inputs: vec![output.input()],
            ..Default::default()
        };
        def.push(terminal.encode_to_vec());
        pb::Definition {
            def,
            metadata: self.metadata.clone(),
            source: None,
        }
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str) -> pb::Op {
        pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: id.into(),
                attrs: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn identical_ops_collapse_and_keep_the_first_name() {
        let mut g = Graph::new();
        let a = g.add(
            source("local://context"),
            VertexMeta {
                name: "first".into(),
                ..Default::default()
            },
        );
        let b = g.add(
            source("local://context"),
            VertexMeta {
                name: "second".into(),
                ..Default::default()
            },
        );
        assert_eq!(a, b);
        assert_eq!(g.len(), 1);
        let d = g.definition(&a);
        assert_eq!(d.def.len(), 2);
        assert_eq!(d.metadata[&a.digest].description["llb.customname"], "first");
    }

    #[test]
    fn digests_are_sha256_of_the_encoded_bytes() {
        let mut g = Graph::new();
        let out = g.add(
            source("docker-image://docker.io/library/alpine:3"),
            VertexMeta::default(),
        );
        let d = g.definition(&out);
        assert_eq!(digest_of(&d.def[0]), out.digest);
        let terminal = pb::Op::decode(d.def[1].as_slice()).unwrap();
        assert_eq!(terminal.inputs, vec![out.input()]);
        assert!(terminal.op.is_none());
    }

    #[test]
    fn the_same_graph_encodes_to_the_same_bytes() {
        let build = || {
            let mut g = Graph::new();
            let o = g.add(
                source("local://context"),
                VertexMeta {
                    name: "ctx".into(),
                    ..Default::default()
                },
            );
            g.definition(&o).encode_to_vec()
        };
        assert_eq!(build(), build());
    }
}
