//! API Gateway's REST API, decided on plain data: the API as the local cloud describes it
//! (resources, methods, integrations, authorizers, gateway responses, the stage's throttling),
//! which method a request reaches, the Lambda proxy integration's event and how its response is
//! read, a MOCK integration's answer, Cognito ID tokens' claims, and the throttle's buckets.
//! The local API Gateway (`servers::apigw`) serves HTTP over these decisions.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

/// How a method is authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// A Cognito user pools authorizer: the header carrying the ID token, and the pools' ARNs.
    Cognito {
        header: String,
        pools: Vec<String>,
    },
    /// Anything else (IAM, a Lambda authorizer): not emulated, so refused, never let through.
    Unsupported(String),
}

/// What a method calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// AWS_PROXY to a Lambda function (its ARN), with the integration's timeout.
    LambdaProxy {
        function: String,
        timeout_ms: u64,
    },
    /// HTTP_PROXY through a VPC link to a load balancer (`model::private` decides its
    /// requests).
    Private(PrivateIntegration),
    /// A MOCK: the integration response's status, headers and mapping template (run by
    /// `model::vtl` for each request: it may override headers and the status).
    Mock {
        status: u16,
        headers: Vec<(String, String)>,
        template: Option<String>,
    },
    Unsupported(String),
}

/// HTTP_PROXY over a VPC link, as GetMethod describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateIntegration {
    /// The load balancer's ARN (the integration's target).
    pub balancer: String,
    /// The integration's URI: `http://DNS-NAME/path/{param}`.
    pub uri: String,
    /// The integration's HTTP method; ANY sends the request's own.
    pub verb: String,
    pub timeout_ms: u64,
    /// `integration.request.{header|path|querystring}.NAME` -> its source
    /// (`method.request.path.X`, `method.request.header.X`, `context.authorizer.claims.X`,
    /// or a quoted literal).
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The resource's path template, e.g. `/items/{id}` or `/{proxy+}`.
    pub resource: String,
    pub verb: String,
    pub auth: Auth,
    pub integration: Integration,
}

/// One request's throttle: requests a second and the burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub id: String,
    pub stage: String,
    /// Resource path template -> verb -> method.
    pub methods: BTreeMap<String, BTreeMap<String, Method>>,
    /// DEFAULT_4XX / DEFAULT_5XX headers (CORS on the gateway's own answers).
    pub gateway_headers: BTreeMap<String, Vec<(String, String)>>,
    /// `*/*` and per-method (`~1health/GET`, as GetStage keys them) throttles.
    pub throttles: BTreeMap<String, Throttle>,
}

/// API Gateway's integration timeout when a method sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 29_000;

fn header_params(params: &Value, prefix: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = params
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(prefix)?;
            // Static values are quoted: 'value'.
            let v = v.as_str()?.trim();
            let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))?;
            Some((name.to_string(), v.to_string()))
        })
        .collect();
    out.sort();
    out
}

/// The Lambda function a proxy integration's URI names.
fn function_of(uri: &str) -> Option<String> {
    let rest = uri.split("/functions/").nth(1)?;
    Some(
        rest.strip_suffix("/invocations")
            .unwrap_or(rest)
            .to_string(),
    )
}

