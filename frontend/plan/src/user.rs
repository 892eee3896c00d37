//! The non-root user the final image runs as.

use crate::sh::quote;

/// A command that creates `name` with a uid and gid, no login shell and its
/// home at `home` (the workdir), on any base: shadow's useradd (Debian, Ubuntu, Fedora),
/// busybox adduser (Alpine), or by appending to /etc/passwd and /etc/group. It does
/// nothing if a user of that name already has that uid.
/// The ids are `[image] uid`/`gid` ([`strata_spec::model::APP_UID`] by default): the group is created
/// with `gid`, the user with `uid` and that group as its primary group.
pub fn create_user_script_with_ids(name: &str, home: &str, uid: u32, gid: u32) -> String {
    let n = quote(name);
    let h = quote(home);
    let id = uid;
    format!(
        "set -eu\n\
         if [ \"$(id -u {n} 2>/dev/null || true)\" = \"{id}\" ]; then exit 0; fi\n\
         if command -v useradd >/dev/null 2>&1; then\n\
         \x20 groupadd --system --gid {gid} {n}\n\
         \x20 useradd --system --no-log-init --uid {id} --gid {gid} --home-dir {h} --no-create-home --shell /usr/sbin/nologin {n}\n\
         elif command -v adduser >/dev/null 2>&1 && command -v addgroup >/dev/null 2>&1; then\n\
         \x20 addgroup -S -g {gid} {n}\n\
         \x20 adduser -S -D -H -u {id} -G {n} -h {h} -s /sbin/nologin {n}\n\
         else\n\
         \x20 echo {n}:x:{id}:{gid}::{h}:/sbin/nologin >> /etc/passwd\n\
         \x20 echo {n}:x:{gid}: >> /etc/group\n\
         fi\n\
         rm -f /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow-\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_spec::model::APP_UID;

    #[test]
    fn script_quotes_and_uses_the_fixed_uid() {
        let s = create_user_script_with_ids("app", "/srv/my app", APP_UID, APP_UID);
        assert!(
            s.contains("--uid 10001 --gid 10001 --home-dir '/srv/my app'"),
            "{s}"
        );
        assert!(s.contains("--shell /usr/sbin/nologin app"), "{s}");
        assert!(s.contains("adduser -S -D -H -u 10001 -G app"), "{s}");
    }

    #[test]
    fn script_uses_the_given_uid_and_gid() {
        let s = create_user_script_with_ids("app", "/app", 1500, 2500);
        assert!(s.contains("groupadd --system --gid 2500 app"), "{s}");
        assert!(s.contains("--uid 1500 --gid 2500"), "{s}");
        assert!(s.contains("addgroup -S -g 2500 app"), "{s}");
        assert!(s.contains("adduser -S -D -H -u 1500 -G app"), "{s}");
        assert!(s.contains("app:x:1500:2500::/app"), "{s}");
        assert!(s.contains("= \"1500\" ]; then exit 0"), "{s}");
    }
}
