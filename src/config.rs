//! `shipit.toml` + environment + flags -> [`Settings`]. Pure apart from reading the file.
//!
//! Precedence, highest first: command-line flags, `SHIPIT_*` environment variables (clap reads
//! them into the same fields as the flags), the configuration file, built-in defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::{GlobalArgs, RollbackArgs, SiteArgs, StackArgs, TargetArgs, VerifyArgs};
use shipit_core::error::{Error, Result};
use shipit_core::files::{DEFAULT_EXCLUDES, SOURCE_MAPS};
use shipit_core::headers::{HeaderRule, HeaderRules};
use shipit_core::plan::PruneCap;
pub use shipit_core::settings::*;
use shipit_core::stack::check_stack_name;
use shipit_core::template::{parse_assignment, read_parameters_file};

/// The file, as written. Every field optional; unknown fields are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Extra globs to leave out of the upload.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Whether the built-in excludes (.DS_Store, Thumbs.db, .git, .env files, source maps)
    /// apply. Default true.
    pub default_excludes: Option<bool>,
    /// Upload source maps (left out by default). Default false.
    pub include_source_maps: Option<bool>,
    pub allow_missing_index: Option<bool>,
    /// Where shipit writes the SPA's runtime configuration in a stack's site (default
    /// `shipit-config.json`; "" writes none).
    pub runtime_config: Option<String>,
    #[serde(default)]
    pub upload: UploadConfig,
    #[serde(default)]
    pub prune: PruneConfig,
    #[serde(default)]
    pub headers: Vec<HeaderRule>,
    #[serde(default)]
    pub stack: StackConfig,
    #[serde(default)]
    pub cdn: CdnConfig,
    #[serde(default)]
    pub verify: VerifyConfig,
    #[serde(default)]
    pub lock: LockConfig,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub api: ApiConfig,
}

/// `[api]`: the API's function code, packaged and shipped with the stack.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The directory of the function's code (a `requirements.txt` there is vendored).
    pub source: Option<PathBuf>,
    pub handler: Option<String>,
    pub runtime: Option<String>,
    pub architecture: Option<String>,
    /// `--canary`: the share (1-99) of the traffic a new version takes first.
    pub canary_percent: Option<u8>,
    /// How long the canary is checked before all traffic moves (default 60).
    pub canary_seconds: Option<u64>,
    /// `function` (Lambda) or `container` (ECS Fargate behind an internal load balancer);
    /// unset, the stack keeps the backend it runs (a new stack: the function).
    pub backend: Option<String>,
    /// `--image`: the container image, an ECR image pinned by digest.
    pub image: Option<String>,
    /// For the local cloud, which runs no containers: the command each task runs instead of
    /// the image (`uvicorn app:app --port $PORT`), with the task's environment and its role's
    /// credentials. Ignored on AWS.
    pub local_command: Option<String>,
    /// The directory `local_command` runs in (default: the current one).
    pub local_directory: Option<PathBuf>,
}

/// `[api] local_command` and `local_directory`, for a container backend only.
pub fn local_service(file: &ApiConfig) -> Result<Option<shipit_core::container::LocalService>> {
    let Some(command) = file.local_command.as_deref().map(str::trim) else {
        if file.local_directory.is_some() {
            return Err(Error::config_hint(
                "[api] local_directory is set without [api] local_command",
                "set local_command (what the local cloud runs for the service), or remove local_directory",
            ));
        }
        return Ok(None);
    };
    // A backend set by hand (--parameter ApiBackend=container) is the stack's to check.
    if file.backend.as_deref() == Some("function") {
        return Err(Error::config_hint(
            "[api] local_command runs a container backend's service on the local cloud, and [api] backend is \"function\"",
            "set [api] backend = \"container\", or remove local_command",
        ));
    }
    if command.is_empty() {
        return Err(Error::config_hint(
            "[api] local_command is empty",
            "name the command that serves the API on $PORT, e.g. \"python3 server.py\"",
        ));
    }
    Ok(Some(shipit_core::container::LocalService {
        command: command.to_string(),
        directory: file
            .local_directory
            .clone()
            .unwrap_or_else(|| PathBuf::from(".")),
    }))
}

/// The image `uri`, or why it cannot be deployed.
fn parsed(uri: &str) -> Result<shipit_core::container::Image> {
    shipit_core::container::Image::parse(uri).map_err(|why| {
        Error::config_hint(
            format!("the image {uri:?} cannot be deployed: {why}"),
            "give --image (or [api] image) the ECR image your CI pushed, pinned by digest",
        )
    })
}

