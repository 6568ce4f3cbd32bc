//! The fault-injection suite. Each scenario deploys v1 of a site cleanly, then deploys v2
//! while the recording proxy in front of S3 and CloudFront injects one fault (a persistent
//! 500 or 403, a connection reset, throttling, per-key DeleteObjects errors), or while the
//! test SIGKILLs shipit in the middle of a request. After each:
//!   - every object the live HTML references exists (visitors never get a broken page);
//!   - no delete was sent after the fault, unless the deploy succeeded;
//!   - a clean re-run (after `shipit unlock` when the process was killed) converges to exactly
//!     v2: every key, its bytes and its headers, and nothing else.
//!
//! Every run uses canary credentials and `-vv`; no byte shipit printed may contain them.
//! The scenario count is printed (`cargo test -- --nocapture` shows it).

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{make_distribution, stderr, stdout, Request, World};

const ACCESS_KEY: &str = "AKIACANARY7Q3ZWXKJ5P";
const SECRET: &str = "cAnArY/sEcReT+9f8e7d6c5b4a3210fedcbaQQ";
const TOKEN: &str = "CANARYsessionTOKENc0ffee0123456789abcdef";

/// Bytes of shipit output searched for the canaries, over all scenarios.
static SEARCHED: AtomicUsize = AtomicUsize::new(0);
static SCENARIOS: AtomicUsize = AtomicUsize::new(0);

/// v1's configuration: v2's adds a header rule for data.json (a header-only change).
const CONFIG_V1: &str = "[upload]\nmultipart_threshold_mib = 5\npart_size_mib = 5\nmax_attempts = 3\n\n[prune]\nkeep_releases = 1\ngrace_hours = 0\n";
const CONFIG: &str = "[upload]\nmultipart_threshold_mib = 5\npart_size_mib = 5\nmax_attempts = 3\n\n[prune]\nkeep_releases = 1\ngrace_hours = 0\n\n[[headers]]\nglob = \"data.json\"\ncache_control = \"public, max-age=60\"\n";

/// CloudFront's restXml error shape for a busy distribution.
const TOO_MANY_INVALIDATIONS: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code><Message>injected</Message></Error></ErrorResponse>";
/// S3's DeleteObjects answer when one key was refused.
const DELETE_KEY_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult><Error><Key>old.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>";

const V1_JS: &str = "assets/app.1a2b3c4d.js";
const V2_JS: &str = "assets/app.5e6f7a8b.js";
const V1_CSS: &str = "assets/style.0a1b2c3d.css";
const V2_CSS: &str = "assets/style.9f8e7d6c.css";

fn big(version: u8) -> Vec<u8> {
    (0..11 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8 ^ version)
        .collect()
}

fn v1(w: &World) {
    w.write(
        "index.html",
        format!("<!doctype html><link rel=\"stylesheet\" href=\"/{V1_CSS}\"><script src=\"/{V1_JS}\"></script>v1"),
    );
    w.write(
        "about/index.html",
        format!("<!doctype html><script src=\"/{V1_JS}\"></script>about v1"),
    );
    w.write(V1_JS, "console.log(1)");
    w.write(V1_CSS, "body{color:red}");
    w.write("robots.txt", "User-agent: *\n");
    w.write("data.json", "{\"v\":1}");
    w.write("old.txt", "only in v1");
    w.write("big.bin", big(1));
}

/// v2: new hashed bundles, changed pages and robots, a new file, a header-only change
/// (data.json gets a rule in the config), a changed multipart file, a removed file.
fn v2(w: &World) {
    for k in [V1_JS, V1_CSS, "old.txt"] {
        w.remove(k);
    }
    w.write(
        "index.html",
        format!("<!doctype html><link rel=\"stylesheet\" href=\"/{V2_CSS}\"><script src=\"/{V2_JS}\"></script>v2"),
    );
    w.write(
        "about/index.html",
        format!("<!doctype html><script src=\"/{V2_JS}\"></script>about v2"),
    );
    w.write(V2_JS, "console.log(2)");
    w.write(V2_CSS, "body{color:blue}");
    w.write("robots.txt", "User-agent: *\nDisallow: /private\n");
    w.write("new.txt", "new in v2");
    w.write("big.bin", big(2));
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// 500 InternalError every time: retried, then the deploy fails.
    Fail500,
    /// 403 AccessDenied: not retried.
    Denied,
    /// The connection is closed without an answer, every time.
    Reset,
    /// 503 SlowDown the first time only: the retry succeeds.
    SlowDownOnce,
    /// 200 with a per-key error in a DeleteObjects reply.
    DeleteKeyError,
    /// CloudFront's TooManyInvalidationsInProgress once: waited out.
    BusyOnce,
    /// SIGKILL while this request is in flight.
    Kill,
    /// SIGINT (Ctrl-C) while this request is in flight; the request then completes.
    Interrupt,
    /// SIGTERM (a cancelled CI job) likewise.
    Terminate,
    /// Every matching request gets no answer for 5 s, then its connection closes: the run's
    /// read timeout (2 s here) gives up on each attempt, and the deploy fails.
    Stall,
}

