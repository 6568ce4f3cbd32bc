//! The local API Gateway: a stack's REST API on 127.0.0.1, as `https://{api}.execute-api.../{stage}`
//! answers it. The API is read from the local cloud (its resources, methods, integrations,
//! authorizers, gateway responses and the stage's throttling); each request is routed,
//! throttled and authorized as `model::apigw` decides (Cognito ID tokens are checked against
//! the user pool's published signing keys here), then answered by a MOCK integration, by the
//! function, run by the local Lambda runtime (`servers::lambda`), or, for a private
//! integration (a VPC link to a load balancer), by a target of the load balancer, as the local
//! cloud reports them and `model::private` picks one.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::model::apigw::{
    check_cognito_claims, proxy_event, proxy_response, Answer, Api, Auth, Bucket, Integration, Jwt,
    Request,
};
use crate::model::lambda::{Described, FunctionSpec, Outcome, Runtimes};
use crate::model::private;
use crate::servers::lambda::LocalFunction;
use shipit_engine::http::Client as HttpClient;
use shipit_engine::ports::Reporter;

/// API Gateway's limit on a request's payload.
const MAX_REQUEST: usize = 10 * 1024 * 1024;
/// The most execution environments one function gets here.
const MAX_ENVIRONMENTS: usize = 8;

