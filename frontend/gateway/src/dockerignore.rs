//! `.dockerignore` files, read the way BuildKit's own frontend reads them.
//!
//! Only the file format lives here (comments, blank lines, `!` exceptions, cleaned
//! paths); the patterns are matched by BuildKit itself when it sends the context, so
//! strata needs no matcher of its own.

/// The patterns of a `.dockerignore` file, in order.
pub fn parse(text: &str) -> Vec<String> {
    let mut out = vec![];
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (neg, body) = match line.strip_prefix('!') {
            Some(rest) => ("!", rest.trim()),
            None => ("", line),
        };
        if body.is_empty() {
            continue;
        }
        let cleaned = path_clean::clean(body).to_string_lossy().into_owned();
        let cleaned = cleaned.trim_start_matches('/');
        let cleaned = if cleaned.is_empty() { "." } else { cleaned };
        out.push(format!("{neg}{cleaned}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_like_buildkit() {
        let text = "# comment\n\n  *.pyc \n/build/\n!build/keep.txt\n./docs//x/../y\n!\n";
        assert_eq!(
            super::parse(text),
            vec!["*.pyc", "build", "!build/keep.txt", "docs/y"]
        );
    }
}
