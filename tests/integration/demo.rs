//! The README's main job, as a test: `scripts/demo` starts its own local cloud and edge,
//! deploys site-example with the whole stack, verifies it, ships the example API's own code
//! (verified through real PostgreSQL and Redis), redeploys (nothing to do), lets a user sign in
//! through the site in headless Chromium and add an item, and destroys it; with `--backend
//! container`, the API switches to tasks the local cloud runs from site-example/service, and
//! the user signs in through them.
//!
//! The demo pauses before its destroy and after it (`SHIPIT_DEMO_PAUSE`), and the result is
//! judged there through the AWS APIs of its local cloud and over HTTP, as a user would check a
//! deployment with the AWS CLI and curl, not through what shipit printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{
    block, cfn_at, cloudfront_at, http, json_call_at, live_alias_at, s3_at, stack_state_at,
};

/// How long the demo may take to reach a pause: a cold machine builds site-example with npm
/// and starts PostgreSQL and Redis first (a warm run takes well under a minute).
const TO_A_PAUSE: Duration = Duration::from_secs(20 * 60);

/// The demo, running: its stdout line by line, its stderr as it comes. Dropped, it gets its
/// input closed (it destroys its stack and stops its servers, as after a pause), and is
/// killed if it has not ended within minutes: a failed assertion leaves nothing running.
struct Demo {
    child: Child,
    input: Option<ChildStdin>,
    lines: Receiver<String>,
    said: Arc<Mutex<String>>,
}

impl Demo {
    fn start(stack: &str, args: &[&str]) -> Demo {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new(format!("{root}/scripts/demo"))
            .args(args)
            .env("SHIPIT_BIN", env!("CARGO_BIN_EXE_shipit"))
            .env("SHIPIT_DEMO_STACK", stack)
            .env("SHIPIT_DEMO_PAUSE", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run scripts/demo");
        let said = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = said.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (send, lines) = channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            input: child.stdin.take(),
            child,
            lines,
            said,
        }
    }

    fn stderr(&self) -> String {
        self.said.lock().unwrap().clone()
    }

