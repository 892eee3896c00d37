//! The gateway's frontend options (what BuildKit passes in `BUILDKIT_FRONTEND_OPT_*`):
//! no value makes the parser panic, and every malformed value is an error that names
//! its option (and shows the value), as `docker buildx build` users see it.

use std::collections::BTreeMap;

use proptest::prelude::*;
use strata_gateway::options::{Options, OptionsError};

/// The options whose values are parsed (the rest are kept as text).
const PARSED: &[&str] = &[
    "platform",
    "multi-platform",
    "build-arg:BUILDKIT_MULTI_PLATFORM",
    "force-network-mode",
    "cache-imports",
    "image-resolve-mode",
    "add-hosts",
    "shm-size",
];

const OTHER: &[&str] = &[
    "filename",
    "dockerfilekey",
    "contextkey",
    "target",
    "no-cache",
    "cache-from",
    "requestid",
    "build-arg:VARIANT",
    "label:a",
    "source",
    "cmdline",
    "context:base",
    "attest:sbom",
    "",
    "=",
];

/// Options refused whatever their value: a build argument or label without a name.
const NAMELESS: &[&str] = &["build-arg:", "label:"];

/// Whether `option` may be blamed: one whose value is parsed, or a nameless one.
fn may_fail(option: &str) -> bool {
    PARSED.contains(&option)
        || ["build-arg:", "label:"]
            .iter()
            .any(|p| option.strip_prefix(p).is_some_and(|n| n.trim().is_empty()))
}

/// Values that look like what BuildKit sends, broken in the ways they can be.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        prop::sample::select(vec![
            "",
            " ",
            ",",
            ",,",
            "=",
            "true",
            "false",
            "1",
            "0",
            "yes",
            "null",
            "[]",
            "{}",
            "[{}]",
            "[null]",
            "[{\"Type\":1}]",
            "[{\"Type\":\"registry\",\"Attrs\":{\"ref\":null}}]",
            "linux/amd64",
            "linux/amd64,linux/arm64",
            "linux//",
            "/",
            "//",
            "linux/arm/v7/x",
            "é/ü",
            "\u{0}",
            "host=1.2.3.4",
            "\"",
            "\"a\"\"",
            "a=b=c",
            "h=::1,h2=256.0.0.1",
            "-1",
            "18446744073709551616",
            "99999999999999999999999",
            "0x10",
            "1e3",
            "none",
            "host",
            "sandbox",
            "pull",
            "local",
            "default",
        ])
        .prop_map(String::from),
        // JSON-ish fragments.
        prop::collection::vec(
            prop::sample::select(vec![
                "[",
                "]",
                "{",
                "}",
                ",",
                ":",
                "\"Type\"",
                "\"Attrs\"",
                "\"x\"",
                "null",
                "1",
                "\"\\u0000\""
            ]),
            0..12
        )
        .prop_map(|v| v.concat()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(PARSED.to_vec()).prop_map(String::from),
        prop::sample::select(OTHER.to_vec()).prop_map(String::from),
        prop::sample::select(NAMELESS.to_vec()).prop_map(String::from),
        "\\PC{0,12}",
    ]
}