/// The stack parameters `[api] backend` and the image set (`ApiBackend`, `ContainerImage`);
/// empty when neither is given, so the stack keeps what it runs (an image alone goes to the
/// stack's own backend: the deploy refuses it for a function stack). Refused: an unknown
/// backend, an image for a backend named "function", a function's code or canary for a
/// container, an image not pinned by digest in ECR, and parameters also set by hand.
pub fn backend_parameters(
    image_flag: Option<&str>,
    source_flag: bool,
    canary_flag: bool,
    file: &ApiConfig,
    hand_set: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    use shipit_core::container::{self, BACKEND_PARAMETER};
    let container = match file.backend.as_deref() {
        None => hand_set.get(BACKEND_PARAMETER).map(String::as_str) == Some("container"),
        Some("container") => true,
        Some("function") => false,
        Some(other) => {
            return Err(Error::config_hint(
                format!("[api] backend = {other:?} is not a backend shipit deploys"),
                "use \"function\" (Lambda, the default) or \"container\" (ECS Fargate)",
            ))
        }
    };
    let image = image_flag.or(file.image.as_deref());
    if !container {
        if image.is_some() && file.backend.is_some() {
            return Err(Error::config_hint(
                "an image (--image, [api] image) is given, and [api] backend is \"function\"",
                "set [api] backend = \"container\" to run the image (the stack's function and its versions are then removed), or leave the image out",
            ));
        }
        let mut out = BTreeMap::new();
        if file.backend.is_some() {
            out.insert(BACKEND_PARAMETER.into(), "function".into());
        }
        // No backend named: the image is for the stack's own backend, which only the stack
        // knows (the deploy refuses it there when the stack runs the function).
        if let Some(uri) = image {
            out.extend(container::parameters(&parsed(uri)?));
            out.remove(BACKEND_PARAMETER);
        }
        return set_once(out, hand_set);
    }
    if source_flag || file.source.is_some() || canary_flag || file.canary_percent.is_some() {
        return Err(Error::config_hint(
            "the API's backend is a container, and a function's code or canary is given (--api-source, --canary, [api] source, canary_percent)",
            "leave them out: a container ships as an image (--image), and ECS rolls it out with its circuit breaker",
        ));
    }
    let mut out = BTreeMap::from([(BACKEND_PARAMETER.to_string(), "container".to_string())]);
    if let Some(uri) = image {
        out.extend(container::parameters(&parsed(uri)?));
    }
    set_once(out, hand_set)
}

/// `out`, unless a parameter in it is also set by hand (differently, or at all for the image):
/// two sources would say two things about one backend.
fn set_once(
    out: BTreeMap<String, String>,
    hand_set: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    use shipit_core::container::IMAGE_PARAMETER;
    for (k, v) in &out {
        if hand_set.get(k).is_some_and(|h| h != v)
            || (k == IMAGE_PARAMETER && hand_set.contains_key(k))
        {
            return Err(Error::config_hint(
                format!("the stack parameter {k} is set by hand, and [api] sets it"),
                format!("remove {k} from the parameters, and say it in [api] (backend, image) or --image"),
            ));
        }
    }
    Ok(out)
}

/// The API settings when a source is given (flag or file); runtime, architecture and handler
/// checked before any request.
pub fn api_settings(
    flag: Option<&Path>,
    canary_flag: Option<u8>,
    file: &ApiConfig,
) -> Result<Option<ApiSettings>> {
    let Some(source) = flag.map(Path::to_path_buf).or(file.source.clone()) else {
        if canary_flag.is_some() {
            return Err(Error::config_hint(
                "--canary moves the API's traffic to its new code, and no API code is given",
                "add --api-source DIR (or [api] source)",
            ));
        }
        return Ok(None);
    };
    let seconds = file.canary_seconds.unwrap_or(DEFAULT_CANARY_SECONDS);
    if !(1..=3600).contains(&seconds) {
        return Err(Error::config_hint(
            format!("[api] canary_seconds = {seconds} is not a window to check a canary in"),
            "give it a value from 1 to 3600",
        ));
    }
    let canary = match canary_flag.or(file.canary_percent) {
        None => None,
        Some(p @ 1..=99) => Some((p, Duration::from_secs(seconds))),
        Some(p) => {
            return Err(Error::config_hint(
                format!("a canary of {p}% is not a share of the traffic"),
                "give --canary (or [api] canary_percent) a value from 1 to 99",
            ))
        }
    };
    let api = ApiSettings {
        source,
        handler: file
            .handler
            .clone()
            .unwrap_or_else(|| DEFAULT_API_HANDLER.into()),
        runtime: file
            .runtime
            .clone()
            .unwrap_or_else(|| DEFAULT_API_RUNTIME.into()),
        architecture: file
            .architecture
            .clone()
            .unwrap_or_else(|| DEFAULT_API_ARCHITECTURE.into()),
        canary,
    };
    let invalid = |message: String| Error::Config {
        message: format!("[api]: {message}"),
        hint: Some("see the README's API section for the keys of [api]".into()),
    };
    shipit_core::package::pip_target(&api.runtime, &api.architecture).map_err(invalid)?;
    shipit_core::package::handler_files(&api.handler).map_err(invalid)?;
    Ok(Some(api))
}

/// `[aws]`: how long a request to AWS may take before it is retried, then failed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Seconds to wait for the first byte of an answer.
    pub read_timeout_seconds: Option<u64>,
    /// Seconds one attempt (a request with its body) may take.
    pub attempt_timeout_seconds: Option<u64>,
    /// Seconds an operation may take, retries included.
    pub operation_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Whether deploy verifies before pruning. Default true.
    pub enabled: Option<bool>,
    pub url: Option<String>,
    pub s3_url: Option<String>,
    pub api_url: Option<String>,
    #[serde(default)]
    pub deep_routes: Vec<String>,
    pub timeout_seconds: Option<u64>,
}

