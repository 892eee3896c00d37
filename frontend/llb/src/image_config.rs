//! The final image's config JSON: the base image's config with the plan's runtime
//! settings applied, as BuildKit's image exporter reads it (`containerimage.config`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use strata_plan::RuntimeConfig;

use crate::pb;

/// PATH when the base image sets none (the executor's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
#[error("the base image's config is not valid JSON: {0}")]
pub struct ConfigError(#[from] serde_json::Error);

/// `base` is the base image's config as the registry returned it (or `None`).
/// `extra_labels` come from the build's `label:*` options and win over the spec's.
pub fn image_config(
    base: Option<&[u8]>,
    rc: &RuntimeConfig,
    platform: &pb::Platform,
    extra_labels: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ConfigError> {
    let mut img: Map<String, Value> = match base {
        Some(b) => match serde_json::from_slice::<Value>(b)? {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    img.insert("architecture".into(), json!(platform.architecture));
    img.insert("os".into(), json!(platform.os));
    if platform.variant.is_empty() {
        img.remove("variant");
    } else {
        img.insert("variant".into(), json!(platform.variant));
    }
    // No build time in the config: the same inputs give the same image digest.
    img.remove("created");

    let mut cfg = match img.remove("config") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let env = env_list(cfg.get("Env"), rc);
    cfg.insert("Env".into(), json!(env));
    cfg.insert("WorkingDir".into(), json!(rc.workdir));
    match &rc.user {
        Some(u) => cfg.insert("User".into(), json!(u)),
        None => cfg.remove("User"),
    };
    if let Some(ep) = &rc.entrypoint {
        cfg.insert(
            "Entrypoint".into(),
            if ep.is_empty() {
                Value::Null
            } else {
                json!(ep)
            },
        );
        // As in a Dockerfile, a new entrypoint drops the base image's cmd.
        if rc.cmd.is_none() {
            cfg.remove("Cmd");
        }
    }
    if let Some(cmd) = &rc.cmd {
        cfg.insert(
            "Cmd".into(),
            if cmd.is_empty() {
                Value::Null
            } else {
                json!(cmd)
            },
        );
    }
    if !rc.expose.is_empty() {
        let mut ports = match cfg.remove("ExposedPorts") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for p in &rc.expose {
            ports.insert(p.clone(), json!({}));
        }
        cfg.insert("ExposedPorts".into(), Value::Object(ports));
    }
    if let Some(s) = &rc.stop_signal {
        cfg.insert("StopSignal".into(), json!(s));
    }
    if let Some(h) = &rc.healthcheck {
        let mut test = vec!["CMD".to_string()];
        test.extend(h.cmd.iter().cloned());
        let mut hc = Map::new();
        hc.insert("Test".into(), json!(test));
        let ns = |v: Option<u64>| json!(v.unwrap_or(0));
        hc.insert("Interval".into(), ns(h.interval_ns));
        hc.insert("Timeout".into(), ns(h.timeout_ns));
        hc.insert("StartPeriod".into(), ns(h.start_period_ns));
        hc.insert("Retries".into(), json!(h.retries.unwrap_or(0)));
        cfg.insert("Healthcheck".into(), Value::Object(hc));
    }
    let mut labels = match cfg.remove("Labels") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in rc.labels.iter().chain(extra_labels) {
        labels.insert(k.clone(), json!(v));
    }
    if !labels.is_empty() {
        cfg.insert("Labels".into(), Value::Object(labels));
    }
    img.insert("config".into(), Value::Object(cfg));
    if !img.contains_key("rootfs") {
        img.insert("rootfs".into(), json!({"type": "layers", "diff_ids": []}));
    }
    Ok(serde_json::to_vec(&Value::Object(img))?)
}

/// The base image's Env with the plan's variables set over it (in place when the base
/// has them, appended in name order otherwise) and the plan's PATH entries in front.
pub fn env_list(base_env: Option<&Value>, rc: &RuntimeConfig) -> Vec<String> {
    let mut env: Vec<String> = match base_env {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let base_path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let mut set: Vec<(String, String)> =
        rc.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if !rc.path_prepend.is_empty() && !rc.env.contains_key("PATH") {
        let mut parts: Vec<&str> = rc.path_prepend.iter().map(String::as_str).collect();
        parts.extend(
            base_path
                .split(':')
                .filter(|p| !rc.path_prepend.iter().any(|q| q == p)),
        );
        set.push(("PATH".into(), parts.join(":")));
    }
    for (k, v) in set {
        let kv = format!("{k}={v}");
        match env
            .iter()
            .position(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str()))
        {
            Some(i) => env[i] = kv,
            None if k == "PATH" => env.insert(0, kv),
            None => env.push(kv),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_spec::model::Healthcheck;

    fn rc() -> RuntimeConfig {
        RuntimeConfig {
            env: BTreeMap::from([
                ("VIRTUAL_ENV".into(), "/opt/venv".into()),
                ("A".into(), "1".into()),
            ]),
            path_prepend: vec!["/opt/venv/bin".into()],
            workdir: "/app".into(),
            user: Some("10001:10001".into()),
            cmd: Some(vec!["python".into(), "-m".into(), "core".into()]),
            entrypoint: None,
            expose: vec!["8000/tcp".into()],
            stop_signal: Some("SIGINT".into()),
            healthcheck: Some(Healthcheck {
                cmd: vec![
                    "curl".into(),
                    "-f".into(),
                    "http://localhost:8000/health".into(),
                ],
                interval_ns: Some(30_000_000_000),
                timeout_ns: Some(3_000_000_000),
                start_period_ns: None,
                retries: Some(3),
            }),
            labels: BTreeMap::from([("a".into(), "spec".into()), ("b".into(), "spec".into())]),
        }
    }

    fn amd64() -> pb::Platform {
        pb::Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        }
    }

    #[test]
    fn applies_the_runtime_config_over_the_base() {
        let base = br#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
            "config":{"Env":["PATH=/usr/local/bin:/usr/bin","A=0","LANG=C.UTF-8"],"Cmd":["python3"],
            "Labels":{"b":"base","c":"base"}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"x"}]}"#;
        let extra = BTreeMap::from([("a".to_string(), "cli".to_string())]);
        let out = image_config(Some(base), &rc(), &amd64(), &extra).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let c = &v["config"];
        assert_eq!(
            c["Env"],
            json!([
                "PATH=/opt/venv/bin:/usr/local/bin:/usr/bin",
                "A=1",
                "LANG=C.UTF-8",
                "VIRTUAL_ENV=/opt/venv"
            ])
        );
        assert_eq!(c["Cmd"], json!(["python", "-m", "core"]));
        assert_eq!(c["User"], json!("10001:10001"));
        assert_eq!(c["WorkingDir"], json!("/app"));
        assert_eq!(c["ExposedPorts"], json!({"8000/tcp": {}}));
        assert_eq!(c["StopSignal"], json!("SIGINT"));
        assert_eq!(
            c["Healthcheck"]["Test"],
            json!(["CMD", "curl", "-f", "http://localhost:8000/health"])
        );
        assert_eq!(c["Healthcheck"]["Interval"], json!(30_000_000_000u64));
        assert_eq!(c["Healthcheck"]["Retries"], json!(3));
        assert_eq!(c["Labels"], json!({"a": "cli", "b": "spec", "c": "base"}));
        assert!(v.get("created").is_none());
        assert_eq!(v["history"], json!([{"created_by": "x"}]));
    }

    #[test]
    fn entrypoint_without_cmd_drops_the_base_cmd() {
        let base = br#"{"config":{"Cmd":["bash"]}}"#;
        let mut r = rc();
        r.entrypoint = Some(vec!["/app/run".into()]);
        r.cmd = None;
        let v: Value = serde_json::from_slice(
            &image_config(Some(base), &r, &amd64(), &BTreeMap::new()).unwrap(),
        )
        .unwrap();
        assert_eq!(v["config"]["Entrypoint"], json!(["/app/run"]));
        assert!(v["config"].get("Cmd").is_none());
    }

    #[test]
    fn without_a_base_config_path_is_the_default_one() {
        let v: Value =
            serde_json::from_slice(&image_config(None, &rc(), &amd64(), &BTreeMap::new()).unwrap())
                .unwrap();
        assert_eq!(
            v["config"]["Env"][0],
            json!(format!("PATH=/opt/venv/bin:{DEFAULT_PATH}"))
        );
        assert_eq!(v["os"], json!("linux"));
    }

    #[test]
    fn a_broken_base_config_is_an_error_not_a_panic() {
        assert!(image_config(Some(b"{not json"), &rc(), &amd64(), &BTreeMap::new()).is_err());
    }
}
