//! Checks and normal forms of single values: paths, names, image references,
//! ports, signals, durations. Each returns the normalised value or a [`Problem`].

use crate::model::{Port, Protocol};

/// Why a value is wrong: `message` completes "invalid value for `key` in [table]: ",
/// `label` goes under the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl Problem {
    fn new(message: impl Into<String>, label: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            label: label.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

type R<T> = Result<T, Problem>;

/// Lexically normalise a path: drop `.` and empty components, apply `..`.
/// Returns the components, or `None` when `..` goes above the start.
fn components(path: &str) -> Option<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// No value may hold a NUL: the shell and the kernel end a string there, so quoting
/// drops it and a command would see another value than the image config.
pub(crate) fn no_nul(s: &str) -> R<()> {
    if s.contains('\0') {
        return Err(Problem::new(
            "must not hold a NUL character",
            "a NUL character (`\\0`) in the value",
        )
        .help("remove it: the shell and the kernel end a string at a NUL"));
    }
    Ok(())
}

/// `workdir` and `venv`: an absolute path that becomes the user's home in /etc/passwd
/// (whose fields `:` separates, one line per user) and a PATH entry (`:`-separated):
/// no `:` and no control character.
pub(crate) fn image_path(s: &str) -> R<String> {
    let p = abs_path(s)?;
    if s.contains(':') {
        return Err(Problem::new(
            "must not hold `:`",
            "`:` in the path",
        )
        .help("`:` separates the fields of /etc/passwd (where this path is the user's home) and the entries of PATH; choose a path without it"));
    }
    Ok(p)
}

/// An absolute path inside the image, normalised (`/a/./b/` → `/a/b`; `..` stops at `/`).
/// No control characters (a newline in a path would start a new line of whatever
/// file or script it is written into).
pub(crate) fn abs_path(s: &str) -> R<String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Problem::new(
            format!("must not hold a control character ({c:?})"),
            format!("control character {c:?} in the path"),
        )
        .help(
            "paths in the image are written into scripts and /etc/passwd: use printable characters",
        ));
    }
    if !s.starts_with('/') {
        let help = if s.is_empty() {
            "write an absolute path such as `/app`".to_string()
        } else {
            format!("write `/{}`", s.trim_start_matches("./"))
        };
        return Err(Problem::new("must be an absolute path", "not an absolute path").help(help));
    }
    let mut out: Vec<&str> = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

/// A path in the build context: relative, not leaving it; normalised
/// (`./a//b/` → `a/b`, the context itself is `.`).
pub(crate) fn rel_path(s: &str) -> R<String> {
    if s.is_empty() {
        return Err(Problem::new("must not be empty", "empty path")
            .help("write `.` for the whole build context"));
    }
    if s.starts_with('/') {
        return Err(Problem::new(
            "paths are relative to the build context, not absolute",
            "absolute path",
        )
        .help(match components(s) {
            Some(c) if !c.is_empty() => format!("write `{}`", c.join("/")),
            _ => "write `.` for the whole build context".to_string(),
        }));
    }
    match components(s) {
        None => Err(Problem::new(
            format!("`{s}` leaves the build context"),
            "outside the build context",
        )
        .help("only files in the build context can be used; move the file into it or widen the context")),
        Some(c) if c.is_empty() => Ok(".".to_string()),
        Some(c) => Ok(c.join("/")),
    }
}

/// A file in the build context (a requirements file).
pub(crate) fn rel_file(s: &str) -> R<String> {
    let p = rel_path(s)?;
    if p == "." {
        return Err(Problem::new(
            "must name a file, not the whole build context",
            "not a file",
        ));
    }
    Ok(p)
}

fn bad_chars(s: &str, ok: impl Fn(char) -> bool) -> Option<char> {
    s.chars().find(|c| !ok(*c))
}

fn char_desc(c: char) -> String {
    if c.is_whitespace() {
        "whitespace".to_string()
    } else if c.is_control() {
        format!("control character {:?}", c)
    } else {
        format!("`{c}`")
    }
}

