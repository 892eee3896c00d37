//! Reading files of a build context from a local directory, as `strata check` and
//! `strata llb` do (the spec's directory stands for the context). The directory may be
//! an untrusted pull request, so a read:
//!
//! - resolves symbolic links inside the directory only: a link whose target leaves it
//!   (an absolute target, or `..` past the top) is refused, never followed, as
//!   BuildKit sends a link as a link and never what it points to;
//! - takes regular files only (no directory, named pipe, socket or device: a read of
//!   `/dev/zero` or a fifo would never end);
//! - reads at most `max` bytes.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most links followed in one path (as Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// A context file's text; `Ok(None)` when nothing is there; `Err(why)` when it may
/// not be read. `rel` is a path relative to `root` (the spec's checks already
/// refuse absolute paths and `..`; this does not rely on them).
pub fn read(root: &Path, rel: &str, max: u64) -> Result<Option<String>, String> {
    let Some(path) = resolve(root, rel)? else {
        return Ok(None);
    };
    let meta = std::fs::symlink_metadata(&path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err(format!("`{rel}` is {}, not a regular file", kind(&meta)));
    }
    if meta.len() > max {
        return Err(format!(
            "`{rel}` is {} bytes, more than the {} MiB a file may have here",
            meta.len(),
            max >> 20
        ));
    }
    let f = std::fs::File::open(&path).map_err(|e| format!("`{rel}`: {e}"))?;
    let mut bytes = Vec::new();
    // The size can change between the stat and the read: bound the read itself.
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("`{rel}`: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "`{rel}` is more than the {} MiB a file may have here",
            max >> 20
        ));
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok(Some(t)),
        Err(_) => Err(format!("`{rel}` is not UTF-8 text")),
    }
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "something else"
    }
}

/// The real path of `rel` under `root`, every link resolved inside `root`; `None`
/// when some part of it does not exist.
fn resolve(root: &Path, rel: &str) -> Result<Option<PathBuf>, String> {
    // Components still to walk, last first; `at`: the resolved components so far.
    let mut todo: Vec<String> = vec![];
    push_components(&mut todo, Path::new(rel), rel)?;
    let mut at: Vec<String> = vec![];
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            if at.pop().is_none() {
                return Err(format!("`{rel}` leaves the build context"));
            }
            continue;
        }
        let mut p = root.to_path_buf();
        p.extend(&at);
        p.push(&c);
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(20) => return Ok(None), // ENOTDIR
            Err(e) => return Err(format!("`{rel}`: {e}")),
        };
        if !meta.file_type().is_symlink() {
            at.push(c);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(format!(
                "`{rel}` goes through more than {MAX_LINKS} symbolic links"
            ));
        }
        let target = std::fs::read_link(&p).map_err(|e| format!("`{rel}`: {e}"))?;
        let shown = target.display().to_string();
        if target.is_absolute() {
            return Err(format!(
                "`{rel}` is a symbolic link to `{shown}`, which is outside the build context"
            ));
        }
        // Resolve the target relative to the link's directory: its parts go first.
        let before = todo.len();
        push_components(&mut todo, &target, rel)?;
        // `..` past the top of the context, counted from where the link is.
        let mut depth = at.len() as isize;
        for part in todo[before..].iter().rev() {
            if part == ".." {
                depth -= 1;
                if depth < 0 {
                    return Err(format!(
                        "`{rel}` is a symbolic link to `{shown}`, which is outside the build context"
                    ));
                }
            } else {
                depth += 1;
            }
        }
    }
    let mut p = root.to_path_buf();
    p.extend(&at);
    Ok(Some(p))
}

/// Push `path`'s parts onto `todo` so that the first is popped first.
fn push_components(todo: &mut Vec<String>, path: &Path, rel: &str) -> Result<(), String> {
    let mut parts = vec![];
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => parts.push("..".to_string()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("`{rel}` is not a path inside the build context"))
            }
        }
    }
    todo.extend(parts.into_iter().rev());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("strata-ctx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        d
    }

    #[test]
    fn links_resolve_inside_only() {
        let d = tmp("links");
        std::fs::write(d.join("real.txt"), "a==1\n").unwrap();
        symlink("real.txt", d.join("in.txt")).unwrap();
        symlink("../real.txt", d.join("sub/up.txt")).unwrap();
        symlink("sub", d.join("dirlink")).unwrap();
        symlink("/proc/self/environ", d.join("env.txt")).unwrap();
        symlink("../../etc/passwd", d.join("sub/out.txt")).unwrap();
        symlink("loop.txt", d.join("loop.txt")).unwrap();
        assert_eq!(read(&d, "in.txt", 1024).unwrap().as_deref(), Some("a==1\n"));
        assert_eq!(
            read(&d, "sub/up.txt", 1024).unwrap().as_deref(),
            Some("a==1\n")
        );
        assert_eq!(
            read(&d, "dirlink/up.txt", 1024).unwrap().as_deref(),
            Some("a==1\n")
        );
        assert_eq!(read(&d, "missing.txt", 1024).unwrap(), None);
        assert_eq!(read(&d, "real.txt/x", 1024).unwrap(), None);
        let e = read(&d, "env.txt", 1024).unwrap_err();
        assert_eq!(
            e,
            "`env.txt` is a symbolic link to `/proc/self/environ`, which is outside the build context"
        );
        let e = read(&d, "sub/out.txt", 1024).unwrap_err();
        assert!(e.contains("outside the build context"), "{e}");
        assert!(read(&d, "loop.txt", 1024)
            .unwrap_err()
            .contains("more than 40"));
        assert!(read(&d, "../x", 1024).unwrap_err().contains("leaves"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn only_bounded_regular_files() {
        let d = tmp("kinds");
        symlink("/dev/zero", d.join("zero.txt")).unwrap();
        assert!(read(&d, "zero.txt", 1024).unwrap_err().contains("outside"));
        std::fs::write(d.join("big.txt"), "x".repeat(2 << 20)).unwrap();
        let e = read(&d, "big.txt", 1 << 20).unwrap_err();
        assert_eq!(
            e,
            "`big.txt` is 2097152 bytes, more than the 1 MiB a file may have here"
        );
        assert_eq!(
            read(&d, "sub", 1024).unwrap_err(),
            "`sub` is a directory, not a regular file"
        );
        let fifo = d.join("fifo.txt");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
        if ok.map(|s| s.success()).unwrap_or(false) {
            assert_eq!(
                read(&d, "fifo.txt", 1024).unwrap_err(),
                "`fifo.txt` is a named pipe, not a regular file"
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
