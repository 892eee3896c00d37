//! `strata report`: what a build did, from its `--progress=rawjson` log.
//!
//! buildx's rawjson progress is a stream of JSON `SolveStatus` objects (pretty-printed,
//! one after the other; `buildctl --progress=rawjson` prints one per line). Each carries
//! `vertexes` updates: `digest`, `name`, `inputs`, `started`, `completed`, `cached`,
//! `error`. The same vertex is reported many times (queued, started, completed, and again
//! when a later solve of the same build reuses it); this module folds the updates per
//! digest and says, per stage (`[app]`, `[api]`, `[app linux/arm64]`, `[internal]`) and
//! per tier (`... tier base`), which steps were cache hits and which ran, for how long,
//! and the cache hit rate over the build steps.
//!
//! `cached` alone does not say whether a step ran: BuildKit may report a cache hit and
//! then run the op all the same, when the cache has the step's key but not its result
//! (inline cache keeps only the results that are image layers); and pulling a hit's layers
//! from a registry shows as a run of its own. The updates tell them apart: the solver's
//! own updates (a hit, or running the op) carry the vertex's `inputs`; the layer puller's
//! do not. A step *ran* when it has a start without `cached` that carries its inputs.
//!
//! What counts as a build step: every vertex of a stage (a `[name]` prefix other than
//! `[internal]`) that is not a source (`FROM ...`, which BuildKit reports as run even when
//! nothing is pulled). `[internal]` vertices (loading the spec, the context, image
//! metadata, git sources) and BuildKit's own (`exporting to image`, the frontend image)
//! are listed but not counted: they run in every build, cached or not. Lines that are not
//! JSON (the command line, buildx's error summary) are skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Who started a run of a vertex, as its updates tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The solver found the step in the cache (`cached: true`).
    Hit,
    /// The solver ran the op (its updates carry the vertex's `inputs`, no `cached`).
    Exec,
    /// Something else worked for the vertex: pulling or unpacking a cached result's
    /// layers, or loading a source (updates without `inputs`).
    Other,
}

/// One start of a vertex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Nanoseconds since the epoch.
    pub started: i128,
    pub completed: Option<i128>,
    pub kind: RunKind,
}

/// One vertex, folded over all of its updates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vertex {
    pub digest: String,
    /// The last non-empty name reported.
    pub name: String,
    pub inputs: Vec<String>,
    /// Its runs (distinct start times), in order of appearance.
    pub runs: Vec<Run>,
    /// The last error reported, if any.
    pub error: Option<String>,
}

impl Vertex {
    pub fn started(&self) -> Option<i128> {
        self.runs.iter().map(|r| r.started).min()
    }

    pub fn completed(&self) -> Option<i128> {
        self.runs.iter().filter_map(|r| r.completed).max()
    }

    /// A cache hit was reported for it.
    pub fn hit(&self) -> bool {
        self.runs.iter().any(|r| r.kind == RunKind::Hit)
    }

    /// The solver ran its op (a source has no op to run: loading it counts).
    pub fn executed(&self) -> bool {
        self.runs.iter().any(|r| {
            r.kind == RunKind::Exec || (r.kind == RunKind::Other && self.inputs.is_empty())
        })
    }

    /// Reported as a cache hit, then run all the same: the cache had its key but not its
    /// result (as inline cache has for steps whose filesystem is not an image layer).
    pub fn hit_then_ran(&self) -> bool {
        self.hit() && self.runs.iter().any(|r| r.kind == RunKind::Exec)
    }

    /// Time spent: the union of the completed runs' intervals; when it executed, of
    /// those runs only.
    pub fn duration_ns(&self) -> i128 {
        let exec_only = self.runs.iter().any(|r| r.kind == RunKind::Exec);
        let mut iv: Vec<(i128, i128)> = self
            .runs
            .iter()
            .filter(|r| !exec_only || r.kind == RunKind::Exec)
            .filter_map(|r| r.completed.map(|e| (r.started, e.max(r.started))))
            .collect();
        iv.sort();
        let mut total = 0;
        let mut cur: Option<(i128, i128)> = None;
        for (s, e) in iv {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            total += ce - cs;
        }
        total
    }

