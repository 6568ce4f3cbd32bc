//! The settings every command runs with, as plain validated data: where the site is (a bucket
//! given, or the stack that owns it), how to reach AWS, and how to upload, prune, invalidate,
//! verify and lock. `config` builds them from flags, environment and `shipit.toml`, once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::headers::HeaderRules;
use crate::plan::PruneCap;
use crate::release::Retention;

/// Writes in flight at first; without `--concurrency` the limit adapts from here
/// (`core::concurrency`, measured in BENCHMARKS.md).
pub const DEFAULT_CONCURRENCY: usize = 32;
pub const DEFAULT_MULTIPART_THRESHOLD_MIB: u64 = 64;
pub const DEFAULT_PART_SIZE_MIB: u64 = 16;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_MAX_DELETES: usize = 1000;
pub const DEFAULT_MAX_DELETE_SHARE: f64 = 0.5;

/// How to verify a site: flags over the file.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub enabled: bool,
    pub url: Option<String>,
    pub s3_url: Option<String>,
    pub api_url: Option<String>,
    pub deep_routes: Vec<String>,
    pub timeout: Duration,
}

/// Seconds verification retries failing checks by default: a new distribution or an
/// invalidation can take minutes to reach every edge location.
pub const DEFAULT_VERIFY_TIMEOUT_SECONDS: u64 = 300;

/// What to do with CloudFront after the writes.
#[derive(Debug, Clone)]
pub struct CdnSettings {
    /// Known up front without a stack; with one, it comes from the stack's outputs.
    pub distribution_id: Option<String>,
    pub invalidate: bool,
    pub max_paths: usize,
    pub wait: bool,
    pub wait_timeout: Duration,
}

pub const DEFAULT_MAX_INVALIDATION_PATHS: usize = 50;
pub const DEFAULT_INVALIDATION_WAIT_MINUTES: u64 = 15;

/// The deploy lock's timing.
#[derive(Debug, Clone, Copy)]
pub struct LockSettings {
    pub ttl: Duration,
    pub wait: Duration,
}

/// Custom endpoints per service (emulators, VPC endpoints); None means AWS's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub cloudformation: Option<String>,
    pub cloudfront: Option<String>,
    pub lambda: Option<String>,
}

/// Where the AWS APIs are and who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoints: Endpoints,
    pub max_attempts: u32,
    pub timeouts: Timeouts,
}

/// How long a request to AWS may take. An endpoint that accepts the connection and never
/// answers fails the attempt after `read`; attempts are retried (`max_attempts`), and the
/// whole operation never takes longer than `operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Until the first byte of the answer.
    pub read: Duration,
    /// One attempt, its upload included (a 16 MiB part at 1 MB/s takes 17 s).
    pub attempt: Duration,
    /// All attempts of one operation.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            attempt: Duration::from_secs(300),
            operation: Duration::from_secs(900),
        }
    }
}

impl Connection {
    /// Whether any endpoint is custom (then a missing region defaults to us-east-1). A custom
    /// endpoint is not always the local cloud (LocalStack, a VPC or FIPS endpoint): the engine
    /// asks the endpoint itself.
    pub fn has_custom_endpoint(&self) -> bool {
        self.endpoints.s3.is_some() || self.endpoints.cloudformation.is_some()
    }
}

