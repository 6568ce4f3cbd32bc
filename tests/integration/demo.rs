//! The README's main job, as a test: `scripts/demo` starts its own local cloud and edge,
//! deploys site-example with the whole stack, verifies it, ships the example API's own code
//! (verified through real PostgreSQL and Redis), redeploys (nothing to do), lets a user sign in
//! through the site in headless Chromium and add an item, and destroys it.
//!
//! The demo pauses before its destroy and after it (`SHIPIT_DEMO_PAUSE`), and the result is
//! judged there through the AWS APIs of its local cloud and over HTTP, as a user would check a
//! deployment with the AWS CLI and curl, not through what shipit printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::support::{block, cfn_at, cloudfront_at, http, live_alias_at, s3_at};

/// Reads the demo's stdout up to the line `until`, and gives the lines read.
fn lines_until(out: &mut impl BufRead, until: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!(
                "the demo ended before {until:?}; its stdout:\n{}",
                seen.join("\n")
            );
        }
        let line = line.trim_end().to_string();
        if line == until {
            return seen;
        }
        seen.push(line);
    }
}

fn value_of<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in the demo's stdout:\n{}", lines.join("\n")))
}

#[test]
fn the_main_job_deploys_site_example_and_verifies_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let stack = format!("demo-test-{}", std::process::id());
    let mut demo = Command::new(format!("{root}/scripts/demo"))
        .env("SHIPIT_BIN", env!("CARGO_BIN_EXE_shipit"))
        .env("SHIPIT_DEMO_STACK", &stack)
        .env("SHIPIT_DEMO_PAUSE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/demo");
    // Whatever happens below, the demo's input closes when `demo` is dropped: it goes on to
    // destroy its stack and stops its servers.
    let mut input = demo.stdin.take().unwrap();
    let mut err = demo.stderr.take().unwrap();
    let said = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let mut out = BufReader::new(demo.stdout.take().unwrap());
    let lines = lines_until(&mut out, "paused");
    let edge = value_of(&lines, "site URL (local edge): ").to_string();
    let api = value_of(&lines, "API URL (local API Gateway): ").to_string();
    let cloud = value_of(&lines, "local cloud: ").to_string();
    assert!(edge.starts_with("http://127.0.0.1:"), "{edge}");

    // The site, over HTTP, as a browser gets it.
    let get = |url: &str| http("GET", url, &[], "");
    let (status, headers, shell) = get(&format!("{edge}/"));
    assert_eq!(status, 200, "apex");
    assert!(
        headers["content-type"].starts_with("text/html"),
        "{headers:?}"
    );
    for header in [
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
    ] {
        assert!(
            headers.contains_key(header),
            "apex without {header}: {headers:?}"
        );
    }
    let (status, _, deep) = get(&format!("{edge}/settings/profile"));
    assert_eq!(
        (status, &deep),
        (200, &shell),
        "a deep route is the SPA shell"
    );
    let (status, _, missing) = get(&format!("{edge}/assets/missing-0000aaaa.js"));
    assert_ne!(status, 200, "a missing asset");
    assert_ne!(missing, shell, "a missing asset is not the shell");
    let asset = shell
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no script in the shell:\n{shell}"));
    let (status, headers, _) = get(&format!("{edge}{asset}"));
    assert_eq!(status, 200, "{asset}");
    assert!(
        headers["cache-control"].contains("immutable"),
        "{asset}: {headers:?}"
    );
    // The API, through its API Gateway: health, and a refusal without a token.
    let (status, _, body) = get(&format!("{api}/health"));
    assert_eq!(status, 200, "{api}/health: {body}");
    let (status, _, _) = get(&format!("{api}/items"));
    assert_eq!(status, 401, "{api}/items without a token");

    // The account, through the AWS APIs.
    let cfn = cfn_at(&cloud);
    let (status, outputs) = block(async {
        let s = cfn
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        let s = &s.stacks()[0];
        let outputs: std::collections::BTreeMap<String, String> = s
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap_or_default().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        (s.stack_status().unwrap().as_str().to_string(), outputs)
    });
    assert!(
        status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE",
        "{stack}: {status}"
    );
    let bucket = &outputs["SiteBucketName"];
    let s3 = s3_at(&cloud);
    let index = block(s3.head_object().bucket(bucket).key("index.html").send()).unwrap();
    assert!(index
        .content_type()
        .unwrap_or_default()
        .starts_with("text/html"));
    let key = asset.trim_start_matches('/');
    let object = block(s3.head_object().bucket(bucket).key(key).send()).unwrap();
    assert!(object
        .cache_control()
        .unwrap_or_default()
        .contains("immutable"));
    // Private: an unsigned request to the bucket itself is refused.
    let (status, _, _) = get(&format!("{cloud}/{bucket}/index.html"));
    assert_eq!(status, 403, "the site bucket answered an anonymous GET");
    // Only CloudFront reaches it, as this distribution (Origin Access Control): the bucket
    // policy's one reader. (moto's GetDistribution drops an origin's OriginAccessControlId,
    // so the distribution itself is judged by its ARN and state.)
    let cloudfront = cloudfront_at(&cloud);
    let distribution = block(
        cloudfront
            .get_distribution()
            .id(&outputs["DistributionId"])
            .send(),
    )
    .unwrap();
    let distribution = distribution.distribution().unwrap();
    assert!(distribution.distribution_config().unwrap().enabled());
    let policy = block(s3.get_bucket_policy().bucket(bucket).send()).unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).unwrap();
    let readers: Vec<&serde_json::Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(readers.len(), 1, "{policy}");
    assert_eq!(
        readers[0]["Principal"]["Service"], "cloudfront.amazonaws.com",
        "{policy}"
    );
    assert_eq!(
        readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"],
        distribution.arn(),
        "{policy}"
    );
    // The API's traffic goes to a published version, never $LATEST.
    let (version, weights) = live_alias_at(&cloud, &outputs["ApiFunctionName"]);
    assert!(version.parse::<u32>().is_ok(), "live is on {version}");
    assert!(weights.is_empty(), "a canary left behind: {weights:?}");

    // The destroy: the stack and the site bucket are gone.
    writeln!(input).unwrap();
    lines_until(&mut out, "destroyed");
    let gone = block(async {
        match cfn.describe_stacks().stack_name(&stack).send().await {
            Err(_) => true,
            Ok(s) => s
                .stacks()
                .iter()
                .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE")),
        }
    });
    assert!(gone, "{stack} is still there");
    assert!(
        block(s3.head_bucket().bucket(bucket).send()).is_err(),
        "the site bucket {bucket} is still there"
    );
    drop(input);
    let status = demo.wait().unwrap();
    let stderr = said.join().unwrap();
    assert!(status.success(), "the demo failed:\n{stderr}");
    // No shell warnings (bash says "scripts/demo: line N: ..." or "warning: ...").
    let shell_warnings = stderr
        .lines()
        .filter(|l| {
            l.contains("scripts/demo: line")
                || l.contains("execute_coproc")
                || l.starts_with("bash:")
        })
        .collect::<Vec<_>>();
    assert!(
        shell_warnings.is_empty(),
        "the shell warned: {shell_warnings:?}"
    );
}