impl Fault {
    /// A fault that holds the request until the test has acted on the process.
    fn holds(self) -> bool {
        matches!(self, Fault::Kill | Fault::Interrupt | Fault::Terminate)
    }
}

/// Which requests a fault hits.
type Matcher = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

struct Scenario {
    name: String,
    fault: Fault,
    matches: Matcher,
}

fn path(r: &Request) -> &str {
    r.target.split('?').next().unwrap_or("")
}

/// The object key of a path-style S3 request (`/bucket/key`).
fn key(r: &Request) -> String {
    path(r).splitn(3, '/').nth(2).unwrap_or("").to_string()
}

fn query(r: &Request) -> &str {
    r.target.split_once('?').map(|(_, q)| q).unwrap_or("")
}

/// A single-object PUT (not a part, not a copy) of `key`.
fn put_of(key: &'static str) -> Matcher {
    Arc::new(move |r| {
        r.method == "PUT"
            && self::key(r) == key
            && !query(r).contains("partNumber")
            && r.header("x-amz-copy-source").is_none()
    })
}

fn scenario(
    name: &str,
    fault: Fault,
    matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        fault,
        matches: Arc::new(matches),
    }
}

fn http(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn s3_error(status: &str, code: &str) -> Vec<u8> {
    http(
        status,
        &format!("<Error><Code>{code}</Code><Message>injected</Message></Error>"),
    )
}

fn shipit(w: &World, args: &[&str]) -> std::process::Command {
    let mut c = w.cmd(args);
    c.arg("-vv")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN);
    c
}

fn no_canaries(out: &Output, what: &str) {
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    let text = String::from_utf8_lossy(&all);
    SEARCHED.fetch_add(all.len(), Ordering::SeqCst);
    for canary in [
        SECRET,
        TOKEN,
        ACCESS_KEY,
        "cAnArY%2FsEcReT",
        "CANARYsession",
    ] {
        assert!(
            !text.contains(canary),
            "{what}: shipit printed a credential ({canary})"
        );
    }
}

/// Keys the live HTML in the bucket references (`src`/`href` to same-site paths).
fn referenced(w: &World, bucket_keys: &BTreeMap<String, crate::support::Object>) -> Vec<String> {
    let mut out = Vec::new();
    for page in ["index.html", "about/index.html"] {
        if !bucket_keys.contains_key(page) {
            continue;
        }
        let html = String::from_utf8_lossy(&w.get(page)).into_owned();
        for attr in ["src=\"/", "href=\"/"] {
            for part in html.split(attr).skip(1) {
                out.push(part.split('"').next().unwrap().to_string());
            }
        }
    }
    out
}

fn deploy_args<'a>(w: &'a World, config: &'a str, distribution: &'a str) -> Vec<&'a str> {
    vec![
        "deploy",
        w.site().to_str().unwrap(),
        "--bucket",
        &w.bucket,
        "--config",
        config,
        "--distribution-id",
        distribution,
    ]
}

