//! Shipping the API's code with the stack: the package goes to the stack's artifacts bucket
//! under its content-addressed key (once: a key already there is not uploaded again), and the
//! stack's `ApiCode*` parameters point the function at it, so a code change is a change set
//! entry and unchanged code is no change at all. A new stack has no artifacts bucket yet: it is
//! ensured first with the template's built-in function, then updated with the code. A deploy
//! without `[api]` keeps the code the stack runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::pipeline::provision::{self, Ensured};
use crate::ports::{ObjectStore, Reporter, StackService};
use shipit_core::container;
use shipit_core::error::{Error, Result};
use shipit_core::headers::Headers;
use shipit_core::lambda::AliasRoute;
use shipit_core::package::{Package, CODE_PARAMETERS, KEY_PREFIX};
use shipit_core::release::ApiVersion;
use shipit_core::settings::{ApiSettings, StackSettings};
use shipit_core::stack::StackInfo;
use shipit_core::summary::human_bytes;

/// The code parameter that pins the package's S3 object version.
const VERSION_PARAMETER: &str = "ApiCodeVersion";

/// The stack output naming the artifacts bucket.
pub const ARTIFACTS_OUTPUT: &str = "ArtifactsBucketName";

/// What shipping the code did.
#[derive(Debug, Clone, Serialize)]
pub struct Shipped {
    pub package: Package,
    pub bucket: String,
    /// False when the bucket already had this package.
    pub uploaded: bool,
}

/// The parameters that run `package` as `api` describes.
pub fn code_parameters(api: &ApiSettings, package: &Package) -> BTreeMap<String, String> {
    let values = [
        package.key.clone(),
        api.handler.clone(),
        api.runtime.clone(),
        api.architecture.clone(),
    ];
    CODE_PARAMETERS
        .iter()
        .map(|k| k.to_string())
        .zip(values)
        .collect()
}

/// `s` with the code's parameters; refused when they were also given by hand (`--parameter`,
/// `[stack] parameters`), which would say two things about one function.
pub fn with_code(s: &StackSettings, code: BTreeMap<String, String>) -> Result<StackSettings> {
    if let Some(k) = CODE_PARAMETERS
        .iter()
        .find(|k| s.parameters.contains_key(**k))
    {
        return Err(Error::config_hint(
            format!("the stack parameter {k} is set by hand, and [api] sets it from the package"),
            format!(
                "remove {k} from the parameters, or leave [api] out to manage the code yourself"
            ),
        ));
    }
    let mut s = s.clone();
    s.parameters.extend(code);
    Ok(s)
}

/// `s` keeping the code the stack runs now (its `ApiCode*` parameters as deployed), for a
/// deploy without `[api]`: the template's defaults would put back the built-in function. The
/// backend and its image are kept the same way: a deploy that does not name them never turns
/// a container stack back into a function, nor runs another image.
pub fn keeping_live_code(s: &StackSettings, info: Option<&StackInfo>) -> StackSettings {
    let mut s = s.clone();
    let Some(live) = info.map(|i| &i.parameters) else {
        return s;
    };
    let has_code = live.get("ApiCodeKey").is_some_and(|k| !k.is_empty());
    let code = CODE_PARAMETERS.iter().filter(|_| has_code);
    let backend = [container::BACKEND_PARAMETER, container::IMAGE_PARAMETER];
    for k in code.chain(backend.iter()) {
        if let (Some(v), false) = (live.get(*k), s.parameters.contains_key(*k)) {
            s.parameters.insert(k.to_string(), v.clone());
        }
    }
    s
}