fn names_the_option(e: &OptionsError, option: &str) -> bool {
    match e {
        OptionsError::InvalidValue { option: o, .. } => o == option,
        OptionsError::NotUnicode { .. } => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_options_parse_or_fail_without_panicking(
        opts in prop::collection::btree_map(key(), value(), 0..8)
    ) {
        match Options::from_opts(opts) {
            Ok(o) => { let _ = format!("{o:?}"); }
            Err(e) => {
                let msg = e.to_string();
                let OptionsError::InvalidValue { option, .. } = &e else {
                    panic!("from_opts reports {e:?}");
                };
                prop_assert!(msg.contains(&format!("`{option}`")), "{}", msg);
                prop_assert!(may_fail(option), "{}", msg);
            }
        }
    }

    #[test]
    fn a_bad_value_is_blamed_on_its_own_option(k in prop::sample::select(PARSED.to_vec()), v in value()) {
        let opts = BTreeMap::from([(k.to_string(), v.clone())]);
        if let Err(e) = Options::from_opts(opts) {
            prop_assert!(names_the_option(&e, k), "{k}={v:?}: {e}");
            prop_assert!(e.to_string().contains(&format!("`{k}`")), "{}", e);
        }
    }

    #[test]
    fn any_environment_parses_or_fails_without_panicking(
        vars in prop::collection::vec(
            (
                prop_oneof![
                    (0u8..20).prop_map(|i| format!("BUILDKIT_FRONTEND_OPT_{i}")),
                    Just("BUILDKIT_SESSION_ID".to_string()),
                    Just("BUILDKIT_WORKERS".to_string()),
                    "\\PC{0,10}",
                ],
                prop_oneof![
                    (key(), value()).prop_map(|(k, v)| format!("{k}={v}")),
                    value(),
                ],
            ),
            0..10,
        )
    ) {
        match Options::from_env_vars(vars) {
            Ok(_) => {}
            Err(e) => {
                let OptionsError::InvalidValue { option, .. } = &e else {
                    panic!("from_env_vars reports {e:?}");
                };
                prop_assert!(
                    may_fail(option) || option == "BUILDKIT_WORKERS",
                    "{}", e
                );
            }
        }
    }
}

#[test]
fn every_malformed_option_is_named() {
    let bad: &[(&str, &str)] = &[
        ("platform", "linux/amd64/v1/extra"),
        ("platform", "linux/amd64,"),
        ("platform", "not-a-platform"),
        ("platform", "linux/x86 64"),
        ("multi-platform", "maybe"),
        ("build-arg:BUILDKIT_MULTI_PLATFORM", "2"),
        ("force-network-mode", "bridge"),
        ("cache-imports", "{"),
        ("cache-imports", "[{\"Type\": 1}]"),
        ("image-resolve-mode", "always"),
        ("add-hosts", "db"),
        ("add-hosts", "db=300.1.1.1"),
        ("add-hosts", "\"db=1.2.3.4"),
        ("shm-size", "64m"),
        ("shm-size", "-1"),
        ("shm-size", "18446744073709551616"),
        ("add-hosts", "db\n1.2.3.4 evil=1.2.3.4"),
        ("add-hosts", "db evil=1.2.3.4"),
        ("add-hosts", "=1.2.3.4"),
        ("add-hosts", "-x=1.2.3.4"),
        ("build-arg:", "x"),
        ("label:", "x"),
    ];
    for (k, v) in bad {
        let e = Options::from_opts(BTreeMap::from([(k.to_string(), v.to_string())]))
            .expect_err(&format!("{k}={v} must be rejected"));
        assert!(names_the_option(&e, k), "{k}={v}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{k}`")), "{msg}");
        // The value is shown (for a list, the element at fault).
        let OptionsError::InvalidValue { value, .. } = &e else {
            unreachable!()
        };
        assert!(msg.contains(&format!("{value:?}")), "{msg}");
        if k.starts_with("cache-") || k.starts_with("build-arg:") {
            // They can carry credentials: only the size is said.
            assert_eq!(value, &format!("<{} bytes, not shown>", v.len()), "{msg}");
        } else {
            assert!(!value.is_empty() || v.contains(','), "{msg}");
            assert!(v.contains(value.as_str()), "{msg}");
        }
    }
    let e = Options::from_env_vars([("BUILDKIT_WORKERS", "[{\"platforms\": 3}]")]).unwrap_err();
    assert!(e.to_string().contains("BUILDKIT_WORKERS"), "{e}");
}

#[test]
fn unparsed_options_keep_any_value() {
    for k in OTHER {
        for v in ["", "\u{0}", "é", "a=b", "[", "\n"] {
            let o = Options::from_opts(BTreeMap::from([(k.to_string(), v.to_string())]));
            assert!(o.is_ok(), "{k}={v:?}: {o:?}");
        }
    }
}

/// Issue 15: an error never repeats a whole option value: a gha cache import's token
/// is not shown, and a long value is cut.
#[test]
fn errors_do_not_repeat_whole_values() {
    let token = "ghs_0123456789abcdefSECRET";
    let v = format!("[{{\"Type\":\"gha\",\"Attrs\":{{\"token\":\"{token}\",\"url\":1}}}}]");
    let e = Options::from_opts(BTreeMap::from([("cache-imports".to_string(), v)])).unwrap_err();
    assert!(!e.to_string().contains("SECRET"), "{e}");
    assert!(e.to_string().contains("not shown"), "{e}");
    let long = format!("{}=1.2.3.4", "h".repeat(5000));
    let e = Options::from_opts(BTreeMap::from([("add-hosts".to_string(), long)])).unwrap_err();
    let msg = e.to_string();
    assert!(msg.len() < 400, "{msg}");
    assert!(msg.contains("(5008 bytes)"), "{msg}");
}
