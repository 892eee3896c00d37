//! `strata explain`: the plan in words, for humans.

use std::fmt::Write;

use crate::ir::*;

/// Renders every step of the plan, in build order, with what it reads and runs.
pub fn explain(p: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "target {}", p.target);
    for (i, img) in p.images.iter().enumerate() {
        let _ = writeln!(out, "  image #{i} ({}): {}", img.role, img.reference);
    }
    let _ = writeln!(out, "steps:");
    for (i, n) in p.nodes.iter().enumerate() {
        let _ = writeln!(out, "  #{i} {}", n.name);
        describe(&mut out, &n.kind);
    }
    let _ = writeln!(out, "final filesystem: #{}", p.output.0);
    let c = &p.config;
    let _ = writeln!(out, "image config:");
    let _ = writeln!(out, "  user: {}", c.user.as_deref().unwrap_or("root"));
    let _ = writeln!(out, "  workdir: {}", c.workdir);
    if !c.path_prepend.is_empty() {
        let _ = writeln!(out, "  PATH prefix: {}", c.path_prepend.join(":"));
    }
    for (k, v) in &c.env {
        let _ = writeln!(out, "  env {k}={v}");
    }
    if let Some(e) = &c.entrypoint {
        let _ = writeln!(out, "  entrypoint: {e:?}");
    }
    if let Some(cmd) = &c.cmd {
        let _ = writeln!(out, "  cmd: {cmd:?}");
    }
    if !c.expose.is_empty() {
        let _ = writeln!(out, "  expose: {}", c.expose.join(", "));
    }
    if let Some(h) = &c.healthcheck {
        let _ = writeln!(out, "  healthcheck: {:?}", h.cmd);
    }
    if let Some(s) = &c.stop_signal {
        let _ = writeln!(out, "  stop signal: {s}");
    }
    for (k, v) in &c.labels {
        let _ = writeln!(out, "  label {k}={v}");
    }
    out
}

fn describe(out: &mut String, k: &NodeKind) {
    match k {
        NodeKind::Image(i) => {
            let _ = writeln!(out, "      image #{}", i.0);
        }
        NodeKind::Context(c) => {
            if c.include.is_empty() {
                let _ = writeln!(out, "      context: everything");
            } else {
                let _ = writeln!(out, "      context: only {}", c.include.join(", "));
            }
            if !c.exclude.is_empty() {
                let _ = writeln!(out, "      excluding {}", c.exclude.join(", "));
            }
        }
        NodeKind::Git(g) => {
            let r = g.reference.as_deref().unwrap_or("default branch");
            let _ = writeln!(out, "      git {} at {r}", g.url);
        }
        NodeKind::Exec(e) => {
            let _ = writeln!(
                out,
                "      on #{}{}",
                e.root.0,
                if e.network { ", with network" } else { "" }
            );
            let cmd = if e.args.len() == 3 && e.args[1] == "-c" {
                e.args[2].trim_end().replace('\n', "\n        ")
            } else {
                e.args.join(" ")
            };
            let _ = writeln!(out, "      run: {cmd}");
            for (k, v) in &e.env {
                let _ = writeln!(out, "      env {k}={v}");
            }
            for m in &e.mounts {
                match m {
                    Mount::Cache {
                        target,
                        id,
                        sharing,
                    } => {
                        let _ = writeln!(out, "      cache {target} (id {id}, {sharing:?})");
                    }
                    Mount::Bind {
                        target,
                        from,
                        source,
                    } => {
                        let _ = writeln!(
                            out,
                            "      mount #{}:{source} at {target}, read-only",
                            from.0
                        );
                    }
                    Mount::Tmpfs { target } => {
                        let _ = writeln!(out, "      tmpfs {target}");
                    }
                    Mount::Secret { target, id } => {
                        let _ = writeln!(out, "      secret {id} at {target}");
                    }
                    Mount::Ssh { target, id } => {
                        let _ = writeln!(out, "      ssh agent {id} at {target}");
                    }
                }
            }
        }
        NodeKind::File { base, actions } => {
            match base {
                Some(b) => {
                    let _ = writeln!(out, "      on #{}", b.0);
                }
                None => {
                    let _ = writeln!(out, "      on an empty layer");
                }
            }
            for a in actions {
                match a {
                    FileAction::Mkdir { path, mode, owner } => {
                        let _ = writeln!(
                            out,
                            "      mkdir {path} mode {mode:o} owner {}",
                            owner_str(owner)
                        );
                    }
                    FileAction::Copy {
                        from,
                        src,
                        dest,
                        owner,
                        ..
                    } => {
                        let _ = writeln!(
                            out,
                            "      copy #{}:{src} to {dest} owner {}",
                            from.0,
                            owner_str(owner)
                        );
                    }
                }
            }
        }
        NodeKind::Diff { lower, upper } => {
            let _ = writeln!(out, "      what #{} changed over #{}", upper.0, lower.0);
        }
        NodeKind::Merge(inputs) => {
            let ids: Vec<String> = inputs.iter().map(|i| format!("#{}", i.0)).collect();
            let _ = writeln!(out, "      layers, bottom first: {}", ids.join(" "));
        }
    }
}

fn owner_str(o: &Option<(u32, u32)>) -> String {
    match o {
        Some((u, g)) => format!("{u}:{g}"),
        None => "unchanged".into(),
    }
}
