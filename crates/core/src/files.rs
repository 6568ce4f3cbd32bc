//! A build's files as plain data: the key rules (length, shipit's own state directory, the
//! default excludes, decoding a listed key), the MD5 digest and ETag types, and one scanned
//! file.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::headers::Sniff;

/// S3's limit on a key's length in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Where shipit keeps its own state under the prefix; a build may not contain it.
pub const STATE_DIR: &str = ".shipit/";

/// Excluded unless the configuration says otherwise: operating-system litter and VCS data.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "**/.DS_Store",
    "**/Thumbs.db",
    "**/.git/**",
    // Environment files hold secrets more often than not; a site never needs them served.
    "**/.env",
    "**/.env.*",
];

/// Source maps: left out by default (they publish the original source), kept with
/// `--include-source-maps` or `include_source_maps = true`.
pub const SOURCE_MAPS: &str = "**/*.map";

/// An MD5 digest of a file's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Md5(pub [u8; 16]);

impl Md5 {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<Md5> {
        // from_str_radix alone would take a sign ("+f").
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Md5(out))
    }
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for Md5 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

/// An object's ETag (without quotes). Most are the lowercase hex MD5 of the bytes, kept as
/// the 16 bytes; any other (multipart, SSE-KMS, another server's) is kept as it is.
#[derive(Clone, PartialEq, Eq)]
pub enum Etag {
    Md5(Md5),
    Other(Box<str>),
}

impl Etag {
    pub fn new(s: &str) -> Etag {
        match Md5::from_hex(s) {
            // Only the form `hex` gives back: the ETag reads as it was read.
            Some(m) if !s.bytes().any(|b| b.is_ascii_uppercase()) => Etag::Md5(m),
            _ => Etag::Other(s.into()),
        }
    }

    /// Whether this is the ETag `s` (quotes aside).
    pub fn is(&self, s: &str) -> bool {
        let s = s.trim_matches('"');
        match self {
            Etag::Md5(m) => Etag::new(s) == Etag::Md5(*m),
            Etag::Other(o) => **o == *s,
        }
    }
}

impl std::fmt::Display for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Etag::Md5(m) => f.write_str(&m.hex()),
            Etag::Other(o) => f.write_str(o),
        }
    }
}

impl std::fmt::Debug for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl From<&str> for Etag {
    fn from(s: &str) -> Etag {
        Etag::new(s)
    }
}

impl Serialize for Etag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Etag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Etag, D::Error> {
        from_str(d, "an ETag", |s| Some(Etag::new(s)))
    }
}

/// Deserializes a value read from a string, without a copy of the string.
pub fn from_str<'de, D, T>(
    d: D,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Str<F>(&'static str, F);
    impl<'de, T, F: FnOnce(&str) -> Option<T>> serde::de::Visitor<'de> for Str<F> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<T, E> {
            (self.1)(s).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(s), &self.0))
        }
    }
    d.deserialize_str(Str(what, parse))
}

/// One file of the build.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// The key relative to the prefix, e.g. `assets/app.js`.
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5: Md5,
    pub sniff: Sniff,
}

/// Decodes a key from a listing made with EncodingType=url (`+` is a space, `%2B` a plus).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// A name as a human message shows it: control characters (an ESC that would drive the
/// terminal, a newline that would split the message) and the bidirectional overrides that
/// would reorder it are escaped; everything else is as it is.
pub fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    let odd = |c: char| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !name.chars().any(odd) {
        return std::borrow::Cow::Borrowed(name);
    }
    std::borrow::Cow::Owned(
        name.chars()
            .map(|c| {
                if odd(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A file of a build that exists only in memory, for table tests (this crate's, and the
/// engine's through the `testing` feature).
#[cfg(any(test, feature = "testing"))]
pub fn test_file(key: &str, body: &[u8]) -> LocalFile {
    LocalFile {
        key: key.into(),
        path: PathBuf::from(key),
        size: body.len() as u64,
        md5: Md5(md5::compute(body).0),
        sniff: Sniff::Binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_without_control_characters() {
        let table = [
            ("assets/app.js", "assets/app.js"),
            ("caf\u{e9}/\u{1f600}.txt", "caf\u{e9}/\u{1f600}.txt"),
            ("evil\u{1b}[31mred", "evil\\u{1b}[31mred"),
            ("two\nlines", "two\\nlines"),
            ("tab\there", "tab\\there"),
            ("rtl\u{202e}gnp.exe", "rtl\\u{202e}gnp.exe"),
        ];
        for (raw, want) in table {
            assert_eq!(shown(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn listing_keys_decode() {
        let table = [
            ("a+b%2Bc", "a b+c"),
            ("caf%C3%A9/x%23y%3Fz", "caf\u{e9}/x#y?z"),
            ("100%25", "100%"),
            ("plain/key.js", "plain/key.js"),
        ];
        for (raw, want) in table {
            assert_eq!(decode_key(raw), want);
        }
    }
}
