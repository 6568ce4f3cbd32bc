//! The sync engine end to end: first deploy, no-op redeploys, single changes, header-only
//! changes, prune and its cap, refusals, hostile names, multipart.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::support::{assert_exit, assert_success, key_of, stderr, stdout, World};

/// A realistic built SPA: every extension a modern build emits, and the headers each must get.
const SITE: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        "public, max-age=0, must-revalidate",
    ),
    (
        "about/index.html",
        "text/html; charset=utf-8",
        "public, max-age=0, must-revalidate",
    ),
    (
        "404.html",
        "text/html; charset=utf-8",
        "public, max-age=0, must-revalidate",
    ),
    (
        "assets/index-BxP2cR4k.js",
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
    ),
    (
        "assets/vendor-C9dE2fGh.mjs",
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
    ),
    (
        "assets/index-D4wrgT7a.css",
        "text/css; charset=utf-8",
        "public, max-age=31536000, immutable",
    ),
    (
        "assets/inter-latin-400-Ab12Cd34.woff2",
        "font/woff2",
        "public, max-age=31536000, immutable",
    ),
    (
        "assets/hero-9f8e7d6c.avif",
        "image/avif",
        "public, max-age=31536000, immutable",
    ),
    (
        "assets/app_bg-1a2b3c4d.wasm",
        "application/wasm",
        "public, max-age=31536000, immutable",
    ),
    (
        "img/logo.svg",
        "image/svg+xml; charset=utf-8",
        "public, max-age=300",
    ),
    ("img/photo.webp", "image/webp", "public, max-age=300"),
    ("img/photo.png", "image/png", "public, max-age=300"),
    ("img/photo.jpg", "image/jpeg", "public, max-age=300"),
    ("favicon.ico", "image/x-icon", "public, max-age=300"),
    (
        "site.webmanifest",
        "application/manifest+json; charset=utf-8",
        "public, max-age=0, must-revalidate",
    ),
    (
        "robots.txt",
        "text/plain; charset=utf-8",
        "public, max-age=300",
    ),
    (
        "sitemap.xml",
        "application/xml; charset=utf-8",
        "public, max-age=300",
    ),
    (
        "data/items.json",
        "application/json; charset=utf-8",
        "public, max-age=300",
    ),
    ("fonts/legacy.woff", "font/woff", "public, max-age=300"),
    (
        ".well-known/security.txt",
        "text/plain; charset=utf-8",
        "public, max-age=300",
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        "public, max-age=0, must-revalidate",
    ),
];

fn realistic(w: &World) {
    for (key, _, _) in SITE {
        let body = if key.ends_with(".html") {
            format!("<!doctype html><title>{key}</title><script src=\"/assets/index-BxP2cR4k.js\"></script>")
        } else {
            format!("content of {key}\n")
        };
        w.write(key, body);
    }
    // Built, but never uploaded by default: a source map publishes the source, .env secrets.
    w.write(MAP, "{\"version\":3}");
    w.write(".env", "API_TOKEN=secret\n");
    w.write("assets/.env.production", "API_TOKEN=secret\n");
}

const MAP: &str = "assets/index-BxP2cR4k.js.map";

fn touch_all(w: &World) {
    let later = SystemTime::now() + Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(w.site()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let f = std::fs::File::options()
                .write(true)
                .open(entry.path())
                .unwrap();
            f.set_modified(later).unwrap();
        }
    }
}

