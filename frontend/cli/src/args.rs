//! The command line of `strata` (when a person or CI runs it, not BuildKit).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

pub const USAGE: &str = "\
strata — a BuildKit frontend that builds Python service images from a strata.toml

usage:
  strata check SPEC [--build-arg K=V]... [--targets]
                                              validate every target and variant of SPEC;
                                              --targets: then print the target names, one per line
  strata llb SPEC [--target T] [--build-arg K=V]... [--platform OS/ARCH] [--copy-layers] [--json]
                                              the LLB definition on stdout (as `buildctl build` reads it)
  strata explain SPEC [--target T] [--build-arg K=V]... [--platform OS/ARCH] [--copy-layers]
                                              the steps SPEC compiles to, for humans
  strata report [FILE|-]                      which steps of a build were cache hits and which ran,
                                              from its `--progress=rawjson` log (stdin when - or none)
  strata --version

Run by BuildKit (as the image named on a spec's `# syntax=` line) it is the gateway frontend.
";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Check { common: Common, targets: bool },
    Llb { common: Common, json: bool },
    Explain(Common),
    Report(Option<PathBuf>), // None: stdin
    Version,
    Help,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Common {
    pub spec: PathBuf,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub platform: Option<String>,
    /// Plan as for a daemon without merge/diff (one venv copy instead of tier layers).
    pub copy_layers: bool,
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let sub = match p.next()? {
        None => return Ok(Command::Help),
        Some(Long("version")) | Some(Short('V')) => return Ok(Command::Version),
        Some(Long("help")) | Some(Short('h')) => return Ok(Command::Help),
        Some(Value(v)) => v.string()?,
        Some(other) => bail!("{}", other.unexpected()),
    };
    if sub == "help" {
        return Ok(Command::Help);
    }
    if sub == "report" {
        let mut input = None;
        while let Some(arg) = p.next()? {
            match arg {
                Long("help") | Short('h') => return Ok(Command::Help),
                Value(v) if input.is_none() => input = Some(PathBuf::from(v)),
                other => bail!("{} (see `strata --help`)", other.unexpected()),
            }
        }
        return Ok(Command::Report(input.filter(|p| p.as_os_str() != "-")));
    }
    if !["check", "llb", "explain"].contains(&sub.as_str()) {
        bail!("unknown command `{sub}`\n\n{USAGE}");
    }
    let mut c = Common::default();
    let mut spec = None;
    let mut json = false;
    let mut targets = false;
    while let Some(arg) = p.next()? {
        match arg {
            Long("target") | Short('t') if sub != "check" => c.target = Some(p.value()?.string()?),
            Long("build-arg") => {
                let kv = p.value()?.string()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--build-arg takes KEY=VALUE, got `{kv}`"))?;
                c.build_args.insert(k.to_string(), v.to_string());
            }
            Long("platform") if sub != "check" => c.platform = Some(p.value()?.string()?),
            Long("copy-layers") if sub != "check" => c.copy_layers = true,
            Long("json") if sub == "llb" => json = true,
            Long("targets") if sub == "check" => targets = true,
            Long("help") | Short('h') => return Ok(Command::Help),
            Value(v) if spec.is_none() => spec = Some(PathBuf::from(v)),
            other => bail!("{} (see `strata --help`)", other.unexpected()),
        }
    }
    c.spec =
        spec.ok_or_else(|| anyhow!("`strata {sub}` needs the path of a spec, e.g. strata.toml"))?;
    Ok(match sub.as_str() {
        "check" => Command::Check { common: c, targets },
        "llb" => Command::Llb { common: c, json },
        _ => Command::Explain(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command> {
        parse(s.split_whitespace().map(std::ffi::OsString::from))
    }

    #[test]
    fn check_lists_targets_only_when_asked() {
        assert_eq!(
            p("check strata.toml --targets").unwrap(),
            Command::Check {
                common: Common {
                    spec: "strata.toml".into(),
                    ..Common::default()
                },
                targets: true
            }
        );
        assert!(matches!(
            p("check strata.toml").unwrap(),
            Command::Check { targets: false, .. }
        ));
        assert!(p("llb strata.toml --targets").is_err());
    }

    #[test]
    fn parses_llb_with_options() {
        let c = p("llb strata.toml --target core --build-arg A=1=2 --json").unwrap();
        let Command::Llb { common, json } = c else {
            panic!()
        };
        assert!(json);
        assert_eq!(common.target.as_deref(), Some("core"));
        assert_eq!(common.build_args["A"], "1=2");
        assert_eq!(common.spec, PathBuf::from("strata.toml"));
    }

    #[test]
    fn rejects_bad_input_with_a_message() {
        assert!(p("frobnicate x")
            .unwrap_err()
            .to_string()
            .contains("unknown command `frobnicate`"));
        assert!(p("check")
            .unwrap_err()
            .to_string()
            .contains("needs the path of a spec"));
        assert!(p("check a.toml --build-arg NOEQ")
            .unwrap_err()
            .to_string()
            .contains("KEY=VALUE"));
        assert!(p("check a.toml --json").is_err());
    }

    #[test]
    fn report_reads_a_file_or_stdin() {
        assert_eq!(
            p("report build.log").unwrap(),
            Command::Report(Some(PathBuf::from("build.log")))
        );
        assert_eq!(p("report -").unwrap(), Command::Report(None));
        assert_eq!(p("report").unwrap(), Command::Report(None));
        assert!(p("report a b").is_err());
    }
}
