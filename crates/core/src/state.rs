//! shipit's record of what it put in the bucket, and how the remote side is resolved with it.
//!
//! A listing gives each object's ETag and size but not its Content-Type or Cache-Control, and
//! a multipart ETag is not an MD5. After each deploy shipit writes a manifest (key -> MD5,
//! ETag, size, headers) under `<prefix>.shipit/manifest.json`. An entry is trusted only while
//! the listed ETag and size still match it; any other object is asked with a HEAD. So a
//! no-op redeploy costs one listing and one GET, and an object changed behind shipit's back
//! is still seen.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::files::Etag;
use crate::files::{LocalFile, Md5};
use crate::headers::{Headers, Interner};
use crate::plan::{md5_of_etag, RemoteObject};

/// Key of the manifest, relative to the prefix.
pub const MANIFEST_KEY: &str = ".shipit/manifest.json";

/// Metadata key holding the content MD5 on every object shipit writes (`x-amz-meta-shipit-md5`).
pub const MD5_METADATA: &str = "shipit-md5";

/// What the manifest knows of one object. Compact, since a manifest holds one per file of
/// the site: the digest as bytes, a plain ETag as the digest it spells, header values shared.
/// It reads and writes the same JSON as ever (hex strings, the headers by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub md5: Md5,
    pub etag: Etag,
    pub size: u64,
    pub content_type: Arc<str>,
    pub cache_control: Arc<str>,
}

impl Entry {
    pub fn headers(&self) -> Headers {
        Headers {
            content_type: self.content_type.clone(),
            cache_control: self.cache_control.clone(),
        }
    }
}

/// Reads a release's files with one shared copy of each header value (100,000 files have a
/// handful of distinct ones). An entry whose digest is not an MD5 makes the record unreadable:
/// a release missing a file would restore a site without it.
pub fn read_files<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, Entry>, D::Error> {
    d.deserialize_map(Files { lenient: false })
}

/// The same for a manifest, where such an entry is left out instead: it vouches for nothing,
/// so its object is asked about (one damaged entry does not cost the whole manifest).
pub fn read_manifest_files<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, Entry>, D::Error> {
    d.deserialize_map(Files { lenient: true })
}

struct Files {
    lenient: bool,
}

impl<'de> serde::de::Visitor<'de> for Files {
    type Value = BTreeMap<String, Entry>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of keys to entries")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            md5: std::borrow::Cow<'a, str>,
            etag: Etag,
            size: u64,
            #[serde(borrow)]
            content_type: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            cache_control: std::borrow::Cow<'a, str>,
        }
        let mut values = Interner::default();
        // Collected, then built at once: a map built in one go has full nodes.
        let mut all = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((key, raw)) = map.next_entry::<String, Raw>()? {
            let Some(md5) = Md5::from_hex(&raw.md5) else {
                if self.lenient {
                    continue;
                }
                return Err(serde::de::Error::custom(format!(
                    "{key:?}: {:?} is not an MD5 in hex",
                    raw.md5
                )));
            };
            all.push((
                key,
                Entry {
                    md5,
                    etag: raw.etag,
                    size: raw.size,
                    content_type: values.value(&raw.content_type),
                    cache_control: values.value(&raw.cache_control),
                },
            ));
        }
        Ok(all.into_iter().collect())
    }
}

/// A version of the API, as a release records it: the function's version, or, for an API in
/// containers, the service's task definition revision and the image it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiVersion {
    /// The function's name; for containers, the ECS service's.
    pub function: String,
    /// The function's version; for containers, the task definition as `family:revision`.
    pub version: String,
    /// The package it was published from (`api/<sha256>.zip`), when shipit shipped it (a
    /// stack change to the function's configuration alone publishes the code already there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// For containers: the image the revision runs, pinned by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// For containers: the versions of the stack's parameters its tasks got as secrets,
    /// `NAME:VERSION,...` (values are never recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
}

impl ApiVersion {
    /// Whether `other` runs the same API: the same image for containers (a put-back image runs
    /// as a new revision), the same record otherwise.
    pub fn runs_as(&self, other: &ApiVersion) -> bool {
        match (&self.image, &other.image) {
            (Some(a), Some(b)) => a == b && self.function == other.function,
            _ => self == other,
        }
    }

