//! The local edge: what CloudFront would answer, computed from a distribution's configuration.
//!
//! This module is the pure part: reading a CloudFormation-shaped `DistributionConfig` (from
//! the template for `shipit preview DIR`, or from the local cloud for a deployed stack) into an
//! [`EdgeConfig`], and the decisions CloudFront makes per request: which behaviour, what the
//! viewer-request routing function does, the default root object, custom error responses,
//! how long an object stays cached, and the response headers policy. `edge::serve` runs it.

use bytes::Bytes;
use serde_json::Value;

/// What a distribution does with a request, as far as serving a static site goes.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeConfig {
    pub default_root_object: String,
    /// Ordered cache behaviours; the first whose pattern matches wins.
    pub behaviors: Vec<Behavior>,
    pub default: Behavior,
    pub errors: Vec<ErrorResponse>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// `None` for the default behaviour.
    pub pattern: Option<String>,
    pub redirect_to_https: bool,
    pub routing: Option<Routing>,
    pub ttl: Ttl,
    pub headers: Vec<PolicyHeader>,
}

/// shipit's viewer-request function (stack/shipit.yaml's RoutingFunction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routing {
    /// Extensionless paths get /index.html (single-page app) rather than `<path>/index.html`.
    pub spa: bool,
}

/// A cache policy's TTLs, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    pub min: u64,
    pub default: u64,
    pub max: u64,
}

/// One header a response headers policy sets; `overrides` replaces the origin's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    pub name: String,
    pub value: String,
    pub overrides: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub error_code: u16,
    pub response_code: Option<u16>,
    pub page: Option<String>,
    pub caching_min_ttl: u64,
}

/// Resolves what a distribution refers to by id: functions, cache and headers policies.
pub trait Lookup {
    fn function_code(&self, reference: &str) -> Option<String>;
    fn cache_policy(&self, id: &str) -> Option<Value>;
    fn headers_policy(&self, id: &str) -> Option<Value>;
}

/// CloudFront's defaults for a behaviour without a cache policy (legacy TTL settings).
const LEGACY_TTL: Ttl = Ttl {
    min: 0,
    default: 86400,
    max: 31536000,
};

fn u64_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn bool_of(v: &Value) -> bool {
    v.as_bool().unwrap_or_else(|| v.as_str() == Some("true"))
}

impl Routing {
    /// Recognises shipit's routing function by what it does; any other code is refused,
    /// because the local edge does not run JavaScript.
    pub fn from_code(code: &str) -> Result<Routing, String> {
        let shipit = code.contains("function handler(event)") && code.contains(".shipit/");
        let spa = code
            .split("var SPA = \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        match (shipit, spa) {
            (true, Some(flag)) => Ok(Routing {
                spa: flag == "true",
            }),
            _ => Err("the local edge emulates shipit's routing function only (stack/shipit.yaml's RoutingFunction); this distribution runs other code".into()),
        }
    }
}