/// A system package name, loosely: no spaces or shell metacharacters, no leading `-`.
/// Allows version pins and architectures (`libfoo=1.2-3`, `foo:amd64`, `g++`).
pub(crate) fn package(s: &str) -> R<()> {
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok = |c: char| c.is_ascii_alphanumeric() || "._+-:=~".contains(c);
    if s.is_empty() {
        return Err(Problem::new(
            "a package name must not be empty",
            "empty package name",
        ));
    }
    if let Some(c) = bad_chars(s, ok) {
        let mut p = Problem::new(
            format!("`{s}` is not a package name"),
            format!("{} is not allowed in a package name", char_desc(c)),
        );
        if c.is_whitespace() {
            p = p.help("give each package as its own string: `[\"a\", \"b\"]`");
        }
        return Err(p);
    }
    if !first_ok {
        return Err(Problem::new(
            format!("`{s}` is not a package name"),
            "a package name starts with a letter or digit",
        ));
    }
    Ok(())
}

/// Names of tiers, services and build steps: `[a-z0-9][a-z0-9._-]*`.
pub(crate) fn name(s: &str) -> R<()> {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if first_ok && rest_ok {
        return Ok(());
    }
    let mut p = Problem::new(
        format!("`{s}` is not a valid name"),
        "names are lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit",
    );
    let lower = s.to_ascii_lowercase();
    if lower != s && name(&lower).is_ok() {
        p = p.help(format!("write `{lower}`"));
    }
    Err(p)
}

/// Variant names: letters, digits, `.`, `_`, `-`, starting with a letter or digit.
pub(crate) fn variant_name(s: &str) -> R<()> {
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{s}` is not a valid variant name"),
            "variant names are letters, digits, `.`, `_` and `-`",
        ))
    }
}

/// Build argument names: `[A-Za-z_][A-Za-z0-9_]*` (so that `${NAME}` can refer to them).
pub(crate) fn arg_name(s: &str) -> R<()> {
    if crate::expand::is_arg_name(s) {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{s}` is not a valid build argument name"),
            "names are letters, digits and `_`, not starting with a digit",
        ))
    }
}

/// Environment variable names: not empty, no `=`, no whitespace.
pub(crate) fn env_name(s: &str) -> R<()> {
    if s.is_empty() {
        return Err(Problem::new(
            "an environment variable name must not be empty",
            "empty name",
        ));
    }
    if let Some(c) = bad_chars(s, |c| c != '=' && !c.is_whitespace() && !c.is_control()) {
        return Err(Problem::new(
            format!("`{s}` is not a valid environment variable name"),
            format!("{} is not allowed in a variable name", char_desc(c)),
        ));
    }
    Ok(())
}

/// BuildKit secret ids as strata accepts them: they are given as `--secret id=ID,...`
/// (buildx splits that on `,` and `=`), become a file name under /run/secrets, and
/// name BuildKit's git auth secrets (`ID.<host>`). Letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit, at most 128 characters.
pub(crate) fn secret_id(s: &str) -> R<()> {
    const HELP: &str = "secret ids are letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 128 characters), as given to `--secret id=ID`";
    if s.is_empty() {
        return Err(Problem::new("a secret id must not be empty", "empty id").help(HELP));
    }
    if let Some(c) = bad_chars(s, |c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Problem::new(
            format!("`{s}` is not a valid secret id"),
            format!("{} is not allowed in a secret id", char_desc(c)),
        )
        .help(HELP));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Problem::new(
            format!("`{s}` is not a valid secret id"),
            "must start with a letter or digit",
        )
        .help(HELP));
    }
    if s.len() > 128 {
        return Err(Problem::new(
            format!("secret id `{s}` is longer than 128 characters"),
            "too long",
        )
        .help(HELP));
    }
    Ok(())
}

pub(crate) fn non_empty(s: &str) -> R<()> {
    if s.is_empty() {
        Err(Problem::new("must not be empty", "empty"))
    } else {
        Ok(())
    }
}