#[test]
fn first_deploy_uploads_everything_with_the_right_headers_html_last() {
    let w = World::new("first");
    realistic(&w);
    let out = w.deploy(&["--json"]);
    // What the excludes left out is said, in words and in the JSON, with how to deploy it.
    let said = stderr(&out);
    assert!(
        said.contains("left out by the excludes: 3 files (")
            && said.contains("**/*.map: 1 file, 13 B (assets/index-BxP2cR4k.js.map); deploy them with --include-source-maps"),
        "{said}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let left_out = &json["summary"]["left_out"]["patterns"];
    let by_pattern: BTreeMap<&str, (u64, u64)> = left_out
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pattern"].as_str().unwrap(),
                (p["files"].as_u64().unwrap(), p["bytes"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        by_pattern,
        BTreeMap::from([
            ("**/*.map", (1, 13)),
            ("**/.env", (1, 17)),
            ("**/.env.*", (1, 17))
        ]),
        "{left_out}"
    );

    let objects = w.objects();
    assert_eq!(objects.len(), SITE.len());
    for left_out in [MAP, ".env", "assets/.env.production"] {
        assert!(!objects.contains_key(left_out), "{left_out} was uploaded");
    }
    for (key, content_type, cache_control) in SITE {
        let head = w.head(key);
        assert_eq!(head.content_type, *content_type, "Content-Type of {key}");
        assert_eq!(head.cache_control, *cache_control, "Cache-Control of {key}");
        let body = std::fs::read(w.site().join(key)).unwrap();
        assert_eq!(w.get(key), body, "body of {key}");
        assert_eq!(
            head.metadata.get("shipit-md5").map(String::as_str),
            Some(head.etag.as_str())
        );
    }

    // Order: every non-HTML write before any HTML one, the root index.html last of all.
    let puts: Vec<String> = w
        .writes()
        .iter()
        .map(|r| key_of(r, &w.bucket))
        .filter(|k| !k.starts_with(".shipit/"))
        .collect();
    assert_eq!(puts.len(), SITE.len());
    assert_eq!(puts.last().map(String::as_str), Some("index.html"));
    let first_html = puts.iter().position(|k| k.ends_with(".html")).unwrap();
    assert!(
        puts[first_html..].iter().all(|k| k.ends_with(".html")),
        "an asset was written after HTML: {puts:?}"
    );

    // Asked for, the source map goes up as JSON, immutable like its script; .env never does.
    w.proxy.take();
    w.deploy(&["--include-source-maps"]);
    let map = w.head(MAP);
    assert_eq!(map.content_type, "application/json; charset=utf-8");
    assert_eq!(map.cache_control, "public, max-age=31536000, immutable");
    let objects = w.objects();
    assert_eq!(objects.len(), SITE.len() + 1);
    assert!(!objects.contains_key(".env"));
}

#[test]
fn redeploy_after_touching_every_mtime_writes_nothing() {
    let w = World::new("noop");
    realistic(&w);
    w.deploy(&[]);
    let before = (w.objects(), w.versions());
    w.proxy.take();

    touch_all(&w);
    let out = w.deploy(&["--json"]);
    let writes = w.writes();
    assert!(writes.is_empty(), "a no-op deploy wrote: {writes:?}");
    assert_eq!((w.objects(), w.versions()), before);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["summary"]["uploaded"], 0);
    assert_eq!(summary["summary"]["unchanged"], SITE.len());
}

#[test]
fn one_changed_file_is_one_put() {
    let w = World::new("onechange");
    realistic(&w);
    w.deploy(&[]);
    let before = w.versions();
    w.proxy.take();

    w.write("robots.txt", "User-agent: *\nDisallow: /private\n");
    w.deploy(&[]);
    let writes: Vec<String> = w
        .writes()
        .iter()
        .map(|r| format!("{} {}", r.method, key_of(r, &w.bucket)))
        .collect();
    // The file, then shipit's manifest (its ETag for robots.txt changed, the new release
    // pending), then, the site verified, the release's record and the manifest saying so.
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert_eq!(writes[..2], ["PUT robots.txt", "PUT .shipit/manifest.json"]);
    assert!(writes[2].starts_with("PUT .shipit/releases/"), "{writes:?}");
    assert_eq!(writes[3], "PUT .shipit/manifest.json");
    let after = w.versions();
    for (key, n) in &after {
        let want = before[key] + usize::from(key == "robots.txt");
        assert_eq!(*n, want, "versions of {key}");
    }
    assert_eq!(w.get("robots.txt"), b"User-agent: *\nDisallow: /private\n");
}

#[test]
fn header_rule_change_updates_headers_in_place_without_reupload() {
    let w = World::new("headers");
    realistic(&w);
    w.deploy(&[]);
    let etag_before = w.head("img/logo.svg").etag;
    w.proxy.take();

    let config = w.write_config(
        "[[headers]]\nglob = \"img/**\"\ncache_control = \"public, max-age=86400\"\n",
    );
    let out = w.deploy(&["--config", &config]);
    let writes = w.writes();
    let img_writes: Vec<_> = writes
        .iter()
        .filter(|r| key_of(r, &w.bucket).starts_with("img/"))
        .collect();
    assert_eq!(img_writes.len(), 4, "{writes:?}");
    for r in img_writes {
        assert!(r.header("x-amz-copy-source").is_some(), "not a copy: {r:?}");
        assert_eq!(r.body_len, 0, "a header update sent a body: {r:?}");
    }
    for key in [
        "img/logo.svg",
        "img/photo.webp",
        "img/photo.png",
        "img/photo.jpg",
    ] {
        assert_eq!(w.head(key).cache_control, "public, max-age=86400", "{key}");
    }
    let head = w.head("img/logo.svg");
    assert_eq!(head.content_type, "image/svg+xml; charset=utf-8");
    assert_eq!(head.etag, etag_before);
    assert!(
        stderr(&out).contains("4 headers updated"),
        "{}",
        stderr(&out)
    );

    // And the next run with the same rules is a no-op again.
    w.deploy(&["--config", &config]);
    assert!(w.writes().is_empty());
}

#[test]
fn deleted_file_is_pruned_after_uploads_unless_told_not_to() {
    let w = World::new("prune");
    realistic(&w);
    w.write("old/page.html", "<!doctype html>old");
    w.deploy(&[]);
    assert!(w.objects().contains_key("old/page.html"));

    w.remove("old/page.html");
    w.write("robots.txt", "changed");
    w.deploy(&["--no-prune"]);
    assert!(
        w.objects().contains_key("old/page.html"),
        "--no-prune deleted"
    );
    w.proxy.take();

    w.deploy(&[]);
    let objects = w.objects();
    assert!(!objects.contains_key("old/page.html"));
    assert_eq!(objects.len(), SITE.len());
    let writes = w.writes();
    // One DeleteObjects; the manifest already left the stale key out.
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].target.contains("delete"), "{writes:?}");
}

