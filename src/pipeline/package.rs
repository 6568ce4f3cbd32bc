//! Building the API's package from disk: the source directory's files (as `core::package`
//! selects them), with its `requirements.txt` vendored for Lambda's platform by pip (wheels only,
//! for the runtime's Python and the function's architecture, as `sam build` does), cached by what
//! decides the result so an unchanged API costs no pip run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::package::{self, Entry, Package};
use crate::core::settings::ApiSettings;
use crate::error::{Error, Result};
use crate::ports::Reporter;

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
        entries.extend(read_tree(&vendored)?);
    }
    let own = read_tree(source)?;
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

/// Every packaged file under `root`, named relative to it with '/'.
fn read_tree(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            Error::input(
                format!("cannot read the API's source: {e}"),
                e.path().unwrap_or(root),
                None,
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(name) = relative
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            return Err(Error::input(
                "a file name in the API's source is not UTF-8 (a zip entry must be)",
                entry.path(),
                Some("rename the file"),
            ));
        };
        if !package::is_packaged(&name) {
            continue;
        }
        let data = std::fs::read(entry.path())
            .map_err(|e| Error::input(format!("cannot read {name}: {e}"), entry.path(), None))?;
        out.push(Entry {
            name,
            data,
            executable: is_executable(&entry),
        });
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(entry: &walkdir::DirEntry) -> bool {
    use std::os::unix::fs::PermissionsExt;
    entry
        .metadata()
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_: &walkdir::DirEntry) -> bool {
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
    let failed = |message: String| {
        let _ = std::fs::remove_dir_all(&work);
        Error::input(
            message,
            requirements,
            Some("pip installs wheels only, for Lambda's platform: pin versions that publish a wheel (pure Python, or manylinux2014 for the architecture)"),
        )
    };
    let out = match ran {
        Err(_) => {
            return Err(failed(format!(
                "pip did not finish within {} s",
                PIP_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => {
            return Err(failed(format!(
                "cannot run {python} -m pip: {e} (set SHIPIT_PYTHON to a Python with pip)"
            )))
        }
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        return Err(failed(format!(
            "pip could not vendor the requirements ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    // Another run may have finished the same directory first: theirs is as good as ours.
    if std::fs::rename(&work, &done).is_err() && done.is_dir() {
        let _ = std::fs::remove_dir_all(&work);
    }
    if !done.is_dir() {
        return Err(failed(format!(
            "cannot keep the vendored requirements in {}",
            done.display()
        )));
    }
    Ok(done)
}
