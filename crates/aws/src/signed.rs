//! A signed call to an AWS API that shipit only reads a fact from (the preflight's RDS, EC2,
//! ElastiCache, ACM, Route 53, API Gateway and Service Quotas calls): SigV4 with the session's
//! credentials, one request with a deadline, and the answer's text. Pulling in an SDK crate for
//! each of these would cost minutes of every clean build for a dozen read-only calls; the
//! protocols are small (AWS Query, JSON 1.1, REST) and the answers are read with `xml_*` below.
//! The request itself goes through `http::Client` (its timeout bounds the whole call).

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

/// One AWS API: its signing name and host (`None`: the region's `NAME.REGION.amazonaws.com`).
#[derive(Debug, Clone, Copy)]
pub struct Api {
    pub signing_name: &'static str,
    pub host: Option<&'static str>,
    /// The region a global API signs with (Route 53: us-east-1).
    pub region: Option<&'static str>,
}

pub const EC2: Api = Api {
    signing_name: "ec2",
    host: None,
    region: None,
};
pub const RDS: Api = Api {
    signing_name: "rds",
    host: None,
    region: None,
};
pub const ELASTICACHE: Api = Api {
    signing_name: "elasticache",
    host: None,
    region: None,
};
pub const ACM: Api = Api {
    signing_name: "acm",
    host: None,
    region: None,
};
pub const SERVICE_QUOTAS: Api = Api {
    signing_name: "servicequotas",
    host: None,
    region: None,
};
pub const APIGATEWAY: Api = Api {
    signing_name: "apigateway",
    host: None,
    region: None,
};
pub const ROUTE53: Api = Api {
    signing_name: "route53",
    host: Some("route53.amazonaws.com"),
    region: Some("us-east-1"),
};

#[derive(Clone)]
pub struct Signed {
    sdk: SdkConfig,
    /// A custom endpoint that serves every API (the local cloud), else AWS's own.
    endpoint: Option<String>,
    client: shipit_engine::http::Client,
    /// The session's credentials, resolved once for all of the preflight's calls (the chain
    /// itself caches nothing: each call would ask STS, SSO or IMDS again).
    credentials: std::sync::Arc<tokio::sync::OnceCell<aws_credential_types::Credentials>>,
}

impl Signed {
    /// `timeout`: the most one call may take, its answer included.
    pub fn new(
        sdk: &SdkConfig,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Result<Signed, String> {
        Ok(Signed {
            sdk: sdk.clone(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            client: shipit_engine::http::Client::new(timeout)?,
            credentials: Default::default(),
        })
    }

    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    fn base(&self, api: Api, region: &str) -> String {
        match (&self.endpoint, api.host) {
            (Some(e), _) => e.clone(),
            (None, Some(host)) => format!("https://{host}"),
            (None, None) => format!("https://{}.{region}.amazonaws.com", api.signing_name),
        }
    }

    /// An AWS Query call (`Action=..&Version=..&k=v`), in `region` (None: the session's).
    pub async fn query(
        &self,
        api: Api,
        region: Option<&str>,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<String, String> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action)
                .append_pair("Version", version);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let ct = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        let r = Request {
            method: "POST",
            path: "/",
            headers: &ct,
            body: body.into_bytes(),
            what: action,
        };
        self.call(api, region, r).await
    }

    /// A JSON 1.1 call (`X-Amz-Target: PREFIX.ACTION`).
    pub async fn json(
        &self,
        api: Api,
        region: Option<&str>,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target),
        ];
        let r = Request {
            method: "POST",
            path: "/",
            headers: &headers,
            body: body.to_string().into_bytes(),
            what: target,
        };
        let text = self.call(api, region, r).await?;
        serde_json::from_str(&text).map_err(|e| format!("{target}: the answer is not JSON ({e})"))
    }

    /// A REST call with a JSON body (API Gateway's PATCH /account).
    pub async fn rest_json(
        &self,
        api: Api,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<String, String> {
        let headers = [("content-type", "application/json")];
        let body = body.to_string().into_bytes();
        let r = Request {
            method,
            path,
            headers: &headers,
            body,
            what: path,
        };
        self.call(api, None, r).await
    }

    /// A REST GET of `path` (already encoded).
    pub async fn get(&self, api: Api, region: Option<&str>, path: &str) -> Result<String, String> {
        let r = Request {
            method: "GET",
            path,
            headers: &[],
            body: Vec::new(),
            what: path,
        };
        self.call(api, region, r).await
    }

    async fn call(&self, api: Api, region: Option<&str>, r: Request<'_>) -> Result<String, String> {
        let Request {
            method,
            path,
            headers,
            body,
            what,
        } = r;
        let region = api
            .region
            .map(str::to_string)
            .or(region.map(str::to_string))
            .unwrap_or_else(|| self.region());
        let url = format!("{}{path}", self.base(api, &region));
        let credentials = self
            .credentials
            .get_or_try_init(|| async {
                let provider = self
                    .sdk
                    .credentials_provider()
                    .ok_or("no credentials provider")?;
                provider
                    .provide_credentials()
                    .await
                    .map_err(|e| format!("credentials: {e}"))
            })
            .await?;
        let identity = Identity::from(credentials.clone());
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest).to_string())
            .unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("host", host.as_str())];
        all.extend_from_slice(headers);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(api.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing {what}: {e}"))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.clone(),
            all.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| format!("signing {what}: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing {what}: {e}"))?
            .into_parts();
        // The signature's headers, applied to a request that carries nothing else; the plain
        // HTTP client (timeouts, body cap) sends them.
        let mut signed = http::Request::new(());
        instructions.apply_to_request_http1x(&mut signed);
        let mut send: Vec<(&str, &str)> = all.clone();
        let extra: Vec<(String, String)> = signed
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        send.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let answer = self
            .client
            .send(method, &url, &send, Bytes::from(body))
            .await
            .map_err(|e| format!("{what}: {url}: {e}"))?;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        if (200..300).contains(&answer.status) {
            Ok(text)
        } else {
            Err(format!(
                "{what}: HTTP {} {}",
                answer.status,
                error_text(&text)
            ))
        }
    }
}

