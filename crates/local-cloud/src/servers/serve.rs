//! The local edge's server: HTTP/1.1 on 127.0.0.1, answering as CloudFront would from an
//! [`EdgeConfig`] and an origin: a build directory (`shipit preview DIR`: headers from the same
//! rules a deploy sets) or the stack's private bucket, read with requests signed as the
//! distribution's Origin Access Control (the local cloud's bucket policy admits them only if
//! it trusts this distribution). A deployed stack's edge caches as CloudFront does (the cache
//! policy's TTLs over the origin's Cache-Control, error responses for their minimum TTL) and
//! drops what the distribution's invalidations name.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::sync::Mutex;

use crate::model::distribution::{bucket_of_origin, Registry};
use crate::model::edge::{
    apply_policy, default_root, function_event, invalidates, request_result, response_result,
    ttl_for, EdgeConfig, ErrorResponse, Fetched, Viewer, ViewerRequest,
};
use crate::model::origins::LocalOrigins;
use shipit_aws::cdn::Cdn;
use shipit_aws::cfn::Cfn;
use shipit_aws::s3::{OacClient, OacOrigin};
use shipit_core::headers::{HeaderRules, Sniff};
use shipit_core::runtime_config::RuntimeConfig;
use shipit_engine::http::Client as HttpClient;
use shipit_engine::ports::Reporter;

pub enum Origin {
    /// A build directory, with the header rules a deploy would apply.
    Dir { root: PathBuf, rules: HeaderRules },
    /// A private bucket, read as the distribution's OAC.
    S3(OacOrigin),
}

impl Origin {
    async fn get(&self, uri: &str) -> Fetched {
        let key = shipit_core::files::decode_key(&uri.replace('+', "%2B"))
            .trim_start_matches('/')
            .to_string();
        match self {
            Origin::Dir { root, rules } => dir_get(root, rules, &key).await,
            Origin::S3(oac) => match oac.get(&key).await {
                Ok(object) => Fetched {
                    status: 200,
                    headers: object.headers,
                    body: object.body,
                },
                Err((status, why)) => Fetched::plain(status, &why),
            },
        }
    }
}

/// A private bucket answers 403 for a key it does not have (no ListBucket), so a directory
/// does too.
async fn dir_get(root: &Path, rules: &HeaderRules, key: &str) -> Fetched {
    let rel = Path::new(key);
    if key.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Fetched::plain(403, "AccessDenied");
    }
    let path = root.join(rel);
    let body = match tokio::fs::read(&path).await {
        Ok(b) => Bytes::from(b),
        Err(_) => return Fetched::plain(403, "AccessDenied"),
    };
    let h = rules.headers_for(key, Sniff::from_prefix(&body[..body.len().min(512)]));
    Fetched {
        status: 200,
        headers: vec![
            ("content-type".into(), h.content_type.to_string()),
            ("cache-control".into(), h.cache_control.to_string()),
            ("etag".into(), format!("\"{:x}\"", md5::compute(&body))),
        ],
        body,
    }
}

/// Where the configuration comes from: fixed (a directory preview) or a deployed stack,
/// re-read for every request so stack updates show at once.
pub enum Source {
    Fixed(Arc<EdgeConfig>, Arc<Origin>),
    Stack(Box<StackSource>),
}

pub struct StackSource {
    pub stack: String,
    pub cfn: Cfn,
    pub cdn: Cdn,
    pub s3: OacClient,
    pub http: HttpClient,
    /// The local cloud's registry URL (`<endpoint>/_shipit/resources`).
    pub registry_url: String,
}

impl StackSource {
    async fn load(&self) -> Result<(String, EdgeConfig, Origin), String> {
        let info = self
            .cfn
            .describe(&self.stack)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("stack {} does not exist (yet)", self.stack))?;
        let id = info
            .outputs
            .get("DistributionId")
            .ok_or_else(|| format!("stack {} has no DistributionId output (yet)", self.stack))?
            .clone();
        let api = self
            .cdn
            .distribution(&id)
            .await
            .map_err(|e| e.to_string())?;
        if !api.enabled {
            return Err(format!("distribution {id} is disabled"));
        }
        let registry = self
            .http
            .get(&self.registry_url, &[])
            .await
            .map_err(|e| format!("{}: {e}", self.registry_url))
            .and_then(|r| {
                serde_json::from_slice(&r.body).map_err(|e| format!("{}: {e}", self.registry_url))
            })
            .map(Registry)?;
        let raw = registry.distribution_config(&id).ok_or_else(|| {
            format!("the local cloud has no record of distribution {id}'s configuration")
        })?;
        // What the CloudFront API itself says wins over the registry.
        let mut config = EdgeConfig::from_cfn(raw, &registry)?;
        config.default_root_object = api.default_root_object;
        config.errors = api
            .error_pages
            .into_iter()
            .map(|e| ErrorResponse {
                error_code: e.error_code,
                response_code: e.response_code,
                page: e.page,
                caching_min_ttl: e.caching_min_ttl,
            })
            .collect();
        let bucket = api
            .origin_domain
            .as_deref()
            .and_then(bucket_of_origin)
            .ok_or_else(|| format!("distribution {id} has no S3 origin"))?;
        let origin = Origin::S3(self.s3.origin(&bucket, &api.arn));
        Ok((id, config, origin))
    }
}

