//! The local cloud for integration tests: one moto server per test binary (started by
//! `scripts/local-cloud --watch-stdin`, so it exits when this process does, however it ends),
//! a fresh bucket and recording proxy per test, the real `shipit` binary, and an S3 client
//! to check the emulator's state independently of what shipit reports.

#![allow(dead_code)]

pub mod proxy;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_sdk_s3::Client;

pub use proxy::{Proxy, Request};

struct Cloud {
    endpoint: String,
    // Held so the pipe stays open: the server exits when it closes, i.e. with this process.
    _child: Mutex<Child>,
}

fn cloud() -> &'static Cloud {
    static CLOUD: OnceLock<Cloud> = OnceLock::new();
    CLOUD.get_or_init(|| {
        let cloud = start_cloud();
        // As a user does once per account and region: API Gateway's CloudWatch role, which
        // every stack with an API needs (the local cloud refuses a logging stage without it).
        let out = shipit_at(&cloud.endpoint, &["bootstrap"]).output().unwrap();
        assert!(
            out.status.success(),
            "shipit bootstrap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cloud
    })
}

fn start_cloud() -> Cloud {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/local-cloud");
    let mut child = Command::new(script)
        .arg("--watch-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start scripts/local-cloud (needs python3)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the local cloud's endpoint");
    let endpoint = line.trim().to_string();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "local cloud said {endpoint:?}"
    );
    Cloud {
        endpoint,
        _child: Mutex::new(child),
    }
}

/// The real binary against a local cloud's endpoint, with test credentials.
pub fn shipit_at(endpoint: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipit"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("CI", "true");
    c
}

/// A local cloud of the test's own (a separate server, stopped when this is dropped), for
/// tests that change the account itself (its quotas, its account-wide settings), which the
/// shared one must not see. Not bootstrapped.
pub struct OwnCloud {
    cloud: Cloud,
}