#[test]
fn refusals_exit_non_zero_and_write_nothing() {
    let w = World::new("refuse");
    realistic(&w);
    w.deploy(&[]);
    let before = w.versions();
    w.proxy.take();

    let bucket = w.bucket.clone();
    let check = |args: &[&str], code: i32, needle: &str| {
        let out = w.cmd(args).output().unwrap();
        assert_exit(&out, code);
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("hint:"), "{args:?}: {}", stderr(&out));
        assert!(w.writes().is_empty(), "{args:?} wrote");
    };

    let missing = w.home.path().join("no-such-dir");
    check(
        &["deploy", missing.to_str().unwrap(), "--bucket", &bucket],
        3,
        "no-such-dir",
    );
    let empty = tempfile::tempdir().unwrap();
    check(
        &[
            "deploy",
            empty.path().to_str().unwrap(),
            "--bucket",
            &bucket,
        ],
        3,
        "no files",
    );
    let no_index = tempfile::tempdir().unwrap();
    std::fs::write(no_index.path().join("app.js"), "x").unwrap();
    check(
        &[
            "deploy",
            no_index.path().to_str().unwrap(),
            "--bucket",
            &bucket,
        ],
        3,
        "index.html",
    );
    let file = w.site().join("robots.txt");
    check(
        &["deploy", file.to_str().unwrap(), "--bucket", &bucket],
        3,
        "not a directory",
    );

    // A prune above the cap: a build that lost most of its files.
    let shrunk = tempfile::tempdir().unwrap();
    std::fs::write(shrunk.path().join("index.html"), "<!doctype html>").unwrap();
    // (No release retention here: these checks are about the caps.)
    let config = w.write_config("[prune]\nmax_deletes = 5\nkeep_releases = 0\ngrace_hours = 0\n");
    let shrunk_path = shrunk.path().to_str().unwrap();
    check(
        &[
            "deploy",
            shrunk_path,
            "--bucket",
            &bucket,
            "--config",
            &config,
        ],
        4,
        "max_deletes",
    );
    // The share cap: 21 of 22 objects (over 10 and over 50%).
    let no_retention = w.write_config("[prune]\nkeep_releases = 0\ngrace_hours = 0\n");
    check(
        &[
            "deploy",
            shrunk_path,
            "--bucket",
            &bucket,
            "--config",
            &no_retention,
        ],
        4,
        "95%",
    );

    assert_eq!(w.versions(), before);

    // Told explicitly, it goes ahead.
    let out = w
        .cmd(&[
            "deploy",
            shrunk_path,
            "--bucket",
            &bucket,
            "--config",
            &no_retention,
            "--allow-large-prune",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(w.objects().keys().collect::<Vec<_>>(), ["index.html"]);
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_tree_is_refused_before_any_write() {
    let w = World::new("symlink");
    w.write("index.html", "<!doctype html>");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), w.site().join("key.txt")).unwrap();
    let out = w.run("deploy", &[]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("key.txt"), "{}", stderr(&out));
    assert!(w.writes().is_empty());
    assert!(w.objects().is_empty());
}

