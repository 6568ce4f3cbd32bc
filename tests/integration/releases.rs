//! Releases, rollback, the reference-aware prune and the deploy lock, end to end on the local
//! cloud.

use serde_json::Value;

use crate::support::{assert_exit, assert_success, block, http_get, stderr, stdout, World};

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

fn site(w: &World, version: &str, asset: &str) {
    w.write(
        "index.html",
        format!("<!doctype html><title>{version}</title><script src=\"/assets/{asset}\"></script>"),
    );
    w.write(
        &format!("assets/{asset}"),
        format!("console.log('{version}')"),
    );
    w.write("about.txt", format!("about {version}"));
}

#[test]
fn rollback_restores_the_previous_release_verifies_and_records_it() {
    let w = World::new("rollback");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "--parameter",
            "EnableApi=false",
            "--url",
            &edge.url,
            "--verify-timeout",
            "5",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = w.run_stack("deploy", &name, &args);
        assert_success(&out);
        json(&out)
    };
    site(&w, "v1", "app.1a2b3c4d.js");
    // The same bytes in both releases; v2's configuration gives it another Cache-Control.
    w.write("notes.txt", "unchanged");
    let v1 = deploy(&[]);
    let bucket = v1["stack"]["outputs"]["SiteBucketName"]
        .as_str()
        .unwrap()
        .to_string();
    let v1_release = v1["summary"]["release"].as_str().unwrap().to_string();
    w.remove("assets/app.1a2b3c4d.js");
    site(&w, "v2", "app.5e6f7a8b.js");
    w.write("new.html", "<!doctype html>new in v2");
    let config = w.write_config(
        "[[headers]]\nglob = \"notes.txt\"\ncache_control = \"public, max-age=60\"\n",
    );
    let v2 = deploy(&["--config", &config]);
    assert_eq!(
        w.head_from(&bucket, "notes.txt").cache_control,
        "public, max-age=60"
    );
    let v2_release = v2["summary"]["release"].as_str().unwrap().to_string();
    assert_ne!(v1_release, v2_release);
    assert!(
        w.objects_in(&bucket).contains_key("assets/app.1a2b3c4d.js"),
        "v1's hashed asset outlives v2's deploy (a recent release references it)"
    );

    let out = w
        .cmd(&["releases", "--stack", &name, "--json"])
        .output()
        .unwrap();
    assert_success(&out);
    let list = json(&out)["releases"].as_array().unwrap().clone();
    let ids: Vec<&str> = list.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [v1_release.as_str(), v2_release.as_str()]);
    assert_eq!(list[1]["live"], true);
    assert_eq!(
        list[0]["files"], 5,
        "the build's four and the runtime configuration"
    );

    let rollback = |extra: &[&str]| {
        let mut args = vec![
            "rollback",
            "--stack",
            &name,
            "--url",
            &edge.url,
            "--verify-timeout",
            "5",
        ];
        args.extend_from_slice(extra);
        w.cmd(&args).output().unwrap()
    };
    let out = rollback(&["--json"]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["verify"]["ok"], true, "{r:#}");
    assert_eq!(
        r["summary"]["uploaded"], 3,
        "index.html and about.txt restored, the runtime configuration naming the rollback's release: {r:#}"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&http_get(&format!("{}/shipit-config.json", edge.url)).body)
            .unwrap();
    assert_eq!(config["release"], r["summary"]["release"], "{config:#}");
    assert_eq!(r["summary"]["deleted"], 1, "new.html is not in v1: {r:#}");
    assert_eq!(
        r["summary"]["header_updated"], 1,
        "notes.txt gets v1's headers back by an in-place copy: {r:#}"
    );
    assert!(
        r["summary"]["invalidated_paths"].as_u64().unwrap() >= 3,
        "{r:#}"
    );
    assert!(stderr(&out).contains(&format!("rolling back to release {v1_release}")));

    // Live again: v1's bytes in the bucket and through the edge; v2's asset kept for
    // visitors still holding v2's HTML.
    assert_eq!(w.get_from(&bucket, "about.txt"), b"about v1");
    assert_eq!(
        w.head_from(&bucket, "notes.txt").cache_control,
        "public, max-age=300",
        "the default short TTL of a file without a hash in its name"
    );
    let objects = w.objects_in(&bucket);
    assert!(!objects.contains_key("new.html"));
    assert!(objects.contains_key("assets/app.5e6f7a8b.js"));
    assert!(
        String::from_utf8_lossy(&http_get(&format!("{}/", edge.url)).body)
            .contains("<title>v1</title>")
    );

    let out = w.cmd(&["releases", "--stack", &name]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3, "{text}");
    let live = text.lines().find(|l| l.starts_with('*')).unwrap();
    assert!(
        live.contains(&format!("rollback to {v1_release}")),
        "{text}"
    );

    // Rolling back again goes to v2 (the newest release other than what is live).
    let out = rollback(&[]);
    assert_success(&out);
    assert!(
        stderr(&out).contains(&format!("rolling back to release {v2_release}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.get_from(&bucket, "about.txt"), b"about v2");
}

#[test]
fn a_rollback_without_object_versions_is_refused_before_any_write() {
    let w = World::new("rollback-unversioned");
    let bucket = format!("{}-plain", w.bucket);
    block(async { w.s3.create_bucket().bucket(&bucket).send().await.unwrap() });
    let deploy = |extra: &[&str]| {
        let mut args = vec!["deploy", w.site().to_str().unwrap(), "--bucket", &bucket];
        args.extend_from_slice(extra);
        assert_success(&w.cmd(&args).output().unwrap());
    };
    site(&w, "v1", "app.1a2b3c4d.js");
    deploy(&[]);
    site(&w, "v2", "app.1a2b3c4d.js");
    deploy(&[]);
    w.proxy.take();
    let out = w.cmd(&["rollback", "--bucket", &bucket]).output().unwrap();
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("cannot be restored"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing was written"));
    assert!(w.writes().is_empty());
    assert_eq!(w.get_from(&bucket, "about.txt"), b"about v2");
}

#[test]
fn the_prune_keeps_hashed_assets_the_last_releases_reference() {
    let w = World::new("retention");
    let config = w.write_config("[prune]\nkeep_releases = 2\ngrace_hours = 0\n");
    let mut previous = None;
    for (v, asset) in [
        ("v1", "a.1a2b3c4d.js"),
        ("v2", "b.2b3c4d5e.js"),
        ("v3", "c.3c4d5e6f.js"),
        ("v4", "d.4d5e6f7a.js"),
    ] {
        if let Some(old) = previous.replace(asset) {
            w.remove(&format!("assets/{old}"));
        }
        site(&w, v, asset);
        w.write(&format!("page-{v}.html"), "<!doctype html>");
        if v != "v1" {
            w.remove(&format!(
                "page-{}.html",
                match v {
                    "v2" => "v1",
                    "v3" => "v2",
                    _ => "v3",
                }
            ));
        }
        w.deploy(&["--config", &config]);
    }
    let keys: Vec<String> = w.objects().into_keys().collect();
    assert_eq!(
        keys,
        ["about.txt", "assets/c.3c4d5e6f.js", "assets/d.4d5e6f7a.js", "index.html", "page-v4.html"],
        "v3's asset stays (the last two releases are v3 and v4, the one being deployed); older assets and every old page go"
    );
}

#[test]
fn the_deploy_lock_makes_a_second_run_wait_then_fail_and_can_be_broken() {
    let w = World::new("lock");
    site(&w, "v1", "app.1a2b3c4d.js");
    w.deploy(&[]);
    let put_lock = |expires_in: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let body = serde_json::json!({
            "owner": "ci@other-runner pid 4242", "command": "deploy",
            "acquired_at": now - 60, "expires_at": now + expires_in,
        });
        block(async {
            w.s3.put_object()
                .bucket(&w.bucket)
                .key(".shipit/lock")
                .body(body.to_string().into_bytes().into())
                .send()
                .await
                .unwrap()
        });
    };

    put_lock(600);
    site(&w, "v2", "app.1a2b3c4d.js");
    w.proxy.take();
    let out = w.run("deploy", &["--lock-wait", "1"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("another shipit run is deploying this site"),
        "{err}"
    );
    assert!(err.contains("ci@other-runner pid 4242"), "{err}");
    assert!(err.contains("shipit unlock"), "{err}");
    assert!(w.writes().is_empty(), "nothing written while locked out");
    assert_eq!(w.get("about.txt"), b"about v1");

    let out = w.cmd(&["unlock", "--bucket", &w.bucket]).output().unwrap();
    assert_success(&out);
    assert!(
        stderr(&out).contains("broke the deploy lock"),
        "{}",
        stderr(&out)
    );
    w.deploy(&[]);
    assert_eq!(w.get("about.txt"), b"about v2");
    assert!(
        !w.objects_with_state().contains_key(".shipit/lock"),
        "released after the deploy"
    );

    // A lock whose holder died long ago is taken over.
    put_lock(-5);
    site(&w, "v3", "app.1a2b3c4d.js");
    let out = w.deploy(&[]);
    assert!(
        stderr(&out).contains("took over an expired deploy lock"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.get("about.txt"), b"about v3");

    // A failed deploy releases the lock too.
    let out = w.run(
        "deploy",
        &["--url", "http://127.0.0.1:9", "--verify-timeout", "0"],
    );
    assert_exit(&out, 8);
    assert!(!w.objects_with_state().contains_key(".shipit/lock"));
}