/// Reads an API Gateway REST path of the local cloud (moto answers by the credential scope
/// named in the Authorization header; nothing is signed: the local cloud checks no signature).
async fn describe(
    http: &HttpClient,
    endpoint: &str,
    path: &str,
    region: &str,
) -> Result<Value, String> {
    let auth = shipit_engine::http::local_cloud_authorization("apigateway", region);
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    let r = http
        .get(&url, &[("authorization", auth.as_str())])
        .await
        .map_err(|e| format!("cannot read {url}: {e:?}"))?;
    if r.status != 200 {
        return Err(format!(
            "{url} answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("{url}: not JSON: {e}"))
}

/// Reads the API `id` from the local cloud at `endpoint`.
pub async fn read_api(
    http: &HttpClient,
    endpoint: &str,
    id: &str,
    stage: &str,
    region: &str,
) -> Result<Api, String> {
    let mut docs = Vec::new();
    for path in [
        "resources?embed=methods&limit=500".to_string(),
        "authorizers".to_string(),
        "gatewayresponses".to_string(),
        format!("stages/{stage}"),
    ] {
        docs.push(describe(http, endpoint, &format!("/restapis/{id}/{path}"), region).await?);
    }
    let [resources, authorizers, gateway, stage] = <[Value; 4]>::try_from(docs)
        .map_err(|_| "the API's description is incomplete".to_string())?;
    Api::from_description(id, &resources, &authorizers, &gateway, &stage)
}

/// A user pool's signing keys: kid -> (modulus, exponent).
type Keys = HashMap<String, (Vec<u8>, Vec<u8>)>;

/// How long a read of the stack's API, or of a function, is used before it is read again: a
/// stack deployed or changed after preview started is served as it is now, without reading the
/// local cloud (a function's whole package) on every request.
pub const REREAD: Duration = Duration::from_secs(2);

/// A value read from the local cloud, and when.
type Read<T> = Option<(std::time::Instant, T)>;

/// A stack's API (its `ApiId` and `ApiUrl` outputs), served locally.
pub struct LocalApi {
    cfn: shipit_aws::cfn::Cfn,
    stack: String,
    current: Mutex<Read<Option<Arc<Api>>>>,
    specs: Mutex<HashMap<String, (std::time::Instant, Described)>>,
    endpoint: String,
    region: String,
    http: HttpClient,
    runtimes: Runtimes,
    /// What every function's SDK gets: region, credentials, the local cloud's endpoint.
    aws: BTreeMap<String, String>,
    /// Where the AWS origins the API's answers name live here (its CORS origin).
    pub origins: std::sync::RwLock<crate::model::origins::LocalOrigins>,
    /// A function's execution environments (a busy one is not given a second request).
    functions: Mutex<HashMap<String, Vec<Arc<LocalFunction>>>>,
    buckets: std::sync::Mutex<HashMap<String, Bucket>>,
    keys: Mutex<HashMap<String, (std::time::Instant, Keys)>>,
    /// Private integrations' calls to the load balancer's targets (each bounded by its
    /// integration's timeout).
    upstream: HttpClient,
    /// How many requests the load balancers have routed (their round robin).
    turns: std::sync::atomic::AtomicUsize,
    log: Arc<dyn Reporter>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl LocalApi {
    pub fn new(
        cfn: shipit_aws::cfn::Cfn,
        stack: &str,
        endpoint: &str,
        region: &str,
        runtimes: Runtimes,
        aws: BTreeMap<String, String>,
        log: Arc<dyn Reporter>,
    ) -> Result<LocalApi, String> {
        Ok(LocalApi {
            cfn,
            stack: stack.to_string(),
            current: Mutex::new(None),
            specs: Mutex::new(HashMap::new()),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            http: HttpClient::new(Duration::from_secs(10))?,
            runtimes,
            aws,
            functions: Mutex::new(HashMap::new()),
            buckets: std::sync::Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            upstream: HttpClient::new(Duration::from_millis(
                crate::model::apigw::DEFAULT_TIMEOUT_MS,
            ))?,
            turns: std::sync::atomic::AtomicUsize::new(0),
            log,
            origins: std::sync::RwLock::new(Default::default()),
        })
    }

    /// The API as it is now: None while the stack has none (or does not exist yet).
    async fn api(&self) -> Result<Option<Arc<Api>>, String> {
        let mut current = self.current.lock().await;
        if let Some((at, api)) = current.as_ref() {
            if at.elapsed() < REREAD {
                return Ok(api.clone());
            }
        }
        let info = self
            .cfn
            .describe(&self.stack)
            .await
            .map_err(|e| e.to_string())?;
        let api = match info
            .as_ref()
            .and_then(|i| Some((i, i.outputs.get("ApiId")?)))
        {
            None => None,
            Some((info, id)) => {
                let stage = info
                    .outputs
                    .get("ApiUrl")
                    .and_then(|u| u.rsplit('/').next())
                    .filter(|s| !s.is_empty() && !s.contains('.'))
                    .unwrap_or("live");
                Some(Arc::new(
                    read_api(&self.http, &self.endpoint, id, stage, &self.region).await?,
                ))
            }
        };
        let distribution = info
            .as_ref()
            .and_then(|i| i.outputs.get("DistributionDomainName"))
            .map(|d| format!("https://{d}"));
        self.origins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .distribution = distribution;
        *current = Some((std::time::Instant::now(), api.clone()));
        Ok(api)
    }

    /// Answers one request (its path includes the stage: `/live/items`).
    pub async fn answer(&self, req: Request) -> Answer {
        let api = match self.api().await {
            Ok(Some(api)) => api,
            Ok(None) => {
                return Answer::message(
                    503,
                    "the stack has no API (yet): deploy it, then ask again",
                )
            }
            Err(e) => {
                self.log
                    .warn(&format!("cannot read the API from the local cloud: {e}"));
                return Answer::message(503, "the local cloud did not describe the API");
            }
        };
        self.answer_with(&api, req).await
    }

    async fn answer_with(&self, api: &Api, mut req: Request) -> Answer {
        let stage_prefix = format!("/{}", api.stage);
        let Some(rest) = req
            .path
            .strip_prefix(&stage_prefix)
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .map(str::to_string)
        else {
            return api.gateway_answer(403, "Missing Authentication Token");
        };
        req.path = if rest.is_empty() { "/".into() } else { rest };
        let Some((m, params)) = api.route(&req.verb, &req.path) else {
            return api.gateway_answer(403, "Missing Authentication Token");
        };
        if let Some((key, t)) = api.throttle_for(m) {
            let now = now_ms();
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = buckets.entry(key).or_insert_with(|| Bucket::full(t, now));
            if !bucket.take(t, now) {
                return api.gateway_answer(429, "Too Many Requests");
            }
        }
        let claims = match &m.auth {
            Auth::None => None,
            Auth::Unsupported(what) => {
                self.log.warn(&format!(
                    "{what}: not emulated by the local API Gateway; refused"
                ));
                return api.gateway_answer(403, "Forbidden");
            }
            Auth::Cognito { header, pools } => {
                let token = req
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(header))
                    .map(|(_, v)| v.trim().to_string());
                match token {
                    None => return api.gateway_answer(401, "Unauthorized"),
                    Some(t) => match self.verify(&t, pools).await {
                        Ok(claims) => Some(claims),
                        Err(why) => {
                            self.log
                                .info(&format!("{} {}: token refused: {why}", req.verb, req.path));
                            return api.gateway_answer(401, "Unauthorized");
                        }
                    },
                }
            }
        };
        match &m.integration {
            Integration::Mock {
                status,
                headers,
                template,
            } => match crate::model::apigw::mock_answer(
                *status,
                headers,
                template.as_deref(),
                &params,
                &req,
            ) {
                Ok(answer) => answer,
                Err(why) => {
                    self.log
                        .warn(&format!("{} {}: {why}; answering 500", req.verb, req.path));
                    api.gateway_answer(500, "Internal server error")
                }
            },
            Integration::Unsupported(what) => {
                self.log
                    .warn(&format!("{what}: not emulated by the local API Gateway"));
                api.gateway_answer(500, "Internal server error")
            }
            Integration::LambdaProxy {
                function,
                timeout_ms,
            } => {
                let event = proxy_event(api, m, &params, &req, claims.as_ref());
                self.call(api, function, *timeout_ms, event).await
            }
            Integration::Private(i) => {
                let up = match private::upstream(i, &params, &req, claims.as_ref()) {
                    Ok(up) => up,
                    Err(why) => {
                        self.log
                            .warn(&format!("{} {}: {why}; answering 500", req.verb, req.path));
                        return api.gateway_answer(500, "Internal server error");
                    }
                };
                self.forward(api, i, up, req.body).await
            }
        }
    }

    /// Sends a private integration's request to a target its load balancer picks, as the VPC
    /// link and the ALB would: ALB's own 503 when no target can take it, its 502 when the
    /// target does not answer, API Gateway's 504 past the integration's timeout.
    async fn forward(
        &self,
        api: &Api,
        i: &crate::model::apigw::PrivateIntegration,
        up: private::Upstream,
        body: Vec<u8>,
    ) -> Answer {
        let targets = match self.targets(&i.balancer).await {
            Ok(t) => t,
            Err(e) => {
                self.log
                    .warn(&format!("cannot read {}'s targets: {e}", i.balancer));
                return api.gateway_answer(500, "Internal server error");
            }
        };
        let turn = self
            .turns
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(address) = private::pick(&targets, turn) else {
            self.log.warn(&format!(
                "{} {}: the load balancer has no target that can take it (503)",
                up.verb, up.path
            ));
            return private::unavailable();
        };
        let url = format!("http://{address}{}", up.path);
        let headers: Vec<(&str, &str)> = up
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let call = self
            .upstream
            .send(&up.verb, &url, &headers, Bytes::from(body));
        match tokio::time::timeout(Duration::from_millis(i.timeout_ms), call).await {
            Err(_) => {
                self.log.warn(&format!(
                    "{} {}: no answer within the integration's {} ms: 504",
                    up.verb, up.path, i.timeout_ms
                ));
                api.gateway_answer(504, "Endpoint request timed out")
            }
            Ok(Ok(r)) => private::passed_on(r.status, &r.headers, r.body.to_vec()),
            Ok(Err(e)) => {
                self.log.warn(&format!(
                    "{} {}: the target failed: {e:?}",
                    up.verb, up.path
                ));
                private::bad_gateway()
            }
        }
    }

    /// The load balancer's targets and their health, from the local cloud (read for every
    /// request: a deployment moves them).
    async fn targets(&self, balancer: &str) -> Result<Vec<private::Target>, String> {
        let url = format!(
            "{}/_shipit/elb/targets?loadBalancer={}",
            self.endpoint,
            percent_encoding::utf8_percent_encode(balancer, percent_encoding::NON_ALPHANUMERIC)
        );
        let r = self
            .http
            .get(&url, &[])
            .await
            .map_err(|e| format!("{url}: {e:?}"))?;
        if r.status != 200 {
            return Err(format!("{url} answered {}", r.status));
        }
        let v: Value =
            serde_json::from_slice(&r.body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        Ok(v["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some(private::Target {
                    address: t["address"].as_str()?.to_string(),
                    health: t["health"].as_str()?.to_string(),
                })
            })
            .collect())
    }

    async fn call(&self, api: &Api, function: &str, timeout_ms: u64, event: Value) -> Answer {
        let spec = match self.spec(function).await {
            Ok(s) => s,
            Err(e) => {
                self.log.warn(&format!("{function}: {e}"));
                return api.gateway_answer(500, "Internal server error");
            }
        };
        let f = self.function(&spec).await;
        let body = Bytes::from(event.to_string());
        let task = {
            let f = f.clone();
            let spec = spec.clone();
            // The invocation runs to its own end even when the integration stops waiting,
            // as a Lambda invocation does.
            tokio::spawn(async move { f.invoke(&spec, body).await })
        };
        let outcome = match tokio::time::timeout(Duration::from_millis(timeout_ms), task).await {
            Err(_) => {
                self.log.warn(&format!(
                    "{}: no answer within the integration's {timeout_ms} ms: 504",
                    spec.name
                ));
                return api.gateway_answer(504, "Endpoint request timed out");
            }
            Ok(Err(e)) => Err(format!("the invocation failed: {e}")),
            Ok(Ok(r)) => r,
        };
        match outcome {
            Ok(Outcome::Returned(payload)) => match proxy_response(&payload) {
                Ok(a) => a,
                Err(why) => {
                    self.log.warn(&format!(
                        "{}: malformed Lambda proxy response: {why}",
                        spec.name
                    ));
                    api.gateway_answer(502, "Internal server error")
                }
            },
            Ok(other) => {
                let what = match &other {
                    Outcome::Raised(b) => {
                        format!("the handler raised {}", String::from_utf8_lossy(b))
                    }
                    Outcome::InitFailed(t) => format!("the runtime could not start: {t}"),
                    Outcome::Crashed(t) => t.clone(),
                    Outcome::TimedOut => format!("Task timed out after {} seconds", spec.timeout),
                    Outcome::Returned(_) => unreachable!("matched above"),
                };
                self.log.warn(&format!("{}: {what}", spec.name));
                // The function's last words, as CloudWatch Logs would show them.
                let text = f.log.text();
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(40)..] {
                    self.log.info(&format!("  {} | {line}", spec.name));
                }
                api.gateway_answer(
                    other.gateway_status().unwrap_or(502),
                    "Internal server error",
                )
            }
            Err(e) => {
                self.log.warn(&format!("{}: {e}", spec.name));
                api.gateway_answer(500, "Internal server error")
            }
        }
    }

    /// The function as the local cloud has it (read again after [`REREAD`]: its code or
    /// configuration may have changed). A name with an alias (the stack's `live`) is one
    /// version of it, picked by the alias's weights for each invocation, as Lambda does.
    async fn spec(&self, function: &str) -> Result<Arc<FunctionSpec>, String> {
        let function = match self.read(function).await? {
            Described::Function(spec) => return Ok(Arc::new(*spec)),
            Described::Alias(alias) => alias.qualified(alias.pick(fastrand::f64())),
        };
        match self.read(&function).await? {
            Described::Function(spec) => Ok(Arc::new(*spec)),
            Described::Alias(_) => Err(format!("{function} names an alias, not a version")),
        }
    }

    async fn read(&self, function: &str) -> Result<Described, String> {
        let mut specs = self.specs.lock().await;
        if let Some((at, d)) = specs.get(function) {
            if at.elapsed() < REREAD {
                return Ok(d.clone());
            }
        }
        let d = read_function(&self.http, &self.endpoint, &self.region, function).await?;
        // An alias is read for every request: Lambda routes by it as soon as it moves (a
        // canary's share, or a rollback), where a version's code and configuration never change.
        if matches!(d, Described::Function(_)) {
            specs.insert(function.to_string(), (std::time::Instant::now(), d.clone()));
        }
        Ok(d)
    }

    /// An idle execution environment of the function, or a new one while there are fewer
    /// than [`MAX_ENVIRONMENTS`] (Lambda starts another for a concurrent request); past that,
    /// the request waits for the first.
    async fn function(&self, spec: &FunctionSpec) -> Arc<LocalFunction> {
        let mut functions = self.functions.lock().await;
        let envs = functions.entry(spec.arn.clone()).or_default();
        if let Some(idle) = envs.iter().find(|f| !f.busy()) {
            return idle.clone();
        }
        if envs.len() >= MAX_ENVIRONMENTS {
            return envs[0].clone();
        }
        let f = Arc::new(LocalFunction::new(
            self.runtimes.clone(),
            &spec.arn,
            self.aws.clone(),
        ));
        envs.push(f.clone());
        f
    }

    /// Stops every function's processes (preview's exit).
    pub async fn shutdown(&self) {
        let functions: Vec<Arc<LocalFunction>> = self
            .functions
            .lock()
            .await
            .drain()
            .flat_map(|(_, v)| v)
            .collect();
        for f in functions {
            f.shutdown().await;
        }
    }

    /// Checks an ID token: claims (`model::apigw`), then the RS256 signature with the pool's key.
    async fn verify(
        &self,
        token: &str,
        pools: &[String],
    ) -> Result<serde_json::Map<String, Value>, String> {
        let jwt = Jwt::parse(token)?;
        let pool = check_cognito_claims(&jwt, pools, now_ms() / 1000)?;
        let kid = jwt
            .header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or("the token names no key")?
            .to_string();
        let (n, e) = self.key(&pool, &kid).await?;
        let key = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
        key.verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &jwt.signed,
            &jwt.signature,
        )
        .map_err(|_| "the signature does not verify".to_string())?;
        Ok(jwt.claims)
    }

    async fn key(&self, pool_arn: &str, kid: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut keys = self.keys.lock().await;
        // A key the cached set lacks may be new: read the set again, at most every REREAD
        // (forged tokens naming unknown keys must not make every login wait on the reads).
        if keys
            .get(pool_arn)
            .is_some_and(|(at, k)| !k.contains_key(kid) && at.elapsed() >= REREAD)
        {
            keys.remove(pool_arn);
        }
        if !keys.contains_key(pool_arn) {
            let id = pool_arn.rsplit('/').next().unwrap_or_default();
            let url = format!("{}/{id}/.well-known/jwks.json", self.endpoint);
            let r = self
                .http
                .get(&url, &[])
                .await
                .map_err(|e| format!("cannot read the pool's keys ({url}): {e:?}"))?;
            if r.status != 200 {
                return Err(format!("the pool's keys ({url}) answered {}", r.status));
            }
            let doc: Value =
                serde_json::from_slice(&r.body).map_err(|e| format!("{url}: not JSON: {e}"))?;
            let b64 = |s: &Value| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s.as_str().unwrap_or_default().trim_end_matches('='))
                    .ok()
            };
            let parsed: Keys = doc["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|k| k["kty"] == "RSA")
                .filter_map(|k| {
                    Some((
                        k["kid"].as_str()?.to_string(),
                        (b64(&k["n"])?, b64(&k["e"])?),
                    ))
                })
                .collect();
            keys.insert(pool_arn.to_string(), (std::time::Instant::now(), parsed));
        }
        keys[pool_arn]
            .1
            .get(kid)
            .cloned()
            .ok_or(format!("the pool publishes no key {kid:?}"))
    }
}

