//! `strata`: one binary, two modes. Started by BuildKit (as the image on a spec's
//! `# syntax=` line) it is the gateway frontend and talks gRPC over stdin/stdout;
//! run by a person or CI it is a command-line tool (`check`, `llb`, `explain`, `report`).

mod args;
mod commands;
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
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}
