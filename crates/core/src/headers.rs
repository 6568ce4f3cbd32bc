//! Content-Type and Cache-Control for every key: an OS-independent MIME table, the default
//! cache policy (content-hashed names immutable, HTML revalidated, the rest a short TTL) and
//! the glob rules from `shipit.toml` that override both. Pure: no I/O.

use std::collections::HashSet;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Cache-Control for files whose name carries a content hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control for HTML and other entry points: the browser revalidates every time.
pub const REVALIDATE: &str = "public, max-age=0, must-revalidate";
/// Cache-Control for everything else: short enough that a fix reaches visitors soon.
pub const SHORT: &str = "public, max-age=300";

/// The headers that are part of an object's identity: a change to either reaches the object.
/// A build has a handful of distinct values, so they are shared ([`Interner`]): a copy per
/// file would cost more than the rest of its record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Headers {
    pub content_type: Arc<str>,
    pub cache_control: Arc<str>,
}

impl Headers {
    pub fn new(content_type: impl Into<Arc<str>>, cache_control: impl Into<Arc<str>>) -> Headers {
        Headers {
            content_type: content_type.into(),
            cache_control: cache_control.into(),
        }
    }
}

/// One shared copy of each distinct header value seen.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    pub fn value(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Arc<str> = s.into();
        self.0.insert(v.clone());
        v
    }

    pub fn headers(&mut self, h: &Headers) -> Headers {
        Headers {
            content_type: self.value(&h.content_type),
            cache_control: self.value(&h.cache_control),
        }
    }
}

/// What the scanner learnt from a file's first bytes; used only for files without an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sniff {
    Html,
    Text,
    #[default]
    Binary,
}

impl Sniff {
    /// Classifies the first bytes of a file (a few hundred are enough).
    pub fn from_prefix(bytes: &[u8]) -> Sniff {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(bytes.len());
        let head: Vec<u8> = bytes[start..]
            .iter()
            .take(15)
            .map(u8::to_ascii_lowercase)
            .collect();
        if head.starts_with(b"<!doctype html") || head.starts_with(b"<html") {
            return Sniff::Html;
        }
        // A multi-byte character may be cut at the end of the prefix: allow that one.
        match std::str::from_utf8(bytes) {
            Ok(_) if !bytes.contains(&0) => Sniff::Text,
            Err(e) if e.error_len().is_none() && !bytes.contains(&0) => Sniff::Text,
            _ => Sniff::Binary,
        }
    }
}

/// Where shipit deliberately differs from mime-db (`mime_db.tsv`), each with its reason.
pub const OVERRIDES: &[(&str, &str)] = &[
    // mime-db: application/node. Browsers load CommonJS bundles as scripts.
    ("cjs", "text/javascript"),
    // mime-db: image/vnd.microsoft.icon. What browsers and CDNs send for favicons.
    ("ico", "image/x-icon"),
    // mime-db (as mime-types reads it): application/mp4. A <video> source is video/mp4.
    ("mp4", "video/mp4"),
    // mime-db: audio/wave. What browsers name WAV audio.
    ("wav", "audio/wav"),
];

/// npm's mime-db 1.54.0, one `extension<TAB>type` a line (`scripts/gen-mime-table` makes it).
const MIME_DB: &str = include_str!("mime_db.tsv");

/// The media type of an extension (lower-case): an override, else mime-db's.
pub fn media_type(ext: &str) -> Option<&'static str> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    if let Some((_, t)) = OVERRIDES.iter().find(|(e, _)| *e == ext) {
        return Some(t);
    }
    TABLE
        .get_or_init(|| {
            MIME_DB
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('\t'))
                .collect()
        })
        .get(ext)
        .copied()
}

/// Whether a MIME type is text, so that it gets `charset=utf-8`.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/javascript"
                | "image/svg+xml"
                | "model/gltf+json"
        )
}

/// The file name's extension, lower-cased, if it has one (a leading dot is not one).
fn extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let dot = name.rfind('.')?;
    (dot > 0 && dot + 1 < name.len()).then(|| name[dot + 1..].to_ascii_lowercase())
}