impl EdgeConfig {
    /// Reads a CloudFormation-shaped `DistributionConfig`.
    pub fn from_cfn(config: &Value, lookup: &dyn Lookup) -> Result<EdgeConfig, String> {
        let behavior = |b: &Value, pattern: Option<String>| -> Result<Behavior, String> {
            let mut routing = None;
            for f in b["FunctionAssociations"].as_array().into_iter().flatten() {
                if f["EventType"] != "viewer-request" {
                    continue;
                }
                let arn = f["FunctionARN"].as_str().unwrap_or_default();
                let code = lookup
                    .function_code(arn)
                    .ok_or_else(|| format!("function {arn} is not known"))?;
                routing = Some(Routing::from_code(&code)?);
            }
            let ttl = match b["CachePolicyId"].as_str() {
                Some(id) => {
                    let p = lookup
                        .cache_policy(id)
                        .ok_or_else(|| format!("cache policy {id} is not known"))?;
                    let c = &p["CachePolicyConfig"];
                    Ttl {
                        min: u64_of(&c["MinTTL"]).unwrap_or(0),
                        default: u64_of(&c["DefaultTTL"]).unwrap_or(LEGACY_TTL.default),
                        max: u64_of(&c["MaxTTL"]).unwrap_or(LEGACY_TTL.max),
                    }
                }
                None => Ttl {
                    min: u64_of(&b["MinTTL"]).unwrap_or(LEGACY_TTL.min),
                    default: u64_of(&b["DefaultTTL"]).unwrap_or(LEGACY_TTL.default),
                    max: u64_of(&b["MaxTTL"]).unwrap_or(LEGACY_TTL.max),
                },
            };
            let headers = match b["ResponseHeadersPolicyId"].as_str() {
                Some(id) => policy_headers(
                    &lookup
                        .headers_policy(id)
                        .ok_or_else(|| format!("response headers policy {id} is not known"))?,
                ),
                None => Vec::new(),
            };
            Ok(Behavior {
                pattern,
                redirect_to_https: matches!(
                    b["ViewerProtocolPolicy"].as_str(),
                    Some("redirect-to-https") | Some("https-only")
                ),
                routing,
                ttl,
                headers,
            })
        };
        let behaviors = config["CacheBehaviors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                behavior(
                    b,
                    Some(b["PathPattern"].as_str().unwrap_or("*").to_string()),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let errors = config["CustomErrorResponses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some(ErrorResponse {
                    error_code: u64_of(&e["ErrorCode"])? as u16,
                    response_code: u64_of(&e["ResponseCode"]).map(|c| c as u16),
                    page: e["ResponsePagePath"].as_str().map(str::to_string),
                    caching_min_ttl: u64_of(&e["ErrorCachingMinTTL"]).unwrap_or(10),
                })
            })
            .collect();
        Ok(EdgeConfig {
            default_root_object: config["DefaultRootObject"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            behaviors,
            default: behavior(&config["DefaultCacheBehavior"], None)?,
            errors,
        })
    }

    /// The behaviour for a viewer's path (before any function rewrites it).
    pub fn behavior(&self, path: &str) -> &Behavior {
        self.behaviors
            .iter()
            .find(|b| b.pattern.as_deref().is_some_and(|p| path_matches(p, path)))
            .unwrap_or(&self.default)
    }

    pub fn error_response(&self, status: u16) -> Option<&ErrorResponse> {
        self.errors.iter().find(|e| e.error_code == status)
    }
}

/// A response headers policy's SecurityHeadersConfig and CustomHeadersConfig as headers.
pub fn policy_headers(policy: &Value) -> Vec<PolicyHeader> {
    let c = &policy["ResponseHeadersPolicyConfig"];
    let s = &c["SecurityHeadersConfig"];
    let mut out = Vec::new();
    let mut add = |name: &str, value: String, o: &Value| {
        out.push(PolicyHeader {
            name: name.to_string(),
            value,
            overrides: bool_of(&o["Override"]),
        })
    };
    let hsts = &s["StrictTransportSecurity"];
    if let Some(age) = u64_of(&hsts["AccessControlMaxAgeSec"]) {
        let mut v = format!("max-age={age}");
        if bool_of(&hsts["IncludeSubdomains"]) {
            v.push_str("; includeSubDomains");
        }
        if bool_of(&hsts["Preload"]) {
            v.push_str("; preload");
        }
        add("strict-transport-security", v, hsts);
    }
    if s["ContentTypeOptions"].is_object() {
        add(
            "x-content-type-options",
            "nosniff".into(),
            &s["ContentTypeOptions"],
        );
    }
    if let Some(f) = s["FrameOptions"]["FrameOption"].as_str() {
        add("x-frame-options", f.to_string(), &s["FrameOptions"]);
    }
    if let Some(r) = s["ReferrerPolicy"]["ReferrerPolicy"].as_str() {
        add("referrer-policy", r.to_string(), &s["ReferrerPolicy"]);
    }
    if let Some(csp) = s["ContentSecurityPolicy"]["ContentSecurityPolicy"].as_str() {
        add(
            "content-security-policy",
            csp.to_string(),
            &s["ContentSecurityPolicy"],
        );
    }
    let xss = &s["XSSProtection"];
    if xss.is_object() {
        let mut v = if bool_of(&xss["Protection"]) {
            "1"
        } else {
            "0"
        }
        .to_string();
        if bool_of(&xss["ModeBlock"]) {
            v.push_str("; mode=block");
        }
        add("x-xss-protection", v, xss);
    }
    for h in c["CustomHeadersConfig"]["Items"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(v)) = (h["Header"].as_str(), h["Value"].as_str()) {
            add(&n.to_ascii_lowercase(), v.to_string(), h);
        }
    }
    out
}