fn run(s: &Scenario) {
    let w = World::new("fault");
    let config_v1 = w.write_config(CONFIG_V1);
    let distribution = make_distribution(&w.bucket);
    v1(&w);
    let out = shipit(&w, &deploy_args(&w, &config_v1, &distribution))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: v1 deploy failed: {}",
        s.name,
        stderr(&out)
    );
    no_canaries(&out, &s.name);
    let config = w.home.path().join("v2.toml");
    let mut text = CONFIG.to_string();
    if s.fault == Fault::Stall {
        text = text.replace("max_attempts = 3", "max_attempts = 2");
        text.push_str("\n[aws]\nread_timeout_seconds = 2\n");
    }
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap().to_string();
    v2(&w);
    w.proxy.take();

    // The fault.
    let fired = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(AtomicBool::new(false));
    let released = Arc::new(AtomicBool::new(false));
    {
        let (fired, reached, released, matches, fault) = (
            fired.clone(),
            reached.clone(),
            released.clone(),
            s.matches.clone(),
            s.fault,
        );
        w.proxy.set_hook(Some(Arc::new(move |r: &Request| {
            if !matches(r) {
                return None;
            }
            let n = fired.fetch_add(1, Ordering::SeqCst);
            match fault {
                Fault::Fail500 => Some(s3_error("500 Internal Server Error", "InternalError")),
                Fault::Denied => Some(s3_error("403 Forbidden", "AccessDenied")),
                Fault::Reset => Some(Vec::new()),
                Fault::SlowDownOnce => (n == 0).then(|| s3_error("503 Slow Down", "SlowDown")),
                Fault::BusyOnce => (n == 0).then(|| {
                    // CloudFront's restXml error shape.
                    http("400 Bad Request", TOO_MANY_INVALIDATIONS)
                }),
                Fault::DeleteKeyError => Some(http("200 OK", DELETE_KEY_DENIED)),
                Fault::Stall => Some({
                    std::thread::sleep(Duration::from_secs(5));
                    Vec::new()
                }),
                Fault::Kill | Fault::Interrupt | Fault::Terminate => {
                    // Only the first matching request is held (retries pass).
                    if n > 0 {
                        return None;
                    }
                    reached.store(true, Ordering::SeqCst);
                    let start = Instant::now();
                    while !released.load(Ordering::SeqCst)
                        && start.elapsed() < Duration::from_secs(30)
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    // A killed process's request dies with it; a signalled one completes.
                    (fault == Fault::Kill).then(Vec::new)
                }
            }
        })));
    }
    let mut child = shipit(&w, &deploy_args(&w, &config, &distribution))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let faulted = if s.fault.holds() {
        let start = Instant::now();
        while !reached.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{}: the request to kill at never came",
                s.name
            );
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{}: shipit exited ({status}) before the request to kill at",
                    s.name
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if s.fault == Fault::Kill {
            child.kill().unwrap(); // SIGKILL
            let out = child.wait_with_output().unwrap();
            released.store(true, Ordering::SeqCst);
            out
        } else {
            let sig = if s.fault == Fault::Interrupt {
                "-INT"
            } else {
                "-TERM"
            };
            let sent = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success(), "{}: kill {sig}", s.name);
            // Give the signal time to land, then let the request in flight complete.
            std::thread::sleep(Duration::from_millis(300));
            released.store(true, Ordering::SeqCst);
            let out = child.wait_with_output().unwrap();
            let want = if s.fault == Fault::Interrupt {
                130
            } else {
                143
            };
            assert_eq!(
                out.status.code(),
                Some(want),
                "{}: exit status after the signal: {}",
                s.name,
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("interrupted"),
                "{}: says it was interrupted: {}",
                s.name,
                stderr(&out)
            );
            assert!(
                !w.objects_with_state().contains_key(".shipit/lock"),
                "{}: the lock was released",
                s.name
            );
            out
        }
    } else {
        child.wait_with_output().unwrap()
    };
    w.proxy.set_hook(None);
    let requests = w.proxy.take();
    if matches!(s.fault, Fault::Interrupt | Fault::Terminate) && !requests.iter().any(invalidation)
    {
        // What the interrupted run changed stays pending invalidation for the next run.
        let manifest: serde_json::Value =
            serde_json::from_slice(&w.get(".shipit/manifest.json")).unwrap();
        let pending: Vec<&str> = manifest["pending_invalidation"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        for r in requests
            .iter()
            .filter(|r| r.method == "PUT" && !query(r).contains("partNumber"))
        {
            let k = key(r);
            if ["index.html", "about/index.html", "robots.txt", "data.json"].contains(&k.as_str()) {
                assert!(
                    pending.contains(&k.as_str()),
                    "{}: {k} written but not pending: {pending:?}",
                    s.name
                );
            }
        }
    }
    assert!(
        fired.load(Ordering::SeqCst) > 0,
        "{}: the fault never fired",
        s.name
    );
    no_canaries(&faulted, &s.name);

    // Nothing deleted after the fault, unless the deploy recovered from it.
    // (A killed request is logged only once the hook lets go: then it is the last.)
    let first_fault = requests
        .iter()
        .position(|r| (s.matches)(r))
        .unwrap_or(requests.len());
    // Deletes of site objects; releasing the lock and aborting an unfinished multipart
    // upload are cleanup, not deletes.
    let is_delete = |r: &Request| {
        (r.method == "POST" && query(r).contains("delete"))
            || (r.method == "DELETE"
                && !path(r).ends_with("/.shipit/lock")
                && !query(r).contains("uploadId="))
    };
    if !faulted.status.success() {
        // (Retries of the faulted request itself are that same operation, not later deletes.)
        let late: Vec<&Request> = requests[(first_fault + 1).min(requests.len())..]
            .iter()
            .filter(|r| is_delete(r) && !(s.matches)(r))
            .collect();
        assert!(
            late.is_empty(),
            "{}: deleted after the fault: {late:?}",
            s.name
        );
    }
    // The live HTML's references all exist.
    let objects = w.objects();
    for key in referenced(&w, &objects) {
        assert!(
            objects.contains_key(&key),
            "{}: live HTML references missing {key}",
            s.name
        );
    }
    if matches!(s.fault, Fault::SlowDownOnce | Fault::BusyOnce) {
        assert!(
            faulted.status.success(),
            "{}: a transient fault failed the deploy: {}",
            s.name,
            stderr(&faulted)
        );
    }

    // A clean re-run converges to exactly v2.
    if s.fault == Fault::Kill {
        let out = shipit(&w, &["unlock", "--bucket", &w.bucket])
            .output()
            .unwrap();
        no_canaries(&out, &s.name);
    }
    let out = shipit(&w, &deploy_args(&w, &config, &distribution))
        .output()
        .unwrap();
    no_canaries(&out, &s.name);
    assert!(
        out.status.success(),
        "{}: the re-run failed: {}{}",
        s.name,
        stdout(&out),
        stderr(&out)
    );
    converged(&w, &s.name);
    SCENARIOS.fetch_add(1, Ordering::SeqCst);
}

