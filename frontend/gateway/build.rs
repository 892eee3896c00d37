//! Compiles the gateway protos (LLBBridge and the messages it needs) with the
//! pure-Rust `protox` compiler, `prost-build` and `tonic-prost-build`; no
//! `protoc` is needed. The LLB types (package `pb`) come from `strata_llb::pb`
//! through `extern_path`, so they are shared, not duplicated.

fn main() {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=../llb/proto");

    let fds = match protox::compile(["gateway.proto"], ["proto", "../llb/proto"]) {
        Ok(fds) => fds,
        Err(err) => panic!("compiling proto/gateway.proto: {err:?}"),
    };

    let mut config = prost_build::Config::new();
    // Deterministic encoding of maps (FrontendOpt, metadata, ...).
    config.btree_map(["."]);

    let result = tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        // The channel is built by `transport.rs` over stdio; no `connect(url)`.
        .build_transport(false)
        .extern_path(".pb", "::strata_llb::pb")
        // google.protobuf.Any is generated here instead of pulling in prost-types.
        .compile_well_known_types(true)
        .include_file("_includes.rs")
        .compile_fds_with_config(fds, config);
    if let Err(err) = result {
        panic!("generating Rust code for the gateway protos: {err}");
    }
}
