//! The API's service on the local cloud, which runs no containers: `[api] local_command`
//! published as a stand-in image of its own, so the stack runs it as it runs an image a CI
//! pushed: by digest, with a new revision only when the command or a file changed.
//!
//! The directory's files are copied, links as links, into a directory of their own (the
//! image's "file system"), then hashed there: the digest is of what the tasks will run, however
//! the source changes meanwhile, and a rollback to an earlier image runs its files, not
//! today's. Package, build and checkout directories (`SKIPPED`: `.git`, `node_modules`,
//! `__pycache__`, `.venv`, `venv`, `target`) are linked, not copied, and left out of the
//! digest, as a package cache is. The copies are kept in the user's cache
//! (`~/.cache/shipit/local-images`, one directory per digest; shipit prunes none). The image is an ECR manifest whose annotations say what a task runs and where,
//! and whose one layer is that digest. An image given (`--image`, `[api] image`, by hand)
//! wins; on AWS (no registry here) the command is not used.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ports::{Registry, Reporter};
use shipit_core::container::{self, LocalService, IMAGE_PARAMETER};
use shipit_core::error::{Error, Result};
use shipit_core::settings::StackSettings;

/// Entries that are a checkout's, a package manager's or a build's, not the service's own
/// files: linked, not copied, and not hashed.
const SKIPPED: [&str; 6] = [
    ".git",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    "target",
];

/// At most this many files, and bytes, in a service's directory.
const MAX_FILES: usize = 20_000;
const MAX_BYTES: u64 = 1 << 30;

fn unreadable(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::input(
        format!("cannot read the service's files: {e}"),
        path,
        Some("fix [api] local_directory, or the permissions"),
    )
}

/// Copies `from` into `to` (which exists): files with their permissions, links as links (a
/// relative one that leaves `from` made absolute, to where it pointed), the `SKIPPED` entries
/// as links to where they are. A listing of the links, in name order, to hash.
fn copy_tree(from: &Path, to: &Path) -> Result<String> {
    let mut listing = String::new();
    let (mut files, mut bytes) = (0usize, 0u64);
    let mut walk = walkdir::WalkDir::new(from).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| unreadable(e.path().unwrap_or(from), &e))?;
        if entry.depth() == 0 {
            continue;
        }
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = to.join(rel);
        let name = entry.file_name().to_string_lossy();
        let kind = entry.file_type();
        if SKIPPED.contains(&name.as_ref()) {
            if kind.is_dir() {
                walk.skip_current_dir();
            }
            std::os::unix::fs::symlink(entry.path(), &target)
                .map_err(|e| unreadable(&target, e))?;
        } else if kind.is_symlink() {
            let mut points =
                std::fs::read_link(entry.path()).map_err(|e| unreadable(entry.path(), e))?;
            if points.is_relative() {
                let resolved = entry.path().parent().unwrap_or(from).join(&points);
                if let Ok(real) = std::fs::canonicalize(&resolved) {
                    if !real.starts_with(from) {
                        points = real;
                    }
                }
            }
            std::os::unix::fs::symlink(&points, &target).map_err(|e| unreadable(&target, e))?;
            listing.push_str(&format!("L {} -> {}\n", rel.display(), points.display()));
        } else if kind.is_dir() {
            std::fs::create_dir(&target).map_err(|e| unreadable(&target, e))?;
        } else if kind.is_file() {
            files += 1;
            bytes += entry
                .metadata()
                .map_err(|e| unreadable(entry.path(), &e))?
                .len();
            if files > MAX_FILES || bytes > MAX_BYTES {
                return Err(Error::input(
                    format!("the service's directory has more than {MAX_FILES} files or {MAX_BYTES} bytes (past {})", rel.display()),
                    from,
                    Some("point [api] local_directory at the service itself, not a whole repository"),
                ));
            }
            std::fs::copy(entry.path(), &target).map_err(|e| unreadable(entry.path(), e))?;
        }
    }
    Ok(listing)
}

/// A SHA-256 of the command, the source directory's path (what the links name) and the copy
/// in `copy` with `listing` (names, sizes, executable bits and contents, in name order).
fn digest_of(command: &str, source: &Path, copy: &Path, listing: &str) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut text = format!("{command}\n{}\n{listing}", source.display());
    for entry in walkdir::WalkDir::new(copy).sort_by_file_name() {
        let entry = entry.map_err(|e| unreadable(copy, &e))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(|e| unreadable(entry.path(), &e))?;
        let mut file =
            std::fs::File::open(entry.path()).map_err(|e| unreadable(entry.path(), e))?;
        let mut md5 = md5::Context::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| unreadable(entry.path(), e))?;
            if n == 0 {
                break;
            }
            md5.consume(&buf[..n]);
        }
        let rel = entry.path().strip_prefix(copy).unwrap_or(entry.path());
        text.push_str(&format!(
            "F {}\t{}\t{:o}\t{:x}\n",
            rel.display(),
            meta.len(),
            meta.permissions().mode() & 0o111,
            md5.compute()
        ));
    }
    Ok(shipit_core::package::sha256_hex(text.as_bytes()))
}