#[test]
fn hostile_names_round_trip() {
    let w = World::new("hostile");
    w.write("index.html", "<!doctype html>");
    let names = [
        "with space.txt",
        "plus+sign.txt",
        "percent%20literal.txt",
        "hash#mark.txt",
        "question?mark.txt",
        "amp&ersand=eq.txt",
        "quote'single.txt",
        "unicode/\u{65e5}\u{672c}\u{8a9e}.txt",
        "emoji-\u{1f680}.txt",
        "a/b/c/d/e/f/g/h/i/j/deep.txt",
        "brackets[1].txt",
        "semi;colon.txt",
    ];
    for (i, n) in names.iter().enumerate() {
        w.write(n, format!("file {i}"));
    }
    // An NFD name (as macOS writes it) becomes an NFC key.
    w.write("cafe\u{301}.txt", "nfd");
    w.deploy(&[]);

    let objects = w.objects();
    for (i, n) in names.iter().enumerate() {
        assert!(
            objects.contains_key(*n),
            "missing {n:?}: {:?}",
            objects.keys()
        );
        assert_eq!(w.get(n), format!("file {i}").as_bytes(), "{n}");
    }
    assert!(
        objects.contains_key("caf\u{e9}.txt"),
        "{:?}",
        objects.keys()
    );
    assert!(!objects.contains_key("cafe\u{301}.txt"));

    w.proxy.take();
    w.deploy(&[]);
    assert!(
        w.writes().is_empty(),
        "hostile names are re-uploaded every time"
    );
    w.remove("hash#mark.txt");
    w.deploy(&[]);
    assert!(!w.objects().contains_key("hash#mark.txt"));
}

#[test]
fn multipart_file_is_hashed_by_metadata_and_redeploys_as_a_noop() {
    let w = World::new("multipart");
    w.write("index.html", "<!doctype html>");
    let big: Vec<u8> = (0..(11 * 1024 * 1024 + 123))
        .map(|i| (i % 251) as u8)
        .collect();
    w.write("video/big.bin", &big);
    let config = w.write_config("[upload]\nmultipart_threshold_mib = 5\npart_size_mib = 5\n");
    w.deploy(&["--config", &config]);

    let head = w.head("video/big.bin");
    assert!(
        head.etag.contains('-'),
        "not a multipart upload: {}",
        head.etag
    );
    let md5 = format!("{:x}", md5::compute(&big));
    assert_eq!(head.metadata.get("shipit-md5"), Some(&md5));
    assert_eq!(w.get("video/big.bin"), big);
    w.proxy.take();

    w.deploy(&["--config", &config]);
    assert!(w.writes().is_empty());

    // Without shipit's manifest the hash comes from the object's metadata (a HEAD): still no-op.
    w.delete_object(".shipit/manifest.json");
    w.proxy.take();
    w.deploy(&["--config", &config]);
    let writes: Vec<String> = w.writes().iter().map(|r| key_of(r, &w.bucket)).collect();
    assert_eq!(writes[0], ".shipit/manifest.json", "{writes:?}");
    assert!(
        writes.len() == 3
            && writes[1].starts_with(".shipit/releases/")
            && writes[2] == ".shipit/manifest.json",
        "without a manifest, shipit cannot tell this is the live release: it records one: {writes:?}"
    );
}