/// The Content-Type shipit gives a key by default.
pub fn content_type(key: &str, sniff: Sniff) -> String {
    let mime: String = match extension(key) {
        Some(ext) => media_type(&ext)
            .unwrap_or("application/octet-stream")
            .to_string(),
        // Apple's association file has no extension but must be JSON.
        None if key.ends_with(".well-known/apple-app-site-association") => {
            "application/json".to_string()
        }
        None => match sniff {
            Sniff::Html => "text/html".to_string(),
            Sniff::Text => "text/plain".to_string(),
            Sniff::Binary => "application/octet-stream".to_string(),
        },
    };
    if is_text(&mime) {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    }
}

/// Whether a key's Content-Type is HTML (these are uploaded last and revalidated).
pub fn is_html(content_type: &str) -> bool {
    content_type.starts_with("text/html")
}

fn is_hex_hash(token: &str) -> bool {
    token.len() >= 8
        && token.len() <= 64
        && (token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            || token
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')))
        && token.bytes().any(|b| b.is_ascii_digit())
        && token.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Rollup/Vite (base64url) and esbuild (base32) hashes: 8 characters, mixed classes.
fn is_short_hash(token: &str, in_asset_dir: bool) -> bool {
    if token.len() != 8
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return false;
    }
    let digit = token.bytes().any(|b| b.is_ascii_digit());
    let upper = token.bytes().any(|b| b.is_ascii_uppercase());
    let lower = token.bytes().any(|b| b.is_ascii_lowercase());
    // With a digit and a capital it is not a word ("logo2024" is not a hash, "BxP2cR4k" is).
    // In a directory where bundlers write hashed output, mixed case is enough ("DiwrgTda").
    (digit && upper) || (in_asset_dir && upper && lower)
}

/// Directories bundlers write content-hashed output into.
const ASSET_DIRS: &[&str] = &[
    "assets/",
    "_astro/",
    "_app/immutable/",
    "_next/static/",
    "static/js/",
    "static/css/",
    "static/media/",
];

/// Whether a key's file name carries a content hash (`main.3f2a9c1b.js`, `index-BxP2cR4k.js`,
/// `app.5d41402abc4b2a76b9719d911017c592.css`). Conservative: a false "yes" would make a file
/// immutable in browsers for a year, so only unmistakable hash tokens count.
pub fn has_content_hash(key: &str) -> bool {
    let (dir, name) = match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    let stem = match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => return false,
    };
    let in_asset_dir = ASSET_DIRS
        .iter()
        .any(|d| dir.starts_with(d) || dir.contains(&format!("/{d}")));
    let tokens: Vec<&str> = stem.split(['.', '-', '~']).collect();
    // The first token is the file's own name, except for a long hex name (`<sha>.js`).
    tokens.iter().enumerate().any(|(i, t)| {
        (i > 0 && (is_hex_hash(t) || is_short_hash(t, in_asset_dir)))
            || (t.len() >= 16 && is_hex_hash(t))
    })
}

/// Names of files that must be revalidated although they are not HTML.
fn is_entry_point(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    matches!(
        name,
        "sw.js"
            | "service-worker.js"
            | "serviceworker.js"
            | "manifest.json"
            | "asset-manifest.json"
    ) || name.ends_with(".webmanifest")
}

/// The Cache-Control shipit gives a key by default.
pub fn cache_control(key: &str, content_type: &str) -> &'static str {
    if is_html(content_type) || is_entry_point(key) {
        REVALIDATE
    } else if has_content_hash(key) {
        IMMUTABLE
    } else {
        SHORT
    }
}

/// Compiles a glob over keys: `*` stays within a path segment, `**` crosses segments.
pub fn compile_glob(glob: &str, what: &str) -> Result<GlobMatcher> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            Error::config_hint(
                format!("invalid glob {glob:?} in {what}: {e}"),
                "globs use `*` within a path segment and `**` across segments, e.g. \"assets/**\"",
            )
        })
}

/// Why a header value from a rule cannot be sent, if it cannot: empty, not printable US-ASCII
/// (a CR or LF would split the request, and S3 takes only ASCII), or a Content-Type that is not
/// `type/subtype`.
pub fn invalid_value(header: &str, value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        return Some("is empty (leave the field out to keep the default)");
    }
    if value
        .chars()
        .any(|c| !(c == ' ' || c == '\t' || c.is_ascii_graphic()))
    {
        return Some("contains a control or non-ASCII character");
    }
    if value != value.trim() {
        return Some("starts or ends with white space");
    }
    if header == "content_type" {
        let essence = value.split(';').next().unwrap_or("").trim();
        let ok = essence.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !s.contains('/') && !essence.contains(' ')
        });
        if !ok {
            return Some("is not a media type (type/subtype, e.g. text/html; charset=utf-8)");
        }
    }
    None
}