/// CloudFront path patterns: `*` any run of characters (slashes too), `?` one character,
/// case-sensitive; a pattern without a leading slash matches as if it had one.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    let pattern = if pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.to_string()
    } else {
        format!("/{pattern}")
    };
    go(pattern.as_bytes(), path.as_bytes())
}

/// What the viewer-request stage decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Fetch this URI (the cache key) from the cache or the origin.
    Forward(String),
    /// The function answered by itself with this status.
    Respond(u16),
}

/// Runs the routing function (if the behaviour has one), then the default root object.
pub fn viewer_request(routing: Option<Routing>, default_root_object: &str, uri: &str) -> Viewer {
    let mut uri = uri.to_string();
    if let Some(r) = routing {
        // shipit's state, at the root or under a deploy prefix (`site/.shipit/`, `v2.shipit/`).
        if uri.contains(".shipit/") {
            return Viewer::Respond(404);
        }
        let last = &uri[uri.rfind('/').map_or(0, |i| i + 1)..];
        if !last.contains('.') {
            uri = if r.spa {
                "/index.html".to_string()
            } else if uri.ends_with('/') {
                format!("{uri}index.html")
            } else {
                format!("{uri}/index.html")
            };
        }
    }
    if uri == "/" && !default_root_object.is_empty() {
        uri = format!("/{}", default_root_object.trim_start_matches('/'));
    }
    Viewer::Forward(uri)
}

/// Seconds CloudFront keeps an object, from the origin's Cache-Control and the policy's TTLs:
/// `max-age`/`s-maxage` clamped to [min, max]; `no-cache`/`no-store`/`private` mean min;
/// no directive means the default.
pub fn ttl_for(ttl: Ttl, cache_control: Option<&str>) -> u64 {
    let Some(cc) = cache_control else {
        return ttl.default;
    };
    let directives: Vec<String> = cc
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives
        .iter()
        .any(|d| d == "no-cache" || d == "no-store" || d == "private")
    {
        return ttl.min;
    }
    let age = |name: &str| {
        directives
            .iter()
            .find_map(|d| d.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
    };
    match age("s-maxage").or_else(|| age("max-age")) {
        Some(a) => a.clamp(ttl.min, ttl.max.max(ttl.min)),
        None => ttl.default,
    }
}

/// Applies a response headers policy to a response's headers (lower-case names).
pub fn apply_policy(policy: &[PolicyHeader], headers: &mut Vec<(String, String)>) {
    for h in policy {
        let present = headers.iter().position(|(n, _)| *n == h.name);
        match present {
            Some(i) if h.overrides => headers[i].1 = h.value.clone(),
            Some(_) => {}
            None => headers.push((h.name.clone(), h.value.clone())),
        }
    }
}

/// Whether an invalidation path covers a cache key (`/a/*` is a prefix; others exact).
pub fn invalidates(path: &str, key: &str) -> bool {
    match path.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => path == key,
    }
}

