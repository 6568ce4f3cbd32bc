//! site-example in a real browser: built from source (Vite), deployed with the stack to the
//! local cloud, served by the local edge from the private bucket, and loaded by headless
//! Chromium at deep routes: the SPA shell comes back and the right view renders. A screenshot
//! is kept in target/test-artifacts/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::{assert_success, stderr, World};

/// site-example/dist, built once if it is missing (scripts/setup normally builds it).
fn site_dist() -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _once = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("site-example");
    let dist = site.join("dist");
    if !dist.join("index.html").is_file() {
        for args in [
            &["ci", "--no-audit", "--no-fund"][..],
            &["run", "build"][..],
        ] {
            let out = Command::new("npm")
                .args(args)
                .current_dir(&site)
                .output()
                .expect("npm (scripts/setup installs it)");
            assert!(
                out.status.success(),
                "npm {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    dist
}

fn chromium() -> &'static str {
    let path = "/usr/bin/chromium";
    assert!(
        Path::new(path).exists(),
        "no {path}: run scripts/setup (Debian's chromium package)"
    );
    path
}

/// Headless Chromium with a fresh profile and no network beyond what the page asks for.
fn browser(profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn deep_routes_render_in_headless_chromium_through_the_local_edge() {
    let dist = site_dist();
    let w = World::new("browser");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    let out = w
        .cmd(&[
            "deploy",
            dist.to_str().unwrap(),
            "--stack",
            &name,
            "--stack-timeout",
            "2",
            "--parameter",
            "EnableApi=false",
            "--url",
            &edge.url,
            "--deep-route",
            "/settings/profile",
            "--verify-timeout",
            "5",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stderr(&out).contains("PASS  hashed asset"),
        "{}",
        stderr(&out)
    );

    let profile = tempfile::tempdir().unwrap();
    let table = [
        ("/settings/profile", "settings-profile", "Settings: profile"),
        ("/docs/getting-started", "docs", "Getting started"),
        ("/about", "about", "About"),
        ("/", "home", "Deployed by shipit"),
        ("/no/such/page", "not-found", "Page not found"),
    ];
    for (route, view, heading) in table {
        let out = browser(
            profile.path(),
            &["--dump-dom"],
            &format!("{}{route}", edge.url),
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(
            dom.contains(&format!("data-view=\"{view}\"")),
            "{route}: the {view} view did not render:\n{dom}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            dom.contains(&format!("<h1>{heading}</h1>")),
            "{route}: {dom}"
        );
        assert!(
            dom.contains(&format!("data-route=\"{route}\"")),
            "{route}: {dom}"
        );
        assert!(
            dom.contains("/assets/logo-"),
            "the hashed image is referenced: {dom}"
        );
    }

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("deep-route-settings-profile.png");
    let _ = std::fs::remove_file(&shot);
    let out = browser(
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,800",
            "--hide-scrollbars",
        ],
        &format!("{}/settings/profile", edge.url),
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(
        png.len() > 10_000,
        "a rendered page, not a blank one ({} bytes)",
        png.len()
    );
}