fn check_value(glob: &str, header: &str, value: Option<&str>) -> Result<()> {
    match value.and_then(|v| invalid_value(header, v).map(|why| (v, why))) {
        None => Ok(()),
        Some((v, why)) => Err(Error::config_hint(
            format!("the [[headers]] rule for {glob:?}: {header} {v:?} {why}"),
            "fix the value in shipit.toml; nothing was sent",
        )),
    }
}

/// One `[[headers]]` rule from shipit.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// A glob over the key relative to the prefix, e.g. `assets/**` or `**/*.html`.
    pub glob: String,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
}

/// The compiled rules: for each header, the first matching rule that sets it wins, then the
/// defaults apply.
#[derive(Debug, Clone, Default)]
pub struct HeaderRules {
    rules: Vec<(GlobMatcher, HeaderRule)>,
}

impl HeaderRules {
    /// Compiles the rules, refusing (before any request) a value S3 or a browser would not take.
    pub fn new(rules: &[HeaderRule]) -> Result<Self> {
        let rules = rules
            .iter()
            .map(|r| {
                check_value(&r.glob, "cache_control", r.cache_control.as_deref())?;
                check_value(&r.glob, "content_type", r.content_type.as_deref())?;
                Ok((compile_glob(&r.glob, "a [[headers]] rule")?, r.clone()))
            })
            .collect::<Result<_>>()?;
        Ok(HeaderRules { rules })
    }