/// Refuses what would change the API's backend without naming it: a function's code for a
/// stack whose API runs in containers, and an image for a stack that runs the function.
fn backend_named(
    s: &StackSettings,
    info: Option<&StackInfo>,
    code: Option<(&ApiSettings, &Package)>,
) -> Result<()> {
    let live = info.and_then(|i| i.parameters.get(container::BACKEND_PARAMETER));
    let backend = s
        .parameters
        .get(container::BACKEND_PARAMETER)
        .or(live)
        .map_or("function", String::as_str);
    if code.is_some() && backend == "container" {
        return Err(Error::config_hint(
            format!("stack {} runs its API in containers, and a function's code is given ([api] source, --api-source)", s.name),
            "set [api] backend = \"function\" to switch the stack back to the function (its tasks, load balancer and VPC link are removed), or leave the code out and ship an image (--image)",
        ));
    }
    if s.parameters.contains_key(container::IMAGE_PARAMETER) && backend != "container" {
        return Err(Error::config_hint(
            format!("an image (--image, [api] image) is given, and stack {} runs its API as a function", s.name),
            "set [api] backend = \"container\" to run the image (the function, its versions and its gate are then removed), or leave the image out",
        ));
    }
    Ok(())
}

/// The stack settings a deploy uses: with the package's code, or keeping the live code.
pub fn settings_for(
    s: &StackSettings,
    info: Option<&StackInfo>,
    code: Option<(&ApiSettings, &Package)>,
) -> Result<StackSettings> {
    backend_named(s, info, code)?;
    match code {
        Some((api, package)) => {
            let mut code = code_parameters(api, package);
            // The object version the stack pins, while it runs this package; a new package's
            // is known once it is uploaded (`ensure`).
            let live = info.map(|i| &i.parameters);
            if let Some(v) = live
                .filter(|p| p.get("ApiCodeKey") == Some(&package.key))
                .and_then(|p| p.get(VERSION_PARAMETER))
                .filter(|v| !v.is_empty())
            {
                code.insert(VERSION_PARAMETER.to_string(), v.clone());
            }
            with_code(s, code)
        }
        None => Ok(keeping_live_code(s, info)),
    }
}

/// One line on the package: its hash, files and sizes.
pub fn describe(package: &Package) -> String {
    format!(
        "api: package {} ({} files, {} zipped, {} unzipped)",
        &package.sha256[..12],
        package.files,
        human_bytes(package.zipped_bytes),
        human_bytes(package.unzipped_bytes)
    )
}

/// Ensures the stack, with the API's code when there is a package: uploads it to the artifacts
/// bucket (`store_for` opens a bucket) and points the function at it.
pub async fn ensure(
    cfn: &dyn StackService,
    store_for: &(dyn Fn(&str) -> Arc<dyn ObjectStore> + Sync),
    s: &StackSettings,
    code: Option<(&ApiSettings, &Package)>,
    reporter: &dyn Reporter,
) -> Result<(Ensured, Option<Shipped>)> {
    let info = cfn.describe(&s.name).await?;
    let coded = settings_for(s, info.as_ref(), code)?;
    let Some((_, package)) = code else {
        return Ok((provision::ensure(cfn, &coded, reporter).await?, None));
    };
    // A stack made before shipit shipped code (no artifacts bucket), or before the live alias
    // (no function output), is brought up to date first: its first version is then the code
    // it runs now, and the new code comes after, through the pre-traffic check.
    let live_bucket = info
        .as_ref()
        .map(|i| &i.outputs)
        .filter(|o| o.contains_key(FUNCTION_OUTPUT))
        .and_then(|o| o.get(ARTIFACTS_OUTPUT).cloned());
    let (bucket, first) = match live_bucket {
        Some(b) => (b, None),
        None => {
            reporter.info(
                "the stack has no artifacts bucket or live alias yet: ensuring them first (with the code the function runs now), then the new code",
            );
            let first =
                provision::ensure(cfn, &keeping_live_code(s, info.as_ref()), reporter).await?;
            let bucket = first.outputs.get(ARTIFACTS_OUTPUT).cloned().ok_or_else(|| {
                Error::config_hint(
                    format!(
                        "stack {} has no artifacts bucket (no {ARTIFACTS_OUTPUT} output), so it cannot take the API's code",
                        s.name
                    ),
                    "set EnableApi=true (the default) in the stack's parameters, or leave [api] out",
                )
            })?;
            (bucket, Some(first))
        }
    };
    let (uploaded, version) = upload(store_for(&bucket).as_ref(), package, reporter).await?;
    // The function is pointed at the version whose MD5 was checked, not whatever the key
    // holds when CloudFormation reads it.
    let mut coded = coded;
    if let Some(v) = version {
        coded.parameters.insert(VERSION_PARAMETER.to_string(), v);
    }
    let mut ensured = provision::ensure(cfn, &coded, reporter).await?;
    if let Some(first) = first {
        // What a user sees is one deploy: a stack created, then given its code.
        ensured.action = first.action;
        let mut changes = first.changes;
        changes.append(&mut ensured.changes);
        ensured.changes = changes;
        ensured.change_set = true;
    }
    Ok((
        ensured,
        Some(Shipped {
            package: package.clone(),
            bucket,
            uploaded,
        }),
    ))
}

