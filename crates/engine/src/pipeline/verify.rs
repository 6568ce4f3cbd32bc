//! Making the verification requests: every check once, then again with backoff while any
//! fails and the deadline allows (a new deploy or invalidation takes a while to reach every
//! edge). Requests carry `Cache-Control: no-cache` so no proxy between us and the CDN answers
//! for it, and the missing asset gets a fresh random name each attempt.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::http::{Client, Failure, Response};
use crate::ports::Reporter;
use shipit_core::headers::{HeaderRules, Sniff};
use shipit_core::runtime_config::RuntimeConfig;
use shipit_core::settings::VerifySettings;
use shipit_core::verify::{self as verdict, Check, Expect, Report};

/// Where the site is and what it should be.
#[derive(Debug, Clone)]
pub struct Target {
    /// The site's base URL, without a trailing slash (`https://d111.cloudfront.net`).
    pub site: String,
    /// An object's URL straight from the bucket, asked anonymously.
    pub s3_object_url: Option<String>,
    /// The API's base URL, when the stack has one.
    pub api: Option<String>,
    /// Why the API is not checked, when it is not.
    pub api_skip: Option<String>,
    /// The origins the API must allow (the stack's SiteUrl and its distribution's own
    /// domain): a browser's preflight comes from them.
    pub api_origins: Vec<String>,
    /// On the local cloud: the pool a user is made in for the signed-in checks.
    pub api_user: Option<PoolUser>,
    /// Deep routes to check (paths starting with `/`).
    pub deep_routes: Vec<String>,
    pub expect: Expect,
    /// The header rules, for the Cache-Control a hashed asset should have.
    pub rules: HeaderRules,
    /// The SPA's runtime configuration: its URL path (from the site's root) and what it must
    /// say; or why it is not checked.
    pub runtime: Result<Option<(String, RuntimeConfig)>, String>,
}

/// A user pool of the local cloud, where verify may make (and then delete) a user to call the
/// API signed in. Never on AWS: verify does not add users to a production pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUser {
    pub endpoint: String,
    pub region: String,
    pub pool: String,
    pub client: String,
}

/// What a target is built from: settings, the stack's outputs, where the bucket is.
pub struct Sources<'a> {
    pub settings: &'a VerifySettings,
    pub outputs: Option<&'a BTreeMap<String, String>>,
    /// A custom S3 endpoint (the local cloud): then the bucket URL is path-style under it,
    /// and the stack's AWS URLs (CloudFront, execute-api) are not reachable from here.
    pub s3_endpoint: Option<&'a str>,
    pub region: &'a str,
    pub bucket: Option<&'a str>,
    pub prefix: &'a str,
    pub rules: HeaderRules,
    pub index_md5: Option<String>,
    /// The runtime configuration's key under the prefix, when the site has one.
    pub runtime_config: Option<&'a str>,
    /// The live release, when known: the runtime configuration must name it.
    pub release: Option<String>,
}

