//! Verification verdicts: given what a site answered, is it working, and if not, why?
//!
//! Pure functions over [`Response`]s, one per check, each returning a [`Check`] with the
//! evidence (what was seen) and, on failure, the likely cause in words a developer can act
//! on. `pipeline::verify` makes the requests and retries; nothing here touches the network.

use bytes::Bytes;

pub use crate::checks::{Check, Outcome, Report};
use crate::headers;
use crate::runtime_config::RuntimeConfig;

/// What a site answered to one GET (the HTTP client's result, as plain data).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the site should be.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// MD5 (hex) of the index.html just deployed, when known.
    pub index_md5: Option<String>,
    /// Cache-Control configured for HTML.
    pub html_cache_control: String,
    /// Whether deep routes fall back to the shell (the stack's SpaFallback).
    pub spa: bool,
}

/// The response's status and the headers a check is about, for the evidence column.
fn seen(r: &Response) -> String {
    let mut out = format!("{}", r.status);
    if let Some(ct) = r.header("content-type") {
        out.push_str(&format!(", {ct}"));
    }
    out.push_str(&format!(", {} bytes", r.body.len()));
    if let Some(x) = r.header("x-cache") {
        out.push_str(&format!(", x-cache: {x}"));
    }
    out
}

/// Whether a response is an HTML page (by its Content-Type).
pub fn is_html(r: &Response) -> bool {
    r.header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
}

fn md5_hex(body: &[u8]) -> String {
    format!("{:x}", md5::compute(body))
}

/// 403 from CloudFront for a file that exists: the origin refused the CDN.
const ORIGIN_REFUSED: &str = "CloudFront was refused by the bucket: the bucket policy does not trust this distribution (its AWS:SourceArn condition names another one) or the Origin Access Control is not attached to the origin";

/// The apex: 200, HTML, and the index.html just deployed.
pub fn apex(url: &str, r: &Response, e: &Expect) -> Check {
    let name = "apex";
    let ev = seen(r);
    match r.status {
        200 if !is_html(r) => Check::fail(
            name,
            url,
            ev,
            "the apex is not served as text/html: index.html was uploaded with the wrong Content-Type",
        ),
        200 => match &e.index_md5 {
            Some(want) if *want != md5_hex(&r.body) => Check::fail(
                name,
                url,
                format!("{ev}, md5 {} but {want} was deployed", md5_hex(&r.body)),
                format!(
                    "stale HTML: the CDN serves an older index.html (Cache-Control: {}). The invalidation is missing or not finished, or HTML is cached: invalidate /* and keep HTML at max-age=0",
                    r.header("cache-control").unwrap_or("none")
                ),
            ),
            Some(_) => Check::pass(name, url, format!("{ev}, the index.html just deployed")),
            None => Check::pass(name, url, ev),
        },
        403 | 404 => Check::fail(
            name,
            url,
            ev,
            format!("{ORIGIN_REFUSED}; or index.html is missing and the default root object is unset"),
        ),
        s => Check::fail(
            name,
            url,
            ev,
            format!("the apex answered {s}: the distribution or its origin is failing"),
        ),
    }
}

/// A deep route: 200 with the SPA shell (the same bytes as the apex's index.html).
pub fn deep_route(url: &str, r: &Response, shell_md5: Option<&str>, e: &Expect) -> Check {
    let name = "deep route";
    if !e.spa {
        return Check::skip(
            name,
            "SpaFallback is off: deep routes are served as directory indexes",
        );
    }
    let ev = seen(r);
    match r.status {
        200 if is_html(r) => match shell_md5 {
            Some(want) if want != md5_hex(&r.body) => Check::fail(
                name,
                url,
                ev,
                "the deep route is not answered with the SPA shell (index.html): another page or a stale copy",
            ),
            _ => Check::pass(name, url, format!("{ev}, the SPA shell")),
        },
        403 | 404 => Check::fail(
            name,
            url,
            ev,
            "SPA routing is missing: extensionless paths must be rewritten to /index.html (shipit's viewer-request routing function is not associated with the behaviour)",
        ),
        s => Check::fail(
            name,
            url,
            ev,
            format!("a deep route answered {s}, expected 200 with the SPA shell"),
        ),
    }
}