    /// How `releases` and the job summary show it: `v7`, or `api:3 (sha256:0123456789ab)`.
    pub fn label(&self) -> String {
        match &self.image {
            None => format!("v{}", self.version),
            Some(image) => {
                let digest = image.rsplit_once('@').map_or(image.as_str(), |(_, d)| d);
                format!("{} ({})", self.version, &digest[..digest.len().min(19)])
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Seconds since the Unix epoch when the deploy that wrote it finished uploading.
    pub deployed_at: u64,
    #[serde(deserialize_with = "read_manifest_files")]
    pub files: BTreeMap<String, Entry>,
    /// Keys changed by deploys whose invalidation and verification have not both succeeded
    /// yet: the CDN may still serve old copies, so the next deploy invalidates them too, even
    /// when it changes nothing itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_invalidation: Vec<String>,
    /// The release these files are (its record is under `.shipit/releases/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The release's record is not written yet: the deploy that made it has not finished
    /// (verification failed, or the run stopped). The next successful deploy of the same
    /// files writes it, under the same id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub release_pending: bool,
    /// The API's version live with these files (part of the release's identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiVersion>,
    /// The manifest object's LastModified (server clock, epoch seconds), set when read.
    #[serde(skip)]
    pub written_at: Option<i64>,
    /// The manifest object's ETag, set when read: a HEAD tells whether it moved since.
    #[serde(skip)]
    pub etag: Option<String>,
}

impl Manifest {
    pub const VERSION: u32 = 1;

    pub fn parse(bytes: &[u8]) -> Option<Manifest> {
        serde_json::from_slice::<Manifest>(bytes)
            .ok()
            .filter(|m| m.version == Self::VERSION)
    }
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    /// LastModified, epoch seconds (server clock).
    pub last_modified: Option<i64>,
}

/// Whether a manifest entry still describes the listed object. With an ETag in the listing
/// (AWS), the ETag and size must match. Some S3-compatible servers list no ETags; then the
/// size must match and the object must be strictly older than the manifest itself (both
/// times are the server's, so client clock skew does not matter): an object written after
/// the manifest is asked about.
pub fn entry_matches(entry: &Entry, listed: &Listed, manifest_written_at: Option<i64>) -> bool {
    if entry.size != listed.size {
        return false;
    }
    match (&listed.etag, listed.last_modified, manifest_written_at) {
        (Some(etag), _, _) => entry.etag.is(etag),
        (None, Some(modified), Some(written)) => modified < written,
        (None, _, _) => false,
    }
}

/// What a HEAD said about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub etag: Option<String>,
    pub size: u64,
    pub headers: Headers,
    /// The `shipit-md5` metadata, when present and well-formed.
    pub md5_metadata: Option<Md5>,
    /// The current version's id, in a versioned bucket.
    pub version: Option<String>,
}

/// Joins the listing with the manifest. Returns the remote objects and the keys whose facts
/// are incomplete and that matter to the plan: they need a HEAD. `local` is in key order.
pub fn resolve(
    listed: Vec<Listed>,
    manifest: Option<&Manifest>,
    local: &[LocalFile],
) -> (Vec<RemoteObject>, Vec<String>) {
    debug_assert!(local.windows(2).all(|w| w[0].key <= w[1].key));
    let mut need_head = Vec::new();
    let objects = listed
        .into_iter()
        .map(|l| {
            let entry = manifest.and_then(|m| {
                m.files
                    .get(&l.key)
                    .filter(|e| entry_matches(e, &l, m.written_at))
            });
            let etag_md5 = l.etag.as_deref().and_then(md5_of_etag);
            let md5 = etag_md5.or_else(|| entry.map(|e| e.md5));
            let headers = entry.map(Entry::headers);
            if let Some(file) = find(local, &l.key) {
                // Bytes known to differ: it is uploaded anyway, no need to ask more.
                let differs = md5.is_some_and(|m| m != file.md5) || l.size != file.size;
                if !differs && (md5.is_none() || headers.is_none()) {
                    need_head.push(l.key.clone());
                }
            }
            RemoteObject {
                key: l.key,
                size: l.size,
                // A trusted entry knows the ETag even when the listing has none (s3s-fs):
                // losing it would drop the key from the next manifest.
                etag: l.etag.or_else(|| entry.map(|e| e.etag.to_string())),
                md5,
                headers,
            }
        })
        .collect();
    (objects, need_head)
}

/// The file at `key` in a key-ordered build (no map of 100,000 keys to find one).
pub fn find<'a>(local: &'a [LocalFile], key: &str) -> Option<&'a LocalFile> {
    local
        .binary_search_by(|f| f.key.as_str().cmp(key))
        .ok()
        .map(|i| &local[i])
}