/// The bucket holds exactly the build: the same keys, bytes and headers.
fn converged(w: &World, name: &str) {
    let rules = shipit_core::headers::HeaderRules::new(&[shipit_core::headers::HeaderRule {
        glob: "data.json".into(),
        cache_control: Some("public, max-age=60".into()),
        content_type: None,
    }])
    .unwrap();
    let objects = w.objects();
    let mut local: Vec<String> = walkdir::WalkDir::new(w.site())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(w.site())
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/")
        })
        .collect();
    local.sort();
    let remote: Vec<&String> = objects.keys().collect();
    assert_eq!(
        remote,
        local.iter().collect::<Vec<_>>(),
        "{name}: keys differ"
    );
    for key in &local {
        let bytes = std::fs::read(w.site().join(key)).unwrap();
        assert_eq!(w.get(key), bytes, "{name}: {key} has other bytes");
        let head = w.head(key);
        let sniff = shipit_core::headers::Sniff::from_prefix(&bytes[..bytes.len().min(512)]);
        let want = rules.headers_for(key, sniff);
        assert_eq!(
            (head.content_type.as_str(), head.cache_control.as_str()),
            (&*want.content_type, &*want.cache_control),
            "{name}: {key} has other headers"
        );
    }
}

/// Every write of the v2 deploy that goes out as a single PUT.
const PUT_KEYS: [&str; 6] = [
    "index.html",
    "about/index.html",
    "robots.txt",
    V2_JS,
    V2_CSS,
    "new.txt",
];

fn is_part(n: u32) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        r.method == "PUT"
            && path(r).ends_with("/big.bin")
            && query(r).contains(&format!("partNumber={n}&"))
            || r.method == "PUT"
                && path(r).ends_with("/big.bin")
                && query(r).ends_with(&format!("partNumber={n}"))
    }
}

fn copy_of_data(r: &Request) -> bool {
    r.method == "PUT" && path(r).ends_with("/data.json") && r.header("x-amz-copy-source").is_some()
}

fn create_multipart(r: &Request) -> bool {
    r.method == "POST" && path(r).ends_with("/big.bin") && query(r).starts_with("uploads")
}

fn complete_multipart(r: &Request) -> bool {
    r.method == "POST" && path(r).ends_with("/big.bin") && query(r).contains("uploadId=")
}

fn delete_batch(r: &Request) -> bool {
    r.method == "POST" && query(r).contains("delete")
}

fn manifest_put(r: &Request) -> bool {
    r.method == "PUT" && path(r).ends_with("/.shipit/manifest.json")
}

fn release_put(r: &Request) -> bool {
    r.method == "PUT" && path(r).contains("/.shipit/releases/")
}

