//! Diagnostics: what a wrong spec gets, rendered like rustc/cargo messages.

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::source::{Location, SourceFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// A marked place in the spec with a short text under it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One message about the spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The headline, e.g. "unknown key `pakages` in \[system\]".
    pub message: String,
    /// Where the problem is. `None` for problems of the file as a whole
    /// (e.g. a missing `version`); the file is still named when rendered.
    pub primary: Option<Label>,
    /// Other places that explain the problem (e.g. "first defined here").
    pub secondary: Vec<Label>,
    /// "help: did you mean `packages`?"
    pub help: Option<String>,
    /// "note: ..." lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Warning, message)
    }

    /// Set the primary place (an empty label is allowed).
    pub fn with_primary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Set the help if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if any.
    pub fn span(&self) -> Option<Span> {
        self.primary.as_ref().map(|l| l.span)
    }

    /// 1-based position of the primary span in `file`, for BuildKit's source-location
    /// error detail. The offending line is `file.line_text(location.line)`.
    pub fn location(&self, file: &SourceFile) -> Option<Location> {
        self.span().map(|s| file.location(s))
    }

    /// Render like rustc: headline, `--> file:line:col`, the line with a marker,
    /// then `help:`/`note:` lines. `color` adds ANSI styles.
    pub fn render(&self, file: &SourceFile, color: bool) -> String {
        self.render_window(file, color, true)
    }

    /// `windowed`: give the renderer only the labelled lines (same output, cheaper).
    fn render_window(&self, file: &SourceFile, color: bool, windowed: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = Group::with_title(level.primary_title(self.message.as_str()));
        let mut fix_header: Option<(String, String)> = None;
        match &self.primary {
            Some(primary) => {
                // Only the lines the labels are on go to the renderer: rendering costs
                // the size of what it is given, and a big spec with many errors must
                // not cost (errors × file size).
                let spans: Vec<Span> = std::iter::once(primary)
                    .chain(&self.secondary)
                    .map(|l| file.clamp_span(l.span))
                    .collect();
                let (window, first_line) = if windowed {
                    file.window(&spans)
                } else {
                    (Span::new(0, file.text.len()), 1)
                };
                // A very long window (a minified spec, thousands of packages on one
                // line) is cut to the primary label's neighbourhood: the renderer's
                // cost is the length of the lines it is given, for every message.
                let cut = windowed && window.end - window.start > LONG_WINDOW;
                let (shown, first_line, prefix, suffix) = if cut {
                    let p = spans[0];
                    let start = file.clamp(p.start.saturating_sub(CUT_CONTEXT).max(window.start));
                    let end = file
                        .clamp((p.end.min(p.start + LONG_WINDOW) + CUT_CONTEXT).min(window.end))
                        .max(start);
                    let (line, _) = file.line_col(start);
                    let prefix = if start > window.start { "..." } else { "" };
                    let suffix = if end < window.end { "..." } else { "" };
                    (Span::new(start, end), line, prefix, suffix)
                } else {
                    (window, first_line, "", "")
                };
                let text = format!("{prefix}{}{suffix}", &file.text[shown.range()]);
                let inside = |s: &Span| s.start >= shown.start && s.start <= shown.end;
                let local = |s: Span| {
                    let a = s.start - shown.start + prefix.len();
                    let b = (s.end.min(shown.end) - shown.start + prefix.len()).max(a);
                    a..b
                };
                let mut snippet = Snippet::source(text.clone())
                    .line_start(first_line)
                    .path(file.name.as_str())
                    .annotation(
                        AnnotationKind::Primary
                            .span(local(spans[0]))
                            .label(non_empty(&primary.message)),
                    );
                for (sec, span) in self.secondary.iter().zip(&spans[1..]) {
                    if !inside(span) {
                        continue; // elsewhere on a cut line: not shown
                    }
                    snippet = snippet.annotation(
                        AnnotationKind::Context
                            .span(local(*span))
                            .label(non_empty(&sec.message)),
                    );
                }
                if cut {
                    // The header counts columns in the cut text: put the real one back.
                    let shown_file = SourceFile::new("", text.as_str());
                    let (l, c) = shown_file.line_col(local(spans[0]).start);
                    let (line, column) = file.line_col(spans[0].start);
                    fix_header = Some((
                        format!("{}:{}:{}", file.name, first_line + l - 1, c),
                        format!("{}:{line}:{column}", file.name),
                    ));
                }
                group = group.element(snippet);
            }
            None => {
                group = group.element(Origin::path(file.name.as_str()));
            }
        }
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        for note in &self.notes {
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let out = renderer.render(&[group]);
        match fix_header {
            Some((shown, real)) => out.replacen(&shown, &real, 1),
            None => out,
        }
    }
}