/// A missing asset must not be answered 200 with HTML (browsers would run HTML as script).
pub fn missing_asset(url: &str, r: &Response) -> Check {
    let name = "missing asset";
    let ev = seen(r);
    if r.status == 200 && is_html(r) {
        return Check::fail(
            name,
            url,
            ev,
            "a missing asset is answered 200 with HTML: a distribution-wide 403/404 -> /index.html error response turns every missing file into the shell; route only extensionless paths",
        );
    }
    if r.status == 200 {
        return Check::fail(
            name,
            url,
            ev,
            "a random asset name was answered 200: something serves content for paths that do not exist",
        );
    }
    Check::pass(name, url, format!("{ev}, not the shell"))
}

/// The bucket itself, asked anonymously: must refuse.
pub fn direct_s3(url: &str, r: &Response) -> Check {
    let name = "direct S3";
    let ev = seen(r);
    match r.status {
        403 => Check::pass(name, url, format!("{ev}, the bucket is private")),
        200 => Check::fail(
            name,
            url,
            ev,
            "the bucket is public: anyone can read it without CloudFront, so OAC protects nothing; remove the public-read statement or ACL and turn Block Public Access on",
        ),
        404 => Check::fail(
            name,
            url,
            ev,
            "the bucket answered 404 to an anonymous request: it lets anyone list it (a public s3:ListBucket), or the object is missing",
        ),
        s => Check::fail(
            name,
            url,
            ev,
            format!("expected 403 from the bucket, got {s}"),
        ),
    }
}

/// http:// must redirect to https:// when the site is served over https.
pub fn https_redirect(url: &str, r: &Response) -> Check {
    let name = "https redirect";
    let to = r.header("location").unwrap_or_default();
    let ev = format!("{} -> {}", r.status, if to.is_empty() { "-" } else { to });
    if matches!(r.status, 301 | 302 | 307 | 308) && to.starts_with("https://") {
        Check::pass(name, url, ev)
    } else {
        Check::fail(
            name,
            url,
            ev,
            "plain http is served: set the behaviours' ViewerProtocolPolicy to redirect-to-https",
        )
    }
}

/// Cache-Control directives as a sorted set, so `public, max-age=0` equals `max-age=0,public`.
fn directives(cc: &str) -> Vec<String> {
    let mut d: Vec<String> = cc
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    d.sort();
    d
}

/// HTML's Cache-Control as configured (shipit's default revalidates on every request).
pub fn html_cache(url: &str, r: &Response, e: &Expect) -> Check {
    let name = "HTML cache";
    let got = r.header("cache-control").unwrap_or_default();
    let ev = format!(
        "cache-control: {}",
        if got.is_empty() { "none" } else { got }
    );
    if r.status != 200 {
        return Check::fail(name, url, ev, format!("no HTML to check: {}", r.status));
    }
    if directives(got) == directives(&e.html_cache_control) {
        Check::pass(name, url, ev)
    } else {
        Check::fail(
            name,
            url,
            ev,
            format!(
                "HTML should carry Cache-Control: {}; other values keep old HTML in browsers and the CDN after a deploy. The object's headers were changed outside shipit: `shipit deploy --full-check` rewrites them",
                e.html_cache_control
            ),
        )
    }
}

/// A content-hashed asset the live HTML references: served, not HTML, with its configured
/// Cache-Control.
pub fn hashed_asset(url: &str, r: &Response, expected_cache_control: &str) -> Check {
    let name = "hashed asset";
    let got = r.header("cache-control").unwrap_or_default();
    let ev = format!(
        "{}, cache-control: {}",
        seen(r),
        if got.is_empty() { "none" } else { got }
    );
    match r.status {
        200 if is_html(r) => Check::fail(
            name,
            url,
            ev,
            "the asset is answered with HTML: it is missing and the shell stands in for it",
        ),
        200 if directives(got) != directives(expected_cache_control) => Check::fail(
            name,
            url,
            ev,
            format!("content-hashed assets should carry Cache-Control: {expected_cache_control}"),
        ),
        200 => Check::pass(name, url, ev),
        403 => Check::fail(name, url, ev, ORIGIN_REFUSED),
        404 => Check::fail(
            name,
            url,
            ev,
            "the live HTML references an asset that is missing: it was pruned too early or never uploaded; redeploy",
        ),
        s => Check::fail(name, url, ev, format!("the asset answered {s}")),
    }
}

