//! Quoting for the few commands strata runs through `sh -c`.

/// `s` as one shell word. NUL bytes (which no shell word can hold) are dropped.
pub fn quote(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != '\0').collect();
    match shlex::try_quote(&clean) {
        Ok(q) => q.into_owned(),
        Err(_) => String::from("''"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_spaces_and_quotes() {
        assert_eq!(super::quote("a b"), "'a b'");
        assert_eq!(super::quote("plain"), "plain");
        assert_eq!(super::quote("a\0b"), "ab");
    }
}