/// Windows longer than this (bytes) are cut to the labelled part, with this much
/// context (bytes) either side.
const LONG_WINDOW: usize = 4096;
const CUT_CONTEXT: usize = 120;

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl fmt::Display for Diagnostic {
    /// Without the file: `error: message` and its help/notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        for note in &self.notes {
            write!(f, "\n  = note: {note}")?;
        }
        Ok(())
    }
}

/// A non-empty list of diagnostics: the error type of this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new(first: Diagnostic) -> Self {
        Diagnostics(vec![first])
    }

    /// `None` when `list` is empty.
    pub fn from_vec(list: Vec<Diagnostic>) -> Option<Self> {
        if list.is_empty() {
            None
        } else {
            Some(Diagnostics(list))
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn first(&self) -> &Diagnostic {
        // Non-empty by construction; this is the only element access.
        &self.0[0]
    }

    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }

    /// All diagnostics rendered, separated by blank lines.
    pub fn render(&self, file: &SourceFile, color: bool) -> String {
        render_all(&self.0, file, color)
    }
}

/// Render a list of diagnostics, separated by blank lines.
pub fn render_all(list: &[Diagnostic], file: &SourceFile, color: bool) -> String {
    let mut out = String::new();
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(d.render(file, color).trim_end());
    }
    out
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics::new(d)
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Keep the first of identical diagnostics, then order: errors before warnings,
/// each by position (file-wide messages first).
pub(crate) fn dedupe_sort(list: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Diagnostic> = Vec::with_capacity(list.len());
    for d in list {
        if seen.insert(d.clone()) {
            out.push(d);
        }
    }
    out.sort_by_key(|d| (d.severity, d.span().map(|s| (s.start, s.end))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_and_without_span() {
        let file = SourceFile::new("strata.toml", "version = 1\n[system]\npakages = []\n");
        let d = Diagnostic::error("unknown key `pakages` in [system]")
            .with_primary(Span::new(21, 28), "unknown key")
            .with_help("did you mean `packages`?");
        insta::assert_snapshot!(d.render(&file, false), @r"
        error: unknown key `pakages` in [system]
         --> strata.toml:3:1
          |
        3 | pakages = []
          | ^^^^^^^ unknown key
          |
          = help: did you mean `packages`?
        ");
        let d = Diagnostic::error("missing `version`").with_help("add `version = 1`");
        insta::assert_snapshot!(d.render(&file, false), @r"
        error: missing `version`
        --> strata.toml
         = help: add `version = 1`
        ");
        // Out-of-range and mid-character spans never panic.
        let d = Diagnostic::error("x").with_primary(Span::new(5, 1000), "y");
        let _ = d.render(&file, true);
        let file = SourceFile::new("s", "é");
        let d = Diagnostic::error("x").with_primary(Span::new(1, 1), "");
        let _ = d.render(&file, false);
        let d = Diagnostic::error("x").with_primary(Span::new(2, 2), "");
        let _ = d.render(&SourceFile::new("s", ""), false);
        let _ = d.to_string();
    }

    #[test]
    fn long_lines_are_cut_to_the_labelled_part() {
        let list: Vec<String> = (0..2000).map(|i| format!("\"p{i}\"")).collect();
        let text = format!(
            "version = 1\n[system]\npackages = [{}, 1]\n",
            list.join(", ")
        );
        let file = SourceFile::new("strata.toml", text.as_str());
        let at = text.find(", 1]").unwrap() + 2;
        let d = Diagnostic::error("invalid type")
            .with_primary(Span::new(at, at + 1), "expected a string")
            .with_help("write it as a string");
        let (_, column) = file.line_col(at);
        let out = d.render(&file, false);
        assert!(out.len() < 1000, "{out}");
        assert!(
            out.contains(&format!("--> strata.toml:3:{column}")),
            "{out}"
        );
        assert!(out.contains("\"p1999\", 1]"), "{out}");
        assert!(out.contains("..."), "{out}");
        assert!(out.contains("^ expected a string"), "{out}");
        assert!(d
            .render(&file, true)
            .contains(&format!("strata.toml:3:{column}")));
        // At the start of a long line, with a label far away on it (not shown).
        let d = Diagnostic::error("e")
            .with_primary(Span::new(21, 29), "here")
            .with_secondary(Span::new(at, at + 1), "and there");
        let out = d.render(&file, false);
        assert!(out.len() < 1000, "{out}");
        assert!(out.contains("--> strata.toml:3:1\n"), "{out}");
        assert!(out.contains("^^^^^^^^ here"), "{out}");
        // A label over the whole long line; one on a line after it.
        let d = Diagnostic::error("e")
            .with_primary(Span::new(21, text.len() - 1), "all of it")
            .with_secondary(Span::new(text.len(), text.len()), "end");
        let out = d.render(&file, false);
        assert!(out.len() < 10_000, "{out}");
        assert!(out.contains("--> strata.toml:3:1\n"), "{out}");
        // Multi-byte characters around the cut.
        let text = format!("x = \"{}\"\ny = 1\n", "é".repeat(5000));
        let file = SourceFile::new("strata.toml", text.as_str());
        for at in [0, 7, 4000, 9999, 10004, text.len() - 3] {
            let d = Diagnostic::error("e").with_primary(Span::new(at, at + 3), "x");
            let out = d.render(&file, false);
            let (l, c) = file.line_col(at);
            assert!(out.contains(&format!("strata.toml:{l}:{c}")), "{at}: {out}");
        }
    }

    #[test]
    fn windowed_rendering_is_the_same_as_whole_file_rendering() {
        let texts = [
            "version = 1\n[system]\npakages = []\n",
            "a = 1\r\nb = 2\r\n\r\nc = [\n  1,\n  2,\n]\n",
            "x = \"é\" # ü\n\n\n\n\n\n\n\n\n\n\n\ny = 2",
            "",
            "\n\n\n",
            "no newline at the end",
        ];
        // The gutter's width may differ (annotate-snippets sizes it from the text it is
        // given); everything right of it must be the same.
        let gutterless = |s: String| -> String {
            s.lines()
                .map(|l| match l.split_once(['|', '=']) {
                    Some((g, rest)) if g.trim().chars().all(|c| c.is_ascii_digit()) => {
                        format!("{}|{rest}", g.trim())
                    }
                    _ => l.trim_start().to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for text in texts {
            let file = SourceFile::new("strata.toml", text);
            let n = text.len();
            let mut offsets: Vec<usize> = (0..=n).collect();
            offsets.push(n + 3);
            for &a in &offsets {
                for &b in &offsets {
                    let mut d = Diagnostic::error("e").with_primary(Span::new(a, b), "here");
                    let whole = gutterless(d.render_window(&file, false, false));
                    assert_eq!(
                        gutterless(d.render(&file, false)),
                        whole,
                        "{text:?} {a}..{b}"
                    );
                    d = d
                        .with_secondary(Span::new(b / 2, a), "there")
                        .with_help("h");
                    let whole = gutterless(d.render_window(&file, false, false));
                    let windowed = gutterless(d.render(&file, false));
                    assert_eq!(windowed, whole, "{text:?} {a}..{b} + {}..{a}", b / 2);
                }
            }
        }
    }
}
