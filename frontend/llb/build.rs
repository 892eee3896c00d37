//! Compiles `proto/ops.proto` (LLB, package `pb`) with the pure-Rust `protox`
//! compiler and `prost-build`; no `protoc` is needed.

fn main() {
    println!("cargo:rerun-if-changed=proto");

    let fds = match protox::compile(["ops.proto"], ["proto"]) {
        Ok(fds) => fds,
        Err(err) => panic!("compiling proto/ops.proto: {err:?}"),
    };

    let mut config = prost_build::Config::new();
    // Every map field becomes a BTreeMap: op digests are sha256 over the
    // encoded bytes, so map entries must be encoded in a stable (sorted) order.
    config.btree_map(["."]);
    if let Err(err) = config.compile_fds(fds) {
        panic!("generating Rust code for proto/ops.proto: {err}");
    }
}