/// An image reference: `[host[:port]/]path[:tag][@digest]`, checked loosely.
pub(crate) fn image_ref(s: &str) -> R<()> {
    let invalid =
        |label: String| Problem::new(format!("`{s}` is not a valid image reference"), label);
    if s.is_empty() {
        return Err(
            Problem::new("an image reference must not be empty", "empty")
                .help("e.g. `python:3.12-slim`"),
        );
    }
    if let Some(c) = bad_chars(s, |c| !c.is_whitespace() && !c.is_control()) {
        return Err(invalid(format!("{} in an image reference", char_desc(c))));
    }
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(invalid(
                "invalid digest; expected `@sha256:<64 hex digits>`".to_string(),
            ));
        }
    }
    let (name, tag) = split_tag(name_tag);
    if let Some(tag) = tag {
        let first_ok = tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest_ok = tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !first_ok || !rest_ok || tag.len() > 128 {
            return Err(invalid(format!("invalid tag `{tag}`")));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts.first().copied().unwrap_or("");
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = match first.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (first, None),
            };
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c));
            let port_ok =
                port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            if !host_ok || !port_ok {
                return Err(invalid(format!("invalid registry `{first}`")));
            }
            parts.remove(0);
        }
    }
    for part in parts {
        if part.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(
                invalid("repository names must be lowercase".to_string()).help(format!(
                    "write `{}`",
                    s.replace(part, &part.to_ascii_lowercase())
                )),
            );
        }
        let first_ok = part
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let last_ok = part
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let chars_ok = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !first_ok || !last_ok || !chars_ok {
            return Err(invalid(format!("invalid name component `{part}`")));
        }
    }
    Ok(())
}

/// Split `name[:tag]` (a `:` before the last `/` belongs to a registry port).
pub(crate) fn split_tag(name_tag: &str) -> (&str, Option<&str>) {
    let slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name_tag.get(slash..).and_then(|last| last.rfind(':')) {
        Some(colon) => {
            let at = slash + colon;
            (
                name_tag.get(..at).unwrap_or(name_tag),
                name_tag.get(at + 1..),
            )
        }
        None => (name_tag, None),
    }
}

/// Whether an image reference floats: no tag and no digest, or `:latest`.
pub(crate) fn floating_tag(s: &str) -> Option<&'static str> {
    if s.contains('@') || s == "scratch" {
        return None;
    }
    match split_tag(s).1 {
        None => Some("has no tag"),
        Some("latest") => Some("uses the tag `latest`"),
        Some(_) => None,
    }
}

/// The authority of `scheme://authority/...` and where its user part ends, when it
/// holds `user@` (or `user:password@`).
fn userinfo(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (user, _) = authority.rsplit_once('@')?;
    Some((scheme, user))
}

/// `s` with its user part (`user:password@`) removed, for a help that must not
/// print the credential.
fn without_userinfo(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// A package index URL holding a user name or password: refused, without printing it.
fn index_credentials(s: &str) -> R<()> {
    if userinfo(s).is_some() {
        return Err(Problem::new(
            "a package index URL must not hold credentials",
            "a user name or password in the URL",
        )
        .help(format!(
            "write `{}` and give the credentials in a netrc file passed as a BuildKit secret: \
             `netrc-secret = \"pip-netrc\"` in [python] and \
             `docker buildx build --secret id=pip-netrc,src=$HOME/.netrc` \
             (a URL's credentials end up in the LLB and the build's progress)",
            without_userinfo(s)
        )));
    }
    Ok(())
}

/// A package index URL: a URL without credentials.
pub(crate) fn index_url(s: &str) -> R<()> {
    index_credentials(s)?;
    url(s)
}

/// A URL with a scheme (`https://...`, `file:///...`).
pub(crate) fn url(s: &str) -> R<()> {
    if let Some(c) = bad_chars(s, |c| !c.is_whitespace() && !c.is_control()) {
        return Err(Problem::new(
            format!("`{s}` is not a valid URL"),
            format!("{} in a URL", char_desc(c)),
        ));
    }
    let scheme_ok = s.split_once("://").is_some_and(|(scheme, rest)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && !rest.is_empty()
    });
    if scheme_ok {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{s}` is not a URL"),
            "expected a URL such as `https://example.com/simple`",
        ))
    }
}