    pub fn status(&self) -> Status {
        let done = |k: &dyn Fn(&Run) -> bool| {
            self.runs
                .iter()
                .filter(|r| k(r))
                .all(|r| r.completed.is_some())
        };
        if self.error.is_some() {
            Status::Failed
        } else if self.executed() {
            if done(&|r| r.kind != RunKind::Hit) {
                Status::Ran
            } else {
                Status::Incomplete
            }
        } else if self.hit() {
            Status::Cached
        } else if self.runs.is_empty() {
            Status::NotStarted
        } else {
            // Only pulls of layers, never a hit nor a run of its own: not seen in practice.
            Status::Incomplete
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Cached,
    Ran,
    Failed,
    /// Started and never reported completed (cancelled, or the log is cut short).
    Incomplete,
    NotStarted,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Cached => "CACHED",
            Status::Ran => "RAN",
            Status::Failed => "ERROR",
            Status::Incomplete => "CANCELED",
            Status::NotStarted => "NOT RUN",
        }
    }
}

/// The vertices of a log, in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub vertices: Vec<Vertex>,
}

/// Reads a rawjson progress log. Fails only when it holds no vertex at all.
pub fn parse(text: &str) -> Result<Log, String> {
    let mut log = Log::default();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut objects = 0;
    for value in json_values(text) {
        objects += 1;
        let Some(vs) = value.get("vertexes").and_then(Value::as_array) else {
            continue;
        };
        for v in vs {
            let Some(digest) = v.get("digest").and_then(Value::as_str) else {
                continue;
            };
            let i = *index.entry(digest.to_string()).or_insert_with(|| {
                log.vertices.push(Vertex {
                    digest: digest.to_string(),
                    ..Default::default()
                });
                log.vertices.len() - 1
            });
            let vx = &mut log.vertices[i];
            if let Some(n) = v
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                vx.name = n.to_string();
            }
            if let Some(ins) = v.get("inputs").and_then(Value::as_array) {
                for d in ins.iter().filter_map(Value::as_str) {
                    if !vx.inputs.iter().any(|x| x == d) {
                        vx.inputs.push(d.to_string());
                    }
                }
            }
            if let Some(e) = v
                .get("error")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
            {
                vx.error = Some(e.to_string());
            }
            let cached = v.get("cached").and_then(Value::as_bool) == Some(true);
            let with_inputs = v
                .get("inputs")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            let kind = match (cached, with_inputs) {
                (true, _) => RunKind::Hit,
                (false, true) => RunKind::Exec,
                (false, false) => RunKind::Other,
            };
            let started = v
                .get("started")
                .and_then(Value::as_str)
                .and_then(parse_time);
            let completed = v
                .get("completed")
                .and_then(Value::as_str)
                .and_then(parse_time);
            if let Some(s) = started {
                // An update with the start only, then one with both: one run.
                if let Some(run) = vx.runs.iter_mut().find(|r| r.started == s) {
                    if run.completed.is_none() {
                        run.completed = completed;
                    }
                    if kind == RunKind::Hit || (kind == RunKind::Exec && run.kind == RunKind::Other)
                    {
                        run.kind = kind;
                    }
                } else {
                    vx.runs.push(Run {
                        started: s,
                        completed,
                        kind,
                    });
                }
            }
        }
    }
    if log.vertices.is_empty() {
        return Err(if objects == 0 {
            "no JSON progress in the input: build with `--progress=rawjson` and pass its output"
                .to_string()
        } else {
            "the progress log has no vertices".to_string()
        });
    }
    Ok(log)
}

/// The JSON objects of a text in which they may be pretty-printed over several lines and
/// mixed with lines of plain text.
fn json_values(text: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        if rest.starts_with('{') {
            let mut it = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            if let Some(Ok(v)) = it.next() {
                let used = it.byte_offset();
                out.push(v);
                rest = &rest[used..];
                continue;
            }
        }
        // Not JSON (or broken JSON): skip the line.
        rest = match rest.find('\n') {
            Some(i) => &rest[i + 1..],
            None => "",
        };
    }
}