/// One request before signing; `what` names it in errors.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: Vec<u8>,
    what: &'a str,
}

/// An error answer's code and message (XML or JSON), short.
pub fn error_text(body: &str) -> String {
    let code = xml_text(body, "Code")
        .or_else(|| json_field(body, "__type"))
        .or_else(|| json_field(body, "code"));
    let message = xml_text(body, "Message")
        .or_else(|| json_field(body, "message"))
        .or_else(|| json_field(body, "Message"));
    let text = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => body.chars().take(200).collect(),
    };
    text.chars().take(300).collect()
}

fn json_field(body: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(key)?
        .as_str()
        .map(|s| s.rsplit('#').next().unwrap_or(s).to_string())
}

/// The inner text of every `<tag>...</tag>` element, entities decoded (elements nested in one
/// another with the same name are not met in the answers read here).
pub fn xml_all(body: &str, tag: &str) -> Vec<String> {
    xml_blocks(body, tag).into_iter().map(unescape).collect()
}

/// The first `<tag>` element's text.
pub fn xml_text(body: &str, tag: &str) -> Option<String> {
    xml_all(body, tag).into_iter().next()
}

/// The raw inner text of every `<tag>` element (attributes allowed, self-closing ones empty).
pub fn xml_blocks<'a>(body: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(end_of_open) = after.find('>') else {
            break;
        };
        let next = after.as_bytes().first().copied();
        if !matches!(next, Some(b'>' | b' ' | b'/' | b'\t' | b'\n' | b'\r')) {
            rest = after; // a longer name that starts with this one
            continue;
        }
        if after[..end_of_open].ends_with('/') {
            out.push("");
            rest = &after[end_of_open + 1..];
            continue;
        }
        let inner = &after[end_of_open + 1..];
        let Some(j) = inner.find(&close) else { break };
        out.push(&inner[..j]);
        rest = &inner[j + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_elements_by_name() {
        let body = r#"<R xmlns="x"><Vpcs><item><VpcId>vpc-1</VpcId></item><item><VpcId>vpc-2</VpcId></item></Vpcs>
            <VpcIdSet/><Name a="1">A &amp; B</Name><NameX>no</NameX><Empty></Empty></R>"#;
        assert_eq!(xml_all(body, "VpcId"), ["vpc-1", "vpc-2"]);
        assert_eq!(xml_blocks(body, "item").len(), 2);
        assert_eq!(xml_all(body, "Name"), ["A & B"]);
        assert_eq!(xml_all(body, "VpcIdSet"), [""]);
        assert_eq!(xml_text(body, "Empty").as_deref(), Some(""));
        assert_eq!(xml_text(body, "Missing"), None);
        assert_eq!(xml_all("<a><b>unclosed", "b"), Vec::<String>::new());
    }

    #[test]
    fn error_answers_say_code_and_message() {
        let xml = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>";
        assert_eq!(error_text(xml), "AccessDenied: not allowed");
        let json = r#"{"__type":"com.amazon#NoSuchResourceException","message":"no quota"}"#;
        assert_eq!(error_text(json), "NoSuchResourceException: no quota");
        assert_eq!(error_text("plain"), "plain");
    }
}