#[test]
fn plan_writes_nothing_and_explains_every_action() {
    let w = World::new("plan");
    realistic(&w);
    w.write("gone.txt", "x");
    w.deploy(&[]);
    w.remove("gone.txt");
    w.write("robots.txt", "new");
    w.write("new.txt", "new");
    w.proxy.take();

    let out = w.run("plan", &[]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains("upload  new.txt  (new file)"), "{text}");
    assert!(
        text.contains("upload  robots.txt  (content changed"),
        "{text}"
    );
    assert!(
        text.contains("delete  gone.txt  (not in the build)"),
        "{text}"
    );
    assert!(
        !text.contains("index.html"),
        "unchanged files are listed without -v: {text}"
    );

    let out = w.run("plan", &["--json"]);
    assert_success(&out);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["counts"]["upload"], 2);
    assert_eq!(plan["counts"]["delete"], 1);
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), SITE.len() + 2);
    assert!(actions.iter().all(|a| a["reason"]["kind"].is_string()));
    assert!(w.writes().is_empty(), "plan wrote");
}

#[test]
fn failed_upload_stops_the_deploy_and_nothing_is_deleted() {
    let w = World::new("failput");
    realistic(&w);
    w.write("stale.txt", "x");
    w.deploy(&[]);
    w.remove("stale.txt");
    w.write("robots.txt", "changed");
    w.proxy.take();

    w.proxy.set_hook(Some(std::sync::Arc::new(|r: &crate::support::Request| {
        (r.method == "PUT" && r.target.contains("robots.txt")).then(|| {
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/xml\r\ncontent-length: 71\r\n\r\n<Error><Code>InternalError</Code><Message>injected</Message></Error>\n"[..].to_vec()
        })
    })));
    let out = w.run("deploy", &[]);
    w.proxy.set_hook(None);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("robots.txt"), "{}", stderr(&out));
    let requests = w.proxy.take();
    let puts = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.target.contains("robots.txt"))
        .count();
    assert!(puts >= 2, "the failing PUT was not retried: {puts}");
    assert!(
        !requests.iter().any(|r| r.target.contains("delete")),
        "deleted after an error"
    );
    assert!(w.objects().contains_key("stale.txt"));
}

#[test]
fn per_key_errors_in_a_delete_reply_fail_the_deploy() {
    let w = World::new("delerr");
    realistic(&w);
    w.write("stale.txt", "x");
    w.deploy(&[]);
    w.remove("stale.txt");
    w.proxy.set_hook(Some(std::sync::Arc::new(|r: &crate::support::Request| {
        (r.method == "POST" && r.target.contains("delete")).then(|| {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult><Error><Key>stale.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>";
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}", body.len()).into_bytes()
        })
    })));
    let out = w.run("deploy", &[]);
    w.proxy.set_hook(None);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("stale.txt (AccessDenied"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn prefix_keeps_other_keys_untouched() {
    let w = World::new("prefix");
    realistic(&w);
    w.deploy(&["--prefix", "/v2/"]);
    let objects = w.objects();
    assert!(objects.keys().all(|k| k.starts_with("v2/")), "{objects:?}");
    // A deploy at the root must not prune the prefixed site, and vice versa.
    w.deploy(&["--prefix", "v1"]);
    w.remove("robots.txt");
    w.deploy(&["--prefix", "v1"]);
    let objects = w.objects();
    assert!(objects.contains_key("v2/robots.txt"));
    assert!(!objects.contains_key("v1/robots.txt"));
}

#[test]
fn no_credentials_fails_with_guidance() {
    let w = World::new("nocreds");
    w.write("index.html", "<!doctype html>");
    let out = w
        .cmd(&["deploy", w.site().to_str().unwrap(), "--bucket", &w.bucket])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
    assert!(stderr(&out).contains("aws configure"), "{}", stderr(&out));
    assert!(w.writes().is_empty());

    let out = w
        .cmd(&[
            "deploy",
            w.site().to_str().unwrap(),
            "--bucket",
            &w.bucket,
            "--profile",
            "nope",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("\"nope\""), "{}", stderr(&out));
}

/// The listing requests a run made: (prefix, delimiter, start-after) of each ListObjectsV2.
fn listings(w: &World) -> Vec<(String, bool, bool)> {
    w.proxy
        .take()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains("list-type=2"))
        .map(|r| {
            let query = r.target.split_once('?').map_or("", |(_, q)| q).to_string();
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
            };
            (
                param("prefix").unwrap_or_default(),
                param("delimiter").is_some(),
                param("start-after").is_some(),
            )
        })
        .collect()
}