/// RFC 3339 (`2026-11-22T08:11:15.942005523Z`, or with a `+hh:mm` offset) as nanoseconds
/// since the Unix epoch.
pub fn parse_time(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let mut digits: String = frac.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        nanos = digits.parse().ok()?;
    }
    let offset_s: i64 = match b.get(i)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Some(secs as i128 * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What a vertex name says about where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// `app` for `[app] ...`, `internal` for `[internal] ...`; `None` for BuildKit's own
    /// vertices (`exporting to image`, ...).
    pub stage: Option<String>,
    /// `linux/arm64` for `[app linux/arm64] ...` (or Dockerfile's `[linux/arm64 app 2/3]`).
    pub platform: Option<String>,
    /// `base` for `... tier base ...`.
    pub tier: Option<String>,
    /// The name without its `[...]` prefix.
    pub step: String,
}

pub fn label(name: &str) -> Label {
    let mut stage = None;
    let mut platform = None;
    let mut step = name.trim().to_string();
    if let Some(rest) = step.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let inside = &rest[..end];
            let mut words = vec![];
            for w in inside.split_whitespace() {
                if is_platform(w) {
                    platform = Some(w.to_string());
                } else if is_position(w) {
                    // Dockerfile's `2/5`
                } else {
                    words.push(w);
                }
            }
            if !words.is_empty() {
                stage = Some(words.join(" "));
            }
            step = rest[end + 1..].trim().to_string();
        }
    }
    let tier = {
        let ws: Vec<&str> = step.split_whitespace().collect();
        ws.windows(2).find(|w| w[0] == "tier").map(|w| {
            w[1].trim_matches(|c: char| c == ',' || c == ':')
                .to_string()
        })
    };
    Label {
        stage,
        platform,
        tier,
        step,
    }
}

fn is_platform(w: &str) -> bool {
    let mut parts = w.split('/');
    let os = parts.next().unwrap_or("");
    ["linux", "windows", "darwin", "freebsd"].contains(&os) && parts.next().is_some()
}

fn is_position(w: &str) -> bool {
    match w.split_once('/') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// How a vertex counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A step of a stage: counted in the cache hit rate.
    Step,
    /// Loading something (a source, `[internal]`): runs in every build; not counted.
    Load,
    /// BuildKit's own work (exporting, the frontend image); not counted.
    Other,
}

pub fn kind(v: &Vertex, l: &Label) -> Kind {
    match l.stage.as_deref() {
        None => Kind::Other,
        Some("internal") => Kind::Load,
        Some(_) if v.inputs.is_empty() && l.step.starts_with("FROM ") => Kind::Load,
        Some(_) => Kind::Step,
    }
}

/// The counts the report ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub steps: usize,
    pub cached: usize,
    pub ran: usize,
    pub failed: usize,
    /// Steps neither cached nor run to completion (cancelled, or never started).
    pub other: usize,
    /// Time the steps that ran took, added up (they may overlap).
    pub ran_ns: i128,
    /// From the first vertex's start to the last one's completion.
    pub wall_ns: i128,
}

impl Totals {
    /// Cache hits over steps, in percent (100 when there is no step).
    pub fn hit_rate(&self) -> f64 {
        if self.steps == 0 {
            100.0
        } else {
            self.cached as f64 * 100.0 / self.steps as f64
        }
    }
}

pub fn totals(log: &Log) -> Totals {
    let mut t = Totals::default();
    for v in &log.vertices {
        if kind(v, &label(&v.name)) != Kind::Step {
            continue;
        }
        t.steps += 1;
        match v.status() {
            Status::Cached => t.cached += 1,
            Status::Ran => {
                t.ran += 1;
                t.ran_ns += v.duration_ns();
            }
            Status::Failed => t.failed += 1,
            _ => t.other += 1,
        }
    }
    // From the first vertex of the log (the spec's load): a vertex shared with another
    // build can carry that build's older times.
    let start = log
        .vertices
        .first()
        .and_then(Vertex::started)
        .or_else(|| log.vertices.iter().filter_map(Vertex::started).min());
    let end = log.vertices.iter().filter_map(Vertex::completed).max();
    if let (Some(s), Some(e)) = (start, end) {
        t.wall_ns = (e - s).max(0);
    }
    t
}

