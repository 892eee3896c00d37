//! Robustness: parse + check + resolve + render never panic, whatever the input.

use proptest::prelude::*;

use super::*;

/// Run the whole pass on `text` and render everything it says.
fn exercise(text: &str, build_args: &BTreeMap<String, String>) {
    let f = file(text);
    match Spec::parse(&f) {
        Err(e) => {
            let _ = e.render(&f, true);
            let _ = e.to_string();
            for d in &e {
                touch(&f, d);
            }
        }
        Ok(spec) => {
            for d in spec.check(build_args) {
                touch(&f, &d);
            }
            let mut targets: Vec<Option<String>> =
                spec.target_names().into_iter().map(Some).collect();
            targets.push(None);
            targets.push(Some("nope".into()));
            for t in &targets {
                match spec.resolve_with_warnings(t.as_deref(), build_args) {
                    Ok((_, warnings)) => warnings.iter().for_each(|d| touch(&f, d)),
                    Err(e) => e.iter().for_each(|d| touch(&f, d)),
                }
            }
        }
    }
}

fn touch(f: &SourceFile, d: &Diagnostic) {
    let _ = d.render(f, false);
    if let Some(loc) = d.location(f) {
        let _ = f.line_text(loc.line);
    }
}

const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "#",
    "${",
    "$$",
    "}",
    "${X}",
    "${CUDA_VERSION}",
    "${VARIANT}",
    "-1",
    "70000",
    "0",
    "true",
    "\"x\"",
    "[[build]]\n",
    "[services.z]\n",
    "[variants.v]\n",
    "[variants.cuda.services.tts]\n",
    "layers = [\"x\"]\n",
    "é",
    "\u{0}",
    "\\u00e9",
    "\"\"\"",
    "'''",
    "/",
    "..",
    "../",
    "SIG",
    "\r\n",
    "[[python.layers]]\nname = \"base\"\n",
    "requirements = []",
    "dev = true\n",
    "base = \"python\"\n",
    "healthcheck = {}\n",
    "cmd = \"x\"\n",
    " ",
    "1e400",
    "99999999999999999999",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        let clamp = |s: &str, at: usize| {
            let mut at = at % (s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        match *e {
            Edit::Delete { at, len } => {
                let a = clamp(&s, at);
                let b = clamp(&s, a + len);
                if b >= a {
                    s.replace_range(a..b, "");
                }
            }
            Edit::Insert { at, token } => {
                let a = clamp(&s, at);
                s.insert_str(a, TOKENS[token % TOKENS.len()]);
            }
        }
    }
    s
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Edit::Insert { at, token }),
    ]
}

fn build_args() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "VARIANT",
            "CUDA_VERSION",
            "X",
            "TT_METAL_COMMIT_SHA_OR_TAG",
        ])
        .prop_map(String::from),
        prop::sample::select(vec!["", "cuda", "x", "${X}", "/abs", "rel", "$$", "12.4"])
            .prop_map(String::from),
        0..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_example_never_panics(edits in prop::collection::vec(edit(), 1..6), ba in build_args()) {
        exercise(&apply(EXAMPLE, &edits), &ba);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}", ba in build_args()) {
        exercise(&text, &ba);
        exercise(&format!("version = 1\n{text}"), &ba);
    }

    #[test]
    fn random_documents_never_panic(lines in prop::collection::vec(line(), 0..25), ba in build_args()) {
        let text = format!("version = 1\n{}", lines.concat());
        exercise(&text, &ba);
    }
}

/// A line of a plausible spec: a header or a key with a value of some type.
fn line() -> impl Strategy<Value = String> {
    let headers = prop::sample::select(vec![
        "[image]",
        "[system]",
        "[python]",
        "[[python.layers]]",
        "[app]",
        "[run]",
        "[run.healthcheck]",
        "[services.a]",
        "[services.b.run]",
        "[services.a-dev]",
        "[variants.cuda]",
        "[variants.cuda.services.a]",
        "[[build]]",
        "[build.git]",
        "[args]",
        "[[services.a.python.layers]]",
        "[[services.a.build]]",
    ]);
    let keys = prop::sample::select(vec![
        "base",
        "builder",
        "workdir",
        "user",
        "env",
        "labels",
        "packages",
        "build-packages",
        "installer",
        "interpreter",
        "venv",
        "index-url",
        "extra-index-urls",
        "compile-bytecode",
        "layers",
        "name",
        "requirements",
        "no-deps",
        "dev",
        "include",
        "exclude",
        "cmd",
        "entrypoint",
        "expose",
        "stop-signal",
        "healthcheck",
        "interval",
        "retries",
        "git",
        "context",
        "run",
        "cache",
        "outputs",
        "X",
        "VARIANT",
        "image.base",
        "services.a.layers",
        "url",
        "ref",
        "build-isolation",
        "build-constraints",
        "wheels",
        "wheels-dir",
        "secrets",
        "ssh",
        "auth-secret",
        "auth-header-secret",
    ]);
    let values = prop::sample::select(vec![
        "\"python:3.12\"",
        "\"/abs\"",
        "\"rel\"",
        "\"${X}\"",
        "\"${VARIANT}\"",
        "1",
        "-5",
        "true",
        "1.5",
        "[]",
        "[\"a\"]",
        "[\"base\", \"a\"]",
        "[1, \"53/udp\"]",
        "{}",
        "{ A = \"1\" }",
        "{ cmd = [\"x\"] }",
        "{ url = \"https://h/r.git\" }",
        "[\"../x\"]",
        "\"SIGTERM\"",
        "\"30s\"",
        "\"root\"",
        "\"uv\"",
        "{ \"/a\" = \"/b\" }",
        "[{ name = \"a\", requirements = [\"r\"] }]",
        "1979-05-27",
    ]);
    prop_oneof![
        headers.prop_map(|h| format!("{h}\n")),
        (keys, values).prop_map(|(k, v)| format!("{k} = {v}\n")),
    ]
}

#[test]
fn every_truncation_of_the_example() {
    let none = BTreeMap::new();
    let mut at = 0;
    while at < EXAMPLE.len() {
        if EXAMPLE.is_char_boundary(at) {
            exercise(&EXAMPLE[..at], &none);
        }
        at += 5;
    }
}

#[test]
fn every_line_removed_from_the_example() {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let cuda = args(&[("VARIANT", "cuda")]);
    for skip in 0..lines.len() {
        let text: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| *l)
            .collect();
        exercise(&text.join("\n"), &cuda);
    }
}
