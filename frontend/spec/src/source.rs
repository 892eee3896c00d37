//! The spec's text and positions in it.

use std::ops::Range;

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
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = before.matches('\n').count() + 1;
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// The text of a 1-based line, without its line terminator (`\n` or `\r\n`).
    pub fn line_text(&self, line: usize) -> Option<&str> {
        if line == 0 {
            return None;
        }
        self.text
            .split('\n')
            .nth(line - 1)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
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
        let line_start = self.text[..anchor].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = self.text[end..]
            .find('\n')
            .map(|i| end + i + 1) // with its `\n`, so that `\r\n` stays a line break
            .unwrap_or(self.text.len());
        let line = self.text[..line_start].matches('\n').count() + 1;
        (Span::new(line_start, line_end), line)
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
}