impl Api {
    /// Reads GetResources (with methods embedded), GetAuthorizers, GetGatewayResponses and
    /// GetStage as API Gateway's REST API answers them.
    pub fn from_description(
        id: &str,
        resources: &Value,
        authorizers: &Value,
        gateway_responses: &Value,
        stage: &Value,
    ) -> Result<Api, String> {
        let auths: BTreeMap<&str, &Value> = authorizers["item"]
            .as_array()
            .or_else(|| authorizers["items"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["id"].as_str()?, a)))
            .collect();
        let items = resources["item"]
            .as_array()
            .or_else(|| resources["items"].as_array())
            .ok_or("the API's resources were not listed")?;
        let mut methods = BTreeMap::new();
        for r in items {
            let path = r["path"].as_str().ok_or("a resource without a path")?;
            for (verb, m) in r["resourceMethods"].as_object().into_iter().flatten() {
                let auth = match m["authorizationType"].as_str().unwrap_or("NONE") {
                    "NONE" => Auth::None,
                    "COGNITO_USER_POOLS" => {
                        let a: Option<&Value> = m["authorizerId"]
                            .as_str()
                            .and_then(|id| auths.get(id).copied())
                            .or_else(|| {
                                (auths.len() == 1).then(|| *auths.values().next().expect("one"))
                            });
                        match a {
                            Some(a) => Auth::Cognito {
                                header: a["identitySource"]
                                    .as_str()
                                    .unwrap_or("method.request.header.Authorization")
                                    .trim_start_matches("method.request.header.")
                                    .to_ascii_lowercase(),
                                pools: a["providerARNs"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|p| p.as_str().map(str::to_string))
                                    .collect(),
                            },
                            None => Auth::Unsupported(format!(
                                "{verb} {path}: its authorizer is not in the API"
                            )),
                        }
                    }
                    other => Auth::Unsupported(format!("{verb} {path}: {other} authorization")),
                };
                let i = &m["methodIntegration"];
                let timeout_ms = i["timeoutInMillis"]
                    .as_u64()
                    .or_else(|| i["timeoutInMillis"].as_str()?.parse().ok())
                    .unwrap_or(DEFAULT_TIMEOUT_MS)
                    .clamp(50, DEFAULT_TIMEOUT_MS);
                let integration = match i["type"].as_str().unwrap_or("") {
                    "AWS_PROXY" => match i["uri"].as_str().and_then(function_of) {
                        Some(function) => Integration::LambdaProxy {
                            function,
                            timeout_ms,
                        },
                        None => Integration::Unsupported(format!(
                            "{verb} {path}: a proxy integration that names no Lambda function"
                        )),
                    },
                    "MOCK" => {
                        let responses = i["integrationResponses"].as_object();
                        let (code, r) = responses
                            .and_then(|r| r.iter().min_by_key(|(k, _)| k.as_str()))
                            .map(|(k, v)| (k.parse().unwrap_or(200), v.clone()))
                            .unwrap_or((200, Value::Null));
                        Integration::Mock {
                            status: code,
                            headers: header_params(
                                &r["responseParameters"],
                                "method.response.header.",
                            ),
                            template: r["responseTemplates"]["application/json"]
                                .as_str()
                                .filter(|t| !t.trim().is_empty())
                                .map(str::to_string),
                        }
                    }
                    "HTTP_PROXY" if i["connectionType"] == "VPC_LINK" => {
                        match i["integrationTarget"].as_str() {
                            Some(balancer) => {
                                Integration::Private(PrivateIntegration {
                                    balancer: balancer.to_string(),
                                    uri: i["uri"].as_str().unwrap_or("").to_string(),
                                    verb: i["httpMethod"].as_str().unwrap_or("ANY").to_string(),
                                    timeout_ms,
                                    parameters: i["requestParameters"]
                                        .as_object()
                                        .into_iter()
                                        .flatten()
                                        .filter_map(|(k, v)| {
                                            Some((k.clone(), v.as_str()?.to_string()))
                                        })
                                        .collect(),
                                })
                            }
                            None => Integration::Unsupported(format!(
                                "{verb} {path}: a VPC link V1 integration (through a Network Load Balancer)"
                            )),
                        }
                    }
                    other => {
                        Integration::Unsupported(format!("{verb} {path}: a {other} integration"))
                    }
                };
                methods
                    .entry(path.to_string())
                    .or_insert_with(BTreeMap::new)
                    .insert(
                        verb.clone(),
                        Method {
                            resource: path.to_string(),
                            verb: verb.clone(),
                            auth,
                            integration,
                        },
                    );
            }
        }
        let gateway_headers = gateway_responses["item"]
            .as_array()
            .or_else(|| gateway_responses["items"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|g| {
                Some((
                    g["responseType"].as_str()?.to_string(),
                    header_params(&g["responseParameters"], "gatewayresponse.header."),
                ))
            })
            .collect();
        let throttles = stage["methodSettings"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, s)| {
                let rate = s["throttlingRateLimit"].as_f64()?;
                let burst = s["throttlingBurstLimit"].as_f64().unwrap_or(rate);
                Some((k.clone(), Throttle { rate, burst }))
            })
            .collect();
        Ok(Api {
            id: id.to_string(),
            stage: stage["stageName"].as_str().unwrap_or("live").to_string(),
            methods,
            gateway_headers,
            throttles,
        })
    }

    /// The method a request reaches and its path parameters, as API Gateway picks it: a
    /// literal path part before a `{param}`, a `{param}` before a greedy `{proxy+}`; the verb,
    /// else ANY. None is API Gateway's 403 "Missing Authentication Token".
    pub fn route(&self, verb: &str, path: &str) -> Option<(&Method, BTreeMap<String, String>)> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut best: Option<(Vec<u8>, &str, BTreeMap<String, String>)> = None;
        for template in self.methods.keys() {
            if let Some((score, params)) = matches(template, &parts) {
                if best.as_ref().map_or(true, |(s, _, _)| score > *s) {
                    best = Some((score, template, params));
                }
            }
        }
        let (_, template, params) = best?;
        let verbs = &self.methods[template];
        let m = verbs.get(verb).or_else(|| verbs.get("ANY"))?;
        Some((m, params))
    }

    /// The throttle for a method: its own setting, else the stage's `*/*`.
    pub fn throttle_for(&self, m: &Method) -> Option<(String, Throttle)> {
        // GetStage keys a method's settings as `~1items~1{id}/GET`.
        let own = format!("{}/{}", m.resource.replace('/', "~1"), m.verb);
        [own, "*/*".to_string()]
            .into_iter()
            .find_map(|key| self.throttles.get(&key).map(|t| (key.clone(), *t)))
    }

    /// The gateway's own answer (`{"message": ...}`) with the DEFAULT_4XX/5XX headers.
    pub fn gateway_answer(&self, status: u16, message: &str) -> Answer {
        let kind = if status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let mut a = Answer::message(status, message);
        a.headers
            .extend(self.gateway_headers.get(kind).cloned().unwrap_or_default());
        a
    }
}

