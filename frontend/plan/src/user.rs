//! The non-root user the final image runs as.

use strata_spec::model::APP_UID;

use crate::sh::quote;

/// A command that creates `name` with uid and gid [`APP_UID`], no login shell and its
/// home at `home` (the workdir), on any base: shadow's useradd (Debian, Ubuntu, Fedora),
/// busybox adduser (Alpine), or by appending to /etc/passwd and /etc/group. It does
/// nothing if a user of that name already has that uid.
pub fn create_user_script(name: &str, home: &str) -> String {
    let n = quote(name);
    let h = quote(home);
    let id = APP_UID;
    format!(
        "set -eu\n\
         if [ \"$(id -u {n} 2>/dev/null || true)\" = \"{id}\" ]; then exit 0; fi\n\
         if command -v useradd >/dev/null 2>&1; then\n\
         \x20 groupadd --system --gid {id} {n}\n\
         \x20 useradd --system --no-log-init --uid {id} --gid {id} --home-dir {h} --no-create-home --shell /usr/sbin/nologin {n}\n\
         elif command -v adduser >/dev/null 2>&1 && command -v addgroup >/dev/null 2>&1; then\n\
         \x20 addgroup -S -g {id} {n}\n\
         \x20 adduser -S -D -H -u {id} -G {n} -h {h} -s /sbin/nologin {n}\n\
         else\n\
         \x20 echo {n}:x:{id}:{id}::{h}:/sbin/nologin >> /etc/passwd\n\
         \x20 echo {n}:x:{id}: >> /etc/group\n\
         fi\n\
         rm -f /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow-\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_and_uses_the_fixed_uid() {
        let s = create_user_script("app", "/srv/my app");
        assert!(
            s.contains("--uid 10001 --gid 10001 --home-dir '/srv/my app'"),
            "{s}"
        );
        assert!(s.contains("--shell /usr/sbin/nologin app"), "{s}");
        assert!(s.contains("adduser -S -D -H -u 10001 -G app"), "{s}");
    }
}