    /// The headers for `key` (relative to the prefix).
    pub fn headers_for(&self, key: &str, sniff: Sniff) -> Headers {
        let matching = || self.rules.iter().filter(|(g, _)| g.is_match(key));
        let content_type = matching()
            .find_map(|(_, r)| r.content_type.clone())
            .unwrap_or_else(|| content_type(key, sniff));
        let cache_control = matching()
            .find_map(|(_, r)| r.cache_control.clone())
            .unwrap_or_else(|| cache_control(key, &content_type).to_string());
        Headers::new(content_type, cache_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_of_a_realistic_site() {
        let table = [
            ("index.html", "text/html; charset=utf-8"),
            ("about/index.htm", "text/html; charset=utf-8"),
            ("assets/app.css", "text/css; charset=utf-8"),
            ("assets/app.js", "text/javascript; charset=utf-8"),
            ("assets/worker.mjs", "text/javascript; charset=utf-8"),
            ("assets/app.js.map", "application/json; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            (
                "site.webmanifest",
                "application/manifest+json; charset=utf-8",
            ),
            ("pkg/app_bg.wasm", "application/wasm"),
            ("fonts/inter.woff2", "font/woff2"),
            ("fonts/inter.woff", "font/woff"),
            ("fonts/inter.ttf", "font/ttf"),
            ("img/photo.avif", "image/avif"),
            ("img/photo.webp", "image/webp"),
            ("img/photo.JPG", "image/jpeg"),
            ("img/logo.svg", "image/svg+xml; charset=utf-8"),
            ("favicon.ico", "image/x-icon"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("sitemap.xml", "application/xml; charset=utf-8"),
            ("feed.rss", "application/rss+xml; charset=utf-8"),
            ("docs/manual.pdf", "application/pdf"),
            ("video/intro.mp4", "video/mp4"),
            ("downloads/data.tar", "application/x-tar"),
            ("blob.unknownext", "application/octet-stream"),
            (
                ".well-known/apple-app-site-association",
                "application/json; charset=utf-8",
            ),
            (
                ".well-known/assetlinks.json",
                "application/json; charset=utf-8",
            ),
            (".htaccess", "application/octet-stream"),
        ];
        for (key, want) in table {
            assert_eq!(content_type(key, Sniff::Binary), want, "{key}");
        }
    }

    #[test]
    fn every_mime_db_extension_gets_mime_dbs_type_unless_overridden() {
        let db: Vec<(&str, &str)> = MIME_DB
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_once('\t').unwrap())
            .collect();
        assert!(db.len() > 1200, "{} extensions", db.len());
        for (ext, want) in &db {
            let got = content_type(&format!("dir/file.{}", ext.to_uppercase()), Sniff::Binary);
            let essence = got.split(';').next().unwrap();
            let want = OVERRIDES
                .iter()
                .find(|(e, _)| e == ext)
                .map_or(*want, |(_, o)| *o);
            assert_eq!(essence, want, ".{ext}");
            assert_eq!(got.ends_with("; charset=utf-8"), is_text(want), ".{ext}");
        }
        // Each override is a real, deliberate difference.
        for (ext, over) in OVERRIDES {
            let db_type = db.iter().find(|(e, _)| e == ext).map(|(_, t)| *t);
            assert_ne!(db_type, Some(*over), "{ext} needs no override");
        }
        // What npm-published web trees carry, as Node and Express serve it.
        let table = [
            ("types/index.d.ts", "video/mp2t"),
            ("config.yml", "text/yaml; charset=utf-8"),
            ("fonts/a.pfb", "application/x-font-type1"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("app.js.map", "application/json; charset=utf-8"),
        ];
        for (key, want) in table {
            assert_eq!(content_type(key, Sniff::Binary), want, "{key}");
        }
    }

    #[test]
    fn extensions_are_the_part_after_the_last_dot_of_the_name() {
        let table = [
            ("assets/app.JS", Some("js")),
            ("archive.tar.gz", Some("gz")),
            ("a.b/c", None),
            (".htaccess", None),
            ("dir/.env", None),
            ("file.", None),
            ("x.y", Some("y")),
            ("noext", None),
        ];
        for (key, want) in table {
            assert_eq!(extension(key).as_deref(), want, "{key}");
        }
    }

    #[test]
    fn extensionless_files_are_sniffed() {
        assert_eq!(
            content_type("about", Sniff::Html),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type("CNAME", Sniff::Text),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type("blob", Sniff::Binary),
            "application/octet-stream"
        );
        let table: [(&[u8], Sniff); 10] = [
            (b"<!DOCTYPE html><html>", Sniff::Html),
            (b"\xEF\xBB\xBF\n  <html lang=en>", Sniff::Html),
            (b"www.example.com\n", Sniff::Text),
            ("caf\u{e9}".as_bytes(), Sniff::Text),
            (b"\x89PNG\r\n\x1a\n\0\0", Sniff::Binary),
            (b"\xff\xfe\xfd", Sniff::Binary),
            // Valid UTF-8 with a NUL is binary.
            (b"abc\0def", Sniff::Binary),
            // A character cut by the end of the prefix is still text...
            (b"caf\xC3", Sniff::Text),
            // ...unless there is a NUL before it, or the bad byte is not at the end.
            (b"a\0caf\xC3", Sniff::Binary),
            (b"a\xFFbcd", Sniff::Binary),
        ];
        for (bytes, want) in table {
            assert_eq!(Sniff::from_prefix(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn content_hashes_in_names() {
        let table = [
            ("assets/index-BxP2cR4k.js", true),
            ("assets/index-DiwrgTda.css", true),
            ("static/js/main.3f2a9c1b.js", true),
            ("static/js/787.a1b2c3d4.chunk.js", true),
            ("app.5d41402abc4b2a76b9719d911017c592.css", true),
            ("chunk-5KQZ3ZJF.js", true),
            ("5d41402abc4b2a76b9719d911017c592.js", true),
            ("_app/immutable/entry/start.Bq3Xz9Lm.js", true),
            ("fonts/inter-v12-latin-regular.woff2", false),
            ("logo2024.png", false),
            ("img/logo-2024.png", false),
            ("icons/icon-192x192.png", false),
            ("favicon.ico", false),
            ("index.html", false),
            ("assets/MyButton.js", false),
            ("components/Dashboard-MainView.js", false),
            ("deadbeef.js", false),
            ("report-20240101.pdf", false),
            ("assets/app.js", false),
            // Only 8-character tokens are short hashes; `_` may be in one, `+` may not.
            ("lib-Ab12Cd34Ef.js", false),
            ("assets/x-Ab_2Cd3e.js", true),
            ("assets/x.Ab+2Cd3e.js", false),
            // A long hex name counts whatever directory it is in...
            ("x/3f2a9c1b5d41402a.js", true),
            // ...but a long name that is not hex does not.
            ("fonts/interregularlatin.woff2", false),
        ];
        for (key, want) in table {
            assert_eq!(has_content_hash(key), want, "{key}");
        }
    }

    #[test]
    fn default_cache_policy() {
        let table = [
            ("index.html", REVALIDATE),
            ("blog/post/index.html", REVALIDATE),
            ("sw.js", REVALIDATE),
            ("site.webmanifest", REVALIDATE),
            // A hash in the name never makes an HTML page or a manifest immutable: a year-long
            // cache would pin them in browsers.
            ("page-3f2a9c1b.html", REVALIDATE),
            ("assets/about.3f2a9c1b.html", REVALIDATE),
            ("manifest-3f2a9c1b.webmanifest", REVALIDATE),
            ("assets/index-BxP2cR4k.js", IMMUTABLE),
            ("static/css/main.3f2a9c1b.css", IMMUTABLE),
            ("favicon.ico", SHORT),
            ("assets/app.js", SHORT),
            ("robots.txt", SHORT),
        ];
        for (key, want) in table {
            let ct = content_type(key, Sniff::Binary);
            assert_eq!(cache_control(key, &ct), want, "{key}");
        }
    }

    #[test]
    fn rules_override_per_header_first_match_wins() {
        let rules = HeaderRules::new(&[
            HeaderRule {
                glob: "fonts/**".into(),
                cache_control: Some("public, max-age=604800".into()),
                content_type: None,
            },
            HeaderRule {
                glob: "**/*.woff2".into(),
                cache_control: Some("no-store".into()),
                content_type: Some("application/font-woff2".into()),
            },
            HeaderRule {
                glob: "*.html".into(),
                cache_control: Some("no-cache".into()),
                content_type: None,
            },
        ])
        .unwrap();
        let h = rules.headers_for("fonts/a.woff2", Sniff::Binary);
        assert_eq!(&*h.cache_control, "public, max-age=604800");
        assert_eq!(&*h.content_type, "application/font-woff2");
        let h = rules.headers_for("index.html", Sniff::Binary);
        assert_eq!(&*h.cache_control, "no-cache");
        assert_eq!(&*h.content_type, "text/html; charset=utf-8");
        // `*` does not cross `/`: nested HTML keeps the default.
        let h = rules.headers_for("a/index.html", Sniff::Binary);
        assert_eq!(&*h.cache_control, REVALIDATE);
    }

    #[test]
    fn header_values_are_checked_when_the_rules_load() {
        let table = [
            ("cache_control", "public, max-age=60", None),
            ("cache_control", "no-cache\r\nX-Evil: 1", Some("control")),
            ("cache_control", "", Some("empty")),
            ("cache_control", "   ", Some("empty")),
            ("cache_control", " max-age=60", Some("white space")),
            ("cache_control", "max-age=60 caf\u{e9}", Some("non-ASCII")),
            ("content_type", "text/html; charset=utf-8", None),
            ("content_type", "application/vnd.api+json", None),
            ("content_type", "", Some("empty")),
            ("content_type", "html", Some("media type")),
            ("content_type", "text/", Some("media type")),
            ("content_type", "text/html/x", Some("media type")),
            ("content_type", "text /html", Some("media type")),
            ("content_type", "text/html\n", Some("control")),
        ];
        for (header, value, want) in table {
            let got = invalid_value(header, value);
            match want {
                None => assert_eq!(got, None, "{header} {value:?}"),
                Some(w) => assert!(
                    got.is_some_and(|g| g.contains(w)),
                    "{header} {value:?}: {got:?}"
                ),
            }
            let rule = HeaderRule {
                glob: "**".into(),
                cache_control: (header == "cache_control").then(|| value.to_string()),
                content_type: (header == "content_type").then(|| value.to_string()),
            };
            let loaded = HeaderRules::new(&[rule]);
            assert_eq!(loaded.is_ok(), want.is_none(), "{header} {value:?}");
            if let Err(e) = loaded {
                assert_eq!(e.exit_code(), crate::error::exit::USAGE);
                assert!(e.to_string().contains(header), "{e}");
            }
        }
    }

    #[test]
    fn invalid_glob_is_a_config_error() {
        let err = HeaderRules::new(&[HeaderRule {
            glob: "a/[".into(),
            cache_control: None,
            content_type: None,
        }])
        .unwrap_err();
        assert!(err.to_string().contains("a/["), "{err}");
    }
}
