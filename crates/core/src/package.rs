//! The API's deployment package, decided on plain data: which source files go in, the runtime's
//! pip target, Lambda's size limits, and a deterministic zip (entries sorted by name, a fixed
//! timestamp, modes 0644 or 0755) whose SHA-256 names it in the artifacts bucket. The same
//! files give the same bytes, so an unchanged API is recognised by its hash alone.

use std::io::Write;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Lambda's limit on a function's unzipped code (its layers included): 250 MB.
pub const UNZIPPED_LIMIT: u64 = 250 * 1024 * 1024;
/// The most entries a zip without ZIP64 records holds.
const MAX_ENTRIES: usize = 0xFFFF;
/// Where packages live in the artifacts bucket: `api/<sha256>.zip`.
pub const KEY_PREFIX: &str = "api/";

/// The stack parameters that say which code the function runs: shipit sets them from `[api]`
/// (a parameters file lists them, with `ApiCodeKey` empty: see `config::stack_settings`).
/// `ApiCodeVersion` pins the package's S3 object version, known once it is uploaded.
pub const CODE_PARAMETERS: [&str; 5] = [
    "ApiCodeKey",
    "ApiHandler",
    "ApiRuntime",
    "ApiArchitecture",
    "ApiCodeVersion",
];

/// One file of the package: its name inside the zip ('/'-separated), bytes, and whether it is
/// executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub data: Vec<u8>,
    pub executable: bool,
}

/// A built package.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    #[serde(skip)]
    pub zip: Vec<u8>,
    /// The zip's SHA-256, raw (Lambda reports it base64) and in hex (the key names it).
    #[serde(skip)]
    pub digest: [u8; 32],
    pub sha256: String,
    pub key: String,
    pub files: usize,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
}

/// Whether a source file belongs in the package: not a dot-file or anything under a dot
/// directory (`.env`, `.git`, `.venv`), not Python's bytecode caches.
pub fn is_packaged(relative: &str) -> bool {
    let mut parts = relative.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.is_empty() || part.starts_with('.') || part == "__pycache__" {
            return false;
        }
        if parts.peek().is_none() && (part.ends_with(".pyc") || part.ends_with(".pyo")) {
            return false;
        }
    }
    true
}

/// Whether a file pip vendored belongs in the package: not what ties the install to the machine
/// that ran pip (console scripts in `bin/` carry its interpreter's path, `RECORD` their hashes,
/// `direct_url.json` a local path), not bytecode caches. Dot-directories stay: some wheels keep
/// their shared libraries in `pkg/.libs/`.
pub fn is_vendored(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    let last = parts.last().copied().unwrap_or("");
    let in_dist_info = parts.len() == 2 && parts[0].ends_with(".dist-info");
    !(parts[0] == "bin"
        || parts.contains(&"__pycache__")
        || last.ends_with(".pyc")
        || (in_dist_info && matches!(last, "RECORD" | "direct_url.json")))
}

/// The runtimes shipit packages: those Lambda still creates functions with (the template's
/// `ApiRuntime` allows the same).
pub const RUNTIMES: &[&str] = &["python3.12", "python3.13", "python3.14"];

/// pip's target for a runtime and architecture: (Python version, platform tag).
pub fn pip_target(runtime: &str, architecture: &str) -> Result<(String, String), String> {
    if !RUNTIMES.contains(&runtime) {
        return Err(format!(
            "runtime {runtime:?} is not one shipit packages; use one of {}",
            RUNTIMES.join(", ")
        ));
    }
    let platform = match architecture {
        "x86_64" => "manylinux2014_x86_64",
        "arm64" => "manylinux2014_aarch64",
        other => {
            return Err(format!(
                "architecture {other:?} is not Lambda's: use x86_64 or arm64"
            ))
        }
    };
    Ok((
        runtime.trim_start_matches("python").to_string(),
        platform.to_string(),
    ))
}

