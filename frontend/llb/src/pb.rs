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

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use std::collections::BTreeMap;

    fn source_op(attrs: &[(&str, &str)]) -> Op {
        let mut map = BTreeMap::new();
        for (k, v) in attrs {
            map.insert(k.to_string(), v.to_string());
        }
        Op {
            op: Some(op::Op::Source(SourceOp {
                identifier: "local://context".into(),
                attrs: map,
            })),
            ..Default::default()
        }
    }

    fn definition(order: &[usize]) -> Definition {
        let keys = ["sha256:cc", "sha256:aa", "sha256:bb"];
        let mut metadata = BTreeMap::new();
        for &i in order {
            let mut description = BTreeMap::new();
            description.insert("llb.customname".to_string(), format!("step {i}"));
            description.insert("com.example.a".to_string(), "x".to_string());
            let mut caps = BTreeMap::new();
            caps.insert("source.local".to_string(), true);
            caps.insert("file.base".to_string(), true);
            metadata.insert(
                keys[i].to_string(),
                OpMetadata {
                    description,
                    caps,
                    ignore_cache: i == 1,
                    ..Default::default()
                },
            );
        }
        Definition {
            def: vec![vec![1, 2, 3], vec![4]],
            metadata,
            source: None,
        }
    }

    #[test]
    fn maps_are_btreemaps_and_encoding_is_deterministic() {
        let a = source_op(&[
            ("local.session", "s"),
            ("local.followpaths", "[\"a\"]"),
            ("local.differ", "none"),
        ]);
        let b = source_op(&[
            ("local.differ", "none"),
            ("local.session", "s"),
            ("local.followpaths", "[\"a\"]"),
        ]);
        assert_eq!(a.encode_to_vec(), b.encode_to_vec());

        let d1 = definition(&[0, 1, 2]).encode_to_vec();
        let d2 = definition(&[2, 0, 1]).encode_to_vec();
        assert_eq!(d1, d2);
        // Re-encoding a decoded message gives the same bytes.
        assert_eq!(
            Definition::decode(d1.as_slice()).unwrap().encode_to_vec(),
            d1
        );
        // Keys are encoded in sorted order.
        let pos = |needle: &[u8]| d1.windows(needle.len()).position(|w| w == needle).unwrap();
        assert!(pos(b"sha256:aa") < pos(b"sha256:bb") && pos(b"sha256:bb") < pos(b"sha256:cc"));
    }

    #[test]
    fn source_op_wire_bytes() {
        let op = source_op(&[("b", "2"), ("a", "1")]);
        let bytes = op.encode_to_vec();
        // Op.source (3, len 33) { identifier (1, len 15) "local://context",
        //   attrs (2, len 6) {1:"a", 2:"1"}, attrs (2, len 6) {1:"b", 2:"2"} }
        let mut want = vec![0x1a, 33, 0x0a, 15];
        want.extend_from_slice(b"local://context");
        want.extend_from_slice(&[0x12, 6, 0x0a, 1, b'a', 0x12, 1, b'1']);
        want.extend_from_slice(&[0x12, 6, 0x0a, 1, b'b', 0x12, 1, b'2']);
        assert_eq!(bytes, want);
    }

    #[test]
    fn negative_indexes_are_ten_byte_varints() {
        // int64 -1 (not sint64): tag + 10 bytes, as Go encodes it.
        let m = Mount {
            input: -1,
            output: -1,
            dest: "/".into(),
            ..Default::default()
        };
        let bytes = m.encode_to_vec();
        let mut want = vec![0x08];
        want.extend_from_slice(&[0xff; 9]);
        want.push(0x01);
        want.extend_from_slice(&[0x1a, 1, b'/']);
        want.push(0x20);
        want.extend_from_slice(&[0xff; 9]);
        want.push(0x01);
        assert_eq!(bytes, want);
    }

    #[test]
    fn oneof_zero_values_are_encoded() {
        // UserOpt.byID = 0 (root) must be present on the wire.
        let u = UserOpt {
            user: Some(user_opt::User::ById(0)),
        };
        assert_eq!(u.encode_to_vec(), vec![0x10, 0x00]);
        let file = FileOp {
            actions: vec![FileAction {
                input: -1,
                secondary_input: -1,
                output: 0,
                action: Some(file_action::Action::Mkdir(FileActionMkDir {
                    path: "/app".into(),
                    mode: 0o755,
                    make_parents: true,
                    owner: None,
                    timestamp: -1,
                })),
            }],
        };
        let op = Op {
            op: Some(op::Op::File(file)),
            ..Default::default()
        };
        let decoded = Op::decode(op.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, op);
        assert_eq!(NetMode::None as i32, 2);
        assert_eq!(MountType::Cache as i32, 3);
        assert_eq!(CacheSharingOpt::Locked as i32, 2);
    }
}