pub fn verify_settings(
    args: &crate::cli::CheckArgs,
    file: &VerifyConfig,
    disabled: bool,
) -> Result<VerifySettings> {
    let deep_routes = if args.deep_routes.is_empty() {
        file.deep_routes.clone()
    } else {
        args.deep_routes.clone()
    };
    if let Some(bad) = deep_routes.iter().find(|r| !r.starts_with('/')) {
        return Err(Error::config_hint(
            format!("deep route {bad:?} is not a path"),
            "deep routes start with /, e.g. --deep-route /settings/profile",
        ));
    }
    let url = args.url.clone().or(file.url.clone());
    for (what, u) in [
        ("--url", &url),
        ("--s3-url", &args.s3_url.clone().or(file.s3_url.clone())),
        ("--api-url", &args.api_url.clone().or(file.api_url.clone())),
    ] {
        if let Some(u) = u {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(Error::config_hint(
                    format!("{what} {u:?} is not an http(s) URL"),
                    "give the full URL, e.g. https://www.example.com",
                ));
            }
        }
    }
    Ok(VerifySettings {
        enabled: !disabled && file.enabled.unwrap_or(true),
        url: url.map(|u| u.trim_end_matches('/').to_string()),
        s3_url: args.s3_url.clone().or(file.s3_url.clone()),
        api_url: args.api_url.clone().or(file.api_url.clone()),
        deep_routes,
        timeout: Duration::from_secs(
            args.verify_timeout
                .or(file.timeout_seconds)
                .unwrap_or(DEFAULT_VERIFY_TIMEOUT_SECONDS),
        ),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnConfig {
    pub distribution_id: Option<String>,
    /// Whether to invalidate after uploads. Default true.
    pub invalidate: Option<bool>,
    /// Above this many paths, crowded directories collapse into wildcards.
    pub max_paths: Option<usize>,
    pub wait: Option<bool>,
    pub wait_timeout_minutes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    pub name: Option<String>,
    pub template: Option<PathBuf>,
    pub parameters_file: Option<PathBuf>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    pub timeout_minutes: Option<u64>,
    pub role_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    pub concurrency: Option<usize>,
    pub multipart_threshold_mib: Option<u64>,
    pub part_size_mib: Option<u64>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    pub enabled: Option<bool>,
    pub max_deletes: Option<usize>,
    pub max_share: Option<f64>,
    /// Content-hashed assets any of this many newest releases references are kept.
    pub keep_releases: Option<usize>,
    /// ... and those a release referenced less than this many hours ago.
    pub grace_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    /// How long a lock lives (a killed run's lock expires after this).
    pub ttl_minutes: Option<u64>,
    /// How long a second run waits for the first.
    pub wait_seconds: Option<u64>,
}

pub fn lock_settings(file: &LockConfig, wait_flag: Option<u64>) -> Result<LockSettings> {
    let ttl = file
        .ttl_minutes
        .map(|m| m.saturating_mul(60))
        .unwrap_or(DEFAULT_LOCK_TTL_SECONDS);
    if ttl < MIN_LOCK_TTL_SECONDS {
        return Err(Error::config_hint(
            format!("[lock] ttl_minutes = {} would let the deploy lock expire at once", ttl / 60),
            "the lock lives at least a minute (it is renewed while a deploy runs); the default is 30",
        ));
    }
    Ok(LockSettings {
        ttl: Duration::from_secs(ttl),
        wait: Duration::from_secs(
            wait_flag
                .or(file.wait_seconds)
                .unwrap_or(DEFAULT_LOCK_WAIT_SECONDS),
        ),
    })
}

/// Where the AWS APIs are and who we are, from flags, file and environment.
pub fn connection(
    global: &GlobalArgs,
    file: &FileConfig,
    max_attempts: u32,
    env: impl Fn(&str) -> Option<String>,
) -> Connection {
    Connection {
        region: global.region.clone().or(file.region.clone()),
        profile: global.profile.clone().or(file.profile.clone()),
        endpoints: endpoints(
            global
                .endpoint_url
                .as_deref()
                .or(file.endpoint_url.as_deref()),
            &env,
        ),
        max_attempts,
        timeouts: timeouts(&file.aws),
    }
}

/// The AWS request timeouts: the file's, at least a second each, else the defaults.
pub fn timeouts(file: &AwsConfig) -> Timeouts {
    let secs = |v: Option<u64>, default: Duration| {
        v.map(|s| Duration::from_secs(s.max(1))).unwrap_or(default)
    };
    let d = Timeouts::default();
    Timeouts {
        connect: d.connect,
        read: secs(file.read_timeout_seconds, d.read),
        attempt: secs(file.attempt_timeout_seconds, d.attempt),
        operation: secs(file.operation_timeout_seconds, d.operation),
    }
}

pub use shipit_core::stack::BOOTSTRAP_STACK;

/// A parameters file lists every parameter (stack/parameters.json does). An empty `ApiCodeKey`
/// there says nothing about the code: the four code parameters are then left to shipit (from
/// `[api]`, or kept as the stack runs them), where a named package key keeps all four.
fn from_parameters_file(mut listed: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if listed.get("ApiCodeKey").is_some_and(String::is_empty) {
        for k in shipit_core::package::CODE_PARAMETERS {
            listed.remove(k);
        }
    }
    listed
}

/// The stack settings, when a stack is named (flag, SHIPIT_STACK, or [stack] name).
pub fn stack_settings(args: &StackArgs, file: &StackConfig) -> Result<Option<StackSettings>> {
    let Some(name) = args.stack.clone().or(file.name.clone()) else {
        return Ok(None);
    };
    check_stack_name(&name)?;
    if name == BOOTSTRAP_STACK {
        return Err(Error::config_hint(
            format!("{name} is the stack `shipit bootstrap` keeps the account's settings in"),
            "give the site's stack another name",
        ));
    }
    let mut parameters = match args
        .parameters_file
        .as_ref()
        .or(file.parameters_file.as_ref())
    {
        Some(p) => from_parameters_file(read_parameters_file(p)?),
        None => BTreeMap::new(),
    };
    parameters.extend(file.parameters.clone());
    for a in &args.parameters {
        let (k, v) = parse_assignment(a)?;
        parameters.insert(k, v);
    }
    let minutes = args
        .stack_timeout
        .or(file.timeout_minutes)
        .unwrap_or(DEFAULT_STACK_TIMEOUT_MINUTES);
    Ok(Some(StackSettings {
        name,
        template: args.template.clone().or(file.template.clone()),
        parameters,
        allow_replace: args.allow_replace,
        recreate: args.recreate,
        timeout: Duration::from_secs(minutes * 60),
        role_arn: args.role_arn.clone().or(file.role_arn.clone()),
        task_secrets: Vec::new(),
    }))
}

/// Reads the configuration file: the one named, or `./shipit.toml` when present.
pub fn load_file(explicit: Option<&Path>) -> Result<FileConfig> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("shipit.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FileConfig::default())
        }
        Err(e) => {
            return Err(Error::config_hint(
                format!("cannot read the configuration file {}: {e}", path.display()),
                "check the --config path",
            ))
        }
    };
    parse_file(&text, &path)
}

