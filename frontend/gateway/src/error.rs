//! Why a build failed, in the form BuildKit passes on to the user: a gRPC code, the
//! message buildx prints, and (for spec errors) the spec's lines with a marker, carried
//! as BuildKit's `errdefs.Source` detail so buildx shows them like Dockerfile errors.

use base64::Engine as _;
use serde_json::json;
use strata_plan::PlanError;
use strata_spec::source::{SourceFile, Span};
use strata_spec::{Diagnostic, Diagnostics};

use crate::bridge::BridgeError;
use crate::proto::Any;

/// gRPC codes used in `Return` errors.
pub mod code {
    pub const UNKNOWN: i32 = 2;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
}

/// Where in the spec an error points, for BuildKit's source detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecLocation {
    pub filename: String,
    pub text: String,
    /// 1-based lines; columns 0-based as BuildKit's `pb.Position.character`.
    pub start: (usize, usize),
    pub end: (usize, usize),
}

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The spec is wrong: the message is the rendered diagnostics.
    #[error("{message}")]
    Spec {
        message: String,
        location: Option<SpecLocation>,
    },
    #[error("cannot read the spec `{filename}` from the build definition's directory: {detail}")]
    SpecMissing { filename: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("internal error in strata: {0}")]
    Internal(String),
}

/// Errors shown through BuildKit at most; `strata check` shows them all. A spec with
/// thousands of errors must not make a message of megabytes.
pub const MAX_ERRORS_SHOWN: usize = 10;

/// Why a path the spec names cannot be used from the build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPath<'a> {
    /// Nothing is there. `dockerignore`: the build has a .dockerignore, which may
    /// exclude it.
    NotFound { dockerignore: bool },
    /// A symbolic link whose target is outside the context (or absent from it):
    /// BuildKit transfers the link itself, never what it points to.
    Symlink { target: &'a str },
}

impl FrontendError {
    pub fn spec(file: &SourceFile, d: Diagnostics) -> Self {
        let mut errors: Vec<Diagnostic> =
            d.into_vec().into_iter().filter(|d| d.is_error()).collect();
        if errors.is_empty() {
            errors.push(Diagnostic::error("invalid spec"));
        }
        let location = errors[0].span().map(|s| locate(file, s));
        let more = errors.len().saturating_sub(MAX_ERRORS_SHOWN);
        errors.truncate(MAX_ERRORS_SHOWN);
        let mut message = strata_spec::diag::render_all(&errors, file, false)
            .trim_end()
            .to_string();
        if more > 0 {
            message.push_str(&format!(
                "\n\n... and {more} more error{}: run `strata check {}` to see them all",
                if more == 1 { "" } else { "s" },
                file.name
            ));
        }
        FrontendError::Spec { message, location }
    }

    /// An error at `span` of the spec (or about the whole file).
    pub fn at(file: &SourceFile, span: Option<Span>, message: String) -> Self {
        let mut d = Diagnostic::error(message);
        if let Some(s) = span {
            d = d.with_primary(s, "");
        }
        FrontendError::spec(file, Diagnostics::new(d))
    }

    /// `path` (named by the spec at `span`, as `what`, e.g. "requirements of tier
    /// `base`" or "[app] include") cannot be taken from the build context.
    pub fn not_in_context(
        file: &SourceFile,
        span: Span,
        path: &str,
        what: &str,
        why: MissingPath<'_>,
    ) -> Self {
        let d = match why {
            MissingPath::NotFound { dockerignore } => {
                let d = Diagnostic::error(format!(
                    "`{path}` ({what}) is not in the build context{}",
                    if dockerignore {
                        " (or .dockerignore excludes it)"
                    } else {
                        ""
                    }
                ))
                .with_primary(span, "not found in the build context")
                .with_help(
                    "paths in the spec are relative to the build context (the directory \
                     given to `docker buildx build`), not to the spec's directory",
                );
                if dockerignore {
                    d.with_note(format!(
                        "a .dockerignore pattern that matches `{path}` removes it from the context"
                    ))
                } else {
                    d
                }
            }
            MissingPath::Symlink { target } => Diagnostic::error(format!(
                "`{path}` ({what}) is a symbolic link to `{target}`, which is not in the build context"
            ))
            .with_primary(span, "a link that leaves the build context")
            .with_help(
                "BuildKit sends a symbolic link as a link, never the file it points to: \
                 copy the file into the context, or make the link point to a file inside it",
            ),
        };
        FrontendError::spec(file, Diagnostics::new(d))
    }

    pub fn plan(file: &SourceFile, e: PlanError) -> Self {
        FrontendError::at(file, e.span(), e.to_string())
    }

    pub fn code(&self) -> i32 {
        match self {
            // BuildKit prefixes the message with the code's name once per layer the
            // error crosses ("InvalidArgument: InvalidArgument: ..."); Unknown, as
            // the Dockerfile frontend's own errors use, shows the message alone.
            FrontendError::Spec { .. } | FrontendError::Options(_) => code::UNKNOWN,
            FrontendError::SpecMissing { .. } => code::UNKNOWN,
            FrontendError::Unsupported(_) => code::UNIMPLEMENTED,
            FrontendError::Bridge(_) => code::UNKNOWN,
            FrontendError::Internal(_) => code::INTERNAL,
        }
    }