/// Builds the target; the error says why there is no site URL to verify.
pub fn target(s: Sources) -> Result<Target, String> {
    let local = s.s3_endpoint.is_some();
    let output = |k: &str| s.outputs.and_then(|o| o.get(k)).cloned();
    let site = match (&s.settings.url, output("SiteUrl")) {
        (Some(u), _) => u.clone(),
        (None, Some(_)) if local => {
            return Err("the stack's SiteUrl is CloudFront's, which the local cloud does not serve: pass --url with the local edge's URL (`shipit preview --stack NAME`)".into())
        }
        (None, Some(u)) => u,
        (None, None) => return Err("no site URL: pass --url (or --stack with a shipit stack)".into()),
    };
    let object = format!("{}index.html", s.prefix);
    let s3_object_url = s.settings.s3_url.clone().or_else(|| {
        let bucket = s.bucket?;
        Some(match s.s3_endpoint {
            Some(e) => format!("{}/{bucket}/{object}", e.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{object}", s.region),
        })
    });
    let (api, api_skip) = match (&s.settings.api_url, output("ApiUrl")) {
        (Some(u), _) => (Some(u.clone()), None),
        (None, Some(_)) if local => (None, Some("the stack's ApiUrl is API Gateway's, which the local cloud does not serve: pass --api-url with the local API's URL and the stage (`shipit preview --stack NAME` prints the URL; add /live)".to_string())),
        (None, Some(u)) => (Some(u), None),
        (None, None) if s.outputs.is_some() => (None, Some("the stack has no API (EnableApi=false)".to_string())),
        (None, None) => (None, Some("no --api-url given".to_string())),
    };
    let api_user = match (
        s.s3_endpoint,
        output("UserPoolId"),
        output("UserPoolClientId"),
    ) {
        (Some(endpoint), Some(pool), Some(client)) if api.is_some() => Some(PoolUser {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: s.region.to_string(),
            pool,
            client,
        }),
        _ => None,
    };
    let runtime = runtime_expected(&s, api.as_deref());
    let deep_routes = if s.settings.deep_routes.is_empty() {
        vec![default_deep_route()]
    } else {
        s.settings.deep_routes.clone()
    };
    Ok(Target {
        site: site.trim_end_matches('/').to_string(),
        s3_object_url,
        api,
        api_skip,
        api_origins: site_origins(s.outputs),
        api_user,
        deep_routes,
        expect: Expect {
            index_md5: s.index_md5,
            html_cache_control: s
                .rules
                .headers_for("index.html", Sniff::Html)
                .cache_control
                .to_string(),
            spa: output("SpaFallback").as_deref() != Some("false"),
        },
        rules: s.rules,
        runtime,
    })
}

/// What the runtime configuration must say: the stack's values; through the local edge, the
/// local stand-ins it points them at (the local API, the local cloud's sign-in).
fn runtime_expected(
    s: &Sources,
    api: Option<&str>,
) -> Result<Option<(String, RuntimeConfig)>, String> {
    let (Some(key), Some(outputs)) = (s.runtime_config, s.outputs) else {
        return Ok(None);
    };
    let mut want = RuntimeConfig::from_outputs(outputs, s.region)
        .with_release(s.release.as_deref().unwrap_or(""));
    if let Some(endpoint) = s.s3_endpoint {
        if want.api_url.is_some() {
            want.api_url = Some(api.map(|a| a.trim_end_matches('/').to_string()).ok_or(
                "the local edge points its apiUrl at the local API: pass --api-url to check it",
            )?);
        }
        if want.cognito_url.is_some() {
            want.cognito_url = Some(format!("{}/", endpoint.trim_end_matches('/')));
        }
    }
    Ok(Some((format!("/{}{key}", s.prefix), want)))
}

/// The site's own origins by the stack's outputs: its URL, and its distribution's domain
/// when that is another.
pub fn site_origins(outputs: Option<&BTreeMap<String, String>>) -> Vec<String> {
    let Some(o) = outputs else {
        return Vec::new();
    };
    let mut origins: Vec<String> = o.get("SiteUrl").into_iter().cloned().collect();
    if let Some(d) = o.get("DistributionDomainName") {
        let distribution = format!("https://{d}");
        if !origins.contains(&distribution) {
            origins.push(distribution);
        }
    }
    origins
}

/// An origin no site has: the API must not allow it.
const FOREIGN_ORIGIN: &str = "https://shipit-verify.invalid";

/// The default deep route: a path no site has, several segments deep, without an extension.
pub fn default_deep_route() -> String {
    format!("/shipit-verify/deep/route-{:08x}", fastrand::u32(..))
}

const BUST: [(&str, &str); 2] = [("cache-control", "no-cache"), ("pragma", "no-cache")];

/// When the whole verification must be over, and how long it was given.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub total: Duration,
}

