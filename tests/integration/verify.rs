//! `shipit verify` through the local edge: it passes on a good deploy and fails, with the
//! right diagnosis and exit code 8, on each way a site breaks. The edge (`shipit preview
//! --stack`) reads the distribution from the local cloud and the private bucket as OAC.

use serde_json::Value;

use crate::support::{
    assert_exit, assert_success, block, http_get, stderr, stdout, Edge, StackGuard, World,
};

const SITE_BROKEN: i32 = 8;

/// A small single-page app: a shell referencing a content-hashed bundle, a 404 page.
fn spa(w: &World, version: &str) {
    w.write(
        "index.html",
        format!("<!doctype html><title>{version}</title><script type=\"module\" src=\"/assets/app.5d41402a.js\"></script><div id=\"app\"></div>"),
    );
    w.write(
        "assets/app.5d41402a.js",
        "document.getElementById('app').textContent = location.pathname;",
    );
    w.write("404.html", "<!doctype html><title>not found</title>");
    w.write("robots.txt", "User-agent: *\n");
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// The check of that name in a `--json` report (deploy's or verify's).
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

fn outcome<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["outcome"].as_str().unwrap()
}

fn cause(report: &Value, name: &str) -> String {
    check(report, name)["cause"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Deploys the stack (static only: faster, and the API cannot run locally) through the edge.
fn deploy(w: &World, stack: &str, edge: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--parameter",
        "EnableApi=false",
        "--url",
        edge,
        "--verify-timeout",
        "2",
        "--json",
    ];
    args.extend_from_slice(extra);
    w.run_stack("deploy", stack, &args)
}

/// A good deploy of the small SPA through a fresh edge: the stack's guard (it destroys the stack
/// when the test ends), its name, the edge, its outputs.
fn deployed(w: &World) -> (StackGuard<'_>, String, Edge, Value) {
    spa(w, "v1");
    let name = w.stack_name();
    let stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    let out = deploy(w, &name, &edge.url, &[]);
    assert_success(&out);
    let outputs = json(&out)["stack"]["outputs"].clone();
    (stack, name, edge, outputs)
}

fn verify(w: &World, stack: &str, edge: &str) -> std::process::Output {
    w.cmd(&[
        "verify",
        "--stack",
        stack,
        "--url",
        edge,
        "--verify-timeout",
        "2",
        "--json",
    ])
    .output()
    .unwrap()
}

fn put_policy(w: &World, bucket: &str, statements: Value) {
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    block(async {
        w.s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .expect("put bucket policy")
    });
}

#[test]
fn a_good_deploy_passes_verification_through_the_local_edge() {
    let w = World::new("verify-good");
    spa(&w, "v1");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    let out = deploy(&w, &name, &edge.url, &["--deep-route", "/settings/profile"]);
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["verify"]["ok"], true, "{report:#}");
    for name in [
        "apex",
        "deep route",
        "missing asset",
        "direct S3",
        "HTML cache",
        "security headers",
        "hashed asset",
        "state hidden",
    ] {
        assert_eq!(outcome(&report, name), "pass", "{name}: {report:#}");
    }
    assert_eq!(outcome(&report, "https redirect"), "skip");
    assert_eq!(
        check(&report, "deep route")["url"],
        format!("{}/settings/profile", edge.url)
    );
    assert!(check(&report, "apex")["evidence"]
        .as_str()
        .unwrap()
        .contains("the index.html just deployed"));
    assert!(stderr(&out).contains("PASS  apex"), "{}", stderr(&out));

    // The edge serves the private bucket as CloudFront would: shell for routes, the asset
    // with its immutable Cache-Control and the security headers, the 404 page for a missing
    // file, and the bucket refuses anyone else.
    let deep = http_get(&format!("{}/a/b/c", edge.url));
    assert_eq!(deep.status, 200);
    assert!(String::from_utf8_lossy(&deep.body).contains("<title>v1</title>"));
    let asset = http_get(&format!("{}/assets/app.5d41402a.js", edge.url));
    assert_eq!(
        asset.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(asset.header("x-frame-options"), Some("DENY"));
    let again = http_get(&format!("{}/assets/app.5d41402a.js", edge.url));
    assert_eq!(again.header("x-cache"), Some("Hit from shipit-edge"));
    let missing = http_get(&format!("{}/nope.png", edge.url));
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("not found"));
    let bucket = report["stack"]["outputs"]["SiteBucketName"]
        .as_str()
        .unwrap();
    let direct = http_get(&format!(
        "{}/{bucket}/index.html",
        crate::support::cloud_endpoint()
    ));
    assert_eq!(direct.status, 403);

    // On its own, verify reads the deployed index.html from the bucket and agrees.
    let out = verify(&w, &name, &edge.url);
    assert_success(&out);
    assert_eq!(json(&out)["verify"]["ok"], true);
}