/// The gist of a vertex error: BuildKit's `process "<the whole script>" did not complete
/// successfully: exit code: 1` becomes `exit code: 1`; anything else its first line, cut
/// at 160 characters. (buildx prints the whole error at the end of the build.)
pub fn short_error(e: &str) -> String {
    const MARK: &str = "did not complete successfully: ";
    if let Some(i) = e.rfind(MARK) {
        return e[i + MARK.len()..].trim().to_string();
    }
    let line = e.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

fn secs(ns: i128) -> String {
    let s = ns as f64 / 1e9;
    if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

/// The vertices in build order: each after its inputs, otherwise by start time.
pub fn build_order(log: &Log) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = log
        .vertices
        .iter()
        .enumerate()
        .map(|(i, v)| (v.digest.as_str(), i))
        .collect();
    let mut by_start: Vec<usize> = (0..log.vertices.len()).collect();
    by_start.sort_by_key(|&i| (log.vertices[i].started().unwrap_or(i128::MAX), i));
    let mut done = vec![false; log.vertices.len()];
    let mut out = vec![];
    for root in by_start {
        // Iterative post-order over inputs (logs can be deep).
        let mut stack = vec![(root, false)];
        while let Some((i, expanded)) = stack.pop() {
            if done[i] {
                continue;
            }
            if expanded {
                done[i] = true;
                out.push(i);
                continue;
            }
            stack.push((i, true));
            let mut ins: Vec<usize> = log.vertices[i]
                .inputs
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .filter(|&j| !done[j])
                .collect();
            ins.sort_by_key(|&j| {
                std::cmp::Reverse((log.vertices[j].started().unwrap_or(i128::MAX), j))
            });
            stack.extend(ins.into_iter().map(|j| (j, false)));
        }
    }
    out
}

/// The report, as `strata report` prints it.
pub fn render(log: &Log) -> String {
    // Groups: stages (and their platforms) in order of appearance, then [internal],
    // then BuildKit's own vertices.
    struct Group<'a> {
        title: String,
        rank: u8,
        first: usize,
        rows: Vec<(&'a Vertex, Label, Kind)>,
    }
    let mut groups: Vec<Group> = vec![];
    for (pos, &i) in build_order(log).iter().enumerate() {
        let v = &log.vertices[i];
        let l = label(&v.name);
        let k = kind(v, &l);
        let (title, rank) = match (&l.stage, &l.platform) {
            (None, _) => ("buildkit".to_string(), 2),
            (Some(s), _) if s == "internal" => ("[internal]".to_string(), 1),
            (Some(s), Some(p)) => (format!("[{s}] {p}"), 0),
            (Some(s), None) => (format!("[{s}]"), 0),
        };
        match groups.iter_mut().find(|g| g.title == title) {
            Some(g) => g.rows.push((v, l, k)),
            None => groups.push(Group {
                title,
                rank,
                first: pos,
                rows: vec![(v, l, k)],
            }),
        }
    }
    groups.sort_by_key(|g| (g.rank, g.first));

    let mut out = String::new();
    for g in &mut groups {
        // Within a group: steps with no tier first, then each tier; each by start time.
        let mut tiers: Vec<Option<String>> = vec![];
        for (_, l, _) in &g.rows {
            if !tiers.contains(&l.tier) {
                tiers.push(l.tier.clone());
            }
        }
        tiers.sort_by_key(|t| t.is_some());
        let steps: Vec<_> = g.rows.iter().filter(|r| r.2 == Kind::Step).collect();
        let cached = steps
            .iter()
            .filter(|r| r.0.status() == Status::Cached)
            .count();
        let head = if steps.is_empty() {
            "not counted".to_string()
        } else {
            format!("{cached} of {} steps cached", steps.len())
        };
        let _ = writeln!(out, "{}  ({head})", g.title);
        for tier in &tiers {
            let rows: Vec<_> = g.rows.iter().filter(|r| &r.1.tier == tier).collect();
            let indent = if let Some(t) = tier {
                let ts: Vec<_> = rows.iter().filter(|r| r.2 == Kind::Step).collect();
                let tc = ts.iter().filter(|r| r.0.status() == Status::Cached).count();
                if ts.is_empty() {
                    let _ = writeln!(out, "  tier {t}");
                } else {
                    let _ = writeln!(out, "  tier {t}  ({tc} of {} steps cached)", ts.len());
                }
                "    "
            } else {
                "  "
            };
            for (v, l, k) in rows {
                let st = v.status();
                let time = match st {
                    Status::NotStarted => String::new(),
                    _ => secs(v.duration_ns()),
                };
                let note = match k {
                    Kind::Load if g.rank == 0 => "  (source, not counted)",
                    Kind::Step if v.hit_then_ran() => {
                        "  (in the cache without its result: ran again)"
                    }
                    _ => "",
                };
                let step = if l.step.is_empty() { &v.name } else { &l.step };
                let _ = writeln!(out, "{indent}{:<8} {:>7}  {step}{note}", st.word(), time);
                if let Some(e) = &v.error {
                    let _ = writeln!(out, "{indent}         error: {}", short_error(e));
                }
            }
        }
        out.push('\n');
    }
    let t = totals(log);
    let mut tail = format!(
        "cache: {} of {} steps cached ({:.1}%); {} ran",
        t.cached,
        t.steps,
        t.hit_rate(),
        t.ran
    );
    if t.ran > 0 {
        let _ = write!(tail, " ({} of step time)", secs(t.ran_ns));
    }
    if t.failed > 0 {
        let _ = write!(tail, "; {} failed", t.failed);
    }
    if t.other > 0 {
        let _ = write!(tail, "; {} did not finish", t.other);
    }
    let _ = writeln!(out, "{tail}; build {}", secs(t.wall_ns));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_fractions_and_offsets() {
        let a = parse_time("2026-11-22T08:11:15.942005523Z").unwrap();
        let b = parse_time("2026-11-22T09:11:16+01:00").unwrap();
        assert_eq!(b - a, 57_994_477);
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2000-03-01T00:00:00.5Z"),
            Some(951_868_800_500_000_000)
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn labels_split_stage_platform_and_tier() {
        let l = label("[api] pip install tier base");
        assert_eq!(l.stage.as_deref(), Some("api"));
        assert_eq!(l.tier.as_deref(), Some("base"));
        assert_eq!(l.step, "pip install tier base");
        let l = label("[app linux/arm64] layer: tier web");
        assert_eq!(
            (l.stage.as_deref(), l.platform.as_deref(), l.tier.as_deref()),
            (Some("app"), Some("linux/arm64"), Some("web"))
        );
        let l = label("[linux/amd64 build 2/3] RUN make");
        assert_eq!(
            (l.stage.as_deref(), l.platform.as_deref()),
            (Some("build"), Some("linux/amd64"))
        );
        let l = label("[internal] load build context: requirements up to tier web");
        assert_eq!(
            (l.stage.as_deref(), l.tier.as_deref()),
            (Some("internal"), Some("web"))
        );
        let l = label("exporting to image");
        assert_eq!((l.stage, l.tier), (None, None));
    }

    #[test]
    fn updates_fold_per_digest_and_text_lines_are_skipped() {
        let text = r#"+ docker buildx build ...
{
  "vertexes": [
    {"digest": "sha256:a", "name": "[app] pip install tier base", "inputs": ["sha256:b"]}
  ]
}
{"vertexes":[{"digest":"sha256:a","name":"[app] pip install tier base","inputs":["sha256:b"],"started":"2026-01-01T00:00:00Z"}]}
{"vertexes":[{"digest":"sha256:a","name":"[app] pip install tier base","inputs":["sha256:b"],"started":"2026-01-01T00:00:00Z","completed":"2026-01-01T00:00:02.5Z"}]}
{"vertexes":[{"digest":"sha256:b","name":"[app] FROM x","started":"2026-01-01T00:00:00Z","completed":"2026-01-01T00:00:00Z"}]}
{"vertexes":[{"digest":"sha256:c","name":"[app] copy app","inputs":["sha256:b"],"cached":true,"started":"2026-01-01T00:00:03Z","completed":"2026-01-01T00:00:03Z"}]}
{"vertexes":[{"digest":"sha256:d","name":"[app] run tests","inputs":["sha256:b"],"started":"2026-01-01T00:00:03Z","completed":"2026-01-01T00:00:04Z","error":"exit code: 1"}]}
{"statuses":[{"id":"x","vertex":"sha256:a"}]}
ERROR: failed to solve: exit code: 1
"#;
        let log = parse(text).unwrap();
        assert_eq!(log.vertices.len(), 4);
        let a = &log.vertices[0];
        assert_eq!(a.runs.len(), 1);
        assert_eq!(a.duration_ns(), 2_500_000_000);
        assert_eq!(a.status(), Status::Ran);
        assert_eq!(log.vertices[3].status(), Status::Failed);
        let t = totals(&log);
        // FROM is a source: not a step.
        assert_eq!((t.steps, t.cached, t.ran, t.failed), (3, 1, 1, 1));
        assert_eq!(t.wall_ns, 4_000_000_000);
        let r = render(&log);
        assert!(r.contains("RAN         2.5s  pip install tier base"), "{r}");
        assert!(r.contains("error: exit code: 1"), "{r}");
        assert_eq!(short_error("x\ny"), "x");
        assert!(
            r.contains("cache: 1 of 3 steps cached (33.3%); 1 ran (2.5s of step time); 1 failed"),
            "{r}"
        );
    }

    #[test]
    fn a_vertex_run_twice_counts_the_union_of_its_runs() {
        let run = |started, completed| Run {
            started,
            completed,
            kind: RunKind::Exec,
        };
        let v = Vertex {
            inputs: vec!["sha256:a".into()],
            runs: vec![
                run(0, Some(10)),
                run(5, Some(20)),
                run(30, Some(40)),
                run(50, None),
            ],
            ..Default::default()
        };
        assert_eq!(v.duration_ns(), 30);
        assert_eq!(v.status(), Status::Incomplete);
    }

    #[test]
    fn no_progress_is_an_error() {
        assert!(parse("ERROR: something\n").unwrap_err().contains("rawjson"));
        assert!(parse("{\"statuses\":[]}")
            .unwrap_err()
            .contains("no vertices"));
    }

    // Real logs from `docker buildx build --progress=rawjson` (Docker 26.1, BuildKit 0.13),
    // trimmed to their vertex updates (statuses and command output dropped).
    const REQUIREMENTS_EDIT: &str =
        include_str!("../tests/fixtures/report/requirements-edit.rawjson");
    const TWO_PLATFORMS: &str = include_str!("../tests/fixtures/report/two-platforms.rawjson");
    const FAILED: &str = include_str!("../tests/fixtures/report/failed.rawjson");
    const INLINE_REQUIREMENTS_EDIT: &str =
        include_str!("../tests/fixtures/report/inline-requirements-edit.rawjson");

    fn statuses(log: &Log, f: impl Fn(&Label) -> bool) -> Vec<(String, Status)> {
        let mut v: Vec<_> = build_order(log)
            .into_iter()
            .map(|i| &log.vertices[i])
            .filter(|v| {
                let l = label(&v.name);
                kind(v, &l) == Kind::Step && f(&l)
            })
            .map(|v| (label(&v.name).step, v.status()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn fixture_registry_cache_hit_after_a_requirements_edit() {
        // The cache test's app, rebuilt after `buildx prune -af` with --cache-from a
        // mode=max registry cache, tier web's requirements edited.
        let log = parse(REQUIREMENTS_EDIT).unwrap();
        let t = totals(&log);
        assert_eq!(
            (t.steps, t.cached, t.ran, t.failed, t.other),
            (12, 9, 3, 0, 0)
        );
        assert_eq!(format!("{:.1}", t.hit_rate()), "75.0");
        let ran: Vec<_> = statuses(&log, |_| true)
            .into_iter()
            .filter(|s| s.1 == Status::Ran)
            .map(|s| s.0)
            .collect();
        assert_eq!(
            ran,
            [
                "assemble image layers",
                "layer: tier web",
                "pip install tier web"
            ]
        );
        let r = render(&log);
        assert!(r.starts_with("[app]  (9 of 12 steps cached)\n"), "{r}");
        assert!(r.contains("  tier base  (2 of 2 steps cached)\n"), "{r}");
        assert!(r.contains("  tier web  (0 of 2 steps cached)\n"), "{r}");
        assert!(
            r.contains("RAN         1.4s  pip install tier web\n"),
            "{r}"
        );
        assert!(
            r.contains("  FROM localhost/python:3.11-bookworm  (source, not counted)"),
            "{r}"
        );
        assert!(r.contains("\n[internal]  (not counted)\n"), "{r}");
        assert!(
            r.contains("importing cache manifest from 127.0.0.1:5000/"),
            "{r}"
        );
        assert!(
            r.ends_with(
                "cache: 9 of 12 steps cached (75.0%); 3 ran (1.5s of step time); build 3.7s\n"
            ),
            "{r}"
        );
        // Stages first, then [internal], then BuildKit's own.
        let heads: Vec<&str> = r
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .collect();
        assert_eq!(
            heads[..3],
            [
                "[app]  (9 of 12 steps cached)",
                "[internal]  (not counted)",
                "buildkit  (not counted)"
            ]
        );
    }

    #[test]
    fn fixture_two_platforms_are_reported_apart() {
        // --platform linux/amd64,linux/arm64 (arm64 under qemu), nothing cached.
        let log = parse(TWO_PLATFORMS).unwrap();
        let t = totals(&log);
        assert_eq!((t.steps, t.cached, t.ran), (19, 0, 19));
        let arm = statuses(&log, |l| l.platform.as_deref() == Some("linux/arm64"));
        let amd = statuses(&log, |l| l.platform.as_deref() == Some("linux/amd64"));
        assert_eq!(arm.len(), 9);
        // The app copy is the same op for both platforms (file ops have no platform):
        // BuildKit runs it once, under one of the two names.
        assert_eq!(amd.len(), 10);
        assert!(arm.iter().any(|s| s.0 == "pip install tier base"));
        let r = render(&log);
        assert!(
            r.contains("[app] linux/amd64  (0 of 10 steps cached)"),
            "{r}"
        );
        assert!(
            r.contains("[app] linux/arm64  (0 of 9 steps cached)"),
            "{r}"
        );
        assert!(
            r.contains(
                "load metadata for 127.0.0.1:5000/strata-e2e/python:3.11-bookworm (linux/arm64)"
            ),
            "{r}"
        );
        assert!(
            r.contains("cache: 0 of 19 steps cached (0.0%); 19 ran"),
            "{r}"
        );
    }

    #[test]
    fn fixture_failed_build() {
        // A tier whose requirement does not exist: pip fails, what needs it never starts.
        let log = parse(FAILED).unwrap();
        let t = totals(&log);
        assert_eq!(
            (t.steps, t.cached, t.ran, t.failed, t.other),
            (8, 0, 5, 1, 2)
        );
        let r = render(&log);
        assert!(
            r.contains("ERROR       4.1s  pip install tier base\n"),
            "{r}"
        );
        assert!(r.contains("error: exit code: 1\n"), "{r}");
        assert!(r.contains("NOT RUN           layer: tier base"), "{r}");
        assert!(r.contains("; 1 failed; 2 did not finish;"), "{r}");
    }

    #[test]
    fn fixture_inline_cache_hits_that_ran_all_the_same_count_as_ran() {
        // The same requirements edit with --cache-from an image with inline cache: the
        // builder's steps are in it by key only, so BuildKit reports them cached and then
        // runs them.
        let log = parse(INLINE_REQUIREMENTS_EDIT).unwrap();
        let ran: Vec<_> = statuses(&log, |_| true)
            .into_iter()
            .filter(|s| s.1 == Status::Ran)
            .map(|s| s.0)
            .collect();
        assert_eq!(
            ran,
            [
                "assemble image layers",
                "builder: apt-get install jq",
                "builder: install pip",
                "create venv /opt/venv",
                "layer: tier web",
                "pip install tier base",
                "pip install tier web"
            ]
        );
        let t = totals(&log);
        assert_eq!((t.steps, t.cached, t.ran), (12, 5, 7));
        let r = render(&log);
        assert!(
            r.contains("builder: install pip  (in the cache without its result: ran again)"),
            "{r}"
        );
        // Its time is the run's, not the hit's.
        assert!(r.contains("RAN         9.9s  builder: install pip"), "{r}");
    }
}
