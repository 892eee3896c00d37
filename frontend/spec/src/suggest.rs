//! "Did you mean ...?" suggestions.

/// The candidate closest to `word`, if close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let w = norm(word);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let cn = norm(c);
        let d = if cn == w {
            0
        } else {
            strsim::damerau_levenshtein(&w, &cn).max(1)
        };
        let limit = (w.chars().count().max(cn.chars().count()) / 3).max(1);
        if d <= limit && d < w.chars().count() && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// "`a`, `b` and `c`"
pub(crate) fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["packages", "build-packages"];
        assert_eq!(closest("pakages", keys), Some("packages"));
        assert_eq!(closest("build_packages", keys), Some("build-packages"));
        assert_eq!(closest("Packages", keys), Some("packages"));
        assert_eq!(closest("zzz", keys), None);
        assert_eq!(closest("", keys), None);
        assert_eq!(closest("B", ["A"]), None);
        assert_eq!(closest("uvv", ["pip", "uv"]), Some("uv"));
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(list(&["a"]), "`a`");
        assert_eq!(list(&[]), "");
    }
}