#[test]
fn verify_fails_when_the_bucket_is_public() {
    let w = World::new("verify-public");
    let (_stack, name, edge, outputs) = deployed(&w);
    let bucket = outputs["SiteBucketName"].as_str().unwrap();
    put_policy(
        &w,
        bucket,
        serde_json::json!([
            {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{bucket}/*"),
             "Condition": {"StringEquals": {"AWS:SourceArn": outputs["DistributionArn"]}}},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}
        ]),
    );
    let out = verify(&w, &name, &edge.url);
    assert_exit(&out, SITE_BROKEN);
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["kind"], "site_broken");
    assert_eq!(outcome(&report, "direct S3"), "fail");
    assert!(
        cause(&report, "direct S3").contains("the bucket is public"),
        "{report:#}"
    );
    assert_eq!(
        outcome(&report, "apex"),
        "pass",
        "only the privacy check fails"
    );
    assert!(stderr(&out).contains("direct S3"), "{}", stderr(&out));
}

#[test]
fn verify_fails_when_the_bucket_policy_trusts_another_distribution() {
    let w = World::new("verify-arn");
    let (_stack, name, edge, outputs) = deployed(&w);
    let bucket = outputs["SiteBucketName"].as_str().unwrap().to_string();
    put_policy(
        &w,
        &bucket,
        serde_json::json!([
            {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
             "Resource": format!("arn:aws:s3:::{bucket}/*"),
             "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/EOTHERDISTRO"}}}
        ]),
    );
    let out = verify(&w, &name, &edge.url);
    assert_exit(&out, SITE_BROKEN);
    let report = json(&out);
    assert_eq!(outcome(&report, "apex"), "fail");
    assert!(
        cause(&report, "apex").contains("does not trust this distribution"),
        "{report:#}"
    );
    assert_eq!(outcome(&report, "direct S3"), "pass", "still private");
}

#[test]
fn verify_fails_when_the_routing_function_is_removed_and_nothing_is_pruned() {
    let w = World::new("verify-routing");
    spa(&w, "v1");
    w.write("old.txt", "from v1");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    assert_success(&deploy(&w, &name, &edge.url, &[]));

    // The same stack without the viewer-request function on the default behaviour.
    let template = shipit_core::template::EMBEDDED;
    let start = template.find("          FunctionAssociations:").unwrap();
    let end = start + template[start..].find("        CacheBehaviors:").unwrap();
    let no_routing = format!("{}{}", &template[..start], &template[end..]);
    let path = w.write_template("no-routing.yaml", &no_routing);
    w.remove("old.txt");
    let out = deploy(&w, &name, &edge.url, &["--template", &path]);
    assert_exit(&out, SITE_BROKEN);
    let report = json(&out);
    assert_eq!(outcome(&report, "deep route"), "fail", "{report:#}");
    assert!(cause(&report, "deep route").contains("SPA routing is missing"));
    assert_eq!(
        outcome(&report, "state hidden"),
        "pass",
        "without the function, the bucket policy still denies CloudFront .shipit/"
    );
    assert!(
        w.objects_in(json_bucket(&report).as_str())
            .contains_key("old.txt"),
        "a failed verification must not prune"
    );
}

fn json_bucket(report: &Value) -> String {
    report["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "direct S3")
        .and_then(|c| c["url"].as_str())
        .and_then(|u| u.rsplit('/').nth(1))
        .unwrap()
        .to_string()
}

#[test]
fn verify_fails_on_html_cache_control_changed_outside_shipit() {
    let w = World::new("verify-cache");
    let (_stack, name, edge, outputs) = deployed(&w);
    let bucket = outputs["SiteBucketName"].as_str().unwrap().to_string();
    block(async {
        w.s3.copy_object()
            .bucket(&bucket)
            .key("index.html")
            .copy_source(format!("{bucket}/index.html"))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type("text/html; charset=utf-8")
            .cache_control("public, max-age=86400")
            .send()
            .await
            .expect("copy in place")
    });
    let out = verify(&w, &name, &edge.url);
    assert_exit(&out, SITE_BROKEN);
    let report = json(&out);
    assert_eq!(outcome(&report, "HTML cache"), "fail", "{report:#}");
    assert!(cause(&report, "HTML cache").contains("--full-check"));
    assert_eq!(outcome(&report, "apex"), "pass");

    // The fix the cause names works: --full-check rewrites the header, verify passes.
    let out = deploy(&w, &name, &edge.url, &["--full-check"]);
    assert_success(&out);
    assert_eq!(json(&out)["verify"]["ok"], true);
}

#[test]
fn stale_html_after_a_deploy_without_invalidation_fails_and_prunes_nothing() {
    let w = World::new("verify-stale");
    // HTML the CDN may keep for ten minutes: only an invalidation makes a new one visible.
    let config = w.write_config(
        "[[headers]]\nglob = \"**/*.html\"\ncache_control = \"public, max-age=600\"\n",
    );
    spa(&w, "v1");
    w.write("old.txt", "from v1");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    assert_success(&deploy(&w, &name, &edge.url, &["--config", &config]));

    spa(&w, "v2");
    w.remove("old.txt");
    let out = deploy(
        &w,
        &name,
        &edge.url,
        &["--config", &config, "--no-invalidate"],
    );
    assert_exit(&out, SITE_BROKEN);
    let report = json(&out);
    assert_eq!(outcome(&report, "apex"), "fail", "{report:#}");
    assert!(cause(&report, "apex").contains("stale HTML"), "{report:#}");
    assert!(
        w.objects_in(&json_bucket(&report)).contains_key("old.txt"),
        "a failed verification must not prune"
    );

    // The next deploy has nothing to upload, but the manifest remembers what the failed one
    // left uninvalidated: it invalidates that, verifies, and only then prunes.
    let out = deploy(&w, &name, &edge.url, &["--config", &config]);
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["summary"]["uploaded"], 0, "{report:#}");
    assert_eq!(report["verify"]["ok"], true);
    assert!(
        report["summary"]["invalidated_paths"].as_u64().unwrap() >= 3,
        "{report:#}"
    );
    assert!(!w.objects_in(&json_bucket(&report)).contains_key("old.txt"));
    // Settled: a further deploy has nothing pending and writes nothing.
    let out = deploy(&w, &name, &edge.url, &["--config", &config]);
    assert_success(&out);
    assert_eq!(json(&out)["summary"]["invalidated_paths"], 0);
}

#[test]
fn preview_serves_a_build_with_production_routing_and_headers() {
    let w = World::new("preview");
    spa(&w, "v1");
    w.write("docs/index.html", "<!doctype html><title>docs</title>");
    let site = w.site().to_str().unwrap().to_string();
    let edge = w.edge(&[&site]);
    let out = w
        .cmd(&[
            "verify",
            "--url",
            &edge.url,
            "--dir",
            &site,
            "--verify-timeout",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    assert_eq!(outcome(&report, "deep route"), "pass");
    assert_eq!(outcome(&report, "direct S3"), "skip");
    let shell = http_get(&format!("{}/docs", edge.url));
    assert!(
        String::from_utf8_lossy(&shell.body).contains("<title>v1</title>"),
        "SPA: every route is the shell"
    );
    assert_eq!(
        http_get(&format!("{}/.shipit/manifest.json", edge.url)).status,
        404
    );

    // A multi-page site: directory indexes instead of the shell.
    let pages = w.edge(&[&site, "--parameter", "SpaFallback=false"]);
    let docs = http_get(&format!("{}/docs", pages.url));
    assert!(String::from_utf8_lossy(&docs.body).contains("<title>docs</title>"));
    let missing = http_get(&format!("{}/settings/profile", pages.url));
    assert_eq!(missing.status, 404);
    assert!(
        String::from_utf8_lossy(&missing.body).contains("not found"),
        "the 404 page"
    );

    // A directory that is not there is refused before serving.
    let out = w
        .cmd(&["preview", "/nonexistent/build", "--port", "0"])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("not a build directory"));
}

/// A function of the user's own, in the template: its JavaScript runs at the local edge, on
/// viewer request (a redirect, basic auth from a header) and viewer response (a header).
#[test]
fn preview_runs_a_users_own_cloudfront_functions() {
    let w = World::new("preview-js");
    spa(&w, "v1");
    let site = w.site().to_str().unwrap().to_string();
    let anchor = "          var request = event.request;\n";
    let own = "          var request = event.request;\n          if (request.uri === \"/old\") {\n            return { statusCode: 301, statusDescription: \"Moved\", headers: { location: { value: \"/new?from=\" + request.uri } } };\n          }\n          var auth = request.headers.authorization;\n          if (request.uri === \"/private\" && !(auth && auth.value === \"Basic dTpw\")) {\n            return { statusCode: 401, statusDescription: \"Unauthorized\", headers: { \"www-authenticate\": { value: \"Basic\" } } };\n          }\n";
    assert!(shipit_core::template::EMBEDDED.contains(anchor));
    let template = shipit_core::template::EMBEDDED.replacen(anchor, own, 1);
    let path = w.write_template("own.yaml", &template);
    let edge = w.edge(&[&site, "--template", &path]);
    let (status, headers, _) = crate::support::http("GET", &format!("{}/old", edge.url), &[], "");
    assert_eq!(status, 301);
    assert_eq!(headers["location"], "/new?from=/old");
    let (status, headers, _) =
        crate::support::http("GET", &format!("{}/private", edge.url), &[], "");
    assert_eq!(
        (status, headers["www-authenticate"].as_str()),
        (401, "Basic")
    );
    let (status, _, body) = crate::support::http(
        "GET",
        &format!("{}/private", edge.url),
        &[("authorization", "Basic dTpw")],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<title>v1</title>"), "the SPA shell: {body}");
    // Code that throws is CloudFront's 503, never a page served as if it had run.
    let broken = shipit_core::template::EMBEDDED.replacen(
        anchor,
        "          throw new Error(\"broken\");\n",
        1,
    );
    let path = w.write_template("broken.yaml", &broken);
    let edge = w.edge(&[&site, "--template", &path]);
    let (status, _, _) = crate::support::http("GET", &format!("{}/", edge.url), &[], "");
    assert_eq!(status, 503);
}
