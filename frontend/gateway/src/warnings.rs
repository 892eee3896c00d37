//! The spec's warnings as BuildKit's Warn requests, bounded.
//!
//! A spec can have thousands of warnings (3000 untagged service bases) and a request
//! carries the source its ranges point into (`SourceInfo.data`, which buildx prints
//! around the range). Sent as they come, every warning with the whole spec, a 100 KB
//! spec made 312 MB of requests. So:
//!
//! - at most [`MAX_WARNINGS_SENT`] warnings of a batch are sent, then one warning
//!   saying how many more there are and that `strata check` shows them all;
//! - a spec of at most [`WHOLE_SOURCE_MAX`] bytes goes whole in each warning (buildx
//!   shows the lines around the range, as for a Dockerfile); a bigger one goes as the
//!   lines around the range only, every other line before them left empty so that
//!   line numbers still hold, and nothing after them.

use strata_llb::pb;
use strata_spec::source::SourceFile;
use strata_spec::Diagnostic;

use crate::bridge::Warning;

/// Warnings of a batch sent to BuildKit; the rest are counted in one more warning.
pub const MAX_WARNINGS_SENT: usize = 20;
/// A spec up to this size is sent whole with each warning.
pub const WHOLE_SOURCE_MAX: usize = 16 * 1024;
/// Lines kept before and after a warning's range when the spec is not sent whole.
const CONTEXT_LINES: usize = 3;
/// At most this many bytes of one line are kept (a longer line is cut).
const LINE_MAX: usize = 4096;

/// The Warn requests for `list` (already free of duplicates), about `file`, on the
/// vertex `vertex`.
pub fn requests(file: &SourceFile, vertex: &str, list: &[&Diagnostic]) -> Vec<Warning> {
    let mut out: Vec<Warning> = list
        .iter()
        .take(MAX_WARNINGS_SENT)
        .map(|d| request(file, vertex, d))
        .collect();
    let more = list.len().saturating_sub(MAX_WARNINGS_SENT);
    if more > 0 {
        out.push(Warning {
            vertex_digest: vertex.to_string(),
            level: 1,
            short: format!(
                "{}: {more} more warning{} not shown",
                file.name,
                if more == 1 { "" } else { "s" }
            ),
            details: vec![format!(
                "run `strata check {}` to see every warning",
                file.name
            )],
            url: None,
            source_info: None,
            ranges: vec![],
        });
    }
    out
}

fn request(file: &SourceFile, vertex: &str, d: &Diagnostic) -> Warning {
    let mut details: Vec<String> = d.help.iter().cloned().collect();
    details.extend(d.notes.iter().cloned());
    let loc = d.span().map(|s| file.location(s));
    let ranges = loc
        .map(|l| {
            vec![pb::Range {
                start: Some(pb::Position {
                    line: l.line as i32,
                    character: l.column as i32 - 1,
                }),
                end: Some(pb::Position {
                    line: l.end_line as i32,
                    character: l.end_column as i32 - 1,
                }),
            }]
        })
        .unwrap_or_default();
    let source_info = loc.map(|l| pb::SourceInfo {
        filename: file.name.clone(),
        data: source_for(&file.text, l.line, l.end_line),
        definition: None,
        language: "TOML".into(),
    });
    Warning {
        vertex_digest: vertex.to_string(),
        level: 1,
        short: format!("{}: {}", file.name, d.message),
        details,
        url: None,
        source_info,
        ranges,
    }
}

/// The source sent with a warning on lines `first..=last` (1-based).
pub fn source_for(text: &str, first: usize, last: usize) -> Vec<u8> {
    if text.len() <= WHOLE_SOURCE_MAX {
        return text.as_bytes().to_vec();
    }
    let from = first.saturating_sub(CONTEXT_LINES).max(1);
    let to = last + CONTEXT_LINES;
    let mut out = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        if n > to {
            break;
        }
        if n < from {
            out.push(b'\n');
            continue;
        }
        let body = line.strip_suffix('\n').unwrap_or(line);
        let mut cut = body.len().min(LINE_MAX);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        out.extend_from_slice(&body.as_bytes()[..cut]);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use strata_spec::source::Span;

    #[test]
    fn a_small_spec_goes_whole() {
        let f = SourceFile::new("strata.toml", "version = 1\n[image]\nbase = \"python\"\n");
        let d = Diagnostic::warning("untagged").with_primary(Span::new(26, 34), "here");
        let w = requests(&f, "sha256:x", &[&d]);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].short, "strata.toml: untagged");
        let info = w[0].source_info.as_ref().unwrap();
        assert_eq!(info.data, f.text.as_bytes());
        assert_eq!(w[0].ranges[0].start.unwrap().line, 3);
    }

    /// The case: 3000 warnings on a 100 KB spec made 312 MB of requests.
    #[test]
    fn thousands_of_warnings_on_a_big_spec_stay_small() {
        let mut text = String::from("version = 1\n");
        for i in 0..3000 {
            text.push_str(&format!("[services.s{i}]\nimage.base = \"python\"\n"));
        }
        assert!(text.len() > 50_000);
        let f = SourceFile::new("strata.toml", text.clone());
        let diags: Vec<Diagnostic> = (0..3000)
            .map(|i| {
                let at = text.find(&format!("[services.s{i}]\n")).unwrap();
                Diagnostic::warning(format!("s{i} untagged"))
                    .with_primary(Span::new(at + 1, at + 5), "here")
            })
            .collect();
        let refs: Vec<&Diagnostic> = diags.iter().collect();
        let w = requests(&f, "sha256:x", &refs);
        assert_eq!(w.len(), MAX_WARNINGS_SENT + 1);
        assert_eq!(
            w.last().unwrap().short,
            "strata.toml: 2980 more warnings not shown"
        );
        assert!(w.last().unwrap().details[0].contains("strata check strata.toml"));
        let bytes: usize = w
            .iter()
            .map(|w| {
                w.source_info.as_ref().map_or(0, |i| i.encoded_len())
                    + w.short.len()
                    + w.details.iter().map(String::len).sum::<usize>()
            })
            .sum();
        assert!(bytes < 100_000, "{bytes} bytes of warnings");
        // The line of the range is there, where the range says.
        let info = w[5].source_info.as_ref().unwrap();
        let line = w[5].ranges[0].start.unwrap().line as usize;
        let data = String::from_utf8(info.data.clone()).unwrap();
        assert_eq!(data.lines().nth(line - 1), Some("[services.s5]"));
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let text = format!("version = 1\nx = \"{}\"\n", "é".repeat(20_000));
        let data = source_for(&text, 2, 2);
        assert!(data.len() < LINE_MAX + 100);
        assert!(String::from_utf8(data).is_ok());
    }
}
