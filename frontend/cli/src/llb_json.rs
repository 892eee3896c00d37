//! A readable JSON dump of a Definition (`strata llb --json`), for people and for the
//! golden tests: one entry per op, in definition order, with its digest and name.

use prost::Message;
use serde_json::{json, Value};
use strata_llb::pb;

pub fn definition(def: &pb::Definition) -> Value {
    let ops: Vec<Value> = def
        .def
        .iter()
        .map(|bytes| {
            let digest = strata_llb::digest_of(bytes);
            let name = def
                .metadata
                .get(&digest)
                .and_then(|m| m.description.get("llb.customname"))
                .cloned();
            let body = match pb::Op::decode(bytes.as_slice()) {
                Ok(op) => op_json(&op),
                Err(e) => json!({"undecodable": e.to_string()}),
            };
            json!({"digest": digest, "name": name, "op": body})
        })
        .collect();
    json!({ "ops": ops })
}

fn op_json(op: &pb::Op) -> Value {
    let inputs: Vec<String> = op
        .inputs
        .iter()
        .map(|i| format!("{}[{}]", short(&i.digest), i.index))
        .collect();
    let mut v = match &op.op {
        None => json!({"kind": "terminal"}),
        Some(pb::op::Op::Source(s)) => {
            json!({"kind": "source", "identifier": s.identifier, "attrs": s.attrs})
        }
        Some(pb::op::Op::Exec(e)) => {
            let meta = e.meta.clone().unwrap_or_default();
            let mounts: Vec<Value> = e
                .mounts
                .iter()
                .map(|m| {
                    let mut mv = json!({"dest": m.dest, "input": m.input, "output": m.output});
                    if m.readonly {
                        mv["readonly"] = json!(true);
                    }
                    if !m.selector.is_empty() {
                        mv["selector"] = json!(m.selector);
                    }
                    match pb::MountType::try_from(m.mount_type) {
                        Ok(pb::MountType::Cache) => {
                            let c = m.cache_opt.clone().unwrap_or_default();
                            mv["cache"] = json!({"id": c.id, "sharing": sharing(c.sharing)});
                        }
                        Ok(pb::MountType::Tmpfs) => mv["tmpfs"] = json!(true),
                        Ok(pb::MountType::Bind) => {}
                        _ => mv["type"] = json!(m.mount_type),
                    }
                    mv
                })
                .collect();
            json!({
                "kind": "exec",
                "args": meta.args,
                "env": meta.env,
                "cwd": meta.cwd,
                "network": match pb::NetMode::try_from(e.network) {
                    Ok(pb::NetMode::Host) => "host",
                    Ok(pb::NetMode::None) => "none",
                    _ => "sandbox",
                },
                "mounts": mounts,
            })
        }
        Some(pb::op::Op::File(f)) => {
            let actions: Vec<Value> = f
                .actions
                .iter()
                .map(|a| {
                    let body = match &a.action {
                        Some(pb::file_action::Action::Copy(c)) => json!({"copy": {
                            "src": c.src, "dest": c.dest, "owner": owner(&c.owner),
                            "include": c.include_patterns, "exclude": c.exclude_patterns}}),
                        Some(pb::file_action::Action::Mkdir(m)) => json!({"mkdir": {
                            "path": m.path, "mode": format!("{:o}", m.mode), "owner": owner(&m.owner)}}),
                        Some(pb::file_action::Action::Mkfile(m)) => json!({"mkfile": {"path": m.path}}),
                        Some(pb::file_action::Action::Rm(r)) => json!({"rm": {"path": r.path}}),
                        None => json!(null),
                    };
                    json!({"input": a.input, "secondary": a.secondary_input, "output": a.output, "action": body})
                })
                .collect();
            json!({"kind": "file", "actions": actions})
        }
        Some(pb::op::Op::Merge(_)) => json!({"kind": "merge"}),
        Some(pb::op::Op::Diff(_)) => json!({"kind": "diff"}),
    };
    v["inputs"] = json!(inputs);
    if let Some(p) = &op.platform {
        v["platform"] = json!(format!("{}/{}", p.os, p.architecture));
    }
    v
}

fn short(d: &str) -> String {
    d.trim_start_matches("sha256:").chars().take(12).collect()
}

fn sharing(s: i32) -> &'static str {
    match pb::CacheSharingOpt::try_from(s) {
        Ok(pb::CacheSharingOpt::Locked) => "locked",
        Ok(pb::CacheSharingOpt::Private) => "private",
        _ => "shared",
    }
}

fn owner(o: &Option<pb::ChownOpt>) -> Value {
    let id = |u: &Option<pb::UserOpt>| match u.as_ref().and_then(|u| u.user.as_ref()) {
        Some(pb::user_opt::User::ById(i)) => json!(i),
        Some(pb::user_opt::User::ByName(n)) => json!(n.name),
        None => Value::Null,
    };
    match o {
        Some(c) => json!([id(&c.user), id(&c.group)]),
        None => Value::Null,
    }
}