struct Cached {
    fetched: Fetched,
    expires: Instant,
    stored: Instant,
}

pub struct Edge {
    source: Source,
    /// The stack's distribution as last loaded (a new one empties the cache).
    distribution: Mutex<Option<String>>,
    cache: Mutex<HashMap<String, Cached>>,
    seen_invalidations: Mutex<HashSet<String>>,
    /// Print each request to stderr.
    /// Where each request's access-log line goes (stderr through the terminal reporter).
    pub log: Arc<dyn Reporter>,
    /// Where the AWS origins the distribution's headers name live here.
    pub origins: std::sync::RwLock<LocalOrigins>,
    /// The URL path of the site's runtime configuration (`/shipit-config.json`): a page of
    /// the local edge gets it with the local stand-ins of the AWS URLs it names.
    pub runtime_config: Option<String>,
}

impl Edge {
    pub fn new(source: Source, log: Arc<dyn Reporter>) -> Edge {
        Edge {
            source,
            distribution: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            seen_invalidations: Mutex::new(HashSet::new()),
            log,
            origins: std::sync::RwLock::new(LocalOrigins::default()),
            runtime_config: None,
        }
    }

    /// The configuration and origin to answer with. A stack's is read for every request, so
    /// a verification right after a stack update never judges the old configuration
    /// (CloudFront takes minutes to propagate; the local edge is exact instead).
    async fn current(&self) -> Result<(Arc<EdgeConfig>, Arc<Origin>), String> {
        let stack = match &self.source {
            Source::Fixed(c, o) => return Ok((c.clone(), o.clone())),
            Source::Stack(s) => s,
        };
        let (id, config, origin) = stack.load().await?;
        let mut known = self.distribution.lock().await;
        if known.as_deref() != Some(id.as_str()) {
            self.cache.lock().await.clear();
            // Invalidations made before we first saw the distribution are already reflected.
            let ids = stack.cdn.invalidation_ids(&id).await.unwrap_or_default();
            *self.seen_invalidations.lock().await = ids.into_iter().collect();
            *known = Some(id);
        }
        Ok((Arc::new(config), Arc::new(origin)))
    }

    /// Drops cached entries named by invalidations we have not seen yet.
    async fn apply_invalidations(&self) {
        let Source::Stack(stack) = &self.source else {
            return;
        };
        // Nothing cached, nothing to drop: no need to ask CloudFront.
        if self.cache.lock().await.is_empty() {
            return;
        }
        let Some(id) = self.distribution.lock().await.clone() else {
            return;
        };
        let Ok(ids) = stack.cdn.invalidation_ids(&id).await else {
            return;
        };
        let mut seen = self.seen_invalidations.lock().await;
        for inv in ids {
            if seen.contains(&inv) {
                continue;
            }
            if let Ok(paths) = stack.cdn.invalidation_paths(&id, &inv).await {
                let mut cache = self.cache.lock().await;
                cache.retain(|key, _| !paths.iter().any(|p| invalidates(p, key)));
                seen.insert(inv);
            }
        }
    }

    /// Whether a cache is kept at all (a directory preview always shows the files as they are).
    fn caches(&self) -> bool {
        matches!(self.source, Source::Stack(_))
    }

    /// The cached or freshly fetched object for a cache key; `x-cache` tells which.
    async fn fetch(&self, origin: &Origin, uri: &str, ttl: crate::model::edge::Ttl) -> Fetched {
        if self.caches() {
            self.apply_invalidations().await;
            let cache = self.cache.lock().await;
            if let Some(c) = cache.get(uri).filter(|c| c.expires > Instant::now()) {
                let mut f = c.fetched.clone();
                f.headers
                    .push(("age".into(), c.stored.elapsed().as_secs().to_string()));
                f.headers
                    .push(("x-cache".into(), "Hit from shipit-edge".into()));
                return f;
            }
        }
        let mut f = origin.get(uri).await;
        if self.caches() && f.status == 200 {
            let secs = ttl_for(ttl, f.header("cache-control"));
            if secs > 0 {
                self.store(uri, &f, secs).await;
            }
        }
        let state = if f.status == 200 { "Miss" } else { "Error" };
        f.headers
            .push(("x-cache".into(), format!("{state} from shipit-edge")));
        f
    }

    async fn store(&self, uri: &str, f: &Fetched, secs: u64) {
        let now = Instant::now();
        self.cache.lock().await.insert(
            uri.to_string(),
            Cached {
                fetched: f.clone(),
                expires: now + Duration::from_secs(secs),
                stored: now,
            },
        );
    }

