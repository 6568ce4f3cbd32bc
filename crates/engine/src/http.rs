//! A plain HTTP(S) request, as `curl` would make it: no redirects followed, no cookies, the body
//! read whole (up to a cap). `pipeline::verify` looks at sites with it; the edge reads the local
//! cloud's resource registry with it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;

pub use shipit_core::checks::Failure;
pub use shipit_core::verify::Response;

/// Bodies larger than this are cut off (a site's HTML shell is far smaller).
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct Client {
    inner: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Result<Client, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Client {
            inner: HyperClient::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// GETs `url` with extra request headers; an error says why there is no answer to judge.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, Failure> {
        self.send("GET", url, headers, Bytes::new()).await
    }

    /// Any method, with a body (OPTIONS for a preflight, POST for a JSON API).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, Failure> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(url)
            .header("user-agent", concat!("shipit/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| Failure::Unreachable(format!("bad request for {url}: {e}")))?;
        let call = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| Failure::Unreachable(format!("{url}: {}", chain(&e))))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        Failure::TooLarge { limit: MAX_BODY }
                    } else {
                        Failure::Unreachable(format!("{url}: reading the body: {e}"))
                    }
                })?
                .to_bytes();
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| Failure::Timeout(self.timeout))?
    }
}

/// Whether `endpoint` is shipit's local cloud, asked of it: its registry
/// (`GET /_shipit/resources`) answers 200 with a JSON object. A custom endpoint that is not (a
/// VPC or FIPS endpoint, LocalStack) is AWS's API and nothing more.
pub async fn is_local_cloud(client: &Client, endpoint: &str) -> bool {
    let registry = format!("{}/_shipit/resources", endpoint.trim_end_matches('/'));
    matches!(
        client.get(&registry, &[]).await,
        Ok(r) if r.status == 200
            && serde_json::from_slice::<serde_json::Value>(&r.body).is_ok_and(|v| v.is_object())
    )
}

/// The Authorization header of a call to the local cloud's own APIs (API Gateway's description
/// of an API, Cognito's admin calls): it routes the request to the service and region; nothing
/// is signed, as the local cloud checks no signature. Never for AWS.
pub fn local_cloud_authorization(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=shipit/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// An error with its sources: "client error (Connect): tcp connect error: Connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
