//! What the requirements files of a target's tiers ask for, checked for what makes a
//! tier's layer drift or break:
//!
//! - requirements not pinned to one version (`pandas>=2`, `numpy`): they resolve to
//!   whatever is newest when the tier's step runs, so two builds of one spec can ship
//!   different packages, and the step's cache hides it until something else changes;
//! - a later tier asking for another version of a package an earlier tier pinned:
//!   installing it rewrites the earlier tier's files inside the later tier's layer (the
//!   image carries both versions) and the earlier tier no longer holds what it says.
//!
//! Pure: the caller reads the files (the gateway from the build context, `strata check`
//! from the spec's directory) and gets warnings pointing at the spec's `requirements`
//! entries, with the file's line in the label.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::diag::Diagnostic;
use crate::model::Tier;
use crate::source::Span;

/// One requirement line of a requirements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The project name, normalised as PEP 503 does (`Typing_Extensions` → `typing-extensions`).
    pub name: String,
    /// The requirement as written, without comments, markers or options.
    pub text: String,
    /// 1-based line of the file where the requirement starts.
    pub line: usize,
    /// The version when the requirement is pinned (`==X` or `===X`, no wildcard); a
    /// direct reference (`name @ URL`) is pinned to its URL.
    pub pinned: Option<String>,
}

/// The requirements of a requirements file, in order. Options (`-r`, `-c`, `-e`,
/// `--index-url`, ...), URLs and local paths are not requirements of a name and are
/// skipped; a line continued with `\` is one requirement.
pub fn parse(text: &str) -> Vec<Requirement> {
    let mut out = vec![];
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let line = strip_comment(raw);
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        if let Some(r) = requirement(&logical, start) {
            out.push(r);
        }
        logical.clear();
    }
    if let Some(r) = requirement(&logical, start) {
        out.push(r);
    }
    out
}

/// A `#` starts a comment at the start of a line or after whitespace (pip's rule).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

fn requirement(line: &str, number: usize) -> Option<Requirement> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('-') || line.contains("://") && !line.contains(" @ ") {
        return None;
    }
    // Options after the requirement (`--hash=...`) and environment markers are not part
    // of what is asked for.
    let spec = line.split(" --").next().unwrap_or(line);
    let spec = spec.split(';').next().unwrap_or(spec).trim();
    let name_len = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(spec.len());
    if name_len == 0 || spec.starts_with('.') {
        return None; // a local path (`./pkg`, `../x.whl`) or something else unnamed
    }
    let name = normalize(&spec[..name_len]);
    if name.is_empty() {
        return None; // only separators (`_`, `__`): no project name, pip rejects it
    }
    let mut rest = spec[name_len..].trim_start();
    if rest.starts_with('[') {
        rest = rest.find(']').map_or("", |e| rest[e + 1..].trim_start());
    }
    let pinned = if let Some(url) = rest.strip_prefix('@') {
        Some(url.trim().to_string())
    } else {
        exact_version(rest)
    };
    Some(Requirement {
        name,
        text: spec.to_string(),
        line: number,
        pinned,
    })
}

/// `==1.2.3` or `===1.2.3` (spaces allowed), and nothing else; `==1.*` is a range.
fn exact_version(spec: &str) -> Option<String> {
    let v = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))?
        .trim();
    let ok = !v.is_empty() && !v.contains(['*', ',', ' ', '<', '>', '=', '!', '~']);
    ok.then(|| v.to_string())
}

fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Where a pin came from.
struct Pin<'a> {
    tier: &'a str,
    version: String,
    path: &'a str,
    line: usize,
    span: Span,
}

/// The warnings about the requirements files of `tiers` (in install order). `read`
/// gives a file's text by its path in the context, or `None` when it cannot be read
/// (a missing file is reported elsewhere, or not at all by `strata check`).
pub fn warnings(tiers: &[Tier], read: &dyn Fn(&str) -> Option<String>) -> Vec<Diagnostic> {
    checked(tiers, &|p| Ok(read(p).map(|t| Rc::new(parse(&t)))))
}

/// What reading a requirements file gave: its requirements, nothing (not there), or
/// why it may not be read (an error at the spec's entry naming it).
pub type Parsed = Result<Option<Rc<Vec<Requirement>>>, String>;

