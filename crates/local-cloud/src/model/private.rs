//! A private integration (HTTP_PROXY through a VPC link to a load balancer), decided on plain
//! data: the request API Gateway sends upstream (the integration's URI with its path
//! parameters, the client's query, headers and body, and the headers the integration maps from
//! the method request or the authorizer's claims), and the target the load balancer picks
//! (a healthy one in turn; when none is healthy, ALB's fail-open: every unhealthy one; none
//! registered, ALB's own 503).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::apigw::{Answer, PrivateIntegration, Request};

/// What API Gateway sends to the load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub verb: String,
    /// Path and query, e.g. `/items/1?x=2`.
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// Headers that belong to one connection, never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn source_value(
    source: &str,
    params: &BTreeMap<String, String>,
    req: &Request,
    claims: Option<&Map<String, Value>>,
) -> Option<String> {
    if let Some(v) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(v.to_string());
    }
    if let Some(name) = source.strip_prefix("method.request.path.") {
        return params.get(name).cloned();
    }
    if let Some(name) = source.strip_prefix("method.request.header.") {
        return req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone());
    }
    if let Some(name) = source.strip_prefix("method.request.querystring.") {
        return req
            .query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v);
    }
    if let Some(name) = source.strip_prefix("context.authorizer.claims.") {
        return claims?.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    None
}

/// The request API Gateway makes of `req` for `i`: an error names a parameter that cannot be
/// filled (API Gateway answers 500 then).
pub fn upstream(
    i: &PrivateIntegration,
    params: &BTreeMap<String, String>,
    req: &Request,
    claims: Option<&Map<String, Value>>,
) -> Result<Upstream, String> {
    let rest = i.uri.split_once("://").map_or(i.uri.as_str(), |(_, r)| r);
    let template = rest.find('/').map_or("/", |at| &rest[at..]);
    // The load balancer drops header fields whose names are not letters, digits and hyphens
    // (the stack's routing.http.drop_invalid_header_fields): `X-Shipit_User` never reaches
    // the tasks as a second spelling of the mapped header.
    let valid =
        |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| valid(k) && !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    let mut query: Vec<String> = Vec::new();
    let mut path_values = BTreeMap::new();
    for (target, source) in &i.parameters {
        let value = source_value(source, params, req, claims);
        if let Some(name) = target.strip_prefix("integration.request.path.") {
            let v =
                value.ok_or_else(|| format!("{target}: {source} has no value for this request"))?;
            path_values.insert(name, v);
        } else if let Some(name) = target.strip_prefix("integration.request.header.") {
            // A mapped header replaces whatever the client sent under that name.
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            if let Some(v) = value {
                headers.push((name.to_string(), v));
            }
        } else if let Some(name) = target.strip_prefix("integration.request.querystring.") {
            if let Some(v) = value {
                query.push(format!("{name}={v}"));
            }
        }
    }
    // One pass over the URI's template: a value is never read as a parameter itself.
    let mut path = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("the integration URI {} has an unclosed {{", i.uri))?;
        let name = &rest[open + 1..close];
        let value = path_values.get(name).ok_or_else(|| {
            format!(
                "the integration URI {} has the path parameter {{{name}}}, which no request parameter fills",
                i.uri
            )
        })?;
        path.push_str(&rest[..open]);
        path.push_str(value);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    if !req.query.is_empty() {
        query.insert(0, req.query.clone());
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let verb = if i.verb == "ANY" {
        req.verb.clone()
    } else {
        i.verb.clone()
    };
    Ok(Upstream {
        verb,
        path,
        headers,
    })
}

/// A load balancer's registered target, as the local cloud reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// ALB's state: initial, healthy, unhealthy, draining.
    pub health: String,
}

/// The target ALB sends the `turn`-th request to: the healthy ones in turn; with none healthy,
/// every unhealthy one in turn (fail-open); None when nothing can take it (ALB answers 503).
pub fn pick(targets: &[Target], turn: usize) -> Option<&str> {
    let of = |state: &str| -> Vec<&str> {
        targets
            .iter()
            .filter(|t| t.health == state)
            .map(|t| t.address.as_str())
            .collect()
    };
    let healthy = of("healthy");
    let pool = if healthy.is_empty() {
        of("unhealthy")
    } else {
        healthy
    };
    (!pool.is_empty()).then(|| pool[turn % pool.len()])
}

/// ALB's own answer when no target can take the request.
pub fn unavailable() -> Answer {
    Answer {
        status: 503,
        headers: vec![("content-type".into(), "text/html".into())],
        body: b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>".to_vec(),
    }
}

/// ALB's own answer when the target closed the connection or refused it.
pub fn bad_gateway() -> Answer {
    Answer {
        status: 502,
        headers: vec![("content-type".into(), "text/html".into())],
        body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
    }
}