impl OwnCloud {
    pub fn start() -> OwnCloud {
        OwnCloud {
            cloud: start_cloud(),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.cloud.endpoint
    }

    /// Sets what the account offers and allows (crates/local-cloud/rig/account.py's settings).
    pub fn set_account(&self, settings: &str) {
        let url = format!("{}/_shipit/account", self.cloud.endpoint);
        let (status, _, body) = http(
            "POST",
            &url,
            &[("content-type", "application/json")],
            settings,
        );
        assert_eq!(status, 200, "{body}");
    }
}

impl Drop for OwnCloud {
    fn drop(&mut self) {
        if let Ok(mut child) = self.cloud._child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The local cloud's own endpoint (not the recording proxy).
pub fn cloud_endpoint() -> String {
    cloud().endpoint.clone()
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A direct S3 client to the emulator (not through the proxy).
pub fn s3() -> Client {
    s3_at(&cloud().endpoint)
}

/// S3 at a given local cloud.
pub fn s3_at(endpoint: &str) -> Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

pub fn block<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// One test's world: a versioned bucket, a build directory, a proxy that records requests.
pub struct World {
    pub bucket: String,
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub proxy: Proxy,
    pub s3: Client,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub etag: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadInfo {
    pub content_type: String,
    pub cache_control: String,
    pub etag: String,
    pub metadata: BTreeMap<String, String>,
}

impl World {
    pub fn new(name: &str) -> World {
        static N: AtomicUsize = AtomicUsize::new(0);
        let bucket = format!(
            "t-{}-{}-{}",
            name.replace('_', "-"),
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let s3 = s3();
        block(async {
            s3.create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .expect("create bucket");
            s3.put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("enable versioning");
        });
        World {
            bucket,
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            proxy: Proxy::start(&cloud().endpoint),
            s3,
        }
    }

    pub fn site(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, body: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        p
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).unwrap();
    }

    /// A shipit command with hermetic AWS settings, pointed at the proxy.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shipit"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("AWS_ENDPOINT_URL", &self.proxy.url)
            .env("CI", "true")
            .env("SHIPIT_LAMBDA_PYTHON", lambda_python())
            .current_dir(self.home.path());
        c
    }

    /// Runs `shipit <command> <site> --bucket <bucket> <extra>`.
    pub fn run(&self, command: &str, extra: &[&str]) -> Output {
        let site = self.site().to_str().unwrap().to_string();
        let mut args = vec![command, site.as_str(), "--bucket", self.bucket.as_str()];
        args.extend_from_slice(extra);
        self.cmd(&args).output().unwrap()
    }

    pub fn deploy(&self, extra: &[&str]) -> Output {
        let out = self.run("deploy", extra);
        assert_success(&out);
        out
    }

    pub fn write_config(&self, toml: &str) -> String {
        let p = self.home.path().join("custom-config.toml");
        std::fs::write(&p, toml).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// Key -> (ETag, size) of the current objects, shipit's own state excluded.
    pub fn objects(&self) -> BTreeMap<String, Object> {
        self.objects_in(&self.bucket)
    }

    /// The same for another bucket (a stack's).
    pub fn objects_in(&self, bucket: &str) -> BTreeMap<String, Object> {
        self.list(bucket, false)
    }

    /// Every object of the test's bucket, shipit's own state (`.shipit/`) included.
    pub fn objects_with_state(&self) -> BTreeMap<String, Object> {
        self.list(&self.bucket, true)
    }

    fn list(&self, bucket: &str, with_state: bool) -> BTreeMap<String, Object> {
        block(async {
            let mut out = BTreeMap::new();
            let mut pages = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for o in page.unwrap().contents() {
                    let key = o.key().unwrap().to_string();
                    if key.starts_with(".shipit/") && !with_state {
                        continue;
                    }
                    out.insert(
                        key,
                        Object {
                            etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                            size: o.size().unwrap_or(0),
                        },
                    );
                }
            }
            out
        })
    }

    /// Key -> number of versions (every PUT and copy adds one), shipit's state excluded.
    pub fn versions(&self) -> BTreeMap<String, usize> {
        block(async {
            let out = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .send()
                .await
                .unwrap();
            let mut counts = BTreeMap::new();
            for v in out.versions() {
                let key = v.key().unwrap().to_string();
                if !key.starts_with(".shipit/") {
                    *counts.entry(key).or_insert(0) += 1;
                }
            }
            counts
        })
    }

    pub fn head(&self, key: &str) -> HeadInfo {
        self.head_from(&self.bucket, key)
    }

    pub fn head_from(&self, bucket: &str, key: &str) -> HeadInfo {
        block(async {
            let h = self
                .s3
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("head {key}: {e:?}"));
            HeadInfo {
                content_type: h.content_type().unwrap_or_default().to_string(),
                cache_control: h.cache_control().unwrap_or_default().to_string(),
                etag: h.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                metadata: h
                    .metadata()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            }
        })
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.get_from(&self.bucket, key)
    }

    pub fn get_from(&self, bucket: &str, key: &str) -> Vec<u8> {
        block(async {
            let o = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
            o.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }

    pub fn delete_object(&self, key: &str) {
        block(async {
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        });
    }

    /// The write requests shipit sent through the proxy since the last call.
    /// The writes since the last call, the deploy lock's own PUT and DELETE left out (the
    /// lock tests look at those).
    pub fn writes(&self) -> Vec<Request> {
        self.proxy
            .take()
            .into_iter()
            .filter(|r| {
                r.is_write()
                    && !r
                        .target
                        .split('?')
                        .next()
                        .unwrap_or("")
                        .ends_with("/.shipit/lock")
            })
            .collect()
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "shipit failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "want exit {code}\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Decodes a request target's path into the key it names (path-style: /bucket/key).
pub fn key_of(req: &Request, bucket: &str) -> String {
    let path = req.target.split('?').next().unwrap_or_default();
    let rest = path
        .trim_start_matches('/')
        .strip_prefix(bucket)
        .unwrap_or(path);
    let rest = rest.trim_start_matches('/');
    percent_encoding::percent_decode_str(rest)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where the stack's `live` alias sends traffic, through Lambda's API: (version, weights).
pub fn live_alias(function: &str) -> (String, BTreeMap<String, f64>) {
    live_alias_at(&cloud().endpoint, function)
}

/// The same, at a given local cloud.
pub fn live_alias_at(endpoint: &str, function: &str) -> (String, BTreeMap<String, f64>) {
    let conf = aws_sdk_lambda::config::Builder::new()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .build();
    let client = aws_sdk_lambda::Client::from_conf(conf);
    block(async {
        let a = client
            .get_alias()
            .function_name(function)
            .name("live")
            .send()
            .await
            .unwrap();
        (
            a.function_version().unwrap_or_default().to_string(),
            a.routing_config()
                .and_then(|r| r.additional_version_weights())
                .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
        )
    })
}

/// A direct CloudFormation client to the emulator.
pub fn cfn() -> aws_sdk_cloudformation::Client {
    cfn_at(&cloud().endpoint)
}

/// CloudFormation at a given local cloud (an `OwnCloud`'s).
pub fn cfn_at(endpoint: &str) -> aws_sdk_cloudformation::Client {
    let conf = aws_sdk_cloudformation::config::Builder::new()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_cloudformation::Client::from_conf(conf)
}

/// What the emulator says of a stack (None once it is gone).
#[derive(Debug, Clone)]
pub struct StackState {
    pub status: String,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub termination_protection: bool,
}

pub fn stack_state(name: &str) -> Option<StackState> {
    stack_state_at(&cloud().endpoint, name)
}

/// The same, at a given local cloud.
pub fn stack_state_at(endpoint: &str, name: &str) -> Option<StackState> {
    block(async {
        let out = cfn_at(endpoint)
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .ok()?;
        let s = out.stacks().first()?;
        let status = s.stack_status()?.as_str().to_string();
        if status == "DELETE_COMPLETE" {
            return None;
        }
        Some(StackState {
            status,
            outputs: s
                .outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap().to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap().to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            termination_protection: s.enable_termination_protection().unwrap_or(false),
        })
    })
}

impl World {
    /// A stack name unique to this test run.
    pub fn stack_name(&self) -> String {
        format!("s{}", self.bucket.replace(['.', '_'], "-"))
    }
}

/// Destroys the stack when dropped, and (unless the test already failed) checks that it is
/// gone: a test leaves no stack behind, and a destroy that fails fails the test.
pub struct StackGuard<'a> {
    world: &'a World,
    name: String,
}

impl Drop for StackGuard<'_> {
    fn drop(&mut self) {
        let out = self
            .world
            .cmd(&[
                "destroy",
                "--stack",
                &self.name,
                "--yes",
                "--delete-database",
            ])
            .output()
            .unwrap();
        if std::thread::panicking() {
            return;
        }
        assert_success(&out);
        assert!(
            stack_state(&self.name).is_none(),
            "stack {} is still there after destroy:\n{}",
            self.name,
            stderr(&out)
        );
    }
}

impl World {
    pub fn guard_stack(&self, name: &str) -> StackGuard<'_> {
        StackGuard {
            world: self,
            name: name.to_string(),
        }
    }
}

impl World {
    /// Runs `shipit <command> <site> --stack <stack> <extra>`.
    pub fn run_stack(&self, command: &str, stack: &str, extra: &[&str]) -> Output {
        let site = self.site().to_str().unwrap().to_string();
        // A stack that never settles must fail the test in minutes, not hang it for an hour.
        let mut args = vec![
            command,
            site.as_str(),
            "--stack",
            stack,
            "--stack-timeout",
            "2",
        ];
        args.extend_from_slice(extra);
        self.cmd(&args).output().unwrap()
    }

    /// Writes a template file in the test's home and returns its path.
    pub fn write_template(&self, name: &str, body: &str) -> String {
        let p = self.home.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// The CloudFormation actions shipit called since the last call.
    pub fn cfn_actions(&self) -> Vec<String> {
        self.proxy
            .take()
            .into_iter()
            .filter_map(|r| r.action)
            .collect()
    }

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        block(async { self.s3.head_bucket().bucket(bucket).send().await.is_ok() })
    }

    /// Object versions plus delete markers in a bucket (0 when it does not exist).
    pub fn version_count(&self, bucket: &str) -> usize {
        block(async {
            match self.s3.list_object_versions().bucket(bucket).send().await {
                Ok(out) => out.versions().len() + out.delete_markers().len(),
                Err(_) => 0,
            }
        })
    }
}

fn cloudfront() -> aws_sdk_cloudfront::Client {
    cloudfront_at(&cloud().endpoint)
}

/// CloudFront at a given local cloud.
pub fn cloudfront_at(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let conf = aws_sdk_cloudfront::config::Builder::new()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_cloudfront::Client::from_conf(conf)
}

/// A bare distribution in front of a bucket (for invalidations without a stack); its id.
pub fn make_distribution(bucket: &str) -> String {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig,
        ViewerProtocolPolicy,
    };
    let config = DistributionConfig::builder()
        .caller_reference(format!("test-{bucket}"))
        .comment("test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("site")
                        .domain_name(format!("{bucket}.s3.us-east-1.amazonaws.com"))
                        .s3_origin_config(
                            S3OriginConfig::builder().origin_access_identity("").build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("site")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    block(async {
        let out = cloudfront()
            .create_distribution()
            .distribution_config(config)
            .send()
            .await
            .expect("create a distribution");
        out.distribution().unwrap().id().to_string()
    })
}

/// Every path of every invalidation of a distribution, from the emulator's CloudFront API.
pub fn invalidated_paths(distribution: &str) -> Vec<Vec<String>> {
    let client = cloudfront();
    block(async {
        let list = client
            .list_invalidations()
            .distribution_id(distribution)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for summary in list
            .invalidation_list()
            .map(|l| l.items())
            .unwrap_or_default()
        {
            let inv = client
                .get_invalidation()
                .distribution_id(distribution)
                .id(summary.id())
                .send()
                .await
                .unwrap();
            let mut paths: Vec<String> = inv
                .invalidation()
                .and_then(|i| i.invalidation_batch())
                .and_then(|b| b.paths())
                .map(|p| p.items().to_vec())
                .unwrap_or_default();
            paths.sort();
            out.push(paths);
        }
        out
    })
}

/// `shipit preview` running as a child process: a local edge on a free port (and, for a
/// stack with an API, the local API Gateway on another). Killed on drop.
pub struct Edge {
    child: Child,
    pub url: String,
    /// The API's URL (with the stage), when asked for.
    pub api: Option<String>,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Edge {
    fn drop(&mut self) {
        // Closing stdin stops preview (--watch-stdin), which stops the functions it runs;
        // a preview that does not stop in time is killed.
        drop(self.child.stdin.take());
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl World {
    /// Starts `shipit preview <args> --port 0 --watch-stdin`, talking to the local cloud
    /// directly (its polling would otherwise fill the proxy's record).
    pub fn edge(&self, args: &[&str]) -> Edge {
        self.preview(args, false)
    }

    /// The same, for a stack with an API: its URL is the second line.
    pub fn edge_with_api(&self, args: &[&str]) -> Edge {
        self.preview(args, true)
    }

    fn preview(&self, args: &[&str], api: bool) -> Edge {
        let mut all = vec!["preview"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--port", "0", "--api-port", "0", "--watch-stdin", "--quiet"]);
        let mut child = self
            .cmd(&all)
            .env("AWS_ENDPOINT_URL", cloud_endpoint())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shipit preview");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).expect("read the edge's URL");
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "preview said {url:?}");
        let api = api.then(|| {
            let mut line = String::new();
            out.read_line(&mut line).expect("read the API's URL");
            let url = line.trim().to_string();
            assert!(url.starts_with("http://127.0.0.1:"), "preview said {url:?}");
            url
        });
        Edge {
            child,
            url,
            api,
            _stdout: out,
        }
    }
}

/// Creates a stack in the local cloud directly (not through shipit) from `Resources:`, an
/// execution role `Role` for the functions, and `rest` (more resources, then any `Outputs:`).
pub fn create_stack_with_role(name: &str, rest: &str) {
    let body = format!(
        r#"Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ Service: lambda.amazonaws.com }}
            Action: sts:AssumeRole
{rest}"#
    );
    block(async {
        cfn()
            .create_stack()
            .stack_name(name)
            .template_body(body)
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
            .send()
            .await
            .unwrap();
    });
}

/// The Python with the runtime interface client (scripts/setup installs it).
pub fn lambda_python() -> String {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lambda-venv/bin/python");
    assert!(
        venv.exists(),
        "scripts/setup installs awslambdaric into target/lambda-venv"
    );
    venv.to_string_lossy().to_string()
}

/// One HTTP/1.1 request over a fresh connection: (status, headers lower-cased, body).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, BTreeMap<String, String>, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// One call to a JSON-protocol API of the local cloud at `endpoint` (ECS, ECR, DynamoDB...):
/// `target` is the X-Amz-Target. Its status and its answer (Null when not JSON).
pub fn json_call_at(
    endpoint: &str,
    service: &str,
    target: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let auth = shipit_engine::http::local_cloud_authorization(service, "us-east-1");
    let (status, _, text) = http(
        "POST",
        &format!("{endpoint}/"),
        &[
            ("authorization", auth.as_str()),
            ("x-amz-target", target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body,
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// GETs a URL with shipit's own client (status, headers, body).
pub fn http_get(url: &str) -> shipit_engine::http::Response {
    block(async {
        shipit_engine::http::Client::new(std::time::Duration::from_secs(10))
            .unwrap()
            .get(url, &[])
            .await
            .unwrap()
    })
}