/// A git URL: a URL with a scheme, or scp-like `user@host:path`. A password (or an
/// http(s) user name, where tokens go) is refused without printing it; ssh's user
/// name (`git@`) is not a credential.
pub(crate) fn git_url(s: &str) -> R<()> {
    let credential = match userinfo(s) {
        Some((scheme, user)) => user.contains(':') || !scheme.to_ascii_lowercase().contains("ssh"),
        // scp-like `user:password@host:path`
        None => {
            !s.contains("://")
                && s.split('/')
                    .next()
                    .and_then(|head| head.split_once('@'))
                    .is_some_and(|(user, _)| user.contains(':'))
        }
    };
    if credential {
        return Err(Problem::new(
            "a git URL must not hold credentials",
            "a user name or password in the URL",
        )
        .help(format!(
            "write `{}` and give the token as a BuildKit secret, which BuildKit's git source \
             reads for the host: `docker buildx build --secret id=GIT_AUTH_TOKEN.HOST,env=TOKEN` \
             (or `GIT_AUTH_HEADER.HOST`); for ssh remotes, `--ssh default` \
             (a URL's credentials end up in the LLB and the build's progress)",
            without_userinfo(s)
        )));
    }
    if s.starts_with('-') {
        return Err(Problem::new(
            "a git URL must not start with `-`",
            "git would read it as an option",
        ));
    }
    if s.contains('#') {
        return Err(Problem::new(
            "a git URL must not hold `#`",
            "BuildKit reads what follows `#` as a ref and a subdirectory",
        )
        .help("give the branch, tag or commit in `ref`"));
    }
    let path = match s.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => s.split_once(':').map_or("", |(_, p)| p),
    };
    if path.split('/').any(|c| c == "..") {
        return Err(Problem::new(
            "a git URL's path must not hold `..`",
            "`..` in the repository path",
        ));
    }
    if url(s).is_ok() {
        return Ok(());
    }
    let scp_ok = !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once(':').is_some_and(|(host, path)| {
            host.contains('@') && !host.contains('/') && !path.is_empty()
        });
    if scp_ok {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{s}` is not a git URL"),
            "expected `https://host/repo.git` or `git@host:repo.git`",
        ))
    }
}

/// A git ref (branch, tag or commit): not empty, no whitespace.
pub(crate) fn git_ref(s: &str) -> R<()> {
    if s.is_empty() {
        return Err(Problem::new("a git ref must not be empty", "empty")
            .help("leave `ref` out to use the default branch"));
    }
    if let Some(c) = bad_chars(s, |c| !c.is_whitespace() && !c.is_control()) {
        return Err(Problem::new(
            format!("`{s}` is not a git ref"),
            format!("{} in a git ref", char_desc(c)),
        ));
    }
    if s.starts_with('-') {
        return Err(Problem::new(
            format!("`{s}` is not a git ref: it starts with `-`"),
            "git would read it as an option",
        ));
    }
    // git refuses `..` in a ref name; after `:` BuildKit would take it as a
    // subdirectory that leaves the repository.
    if s.contains("..") {
        return Err(Problem::new(
            format!("`{s}` is not a git ref: it holds `..`"),
            "`..` is not allowed in a git ref",
        ));
    }
    if s.contains(':') || s.contains('#') {
        return Err(Problem::new(
            format!(
                "`{s}` is not a git ref: it holds `{}`",
                if s.contains(':') { ':' } else { '#' }
            ),
            "BuildKit reads `:` as the start of a subdirectory and `#` as a ref",
        )
        .help("give a branch, a tag or a commit"));
    }
    Ok(())
}

