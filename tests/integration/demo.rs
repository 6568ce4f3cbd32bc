//! The README's main job, as a test: `scripts/demo` starts its own local cloud and edge,
//! deploys site-example with the whole stack, verifies it, ships the example API's own code
//! (verified through real PostgreSQL and Redis), redeploys (nothing to do), lets a user sign in
//! through the site in headless Chromium and add an item, and destroys it.

use std::process::Command;

#[test]
fn the_main_job_deploys_site_example_and_verifies_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let stack = format!("demo-test-{}", std::process::id());
    let out = Command::new(format!("{root}/scripts/demo"))
        .env("SHIPIT_BIN", env!("CARGO_BIN_EXE_shipit"))
        .env("SHIPIT_DEMO_STACK", &stack)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run scripts/demo");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // No shell warnings (bash says "scripts/demo: line N: ..." or "warning: ...").
    let shell = stderr
        .lines()
        .filter(|l| {
            l.contains("scripts/demo: line")
                || l.contains("execute_coproc")
                || l.starts_with("bash:")
        })
        .collect::<Vec<_>>();
    assert!(shell.is_empty(), "the shell warned: {shell:?}");
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("site URL (local edge): "))
        .unwrap_or_else(|| panic!("no site URL printed:\n{stdout}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    for check in [
        "PASS  apex",
        "PASS  deep route",
        "PASS  direct S3",
        "PASS  hashed asset",
    ] {
        assert!(
            stdout.contains(check),
            "{check} missing from the table:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        stderr.contains("unchanged without a change set"),
        "{stderr}"
    );
    // The example API's own code, shipped: every store answered it, PostgreSQL and Redis too.
    assert!(
        stderr.contains("database user shipit_app of stack"),
        "{stderr}"
    );
    let shipped = stderr
        .lines()
        .find(|l| l.starts_with("API code: api/"))
        .unwrap_or_else(|| panic!("no shipped API code:\n{stderr}"));
    assert!(
        shipped.ends_with("dynamodb, s3, postgres, redis"),
        "{shipped}"
    );
    // A user signed in through the site's own form in headless Chromium: the status view
    // showed every store, and the item they added came back in their list.
    assert!(
        stderr.contains("signed in through the site: dynamodb ok, s3 ok, postgres ok, redis ok; items: ['first item']"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("==> stack {stack} deleted")),
        "the demo cleans up: {stderr}"
    );
}