    /// The stdout lines up to the line `until`; fails, with everything the demo said, if the
    /// demo ends or takes longer than `TO_A_PAUSE` first.
    fn until(&self, until: &str) -> Vec<String> {
        let deadline = Instant::now() + TO_A_PAUSE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == until => return seen,
                Ok(line) => seen.push(line),
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => format!("no {until:?} within {TO_A_PAUSE:?}"),
                        RecvTimeoutError::Disconnected => {
                            format!("the demo ended before {until:?}")
                        }
                    };
                    panic!(
                        "{why}\n--- stdout:\n{}\n--- stderr:\n{}",
                        seen.join("\n"),
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Lets the demo go on from a pause.
    fn resume(&mut self) {
        writeln!(self.input.as_mut().unwrap()).unwrap();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        drop(self.input.take());
        let deadline = Instant::now() + Duration::from_secs(5 * 60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let stack = format!("demo-test-{}", std::process::id());
    let mut demo = Demo::start(&stack, &[]);
    let lines = demo.until("paused");
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
    let state = stack_state_at(&cloud, &stack).unwrap_or_else(|| panic!("no stack {stack}"));
    assert!(
        ["CREATE_COMPLETE", "UPDATE_COMPLETE"].contains(&state.status.as_str()),
        "{stack}: {}",
        state.status
    );
    let outputs = state.outputs;
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

    // The destroy: the stack and the site bucket are gone (asked of a local cloud that still
    // answers: a refused connection is not "gone").
    demo.resume();
    demo.until("destroyed");
    let gone = block(async {
        match cfn_at(&cloud)
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
        {
            Ok(s) => s
                .stacks()
                .iter()
                .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE")),
            Err(e) => {
                use aws_sdk_cloudformation::error::ProvideErrorMetadata;
                let e = e.into_service_error();
                assert_eq!(e.code(), Some("ValidationError"), "{e:?}");
                assert!(
                    e.message().unwrap_or_default().contains("does not exist"),
                    "{e:?}"
                );
                true
            }
        }
    });
    assert!(gone, "{stack} is still there");
    let bucket_gone = block(s3.head_bucket().bucket(bucket).send())
        .err()
        .map(|e| e.into_service_error().is_not_found());
    assert_eq!(
        bucket_gone,
        Some(true),
        "the site bucket {bucket} is still there"
    );
    drop(demo.input.take());
    let status = demo.child.wait().unwrap();
    let stderr = demo.stderr();
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

#[test]
fn the_container_demo_runs_the_same_api_as_tasks_and_a_user_signs_in_through_them() {
    let stack = format!("demo-ctr-{}", std::process::id());
    let mut demo = Demo::start(&stack, &["--backend", "container"]);
    let lines = demo.until("paused");
    let api = value_of(&lines, "API URL (local API Gateway): ").to_string();
    let cloud = value_of(&lines, "local cloud: ").to_string();

    // The stack runs the API as a service now: no function, a Fargate service whose image is
    // the stand-in of site-example/service, its two tasks healthy behind the load balancer.
    let outputs = stack_state_at(&cloud, &stack).unwrap().outputs;
    assert!(!outputs.contains_key("ApiFunctionName"), "{outputs:?}");
    let ecs = |action: &str, body: String| {
        let (status, v) = json_call_at(
            &cloud,
            "ecs",
            &format!("AmazonEC2ContainerServiceV20141113.{action}"),
            &body,
        );
        assert_eq!(status, 200, "{action}: {v}");
        v
    };
    let service = ecs(
        "DescribeServices",
        format!(
            r#"{{"cluster": "{}", "services": ["{}"]}}"#,
            outputs["ClusterName"], outputs["ServiceName"]
        ),
    )["services"][0]
        .clone();
    assert_eq!(service["launchType"], "FARGATE", "{service}");
    let task = service["taskDefinition"].as_str().unwrap();
    let image = ecs(
        "DescribeTaskDefinition",
        format!(r#"{{"taskDefinition": "{task}"}}"#),
    )["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        image.contains(".amazonaws.com/shipit-local/demo-ctr-") && image.contains("@sha256:"),
        "{image}"
    );
    // The load balancer's targets, asked of the local cloud as its API Gateway asks.
    let balancer = &outputs["LoadBalancerArn"];
    let targets_url = format!(
        "{cloud}/_shipit/elb/targets?loadBalancer={}",
        percent_encoding::utf8_percent_encode(balancer, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, _, targets) = http("GET", &targets_url, &[], "");
    assert_eq!(status, 200);
    let targets: serde_json::Value = serde_json::from_str(&targets).unwrap();
    let healthy = targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["health"] == "healthy")
        .count();
    assert_eq!(healthy, 2, "{targets}");

    // Through the API, and in the table: the item the user added through the site, by the
    // tasks, with the task role's credentials.
    let (status, _, body) = http("GET", &format!("{api}/health"), &[], "");
    assert_eq!((status, body.as_str()), (200, r#"{"ok": true}"#));
    let (status, scanned) = json_call_at(
        &cloud,
        "dynamodb",
        "DynamoDB_20120810.Scan",
        &format!(r#"{{"TableName": "{}"}}"#, outputs["TableName"]),
    );
    assert_eq!(status, 200, "{scanned}");
    assert!(scanned.to_string().contains("first item"), "{scanned}");
    // Every store, the stack's parameters among them, answered the tasks: the demo's sign-in
    // saw them all "ok" (its own assertion), and said which.
    let said = demo.stderr();
    assert!(
        said.contains("postgres ok, redis ok, parameters ok"),
        "{said}"
    );

    // The destroy stops the tasks with the stack.
    demo.resume();
    demo.until("destroyed");
    let (_, _, left) = http("GET", &targets_url, &[], "");
    assert_eq!(left, r#"{"targets": []}"#);
    drop(demo.input.take());
    let status = demo.child.wait().unwrap();
    assert!(status.success(), "the demo failed:\n{}", demo.stderr());
}