pub(crate) fn installer(s: &str) -> R<crate::model::Installer> {
    match s {
        "pip" => Ok(crate::model::Installer::Pip),
        "uv" => Ok(crate::model::Installer::Uv),
        _ => Err(
            Problem::new(format!("unknown installer `{s}`"), "expected `pip` or `uv`").help(
                match crate::suggest::closest(s, ["pip", "uv"]) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "use `pip` (the default) or `uv`".to_string(),
                },
            ),
        ),
    }
}

/// The image user: `root`, or a user name strata creates.
pub(crate) fn user(s: &str) -> R<()> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return Err(Problem::new(
            format!("`{s}` is a numeric id; give a user name"),
            "not a user name",
        )
        .help(format!(
            "strata creates the user with uid/gid {} (`uid`/`gid` in [image] set others); use `root` to run as root",
            crate::model::APP_UID
        )));
    }
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
    if first_ok && rest_ok && s.len() <= 32 {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{s}` is not a valid user name"),
            "user names are lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 characters",
        ))
    }
}

/// The interpreter command: a command name or absolute path, no spaces or shell characters.
pub(crate) fn interpreter(s: &str) -> R<()> {
    if s.is_empty() {
        return Err(Problem::new("must not be empty", "empty").help("the default is `python3`"));
    }
    if let Some(c) = bad_chars(s, |c| c.is_ascii_alphanumeric() || "._+/-".contains(c)) {
        return Err(Problem::new(
            format!("`{s}` is not an interpreter command"),
            format!("{} is not allowed here", char_desc(c)),
        )
        .help("give a command name (`python3.12`) or an absolute path (`/usr/bin/python3`)"));
    }
    if s.starts_with('-') {
        return Err(Problem::new(
            format!("`{s}` is not an interpreter command: it starts with `-`"),
            "read as an option, not a command",
        )
        .help("give a command name (`python3.12`) or an absolute path (`/usr/bin/python3`)"));
    }
    Ok(())
}

/// A port: a number 1-65535 with an optional protocol.
pub(crate) fn port_number(n: i64) -> R<Port> {
    match u16::try_from(n) {
        Ok(number) if number > 0 => Ok(Port {
            number,
            protocol: Protocol::Tcp,
        }),
        _ => Err(Problem::new(
            format!("port {n} is out of range"),
            "ports are 1-65535",
        )),
    }
}

/// `"8000"`, `"8000/tcp"`, `"53/udp"`, `"9/sctp"`.
pub(crate) fn port_str(s: &str) -> R<Port> {
    let (num, proto) = match s.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let protocol = match proto.map(|p| p.to_ascii_lowercase()) {
        None => Protocol::Tcp,
        Some(p) if p == "tcp" => Protocol::Tcp,
        Some(p) if p == "udp" => Protocol::Udp,
        Some(p) if p == "sctp" => Protocol::Sctp,
        Some(_) => {
            return Err(Problem::new(
                format!("`{s}` is not a port"),
                "the protocol is `tcp`, `udp` or `sctp`",
            ))
        }
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        let mut p = Problem::new(
            format!("`{s}` is not a port"),
            "expected a port such as `8000` or `\"53/udp\"`",
        );
        if num.contains('-') {
            p = p.help("port ranges are not supported; list each port");
        }
        return Err(p);
    }
    match num.parse::<u32>().ok().and_then(|n| u16::try_from(n).ok()) {
        Some(number) if number > 0 => Ok(Port { number, protocol }),
        _ => Err(Problem::new(
            format!("port {num} is out of range"),
            "ports are 1-65535",
        )),
    }
}