/// How well a path matches a resource template: None, or the rank of each part (a literal 3,
/// a `{param}` 2, a greedy tail 1), compared part by part from the left: the first part where
/// two templates differ decides.
fn matches(template: &str, parts: &[&str]) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    let t: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
    let mut params = BTreeMap::new();
    let mut score = Vec::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            if i >= parts.len() {
                return None;
            }
            params.insert(name.to_string(), parts[i..].join("/"));
            score.push(1);
            return Some((score, params));
        }
        let part = parts.get(i)?;
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.insert(name.to_string(), (*part).to_string());
            score.push(2);
        } else if seg == part {
            score.push(3);
        } else {
            return None;
        }
    }
    (t.len() == parts.len()).then_some((score, params))
}

/// An HTTP request as the gateway received it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub verb: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
    pub request_id: String,
    /// Epoch milliseconds.
    pub time_ms: u64,
}

impl Request {
    /// The query string's parameters, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }
}

/// A MOCK integration's answer to `req`: its status and headers, then what its mapping template
/// overrides for this request (`model::vtl`). An error names what the template does that the
/// local API Gateway does not run.
pub fn mock_answer(
    status: u16,
    headers: &[(String, String)],
    template: Option<&str>,
    params: &BTreeMap<String, String>,
    req: &Request,
) -> Result<Answer, String> {
    let mut answer = Answer {
        status,
        headers: headers.to_vec(),
        body: Vec::new(),
    };
    let Some(template) = template else {
        return Ok(answer);
    };
    let query = req.query_pairs();
    let r = crate::model::vtl::render(
        template,
        &crate::model::vtl::Params {
            path: params,
            query: &query,
            headers: &req.headers,
        },
    )?;
    for (name, value) in r.headers {
        answer
            .headers
            .retain(|(h, _)| !h.eq_ignore_ascii_case(&name));
        answer.headers.push((name, value));
    }
    answer.status = r.status.unwrap_or(status);
    answer.body = r.body.into_bytes();
    Ok(answer)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .to_string()
}

fn single_and_multi(pairs: &[(String, String)]) -> (Value, Value) {
    if pairs.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), Value::String(v.clone()));
        multi
            .entry(k.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("an array")
            .push(Value::String(v.clone()));
    }
    (Value::Object(single), Value::Object(multi))
}

/// The Lambda proxy integration's event, as API Gateway's REST API sends it.
pub fn proxy_event(
    api: &Api,
    m: &Method,
    params: &BTreeMap<String, String>,
    req: &Request,
    claims: Option<&Map<String, Value>>,
) -> Value {
    let (headers, multi_headers) = single_and_multi(&req.headers);
    let (qs, multi_qs) = single_and_multi(&req.query_pairs());
    let text = std::str::from_utf8(&req.body).ok();
    let (body, base64) = match (req.body.is_empty(), text) {
        (true, _) => (Value::Null, false),
        (false, Some(t)) => (Value::String(t.to_string()), false),
        (false, None) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body)),
            true,
        ),
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut authorizer = Map::new();
    if let Some(c) = claims {
        // API Gateway hands Cognito claims over as strings.
        let as_text: Map<String, Value> = c
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(s))
            })
            .collect();
        authorizer.insert("claims".into(), Value::Object(as_text));
    }
    json!({
        "resource": m.resource,
        "path": req.path,
        "httpMethod": req.verb,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": multi_qs,
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "resourcePath": m.resource,
            "httpMethod": req.verb,
            "path": format!("/{}{}", api.stage, req.path),
            "stage": api.stage,
            "requestId": req.request_id,
            "requestTimeEpoch": req.time_ms,
            "apiId": api.id,
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": req.source_ip,
                "userAgent": header("user-agent"),
            },
            "authorizer": if authorizer.is_empty() { Value::Null } else { Value::Object(authorizer) },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// An answer to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `{"message": ...}` as JSON, the shape of every answer API Gateway makes itself.
    pub fn message(status: u16, message: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json!({ "message": message }).to_string().into_bytes(),
        }
    }
}

