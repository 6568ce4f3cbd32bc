//! Snapshots of what the real binary prints: `deploy` (human and JSON, with what its excludes
//! left out), `plan` (human and JSON), `verify` (its table, and a failure with its envelope),
//! `releases`, `rollback`, `unlock`, `init`, `preview` (serving, and its refusal),
//! `completions`, and an error with its JSON envelope; `destroy` (its refusals, its report)
//! and `bootstrap` are snapshot where their tests already build a stack or an account
//! (stack.rs, preflight.rs), with [`filters`]. Filters replace what changes from run to run
//! (times, ports, temporary paths, bucket names, release and invalidation ids, random probe
//! names); everything else must match the files under `snapshots/` exactly. After a deliberate
//! change of wording, review and update them with `INSTA_UPDATE=always cargo test snapshots`.

use crate::support::*;

/// The filters every snapshot shares, with the world's own names.
fn settings(w: &World) -> insta::Settings {
    filters(&[
        (regex_escape(w.site().to_str().unwrap()), "[SITE]"),
        (regex_escape(&w.bucket), "[BUCKET]"),
    ])
}

/// The filters of what changes from run to run in any test's output: first `names` (regex,
/// replacement: a test's own names, before anything in them looks like a time or a port),
/// then times, ports, release ids, random probe names.
pub(crate) fn filters(names: &[(String, &str)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in names {
        s.add_filter(pattern, *replacement);
    }
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s.add_filter(r"\d+(\.\d+)?s\b", "[T]s");
    s.add_filter(r"\d{8}T\d{9}Z-[0-9a-f]{8}", "[RELEASE]");
    s.add_filter(r"route-[0-9a-f]{8}", "route-[RANDOM]");
    s.add_filter(r"shipit-missing-[0-9a-f]{16}", "shipit-missing-[RANDOM]");
    s.add_filter(r#""seconds": [0-9.e-]+"#, r#""seconds": [T]"#);
    s.add_filter(r#""created_at": \d+"#, r#""created_at": [EPOCH]"#);
    // How often verify retries in its time depends on the machine's load.
    s.add_filter(r"after \d+ attempts", "after [N] attempts");
    s.add_filter(r#""attempts": \d+"#, r#""attempts": [N]"#);
    s
}

pub(crate) fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn small_site(w: &World) {
    w.write(
        "index.html",
        r#"<html><script type="module" src="/assets/app-1a2b3c4d.js"></script></html>"#,
    );
    w.write("assets/app-1a2b3c4d.js", "console.log(1)");
    w.write("robots.txt", "User-agent: *");
}

#[test]
fn deploy_report() {
    let w = World::new("snap-deploy");
    small_site(&w);
    let out = w.deploy(&["--no-verify"]);
    settings(&w).bind(|| insta::assert_snapshot!("deploy_stderr", stderr(&out)));
    assert_eq!(stdout(&out), "", "a human deploy prints nothing on stdout");
}

#[test]
fn plan_json() {
    let w = World::new("snap-plan");
    small_site(&w);
    w.deploy(&["--no-verify"]);
    w.write("robots.txt", "User-agent: * # changed");
    w.write("new.txt", "new");
    w.remove("assets/app-1a2b3c4d.js");
    let out = w.run("plan", &["--json"]);
    assert_success(&out);
    settings(&w).bind(|| insta::assert_snapshot!("plan_json", stdout(&out)));
}

#[test]
fn verify_table() {
    let w = World::new("snap-verify");
    small_site(&w);
    let edge = w.edge(&[w.site().to_str().unwrap()]);
    let out = w
        .cmd(&["verify", "--url", &edge.url, "--verify-timeout", "0"])
        .output()
        .unwrap();
    assert_success(&out);
    settings(&w).bind(|| {
        insta::assert_snapshot!("verify_stdout", stdout(&out));
        insta::assert_snapshot!("verify_stderr", stderr(&out));
    });
}

#[test]
fn an_error_and_its_envelope() {
    let w = World::new("snap-error");
    let missing = w.site().join("no-such-build");
    let out = w
        .cmd(&[
            "deploy",
            missing.to_str().unwrap(),
            "--bucket",
            &w.bucket,
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    settings(&w).bind(|| {
        insta::assert_snapshot!("error_stderr", stderr(&out));
        insta::assert_snapshot!("error_json", stdout(&out));
    });
}

#[test]
fn deploy_json_with_what_the_excludes_left_out() {
    let w = World::new("snap-deploy-json");
    small_site(&w);
    w.write("assets/app-1a2b3c4d.js.map", "{\"version\":3}");
    let out = w.deploy(&["--no-verify", "--json"]);
    settings(&w).bind(|| {
        insta::assert_snapshot!("deploy_json", stdout(&out));
        insta::assert_snapshot!("deploy_json_stderr", stderr(&out));
    });
}

#[test]
fn plan_human() {
    let w = World::new("snap-plan-human");
    small_site(&w);
    w.deploy(&["--no-verify"]);
    w.write("robots.txt", "User-agent: * # changed");
    let out = w.run("plan", &[]);
    assert_success(&out);
    settings(&w).bind(|| {
        insta::assert_snapshot!("plan_stdout", stdout(&out));
        insta::assert_snapshot!("plan_stderr", stderr(&out));
    });
}

/// Two releases, then `releases` (human and JSON), `rollback` to the first, and `unlock` with
/// no lock held: each command's words and envelope.
#[test]
fn releases_rollback_and_unlock() {
    let w = World::new("snap-releases");
    small_site(&w);
    w.deploy(&["--no-verify"]);
    w.write("robots.txt", "User-agent: * # two");
    w.deploy(&["--no-verify"]);
    let site = ["--bucket", w.bucket.as_str()];
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&site);
        w.cmd(&all).output().unwrap()
    };
    let releases = run(&["releases"]);
    assert_success(&releases);
    let releases_json = run(&["releases", "--json"]);
    assert_success(&releases_json);
    let rollback = run(&["rollback", "--no-verify"]);
    assert_success(&rollback);
    let unlock = run(&["unlock", "--json"]);
    settings(&w).bind(|| {
        insta::assert_snapshot!("releases_stdout", stdout(&releases));
        insta::assert_snapshot!("releases_json", stdout(&releases_json));
        insta::assert_snapshot!("rollback_stderr", stderr(&rollback));
        insta::assert_snapshot!("unlock_json", stdout(&unlock));
        insta::assert_snapshot!("unlock_stderr", stderr(&unlock));
    });
}

/// A verify that fails: the site answers nothing. The table, the envelope and the exit code.
#[test]
fn a_failed_verify_and_its_envelope() {
    let w = World::new("snap-verify-fail");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let out = w
        .cmd(&[
            "verify",
            "--url",
            &closed,
            "--verify-timeout",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // stderr has one line per retry, as many as the machine's load allows: its last lines only.
    let said = stderr(&out);
    let mut last: Vec<&str> = said.lines().rev().take(2).collect();
    last.reverse();
    settings(&w).bind(|| {
        insta::assert_snapshot!("verify_fail_json", stdout(&out));
        insta::assert_snapshot!("verify_fail_stderr", last.join("\n"));
    });
}

/// `init` in a fresh repository: what it writes, said in words and in the envelope; then again,
/// refused without `--force` (nothing is overwritten).
#[test]
fn init_and_its_refusal() {
    let w = World::new("snap-init");
    let root = w.site().join("repo");
    std::fs::create_dir_all(root.join("dist")).unwrap();
    std::fs::write(
        root.join("package.json"),
        r#"{"name": "shop", "scripts": {"build": "vite build"}}"#,
    )
    .unwrap();
    let root = root.to_str().unwrap();
    let args = [
        "init",
        "--root",
        root,
        "--stack",
        "shop",
        "--aws-region",
        "eu-west-1",
    ];
    let first = w.cmd(&args).output().unwrap();
    assert_success(&first);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let again = w.cmd(&json_args).output().unwrap();
    assert!(!again.status.success(), "init does not overwrite");
    settings(&w).bind(|| {
        insta::assert_snapshot!("init_stderr", stderr(&first));
        insta::assert_snapshot!("init_again_json", stdout(&again));
    });
}

/// `preview` of a build: its URL alone on stdout (for scripts), what it says on stderr while it
/// serves, and a quiet stop when its input closes; then its refusal of a directory that is not
/// a build, in words and in the envelope.
#[test]
fn preview_and_its_refusal() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let w = World::new("snap-preview");
    small_site(&w);
    let site = w.site().to_str().unwrap();
    let mut child = w
        .cmd(&["preview", site, "--port", "0", "--watch-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    out.read_line(&mut url).unwrap();
    let page = http_get(url.trim());
    assert_eq!(page.status, 200, "{url}");
    drop(child.stdin.take());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut said = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{said}");
    let refused = w
        .cmd(&["preview", "/nonexistent/build", "--port", "0", "--json"])
        .output()
        .unwrap();
    assert_exit(&refused, 3);
    settings(&w).bind(|| {
        insta::assert_snapshot!("preview_stdout", format!("{url}{rest}"));
        insta::assert_snapshot!("preview_stderr", said);
        insta::assert_snapshot!("preview_refused_json", stdout(&refused));
        insta::assert_snapshot!("preview_refused_stderr", stderr(&refused));
    });
}

/// `completions`: the bash script (every command and flag a user can complete) and the refusal
/// of a shell it does not know.
#[test]
fn completions_and_an_unknown_shell() {
    let w = World::new("snap-completions");
    let bash = w.cmd(&["completions", "bash"]).output().unwrap();
    assert_success(&bash);
    let unknown = w.cmd(&["completions", "tcsh"]).output().unwrap();
    assert_exit(&unknown, 2);
    settings(&w).bind(|| {
        insta::assert_snapshot!("completions_bash", stdout(&bash));
        insta::assert_snapshot!("completions_unknown_stderr", stderr(&unknown));
    });
}
