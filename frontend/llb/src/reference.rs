//! Image references, normalised the way Docker and BuildKit name them
//! (`python:3.12` is `docker.io/library/python:3.12`).

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    /// Registry host, e.g. `docker.io`, `localhost`, `127.0.0.1:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/python`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:...`
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{reference}`: {reason}")]
pub struct RefError {
    pub reference: String,
    pub reason: &'static str,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<ImageRef, RefError> {
        let err = |reason| RefError {
            reference: reference.to_string(),
            reason,
        };
        if reference.is_empty() {
            return Err(err("it is empty"));
        }
        if reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(err("it contains whitespace"));
        }
        let (name, digest) = match reference.split_once('@') {
            Some((n, d)) => {
                let ok = d.split_once(':').is_some_and(|(alg, hex)| {
                    !alg.is_empty() && !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
                });
                if !ok {
                    return Err(err("the digest is not of the form algorithm:hex"));
                }
                (n, Some(d.to_string()))
            }
            None => (reference, None),
        };
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let (n, t) = name.split_at(last_slash + i);
                (n, Some(t[1..].to_string()))
            }
            None => (name, None),
        };
        if let Some(t) = &tag {
            let valid = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !t.starts_with(['.', '-']);
            if !valid {
                return Err(err(
                    "the tag may only hold letters, digits, `_`, `.` and `-`",
                ));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io".to_string()
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let path_ok = !path.is_empty()
            && path.split('/').all(|c| {
                !c.is_empty()
                    && c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            });
        if !path_ok {
            return Err(err(
                "the repository name must be lowercase letters, digits and `._-/`",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `domain/path[:tag][@digest]`.
    pub fn normalized(&self) -> String {
        let mut s = format!("{}/{}", self.domain, self.path);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The same image pinned to `digest` (the tag is kept for readability).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        ImageRef::parse(s).unwrap().normalized()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(n("python:3.12-slim"), "docker.io/library/python:3.12-slim");
        assert_eq!(n("python"), "docker.io/library/python:latest");
        assert_eq!(
            n("nvidia/cuda:12.4.0-runtime-ubuntu22.04"),
            "docker.io/nvidia/cuda:12.4.0-runtime-ubuntu22.04"
        );
        assert_eq!(
            n("localhost/python:3.11-bookworm"),
            "localhost/python:3.11-bookworm"
        );
        assert_eq!(n("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(n("ghcr.io/astral-sh/uv:0.5"), "ghcr.io/astral-sh/uv:0.5");
        assert_eq!(
            n("index.docker.io/library/alpine:3"),
            "docker.io/library/alpine:3"
        );
        let d = "sha256:0123456789abcdef";
        assert_eq!(
            n(&format!("alpine@{d}")),
            format!("docker.io/library/alpine@{d}")
        );
        assert_eq!(
            n(&format!("alpine:3@{d}")),
            format!("docker.io/library/alpine:3@{d}")
        );
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in [
            "",
            "Python:3",
            "python:",
            "py thon",
            "alpine@sha256",
            "a//b",
            "x:-bad",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
