//! `strata llb | head`: a reader that stops early is not an error. Without care the
//! binary printed "error: Broken pipe" (or panicked in `print!`) and exited non-zero.

use std::io::Read;
use std::process::{Command, Stdio};

mod common;
use common::TempDir;

/// A spec whose JSON LLB is far larger than a pipe's buffer (64 KiB on Linux), so the
/// writer is still writing when the reader goes away.
fn spec() -> String {
    let mut s = String::from("version = 1\n[image]\nbase = \"python:3.11-slim\"\n");
    for i in 0..120 {
        s.push_str(&format!(
            "[[python.layers]]\nname = \"tier{i}\"\nrequirements = [\"r{i}.txt\"]\n"
        ));
    }
    s
}

fn stops_reading_early(args: &[&str]) {
    let tmp = TempDir::new("pipes");
    let dir = &tmp.0;
    std::fs::write(dir.join("strata.toml"), spec()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .arg("strata.toml")
        .current_dir(dir)
        .env_remove("BUILDKIT_SESSION_ID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // stdout's read end is dropped here: the next write gets EPIPE.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "strata {args:?} exited {:?}: {stderr}",
        out.status
    );
    assert!(
        stderr.is_empty(),
        "strata {args:?} wrote to stderr: {stderr}"
    );
}

#[test]
fn llb_json_into_a_closed_pipe_is_quiet() {
    stops_reading_early(&["llb", "--json"]);
}

#[test]
fn explain_into_a_closed_pipe_is_quiet() {
    stops_reading_early(&["explain"]);
}
