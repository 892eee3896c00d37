//! `strata`: one binary, two modes. Started by BuildKit (as the image on a spec's
//! `# syntax=` line) it is the gateway frontend and talks gRPC over stdin/stdout;
//! run by a person or CI it is a command-line tool (`check`, `llb`, `explain`, `report`).

mod args;
mod commands;
mod context;
mod gateway_mode;
mod llb_json;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Logs go to stderr only: in gateway mode stdout is the gRPC wire.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(false)
        .init();

    if gateway_mode::started_by_buildkit() {
        gateway_mode::run()
    } else {
        match args::parse(std::env::args_os().skip(1)).and_then(commands::run) {
            Ok(code) => code,
            // The reader of stdout went away (`strata llb | head -c 100`): as for other
            // Unix tools, that is not an error worth a message.
            Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}
