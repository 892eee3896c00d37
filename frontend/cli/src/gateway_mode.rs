//! Gateway mode: BuildKit started this process to run one build.

use std::process::ExitCode;

use strata_gateway::bridge::Bridge;
use strata_gateway::error::FrontendError;
use strata_gateway::options::Options;

/// BuildKit sets these for every gateway frontend it starts.
pub fn started_by_buildkit() -> bool {
    std::env::args_os().len() <= 1
        && (std::env::var_os("BUILDKIT_SESSION_ID").is_some()
            || std::env::vars_os()
                .any(|(k, _)| k.to_string_lossy().starts_with("BUILDKIT_FRONTEND_OPT_")))
}

pub fn run() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(async {
        // Connect first: BuildKit waits only 10 s for the HTTP/2 preface.
        let channel = match strata_gateway::transport::connect_stdio().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("strata: {e}");
                return ExitCode::FAILURE;
            }
        };
        let bridge = Bridge::new(channel);
        let outcome = match Options::from_env() {
            Ok(opts) => strata_gateway::frontend::build(&bridge, &opts).await,
            Err(e) => Err(FrontendError::Options(e.to_string())),
        };
        let returned = match outcome {
            Ok(r) => r.send(&bridge).await,
            Err(e) => {
                tracing::info!("build failed: {e}");
                bridge
                    .return_error(e.code(), &e.to_string(), e.details())
                    .await
            }
        };
        match returned {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("strata: returning the result to BuildKit failed: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // BuildKit keeps stdin open until this process exits: leave now, whatever is pending.
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}