/// Completes an object with what a HEAD said.
pub fn apply_head(object: &mut RemoteObject, head: Head) {
    let etag_md5 = head.etag.as_deref().and_then(md5_of_etag);
    object.md5 = etag_md5.or(head.md5_metadata).or(object.md5);
    object.size = head.size;
    object.etag = head.etag.or(object.etag.take());
    object.headers = Some(head.headers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::test_file as file;

    fn hex(body: &[u8]) -> String {
        Md5(md5::compute(body).0).hex()
    }

    fn entry(body: &[u8], etag: &str) -> Entry {
        Entry {
            md5: Md5(md5::compute(body).0),
            etag: etag.into(),
            size: body.len() as u64,
            content_type: "text/plain".into(),
            cache_control: "x".into(),
        }
    }

    #[test]
    fn manifest_entries_are_trusted_only_while_etag_and_size_match() {
        let mut m = Manifest {
            version: 1,
            ..Default::default()
        };
        m.files.insert("a".into(), entry(b"a", &hex(b"a")));
        m.files.insert("b".into(), entry(b"b", "stale-etag"));
        m.files.insert("mp".into(), entry(b"mp", "abc-2"));
        m.files.insert("gone".into(), entry(b"gone", &hex(b"gone")));
        let listed = vec![
            Listed {
                key: "a".into(),
                size: 1,
                etag: Some(hex(b"a")),
                last_modified: None,
            },
            Listed {
                key: "b".into(),
                size: 1,
                etag: Some(hex(b"b")),
                last_modified: None,
            },
            Listed {
                key: "mp".into(),
                size: 2,
                etag: Some("abc-2".into()),
                last_modified: None,
            },
            Listed {
                key: "c".into(),
                size: 1,
                etag: Some(hex(b"X")),
                last_modified: None,
            },
            Listed {
                key: "gone".into(),
                size: 4,
                etag: Some(hex(b"gone")),
                last_modified: None,
            },
            Listed {
                key: "nolist".into(),
                size: 1,
                etag: None,
                last_modified: None,
            },
        ];
        // In key order, as the scan gives it.
        let local = [
            file("a", b"a"),
            file("b", b"b"),
            file("c", b"c"),
            file("mp", b"mp"),
            file("nolist", b"n"),
        ];
        let (objects, need_head) = resolve(listed, Some(&m), &local);
        // b: manifest stale -> ask; c: bytes differ -> no need; gone: not local -> no need;
        // nolist: no ETag in the listing -> ask.
        assert_eq!(need_head, ["b", "nolist"]);
        let mp = objects.iter().find(|o| o.key == "mp").unwrap();
        assert_eq!(mp.md5.unwrap().hex(), hex(b"mp"));
        assert!(mp.headers.is_some());
    }

    #[test]
    fn without_manifest_matching_objects_are_asked() {
        let listed = vec![Listed {
            key: "a".into(),
            size: 1,
            etag: Some(hex(b"a")),
            last_modified: None,
        }];
        let (objects, need_head) = resolve(listed, None, &[file("a", b"a")]);
        assert_eq!(need_head, ["a"]);
        let mut o = objects[0].clone();
        apply_head(
            &mut o,
            Head {
                etag: Some(hex(b"a")),
                size: 1,
                headers: Headers {
                    content_type: "t".into(),
                    cache_control: "c".into(),
                },
                md5_metadata: None,
                version: None,
            },
        );
        assert_eq!(&*o.headers.unwrap().content_type, "t");
    }

    #[test]
    fn multipart_hash_comes_from_metadata() {
        let mut o = RemoteObject {
            key: "k".into(),
            size: 9,
            etag: Some("x-2".into()),
            md5: None,
            headers: None,
        };
        let m = Md5(md5::compute(b"k").0);
        apply_head(
            &mut o,
            Head {
                etag: Some("x-2".into()),
                size: 9,
                headers: Headers {
                    content_type: "t".into(),
                    cache_control: "c".into(),
                },
                md5_metadata: Some(m),
                version: None,
            },
        );
        assert_eq!(o.md5, Some(m));
    }

    #[test]
    fn without_etags_in_the_listing_entries_older_than_the_manifest_are_trusted() {
        let e = entry(b"abc", &hex(b"abc"));
        let listed = |size: u64, modified: Option<i64>| Listed {
            key: "k".into(),
            size,
            etag: None,
            last_modified: modified,
        };
        let table = [
            (listed(3, Some(100)), Some(200), true),
            (listed(3, Some(200)), Some(200), false), // same second: cannot tell, ask
            (listed(3, Some(300)), Some(200), false), // written after the manifest
            (listed(4, Some(100)), Some(200), false), // size differs
            (listed(3, None), Some(200), false),
            (listed(3, Some(100)), None, false),
        ];
        for (l, written, want) in table {
            assert_eq!(entry_matches(&e, &l, written), want, "{l:?} vs {written:?}");
        }
        let mut m = Manifest {
            version: 1,
            written_at: Some(200),
            ..Default::default()
        };
        m.files.insert("k".into(), e.clone());
        let (objects, need_head) =
            resolve(vec![listed(3, Some(100))], Some(&m), &[file("k", b"abc")]);
        assert!(need_head.is_empty());
        assert_eq!(
            objects[0].etag.as_deref(),
            Some(e.etag.to_string().as_str()),
            "the entry's ETag is kept"
        );
        let with_etag = Listed {
            etag: Some("other".into()),
            ..listed(3, Some(100))
        };
        assert!(
            !entry_matches(&e, &with_etag, Some(200)),
            "an ETag, when listed, decides"
        );
    }

    #[test]
    fn a_manifest_reads_and_writes_the_same_json_with_header_values_shared() {
        // As every earlier version wrote it: hex strings, headers by name.
        let text = r#"{"version":1,"deployed_at":7,"files":{
            "a.js":{"md5":"0cc175b9c0f1b6a831c399e269772661","etag":"0cc175b9c0f1b6a831c399e269772661","size":1,"content_type":"text/javascript","cache_control":"public, max-age=300"},
            "b.js":{"md5":"92eb5ffee6ae2fec3ad71c777531578f","etag":"d41d8cd98f00b204e9800998ecf8427e-2","size":1,"content_type":"text/javascript","cache_control":"public, max-age=300"},
            "c.js":{"md5":"4a8a08f09d37b73795649038408b5f33","etag":"4A8A08F09D37B73795649038408B5F33","size":1,"content_type":"text/javascript","cache_control":"no-cache"}}}"#;
        let m = Manifest::parse(text.as_bytes()).unwrap();
        let (a, b, c) = (&m.files["a.js"], &m.files["b.js"], &m.files["c.js"]);
        assert_eq!(
            a.etag,
            Etag::Md5(a.md5),
            "a plain ETag is kept as its digest"
        );
        assert!(
            matches!(b.etag, Etag::Other(_)),
            "a multipart ETag as it is"
        );
        assert!(
            matches!(c.etag, Etag::Other(_)),
            "upper case is not what hex() gives back"
        );
        assert!(Arc::ptr_eq(&a.content_type, &c.content_type));
        assert!(Arc::ptr_eq(&a.cache_control, &b.cache_control));
        let again: serde_json::Value = serde_json::to_value(&m).unwrap();
        let want: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(again["files"], want["files"], "written back byte for byte");
        // A damaged entry vouches for nothing: left out, the rest kept.
        let damaged = r#"{"version":1,"deployed_at":7,"pending_invalidation":["x"],"files":{
            "a":{"md5":"+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f+f","etag":"e","size":1,"content_type":"t","cache_control":"c"},
            "b":{"md5":"0cc175b9c0f1b6a831c399e269772661","etag":"e","size":1,"content_type":"t","cache_control":"c"}}}"#;
        let m = Manifest::parse(damaged.as_bytes()).unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(m.pending_invalidation, ["x"]);
        // A release missing a file would restore a site without it: unreadable.
        let record = r#"{"id":"20261129T000000000Z-00000000","created_at":1,"source":"deploy","files":{
            "a":{"md5":"xyz","etag":"e","size":1,"content_type":"t","cache_control":"c"}}}"#;
        let err = serde_json::from_str::<crate::release::Release>(record).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"a\": \"xyz\" is not an MD5 in hex"),
            "{err}"
        );
        let missing = r#"{"version":1,"deployed_at":7,"files":{"a":{"md5":"0cc175b9c0f1b6a831c399e269772661","etag":"e","size":1}}}"#;
        assert_eq!(Manifest::parse(missing.as_bytes()), None);
    }

    #[test]
    fn etags_compare_as_s3_writes_them() {
        let m = Md5(md5::compute(b"a").0);
        let table = [
            (Etag::new(&m.hex()), m.hex(), true),
            (Etag::new(&m.hex()), format!("\"{}\"", m.hex()), true),
            (Etag::new(&m.hex()), m.hex().to_uppercase(), false),
            (Etag::new("abc-2"), "abc-2".to_string(), true),
            (Etag::new("abc-2"), "abc-3".to_string(), false),
            (Etag::new(&m.hex()), "abc-2".to_string(), false),
        ];
        for (etag, s, want) in table {
            assert_eq!(etag.is(&s), want, "{etag} vs {s}");
        }
        assert_eq!(Etag::new("abc-2").to_string(), "abc-2");
        assert_eq!(Etag::new(&m.hex()).to_string(), m.hex());
    }

    #[test]
    fn manifest_parse_rejects_other_versions_and_garbage() {
        let m = Manifest {
            version: 1,
            deployed_at: 5,
            files: BTreeMap::new(),
            pending_invalidation: vec!["index.html".into()],
            release: Some("20261121T000000Z-0123abcd".into()),
            release_pending: false,
            api: Some(ApiVersion {
                function: "fn".into(),
                version: "4".into(),
                package: Some("api/x.zip".into()),
                image: None,
                parameters: None,
            }),
            written_at: None,
            etag: None,
        };
        let bytes = serde_json::to_vec(&m).unwrap();
        assert_eq!(Manifest::parse(&bytes), Some(m));
        assert_eq!(
            Manifest::parse(br#"{"version":99,"deployed_at":0,"files":{}}"#),
            None
        );
        assert_eq!(Manifest::parse(b"<html>"), None);
    }

    #[test]
    fn a_container_release_runs_as_another_when_it_runs_the_same_image() {
        let v = |function: &str, version: &str, image: Option<&str>| ApiVersion {
            function: function.into(),
            version: version.into(),
            package: None,
            image: image.map(str::to_string),
            parameters: None,
        };
        let a = "1.dkr.ecr.us-east-1.amazonaws.com/api@sha256:aaaa";
        let b = "1.dkr.ecr.us-east-1.amazonaws.com/api@sha256:bbbb";
        // (recorded, live, same?)
        let cases = [
            (v("svc", "api:2", Some(a)), v("svc", "api:5", Some(a)), true),
            (
                v("svc", "api:2", Some(a)),
                v("svc", "api:2", Some(b)),
                false,
            ),
            (
                v("svc", "api:2", Some(a)),
                v("other", "api:2", Some(a)),
                false,
            ),
            (v("fn", "3", None), v("fn", "3", None), true),
            (v("fn", "3", None), v("fn", "4", None), false),
            (v("svc", "api:2", Some(a)), v("fn", "api:2", None), false),
        ];
        for (recorded, live, same) in cases {
            assert_eq!(recorded.runs_as(&live), same, "{recorded:?} {live:?}");
        }
        assert_eq!(v("fn", "3", None).label(), "v3");
        assert_eq!(v("svc", "api:2", Some(a)).label(), "api:2 (sha256:aaaa)");
    }
}
