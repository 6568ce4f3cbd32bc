//! Building the API's package from disk: the source directory's files (as `core::package`
//! selects them), with its `requirements.txt` vendored for Lambda's platform by pip (wheels only,
//! for the runtime's Python and the function's architecture, as `sam build` does), cached by what
//! decides the result so an unchanged API costs no pip run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ports::Reporter;
use shipit_core::error::{Error, Result};
use shipit_core::package::{self, Entry, Package};
use shipit_core::settings::ApiSettings;

/// How long pip may take to vendor the requirements (it has its own per-request timeout).
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
/// Bump when the pip command changes what it installs, so older caches are not reused.
const VENDOR_FORMAT: &str = "1";

/// Builds the package of `api` (vendoring its requirements when it has any).
pub async fn build(api: &ApiSettings, reporter: &dyn Reporter) -> Result<Package> {
    let source = &api.source;
    if !source.is_dir() {
        return Err(Error::input(
            "the API's source is not a directory",
            source,
            Some("[api] source (or --api-source) names the directory of the function's code"),
        ));
    }
    let mut entries = Vec::new();
    let requirements = source.join("requirements.txt");
    if requirements.is_file() {
        let vendored = vendor(api, &requirements, reporter).await?;
        entries.extend(read_tree(&vendored, package::is_vendored)?);
    }
    let own = read_tree(source, package::is_packaged)?;
    let wanted = package::handler_files(&api.handler).map_err(Error::config)?;
    if !own.iter().any(|e| wanted.contains(&e.name)) {
        return Err(Error::input(
            format!(
                "the handler {} has no file in the API's source (looked for {})",
                api.handler,
                wanted.join(" and ")
            ),
            source,
            Some("set [api] handler to MODULE.FUNCTION of a file in the source directory"),
        ));
    }
    entries.extend(own);
    package::build(entries).map_err(|m| {
        Error::input(
            m,
            source,
            Some("leave large files out of the API's directory, or trim its requirements"),
        )
    })
}

