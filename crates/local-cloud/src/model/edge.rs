//! The local edge: what CloudFront would answer, computed from a distribution's configuration.
//!
//! This module is the pure part: reading a CloudFormation-shaped `DistributionConfig` (from
//! the template for `shipit preview DIR`, or from the local cloud for a deployed stack) into an
//! [`EdgeConfig`], and the decisions CloudFront makes per request: which behaviour, what the
//! CloudFront Functions' events and what their results mean (`servers::js` runs their code), the
//! default root object, custom error responses,
//! how long an object stays cached, and the response headers policy. `servers::serve` runs it.

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
    /// The CloudFront Functions' code (`cloudfront-js-2.0`) run on viewer request and response.
    pub viewer_request: Option<String>,
    pub viewer_response: Option<String>,
    pub ttl: Ttl,
    pub headers: Vec<PolicyHeader>,
}

/// CloudFront's limit on a function's code.
pub const MAX_FUNCTION_CODE: usize = 10 * 1024;

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

impl EdgeConfig {
    /// Reads a CloudFormation-shaped `DistributionConfig`.
    pub fn from_cfn(config: &Value, lookup: &dyn Lookup) -> Result<EdgeConfig, String> {
        let behavior = |b: &Value, pattern: Option<String>| -> Result<Behavior, String> {
            let (mut viewer_request, mut viewer_response) = (None, None);
            for f in b["FunctionAssociations"].as_array().into_iter().flatten() {
                let arn = f["FunctionARN"].as_str().unwrap_or_default();
                let code = lookup
                    .function_code(arn)
                    .ok_or_else(|| format!("function {arn} is not known"))?;
                if code.len() > MAX_FUNCTION_CODE {
                    return Err(format!(
                        "function {arn} is {} bytes of code; CloudFront takes at most {MAX_FUNCTION_CODE}",
                        code.len()
                    ));
                }
                match f["EventType"].as_str() {
                    Some("viewer-request") => viewer_request = Some(code),
                    Some("viewer-response") => viewer_response = Some(code),
                    other => {
                        return Err(format!(
                            "function {arn} runs on {other:?}; CloudFront Functions run on viewer-request and viewer-response only"
                        ))
                    }
                }
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
                viewer_request,
                viewer_response,
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
    /// The function answered by itself.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// A viewer's request, as a CloudFront Function sees it.
#[derive(Debug, Clone, Default)]
pub struct ViewerRequest {
    pub method: String,
    pub uri: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub ip: String,
    pub request_id: String,
}

fn js_headers(headers: &[(String, String)]) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        match out.get_mut(&k) {
            // A repeated header: `multiValue`, as CloudFront passes it.
            Some(entry) => {
                let first = entry["value"].clone();
                let multi = entry
                    .as_object_mut()
                    .expect("an object")
                    .entry("multiValue")
                    .or_insert_with(|| serde_json::json!([{ "value": first }]));
                if let Some(list) = multi.as_array_mut() {
                    list.push(serde_json::json!({ "value": v }));
                }
            }
            None => {
                out.insert(k, serde_json::json!({ "value": v }));
            }
        }
    }
    Value::Object(out)
}

/// The `cloudfront-js-2.0` event: `viewer-request`, or `viewer-response` with the response.
pub fn function_event(
    req: &ViewerRequest,
    distribution: &str,
    response: Option<(u16, &[(String, String)])>,
) -> Value {
    let mut query = serde_json::Map::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.insert(k.to_string(), serde_json::json!({ "value": v }));
    }
    let cookies: serde_json::Map<String, Value> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), serde_json::json!({ "value": v })))
        .collect();
    let mut event = serde_json::json!({
        "version": "1.0",
        "context": {
            "distributionDomainName": format!("{distribution}.cloudfront.net"),
            "distributionId": distribution,
            "eventType": if response.is_some() { "viewer-response" } else { "viewer-request" },
            "requestId": req.request_id,
        },
        "viewer": { "ip": req.ip },
        "request": {
            "method": req.method,
            "uri": req.uri,
            "querystring": query,
            "headers": js_headers(&req.headers),
            "cookies": cookies,
        },
    });
    if let Some((status, headers)) = response {
        event["response"] = serde_json::json!({
            "statusCode": status,
            "statusDescription": "",
            "headers": js_headers(headers),
            "cookies": {},
        });
    }
    event
}

