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

impl FrontendError {
    pub fn spec(file: &SourceFile, d: Diagnostics) -> Self {
        let location = d.first().span().map(|s| locate(file, s));
        let errors: Vec<Diagnostic> = d.into_vec().into_iter().filter(|d| d.is_error()).collect();
        let message = strata_spec::diag::render_all(&errors, file, false);
        FrontendError::Spec {
            message: message.trim_end().to_string(),
            location,
        }
    }

    /// An error at `span` of the spec (or about the whole file).
    pub fn at(file: &SourceFile, span: Option<Span>, message: String) -> Self {
        let mut d = Diagnostic::error(message);
        if let Some(s) = span {
            d = d.with_primary(s, "");
        }
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
}
