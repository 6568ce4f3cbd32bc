//! The local side: walk a build directory, turn paths into S3 keys and hash every file.
//!
//! Keys use forward slashes and NFC-normalised Unicode, so a build made on macOS (NFD file
//! names) and one made on Linux give the same keys. Files are hashed in parallel and streamed:
//! memory does not grow with file size. Everything that would make a bad deploy is refused here,
//! before any write: a missing or empty directory, no `index.html`, a symlink leaving the tree,
//! a key S3 cannot hold.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::GlobMatcher;
use rayon::prelude::*;
use unicode_normalization::UnicodeNormalization;

use shipit_core::error::{Error, Result};
use shipit_core::files::{LocalFile, Md5, MAX_KEY_BYTES, STATE_DIR};
use shipit_core::headers::{compile_glob, Sniff};
use shipit_core::summary::LeftOut;

/// What the scanner needs to know.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Globs over keys to leave out.
    pub excludes: Vec<String>,
    /// Allow a build without `index.html` at its root.
    pub allow_missing_index: bool,
    /// Length in bytes of the prefix that will stand before every key.
    pub prefix_len: usize,
}

/// A scanned build: its files sorted by key, and what the excludes left out.
#[derive(Debug)]
pub struct Scanned {
    pub files: Vec<LocalFile>,
    pub left_out: LeftOut,
}

/// Scans `root`.
pub fn scan(root: &Path, opts: &ScanOptions) -> Result<Scanned> {
    let root = check_root(root)?;
    let excludes: Vec<(&str, GlobMatcher)> = opts
        .excludes
        .iter()
        .map(|g| Ok((g.as_str(), compile_glob(g, "excludes")?)))
        .collect::<Result<_>>()?;
    let mut left_out = LeftOut::default();
    let found = walk(&root, &excludes, opts.prefix_len, &mut left_out)?;
    if found.is_empty() {
        return Err(Error::input(
            "the build directory has no files to deploy",
            &root,
            Some("run your build first (e.g. `npm run build`) and pass its output directory"),
        ));
    }
    if !opts.allow_missing_index && !found.iter().any(|(key, _)| key == "index.html") {
        return Err(Error::input(
            "the build directory has no index.html at its root",
            &root,
            Some("is this the build output (dist/, build/, out/)? pass --allow-missing-index to deploy it anyway"),
        ));
    }
    let mut files: Vec<LocalFile> = found
        .into_par_iter()
        .map(|(key, path)| {
            let (size, md5, sniff) = hash_file(&path)?;
            Ok(LocalFile {
                key,
                path,
                size,
                md5,
                sniff,
            })
        })
        .collect::<Result<_>>()?;
    // Already in order (the walk's, kept by the parallel collect): one pass, no scratch.
    files.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    Ok(Scanned { files, left_out })
}

fn check_root(root: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(root).map_err(|e| {
        Error::input(
            format!("cannot read the build directory ({e})"),
            root,
            Some("check the path; build the site first if it does not exist yet"),
        )
    })?;
    if !meta.is_dir() {
        return Err(Error::input(
            "the build path is not a directory",
            root,
            Some("pass the directory your build writes to, e.g. ./dist"),
        ));
    }
    root.canonicalize().map_err(|e| {
        Error::input(
            format!("cannot resolve the build directory ({e})"),
            root,
            None,
        )
    })
}

/// Walks the tree; returns (key, path) pairs of regular files, checked and not excluded, and
/// counts what each exclude left out.
fn walk(
    root: &Path,
    excludes: &[(&str, GlobMatcher)],
    prefix_len: usize,
    left_out: &mut LeftOut,
) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            let hint = if e.loop_ancestor().is_some() {
                Some("a symlink loops back to a parent directory; remove it")
            } else {
                Some("check the file's permissions, or that a symlink's target exists")
            };
            Error::input(format!("cannot read ({e})"), path, hint)
        })?;
        let path = entry.path();
        if entry.path_is_symlink() {
            check_symlink(root, path)?;
        }
        if path == root || !entry.file_type().is_file() {
            continue;
        }
        let key = key_for(root, path)?;
        if let Some((pattern, _)) = excludes.iter().find(|(_, g)| g.is_match(&key)) {
            left_out.add(
                pattern,
                &key,
                entry.metadata().map(|m| m.len()).unwrap_or(0),
            );
            continue;
        }
        if key.starts_with(STATE_DIR) {
            return Err(Error::input(
                format!("`{STATE_DIR}` is reserved for shipit's deploy state"),
                path,
                Some("rename that directory in your build"),
            ));
        }
        if key.len() + prefix_len > MAX_KEY_BYTES {
            return Err(Error::input(
                format!(
                    "the key is {} bytes with the prefix; S3 allows at most {MAX_KEY_BYTES}",
                    key.len() + prefix_len
                ),
                path,
                Some("shorten the file's name or directory depth"),
            ));
        }
        out.push((key, path.to_path_buf()));
    }
    // In key order (then by path: the message names the same two each run), two files with
    // one key are neighbours: no map of every key to find them.
    out.sort_unstable();
    if let Some(pair) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        let ((key, other), (_, path)) = (&pair[0], &pair[1]);
        return Err(Error::input(
            format!(
                "two files map to the same key {key:?} once their names are Unicode-normalised (the other is {})",
                other.display()
            ),
            path,
            Some("rename one of them"),
        ));
    }
    Ok(out)
}

/// A symlink may point anywhere inside the build directory, never outside it.
fn check_symlink(root: &Path, path: &Path) -> Result<()> {
    let target = path.canonicalize().map_err(|e| {
        Error::input(
            format!("broken symlink ({e})"),
            path,
            Some("remove it, or make it point at a file inside the build directory"),
        )
    })?;
    if !target.starts_with(root) {
        return Err(Error::input(
            format!(
                "symlink leaves the build directory (it points to {})",
                target.display()
            ),
            path,
            Some("copy the file into the build instead of linking to it"),
        ));
    }
    Ok(())
}