/// Where the images' directories are kept: the user's cache (`$XDG_CACHE_HOME`, else
/// `~/.cache`), `shipit/local-images`, readable by its owner alone.
fn images_dir() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| {
            Error::config_hint(
                "no cache directory for the local images (neither XDG_CACHE_HOME nor HOME is set)",
                "set XDG_CACHE_HOME",
            )
        })?;
    let dir = cache.join("shipit").join("local-images");
    std::fs::create_dir_all(&dir).map_err(|e| unreadable(&dir, e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| unreadable(&dir, e))?;
    Ok(dir)
}

/// The file in an image's directory that says its digest: a directory without it (or with
/// another) is not that image, and is made again.
const DIGEST_FILE: &str = ".shipit-image-digest";

/// The service's directory as an image: its files copied into a directory named by their
/// digest (made once; the same files are the same directory), and that digest.
pub fn snapshot(command: &str, directory: &Path) -> Result<(String, PathBuf)> {
    let base = images_dir()?;
    if base.starts_with(directory) {
        return Err(Error::input(
            format!(
                "the service's directory holds the local images' own ({})",
                base.display()
            ),
            directory,
            Some("point [api] local_directory at the service itself"),
        ));
    }
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&base)
        .map_err(|e| unreadable(&base, e))?;
    let listing = copy_tree(directory, staging.path())?;
    let digest = digest_of(command, directory, staging.path(), &listing)?;
    let kept = base.join(&digest[..24]);
    let intact = std::fs::read_to_string(kept.join(DIGEST_FILE)).is_ok_and(|d| d == digest);
    if !intact {
        std::fs::write(staging.path().join(DIGEST_FILE), &digest)
            .map_err(|e| unreadable(staging.path(), e))?;
        let _ = std::fs::remove_dir_all(&kept);
        let staged = staging.keep();
        if std::fs::rename(&staged, &kept).is_err() {
            // Another run kept the same files first: theirs are these.
            let _ = std::fs::remove_dir_all(&staged);
        }
    }
    Ok((digest, kept))
}

/// On the local cloud (`registry`), with `[api] local_command` and no image given: publishes
/// the stand-in image and sets it as the stack's `ContainerImage`. Without a registry (not
/// shipit's local cloud), says the command is not used.
pub async fn use_local(
    registry: Option<&dyn Registry>,
    stack: &mut StackSettings,
    local: Option<&LocalService>,
    reporter: &dyn Reporter,
) -> Result<()> {
    let Some(local) = local else {
        return Ok(());
    };
    let Some(registry) = registry else {
        reporter.info("api: [api] local_command is for shipit's local cloud; this deploy runs the image the stack names (--image, [api] image)");
        return Ok(());
    };
    if stack.parameters.contains_key(IMAGE_PARAMETER) {
        reporter.info("api: an image is given; [api] local_command is not used");
        return Ok(());
    }
    let directory = std::fs::canonicalize(&local.directory).map_err(|e| {
        Error::input(
            format!("cannot use the service's directory: {e}"),
            &local.directory,
            Some("set [api] local_directory to the directory local_command runs in"),
        )
    })?;
    if !directory.is_dir() {
        return Err(Error::input(
            "the service's directory is not a directory",
            &directory,
            Some("set [api] local_directory to the directory local_command runs in"),
        ));
    }
    let (content, files) = snapshot(&local.command, &directory)?;
    let manifest = container::local_manifest(&local.command, &files.to_string_lossy(), &content);
    let tag = format!("local-{}", &content[..12]);
    let image = registry
        .put_image(&container::local_repository(&stack.name), &manifest, &tag)
        .await?;
    reporter.info(&format!(
        "api: {:?} with the files of {} published to the local cloud as {image}",
        local.command,
        directory.display()
    ));
    stack.parameters.insert(IMAGE_PARAMETER.to_string(), image);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_the_command_and_the_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("server.py"), "print(1)").unwrap();
        let digest = |command: &str| snapshot(command, d).unwrap().0;
        let first = digest("python3 server.py");
        assert_eq!(first, digest("python3 server.py"));
        // What a checkout or a package manager keeps is not the service's content.
        for skipped in [".git/HEAD", "node_modules/x/index.js", "__pycache__/a.pyc"] {
            let path = d.join(skipped);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        assert_eq!(first, digest("python3 server.py"));
        // Another command, a changed file, a new file (hidden ones too), a link, an
        // executable bit: another image.
        let mut seen = vec![first];
        seen.push(digest("python3 -u server.py"));
        std::fs::write(d.join("server.py"), "print(2)").unwrap();
        seen.push(digest("python3 server.py"));
        std::fs::write(d.join(".env.defaults"), "A=1").unwrap();
        seen.push(digest("python3 server.py"));
        std::os::unix::fs::symlink("server.py", d.join("main.py")).unwrap();
        seen.push(digest("python3 server.py"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("server.py"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        seen.push(digest("python3 server.py"));
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{seen:?}");
    }

    #[test]
    fn the_image_keeps_its_files_whatever_the_source_does_next() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("server.py"), "print('v1')").unwrap();
        std::fs::create_dir_all(d.join("node_modules/pkg")).unwrap();
        let (first, files) = snapshot("python3 server.py", d).unwrap();
        std::fs::write(d.join("server.py"), "print('v2')").unwrap();
        let (second, _) = snapshot("python3 server.py", d).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(files.join("server.py")).unwrap(),
            "print('v1')"
        );
        // Dependencies are linked to where they are.
        assert_eq!(
            std::fs::read_link(files.join("node_modules")).unwrap(),
            d.join("node_modules")
        );
    }
}