/// Puts the package at its key unless the bucket has it; true when it was uploaded, with the
/// object version (in the versioned artifacts bucket) whose MD5 is the package's.
async fn upload(
    store: &dyn ObjectStore,
    package: &Package,
    reporter: &dyn Reporter,
) -> Result<(bool, Option<String>)> {
    let name = package.key.trim_start_matches(KEY_PREFIX);
    let present = store
        .list_dir(KEY_PREFIX, "list the API's packages")
        .await?
        .iter()
        .any(|k| k == name);
    let what = describe(package);
    let md5 = shipit_core::files::Md5(md5::compute(&package.zip).0);
    // The key names the content (its SHA-256), and a package is written in one PUT, so its
    // ETag is its MD5: a package already there is checked, never trusted by name.
    let overwritten = |etag: &str| {
        Error::Refused {
        message: format!(
            "{} in the artifacts bucket {} holds other bytes than the package (ETag {etag}, not its MD5 {}): someone overwrote it, and shipit will not point the function at it",
            package.key,
            store.bucket(),
            md5.hex()
        ),
        hint: format!(
            "find who can write to {} (only the infrastructure role should), delete that object version (aws s3api list-object-versions --prefix {}), and deploy again",
            store.bucket(),
            package.key
        ),
    }
    };
    if present {
        let head = store.head(&package.key).await?;
        let etag = head.etag.unwrap_or_default();
        if etag != md5.hex() {
            return Err(overwritten(&etag));
        }
        reporter.info(&format!(
            "{what}: already in the artifacts bucket (its MD5 checked)"
        ));
        return Ok((false, head.version));
    }
    let file = tempfile::NamedTempFile::new().map_err(|e| {
        Error::input(
            format!("cannot write the API's package to a temporary file: {e}"),
            std::env::temp_dir(),
            None,
        )
    })?;
    std::fs::write(file.path(), &package.zip).map_err(|e| {
        Error::input(
            format!("cannot write the API's package: {e}"),
            file.path(),
            None,
        )
    })?;
    let headers = Headers {
        content_type: "application/zip".into(),
        cache_control: "".into(),
    };
    let etag = store
        .put_file(&package.key, file.path(), &headers, &md5)
        .await?;
    if etag.trim_matches('"') != md5.hex() {
        return Err(overwritten(&etag));
    }
    // The version just written, read back with its ETag: a write between the two is caught.
    let head = store.head(&package.key).await?;
    if head.etag.as_deref() != Some(md5.hex().as_str()) {
        return Err(overwritten(head.etag.as_deref().unwrap_or_default()));
    }
    reporter.info(&format!("{what}: uploaded to {}", store.bucket()));
    Ok((true, head.version))
}

/// The alias API Gateway invokes.
pub const LIVE_ALIAS: &str = "live";
/// The stack output naming the function.
pub const FUNCTION_OUTPUT: &str = "ApiFunctionName";
/// The stack output naming its pre-traffic gate, which alone checks a version and moves `live`.
pub const GATE_OUTPUT: &str = "PreTrafficGateName";

/// `--canary PERCENT`: that share of the API's traffic goes to the new version while the API is
/// checked through its public URL for `window`, before all of it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub percent: u8,
    pub window: std::time::Duration,
}