/// The key for a path under root: `/`-separated, NFC-normalised, no control characters.
fn key_for(root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(root).map_err(|_| {
        Error::Internal(format!(
            "{} is not under {}",
            path.display(),
            root.display()
        ))
    })?;
    let mut parts = Vec::new();
    for comp in rel.components() {
        let s = comp.as_os_str().to_str().ok_or_else(|| {
            Error::input(
                "the file name is not valid UTF-8, so it cannot be an S3 key",
                path,
                Some("rename the file"),
            )
        })?;
        parts.push(s.nfc().collect::<String>());
    }
    let key = parts.join("/");
    if key.chars().any(|c| c.is_control()) {
        return Err(Error::input(
            "the file name contains a control character (newline, tab, ...), which browsers and S3 listings mangle",
            path,
            Some("rename the file"),
        ));
    }
    Ok(key)
}

/// Streams a file through MD5; returns its size, digest and what its first bytes look like.
pub fn hash_file(path: &Path) -> Result<(u64, Md5, Sniff)> {
    let read_err = |e: std::io::Error| Error::input(format!("cannot read ({e})"), path, None);
    let mut file = File::open(path).map_err(read_err)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut ctx = md5::Context::new();
    let mut size = 0u64;
    let mut sniff = None;
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        if sniff.is_none() {
            sniff = Some(Sniff::from_prefix(&buf[..n.min(512)]));
        }
        ctx.consume(&buf[..n]);
        size += n as u64;
    }
    Ok((size, Md5(ctx.compute().0), sniff.unwrap_or(Sniff::Text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipit_core::files::DEFAULT_EXCLUDES;
    use std::fs;

    fn opts() -> ScanOptions {
        ScanOptions {
            excludes: DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            allow_missing_index: false,
            prefix_len: 0,
        }
    }

    fn write(root: &Path, rel: &str, body: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }

    #[test]
    fn keys_hashes_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "index.html", b"<!doctype html>hi");
        write(dir.path(), "a b/c+d%e#f?g.txt", b"x");
        write(dir.path(), ".well-known/security.txt", b"contact");
        write(dir.path(), ".DS_Store", b"junk");
        write(dir.path(), "sub/.DS_Store", b"junk");
        let Scanned { files, left_out } = scan(dir.path(), &opts()).unwrap();
        let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                ".well-known/security.txt",
                "a b/c+d%e#f?g.txt",
                "index.html"
            ]
        );
        let index = &files[2];
        assert_eq!(index.md5, Md5(md5::compute(b"<!doctype html>hi").0));
        assert_eq!(index.size, 17);
        assert_eq!(index.sniff, Sniff::Html);
        assert_eq!(
            left_out.patterns,
            [shipit_core::summary::LeftOutBy {
                pattern: "**/.DS_Store".into(),
                files: 2,
                bytes: 8,
                examples: vec![".DS_Store".into(), "sub/.DS_Store".into()],
            }],
            "what was left out is said"
        );
    }

    #[test]
    fn nfd_names_become_nfc_keys() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "index.html", b"x");
        write(dir.path(), "cafe\u{301}.txt", b"x");
        let files = scan(dir.path(), &opts()).unwrap().files;
        assert!(files.iter().any(|f| f.key == "caf\u{e9}.txt"));
    }

    #[test]
    fn nfc_nfd_collision_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "index.html", b"x");
        write(dir.path(), "cafe\u{301}.txt", b"x");
        write(dir.path(), "caf\u{e9}.txt", b"y");
        let err = scan(dir.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("same key"), "{err}");
    }

    #[test]
    fn refusals() {
        let missing = scan(Path::new("/nonexistent/build"), &opts()).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/build"));

        let empty = tempfile::tempdir().unwrap();
        let err = scan(empty.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("no files"), "{err}");

        let no_index = tempfile::tempdir().unwrap();
        write(no_index.path(), "app.js", b"x");
        let err = scan(no_index.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("index.html"), "{err}");
        let allow = ScanOptions {
            allow_missing_index: true,
            ..opts()
        };
        assert_eq!(scan(no_index.path(), &allow).unwrap().files.len(), 1);

        let long = tempfile::tempdir().unwrap();
        write(long.path(), "index.html", b"x");
        let deep = format!("{}/f.txt", vec!["d".repeat(200); 6].join("/"));
        write(long.path(), &deep, b"x");
        let err = scan(long.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("1024"), "{err}");

        let reserved = tempfile::tempdir().unwrap();
        write(reserved.path(), "index.html", b"x");
        write(reserved.path(), ".shipit/manifest.json", b"x");
        let err = scan(reserved.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_are_followed_outside_refused() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", b"secret");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "index.html", b"x");
        std::os::unix::fs::symlink(dir.path().join("index.html"), dir.path().join("alias.html"))
            .unwrap();
        assert_eq!(scan(dir.path(), &opts()).unwrap().files.len(), 2);
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("leak.txt"),
        )
        .unwrap();
        let err = scan(dir.path(), &opts()).unwrap_err();
        assert!(
            err.to_string().contains("leaves the build directory"),
            "{err}"
        );
        assert!(err.to_string().contains("leak.txt"), "{err}");
    }

    #[test]
    fn md5_hex_round_trip() {
        let m = Md5(md5::compute(b"abc").0);
        assert_eq!(m.hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(Md5::from_hex(&m.hex()), Some(m));
        assert_eq!(Md5::from_hex("zz"), None);
        assert_eq!(Md5::from_hex("900150983cd24fb0d6963f7d28e17f72-2"), None);
    }
}