/// The headers every response should carry.
pub const SECURITY_HEADERS: &[&str] = &[
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
];

pub fn security_headers(url: &str, r: &Response) -> Check {
    let name = "security headers";
    let missing: Vec<&str> = SECURITY_HEADERS
        .iter()
        .copied()
        .filter(|h| r.header(h).is_none())
        .filter(|h| {
            // frame-ancestors in a CSP does what X-Frame-Options does.
            *h != "x-frame-options"
                || !r
                    .header("content-security-policy")
                    .is_some_and(|c| c.contains("frame-ancestors"))
        })
        .collect();
    if missing.is_empty() {
        let present: Vec<String> = SECURITY_HEADERS
            .iter()
            .filter_map(|h| r.header(h).map(|v| format!("{h}: {v}")))
            .collect();
        Check::pass(name, url, present.join("; "))
    } else {
        Check::fail(
            name,
            url,
            format!("missing: {}", missing.join(", ")),
            "the response headers policy (SecurityHeadersPolicy) is not attached to this behaviour",
        )
    }
}

/// shipit's own state (`.shipit/`) must not be readable through the CDN.
pub fn state_hidden(url: &str, r: &Response) -> Check {
    let name = "state hidden";
    let ev = seen(r);
    if r.status == 200 && !is_html(r) {
        Check::fail(
            name,
            url,
            ev,
            "shipit's manifest is readable through the CDN: the routing function that answers /.shipit/ with 404 is not associated",
        )
    } else {
        Check::pass(name, url, ev)
    }
}

pub fn api_health(url: &str, r: &Response) -> Check {
    let name = "API health";
    let ev = seen(r);
    match r.status {
        200 => Check::pass(name, url, ev),
        s => Check::fail(
            name,
            url,
            ev,
            format!("GET /health answered {s}: the Lambda function is failing or the stage is not deployed; see its CloudWatch logs"),
        ),
    }
}

pub fn api_protected(url: &str, r: &Response) -> Check {
    let name = "API auth";
    let ev = seen(r);
    match r.status {
        401 | 403 => Check::pass(name, url, format!("{ev}, refused without a token")),
        s => Check::fail(
            name,
            url,
            ev,
            format!("a protected route without a token answered {s}, not 401: the Cognito authorizer is not attached to the method"),
        ),
    }
}

/// A CORS preflight from the site's origin, as a browser sends it before a call with a token.
pub fn api_preflight(url: &str, origin: &str, r: &Response) -> Check {
    let name = "API CORS";
    let ev = seen(r);
    let allowed = r.header("access-control-allow-origin").unwrap_or("");
    let headers = r
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(200..300).contains(&r.status) {
        return Check::fail(
            name,
            url,
            ev,
            format!(
                "the preflight from {origin} answered {}: the browser will not send the call",
                r.status
            ),
        );
    }
    if allowed != origin && allowed != "*" {
        return Check::fail(name, url, ev, format!("Access-Control-Allow-Origin is {allowed:?}, not the site's {origin}: the browser blocks the site's API calls"));
    }
    if !headers.split(',').any(|h| h.trim() == "authorization") {
        return Check::fail(name, url, ev, "Access-Control-Allow-Headers does not name Authorization: the browser will not send the token".to_string());
    }
    Check::pass(name, url, format!("{ev}, allows {origin}"))
}