pub fn parse_file(text: &str, path: &Path) -> Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        Error::config_hint(
            format!(
                "invalid configuration in {}: {}",
                path.display(),
                e.message()
            ),
            match e.span() {
                Some(span) => format!(
                    "at line {}; see the README's configuration reference",
                    text[..span.start].lines().count().max(1)
                ),
                None => "see the README's configuration reference".to_string(),
            },
        )
    })
}

/// The endpoint for one service: the flag or file value (for every service), else
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, as the SDKs read them.
pub fn endpoint_for(
    service_env: &str,
    explicit: Option<&str>,
    get: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    explicit
        .map(str::to_owned)
        .or_else(|| get(&format!("AWS_ENDPOINT_URL_{service_env}")))
        .or_else(|| get("AWS_ENDPOINT_URL"))
        .filter(|s| !s.is_empty())
}

pub fn endpoints(explicit: Option<&str>, get: impl Fn(&str) -> Option<String>) -> Endpoints {
    Endpoints {
        s3: endpoint_for("S3", explicit, &get),
        cloudformation: endpoint_for("CLOUDFORMATION", explicit, &get),
        cloudfront: endpoint_for("CLOUDFRONT", explicit, &get),
        lambda: endpoint_for("LAMBDA", explicit, &get),
    }
}