fn headers_of(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, h) in v.as_object().into_iter().flatten() {
        match h["multiValue"].as_array() {
            Some(list) => out.extend(
                list.iter()
                    .filter_map(|m| Some((k.clone(), m["value"].as_str()?.to_string()))),
            ),
            None => {
                if let Some(v) = h["value"].as_str() {
                    out.push((k.clone(), v.to_string()));
                }
            }
        }
    }
    out
}

/// What a viewer-request function's result means: a response (it has a `statusCode`), or the
/// request to go on with (its `uri`).
pub fn request_result(result: &Value) -> Result<Viewer, String> {
    if result.get("statusCode").is_some() {
        let status = status_of(result)?;
        let body = match &result["body"] {
            Value::String(s) => s.clone(),
            Value::Object(b) => b
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        return Ok(Viewer::Respond {
            status,
            headers: headers_of(&result["headers"]),
            body,
        });
    }
    match result["uri"].as_str() {
        Some(uri) if uri.starts_with('/') => Ok(Viewer::Forward(uri.to_string())),
        _ => Err("the function returned neither a request with a uri nor a response".into()),
    }
}

/// What a viewer-response function's result means: the status and headers sent.
pub fn response_result(result: &Value) -> Result<(u16, Vec<(String, String)>), String> {
    Ok((status_of(result)?, headers_of(&result["headers"])))
}

/// A function's `statusCode`: an HTTP status from 200 to 599.
fn status_of(result: &Value) -> Result<u16, String> {
    result["statusCode"]
        .as_u64()
        .filter(|s| (200..600).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| "the function's response has no valid statusCode".to_string())
}

/// After the viewer-request function: the default root object for `/`.
pub fn default_root(uri: String, default_root_object: &str) -> String {
    if uri == "/" && !default_root_object.is_empty() {
        format!("/{}", default_root_object.trim_start_matches('/'))
    } else {
        uri
    }
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
    fn function_events_and_results_are_cloudfronts() {
        let req = ViewerRequest {
            method: "GET".into(),
            uri: "/a".into(),
            query: "x=1&y".into(),
            headers: vec![
                ("Host".into(), "d.example".into()),
                ("Accept".into(), "a".into()),
                ("accept".into(), "b".into()),
                ("Cookie".into(), "s=1; t=2".into()),
            ],
            ip: "127.0.0.1".into(),
            request_id: "r".into(),
        };
        let e = function_event(&req, "E1", None);
        assert_eq!(e["context"]["eventType"], "viewer-request");
        assert_eq!(e["request"]["uri"], "/a");
        assert_eq!(e["request"]["querystring"]["x"]["value"], "1");
        assert_eq!(e["request"]["querystring"]["y"]["value"], "");
        assert_eq!(e["request"]["headers"]["host"]["value"], "d.example");
        assert_eq!(
            e["request"]["headers"]["accept"]["multiValue"],
            json!([{"value": "a"}, {"value": "b"}])
        );
        assert_eq!(e["request"]["cookies"]["t"]["value"], "2");
        assert!(e.get("response").is_none());
        let r = function_event(&req, "E1", Some((404, &[("X-A".into(), "1".into())])));
        assert_eq!(r["context"]["eventType"], "viewer-response");
        assert_eq!(r["response"]["statusCode"], 404);
        assert_eq!(r["response"]["headers"]["x-a"]["value"], "1");

        // (result, what it means)
        let table = [
            (
                json!({"uri": "/index.html"}),
                Ok(Viewer::Forward("/index.html".into())),
            ),
            (
                json!({"statusCode": 302, "headers": {"location": {"value": "/x"}}}),
                Ok(Viewer::Respond {
                    status: 302,
                    headers: vec![("location".into(), "/x".into())],
                    body: String::new(),
                }),
            ),
            (
                json!({"statusCode": 401, "body": {"encoding": "text", "data": "no"}}),
                Ok(Viewer::Respond {
                    status: 401,
                    headers: vec![],
                    body: "no".into(),
                }),
            ),
            (json!({"uri": "relative"}), Err(())),
            (json!({"statusCode": 99}), Err(())),
            (json!(null), Err(())),
        ];
        for (result, want) in table {
            let got = request_result(&result).map_err(|_| ());
            assert_eq!(got, want, "{result}");
        }
        assert_eq!(
            response_result(&json!({"statusCode": 200, "headers": {"x": {"value": "1"}}})),
            Ok((200, vec![("x".to_string(), "1".to_string())]))
        );
        assert_eq!(default_root("/".into(), "index.html"), "/index.html");
        assert_eq!(default_root("/".into(), ""), "/");
        assert_eq!(default_root("/a".into(), "index.html"), "/a");
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