/// The SPA's runtime configuration: served, JSON, revalidated like HTML, and saying what the
/// stack says (and the live release).
pub fn runtime_config(url: &str, r: &Response, want: &RuntimeConfig, e: &Expect) -> Check {
    let name = "runtime config";
    let ev = seen(r);
    if r.status != 200 {
        return Check::fail(
            name,
            url,
            ev,
            format!("the runtime configuration answered {}: the page cannot learn its API or user pool; deploy writes it (runtime_config in shipit.toml names its path)", r.status),
        );
    }
    let ct = r.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Check::fail(name, url, ev, format!("served as {ct:?}, not application/json: a page's fetch().json() may refuse it, or this is the SPA shell (the file is missing)"));
    }
    let cc = r.header("cache-control").unwrap_or("");
    if directives(cc) != directives(&e.html_cache_control) {
        return Check::fail(name, url, ev, format!("Cache-Control is {cc:?}, not HTML's {:?}: a browser or the CDN may start the new pages with an old configuration", e.html_cache_control));
    }
    let served = match RuntimeConfig::parse(&r.body) {
        Ok(c) => c,
        Err(why) => return Check::fail(name, url, ev, why),
    };
    let differences = served.differences(want);
    if !differences.is_empty() {
        return Check::fail(
            name,
            url,
            ev,
            format!(
                "{}: the file is stale or the stack changed; deploy again",
                differences.join("; ")
            ),
        );
    }
    Check::pass(name, url, format!("{ev}, release {}", served.release))
}

/// A CORS preflight from an origin that is not the site's: no `Access-Control-Allow-Origin`
/// that lets it in (any page on the web could otherwise call the API from a visitor's browser).
pub fn api_preflight_foreign(url: &str, origin: &str, r: &Response) -> Check {
    let name = "API CORS others";
    let ev = seen(r);
    match r.header("access-control-allow-origin") {
        Some(allowed) if allowed == origin || allowed == "*" => Check::fail(
            name,
            url,
            format!("{ev}, allows {origin}"),
            format!("the API allows any origin ({allowed:?} for {origin}): list only the site's own origins (ALLOWED_ORIGINS and the preflight's mapping template)"),
        ),
        _ => Check::pass(name, url, format!("{ev}, {origin} not allowed")),
    }
}

/// A protected route with a token of a user of the pool.
pub fn api_signed_in(url: &str, r: &Response) -> Check {
    let name = "API signed in";
    let ev = seen(r);
    match r.status {
        200 => Check::pass(name, url, format!("{ev}, with a user's token")),
        401 | 403 => Check::fail(name, url, ev, format!("a valid token of the stack's own user pool was refused ({}): the authorizer names another pool, or the route does not exist", r.status)),
        s => Check::fail(name, url, ev, format!("a signed-in call answered {s}: the function is failing; see its logs")),
    }
}

/// The deep health check: every store the function uses answers (`ok`, or `not configured`).
pub fn api_stores(url: &str, r: &Response) -> Check {
    let name = "API stores";
    let ev = seen(r);
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let stores = doc["stores"].as_object();
    let failing: Vec<String> = stores
        .into_iter()
        .flatten()
        .filter(|(_, v)| !matches!(v.as_str(), Some("ok" | "not configured")))
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("?")))
        .collect();
    match (r.status, stores) {
        (200, Some(s)) if failing.is_empty() => {
            let names: Vec<&str> = s.keys().map(String::as_str).collect();
            Check::pass(name, url, format!("{ev}, {}", names.join(", ")))
        }
        (_, Some(_)) if !failing.is_empty() => Check::fail(
            name,
            url,
            ev,
            format!("a store does not answer: {}", failing.join("; ")),
        ),
        (s, _) => Check::fail(
            name,
            url,
            ev,
            format!("the deep health check answered {s} without a report of its stores"),
        ),
    }
}

