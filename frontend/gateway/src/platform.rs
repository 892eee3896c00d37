//! The platform a build is for.

use serde_json::{json, Value};
use strata_llb::pb;

use crate::bridge::Caps;
use crate::options::Options;

/// The requested platform, else the first platform of BuildKit's first worker, else
/// linux on the architecture this frontend was built for.
pub fn target(opts: &Options, caps: &Caps) -> pb::Platform {
    if let Some(p) = opts.platforms.first() {
        return p.clone();
    }
    if let Some(p) = caps.worker_platforms.first() {
        return p.clone();
    }
    pb::Platform {
        os: "linux".into(),
        architecture: host_arch().into(),
        ..Default::default()
    }
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// `os/arch[/variant]`, as BuildKit names platforms in results.
pub fn format(p: &pb::Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if !p.variant.is_empty() {
        s.push('/');
        s.push_str(&p.variant);
    }
    s
}

/// The OCI JSON form (`{"architecture","os","variant"}`).
pub fn to_json(p: &pb::Platform) -> Value {
    let mut v = json!({"architecture": p.architecture, "os": p.os});
    if !p.variant.is_empty() {
        v["variant"] = json!(p.variant);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_and_without_variant() {
        let mut p = pb::Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            ..Default::default()
        };
        assert_eq!(format(&p), "linux/arm");
        p.variant = "v7".into();
        assert_eq!(format(&p), "linux/arm/v7");
        assert_eq!(
            to_json(&p),
            json!({"architecture": "arm", "os": "linux", "variant": "v7"})
        );
    }
}
