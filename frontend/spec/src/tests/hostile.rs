//! Issue 15: input written by an attacker is refused with a located message, and
//! what it costs stays bounded.

use std::time::{Duration, Instant};

use super::*;

/// A spec with `[args] A = <kib KiB>` referred to `refs` times (one value each).
fn repeated_arg(kib: usize, refs: usize, per_value: usize) -> String {
    let mut s = format!(
        "version = 1\n[args]\nA = \"{}\"\n[image]\nbase = \"python:3.12-slim\"\nenv = {{ ",
        "x".repeat(kib * 1024)
    );
    for i in 0..refs {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("E{i} = \"{}\"", "${A}".repeat(per_value)));
    }
    s.push_str(" }\n");
    s
}

#[test]
fn expansion_of_one_value_is_bounded() {
    // 1 KiB referred to 100 times in one value: 100 KiB > 64 KiB.
    let text = repeated_arg(1, 1, 100);
    let out = render(&text);
    assert!(
        out.contains(
            "error: this value is longer than 64 KiB once its build arguments are expanded"
        ),
        "{out}"
    );
    assert!(out.contains("--> strata.toml:6:"), "{out}");
    assert!(out.contains("expands to at least"), "{out}");
    // A --build-arg can make it so as well; resolution says the same.
    let spec = parse(&repeated_arg(1, 1, 10));
    let e = spec
        .resolve(None, &args(&[("A", &"y".repeat(8 * 1024))]))
        .unwrap_err();
    assert!(e.first().message.contains("longer than 64 KiB"), "{e:?}");
}

#[test]
fn expansion_of_a_whole_spec_is_bounded_and_fast() {
    // 60 KiB referred to 5000 times, once per value (300 MB once expanded).
    let text = repeated_arg(60, 5000, 1);
    let t = Instant::now();
    let out = render(&text);
    let took = t.elapsed();
    assert!(
        out.contains("error: build arguments expand to more than 1024 KiB in this spec"),
        "{}",
        &out[..out.len().min(2000)]
    );
    // Reported once per pass, not once per value.
    assert!(
        out.matches("expand to more than").count() <= 3,
        "{}",
        out.matches("expand to more than").count()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // The case: 100 KiB referred to 5000 times; every value is too long,
    // and only the first few say so.
    let text = repeated_arg(100, 5000, 1);
    let t = Instant::now();
    let out = render(&text);
    let took = t.elapsed();
    let n = out.matches("longer than 64 KiB").count();
    assert!((1..=40).contains(&n), "{n} messages");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