/// The first same-site, content-hashed asset an HTML page references (`src=`/`href=`).
pub fn hashed_asset_in(html: &str) -> Option<String> {
    for attr in ["src=", "href="] {
        for part in html.split(attr).skip(1) {
            let Some(quote) = part.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let value = part[1..].split(quote).next().unwrap_or_default();
            let path = value.split(['?', '#']).next().unwrap_or_default();
            if path.contains("://") || path.starts_with("//") || path.starts_with("data:") {
                continue;
            }
            let key = path.trim_start_matches("./").trim_start_matches('/');
            if !key.is_empty() && headers::has_content_hash(key) {
                return Some(format!("/{key}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const SHELL: &str = "<!doctype html><script src=\"/assets/app.4f3a2b1c.js\"></script>";

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
        }
    }
    fn html(status: u16, body: &str) -> Response {
        resp(
            status,
            &[
                ("content-type", "text/html; charset=utf-8"),
                ("cache-control", headers::REVALIDATE),
            ],
            body,
        )
    }
    fn expect() -> Expect {
        Expect {
            index_md5: Some(md5_hex(SHELL.as_bytes())),
            html_cache_control: headers::REVALIDATE.into(),
            spa: true,
        }
    }
    fn verdict(c: &Check) -> (Outcome, Option<&str>) {
        (c.outcome, c.cause.as_deref())
    }
    fn says(c: &Check, words: &str) -> bool {
        c.cause.as_deref().is_some_and(|s| s.contains(words))
    }

    #[test]
    fn apex_table() {
        let e = expect();
        let table: &[(Response, Outcome, &str)] = &[
            (html(200, SHELL), Outcome::Pass, ""),
            (html(200, "<!doctype html>old"), Outcome::Fail, "stale HTML"),
            (
                resp(200, &[("content-type", "text/plain")], SHELL),
                Outcome::Fail,
                "Content-Type",
            ),
            (
                resp(403, &[("content-type", "application/xml")], "AccessDenied"),
                Outcome::Fail,
                "does not trust this distribution",
            ),
            (html(404, "not found"), Outcome::Fail, "does not trust"),
            (html(502, ""), Outcome::Fail, "failing"),
        ];
        for (r, want, cause) in table {
            let c = apex("u", r, &e);
            assert_eq!(c.outcome, *want, "{r:?}");
            assert!(cause.is_empty() || says(&c, cause), "{c:?}");
        }
        let unknown = Expect {
            index_md5: None,
            ..expect()
        };
        assert_eq!(
            apex("u", &html(200, "anything"), &unknown).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn deep_route_table() {
        let e = expect();
        let md5 = md5_hex(SHELL.as_bytes());
        let table: &[(Response, Outcome, &str)] = &[
            (html(200, SHELL), Outcome::Pass, ""),
            (
                html(404, "<h1>404</h1>"),
                Outcome::Fail,
                "SPA routing is missing",
            ),
            (
                resp(403, &[], "AccessDenied"),
                Outcome::Fail,
                "SPA routing is missing",
            ),
            (
                html(200, "<h1>other</h1>"),
                Outcome::Fail,
                "not answered with the SPA shell",
            ),
            (html(500, ""), Outcome::Fail, "500"),
        ];
        for (r, want, cause) in table {
            let c = deep_route("u", r, Some(&md5), &e);
            assert_eq!(c.outcome, *want, "{r:?}");
            assert!(cause.is_empty() || says(&c, cause), "{c:?}");
        }
        let not_spa = Expect {
            spa: false,
            ..expect()
        };
        assert_eq!(
            deep_route("u", &html(404, ""), Some(&md5), &not_spa).outcome,
            Outcome::Skip
        );
    }

    #[test]
    fn missing_asset_direct_s3_and_redirect_tables() {
        assert_eq!(
            missing_asset("u", &html(404, "<h1>404</h1>")).outcome,
            Outcome::Pass
        );
        assert_eq!(
            missing_asset("u", &resp(403, &[], "")).outcome,
            Outcome::Pass
        );
        assert!(says(
            &missing_asset("u", &html(200, SHELL)),
            "missing asset is answered 200 with HTML"
        ));
        assert_eq!(
            missing_asset("u", &resp(200, &[("content-type", "text/javascript")], "x")).outcome,
            Outcome::Fail
        );

        assert_eq!(
            verdict(&direct_s3("u", &resp(403, &[], "AccessDenied"))),
            (Outcome::Pass, None)
        );
        assert!(says(
            &direct_s3("u", &html(200, SHELL)),
            "the bucket is public"
        ));
        assert!(says(&direct_s3("u", &resp(404, &[], "")), "list"));

        let moved = resp(301, &[("location", "https://example.com/")], "");
        assert_eq!(https_redirect("u", &moved).outcome, Outcome::Pass);
        assert!(says(
            &https_redirect("u", &html(200, SHELL)),
            "redirect-to-https"
        ));
        let to_http = resp(302, &[("location", "http://example.com/")], "");
        assert_eq!(https_redirect("u", &to_http).outcome, Outcome::Fail);
    }

    #[test]
    fn cache_and_header_tables() {
        let e = expect();
        assert_eq!(
            html_cache("u", &html(200, SHELL), &e).outcome,
            Outcome::Pass
        );
        let reordered = resp(
            200,
            &[("cache-control", "must-revalidate, max-age=0, PUBLIC")],
            SHELL,
        );
        assert_eq!(html_cache("u", &reordered, &e).outcome, Outcome::Pass);
        let cached = resp(200, &[("cache-control", "public, max-age=86400")], SHELL);
        assert!(says(&html_cache("u", &cached, &e), "--full-check"));
        assert_eq!(
            html_cache("u", &resp(200, &[], SHELL), &e).outcome,
            Outcome::Fail
        );

        let js = |cc: &str| {
            resp(
                200,
                &[
                    ("content-type", "text/javascript; charset=utf-8"),
                    ("cache-control", cc),
                ],
                "x",
            )
        };
        assert_eq!(
            hashed_asset("u", &js(headers::IMMUTABLE), headers::IMMUTABLE).outcome,
            Outcome::Pass
        );
        assert_eq!(
            hashed_asset("u", &js(headers::SHORT), headers::IMMUTABLE).outcome,
            Outcome::Fail
        );
        assert!(says(
            &hashed_asset("u", &html(200, SHELL), headers::IMMUTABLE),
            "answered with HTML"
        ));
        assert!(says(
            &hashed_asset("u", &resp(403, &[], ""), headers::IMMUTABLE),
            "does not trust"
        ));
        assert!(says(
            &hashed_asset("u", &html(404, ""), headers::IMMUTABLE),
            "pruned too early"
        ));

        let all: Vec<(&str, &str)> = SECURITY_HEADERS.iter().map(|h| (*h, "x")).collect();
        assert_eq!(
            security_headers("u", &resp(200, &all, "")).outcome,
            Outcome::Pass
        );
        let c = security_headers("u", &resp(200, &all[..2], ""));
        assert_eq!(c.evidence, "missing: x-frame-options, referrer-policy");
        assert!(says(&c, "response headers policy"));
        let mut csp = all.clone();
        csp.retain(|(h, _)| *h != "x-frame-options");
        csp.push(("content-security-policy", "frame-ancestors 'none'"));
        assert_eq!(
            security_headers("u", &resp(200, &csp, "")).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn state_and_api_tables() {
        let manifest = resp(200, &[("content-type", "application/json")], "{}");
        assert!(says(&state_hidden("u", &manifest), "manifest is readable"));
        assert_eq!(state_hidden("u", &html(404, "")).outcome, Outcome::Pass);
        assert_eq!(
            api_health("u", &resp(200, &[], "ok")).outcome,
            Outcome::Pass
        );
        assert_eq!(api_health("u", &resp(502, &[], "")).outcome, Outcome::Fail);
        assert_eq!(
            api_protected("u", &resp(401, &[], "")).outcome,
            Outcome::Pass
        );
        assert!(says(
            &api_protected("u", &resp(200, &[], "[]")),
            "authorizer"
        ));
    }

    #[test]
    fn the_api_is_judged_as_a_browser_and_a_signed_in_user_would() {
        let site = "https://d111.cloudfront.net";
        let pre = |status, origin: &str, headers: &str| {
            resp(
                status,
                &[
                    ("access-control-allow-origin", origin),
                    ("access-control-allow-headers", headers),
                ],
                "",
            )
        };
        // (response, passes, what a failure says)
        let table = [
            (pre(204, site, "Authorization,Content-Type"), true, ""),
            (pre(200, "*", "content-type, authorization"), true, ""),
            (pre(403, site, "Authorization"), false, "answered 403"),
            (
                pre(204, "https://other.example", "Authorization"),
                false,
                "not the site's",
            ),
            (pre(204, site, "Content-Type"), false, "Authorization"),
        ];
        for (r, passes, says_what) in table {
            let c = api_preflight("u", site, &r);
            assert_eq!(c.outcome == Outcome::Pass, passes, "{c:?}");
            assert!(says(&c, says_what) || passes, "{c:?}");
        }
        // From an origin the site does not have: refused, however the refusal looks.
        let foreign = "https://shipit-verify.invalid";
        for (r, passes) in [
            (resp(204, &[], ""), true),
            (resp(403, &[], ""), true),
            (pre(204, site, "Authorization"), true),
            (pre(204, foreign, "Authorization"), false),
            (pre(200, "*", "Authorization"), false),
        ] {
            let c = api_preflight_foreign("u", foreign, &r);
            assert_eq!(c.outcome == Outcome::Pass, passes, "{c:?}");
            assert!(passes || says(&c, "any origin"), "{c:?}");
        }
        assert_eq!(
            api_signed_in("u", &resp(200, &[], "[]")).outcome,
            Outcome::Pass
        );
        assert!(says(
            &api_signed_in("u", &resp(401, &[], "")),
            "another pool"
        ));
        assert!(says(&api_signed_in("u", &resp(502, &[], "")), "failing"));
        let stores = |status, body: &str| api_stores("u", &resp(status, &[], body));
        let ok = r#"{"ok":true,"stores":{"dynamodb":"ok","postgres":"not configured"}}"#;
        assert_eq!(stores(200, ok).outcome, Outcome::Pass);
        let red =
            r#"{"ok":false,"stores":{"dynamodb":"ok","postgres":"error: ConnectionRefusedError"}}"#;
        let c = stores(503, red);
        assert!(says(&c, "postgres: error: ConnectionRefusedError"), "{c:?}");
        assert!(says(
            &stores(502, r#"{"message":"Internal server error"}"#),
            "without a report"
        ));
    }

    #[test]
    fn finds_the_hashed_asset_the_html_references() {
        let table: &[(&str, Option<&str>)] = &[
            (SHELL, Some("/assets/app.4f3a2b1c.js")),
            ("<link rel=\"icon\" href=\"/favicon.ico\"><link rel='stylesheet' href='./assets/index-B2x9QeLm.css?v=1'>", Some("/assets/index-B2x9QeLm.css")),
            ("<script src=\"https://cdn.example.com/lib.4f3a2b1c.js\"></script>", None),
            ("<a href=\"/about\">about</a>", None),
            ("", None),
        ];
        for (page, want) in table {
            assert_eq!(hashed_asset_in(page).as_deref(), *want, "{page}");
        }
    }

    #[test]
    fn report_is_ok_without_failures_and_tabulates_causes() {
        let checks = vec![
            Check::pass("apex", "http://x/", "200".into()),
            Check::skip("https redirect", "served over http"),
        ];
        assert!(Report::new("http://x", 1, checks.clone()).ok);
        let mut bad = checks;
        bad.push(Check::fail(
            "direct S3",
            "http://s3/b/index.html",
            "200".into(),
            "the bucket is public",
        ));
        let r = Report::new("http://x", 3, bad);
        assert!(!r.ok);
        let t = r.table();
        assert!(t.contains("FAIL  direct S3"), "{t}");
        assert!(t.contains("      cause: the bucket is public"), "{t}");
        assert!(t.contains("skip  https redirect"), "{t}");
        // The URL is shown for checks that made a request, and only for them.
        assert!(
            t.contains("PASS  apex             200  [http://x/]\n"),
            "{t}"
        );
        assert!(!t.contains("served over http  ["), "{t}");
    }
}