/// The file a Python handler (`module.function`, the module possibly a dotted or '/' path)
/// is read from, as Lambda's Python runtime resolves it.
pub fn handler_files(handler: &str) -> Result<Vec<String>, String> {
    let (module, function) = handler.rsplit_once('.').ok_or_else(|| {
        format!("handler {handler:?} is not MODULE.FUNCTION (for example handler.handler)")
    })?;
    if module.is_empty() || function.is_empty() {
        return Err(format!(
            "handler {handler:?} is not MODULE.FUNCTION (for example handler.handler)"
        ));
    }
    let path = module.replace('.', "/");
    Ok(vec![format!("{path}.py"), format!("{path}/__init__.py")])
}

/// Zips the entries deterministically: sorted by name, later entries of the same name replace
/// earlier ones (the source over what pip vendored). Refuses a package over Lambda's limits.
pub fn build(entries: Vec<Entry>) -> Result<Package, String> {
    build_within(entries, UNZIPPED_LIMIT)
}

fn build_within(mut entries: Vec<Entry>, limit: u64) -> Result<Package, String> {
    // Stable sort, then keep the last of each name.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut unique: Vec<Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        match unique.last_mut() {
            Some(last) if last.name == e.name => *last = e,
            _ => unique.push(e),
        }
    }
    let unzipped: u64 = unique.iter().map(|e| e.data.len() as u64).sum();
    if unzipped > limit {
        return Err(format!(
            "the package is {unzipped} bytes unzipped; Lambda takes at most {limit} bytes ({} MB) of code and dependencies",
            limit / (1024 * 1024)
        ));
    }
    if unique.len() > MAX_ENTRIES {
        return Err(format!(
            "the package has {} files; shipit zips at most {MAX_ENTRIES}",
            unique.len()
        ));
    }
    let zip = zip(&unique);
    let digest: [u8; 32] = Sha256::digest(&zip).into();
    let sha256 = hex(&digest);
    Ok(Package {
        digest,
        key: format!("{KEY_PREFIX}{sha256}.zip"),
        sha256,
        files: unique.len(),
        unzipped_bytes: unzipped,
        zipped_bytes: zip.len() as u64,
        zip,
    })
}

/// SHA-256 of some bytes, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 1980-01-01 00:00 in MS-DOS form: the earliest a zip can say, the same for every build.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// General purpose flag bit 11: names are UTF-8.
const UTF8: u16 = 1 << 11;

fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(&e.data);
        let deflated = deflate(&e.data);
        // Stored when deflate does not help (already compressed files, tiny ones).
        let (method, body): (u16, &[u8]) = if deflated.len() < e.data.len() {
            (8, &deflated)
        } else {
            (0, &e.data)
        };
        let name = e.name.as_bytes();
        let common = |v: &mut Vec<u8>| {
            le16(v, 20); // version needed: 2.0
            le16(v, UTF8);
            le16(v, method);
            le16(v, DOS_TIME);
            le16(v, DOS_DATE);
            le32(v, crc);
            le32(v, body.len() as u32);
            le32(v, e.data.len() as u32);
            le16(v, name.len() as u16);
            le16(v, 0); // extra field
        };
        le32(&mut out, 0x0403_4b50);
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(body);

        le32(&mut central, 0x0201_4b50);
        le16(&mut central, (3 << 8) | 20); // made by: Unix, 2.0
        common(&mut central);
        le16(&mut central, 0); // comment
        le16(&mut central, 0); // disk
        le16(&mut central, 0); // internal attributes
        let mode: u32 = if e.executable { 0o100755 } else { 0o100644 };
        le32(&mut central, mode << 16);
        le32(&mut central, offset);
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    le16(&mut out, 0);
    le16(&mut out, 0);
    le16(&mut out, entries.len() as u16);
    le16(&mut out, entries.len() as u16);
    le32(&mut out, central.len() as u32);
    le32(&mut out, central_offset);
    le16(&mut out, 0);
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(data)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

fn le16(v: &mut Vec<u8>, n: u16) {
    v.extend_from_slice(&n.to_le_bytes());
}

fn le32(v: &mut Vec<u8>, n: u32) {
    v.extend_from_slice(&n.to_le_bytes());
}

#[cfg(test)]
#[path = "package_tests.rs"]
mod tests;