/// What making the code live did.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    pub function: String,
    /// The version now live.
    pub version: String,
    /// The version that was live before.
    pub previous: String,
    /// False when the version was live already (unchanged code).
    pub moved: bool,
}

/// A check of the API through its public URL (one request; Err says what was wrong).
pub type ApiCheck<'f> =
    dyn Fn() -> futures::future::BoxFuture<'f, std::result::Result<(), String>> + Send + Sync + 'f;

/// Publishes the function's code (which must be `package`, when there is one: else what the
/// stack gave it, a configuration change) as a version, and has the stack's pre-traffic gate
/// move the `live` alias to it, which the gate does only after that version answered its
/// `GET /health` event with 200: with a canary, its share first, checked through the public URL
/// for the window, then all. A failure leaves (or puts back) the alias on the version that was
/// live, and fails; when another run moved the alias meanwhile, its move stands and the error
/// says where the alias is.
pub async fn go_live<'f>(
    functions: &dyn crate::ports::Functions,
    function: &str,
    package: Option<&Package>,
    canary: Option<&Canary>,
    check: &ApiCheck<'f>,
    reporter: &dyn Reporter,
) -> Result<Live> {
    crate::interrupt::check("the API's live version and the site are unchanged")?;
    let before = functions.alias(function, LIVE_ALIAS).await?;
    let sha = package.map(package_sha256_base64);
    let version = functions.publish(function, sha.as_deref()).await?;
    to_version(
        functions, function, &before, &version, canary, check, reporter,
    )
    .await
}

/// Puts a version a release recorded back on the live alias (no stack change, no publish):
/// through the gate, which checks it with the health event first, as a new version.
pub async fn restore(
    functions: &dyn crate::ports::Functions,
    api: &ApiVersion,
    stack_function: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Live> {
    // The record comes from the bucket: it may name only this stack's function, by version.
    if stack_function != Some(api.function.as_str())
        || api.version.is_empty()
        || !api.version.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::Refused {
            message: format!(
                "the release names version {:?} of function {:?}, which is not a version of this stack's function ({})",
                api.version,
                api.function,
                stack_function.unwrap_or("none")
            ),
            hint: "roll back to another release, or deploy the build and the API again".into(),
        });
    }
    let before = functions.alias(&api.function, LIVE_ALIAS).await?;
    let never = || -> futures::future::BoxFuture<'static, std::result::Result<(), String>> {
        Box::pin(async { Ok(()) })
    };
    to_version(
        functions,
        &api.function,
        &before,
        &api.version,
        None,
        &never,
        reporter,
    )
    .await
    .map_err(|e| match e {
        Error::Refused { message, .. } => Error::Refused {
            message,
            hint: "roll back to another release (`shipit releases`); nothing was changed".into(),
        },
        other => other,
    })
}

/// The alias on `version`, from where it was (`before`): nothing to do when it is there
/// already, else [`shift`].
async fn to_version<'f>(
    functions: &dyn crate::ports::Functions,
    function: &str,
    before: &AliasRoute,
    version: &str,
    canary: Option<&Canary>,
    check: &ApiCheck<'f>,
    reporter: &dyn Reporter,
) -> Result<Live> {
    let mut live = Live {
        function: function.to_string(),
        version: version.to_string(),
        previous: before.version.clone(),
        moved: false,
    };
    if before.version == version && before.weights.is_empty() {
        reporter.info(&format!(
            "api: version {version} of {function} is live already"
        ));
        return Ok(live);
    }
    shift(
        functions, function, before, version, canary, check, reporter,
    )
    .await?;
    live.moved = true;
    Ok(live)
}