/// A cache-busting GET that gives up at the deadline.
async fn get(client: &Client, url: &str, d: Deadline) -> Result<Response, Failure> {
    fetch(client, url, &BUST, d).await
}

async fn fetch(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
    d: Deadline,
) -> Result<Response, Failure> {
    match tokio::time::timeout_at(d.at.into(), client.get(url, headers)).await {
        Ok(answer) => answer,
        Err(_) => Err(Failure::Deadline(d.total)),
    }
}

/// One pass over every check, each request cut off at the deadline.
pub async fn attempt(client: &Client, t: &Target, d: Deadline) -> Vec<Check> {
    let mut checks = Vec::new();
    let apex_url = format!("{}/", t.site);
    let apex = get(client, &apex_url, d).await;
    let mut shell_md5 = None;
    match &apex {
        Ok(r) => {
            checks.push(verdict::apex(&apex_url, r, &t.expect));
            if r.status == 200 {
                shell_md5 = Some(format!("{:x}", md5::compute(&r.body)));
            }
        }
        Err(e) => checks.push(Check::unreachable("apex", &apex_url, e)),
    }
    for route in &t.deep_routes {
        let url = format!("{}{route}", t.site);
        checks.push(match get(client, &url, d).await {
            Ok(r) => verdict::deep_route(&url, &r, shell_md5.as_deref(), &t.expect),
            Err(e) => Check::unreachable("deep route", &url, &e),
        });
    }
    let missing = format!(
        "{}/assets/shipit-missing-{:016x}.js",
        t.site,
        fastrand::u64(..)
    );
    checks.push(match get(client, &missing, d).await {
        Ok(r) => verdict::missing_asset(&missing, &r),
        Err(e) => Check::unreachable("missing asset", &missing, &e),
    });
    checks.push(match &t.s3_object_url {
        None => Check::skip("direct S3", "no bucket URL known (pass --s3-url)"),
        Some(url) => match fetch(client, url, &[], d).await {
            Ok(r) => verdict::direct_s3(url, &r),
            Err(e) => Check::unreachable("direct S3", url, &e),
        },
    });
    checks.push(match t.site.strip_prefix("https://") {
        None => Check::skip(
            "https redirect",
            "the site is served over plain http (the local edge): no redirect to check",
        ),
        Some(host) => {
            let url = format!("http://{host}/");
            match get(client, &url, d).await {
                Ok(r) => verdict::https_redirect(&url, &r),
                Err(e) => Check::unreachable("https redirect", &url, &e),
            }
        }
    });
    match &apex {
        Ok(r) => {
            checks.push(verdict::html_cache(&apex_url, r, &t.expect));
            checks.push(verdict::security_headers(&apex_url, r));
            let asset = if r.status == 200 && verdict::is_html(r) {
                verdict::hashed_asset_in(&String::from_utf8_lossy(&r.body))
            } else {
                None
            };
            checks.push(match asset {
                None => Check::skip(
                    "hashed asset",
                    "the live index.html references no content-hashed asset",
                ),
                Some(path) => {
                    let url = format!("{}{path}", t.site);
                    let key = path.trim_start_matches('/');
                    let want = t.rules.headers_for(key, Sniff::Binary).cache_control;
                    match get(client, &url, d).await {
                        Ok(r) => verdict::hashed_asset(&url, &r, &want),
                        Err(e) => Check::unreachable("hashed asset", &url, &e),
                    }
                }
            });
        }
        Err(_) => checks.push(Check::skip("HTML cache", "the apex did not answer")),
    }
    checks.push(match &t.runtime {
        Err(why) => Check::skip("runtime config", why.clone()),
        Ok(None) => Check::skip(
            "runtime config",
            "the site has none (no stack, or runtime_config = \"\")",
        ),
        Ok(Some((path, want))) => {
            let url = format!("{}{path}", t.site);
            match get(client, &url, d).await {
                Ok(r) => verdict::runtime_config(&url, &r, want, &t.expect),
                Err(e) => Check::unreachable("runtime config", &url, &e),
            }
        }
    });
    let state = format!("{}/.shipit/manifest.json", t.site);
    checks.push(match get(client, &state, d).await {
        Ok(r) => verdict::state_hidden(&state, &r),
        Err(e) => Check::unreachable("state hidden", &state, &e),
    });
    match &t.api {
        None => checks.push(Check::skip(
            "API",
            t.api_skip.clone().unwrap_or_else(|| "no API".into()),
        )),
        Some(api) => {
            let api = api.trim_end_matches('/');
            let health = format!("{api}/health");
            checks.push(match get(client, &health, d).await {
                Ok(r) => verdict::api_health(&health, &r),
                Err(e) => Check::unreachable("API health", &health, &e),
            });
            let protected = format!("{api}/items");
            checks.push(match get(client, &protected, d).await {
                Ok(r) => verdict::api_protected(&protected, &r),
                Err(e) => Check::unreachable("API auth", &protected, &e),
            });
            // A browser's preflight from each of the site's origins, and from one it does not
            // have: allowed, allowed, refused.
            let others = (!t.api_origins.is_empty()).then_some(FOREIGN_ORIGIN);
            for origin in t.api_origins.iter().map(String::as_str).chain(others) {
                let preflight = [
                    ("origin", origin),
                    ("access-control-request-method", "GET"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type",
                    ),
                ];
                let site = origin != FOREIGN_ORIGIN;
                let name = if site { "API CORS" } else { "API CORS others" };
                checks.push(
                    match client
                        .send("OPTIONS", &protected, &preflight, Bytes::new())
                        .await
                    {
                        Ok(r) if site => verdict::api_preflight(&protected, origin, &r),
                        Ok(r) => verdict::api_preflight_foreign(&protected, origin, &r),
                        Err(e) => Check::unreachable(name, &protected, &e),
                    },
                );
            }
            checks.extend(signed_in(client, api, t.api_user.as_ref(), d).await);
        }
    }
    checks
}