    /// Answers one viewer request.
    pub async fn answer(&self, req: &ViewerRequest) -> Fetched {
        let (method, path) = (req.method.as_str(), req.uri.as_str());
        let (config, origin) = match self.current().await {
            Ok(c) => c,
            Err(e) => return Fetched::plain(503, &format!("shipit edge: {e}")),
        };
        if method != "GET" && method != "HEAD" {
            return Fetched::plain(403, "This distribution is not configured to allow the HTTP request method that was used for this request.");
        }
        let behavior = config.behavior(path);
        let viewer = match &behavior.viewer_request {
            None => Ok(Viewer::Forward(path.to_string())),
            Some(code) => crate::servers::js::run(code, &function_event(req, "local", None))
                .and_then(|r| request_result(&r)),
        };
        let viewer = match viewer {
            Ok(Viewer::Forward(uri)) => {
                Viewer::Forward(default_root(uri, &config.default_root_object))
            }
            Ok(v) => v,
            Err(e) => {
                self.log.warn(&format!(
                    "{method} {path}: the viewer-request function failed: {e}"
                ));
                return function_failed();
            }
        };
        let mut out = match viewer {
            Viewer::Respond {
                status,
                headers,
                body,
            } => Fetched {
                status,
                headers,
                body: Bytes::from(body),
            },
            Viewer::Forward(uri) => {
                let f = self.fetch(&origin, &uri, behavior.ttl).await;
                match (f.status, config.error_response(f.status)) {
                    (200, _) | (_, None) => f,
                    (status, Some(er)) => {
                        let mut page = match &er.page {
                            Some(p) => {
                                let pb = config.behavior(p);
                                let pf = self.fetch(&origin, p, pb.ttl).await;
                                if pf.status == 200 {
                                    pf
                                } else {
                                    f
                                }
                            }
                            None => f,
                        };
                        page.status = er.response_code.unwrap_or(status);
                        if self.caches() && er.caching_min_ttl > 0 {
                            self.store(&uri, &page, er.caching_min_ttl).await;
                        }
                        page
                    }
                }
            }
        };
        if let Some(code) = &behavior.viewer_response {
            let event = function_event(req, "local", Some((out.status, &out.headers)));
            match crate::servers::js::run(code, &event).and_then(|r| response_result(&r)) {
                Ok((status, headers)) => {
                    out.status = status;
                    out.headers = headers;
                }
                Err(e) => {
                    self.log.warn(&format!(
                        "{method} {path}: the viewer-response function failed: {e}"
                    ));
                    return function_failed();
                }
            }
        }
        apply_policy(&behavior.headers, &mut out.headers);
        // The stack's CSP names AWS's origins; the page calls their local stand-ins.
        let origins = self.origins.read().unwrap_or_else(|e| e.into_inner());
        if out.status == 200 && self.runtime_config.as_deref() == Some(path) {
            // Not shipit's file (a page of the build's own): served as it is.
            if let Ok(config) = RuntimeConfig::parse(&out.body) {
                out.body = Bytes::from(origins.localize(&config).render());
                for (name, value) in out.headers.iter_mut() {
                    if name == "etag" {
                        *value = format!("\"{:x}\"", md5::compute(&out.body));
                    }
                }
            }
        }
        for (name, value) in out.headers.iter_mut() {
            if name == "content-security-policy" {
                *value = origins.csp(value);
            }
        }
        drop(origins);
        out.headers
            .push(("via".into(), "1.1 shipit-edge (local CloudFront)".into()));
        out
    }
}

/// Serves until the future `stop` completes. Returns the bound address through `ready`.
pub async fn run(
    edge: Arc<Edge>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()>,
) {
    let handler = move |req, peer| {
        let edge = edge.clone();
        async move { respond(&edge, req, peer).await }
    };
    crate::servers::server::serve(listener, handler, stop).await
}

/// CloudFront's answer when a function fails (FunctionExecutionError).
fn function_failed() -> Fetched {
    Fetched::plain(
        503,
        "The CloudFront function associated with the CloudFront distribution is invalid or could not run.",
    )
}

async fn respond(
    edge: &Edge,
    req: hyper::Request<Incoming>,
    peer: std::net::SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let viewer = ViewerRequest {
        method: method.clone(),
        uri: path.clone(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        ip: peer.ip().to_string(),
        request_id: format!("{:016x}", fastrand::u64(..)),
    };
    let f = edge.answer(&viewer).await;
    edge.log.info(&format!("{method} {path} -> {}", f.status));
    let mut resp = hyper::Response::builder().status(f.status);
    for (k, v) in &f.headers {
        resp = resp.header(k.as_str(), v.as_str());
    }
    let body = if method == "HEAD" {
        Bytes::new()
    } else {
        f.body
    };
    resp.body(Full::new(body)).unwrap_or_else(|_| {
        let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"bad header\n")));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