const SIGNALS: &[(&str, u32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// A Linux signal number (1-64), as the image config stores it: `"9"`.
pub(crate) fn signal_number(n: i64) -> R<String> {
    if (1..=64).contains(&n) {
        Ok(n.to_string())
    } else {
        Err(Problem::new(
            format!("signal {n} does not exist"),
            "Linux signals are 1-64",
        ))
    }
}

/// A Linux signal name, with or without `SIG`, any case: normalised to `SIGTERM`.
/// `SIGRTMIN+n`/`SIGRTMAX-n` (n ≤ 30) and numbers in a string are accepted.
pub(crate) fn signal_str(s: &str) -> R<String> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(n) => signal_number(n),
            Err(_) => signal_number(i64::MAX),
        };
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: &str, sep: char| -> bool {
        bare.strip_prefix(base)
            .and_then(|r| r.strip_prefix(sep))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=30).contains(&n) && !bare.contains(' '))
    };
    if SIGNALS.iter().any(|(n, _)| *n == bare) || rt("RTMIN", '+') || rt("RTMAX", '-') {
        return Ok(format!("SIG{bare}"));
    }
    let names: Vec<String> = SIGNALS.iter().map(|(n, _)| format!("SIG{n}")).collect();
    let mut p = Problem::new(format!("unknown signal `{s}`"), "not a Linux signal");
    let want = format!("SIG{bare}");
    p = match crate::suggest::closest(&want, names.iter().map(String::as_str)) {
        Some(c) => p.help(format!("did you mean `{c}`?")),
        None => p.help("use a name such as `SIGTERM`, `SIGINT`, `SIGQUIT`, or a number"),
    };
    Err(p)
}