/// With a user of the local cloud's pool: a protected route answers, and the deep health check
/// finds every store. The user is deleted afterwards.
async fn signed_in(client: &Client, api: &str, user: Option<&PoolUser>, d: Deadline) -> Vec<Check> {
    let Some(pool) = user else {
        return vec![Check::skip(
            "API signed in",
            "on AWS, verify makes no user in the stack's pool (sign in yourself to check)"
                .to_string(),
        )];
    };
    // A custom endpoint is not always the local cloud (a VPC or FIPS endpoint on AWS): make a
    // user only where the local cloud answers for itself.
    if !crate::http::is_local_cloud(client, &pool.endpoint).await {
        return vec![Check::skip(
            "API signed in",
            format!(
                "{} is not shipit's local cloud: verify makes no user in the pool there",
                pool.endpoint
            ),
        )];
    }
    let name = format!("shipit-verify-{:08x}@example.com", fastrand::u32(..));
    let delete = serde_json::json!({"UserPoolId": pool.pool, "Username": name});
    let token = match local_token(client, pool, &name).await {
        Ok(t) => t,
        Err(e) => {
            // The user may exist even when signing in failed.
            let _ = cognito(client, pool, "AdminDeleteUser", delete).await;
            return vec![Check::fail(
                "API signed in",
                &pool.endpoint,
                "no token".to_string(),
                format!("cannot sign a user in to the local pool {}: {e}", pool.pool),
            )];
        }
    };
    let auth = [("authorization", token.as_str())];
    let items = format!("{api}/items");
    let deep = format!("{api}/health/deep");
    let mut checks = Vec::new();
    for (url, judge) in [
        (
            &items,
            verdict::api_signed_in as fn(&str, &Response) -> Check,
        ),
        (&deep, verdict::api_stores),
    ] {
        checks.push(match fetch(client, url, &auth, d).await {
            Ok(r) => judge(url, &r),
            Err(e) => Check::unreachable("API signed in", url, &e),
        });
    }
    let _ = cognito(client, pool, "AdminDeleteUser", delete).await;
    checks
}

