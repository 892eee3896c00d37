//! Merging an override (a service, a variant) over a base, table by table.
//!
//! Tables (`[image]`, `[run]`, ...) and maps (`env`, `labels`, `outputs`) merge key by
//! key; everything else — strings, numbers, arrays (including arrays of tables such
//! as `[[python.layers]]` and `[[build]]`) and one-setting tables (`healthcheck`,
//! `git`) — is replaced by the override's value.

use std::collections::HashMap;

use crate::schema::{Schema, Ty};
use crate::value::{Entry, Kind, Table};

/// Merge `over` into `base`, following `schema` for which keys merge.
pub(crate) fn merge(base: &mut Table, over: &Table, schema: &Schema) {
    for e in &over.entries {
        let ty = schema.field(&e.key).map(|f| f.ty);
        let Some(existing) = base.get_mut(&e.key) else {
            base.entries.push(e.clone());
            continue;
        };
        match (ty, &mut existing.value.kind, &e.value.kind) {
            (Some(Ty::Table(s)), Kind::Table(b), Kind::Table(o)) => merge(b, o, s),
            (Some(Ty::Named { schema: s, .. }), Kind::Table(b), Kind::Table(o)) => {
                let mut at = Index::of(b);
                for named in &o.entries {
                    match (at.get(&named.key), &named.value.kind) {
                        (Some(i), Kind::Table(ot)) => {
                            let bv = &mut b.entries[i].value;
                            if let Kind::Table(bt) = &mut bv.kind {
                                merge(bt, ot, s);
                            } else {
                                *bv = named.value.clone();
                            }
                        }
                        _ => at.replace_or_push(b, named),
                    }
                }
            }
            (Some(Ty::Map { .. }), Kind::Table(b), Kind::Table(o)) => {
                let mut at = Index::of(b);
                for m in &o.entries {
                    at.replace_or_push(b, m);
                }
            }
            _ => {
                *existing = e.clone();
            }
        }
    }
}

/// Where each key of a table is: merging a map of N keys over one of M keys costs
/// N + M, not N × M (a spec of 200,000 env keys took a minute).
struct Index(HashMap<String, usize>);

impl Index {
    fn of(t: &Table) -> Self {
        let mut m = HashMap::with_capacity(t.entries.len());
        for (i, e) in t.entries.iter().enumerate() {
            m.entry(e.key.clone()).or_insert(i);
        }
        Index(m)
    }

    fn get(&self, key: &str) -> Option<usize> {
        self.0.get(key).copied()
    }

    fn replace_or_push(&mut self, t: &mut Table, e: &Entry) {
        match self.get(&e.key) {
            Some(i) => t.entries[i] = e.clone(),
            None => {
                self.0.insert(e.key.clone(), t.entries.len());
                t.entries.push(e.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SERVICE;
    use crate::source::SourceFile;
    use crate::value::{self, Value};

    fn parse(text: &str) -> Table {
        value::parse(&SourceFile::new("t", text)).unwrap()
    }

    fn get<'a>(t: &'a Table, path: &[&str]) -> Option<&'a Value> {
        let (last, init) = path.split_last()?;
        let mut cur = t;
        for k in init {
            cur = cur.value(k)?.table()?;
        }
        cur.value(last)
    }

    #[test]
    fn maps_merge_lists_replace() {
        let mut base = parse(
            "[image]\nbase = \"a:1\"\nenv = { A = \"1\", B = \"2\" }\n[system]\npackages = [\"x\", \"y\"]\n[run]\nhealthcheck = { cmd = [\"a\"], retries = 3 }\n",
        );
        let over = parse(
            "[image]\nenv = { B = \"3\", C = \"4\" }\n[system]\npackages = [\"z\"]\n[run]\nhealthcheck = { cmd = [\"b\"] }\n",
        );
        merge(&mut base, &over, &SERVICE);
        assert_eq!(
            get(&base, &["image", "base"]).and_then(Value::str),
            Some("a:1")
        );
        let env = get(&base, &["image", "env"])
            .and_then(Value::table)
            .unwrap();
        let pairs: Vec<_> = env
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.str().unwrap()))
            .collect();
        assert_eq!(pairs, [("A", "1"), ("B", "3"), ("C", "4")]);
        let pk = get(&base, &["system", "packages"])
            .and_then(Value::array)
            .unwrap();
        assert_eq!(pk.len(), 1);
        let hc = get(&base, &["run", "healthcheck"])
            .and_then(Value::table)
            .unwrap();
        assert!(
            hc.get("retries").is_none(),
            "healthcheck is replaced as a whole"
        );
    }
}
