//! The platform(s) a build is for.

use serde_json::{json, Value};
use strata_llb::pb;
use strata_plan::Plan;

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

/// Every requested platform, in order, each once (by its id: `linux/arm64` and
/// `linux/arm64/v8` normalise to the same one); with none requested, the default
/// platform of [`target`].
pub fn targets(opts: &Options, caps: &Caps) -> Vec<pb::Platform> {
    let mut out: Vec<pb::Platform> = vec![];
    for p in &opts.platforms {
        if !out.iter().any(|q| format(q) == format(p)) {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        out.push(target(opts, caps));
    }
    out
}

/// Puts the platform into the stage prefix of the plan's step names (`[app] pip install`
/// → `[app linux/arm64] pip install`), so that the progress of a multi-platform build
/// tells the platforms apart. `[internal]` steps (the context, shared by all platforms)
/// keep their names. Names are metadata: digests and cache keys do not change.
pub fn tag_names(plan: &mut Plan, id: &str) {
    for node in &mut plan.nodes {
        if node.name.starts_with("[internal]") {
            continue;
        }
        if let Some(rest) = node.name.strip_prefix('[') {
            if let Some(end) = rest.find(']') {
                node.name = format!("[{} {id}]{}", &rest[..end], &rest[end + 1..]);
            }
        }
    }
}

/// Whether an image config (from `ResolveImageConfig`) is for `p`. A registry resolves
/// an image index to the manifest of the platform asked for, but an image that is not
/// an index has one platform whatever is asked: building on it for another platform would
/// give an image that says `p` and holds binaries of another. `Err` holds the image's own
/// `os/arch`. OS and architecture are compared (not variants, which configs often omit);
/// a config that names neither passes.
pub fn check_config(config: &[u8], p: &pb::Platform) -> Result<(), String> {
    let Ok(v) = serde_json::from_slice::<Value>(config) else {
        return Ok(());
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (os, arch) = (field("os"), field("architecture"));
    let arch = match arch.as_str() {
        "x86_64" | "x86-64" => "amd64".to_string(),
        "aarch64" => "arm64".to_string(),
        _ => arch,
    };
    let os_ok = os.is_empty() || os.eq_ignore_ascii_case(&p.os);
    let arch_ok = arch.is_empty() || arch == p.architecture;
    if os_ok && arch_ok {
        Ok(())
    } else {
        let mut s = format!(
            "{}/{}",
            if os.is_empty() { "?" } else { &os },
            if arch.is_empty() { "?" } else { &arch }
        );
        let variant = field("variant");
        if !variant.is_empty() {
            s.push('/');
            s.push_str(&variant);
        }
        Err(s)
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

    fn plat(arch: &str) -> pb::Platform {
        pb::Platform {
            os: "linux".into(),
            architecture: arch.into(),
            ..Default::default()
        }
    }

    #[test]
    fn configs_of_another_platform_are_told_apart() {
        let amd = br#"{"architecture":"amd64","os":"linux","config":{}}"#;
        assert_eq!(check_config(amd, &plat("amd64")), Ok(()));
        assert_eq!(check_config(amd, &plat("s390x")), Err("linux/amd64".into()));
        let arm = br#"{"architecture":"arm64","os":"linux","variant":"v8"}"#;
        assert_eq!(check_config(arm, &plat("arm64")), Ok(()));
        assert_eq!(
            check_config(arm, &plat("amd64")),
            Err("linux/arm64/v8".into())
        );
        assert_eq!(
            check_config(br#"{"architecture":"aarch64"}"#, &plat("arm64")),
            Ok(())
        );
        assert_eq!(check_config(br#"{"config":{}}"#, &plat("riscv64")), Ok(()));
        assert_eq!(check_config(b"not json", &plat("amd64")), Ok(()));
    }

    #[test]
    fn targets_are_the_requested_platforms_once_each_else_the_default() {
        let caps = Caps {
            worker_platforms: vec![plat("amd64"), plat("386")],
            ..Default::default()
        };
        let mut opts = Options::default();
        assert_eq!(targets(&opts, &caps), vec![plat("amd64")]);
        opts.platforms = vec![plat("arm64"), plat("amd64"), plat("arm64")];
        assert_eq!(targets(&opts, &caps), vec![plat("arm64"), plat("amd64")]);
    }

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