/// What an origin answered.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn plain(status: u16, text: &str) -> Fetched {
        Fetched {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: Bytes::from(format!("{text}\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routing_table() {
        let spa = Some(Routing { spa: true });
        let dirs = Some(Routing { spa: false });
        let table: &[(Option<Routing>, &str, Viewer)] = &[
            (spa, "/", Viewer::Forward("/index.html".into())),
            (spa, "/about/team", Viewer::Forward("/index.html".into())),
            (spa, "/about/team/", Viewer::Forward("/index.html".into())),
            (
                spa,
                "/assets/app.js",
                Viewer::Forward("/assets/app.js".into()),
            ),
            (
                spa,
                "/assets/missing.js",
                Viewer::Forward("/assets/missing.js".into()),
            ),
            (spa, "/.shipit/manifest.json", Viewer::Respond(404)),
            (spa, "/site/.shipit/lock.json", Viewer::Respond(404)),
            (dirs, "/v2.shipit/releases/x.json", Viewer::Respond(404)),
            (dirs, "/about", Viewer::Forward("/about/index.html".into())),
            (dirs, "/about/", Viewer::Forward("/about/index.html".into())),
            (dirs, "/", Viewer::Forward("/index.html".into())),
            (None, "/", Viewer::Forward("/index.html".into())),
            (None, "/about", Viewer::Forward("/about".into())),
            (
                None,
                "/.shipit/manifest.json",
                Viewer::Forward("/.shipit/manifest.json".into()),
            ),
        ];
        for (routing, uri, want) in table {
            assert_eq!(
                viewer_request(*routing, "index.html", uri),
                *want,
                "{uri} {routing:?}"
            );
        }
        assert_eq!(viewer_request(None, "", "/"), Viewer::Forward("/".into()));
    }

    #[test]
    fn routing_function_is_recognised_by_its_code() {
        let t = crate::core::template::Template::embedded();
        let params = t
            .resolve_parameters(&std::collections::BTreeMap::new())
            .unwrap();
        let e = crate::core::evaluate::Evaluated::new(
            crate::core::evaluate::load(&t.body).unwrap(),
            params,
            "s",
        );
        let code = e.properties("RoutingFunction").unwrap()["FunctionCode"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(Routing::from_code(&code), Ok(Routing { spa: true }));
        let off = code.replace("var SPA = \"true\"", "var SPA = \"false\"");
        assert_eq!(Routing::from_code(&off), Ok(Routing { spa: false }));
        assert!(Routing::from_code("function handler(event) { return event.request; }").is_err());
    }

    #[test]
    fn ttl_table() {
        let site = Ttl {
            min: 0,
            default: 300,
            max: 31536000,
        };
        let assets = Ttl {
            min: 86400,
            default: 31536000,
            max: 31536000,
        };
        let table: &[(Ttl, Option<&str>, u64)] = &[
            (site, Some("public, max-age=0, must-revalidate"), 0),
            (site, Some("no-cache"), 0),
            (site, Some("public, max-age=600"), 600),
            (site, Some("public, s-maxage=60, max-age=600"), 60),
            (site, None, 300),
            (site, Some("public"), 300),
            (assets, Some("no-cache"), 86400),
            (assets, Some("max-age=60"), 86400),
            (
                assets,
                Some("public, max-age=31536000, immutable"),
                31536000,
            ),
            (assets, Some("max-age=99999999999"), 31536000),
        ];
        for (ttl, cc, want) in table {
            assert_eq!(ttl_for(*ttl, *cc), *want, "{cc:?} {ttl:?}");
        }
    }

    #[test]
    fn path_patterns() {
        let table = [
            ("/assets/*", "/assets/app.js", true),
            ("/assets/*", "/assets/deep/x.css", true),
            ("assets/*", "/assets/app.js", true),
            ("/assets/*", "/Assets/app.js", false),
            ("/assets/*", "/index.html", false),
            ("*.jpg", "/img/a.jpg", true),
            ("/a?.html", "/ab.html", true),
            ("/a?.html", "/a.html", false),
        ];
        for (p, path, want) in table {
            assert_eq!(path_matches(p, path), want, "{p} {path}");
        }
    }

    #[test]
    fn invalidation_paths_cover_keys() {
        let table = [
            ("/*", "/index.html", true),
            ("/index.html", "/index.html", true),
            ("/index.html", "/about/index.html", false),
            ("/about/*", "/about/index.html", true),
            ("/about/", "/about/index.html", false),
        ];
        for (p, k, want) in table {
            assert_eq!(invalidates(p, k), want, "{p} {k}");
        }
    }

    #[test]
    fn headers_policy_override_and_add() {
        let policy = policy_headers(&json!({"ResponseHeadersPolicyConfig": {
            "SecurityHeadersConfig": {
                "StrictTransportSecurity": {"AccessControlMaxAgeSec": 63072000, "IncludeSubdomains": true, "Preload": true, "Override": true},
                "ContentTypeOptions": {"Override": true},
                "FrameOptions": {"FrameOption": "DENY", "Override": false},
                "ReferrerPolicy": {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": true}
            },
            "CustomHeadersConfig": {"Items": [{"Header": "X-Site", "Value": "demo", "Override": false}]}
        }}));
        let mut headers = vec![
            ("x-frame-options".to_string(), "SAMEORIGIN".to_string()),
            ("referrer-policy".to_string(), "unsafe-url".to_string()),
        ];
        apply_policy(&policy, &mut headers);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("x-frame-options"),
            Some("SAMEORIGIN"),
            "no override keeps the origin's"
        );
        assert_eq!(
            get("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(
            get("strict-transport-security"),
            Some("max-age=63072000; includeSubDomains; preload")
        );
        assert_eq!(get("x-content-type-options"), Some("nosniff"));
        assert_eq!(get("x-site"), Some("demo"));
    }
}