fn invalidation(r: &Request) -> bool {
    r.method == "POST" && path(r).ends_with("/invalidation")
}

fn writes_of_v2() -> Vec<(String, Matcher)> {
    let mut out: Vec<(String, Matcher)> = PUT_KEYS
        .iter()
        .map(|k| (format!("PUT {k}"), put_of(k)))
        .collect();
    out.push(("part 2 of big.bin".into(), Arc::new(is_part(2))));
    out.push(("header copy of data.json".into(), Arc::new(copy_of_data)));
    out
}

fn suite(scenarios: Vec<Scenario>) {
    let n = scenarios.len();
    for s in &scenarios {
        run(s);
    }
    eprintln!(
        "fault suite: {n} scenarios passed here ({} in all so far); {} bytes of shipit output searched for the canary credentials",
        SCENARIOS.load(Ordering::SeqCst),
        SEARCHED.load(Ordering::SeqCst)
    );
}

#[test]
fn faults_on_every_write_fail_safely_and_a_rerun_converges() {
    let mut scenarios = Vec::new();
    for (what, m) in writes_of_v2() {
        for fault in [Fault::Fail500, Fault::Denied, Fault::Reset] {
            let m = m.clone();
            scenarios.push(scenario(&format!("{fault:?} on {what}"), fault, move |r| {
                m(r)
            }));
        }
    }
    assert_eq!(scenarios.len(), 24);
    suite(scenarios);
}

#[test]
fn sigkill_at_every_stage_leaves_a_working_site_and_a_rerun_converges() {
    let mut scenarios: Vec<Scenario> = writes_of_v2()
        .into_iter()
        .map(|(what, m)| {
            scenario(&format!("SIGKILL during {what}"), Fault::Kill, move |r| {
                m(r)
            })
        })
        .collect();
    scenarios.push(scenario(
        "SIGKILL during CompleteMultipartUpload",
        Fault::Kill,
        complete_multipart,
    ));
    scenarios.push(scenario(
        "SIGKILL during the manifest write",
        Fault::Kill,
        manifest_put,
    ));
    scenarios.push(scenario(
        "SIGKILL during the invalidation",
        Fault::Kill,
        invalidation,
    ));
    scenarios.push(scenario(
        "SIGKILL during the prune",
        Fault::Kill,
        delete_batch,
    ));
    scenarios.push(scenario(
        "SIGKILL during the release record",
        Fault::Kill,
        release_put,
    ));
    assert_eq!(scenarios.len(), 13);
    suite(scenarios);
}

/// A request at each stage that never gets an answer: every attempt times out and the deploy
/// fails, safely (before, shipit waited for ever, holding the lock).
#[test]
fn a_stalled_answer_at_each_stage_times_out_and_fails_safely() {
    let stages: [(&str, Matcher); 7] = [
        ("PUT robots.txt", put_of("robots.txt")),
        ("part 2 of big.bin", Arc::new(is_part(2))),
        ("PUT index.html", put_of("index.html")),
        ("the manifest write", Arc::new(manifest_put)),
        ("the invalidation", Arc::new(invalidation)),
        ("the release record", Arc::new(release_put)),
        ("the prune", Arc::new(delete_batch)),
    ];
    let scenarios: Vec<Scenario> = stages
        .into_iter()
        .map(|(what, m)| {
            scenario(
                &format!("a stalled answer to {what}"),
                Fault::Stall,
                move |r| m(r),
            )
        })
        .collect();
    suite(scenarios);
}

/// Ctrl-C and SIGTERM at each stage before the prune: the request in flight completes, nothing
/// new starts, the lock is released, nothing is pruned, the exit code says which signal, and a
/// re-run converges.
#[test]
fn signals_at_every_stage_stop_safely_and_a_rerun_converges() {
    let mut scenarios: Vec<Scenario> = writes_of_v2()
        .into_iter()
        .map(|(what, m)| {
            scenario(
                &format!("SIGINT during {what}"),
                Fault::Interrupt,
                move |r| m(r),
            )
        })
        .collect();
    scenarios.push(scenario(
        "SIGINT during the manifest write",
        Fault::Interrupt,
        manifest_put,
    ));
    scenarios.push(scenario(
        "SIGINT during the invalidation",
        Fault::Interrupt,
        invalidation,
    ));
    scenarios.push(scenario(
        "SIGINT during the release record",
        Fault::Interrupt,
        release_put,
    ));
    scenarios.push(scenario(
        "SIGTERM during part 2 of big.bin",
        Fault::Terminate,
        is_part(2),
    ));
    scenarios.push(scenario(
        "SIGTERM during the invalidation",
        Fault::Terminate,
        invalidation,
    ));
    assert_eq!(scenarios.len(), 13);
    suite(scenarios);
}