/// A redeploy of the same build: its summary (nothing uploaded) and its listings, sorted.
fn noop_listings(w: &World, extra: &[&str]) -> (serde_json::Value, Vec<(String, bool, bool)>) {
    w.proxy.take();
    let out = w.deploy(&[extra, &["--json"]].concat());
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["summary"]["uploaded"], 0, "{summary:#}");
    let mut seen = listings(w);
    seen.sort();
    (summary, seen)
}

#[test]
fn a_bucket_over_one_page_is_listed_by_prefix_in_parallel_and_nothing_twice() {
    let w = World::new("fanout");
    // Sorted, the first page (1,000 keys) is all of a/ but its last key; b/ and c/d/ follow,
    // then the top-level pages.
    w.write("index.html", "<!doctype html>");
    for i in 0..1001 {
        w.write(&format!("a/{i:04}.txt"), format!("a{i}"));
    }
    for i in 0..700 {
        w.write(&format!("b/{i:04}.txt"), format!("b{i}"));
    }
    for i in 0..300 {
        w.write(&format!("c/d/{i:04}.txt"), format!("c{i}"));
    }
    w.deploy(&[]);
    let (summary, seen) = noop_listings(&w, &[]);
    assert_eq!(summary["summary"]["unchanged"], 2002);
    // The first page; one delimiter listing naming a/, b/, c/ (and .shipit/, never listed);
    // a/ from the first page's last key on; b/ and c/ whole.
    assert_eq!(
        seen,
        [
            ("".to_string(), false, false),
            ("".to_string(), true, false),
            ("a%2F".to_string(), false, true),
            ("b%2F".to_string(), false, false),
            ("c%2F".to_string(), false, false),
        ],
        "{seen:?}"
    );
    // What the listing found is everything: a file gone from b/ and one from a/'s end are
    // deleted, and only those.
    w.remove("b/0500.txt");
    w.remove("a/1000.txt");
    let out = w.deploy(&["--json"]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["summary"]["deleted"], 2, "{summary:#}");
    let objects = w.objects();
    assert!(!objects.contains_key("b/0500.txt") && !objects.contains_key("a/1000.txt"));
    assert_eq!(objects.len(), 2000);
}

#[test]
fn everything_under_one_directory_is_split_one_level_down() {
    let w = World::new("fanoutdeep");
    for i in 0..600 {
        w.write(&format!("assets/x/{i:04}.js"), format!("x{i}"));
        w.write(&format!("assets/y/{i:04}.js"), format!("y{i}"));
    }
    w.deploy(&["--allow-missing-index"]);
    let (_, seen) = noop_listings(&w, &["--allow-missing-index"]);
    assert_eq!(
        seen,
        [
            ("".to_string(), false, false),
            ("".to_string(), true, false),
            ("assets%2F".to_string(), true, false),
            // x/ was all in the first page (600 keys), and y/ partly: from its last key on.
            ("assets%2Fy%2F".to_string(), false, true),
        ],
        "{seen:?}"
    );
}