/// What the local cloud describes under `function` (a name or ARN, possibly qualified): a
/// version's code and configuration, or where an alias sends traffic.
pub async fn read_function(
    http: &HttpClient,
    endpoint: &str,
    region: &str,
    function: &str,
) -> Result<Described, String> {
    let url = format!(
        "{}/_shipit/lambda/{}?region={}",
        endpoint.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC),
        region
    );
    let r = http
        .get(&url, &[])
        .await
        .map_err(|e| format!("cannot read the function from the local cloud ({url}): {e:?}"))?;
    if r.status != 200 {
        return Err(format!(
            "the local cloud has no such function ({}): {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Described::from_json(&r.body).map_err(|e| format!("{url}: {e}"))
}

/// Serves `listener` until `stop` completes, then stops the functions.
pub async fn run(
    api: Arc<LocalApi>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()>,
) {
    let handler = {
        let api = api.clone();
        move |req, peer| {
            let api = api.clone();
            async move { respond(&api, req, peer).await }
        }
    };
    crate::servers::server::serve(listener, handler, stop).await;
    api.shutdown().await;
}

async fn respond(
    api: &LocalApi,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let verb = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    // The stack read (or still fresh): the distribution the local edge stands for is known.
    let _ = api.api().await;
    let origins = api
        .origins
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A page of the local edge calls as a page of the distribution it stands for.
    let standing_for = origin.as_deref().and_then(|o| origins.request_origin(o));
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            let v = match (&standing_for, k == hyper::header::ORIGIN) {
                (Some(aws), true) => aws.clone(),
                _ => v.to_str().ok()?.to_string(),
            };
            Some((k.as_str().to_string(), v))
        })
        .collect();
    let announced = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    // A body announced past the limit is refused before it is waited for.
    let body = match announced {
        Some(n) if n > MAX_REQUEST as u64 => Err(()),
        _ => Limited::new(req.into_body(), MAX_REQUEST)
            .collect()
            .await
            .map_err(|_| ()),
    };
    let answer = match body {
        Err(_) => Answer::message(413, "Request Too Long"),
        Ok(body) => {
            api.answer(Request {
                verb: verb.clone(),
                path: path.clone(),
                query,
                headers,
                body: body.to_bytes().to_vec(),
                source_ip: peer.ip().to_string(),
                request_id: format!("{:032x}", fastrand::u128(..)),
                time_ms: now_ms(),
            })
            .await
        }
    };
    api.log
        .info(&format!("API {verb} {path} -> {}", answer.status));
    let mut resp = hyper::Response::builder().status(answer.status);
    for (k, v) in &answer.headers {
        // Allowed for the distribution: allowed for the local edge that stands for it.
        let local = k
            .eq_ignore_ascii_case("access-control-allow-origin")
            .then(|| origins.allow_origin(v, origin.as_deref()))
            .flatten();
        resp = resp.header(k.as_str(), local.as_deref().unwrap_or(v));
    }
    resp.body(Full::new(Bytes::from(answer.body)))
        .unwrap_or_else(|_| {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                br#"{"message":"Internal server error"}"#,
            )));
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            r
        })
}