    /// The typed details BuildKit understands: the spec's text and the range in it.
    pub fn details(&self) -> Vec<Any> {
        match self {
            FrontendError::Spec {
                location: Some(l), ..
            } => vec![source_detail(l)],
            _ => vec![],
        }
    }
}

fn locate(file: &SourceFile, span: Span) -> SpecLocation {
    let l = file.location(span);
    SpecLocation {
        filename: file.name.clone(),
        text: file.text.clone(),
        start: (l.line, l.column.saturating_sub(1)),
        end: (l.end_line, l.end_column.saturating_sub(1)),
    }
}

/// `github.com/moby/buildkit/errdefs.Source+json`, which buildx turns back into a
/// source snippet (solver/errdefs in BuildKit).
pub fn source_detail(l: &SpecLocation) -> Any {
    let value = json!({
        "info": {
            "filename": l.filename,
            "data": base64::engine::general_purpose::STANDARD.encode(l.text.as_bytes()),
            "language": "TOML",
        },
        "ranges": [{
            "start": {"line": l.start.0, "character": l.start.1},
            "end": {"line": l.end.0, "character": l.end.1},
        }],
    });
    Any {
        type_url: "github.com/moby/buildkit/errdefs.Source+json".into(),
        value: serde_json::to_vec(&value).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_carry_the_spec_and_the_range() {
        let file = SourceFile::new("strata.toml", "version = 1\n[system]\npakages = []\n");
        let start = file.text.find("pakages").unwrap();
        let e = FrontendError::at(
            &file,
            Some(Span::new(start, start + 7)),
            "unknown key `pakages`".into(),
        );
        assert!(e.to_string().contains("strata.toml:3:1"), "{e}");
        assert_eq!(e.code(), code::UNKNOWN);
        let d = e.details();
        assert_eq!(d.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&d[0].value).unwrap();
        assert_eq!(v["ranges"][0]["start"], json!({"line": 3, "character": 0}));
        assert_eq!(v["info"]["filename"], json!("strata.toml"));
    }

    #[test]
    fn many_errors_are_capped() {
        let text: String = std::iter::once("version = 1\n[system]\n".to_string())
            .chain((0..500).map(|i| format!("pakages{i} = []\n")))
            .collect();
        let file = SourceFile::new("strata.toml", text);
        let d = strata_spec::Spec::parse(&file).unwrap_err();
        assert_eq!(d.len(), 500);
        let e = FrontendError::spec(&file, d);
        let msg = e.to_string();
        assert_eq!(msg.matches("error: unknown key").count(), MAX_ERRORS_SHOWN);
        assert!(
            msg.ends_with(
                "... and 490 more errors: run `strata check strata.toml` to see them all"
            ),
            "{msg}"
        );
        // The location is the first error's.
        let d = e.details();
        let v: serde_json::Value = serde_json::from_slice(&d[0].value).unwrap();
        assert_eq!(v["ranges"][0]["start"], json!({"line": 3, "character": 0}));
    }

    #[test]
    fn warnings_alone_still_make_an_error() {
        let file = SourceFile::new("strata.toml", "version = 1\n");
        let e = FrontendError::spec(&file, Diagnostics::new(Diagnostic::warning("w")));
        assert_eq!(e.to_string(), "error: invalid spec\n--> strata.toml");
    }

    #[test]
    fn paths_missing_from_the_context() {
        let text = "version = 1\n[[python.layers]]\nname = \"base\"\nrequirements = [\"requirements.txt\"]\n";
        let file = SourceFile::new("strata.toml", text);
        let start = text.find("\"requirements.txt").unwrap();
        let span = Span::new(start, start + 18);
        let e = FrontendError::not_in_context(
            &file,
            span,
            "requirements.txt",
            "requirements of tier `base`",
            MissingPath::NotFound { dockerignore: true },
        );
        assert_eq!(
            e.to_string(),
            r#"error: `requirements.txt` (requirements of tier `base`) is not in the build context (or .dockerignore excludes it)
 --> strata.toml:4:17
  |
4 | requirements = ["requirements.txt"]
  |                 ^^^^^^^^^^^^^^^^^^ not found in the build context
  |
  = help: paths in the spec are relative to the build context (the directory given to `docker buildx build`), not to the spec's directory
  = note: a .dockerignore pattern that matches `requirements.txt` removes it from the context"#
        );
        let e = FrontendError::not_in_context(
            &file,
            span,
            "requirements.txt",
            "requirements of tier `base`",
            MissingPath::Symlink {
                target: "/home/me/reqs.txt",
            },
        );
        assert_eq!(
            e.to_string(),
            r#"error: `requirements.txt` (requirements of tier `base`) is a symbolic link to `/home/me/reqs.txt`, which is not in the build context
 --> strata.toml:4:17
  |
4 | requirements = ["requirements.txt"]
  |                 ^^^^^^^^^^^^^^^^^^ a link that leaves the build context
  |
  = help: BuildKit sends a symbolic link as a link, never the file it points to: copy the file into the context, or make the link point to a file inside it"#
        );
        assert_eq!(e.details().len(), 1);
    }
}
