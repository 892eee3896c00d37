//! docs/errors.md shows, for every error of a spec, an example and the exact message.
//! This test runs each example (`<!-- strata ARGS -->`, then a ```toml block, then a
//! ```text block) through the binary and compares: the catalogue cannot go stale.

use std::path::Path;
use std::process::Command;

struct Example {
    line: usize,
    args: Vec<String>,
    spec: String,
    message: String,
}

fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = vec![];
    let mut i = 0;
    // The fenced block starting at `lines[*i]` (which must open with "```lang").
    let block = |i: &mut usize, lang: &str| -> String {
        assert_eq!(
            lines[*i].trim(),
            format!("```{lang}"),
            "docs/errors.md:{}",
            *i + 1
        );
        *i += 1;
        let mut text = vec![];
        while lines[*i].trim() != "```" {
            text.push(lines[*i]);
            *i += 1;
        }
        *i += 1;
        text.join("\n")
    };
    while i < lines.len() {
        let l = lines[i].trim();
        if let Some(cmd) = l
            .strip_prefix("<!-- strata ")
            .and_then(|r| r.strip_suffix("-->"))
        {
            let line = i + 1;
            i += 1;
            let spec = block(&mut i, "toml");
            let message = block(&mut i, "text");
            out.push(Example {
                line,
                args: cmd.split_whitespace().map(String::from).collect(),
                spec,
                message,
            });
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_documented_message_is_the_real_one() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/errors.md");
    let examples = examples(&doc);
    assert!(examples.len() >= 60, "only {} examples", examples.len());
    let dir = std::env::temp_dir().join(format!("strata-errors-doc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut wrong = vec![];
    for ex in &examples {
        std::fs::write(dir.join("strata.toml"), format!("{}\n", ex.spec)).unwrap();
        let (sub, rest) = ex.args.split_first().expect("a subcommand");
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg(sub)
            .arg("strata.toml")
            .args(rest)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("BUILDKIT_SESSION_ID")
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stderr);
        let got = got.trim_end();
        if got != ex.message {
            wrong.push(format!(
                "docs/errors.md:{} (`strata {}`)\n--- documented\n{}\n--- actual\n{}\n",
                ex.line,
                ex.args.join(" "),
                ex.message,
                got
            ));
        }
        let errors = ex.message.contains("error:");
        assert_eq!(
            out.status.code(),
            Some(if errors { 1 } else { 0 }),
            "docs/errors.md:{}: exit status",
            ex.line
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