#[test]
fn faults_in_multipart_delete_state_and_cdn_fail_safely() {
    let scenarios = vec![
        scenario(
            "Fail500 on CreateMultipartUpload",
            Fault::Fail500,
            create_multipart,
        ),
        scenario("Fail500 on part 1 of big.bin", Fault::Fail500, is_part(1)),
        scenario("Reset on part 3 of big.bin", Fault::Reset, is_part(3)),
        scenario(
            "Fail500 on CompleteMultipartUpload",
            Fault::Fail500,
            complete_multipart,
        ),
        scenario(
            "per-key errors in the DeleteObjects reply",
            Fault::DeleteKeyError,
            delete_batch,
        ),
        scenario("Fail500 on DeleteObjects", Fault::Fail500, delete_batch),
        scenario(
            "Fail500 on the manifest write",
            Fault::Fail500,
            manifest_put,
        ),
        scenario("Fail500 on the release record", Fault::Fail500, release_put),
        scenario("Fail500 on the invalidation", Fault::Fail500, invalidation),
        scenario(
            "TooManyInvalidationsInProgress once",
            Fault::BusyOnce,
            invalidation,
        ),
        scenario("Fail500 on the listing", Fault::Fail500, |r: &Request| {
            r.method == "GET" && query(r).contains("list-type=2")
        }),
        scenario(
            "Fail500 reading the manifest",
            Fault::Fail500,
            |r: &Request| r.method == "GET" && path(r).ends_with("/.shipit/manifest.json"),
        ),
        scenario("Fail500 taking the lock", Fault::Fail500, |r: &Request| {
            r.method == "PUT" && path(r).ends_with("/.shipit/lock")
        }),
        scenario(
            "SlowDown once on every PUT (throttling)",
            Fault::SlowDownOnce,
            |r: &Request| r.method == "PUT",
        ),
    ];
    assert_eq!(scenarios.len(), 14);
    suite(scenarios);
}

/// 20% of all requests fail transiently (throttled, reset, or a 500); the deploy still
/// succeeds, with exactly the right content.
#[test]
fn a_twenty_percent_transient_fault_rate_still_deploys_correctly() {
    for seed in [7u64, 11, 13] {
        let w = World::new("flaky");
        // The default retry budget (5 attempts a request): 20% faults need no tuning.
        let config = w.write_config("[upload]\nmultipart_threshold_mib = 5\npart_size_mib = 5\n[prune]\nkeep_releases = 1\ngrace_hours = 0\n[[headers]]\nglob = \"data.json\"\ncache_control = \"public, max-age=60\"\n");
        let distribution = make_distribution(&w.bucket);
        v1(&w);
        let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
        let faults = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        {
            let (rng, faults, total) = (rng.clone(), faults.clone(), total.clone());
            w.proxy.set_hook(Some(Arc::new(move |_r: &Request| {
                total.fetch_add(1, Ordering::SeqCst);
                let mut rng = rng.lock().unwrap();
                if rng.f64() >= 0.2 {
                    return None;
                }
                faults.fetch_add(1, Ordering::SeqCst);
                Some(match rng.u8(0..3) {
                    0 => s3_error("503 Slow Down", "SlowDown"),
                    1 => Vec::new(),
                    _ => s3_error("500 Internal Server Error", "InternalError"),
                })
            })));
        }
        for (version, write) in [("v1", v1 as fn(&World)), ("v2", v2)] {
            if version == "v2" {
                write(&w);
            }
            let out = shipit(&w, &deploy_args(&w, &config, &distribution))
                .output()
                .unwrap();
            no_canaries(&out, "20% faults");
            assert!(
                out.status.success(),
                "seed {seed} {version}: {}",
                stderr(&out)
            );
        }
        w.proxy.set_hook(None);
        let (f, t) = (faults.load(Ordering::SeqCst), total.load(Ordering::SeqCst));
        assert!(f * 10 >= t, "seed {seed}: only {f} faults in {t} requests");
        converged(&w, &format!("20% faults, seed {seed}"));
        eprintln!("20% transient faults, seed {seed}: {f} of {t} requests failed; deployed v1 then v2 correctly");
        SCENARIOS.fetch_add(1, Ordering::SeqCst);
    }
}