/// Has the stack's gate move the alias from `before` to `version`, which it does only once
/// `version` answered its health event with 200 (with a canary, its share first, while the
/// gate's check of it and `check` pass every second, then all).
async fn shift<'f>(
    functions: &dyn crate::ports::Functions,
    function: &str,
    before: &AliasRoute,
    version: &str,
    canary: Option<&Canary>,
    check: &ApiCheck<'f>,
    reporter: &dyn Reporter,
) -> Result<()> {
    let refused = |why: String| {
        Error::Refused {
        message: format!(
            "the pre-traffic gate did not move live to version {version} of {function} ({} stays its main version): {why}",
            before.version
        ),
        hint: "fix the handler and deploy again (when another run moved live meanwhile, run again); the site was not changed".into(),
    }
    };
    let Some(c) = canary else {
        functions
            .route(function, version, &BTreeMap::new(), before)
            .await?
            .map_err(refused)?;
        reporter.info(&format!(
            "api: version {version} of {function} answered GET /health with 200 and is live (was {})",
            before.version
        ));
        return Ok(());
    };
    let weights = BTreeMap::from([(version.to_string(), f64::from(c.percent) / 100.0)]);
    functions
        .route(function, &before.version, &weights, before)
        .await?
        .map_err(refused)?;
    reporter.info(&format!(
        "api: version {version} answered GET /health with 200; canary: {}% of the traffic to it for {} s",
        c.percent,
        c.window.as_secs()
    ));
    // Where the alias is now, as Lambda says (what a move from here must find).
    let canary_route = functions.alias(function, LIVE_ALIAS).await?;
    // A failed check, a refused final move, or Ctrl-C / SIGTERM: every request back on the
    // version that was live.
    let put_back = |failure: Error| async {
        let back = match functions
            .route(function, &before.version, &BTreeMap::new(), &canary_route)
            .await
        {
            Ok(Ok(())) => return failure,
            Ok(Err(why)) => why,
            Err(e) => e.to_string(),
        };
        // Another run moved live meanwhile: its move stands, and nobody should undo it by hand.
        let hint = match functions.alias(function, LIVE_ALIAS).await {
            Ok(now) if now.version != before.version || now.weights != canary_route.weights => format!(
                "live is on version {} ({:?}) now, where another run (a deploy or a rollback) put it: see `shipit releases`, and deploy again or `shipit rollback` rather than moving it by hand",
                now.version, now.weights
            ),
            _ => format!(
                "put the canary back, with a role that may move the alias (the gate's rights): aws lambda update-alias --function-name {function} --name {LIVE_ALIAS} --function-version {} --routing-config AdditionalVersionWeights={{}}",
                before.version
            ),
        };
        Error::Aws {
            message: format!("{failure} (but moving the alias back failed: {back})"),
            hint: Some(hint),
        }
    };
    let until = std::time::Instant::now() + c.window;
    loop {
        // Each tick: the new version directly, through the gate (a small share may see no
        // public request), and the API through its public URL.
        let direct = match functions.check(function, version).await {
            Ok(verdict) => verdict,
            Err(e) => Err(e.to_string()),
        };
        let seen = match direct {
            Ok(()) => check().await,
            Err(why) => Err(format!("version {version} itself: {why}")),
        };
        if let Err(why) = seen {
            return Err(put_back(Error::Refused {
                message: format!(
                    "the canary of version {version} of {function} failed: {why}; all traffic is back on version {}",
                    before.version
                ),
                hint: "fix the handler and deploy again; the site was not changed".into(),
            })
            .await);
        }
        if std::time::Instant::now() >= until {
            break;
        }
        let state = format!(
            "the canary of version {version} stopped, all traffic is back on version {}, the site was not changed",
            before.version
        );
        if let Err(e) = crate::interrupt::pause(std::time::Duration::from_secs(1), &state).await {
            return Err(put_back(e).await);
        }
    }
    let all = match functions
        .route(function, version, &BTreeMap::new(), &canary_route)
        .await
    {
        Ok(verdict) => verdict.map_err(refused),
        Err(e) => Err(e),
    };
    if let Err(e) = all {
        return Err(put_back(e).await);
    }
    reporter.info(&format!(
        "api: version {version} of {function} answered GET /health with 200 and is live (was {})",
        before.version
    ));
    Ok(())
}

/// The package's SHA-256 as Lambda reports a function's `CodeSha256` (base64).
pub fn package_sha256_base64(package: &Package) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(package.digest)
}
