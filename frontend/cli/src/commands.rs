//! `check`, `llb` and `explain`: the passes run from the command line, no daemon needed.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use prost::Message;
use strata_llb::{pb, ImageRef, LowerOptions, ResolvedImage};
use strata_plan::{Layering, Plan, PlanOptions};
use strata_spec::source::SourceFile;
use strata_spec::{Diagnostic, Diagnostics, Spec};

use crate::args::{Command, Common, USAGE};
use crate::llb_json;

pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Help => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            println!("strata {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { common, targets } => check(&common, targets),
        Command::Report(input) => {
            let text = match &input {
                Some(path) => std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => {
                    let mut buf = vec![];
                    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)
                        .context("cannot read stdin")?;
                    buf
                }
            };
            let log = crate::report::parse(&String::from_utf8_lossy(&text))
                .map_err(anyhow::Error::msg)?;
            write_stdout(crate::report::render(&log).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain(c) => {
            let Some((_, plan)) = compile(&c)? else {
                return Ok(ExitCode::FAILURE);
            };
            write_stdout(strata_plan::explain(&plan).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Llb { common, json } => {
            let Some((file, plan)) = compile(&common)? else {
                return Ok(ExitCode::FAILURE);
            };
            let def = lower_offline(&common, &file, &plan)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &llb_json::definition(&def))?;
                writeln!(out)?;
            } else {
                out.write_all(&def.encode_to_vec())?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes to stdout, returning an error (not panicking as `print!` does) when the reader
/// has gone away, e.g. `strata explain | head`.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// The most bytes of a file of the context (requirements, .dockerignore) read here.
const MAX_CONTEXT_FILE: u64 = 8 << 20;
/// The most bytes of a spec read.
const MAX_SPEC: u64 = 8 << 20;

fn load(path: &Path) -> Result<SourceFile> {
    let mut bytes = vec![];
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
            MAX_SPEC + 1,
        ),
        &mut bytes,
    )
    .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_SPEC {
        anyhow::bail!(
            "{}: a spec may have at most {} MiB",
            path.display(),
            MAX_SPEC >> 20
        );
    }
    let (file, not_utf8) = SourceFile::from_utf8(path.display().to_string(), bytes);
    if let Some(d) = not_utf8 {
        // A spec error like any other: the file, the line, exit status 1.
        report(&file, &[d]);
        std::process::exit(1);
    }
    Ok(file)
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn report(file: &SourceFile, diags: &[Diagnostic]) {
    if !diags.is_empty() {
        eprintln!(
            "{}",
            strata_spec::diag::render_all(diags, file, color()).trim_end()
        );
    }
}

fn check(c: &Common, list_targets: bool) -> Result<ExitCode> {
    let file = load(&c.spec)?;
    let spec = match Spec::parse(&file) {
        Ok(s) => s,
        Err(d) => {
            report(&file, d.as_slice());
            return Ok(ExitCode::FAILURE);
        }
    };
    // The requirements files, read from the spec's directory (the usual build context);
    // those that are not there are the build's to report.
    // Links resolve inside that directory only, and only bounded regular files are read.
    let dir = c.spec.parent().unwrap_or(Path::new("."));
    let diags = spec.check_with_requirements(&c.build_args, &|p| {
        crate::context::read(dir, p, MAX_CONTEXT_FILE)
    });
    report(&file, &diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Ok(ExitCode::FAILURE);
    }
    let targets = spec.target_names();
    if list_targets {
        let mut names = targets.join("\n");
        names.push('\n');
        write_stdout(names.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: ok ({} target{})",
        file.name,
        targets.len(),
        if targets.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Spec → target → plan, reporting errors as diagnostics (`None` when there were some).
fn compile(c: &Common) -> Result<Option<(SourceFile, Plan)>> {
    let file = load(&c.spec)?;
    let fail = |d: Diagnostics| {
        report(&file, d.as_slice());
        Ok(None)
    };
    let spec = match Spec::parse(&file) {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    let target = match spec.resolve(c.target.as_deref(), &c.build_args) {
        Ok(t) => t,
        Err(d) => return fail(d),
    };
    let opts = PlanOptions {
        platform: c.platform.clone().unwrap_or_else(|| "linux/amd64".into()),
        layering: if c.copy_layers {
            Layering::Copy
        } else {
            Layering::MergeDiff
        },
        // Without a daemon the images cannot be looked into: apt-based is assumed.
        ..Default::default()
    };
    match strata_plan::plan(&target, &opts) {
        Ok(p) => Ok(Some((file, p))),
        Err(e) => {
            let mut d = Diagnostic::error(e.to_string());
            if let Some(s) = e.span() {
                d = d.with_primary(s, "");
            }
            fail(Diagnostics::new(d))
        }
    }
}

/// Lowering without a daemon: images by normalised name (not pinned, no env), the
/// context's .dockerignore read from the spec's directory.
fn lower_offline(c: &Common, file: &SourceFile, plan: &Plan) -> Result<pb::Definition> {
    let mut images = vec![];
    for img in &plan.images {
        let r =
            ImageRef::parse(&img.reference).map_err(|e| anyhow::anyhow!("{}: {e}", file.name))?;
        images.push(ResolvedImage {
            reference: r.normalized(),
            env: vec![],
        });
    }
    let dir = c.spec.parent().unwrap_or(Path::new("."));
    let dockerignore = crate::context::read(dir, ".dockerignore", MAX_CONTEXT_FILE)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map(|t| strata_gateway::dockerignore::parse(&t))
        .unwrap_or_default();
    let platform = parse_platform(c.platform.as_deref().unwrap_or("linux/amd64"))?;
    let o = LowerOptions {
        platform,
        images,
        context_name: "context".into(),
        dockerignore,
        cache_ns: c.build_args.get("BUILDKIT_CACHE_MOUNT_NS").cloned(),
        ..Default::default()
    };
    Ok(strata_llb::lower(plan, &o)?)
}

fn parse_platform(s: &str) -> Result<pb::Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] => Ok(pb::Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            ..Default::default()
        }),
        [os, arch, variant] => Ok(pb::Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: variant.to_string(),
            ..Default::default()
        }),
        _ => anyhow::bail!("--platform takes OS/ARCH[/VARIANT], got `{s}`"),
    }
}