/// The deploy and plan settings, from the three layers.
pub fn settings(
    global: &GlobalArgs,
    target: &TargetArgs,
    concurrency: Option<usize>,
    file: FileConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings> {
    let mut stack = stack_settings(&target.stack, &file.stack)?;
    let backend = backend_parameters(
        target.image.as_deref(),
        target.api_source.is_some(),
        target.canary.is_some(),
        &file.api,
        stack
            .as_ref()
            .map(|s| &s.parameters)
            .unwrap_or(&BTreeMap::new()),
    )?;
    match stack.as_mut() {
        Some(s) => s.parameters.extend(backend),
        None if !backend.is_empty() => {
            return Err(Error::config_hint(
                "the API's backend ([api] backend, image, --image) is the stack's, and no stack is named",
                "name the stack (--stack, [stack] name)",
            ))
        }
        None => {}
    }
    let site = site_target(target.bucket.clone().or(file.bucket.clone()), stack)?;
    let api = api_settings(target.api_source.as_deref(), target.canary, &file.api)?;
    let local_service = local_service(&file.api)?;
    if api.is_some() && site.stack().is_none() {
        return Err(Error::Config {
            message: "the API's code ([api] source, --api-source) ships with a stack, and none is named".into(),
            hint: Some("name the stack (--stack, [stack] name): its artifacts bucket and function take the code".into()),
        });
    }
    let no_api = site
        .stack()
        .is_some_and(|s| s.parameters.get("EnableApi").map(String::as_str) == Some("false"));
    if api.is_some() && no_api {
        return Err(Error::config_hint(
            "the API's code ([api] source, --api-source) is given, and the stack's EnableApi is false: it has no function to run it",
            "remove EnableApi=false, or leave [api] out",
        ));
    }
    build(
        global,
        Run {
            dir: target.dir.clone(),
            site,
            prefix: target.prefix.clone(),
            allow_missing_index: target.allow_missing_index,
            full_check: target.full_check,
            no_prune: target.no_prune,
            allow_large_prune: target.allow_large_prune,
            distribution_id: target.distribution_id.clone(),
            no_invalidate: target.no_invalidate,
            wait: target.wait,
            lock_wait: target.lock_wait,
            include_source_maps: target.include_source_maps,
            concurrency,
            api,
            local_service,
        },
        file,
        env,
    )
}

/// The rollback settings: a deployed site (its stack is only read), the release for a build.
pub fn rollback_settings(
    global: &GlobalArgs,
    args: &RollbackArgs,
    file: FileConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings> {
    let site = site_of(&args.site, &file)?;
    build(
        global,
        Run {
            dir: PathBuf::from("."),
            site,
            prefix: args.site.prefix.clone(),
            allow_missing_index: true,
            full_check: false,
            no_prune: args.no_prune,
            allow_large_prune: false,
            distribution_id: args.distribution_id.clone(),
            no_invalidate: args.no_invalidate,
            wait: false,
            lock_wait: args.lock_wait,
            include_source_maps: false,
            concurrency: None,
            api: None,
            local_service: None,
        },
        file,
        env,
    )
}

/// Where a deployed site is and how to reach it: for the commands that only read one
/// (releases, unlock).
pub fn site_settings(
    global: &GlobalArgs,
    args: &SiteArgs,
    file: &FileConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SiteSettings> {
    Ok(SiteSettings {
        target: site_of(args, file)?,
        prefix: normalise_prefix(
            args.prefix
                .as_deref()
                .or(file.prefix.as_deref())
                .unwrap_or(""),
        ),
        connection: connection(global, file, DEFAULT_MAX_ATTEMPTS, env),
    })
}

/// The stack `verify` reads its site from, when one is named (flag, SHIPIT_STACK, or the file);
/// without one, verify needs only URLs.
pub fn verify_site(
    global: &GlobalArgs,
    args: &VerifyArgs,
    file: &FileConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<SiteSettings>> {
    let Some(stack) = args.stack.clone().or(file.stack.name.clone()) else {
        return Ok(None);
    };
    Ok(Some(SiteSettings {
        target: named_site(Some(stack), None, file)?,
        prefix: normalise_prefix(file.prefix.as_deref().unwrap_or("")),
        connection: connection(global, file, DEFAULT_MAX_ATTEMPTS, env),
    }))
}

/// A deployed site named by `--stack` or `--bucket` (or the file), for the commands that read
/// one (releases, rollback, unlock).
pub fn site_of(args: &SiteArgs, file: &FileConfig) -> Result<SiteTarget> {
    named_site(args.stack.clone(), args.bucket.clone(), file)
}

fn named_site(
    stack: Option<String>,
    bucket: Option<String>,
    file: &FileConfig,
) -> Result<SiteTarget> {
    let stack = match stack.or(file.stack.name.clone()) {
        Some(name) => {
            check_stack_name(&name)?;
            Some(StackSettings {
                name,
                template: file.stack.template.clone(),
                parameters: file.stack.parameters.clone(),
                allow_replace: false,
                recreate: false,
                timeout: Duration::from_secs(
                    60 * file
                        .stack
                        .timeout_minutes
                        .unwrap_or(DEFAULT_STACK_TIMEOUT_MINUTES),
                ),
                role_arn: file.stack.role_arn.clone(),
                task_secrets: Vec::new(),
            })
        }
        None => None,
    };
    // A stack, when one is named anywhere, says where the site is.
    match (stack, bucket.or(file.bucket.clone())) {
        (Some(s), _) => Ok(SiteTarget::Stack(s)),
        (None, Some(b)) => site_target(Some(b), None),
        (None, None) => Err(Error::config_hint(
            "no stack or bucket given",
            "pass --stack NAME or --bucket NAME",
        )),
    }
}

/// A bucket or a stack, exactly one.
fn site_target(bucket: Option<String>, stack: Option<StackSettings>) -> Result<SiteTarget> {
    match (bucket, stack) {
        (Some(b), None) => {
            check_bucket_name(&b)?;
            Ok(SiteTarget::Bucket(b))
        }
        (None, Some(s)) => Ok(SiteTarget::Stack(s)),
        (Some(_), Some(s)) => Err(Error::config_hint(
            format!("both a bucket and a stack ({}) are configured", s.name),
            "with a stack the bucket comes from its outputs: drop `bucket` (or --bucket)",
        )),
        (None, None) => Err(Error::config_hint(
            "no stack or bucket given",
            "pass --stack NAME (shipit creates and owns the infrastructure) or --bucket NAME (an existing bucket)",
        )),
    }
}

/// The key of the SPA's runtime configuration: a stack's site has one unless `runtime_config`
/// is ""; a bucket given has no stack to describe, so none (one shipit.toml may serve both).
pub fn runtime_config_key(path: Option<&str>, site: &SiteTarget) -> Result<Option<String>> {
    if site.stack().is_none() {
        return Ok(None);
    }
    shipit_core::runtime_config::key_of(path.unwrap_or(shipit_core::runtime_config::DEFAULT_PATH))
        .map_err(|why| {
            Error::config_hint(
                why,
                "set runtime_config in shipit.toml to a path such as \"shipit-config.json\", or to \"\" to write none",
            )
        })
}

/// What a run over a site was asked to do, whichever command asked.
struct Run {
    dir: PathBuf,
    site: SiteTarget,
    prefix: Option<String>,
    allow_missing_index: bool,
    full_check: bool,
    no_prune: bool,
    allow_large_prune: bool,
    distribution_id: Option<String>,
    no_invalidate: bool,
    wait: bool,
    lock_wait: Option<u64>,
    include_source_maps: bool,
    concurrency: Option<usize>,
    api: Option<ApiSettings>,
    local_service: Option<shipit_core::container::LocalService>,
}

fn build(
    global: &GlobalArgs,
    target: Run,
    file: FileConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings> {
    let concurrency = target.concurrency;
    let prefix = normalise_prefix(
        target
            .prefix
            .as_deref()
            .or(file.prefix.as_deref())
            .unwrap_or(""),
    );
    let mut excludes: Vec<String> = if file.default_excludes.unwrap_or(true) {
        DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let maps = target.include_source_maps || file.include_source_maps.unwrap_or(false);
    if file.default_excludes.unwrap_or(true) && !maps {
        excludes.push(SOURCE_MAPS.to_string());
    }
    let max_attempts = file
        .upload
        .max_attempts
        .unwrap_or(DEFAULT_MAX_ATTEMPTS)
        .max(1);
    let connection = connection(global, &file, max_attempts, &env);
    excludes.extend(file.exclude);
    // Given, it is fixed; else it starts at the default and adapts.
    let adaptive = concurrency.is_none() && file.upload.concurrency.is_none();
    let concurrency = concurrency
        .or(file.upload.concurrency)
        .unwrap_or(DEFAULT_CONCURRENCY);
    if !(1..=512).contains(&concurrency) {
        return Err(Error::config(format!(
            "concurrency must be between 1 and 512, not {concurrency}"
        )));
    }
    let mib = 1024 * 1024;
    let part_size = file.upload.part_size_mib.unwrap_or(DEFAULT_PART_SIZE_MIB);
    if !(5..=5 * 1024).contains(&part_size) {
        return Err(Error::config(format!(
            "upload.part_size_mib must be between 5 and 5120 (S3's part limits), not {part_size}"
        )));
    }
    let threshold = file
        .upload
        .multipart_threshold_mib
        .unwrap_or(DEFAULT_MULTIPART_THRESHOLD_MIB);
    if !(5..=5 * 1024).contains(&threshold) {
        return Err(Error::config(format!(
            "upload.multipart_threshold_mib must be between 5 and 5120, not {threshold}"
        )));
    }
    let max_share = file.prune.max_share.unwrap_or(DEFAULT_MAX_DELETE_SHARE);
    if !(0.0..=1.0).contains(&max_share) {
        return Err(Error::config(format!(
            "prune.max_share is a fraction between 0 and 1, not {max_share}"
        )));
    }
    let runtime_config = runtime_config_key(file.runtime_config.as_deref(), &target.site)?;
    Ok(Settings {
        api: target.api,
        local_service: target.local_service,
        runtime_config,
        commit: commit_of(&target.dir, &env),
        dir: target.dir.clone(),
        target: target.site,
        prefix,
        connection,
        excludes,
        rules: HeaderRules::new(&file.headers)?,
        allow_missing_index: target.allow_missing_index
            || file.allow_missing_index.unwrap_or(false),
        full_check: target.full_check,
        concurrency,
        adaptive,
        multipart_threshold: threshold * mib,
        part_size: part_size * mib,
        prune: !target.no_prune && file.prune.enabled.unwrap_or(true),
        prune_cap: PruneCap {
            max_deletes: file.prune.max_deletes.unwrap_or(DEFAULT_MAX_DELETES),
            max_share,
        },
        allow_large_prune: target.allow_large_prune,
        retention: shipit_core::release::Retention {
            keep_releases: file
                .prune
                .keep_releases
                .unwrap_or(shipit_core::release::DEFAULT_KEEP_RELEASES),
            grace_seconds: 3600
                * file
                    .prune
                    .grace_hours
                    .unwrap_or(shipit_core::release::DEFAULT_GRACE_HOURS),
        },
        lock: lock_settings(&file.lock, target.lock_wait)?,
        cdn: CdnSettings {
            distribution_id: target
                .distribution_id
                .clone()
                .or(file.cdn.distribution_id.clone()),
            invalidate: !target.no_invalidate && file.cdn.invalidate.unwrap_or(true),
            max_paths: file
                .cdn
                .max_paths
                .unwrap_or(DEFAULT_MAX_INVALIDATION_PATHS)
                .max(1),
            wait: target.wait || file.cdn.wait.unwrap_or(false),
            wait_timeout: Duration::from_secs(
                60 * file
                    .cdn
                    .wait_timeout_minutes
                    .unwrap_or(DEFAULT_INVALIDATION_WAIT_MINUTES),
            ),
        },
    })
}

/// S3's bucket naming rules, checked up front so a typo gets a clear message.
fn check_bucket_name(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::config_hint(
            format!("{name:?} is not a valid bucket name"),
            "bucket names are 3-63 characters of lower-case letters, digits, '-' and '.'",
        ))
    }
}

/// The git commit being deployed: CI's (`GITHUB_SHA`), else the HEAD of the repository that
/// holds the build directory, when git is there to say.
fn commit_of(dir: &std::path::Path, env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(sha) = env("GITHUB_SHA").filter(|s| !s.is_empty()) {
        return Some(sha);
    }
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && sha.len() == 40).then_some(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> crate::cli::Cli {
        crate::cli::Cli::try_parse_from(args).unwrap()
    }

    fn settings_for(args: &[&str], toml: &str, env: &[(&str, &str)]) -> Result<Settings> {
        let cli = parse(args);
        let crate::cli::Command::Deploy(d) = &cli.command else {
            panic!()
        };
        let file = parse_file(toml, Path::new("shipit.toml"))?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        settings(&cli.global, &d.target, d.concurrency, file, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    /// (flags, shipit.toml) -> the backend's stack parameters, or a part of the refusal.
    #[test]
    fn the_backend_and_its_image_become_stack_parameters() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let image = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api@{d}");
        let tagged = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:v3";
        let container = "[api]\nbackend = \"container\"\n";
        let with_image = format!("{container}image = \"{image}\"\n");
        let by_hand = format!("ContainerImage={image}");
        type Row<'a> = (
            Vec<&'a str>,
            String,
            Result<Vec<(&'a str, &'a str)>, &'a str>,
        );
        let table: Vec<Row> = vec![
            (vec![], String::new(), Ok(vec![])),
            (
                vec![],
                "[api]\nbackend = \"function\"\n".into(),
                Ok(vec![("ApiBackend", "function")]),
            ),
            (
                vec![],
                container.into(),
                Ok(vec![("ApiBackend", "container")]),
            ),
            (
                vec!["--image", &image],
                container.into(),
                Ok(vec![
                    ("ApiBackend", "container"),
                    ("ContainerImage", &image),
                ]),
            ),
            (
                vec![],
                with_image.clone(),
                Ok(vec![
                    ("ApiBackend", "container"),
                    ("ContainerImage", &image),
                ]),
            ),
            // No backend named: the image goes to the stack, whose own backend decides.
            (
                vec!["--image", &image],
                String::new(),
                Ok(vec![("ContainerImage", &image)]),
            ),
            (
                vec!["--image", &image],
                "[api]\nbackend = \"function\"\n".into(),
                Err("[api] backend is \"function\""),
            ),
            (
                vec!["--parameter", "ApiBackend=container"],
                "[api]\nbackend = \"function\"\n".into(),
                Err("set by hand"),
            ),
            (
                vec!["--parameter", &by_hand, "--image", &image],
                String::new(),
                Err("set by hand"),
            ),
            (
                vec!["--image", tagged],
                container.into(),
                Err("names a tag"),
            ),
            (
                vec!["--canary", "10"],
                with_image.clone(),
                Err("a function's code or canary"),
            ),
            (
                vec!["--api-source", "api"],
                with_image.clone(),
                Err("a function's code or canary"),
            ),
            (
                vec!["--parameter", &by_hand],
                with_image.clone(),
                Err("set by hand"),
            ),
            (
                vec![],
                "[api]\nbackend = \"lambda\"\n".into(),
                Err("not a backend"),
            ),
        ];
        for (flags, toml, want) in table {
            let mut args = vec!["shipit", "deploy", "d", "--stack", "site"];
            args.extend_from_slice(&flags);
            let got = settings_for(&args, &toml, &[]).map(|s| {
                let p = s.target.stack().unwrap().parameters.clone();
                ["ApiBackend", "ContainerImage"]
                    .into_iter()
                    .filter_map(|k| p.get(k).map(|v| (k.to_string(), v.clone())))
                    .collect::<Vec<_>>()
            });
            match (got, want) {
                (Ok(got), Ok(want)) => {
                    let want: Vec<(String, String)> = want
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    assert_eq!(got, want, "{flags:?} {toml}");
                }
                (Err(e), Err(part)) => {
                    let said = format!("{e} {}", e.hint().unwrap_or_default());
                    assert!(said.contains(part), "{flags:?} {toml}: {said}");
                }
                (got, want) => panic!("{flags:?} {toml}: {got:?}, want {want:?}"),
            }
        }
        let bucket_only = settings_for(&["shipit", "deploy", "d", "--bucket", "b"], container, &[]);
        assert!(bucket_only
            .unwrap_err()
            .to_string()
            .contains("no stack is named"));
    }

    #[test]
    fn env_files_and_source_maps_stay_out_unless_asked() {
        let maps = "**/*.map".to_string();
        let env = "**/.env".to_string();
        // (flags, shipit.toml, source maps left out, .env left out)
        let table: [(&[&str], &str, bool, bool); 5] = [
            (&[], "", true, true),
            (&["--include-source-maps"], "", false, true),
            (&[], "include_source_maps = true", false, true),
            (&[], "include_source_maps = false", true, true),
            (&[], "default_excludes = false", false, false),
        ];
        for (flags, toml, no_maps, no_env) in table {
            let mut args = vec!["shipit", "deploy", "d", "--bucket", "site-bucket"];
            args.extend_from_slice(flags);
            let s = settings_for(&args, toml, &[]).unwrap();
            assert_eq!(s.excludes.contains(&maps), no_maps, "{flags:?} {toml}");
            assert_eq!(s.excludes.contains(&env), no_env, "{flags:?} {toml}");
        }
    }

    #[test]
    fn flags_override_file_and_defaults_fill_in() {
        let toml = r#"
            bucket = "from-file"
            prefix = "/site"
            exclude = ["**/*.map"]
            [upload]
            concurrency = 8
            [prune]
            max_deletes = 10
            [[headers]]
            glob = "*.txt"
            cache_control = "no-store"
        "#;
        let s = settings_for(&["shipit", "deploy", "d"], toml, &[]).unwrap();
        assert!(
            matches!(&s.target, SiteTarget::Bucket(b) if b == "from-file"),
            "{:?}",
            s.target
        );
        assert_eq!(s.prefix, "site/");
        assert_eq!(s.concurrency, 8);
        assert_eq!(s.prune_cap.max_deletes, 10);
        assert!(s.excludes.contains(&"**/*.map".to_string()));
        assert!(s.excludes.contains(&"**/.DS_Store".to_string()));
        assert!(s.prune);
        let s = settings_for(
            &[
                "shipit",
                "deploy",
                "d",
                "--bucket",
                "flag-bucket",
                "--concurrency",
                "3",
                "--no-prune",
            ],
            toml,
            &[],
        )
        .unwrap();
        assert!(
            matches!(&s.target, SiteTarget::Bucket(b) if b == "flag-bucket"),
            "{:?}",
            s.target
        );
        assert_eq!(s.concurrency, 3);
        assert!(!s.prune);
    }

    #[test]
    fn endpoint_env_fallbacks() {
        let s = settings_for(
            &["shipit", "deploy", "d", "--bucket", "b-1"],
            "",
            &[
                ("AWS_ENDPOINT_URL", "http://a"),
                ("AWS_ENDPOINT_URL_S3", "http://s3"),
            ],
        )
        .unwrap();
        assert_eq!(s.connection.endpoints.s3.as_deref(), Some("http://s3"));
        assert_eq!(
            s.connection.endpoints.cloudformation.as_deref(),
            Some("http://a")
        );
        let s = settings_for(
            &["shipit", "deploy", "d", "--bucket", "b-1"],
            "",
            &[("AWS_ENDPOINT_URL", "http://a")],
        )
        .unwrap();
        assert_eq!(s.connection.endpoints.s3.as_deref(), Some("http://a"));
        let s = settings_for(
            &[
                "shipit",
                "deploy",
                "d",
                "--bucket",
                "b-1",
                "--endpoint-url",
                "http://flag",
            ],
            "",
            &[("AWS_ENDPOINT_URL_S3", "http://s3")],
        )
        .unwrap();
        assert_eq!(s.connection.endpoints.s3.as_deref(), Some("http://flag"));
    }

    #[test]
    fn errors_name_the_problem() {
        let table = [
            (vec!["shipit", "deploy", "d"], "", "no stack or bucket"),
            (
                vec!["shipit", "deploy", "d", "--stack", "9bad"],
                "",
                "not a valid stack name",
            ),
            (
                vec!["shipit", "deploy", "d", "--stack", "s"],
                "bucket = \"b-b\"",
                "both a bucket and a stack",
            ),
            (
                vec!["shipit", "deploy", "d", "--stack", "s", "--parameter", "x"],
                "",
                "KEY=VALUE",
            ),
            (
                vec!["shipit", "deploy", "d", "--bucket", "Bad_Name"],
                "",
                "not a valid bucket name",
            ),
            (
                vec!["shipit", "deploy", "d", "--bucket", "ok-b"],
                "bukket = 1",
                "unknown field",
            ),
            (
                vec!["shipit", "deploy", "d", "--bucket", "ok-b"],
                "[upload]\npart_size_mib = 1",
                "part_size_mib",
            ),
            (
                vec!["shipit", "deploy", "d", "--bucket", "ok-b"],
                "[prune]\nmax_share = 2.0",
                "max_share",
            ),
            (
                vec![
                    "shipit",
                    "deploy",
                    "d",
                    "--bucket",
                    "ok-b",
                    "--concurrency",
                    "0",
                ],
                "",
                "concurrency",
            ),
            (
                vec!["shipit", "deploy", "d", "--bucket", "ok-b"],
                "[[headers]]\nglob = \"[\"",
                "invalid glob",
            ),
        ];
        for (args, toml, want) in table {
            let err = settings_for(&args, toml, &[]).unwrap_err();
            assert!(err.to_string().contains(want), "{args:?} {toml:?}: {err}");
            assert_eq!(err.exit_code(), shipit_core::error::exit::USAGE);
        }
    }

    #[test]
    fn stack_parameters_layer_file_then_flags() {
        let toml = "[stack]\nname = \"site\"\ntimeout_minutes = 5\n[stack.parameters]\nEnableApi = \"false\"\nPriceClass = \"PriceClass_All\"\n";
        let s = settings_for(
            &["shipit", "deploy", "d", "--parameter", "EnableApi=true"],
            toml,
            &[],
        )
        .unwrap();
        let SiteTarget::Stack(st) = s.target else {
            panic!("a stack target, not {:?}", s.target)
        };
        assert_eq!(st.name, "site");
        assert_eq!(st.parameters["EnableApi"], "true");
        assert_eq!(st.parameters["PriceClass"], "PriceClass_All");
        assert_eq!(st.timeout, Duration::from_secs(300));
    }

    #[test]
    fn a_lock_that_would_expire_at_once_is_refused() {
        let err = settings_for(
            &["shipit", "deploy", "d"],
            "bucket = \"b-1\"\n[lock]\nttl_minutes = 0\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), shipit_core::error::exit::USAGE);
        assert!(err.to_string().contains("ttl_minutes"), "{err}");
        let s = settings_for(
            &["shipit", "deploy", "d"],
            "bucket = \"b-1\"\n[lock]\nttl_minutes = 1\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.lock.ttl, Duration::from_secs(60));
    }

    #[test]
    fn prefixes() {
        for (raw, want) in [("", ""), ("/", ""), ("site", "site/"), ("/a/b/", "a/b/")] {
            assert_eq!(normalise_prefix(raw), want);
        }
    }

    #[test]
    fn a_parameters_file_leaves_the_code_to_shipit_unless_it_names_a_package() {
        let file = |key: &str| {
            BTreeMap::from(
                [
                    ("ApiCodeKey", key),
                    ("ApiHandler", "handler.handler"),
                    ("ApiRuntime", "python3.12"),
                    ("ApiArchitecture", "x86_64"),
                    ("EnableApi", "true"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            )
        };
        let left = from_parameters_file(file(""));
        assert_eq!(left.keys().collect::<Vec<_>>(), ["EnableApi"]);
        let key = format!("api/{}.zip", "a".repeat(64));
        assert_eq!(from_parameters_file(file(&key)), file(&key));
    }

    #[test]
    fn the_bootstrap_stacks_name_is_not_a_sites() {
        let args = StackArgs {
            stack: Some(BOOTSTRAP_STACK.into()),
            ..StackArgs::default()
        };
        let err = stack_settings(&args, &StackConfig::default()).unwrap_err();
        assert!(err.to_string().contains("shipit bootstrap"), "{err}");
    }
}