/// One call of the local cloud's Cognito API (JSON; the local cloud checks no signature).
async fn cognito(
    client: &Client,
    pool: &PoolUser,
    action: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let target = format!("AWSCognitoIdentityProviderService.{action}");
    let auth = crate::http::local_cloud_authorization("cognito-idp", &pool.region);
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
        ("authorization", auth.as_str()),
    ];
    let url = format!("{}/", pool.endpoint);
    let r = client
        .send("POST", &url, &headers, Bytes::from(body.to_string()))
        .await
        .map_err(|e| format!("{action}: {e:?}"))?;
    if r.status != 200 {
        return Err(format!(
            "{action} answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("{action}: {e}"))
}

/// A new user of the pool, signed in: their ID token.
async fn local_token(client: &Client, pool: &PoolUser, name: &str) -> Result<String, String> {
    let password = format!("Verify-{:016x}-Aa1!", fastrand::u64(..));
    cognito(
        client,
        pool,
        "AdminCreateUser",
        serde_json::json!({
            "UserPoolId": pool.pool, "Username": name, "MessageAction": "SUPPRESS",
            "TemporaryPassword": password,
        }),
    )
    .await?;
    cognito(
        client,
        pool,
        "AdminSetUserPassword",
        serde_json::json!({
            "UserPoolId": pool.pool, "Username": name, "Password": password, "Permanent": true,
        }),
    )
    .await?;
    let auth = cognito(client, pool, "AdminInitiateAuth", serde_json::json!({
        "UserPoolId": pool.pool, "ClientId": pool.client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": name, "PASSWORD": password},
    }))
    .await?;
    auth["AuthenticationResult"]["IdToken"]
        .as_str()
        .map(str::to_string)
        .ok_or("no ID token in the answer".to_string())
}

/// The longest a single request waits for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The least a verification is given: `--verify-timeout 0` still makes one attempt, and a
/// loaded machine or a slow origin still answers every check of it.
const MIN_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the checks until they pass or `deadline` has passed, retrying with backoff and
/// reporting each retry. The deadline bounds the whole verification: a request still
/// unanswered when it passes fails its check as "not answered before the deadline".
pub async fn verify(
    t: &Target,
    deadline: Duration,
    reporter: &dyn Reporter,
) -> Result<Report, String> {
    let total = deadline.max(MIN_DEADLINE);
    let client = Client::new(REQUEST_TIMEOUT)?;
    let start = Instant::now();
    let d = Deadline {
        at: start + total,
        total,
    };
    let mut delay = Duration::from_millis(500);
    let mut attempts = 0;
    let mut earlier: Option<Report> = None;
    loop {
        attempts += 1;
        let began = Instant::now();
        let checks = attempt(&client, t, d).await;
        let took = began.elapsed();
        let report =
            Report::new(&t.site, attempts, checks).keeping_earlier_failures(earlier.as_ref());
        let left = total.saturating_sub(start.elapsed());
        // Another attempt only if, after the wait, it has as long as the last one took.
        if report.ok || left <= delay + took {
            return Ok(report);
        }
        let failing: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.outcome == verdict::Outcome::Fail)
            .map(|c| c.name)
            .collect();
        let wait = delay;
        reporter.info(&format!(
            "verify: {} failing ({}); retrying in {:.1}s ({}s left)",
            failing.len(),
            failing.join(", "),
            wait.as_secs_f64(),
            left.as_secs()
        ));
        // A signal ends the waiting: the caller reports the interruption.
        if crate::interrupt::pause(wait, "").await.is_err() {
            return Ok(report);
        }
        earlier = Some(report);
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// The MD5 of a local index.html, for `Expect::index_md5`.
pub fn local_index_md5(dir: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(dir.join("index.html")).ok()?;
    Some(format!("{:x}", md5::compute(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> VerifySettings {
        VerifySettings {
            enabled: true,
            url: None,
            s3_url: None,
            api_url: None,
            deep_routes: Vec::new(),
            timeout: Duration::from_secs(1),
        }
    }

    fn outputs(api: bool, spa: &str) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        o.insert("SiteUrl".into(), "https://d111.cloudfront.net".into());
        o.insert("SpaFallback".into(), spa.into());
        if api {
            o.insert(
                "ApiUrl".into(),
                "https://abc.execute-api.us-east-1.amazonaws.com/prod".into(),
            );
        }
        o
    }

    fn sources<'a>(
        s: &'a VerifySettings,
        o: Option<&'a BTreeMap<String, String>>,
        endpoint: Option<&'a str>,
    ) -> Sources<'a> {
        Sources {
            settings: s,
            outputs: o,
            s3_endpoint: endpoint,
            region: "eu-west-1",
            bucket: Some("site-b"),
            prefix: "",
            rules: HeaderRules::default(),
            index_md5: None,
            runtime_config: Some("shipit-config.json"),
            release: None,
        }
    }

    #[test]
    fn on_aws_everything_comes_from_the_stack() {
        let (s, o) = (settings(), outputs(true, "true"));
        let t = target(sources(&s, Some(&o), None)).unwrap();
        assert_eq!(t.site, "https://d111.cloudfront.net");
        assert_eq!(
            t.s3_object_url.as_deref(),
            Some("https://site-b.s3.eu-west-1.amazonaws.com/index.html")
        );
        assert_eq!(
            t.api.as_deref(),
            Some("https://abc.execute-api.us-east-1.amazonaws.com/prod")
        );
        assert!(t.expect.spa);
        assert_eq!(
            t.expect.html_cache_control,
            shipit_core::headers::REVALIDATE
        );
        assert_eq!(t.deep_routes.len(), 1);
        assert!(t.deep_routes[0].starts_with("/shipit-verify/deep/"));
    }

    #[test]
    fn locally_the_edge_url_is_needed_and_the_api_is_skipped_with_a_reason() {
        let o = outputs(true, "false");
        let s = settings();
        let err = target(sources(&s, Some(&o), Some("http://127.0.0.1:5000"))).unwrap_err();
        assert!(err.contains("shipit preview --stack"), "{err}");
        let s = VerifySettings {
            url: Some("http://127.0.0.1:8787".into()),
            deep_routes: vec!["/a/b".into()],
            ..settings()
        };
        let t = target(sources(&s, Some(&o), Some("http://127.0.0.1:5000/"))).unwrap();
        assert_eq!(
            t.s3_object_url.as_deref(),
            Some("http://127.0.0.1:5000/site-b/index.html")
        );
        assert!(t.api.is_none() && t.api_skip.unwrap().contains("--api-url"));
        assert!(!t.expect.spa);
        assert_eq!(t.deep_routes, ["/a/b"]);
    }

    #[test]
    fn without_a_stack_the_flags_say_it_all() {
        let s = settings();
        let mut src = sources(&s, None, None);
        src.bucket = None;
        assert!(target(src).unwrap_err().contains("--url"));
        let s = VerifySettings {
            url: Some("https://example.com/".into()),
            s3_url: Some("https://b.s3.amazonaws.com/index.html".into()),
            ..settings()
        };
        let mut src = sources(&s, None, None);
        src.bucket = None;
        let t = target(src).unwrap();
        assert_eq!(t.site, "https://example.com");
        assert_eq!(
            t.s3_object_url.as_deref(),
            Some("https://b.s3.amazonaws.com/index.html")
        );
        assert!(t.expect.spa);
    }
}