/// The target's answer as API Gateway passes it on: status, body, and the headers that are not
/// the connection's own.
pub fn passed_on(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .filter(|(k, _)| {
                !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str())
                    && !k.eq_ignore_ascii_case("content-length")
            })
            .cloned()
            .collect(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn integration(uri: &str, verb: &str, params: &[(&str, &str)]) -> PrivateIntegration {
        PrivateIntegration {
            balancer: "arn:lb".into(),
            uri: uri.into(),
            verb: verb.into(),
            timeout_ms: 29_000,
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn request(verb: &str, query: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            verb: verb.into(),
            path: "/items/7".into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn the_upstream_request_fills_the_uri_and_maps_what_the_integration_says() {
        let proxy = [
            (
                "integration.request.path.proxy",
                "method.request.path.proxy",
            ),
            (
                "integration.request.header.X-Shipit-User",
                "context.authorizer.claims.sub",
            ),
        ];
        let claims = json!({"sub": "user-1", "email": "a@b"});
        let params: BTreeMap<String, String> = [("proxy".to_string(), "items/7".to_string())]
            .into_iter()
            .collect();
        // (integration, request, signed in?) -> (verb, path, X-Shipit-User sent upstream)
        type Case<'a> = (
            PrivateIntegration,
            Request,
            bool,
            &'a str,
            &'a str,
            Option<&'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                integration("http://lb.internal/{proxy}", "ANY", &proxy),
                request("POST", "", &[("x-shipit-user", "forged"), ("host", "api")]),
                true,
                "POST",
                "/items/7",
                Some("user-1"),
            ),
            (
                integration("http://lb.internal/{proxy}", "ANY", &proxy),
                request("GET", "a=1&b=2", &[]),
                true,
                "GET",
                "/items/7?a=1&b=2",
                Some("user-1"),
            ),
            (
                integration("http://lb.internal/health", "GET", &[]),
                request("GET", "", &[("X-Shipit-User", "sent")]),
                false,
                "GET",
                "/health",
                Some("sent"),
            ),
            (
                integration("http://lb.internal/health/deep", "GET", &proxy[1..]),
                request("GET", "", &[]),
                false,
                "GET",
                "/health/deep",
                None,
            ),
            // A name the load balancer drops cannot pass for the mapped header.
            (
                integration("http://lb.internal/{proxy}", "ANY", &proxy),
                request("GET", "", &[("X-Shipit_User", "victim")]),
                true,
                "GET",
                "/items/7",
                Some("user-1"),
            ),
        ];
        for (i, req, signed_in, verb, path, user) in cases {
            let claims = signed_in.then(|| claims.as_object().unwrap());
            let up = upstream(&i, &params, &req, claims).unwrap();
            assert_eq!((up.verb.as_str(), up.path.as_str()), (verb, path), "{i:?}");
            let users: Vec<&str> = up
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-shipit-user"))
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(users, user.into_iter().collect::<Vec<_>>(), "{i:?}");
            assert!(
                !up.headers
                    .iter()
                    .any(|(k, _)| k == "host" || k.contains('_')),
                "{up:?}"
            );
        }
    }

    #[test]
    fn a_path_value_is_never_read_as_a_parameter() {
        let i = integration(
            "http://lb/{a}/{b}",
            "GET",
            &[
                ("integration.request.path.a", "method.request.path.a"),
                ("integration.request.path.b", "method.request.path.b"),
            ],
        );
        let params: BTreeMap<String, String> = [("a", "{b}"), ("b", "x{")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let up = upstream(&i, &params, &request("GET", "", &[]), None).unwrap();
        assert_eq!(up.path, "/{b}/x{");
    }

    #[test]
    fn a_path_parameter_nothing_fills_is_an_error() {
        let i = integration("http://lb/{id}", "GET", &[]);
        let e = upstream(&i, &BTreeMap::new(), &request("GET", "", &[]), None).unwrap_err();
        assert!(e.contains("{id}"), "{e}");
        let i = integration(
            "http://lb/{id}",
            "GET",
            &[("integration.request.path.id", "method.request.path.id")],
        );
        let e = upstream(&i, &BTreeMap::new(), &request("GET", "", &[]), None).unwrap_err();
        assert!(e.contains("method.request.path.id"), "{e}");
    }

    #[test]
    fn the_balancer_sends_to_healthy_targets_and_fails_open_to_unhealthy_ones() {
        let t = |address: &str, health: &str| Target {
            address: address.into(),
            health: health.into(),
        };
        // (targets, picks for turns 0..4)
        let cases: Vec<(Vec<Target>, Vec<Option<&str>>)> = vec![
            (vec![], vec![None; 4]),
            (
                vec![t("a", "healthy"), t("b", "initial"), t("c", "healthy")],
                vec![Some("a"), Some("c"), Some("a"), Some("c")],
            ),
            (
                vec![t("a", "unhealthy"), t("b", "initial"), t("c", "unhealthy")],
                vec![Some("a"), Some("c"), Some("a"), Some("c")],
            ),
            (
                vec![t("a", "healthy"), t("b", "unhealthy")],
                vec![Some("a"); 4],
            ),
            (vec![t("a", "initial"), t("b", "draining")], vec![None; 4]),
        ];
        for (targets, want) in cases {
            let got: Vec<Option<&str>> = (0..4).map(|n| pick(&targets, n)).collect();
            assert_eq!(got, want, "{targets:?}");
        }
    }

    #[test]
    fn what_is_passed_on_drops_the_connections_own_headers() {
        let a = passed_on(
            201,
            &[
                ("content-type".into(), "application/json".into()),
                ("connection".into(), "close".into()),
                ("transfer-encoding".into(), "chunked".into()),
                ("content-length".into(), "2".into()),
                ("x-request".into(), "1".into()),
            ],
            b"{}".to_vec(),
        );
        assert_eq!(a.status, 201);
        assert_eq!(
            a.headers,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("x-request".to_string(), "1".to_string())
            ]
        );
    }
}