/// A Go-style duration (`"30s"`, `"1m30s"`, `"500ms"`, `"1.5h"`, `"0"`), in nanoseconds.
/// Units: ns, us (µs), ms, s, m, h. Non-zero durations below 1ms are rejected
/// (Docker does too).
pub(crate) fn duration(s: &str) -> R<u64> {
    let bad = || {
        Problem::new(
            format!("`{s}` is not a duration"),
            "expected a duration such as `30s`, `1m30s` or `500ms`",
        )
    };
    let mut rest = s;
    if rest == "0" {
        return Ok(0);
    }
    if rest.starts_with('-') {
        return Err(Problem::new(
            format!("`{s}` is negative"),
            "durations must not be negative",
        ));
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let l = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(l)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let mult: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(bad().help(format!("add a unit: `{s}s`")));
            }
            _ => return Err(bad().help("units are `ns`, `us`, `ms`, `s`, `m` and `h`")),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        total = total.saturating_add(int.saturating_mul(mult));
        // Fraction: up to 18 digits are significant, which is below 1ns for any unit.
        let frac_digits = frac_part.get(..frac_part.len().min(18)).unwrap_or("");
        if !frac_digits.is_empty() {
            let f: u128 = frac_digits.parse().map_err(|_| bad())?;
            let scale = 10u128.pow(frac_digits.len() as u32);
            total = total.saturating_add(f.saturating_mul(mult) / scale);
        }
        rest = after;
    }
    let ns = u64::try_from(total)
        .ok()
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or_else(|| Problem::new(format!("`{s}` is too long"), "duration out of range"))?;
    if ns > 0 && ns < 1_000_000 {
        return Err(Problem::new(
            format!("`{s}` is too short"),
            "must be at least 1ms (or 0 for the default)",
        ));
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(rel_path("./a//b/").unwrap(), "a/b");
        assert_eq!(rel_path("a/../b").unwrap(), "b");
        assert_eq!(rel_path("./").unwrap(), ".");
        assert_eq!(rel_path("**/x").unwrap(), "**/x");
        assert!(rel_path("../x").is_err());
        assert!(rel_path("a/../../x").is_err());
        assert_eq!(
            rel_path("/x/y").unwrap_err().help.as_deref(),
            Some("write `x/y`")
        );
        assert!(rel_path("").is_err());
        assert!(rel_file(".").is_err());
        assert_eq!(abs_path("/app/./x/../y/").unwrap(), "/app/y");
        assert_eq!(abs_path("/").unwrap(), "/");
        assert_eq!(abs_path("/..").unwrap(), "/");
        assert_eq!(
            abs_path("app").unwrap_err().help.as_deref(),
            Some("write `/app`")
        );
    }

    #[test]
    fn names_and_refs() {
        assert!(package("libstdc++6").is_ok());
        assert!(package("libfoo=1.2-3ubuntu1").is_ok());
        assert!(package("foo:amd64").is_ok());
        assert!(package("curl wget").is_err());
        assert!(package("a;rm").is_err());
        assert!(package("-y").is_err());
        assert!(package("$(x)").is_err());
        assert!(name("base").is_ok());
        assert_eq!(
            name("Base").unwrap_err().help.as_deref(),
            Some("write `base`")
        );
        assert!(name("").is_err());
        assert!(image_ref("python:3.12-slim").is_ok());
        assert!(image_ref("nvidia/cuda:12.4.0-runtime-ubuntu22.04").is_ok());
        assert!(image_ref("localhost:5000/a/b:1").is_ok());
        assert!(image_ref(
            "reg.io/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
        .is_ok());
        assert!(image_ref("Python:3").is_err());
        assert!(image_ref("python 3").is_err());
        assert!(image_ref("python:").is_err());
        assert!(image_ref("").is_err());
        assert_eq!(floating_tag("python"), Some("has no tag"));
        assert_eq!(floating_tag("python:latest"), Some("uses the tag `latest`"));
        assert_eq!(floating_tag("localhost:5000/python"), Some("has no tag"));
        assert_eq!(floating_tag("python:3"), None);
        assert_eq!(floating_tag("python@sha256:00"), None);
        assert!(url("https://pypi.org/simple").is_ok());
        assert!(url("pypi.org").is_err());
        assert!(git_url("git@github.com:a/b.git").is_ok());
        assert!(git_url("github.com/a/b").is_err());
        assert!(user("app").is_ok());
        assert!(user("1000").is_err());
        assert!(user("App").is_err());
        assert!(interpreter("/usr/bin/python3.12").is_ok());
        assert!(interpreter("python3 -S").is_err());
    }

    #[test]
    fn ports_signals_durations() {
        assert_eq!(port_str("53/udp").unwrap().to_string(), "53/udp");
        assert_eq!(port_str("8000").unwrap().to_string(), "8000/tcp");
        assert_eq!(port_str("9/SCTP").unwrap().to_string(), "9/sctp");
        assert!(port_str("0").is_err());
        assert!(port_str("70000").is_err());
        assert!(port_str("99999999999999999999").is_err());
        assert!(port_str("80/http").is_err());
        assert!(port_str("8000-8010").unwrap_err().help.is_some());
        assert!(port_number(65535).is_ok());
        assert!(port_number(0).is_err());
        assert!(port_number(-1).is_err());
        assert_eq!(signal_str("SIGTERM").unwrap(), "SIGTERM");
        assert_eq!(signal_str("term").unwrap(), "SIGTERM");
        assert_eq!(signal_str("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        assert_eq!(signal_str("9").unwrap(), "9");
        assert!(signal_str("SIGRTMIN+31").is_err());
        assert_eq!(
            signal_str("SIGTREM").unwrap_err().help.as_deref(),
            Some("did you mean `SIGTERM`?")
        );
        assert!(signal_number(65).is_err());
        assert!(signal_str("").is_err());
        assert_eq!(duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("500ms").unwrap(), 500_000_000);
        assert_eq!(duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(duration(".5s").unwrap(), 500_000_000);
        assert_eq!(duration("0").unwrap(), 0);
        assert_eq!(duration("0s").unwrap(), 0);
        assert!(duration("30").unwrap_err().help.is_some());
        assert!(duration("-1s").is_err());
        assert!(duration("1d").is_err());
        assert!(duration("").is_err());
        assert!(duration(".s").is_err());
        assert!(duration("10us").is_err());
        assert!(duration("99999999999999999999999h").is_err());
        assert!(duration("1.00000000000000000000000000001s").is_ok());
    }
}