/// [`warnings`] with the files already parsed (each parsed once however many
/// targets list it); a file that may not be read is an error at its entry.
pub fn checked(tiers: &[Tier], get: &dyn Fn(&str) -> Parsed) -> Vec<Diagnostic> {
    let mut out = vec![];
    let mut pins: BTreeMap<String, Pin> = BTreeMap::new();
    let mut seen_files: Vec<&str> = vec![];
    for tier in tiers {
        let mut tier_pins: Vec<(String, Pin)> = vec![];
        for file in &tier.requirements {
            let path = file.value.as_str();
            if seen_files.contains(&path) {
                continue;
            }
            seen_files.push(path);
            let reqs = match get(path) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(why) => {
                    out.push(
                        Diagnostic::error(format!(
                            "`{path}` (requirements of tier `{}`) cannot be read: {why}",
                            tier.name.value
                        ))
                        .with_primary(file.span, "this file may not be read")
                        .with_help(
                            "requirements files must be regular files inside the build context; \
                             a symbolic link must point to a file inside it",
                        ),
                    );
                    continue;
                }
            };
            let loose: Vec<&Requirement> = reqs.iter().filter(|r| r.pinned.is_none()).collect();
            if let Some(first) = loose.first() {
                out.push(unpinned(path, file.span, &loose, first));
            }
            for r in reqs.iter() {
                if let Some(earlier) = pins.get(&r.name) {
                    if r.pinned.as_deref() != Some(earlier.version.as_str()) {
                        out.push(repinned(&tier.name.value, path, file.span, r, earlier));
                    }
                }
                if let Some(v) = &r.pinned {
                    tier_pins.push((
                        r.name.clone(),
                        Pin {
                            tier: &tier.name.value,
                            version: v.clone(),
                            path,
                            line: r.line,
                            span: file.span,
                        },
                    ));
                }
            }
        }
        // A tier's pins bind the tiers after it, not the tier itself.
        for (name, pin) in tier_pins {
            pins.entry(name).or_insert(pin);
        }
    }
    out
}

/// A requirement as shown in a message: at most 120 characters of it.
fn shown(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}...")
}

fn unpinned(path: &str, span: Span, loose: &[&Requirement], first: &Requirement) -> Diagnostic {
    let listed: Vec<String> = loose
        .iter()
        .take(3)
        .map(|r| format!("`{}` (line {})", shown(&r.text), r.line))
        .collect();
    let more = match loose.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    let message = if loose.len() == 1 {
        format!(
            "`{}` in `{path}` is not pinned to one version",
            shown(&first.text)
        )
    } else {
        format!(
            "{} requirements in `{path}` are not pinned to one version: {}{more}",
            loose.len(),
            listed.join(", ")
        )
    };
    Diagnostic::warning(message)
        .with_primary(
            span,
            format!("{path}:{}: `{}`", first.line, shown(&first.text)),
        )
        .with_help(format!(
            "pin exact versions (`{}==VERSION`, e.g. from `pip freeze`): an unpinned requirement \
             installs whatever is newest when the tier's step runs, and the step's cache keeps \
             an old answer until something else changes it",
            shown(&first.name)
        ))
}