/// Every file under `root` that `keep` selects (by its name relative to `root`, '/'-separated;
/// a directory it leaves out is not entered). A symbolic link is packaged as the file it names
/// when that file is inside the source; a link out of it, to a directory, or to nothing is
/// refused. Stops as soon as the files pass Lambda's unzipped limit.
fn read_tree(root: &Path, keep: fn(&str) -> bool) -> Result<Vec<Entry>> {
    let relative = |path: &Path| -> Option<String> {
        let rel = path.strip_prefix(root).ok()?;
        rel.to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
    };
    let inside = std::fs::canonicalize(root)
        .map_err(|e| Error::input(format!("cannot read the API's source: {e}"), root, None))?;
    let mut out = Vec::new();
    let mut total = 0u64;
    let walk = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        // Not-UTF-8 names are kept here so they are refused below by name.
        .filter_entry(|e| e.depth() == 0 || relative(e.path()).map_or(true, |r| keep(&r)));
    for entry in walk {
        let entry = entry.map_err(|e| {
            Error::input(
                format!("cannot read the API's source: {e}"),
                e.path().unwrap_or(root),
                None,
            )
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        let Some(name) = relative(path) else {
            return Err(Error::input(
                "a file name in the API's source is not UTF-8 (a zip entry must be)",
                path,
                Some("rename the file"),
            ));
        };
        let mut file = path.to_path_buf();
        if entry.file_type().is_symlink() {
            let target = std::fs::canonicalize(path).ok().filter(|t| t.is_file());
            file = match target {
                Some(t) if t.starts_with(&inside) => t,
                _ => {
                    return Err(Error::input(
                        "a symbolic link in the API's source names no file inside it (shipit packages a link only to a file in the source)",
                        path,
                        Some("copy what it names into the source directory, or remove the link"),
                    ))
                }
            };
        }
        let meta = std::fs::metadata(&file)
            .map_err(|e| Error::input(format!("cannot read {name}: {e}"), path, None))?;
        total += meta.len();
        if total > package::UNZIPPED_LIMIT {
            return Err(Error::input(
                format!(
                    "the API's files pass Lambda's unzipped limit of {} bytes (250 MB) at {name}",
                    package::UNZIPPED_LIMIT
                ),
                root,
                Some("leave large files out of the API's directory, or trim its requirements"),
            ));
        }
        let data = std::fs::read(&file)
            .map_err(|e| Error::input(format!("cannot read {name}: {e}"), path, None))?;
        out.push(Entry {
            name,
            data,
            executable: is_executable(&meta),
        });
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// Where shipit keeps what it can make again: `SHIPIT_CACHE_DIR`, `$XDG_CACHE_HOME/shipit` or
/// `~/.cache/shipit`.
fn cache_root() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("SHIPIT_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("shipit")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("shipit")))
        .unwrap_or_else(|| std::env::temp_dir().join("shipit-cache"))
}

/// The requirements installed for Lambda into a cached directory named by the requirements'
/// bytes, the runtime and the architecture; pip runs only when that directory is missing.
async fn vendor(
    api: &ApiSettings,
    requirements: &Path,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let (python_version, platform) =
        package::pip_target(&api.runtime, &api.architecture).map_err(Error::config)?;
    let text = std::fs::read(requirements)
        .map_err(|e| Error::input(format!("cannot read it: {e}"), requirements, None))?;
    let mut key_input = text.clone();
    key_input.extend_from_slice(
        format!("\n{}\n{}\n{VENDOR_FORMAT}", api.runtime, api.architecture).as_bytes(),
    );
    let key = package::sha256_hex(&key_input);
    let root = cache_root().join("vendor");
    let done = root.join(&key[..32]);
    if done.is_dir() {
        reporter.detail(&format!(
            "requirements: vendored earlier ({})",
            done.display()
        ));
        return Ok(done);
    }
    std::fs::create_dir_all(&root).map_err(|e| {
        Error::input(
            format!("cannot make shipit's cache: {e}"),
            &root,
            Some("set SHIPIT_CACHE_DIR to a writable directory"),
        )
    })?;
    sweep_abandoned(&root);
    let work = root.join(format!("{}.tmp-{}", &key[..32], std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    reporter.stage(&format!(
        "vendoring {} for {} {} with pip",
        requirements.display(),
        api.runtime,
        api.architecture
    ));
    let python = std::env::var("SHIPIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut pip = tokio::process::Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(["--no-warn-conflicts", "--no-compile", "--timeout", "20"])
    .args(["--only-binary=:all:", "--implementation", "cp"])
    .args(["--platform", &platform, "--python-version", &python_version])
    .arg("--target")
    .arg(&work)
    .arg("-r")
    .arg(requirements)
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let ran = tokio::time::timeout(PIP_TIMEOUT, pip.output()).await;
    let failed = |message: String, hint: &str| {
        let _ = std::fs::remove_dir_all(&work);
        Error::input(message, requirements, Some(hint))
    };
    const RETRY: &str = "check the network to the package index and run the deploy again";
    let out = match ran {
        Err(_) => {
            return Err(failed(
                format!("pip did not finish within {} s", PIP_TIMEOUT.as_secs()),
                RETRY,
            ))
        }
        Ok(Err(e)) => {
            return Err(failed(
                format!("cannot run {python} -m pip: {e}"),
                "install Python 3 with pip, or set SHIPIT_PYTHON to one",
            ))
        }
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        return Err(failed(
            format!(
                "pip could not vendor the requirements ({}): {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ),
            "pip installs wheels only, for Lambda's platform: pin versions that publish a wheel (pure Python, or manylinux2014 for the architecture)",
        ));
    }
    // Another run may have finished the same directory first: theirs is as good as ours.
    if std::fs::rename(&work, &done).is_err() && done.is_dir() {
        let _ = std::fs::remove_dir_all(&work);
    }
    if !done.is_dir() {
        return Err(failed(
            format!(
                "cannot keep the vendored requirements in {}",
                done.display()
            ),
            "set SHIPIT_CACHE_DIR to a writable directory",
        ));
    }
    Ok(done)
}

/// Removes what an interrupted pip run left (`*.tmp-PID` over an hour old).
fn sweep_abandoned(root: &Path) {
    let Ok(dir) = std::fs::read_dir(root) else {
        return;
    };
    for e in dir.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old && e.file_name().to_string_lossy().contains(".tmp-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