/// Everything a deploy or a plan needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    /// Where the site goes: a bucket given, or the bucket of the stack shipit ensures.
    pub target: SiteTarget,
    /// Empty, or ends with `/`.
    pub prefix: String,
    pub connection: Connection,
    pub excludes: Vec<String>,
    pub rules: HeaderRules,
    pub allow_missing_index: bool,
    pub full_check: bool,
    /// Writes in flight at first; fixed unless `adaptive`.
    pub concurrency: usize,
    /// Whether the writes' concurrency adapts (no `--concurrency` or `[upload] concurrency`).
    pub adaptive: bool,
    pub multipart_threshold: u64,
    pub part_size: u64,
    pub prune: bool,
    pub prune_cap: PruneCap,
    pub allow_large_prune: bool,
    pub cdn: CdnSettings,
    /// Which content-hashed assets the prune spares for earlier releases.
    pub retention: Retention,
    pub lock: LockSettings,
    /// The API's code to package and ship with the stack (`[api]`, `--api-source`).
    pub api: Option<ApiSettings>,
    /// What the local cloud runs for a container backend without an image (`[api]
    /// local_command`); ignored on AWS.
    pub local_service: Option<crate::container::LocalService>,
    /// The key (under the prefix) of the SPA's runtime configuration, for a stack's site.
    pub runtime_config: Option<String>,
    /// The git commit being deployed (CI's `GITHUB_SHA`, else the build directory's
    /// repository's HEAD), recorded with a release.
    pub commit: Option<String>,
}

/// The API's function code: where its source is and how Lambda runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub source: PathBuf,
    /// `module.function`, as Lambda's Python runtime reads it.
    pub handler: String,
    pub runtime: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// The share (1-99) of the traffic a new version takes first, and for how long.
    pub canary: Option<(u8, Duration)>,
}

/// Seconds a canary is checked by default.
pub const DEFAULT_CANARY_SECONDS: u64 = 60;

pub const DEFAULT_API_HANDLER: &str = "handler.handler";
pub const DEFAULT_API_RUNTIME: &str = "python3.12";
pub const DEFAULT_API_ARCHITECTURE: &str = "x86_64";

/// A deployed site to read (releases, unlock, verify): where it is and how to reach AWS.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub target: SiteTarget,
    /// Empty, or ends with `/`.
    pub prefix: String,
    pub connection: Connection,
}

/// Where a site lives: known up front, or found in the outputs of the stack shipit ensures.
#[derive(Debug, Clone)]
pub enum SiteTarget {
    /// An existing bucket (`--bucket`).
    Bucket(String),
    /// The stack that owns the bucket (`--stack`); the bucket is its `SiteBucketName` output.
    Stack(StackSettings),
}

impl SiteTarget {
    pub fn stack(&self) -> Option<&StackSettings> {
        match self {
            SiteTarget::Stack(s) => Some(s),
            SiteTarget::Bucket(_) => None,
        }
    }
}

/// Default seconds a lock lives: longer than any deploy, short enough to recover from a crash.
pub const DEFAULT_LOCK_TTL_SECONDS: u64 = 30 * 60;
/// The shortest a lock may live: a heartbeat renews it every third of its TTL.
pub const MIN_LOCK_TTL_SECONDS: u64 = 60;
/// Default seconds a second run waits for the first.
pub const DEFAULT_LOCK_WAIT_SECONDS: u64 = 120;

/// Minutes to wait for CloudFormation by default (RDS and CloudFront creates take long).
pub const DEFAULT_STACK_TIMEOUT_MINUTES: u64 = 60;

pub fn normalise_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// How shipit should ensure the stack.
#[derive(Debug, Clone)]
pub struct StackSettings {
    pub name: String,
    pub template: Option<PathBuf>,
    /// Values given explicitly (file, flags); the template's defaults fill the rest.
    pub parameters: BTreeMap<String, String>,
    /// Allow a change set that replaces or removes a stateful resource.
    pub allow_replace: bool,
    /// Delete a stack whose first create failed (ROLLBACK_COMPLETE) and create it again.
    pub recreate: bool,
    /// How long to wait for CloudFormation (another operation in progress, create, update).
    pub timeout: Duration,
    /// The service role CloudFormation acts with.
    pub role_arn: Option<String>,
    /// The stack's parameters (`shipit params`) the tasks of a container backend get as
    /// secrets, by name; the template takes them at its `container::SECRETS_MARKER`.
    pub task_secrets: Vec<String>,
}
