//! The spec's text and positions in it.

use std::ops::Range;

use crate::diag::Diagnostic;

/// A byte range in the spec's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

/// A spec file: its name as shown in messages (e.g. `strata.toml`) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of the start of each line, made on first use: locating thousands
    /// of diagnostics must not scan the text once per diagnostic. (`text` is not
    /// changed after the file is made.)
    lines: std::sync::OnceLock<Vec<usize>>,
}

/// Where a span is, 1-based, columns counted in characters (Unicode scalar values).
/// `end_line`/`end_column` point just after the last character of the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
            lines: std::sync::OnceLock::new(),
        }
    }

    /// A spec read as bytes. TOML is UTF-8: if `bytes` is not, the file is read lossily
    /// (each bad sequence becomes U+FFFD, so positions before the first one are kept)
    /// and comes with an error pointing at the first bad byte.
    pub fn from_utf8(name: impl Into<String>, bytes: Vec<u8>) -> (SourceFile, Option<Diagnostic>) {
        match String::from_utf8(bytes) {
            Ok(text) => (SourceFile::new(name, text), None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bad = e.as_bytes().get(at).copied().unwrap_or(0);
                let file =
                    SourceFile::new(name, String::from_utf8_lossy(e.as_bytes()).into_owned());
                // U+FFFD is 3 bytes long in the lossy text.
                let d = Diagnostic::error("the spec is not valid UTF-8")
                    .with_primary(
                        Span::new(at, at + 3),
                        format!("byte 0x{bad:02x} is not UTF-8"),
                    )
                    .with_help("TOML files are UTF-8: save the spec as UTF-8");
                (file, Some(d))
            }
        }
    }

    /// Clamp an offset into the text, on a character boundary (never panics).
    pub fn clamp(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while o > 0 && !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// A span clamped into the text, on character boundaries, with start <= end.
    pub fn clamp_span(&self, span: Span) -> Span {
        let start = self.clamp(span.start);
        let end = self.clamp(span.end).max(start);
        Span::new(start, end)
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    /// Offsets past the end are clamped to the end of the text.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let starts = self.line_starts();
        // The last line starting at or before `offset`.
        let i = starts.partition_point(|&s| s <= offset) - 1;
        let line_start = starts[i];
        let column = self.text[line_start..offset].chars().count() + 1;
        (i + 1, column)
    }

    /// Byte offsets where lines start (the first is 0).
    fn line_starts(&self) -> &[usize] {
        self.lines.get_or_init(|| {
            let mut v = vec![0];
            v.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            v
        })
    }

    /// The text of a 1-based line, without its line terminator (`\n` or `\r\n`).
    pub fn line_text(&self, line: usize) -> Option<&str> {
        if line == 0 {
            return None;
        }
        let starts = self.line_starts();
        let start = *starts.get(line - 1)?;
        let end = starts.get(line).map(|e| e - 1).unwrap_or(self.text.len());
        let l = &self.text[start..end];
        Some(l.strip_suffix('\r').unwrap_or(l))
    }

    /// Start and end positions of a span.
    pub fn location(&self, span: Span) -> Location {
        let span = self.clamp_span(span);
        let (line, column) = self.line_col(span.start);
        let (end_line, end_column) = self.line_col(span.end);
        Location {
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// The whole lines that `spans` (clamped, non-empty list) touch, from the start of the
    /// first one's line to the end of the last one's line, and the 1-based number of
    /// the first of these lines.
    pub fn window(&self, spans: &[Span]) -> (Span, usize) {
        let start = spans.iter().map(|s| self.clamp(s.start)).min().unwrap_or(0);
        let end = spans
            .iter()
            .map(|s| self.clamp(s.end))
            .max()
            .unwrap_or(0)
            .max(start);
        // A span at the very end, after a final newline, is shown on the last line.
        let anchor = if start == self.text.len() && start > 0 {
            self.clamp(start - 1)
        } else {
            start
        };
        let starts = self.line_starts();
        let first = starts.partition_point(|&s| s <= anchor) - 1;
        let line_start = starts[first];
        let line_end = self.text[end..]
            .find('\n')
            .map(|i| end + i + 1) // with its `\n`, so that `\r\n` stays a line break
            .unwrap_or(self.text.len());
        (Span::new(line_start, line_end), first + 1)
    }

    /// The text under a span, if the span lies within the text on character boundaries.
    pub fn slice(&self, span: Span) -> Option<&str> {
        self.text.get(span.range())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_text() {
        let f = SourceFile::new("s.toml", "a = 1\r\nbé = 2\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(7), (2, 1));
        assert_eq!(f.line_col(10), (2, 3)); // after 'b','é'
        assert_eq!(f.line_col(9), (2, 2)); // inside 'é': clamped to its start
        assert_eq!(f.line_col(1000), (3, 1));
        assert_eq!(f.line_text(1), Some("a = 1"));
        assert_eq!(f.line_text(2), Some("bé = 2"));
        assert_eq!(f.line_text(0), None);
        assert_eq!(f.line_text(9), None);
        let loc = f.location(Span::new(7, 10));
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (2, 1, 2, 3)
        );
    }

    #[test]
    fn invalid_utf8_is_located() {
        let (f, d) = SourceFile::from_utf8("s.toml", b"version = 1\nx = \"a\xffb\"\n".to_vec());
        let d = d.unwrap();
        assert_eq!(f.text, "version = 1\nx = \"a\u{fffd}b\"\n");
        let loc = d.location(&f).unwrap();
        assert_eq!((loc.line, loc.column, loc.end_column), (2, 7, 8));
        assert_eq!(
            d.render(&f, false),
            "error: the spec is not valid UTF-8\n --> s.toml:2:7\n  |\n2 | x = \"a\u{fffd}b\"\n  |       ^ byte 0xff is not UTF-8\n  |\n  = help: TOML files are UTF-8: save the spec as UTF-8"
        );
        let (f, d) = SourceFile::from_utf8("s.toml", b"ok".to_vec());
        assert!(d.is_none());
        assert_eq!(f.text, "ok");
        // Truncated sequence at the very end.
        let (f, d) = SourceFile::from_utf8("s.toml", b"a\xe2\x82".to_vec());
        let _ = d.unwrap().render(&f, false);
    }
}