/// Reads a Lambda proxy response: `statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`. Anything else is API Gateway's "Malformed Lambda proxy response" (a 502).
pub fn proxy_response(payload: &[u8]) -> Result<Answer, String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the function's response is not JSON: {e}"))?;
    let o = v
        .as_object()
        .ok_or("the function's response is not a JSON object")?;
    for k in o.keys() {
        if ![
            "statusCode",
            "headers",
            "multiValueHeaders",
            "body",
            "isBase64Encoded",
        ]
        .contains(&k.as_str())
        {
            return Err(format!(
                "the function's response has a field {k:?} API Gateway does not take"
            ));
        }
    }
    // The REST proxy integration needs the status (the HTTP API's 2.0 format would default it).
    let status = match &o.get("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .filter(|s| (200..600).contains(s))
    .ok_or("statusCode is missing or not an HTTP status (200-599)")? as u16;
    let mut headers = Vec::new();
    for (k, v) in o
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return Err(format!("header {k} is not a string")),
        };
        headers.push((k.clone(), v));
    }
    for (k, vs) in o
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for v in vs
            .as_array()
            .ok_or(format!("multiValueHeaders.{k} is not a list"))?
        {
            headers.push((
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            ));
        }
    }
    let body = match o.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if o.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("body is not base64: {e}"))?
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return Err("body is not a string".into()),
    };
    for (k, v) in &headers {
        let name_ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !name_ok || !value_ok {
            return Err(format!("header {k:?} is not a valid HTTP header"));
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A JWT split into what is checked: the header and claims, the signed input, the signature.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
}

fn b64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| "not base64url".to_string())
}

impl Jwt {
    pub fn parse(token: &str) -> Result<Jwt, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [h, c, s] = parts.as_slice() else {
            return Err("not a JWT (three dot-separated parts)".into());
        };
        let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
            serde_json::from_slice::<Value>(&b64url(part)?)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .ok_or(format!("the JWT's {what} is not a JSON object"))
        };
        Ok(Jwt {
            header: object(h, "header")?,
            claims: object(c, "claims")?,
            signed: format!("{h}.{c}").into_bytes(),
            signature: b64url(s)?,
        })
    }
}

/// What a Cognito user pools authorizer checks besides the signature: RS256, an ID token, from
/// one of the pools (its issuer), not expired. `now` in epoch seconds.
pub fn check_cognito_claims(jwt: &Jwt, pools: &[String], now: u64) -> Result<String, String> {
    if jwt.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("the token is not signed with RS256".into());
    }
    if jwt.claims.get("token_use").and_then(Value::as_str) != Some("id") {
        return Err("not an ID token".into());
    }
    let iss = jwt.claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let pool = pools
        .iter()
        .find(|arn| issuer(arn).as_deref() == Some(iss))
        .ok_or(format!("issued by {iss:?}, not by this API's user pool"))?;
    match jwt.claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now => {}
        _ => return Err("the token has expired".into()),
    }
    Ok(pool.clone())
}

/// The issuer of a pool's tokens, from its ARN.
pub fn issuer(pool_arn: &str) -> Option<String> {
    // arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID
    let mut f = pool_arn.split(':');
    let region = f.nth(3)?;
    let id = pool_arn.rsplit('/').next()?;
    Some(format!("https://cognito-idp.{region}.amazonaws.com/{id}"))
}

/// A token bucket: `rate` tokens a second, at most `burst`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    pub fn full(t: Throttle, now_ms: u64) -> Bucket {
        Bucket {
            tokens: t.burst.max(0.0),
            at_ms: now_ms,
        }
    }

    /// Takes a token, or says the request is throttled (429).
    pub fn take(&mut self, t: Throttle, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        // A burst under one token lets nothing through, as API Gateway does with burst 0.
        self.tokens = (self.tokens + elapsed * t.rate).min(t.burst.max(0.0));
        self.at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
#[path = "apigw_tests.rs"]
mod tests;