fn repinned(tier: &str, path: &str, span: Span, r: &Requirement, earlier: &Pin) -> Diagnostic {
    Diagnostic::warning(format!(
        "tier `{tier}` asks for `{}`, which tier `{}` pinned to {}",
        shown(&r.text),
        earlier.tier,
        shown(&earlier.version)
    ))
    .with_primary(span, format!("{path}:{}: `{}`", r.line, shown(&r.text)))
    .with_secondary(
        earlier.span,
        format!(
            "{}:{}: {}=={}",
            earlier.path,
            earlier.line,
            shown(&r.name),
            shown(&earlier.version)
        ),
    )
    .with_help(format!(
        "ask for `{}=={}` here too, or keep `{}` in one tier: installing another version \
         rewrites tier `{}`'s files in this tier's layer, so the image carries both",
        shown(&r.name),
        shown(&earlier.version),
        shown(&r.name),
        earlier.tier
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Located;

    #[test]
    fn a_name_of_separators_only_is_no_requirement() {
        // Found by the fuzz target: `_` normalised to an empty project name.
        assert_eq!(parse("_\0\0# x\n__==1\nok\n").len(), 1);
        assert_eq!(parse("_\0\0# x\n__==1\nok\n")[0].name, "ok");
    }

    #[test]
    fn parses_names_pins_and_skips_options() {
        let text = "# base\n\
            Django==5.1.2  # web\n\
            typing_extensions >= 4.12\n\
            numpy\n\
            -r other.txt\n\
            --index-url https://example.com/simple\n\
            requests[socks]==2.32.3 ; python_version >= \"3.8\"\n\
            pandas==2.* \n\
            attrs===24.2.0\n\
            mylib @ https://example.com/mylib-1.0.tar.gz\n\
            https://example.com/x.whl\n\
            ./local-pkg\n\
            orjson==3.10.7 \\\n    --hash=sha256:abc\n\
              Pkg.Name_x == 1.0 \n";
        let got: Vec<(String, usize, Option<String>)> = parse(text)
            .into_iter()
            .map(|r| (r.name, r.line, r.pinned))
            .collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                ("django".into(), 2, s("5.1.2")),
                ("typing-extensions".into(), 3, None),
                ("numpy".into(), 4, None),
                ("requests".into(), 7, s("2.32.3")),
                ("pandas".into(), 8, None),
                ("attrs".into(), 9, s("24.2.0")),
                (
                    "mylib".into(),
                    10,
                    s("https://example.com/mylib-1.0.tar.gz")
                ),
                ("orjson".into(), 13, s("3.10.7")),
                ("pkg-name-x".into(), 15, s("1.0")),
            ]
        );
    }

    fn tier(name: &str, files: &[(&str, usize)]) -> Tier {
        Tier {
            name: Located {
                value: name.into(),
                span: Span::new(0, 1),
            },
            requirements: files
                .iter()
                .map(|(p, at)| Located {
                    value: p.to_string(),
                    span: Span::new(*at, *at + p.len()),
                })
                .collect(),
            index_url: None,
            extra_index_urls: vec![],
            no_deps: false,
            dev: false,
            build_isolation: true,
            env: Default::default(),
            build_constraints: vec![],
            wheels: vec![],
        }
    }

    fn files(map: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |p| {
            map.iter()
                .find(|(k, _)| *k == p)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn pinned_tiers_get_no_warning() {
        let read = files(&[("a.txt", "x==1\ny==2\n"), ("b.txt", "x==1\nz==3\n")]);
        let tiers = [tier("a", &[("a.txt", 10)]), tier("b", &[("b.txt", 30)])];
        assert_eq!(warnings(&tiers, &read), vec![]);
    }

    #[test]
    fn unpinned_requirements_are_one_warning_per_file() {
        let read = files(&[("a.txt", "x>=1\ny==2\nz\nw~=1.0\nv<3\n")]);
        let d = warnings(&[tier("a", &[("a.txt", 10)])], &read);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "4 requirements in `a.txt` are not pinned to one version: `x>=1` (line 1), `z` (line 3), `w~=1.0` (line 4) and 1 more"
        );
        let p = d[0].primary.as_ref().unwrap();
        assert_eq!(
            (p.span, p.message.as_str()),
            (Span::new(10, 15), "a.txt:1: `x>=1`")
        );
        let read = files(&[("a.txt", "pandas>=2\n")]);
        let d = warnings(&[tier("a", &[("a.txt", 10)])], &read);
        assert_eq!(
            d[0].message,
            "`pandas>=2` in `a.txt` is not pinned to one version"
        );
    }

    #[test]
    fn a_later_tier_changing_an_earlier_pin_is_named_with_both_places() {
        let read = files(&[
            ("base.txt", "numpy==1.26.4\nsix==1.16.0\n"),
            ("ml.txt", "six==1.16.0\nNumPy==2.1.0\n"),
        ]);
        let tiers = [
            tier("base", &[("base.txt", 10)]),
            tier("ml", &[("ml.txt", 40)]),
        ];
        let d = warnings(&tiers, &read);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].message,
            "tier `ml` asks for `NumPy==2.1.0`, which tier `base` pinned to 1.26.4"
        );
        assert_eq!(
            d[0].primary.as_ref().unwrap().message,
            "ml.txt:2: `NumPy==2.1.0`"
        );
        assert_eq!(d[0].secondary[0].message, "base.txt:1: numpy==1.26.4");
        assert_eq!(d[0].secondary[0].span, Span::new(10, 18));
    }

    #[test]
    fn an_unpinned_later_requirement_of_a_pinned_package_warns_twice_over() {
        let read = files(&[("a.txt", "numpy==1.26.4\n"), ("b.txt", "numpy>=2\n")]);
        let tiers = [tier("a", &[("a.txt", 10)]), tier("b", &[("b.txt", 30)])];
        let d = warnings(&tiers, &read);
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`numpy>=2` in `b.txt` is not pinned to one version",
                "tier `b` asks for `numpy>=2`, which tier `a` pinned to 1.26.4"
            ]
        );
    }

    #[test]
    fn a_file_shared_by_tiers_and_pins_within_one_tier_are_not_conflicts() {
        let read = files(&[("a.txt", "x==1\n"), ("b.txt", "x==2\n")]);
        // One tier with two files that disagree: pip reports that itself.
        let d = warnings(&[tier("a", &[("a.txt", 10), ("b.txt", 20)])], &read);
        assert!(d.is_empty(), "{d:?}");
        // A later tier listing the earlier tier's file again (for -c) is not a change.
        let d = warnings(
            &[tier("a", &[("a.txt", 10)]), tier("b", &[("a.txt", 30)])],
            &read,
        );
        assert!(d.is_empty(), "{d:?}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_file(
            a in "[a-zA-Z0-9=<>~!*@ .,;#_\\[\\]\\\\/:\n\t-]{0,200}",
            b in "\\PC{0,120}",
        ) {
            let _ = parse(&a);
            let _ = parse(&b);
            let tiers = [tier("a", &[("a.txt", 0)]), tier("b", &[("b.txt", 5)])];
            let read = |p: &str| Some(if p == "a.txt" { a.clone() } else { b.clone() });
            let _ = warnings(&tiers, &read);
        }
    }

    #[test]
    fn unreadable_files_are_skipped() {
        let d = warnings(&[tier("a", &[("missing.txt", 10)])], &|_| None);
        assert!(d.is_empty());
    }
}
