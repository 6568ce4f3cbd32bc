//! The API's service on the local cloud, which runs no containers: `[api] local_command`
//! published as a stand-in image of its own (an ECR manifest whose annotations say what a task
//! runs and where, and whose one layer is a digest of the command, the directory and its
//! files), so the stack runs it as it runs an image a CI pushed: by digest, with a new revision
//! only when the command or a file changed. An image given (`--image`, `[api] image`, by hand)
//! wins; on AWS (no registry here) the command is not used.

use std::path::Path;

use crate::ports::{Registry, Reporter};
use shipit_core::container::{self, LocalService, IMAGE_PARAMETER};
use shipit_core::error::{Error, Result};
use shipit_core::settings::StackSettings;

/// Directories that say nothing a change detection needs and can be huge.
const SKIPPED: [&str; 3] = ["node_modules", "__pycache__", "target"];

/// A SHA-256 of the command, the directory and every file under it (names, sizes and
/// contents; hidden entries and `SKIPPED` directories left out), in name order.
pub fn content_digest(command: &str, directory: &Path) -> Result<String> {
    let mut listing = format!("{command}\n{}\n", directory.display());
    let walk = walkdir::WalkDir::new(directory)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || {
                let name = e.file_name().to_string_lossy();
                !name.starts_with('.') && !SKIPPED.contains(&name.as_ref())
            }
        });
    for entry in walk {
        let entry = entry.map_err(|e| {
            Error::input(
                format!("cannot read the service's directory: {e}"),
                e.path().unwrap_or(directory),
                Some("fix [api] local_directory, or the permissions"),
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| {
            Error::input(
                format!("cannot read a file of the service: {e}"),
                entry.path(),
                None,
            )
        })?;
        let rel = entry.path().strip_prefix(directory).unwrap_or(entry.path());
        listing.push_str(&format!(
            "{}\t{}\t{:x}\n",
            rel.display(),
            bytes.len(),
            md5::compute(&bytes)
        ));
    }
    Ok(shipit_core::package::sha256_hex(listing.as_bytes()))
}

/// On the local cloud (`registry`), with `[api] local_command` and no image given: publishes
/// the stand-in image and sets it as the stack's `ContainerImage`.
pub async fn use_local(
    registry: Option<&dyn Registry>,
    stack: &mut StackSettings,
    local: Option<&LocalService>,
    reporter: &dyn Reporter,
) -> Result<()> {
    let (Some(registry), Some(local)) = (registry, local) else {
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
    let content = content_digest(&local.command, &directory)?;
    let manifest =
        container::local_manifest(&local.command, &directory.to_string_lossy(), &content);
    let tag = format!("local-{}", &content[..12]);
    let image = registry
        .put_image(&container::local_repository(&stack.name), &manifest, &tag)
        .await?;
    reporter.info(&format!(
        "api: {:?} in {} published to the local cloud as {image}",
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
        let first = content_digest("python3 server.py", d).unwrap();
        assert_eq!(first, content_digest("python3 server.py", d).unwrap());
        // Hidden files and dependency caches are not the service's content.
        for skipped in [".git/HEAD", "node_modules/x/index.js", "__pycache__/a.pyc"] {
            let path = d.join(skipped);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        assert_eq!(first, content_digest("python3 server.py", d).unwrap());
        // Another command, a changed file, a new file: another image.
        let mut seen = vec![first];
        seen.push(content_digest("python3 -u server.py", d).unwrap());
        std::fs::write(d.join("server.py"), "print(2)").unwrap();
        seen.push(content_digest("python3 server.py", d).unwrap());
        std::fs::write(d.join("lib.py"), "").unwrap();
        seen.push(content_digest("python3 server.py", d).unwrap());
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{seen:?}");
    }
}
