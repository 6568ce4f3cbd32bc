//! Lambda for `shipit deploy` on the local cloud: moto publishes versions and keeps aliases
//! (through the SDK, as on AWS), but runs no code without Docker. So the stack's pre-traffic
//! gate is run by shipit's own local Lambda runtime (the one `shipit preview` serves the API
//! with: the same code, configuration and role credentials the local cloud hands out), and the
//! gate's own Lambda calls go to a Lambda front this module serves on 127.0.0.1 for as long as
//! the gate runs:
//! - Invoke: the caller's signed request goes to the local cloud first, marked as a probe, so
//!   IAM judges it there as for any call of a function's role (the gate may invoke the API's
//!   published versions, never `$LATEST`); when it may, the version runs in the local runtime
//!   and its answer comes back as Lambda's Invoke answers.
//! - Every other call (GetAlias, UpdateAlias) goes to the local cloud as it was sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::model::lambda::{Described, Outcome, Runtimes};
use crate::servers::apigw::read_function;
use crate::servers::lambda::LocalFunction;
use shipit_aws::lambda::{gate_failed, Lambda};
use shipit_core::error::{Error, Result};
use shipit_core::lambda::{gate_answer, gate_check, gate_route, AliasRoute, Invoked, Verdict};
use shipit_engine::http::Client as HttpClient;
use shipit_engine::ports::{Call, Functions};

/// Lambda's limit on a synchronous invocation's request payload.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// The header that asks the local cloud to judge an Invoke without running it
/// (crates/local-cloud/rig/lambda_code.py).
const PROBE: &str = "x-shipit-invoke";
/// What each call to the local cloud waits for (a function's code, a forwarded call); a
/// version's run is bounded by its own timeout instead.
const LOCAL_CLOUD_CALL: Duration = Duration::from_secs(10);

pub struct LocalFunctions {
    /// The SDK's client against the local cloud, knowing the gate.
    lambda: Lambda,
    runner: Arc<Runner>,
}

/// Runs a function of the local cloud once in the local runtime.
struct Runner {
    http: HttpClient,
    endpoint: String,
    region: String,
    runtimes: Runtimes,
    aws: BTreeMap<String, String>,
}

impl LocalFunctions {
    /// `gate`: the stack's pre-traffic gate (its `PreTrafficGateName` output), when known.
    pub fn new(
        lambda: Lambda,
        endpoint: &str,
        region: &str,
        runtimes: Runtimes,
        gate: Option<&str>,
    ) -> Result<Self> {
        Ok(LocalFunctions {
            lambda: lambda.with_gate(gate),
            runner: Arc::new(Runner {
                http: HttpClient::new(LOCAL_CLOUD_CALL).map_err(Error::Internal)?,
                endpoint: endpoint.trim_end_matches('/').to_string(),
                region: region.to_string(),
                aws: function_env(region, endpoint),
                runtimes,
            }),
        })
    }

    /// Runs the gate with `request`, its Lambda calls served by a front of its own.
    async fn ask(&self, function: &str, request: serde_json::Value) -> Result<Verdict> {
        let gate = self.lambda.gate(function)?;
        let failed = |e: String| Error::Aws {
            message: format!("run the pre-traffic gate {gate} with the local Lambda runtime: {e}"),
            hint: Some(
                "check the local cloud (scripts/local-cloud) and SHIPIT_LAMBDA_PYTHON".into(),
            ),
        };
        let front = Front::start(self.runner.clone()).await.map_err(failed)?;
        let env = BTreeMap::from([("AWS_ENDPOINT_URL_LAMBDA".to_string(), front.url.clone())]);
        let invoked = self
            .runner
            .run(gate, Bytes::from(request.to_string()), &env)
            .await;
        front.stop().await;
        gate_failed(gate, gate_answer(&invoked.map_err(failed)?)).map_err(|message| Error::Aws {
            message,
            hint: Some(format!(
                "the gate ran in shipit's local Lambda runtime against {}: the local cloud's output shows its calls; see where the traffic goes with aws lambda get-alias --function-name {function} --name live",
                self.runner.endpoint
            )),
        })
    }
}

impl Runner {
    /// Invokes `name` (a function, `function:version`, or `function:alias`) once, with `extra`
    /// added to its environment, and waits for its answer as Lambda's Invoke reports it.
    async fn run(
        &self,
        name: &str,
        payload: Bytes,
        extra: &BTreeMap<String, String>,
    ) -> std::result::Result<Invoked, String> {
        let spec = match read_function(&self.http, &self.endpoint, &self.region, name).await? {
            Described::Function(spec) => spec,
            Described::Alias(alias) => {
                let version = alias.qualified(alias.pick(fastrand::f64()));
                match read_function(&self.http, &self.endpoint, &self.region, &version).await? {
                    Described::Function(spec) => spec,
                    Described::Alias(_) => return Err(format!("{version} is not a version")),
                }
            }
        };
        let mut aws = self.aws.clone();
        aws.extend(extra.clone());
        let f = LocalFunction::new(self.runtimes.clone(), &spec.arn, aws);
        let outcome = f.invoke(&spec, payload).await;
        f.shutdown().await;
        let unhandled = |message: String| Invoked {
            payload: serde_json::json!({"errorMessage": message})
                .to_string()
                .into_bytes(),
            function_error: Some("Unhandled".into()),
        };
        Ok(match outcome? {
            Outcome::Returned(payload) => Invoked {
                payload,
                function_error: None,
            },
            Outcome::Raised(payload) => Invoked {
                payload,
                function_error: Some("Unhandled".into()),
            },
            Outcome::InitFailed(m) | Outcome::Crashed(m) => unhandled(m),
            Outcome::TimedOut => {
                unhandled(format!("Task timed out after {} seconds", spec.timeout))
            }
        })
    }
}

/// Lambda's API on 127.0.0.1 for one run of the gate.
struct Front {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Front {
    async fn start(runner: Arc<Runner>) -> std::result::Result<Front, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot open the local Lambda front: {e}"))?;
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(|e| format!("the local Lambda front has no address: {e}"))?
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handler = move |req: hyper::Request<Incoming>, _peer| {
            let runner = runner.clone();
            async move { front(&runner, req).await }
        };
        let task = tokio::spawn(crate::servers::server::serve(listener, handler, async {
            let _ = stopped.await;
        }));
        Ok(Front { url, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The function an Invoke path names (`/2015-03-31/functions/NAME/invocations`), decoded, with
/// its qualifier: None when the path is not an Invoke; Err when the name carries a qualifier
/// and the query's `Qualifier` says another (Lambda refuses that too).
fn invoked_name(path: &str, query: &str) -> Option<std::result::Result<String, String>> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8()
        .ok()?
        .into_owned();
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let given = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v.into_owned());
    // `f`, `f:q`, `arn:aws:lambda:r:a:function:f` or that with `:q`.
    let parts = if name.starts_with("arn:") { 8 } else { 2 };
    let (base, carried) = match name.splitn(parts, ':').nth(parts - 1) {
        Some(q) => (&name[..name.len() - q.len() - 1], Some(q.to_string())),
        None => (name.as_str(), None),
    };
    Some(match (carried, given) {
        (Some(c), Some(g)) if c != g => Err(format!(
            "the qualifier in the function's name ({c}) is not the Qualifier given ({g})"
        )),
        (Some(q), _) | (None, Some(q)) => Ok(format!("{base}:{q}")),
        (None, None) => Ok(base.to_string()),
    })
}

/// A Lambda error as its REST API sends one.
fn lambda_error(status: u16, kind: &str, message: &str) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({"Type": "Service", "Message": message}).to_string();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", kind)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

async fn front(runner: &Runner, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    // Hop-by-hop and length headers are the forwarding client's own.
    let mut headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding" | "user-agent"
            )
        })
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match Limited::new(req.into_body(), MAX_PAYLOAD).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return lambda_error(
                413,
                "RequestTooLargeException",
                &format!(
                "Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation"
            ),
            )
        }
    };
    let invoke = match (method == "POST")
        .then(|| invoked_name(&path, &query))
        .flatten()
    {
        Some(Err(e)) => return lambda_error(400, "InvalidParameterValueException", &e),
        Some(Ok(name)) => Some(name),
        None => None,
    };
    if invoke.is_some() {
        let kind = headers
            .iter()
            .find(|(k, _)| k == "x-amz-invocation-type")
            .map(|(_, v)| v.as_str())
            .unwrap_or("RequestResponse");
        if kind != "RequestResponse" {
            return lambda_error(
                400,
                "InvalidParameterValueException",
                &format!(
                    "the local Lambda runtime runs RequestResponse invocations only, not {kind}"
                ),
            );
        }
        headers.push((PROBE.to_string(), "probe".to_string()));
    }
    let url = match query.is_empty() {
        true => format!("{}{path}", runner.endpoint),
        false => format!("{}{path}?{query}", runner.endpoint),
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = match runner.http.send(&method, &url, &pairs, body.clone()).await {
        Ok(a) => a,
        Err(e) => {
            return lambda_error(
                502,
                "ServiceException",
                &format!("the local cloud did not answer: {e:?}"),
            )
        }
    };
    match invoke {
        Some(name) if answer.status == 204 => match runner.run(&name, body, &BTreeMap::new()).await
        {
            Ok(invoked) => {
                let mut r = hyper::Response::builder()
                    .status(200)
                    .header("content-type", "application/json");
                if let Some(kind) = &invoked.function_error {
                    r = r.header("x-amz-function-error", kind.as_str());
                }
                r.body(Full::new(Bytes::from(invoked.payload)))
                    .expect("a valid response")
            }
            Err(e) => lambda_error(502, "ServiceException", &e),
        },
        // The local cloud's answer (a refusal, a missing function, or any other call's).
        _ => {
            let mut r = hyper::Response::builder().status(answer.status);
            for (k, v) in &answer.headers {
                if !matches!(
                    k.as_str(),
                    "content-length" | "connection" | "transfer-encoding"
                ) {
                    r = r.header(k.as_str(), v.as_str());
                }
            }
            r.body(Full::new(answer.body)).unwrap_or_else(|_| {
                lambda_error(502, "ServiceException", "the local cloud's answer")
            })
        }
    }
}

/// What a function's SDK needs to reach the local cloud: its region and endpoint, and
/// credentials for whatever the local cloud does not hand the function itself.
pub fn function_env(region: &str, endpoint: &str) -> BTreeMap<String, String> {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "test".to_string());
    [
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID")),
        ("AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Functions for LocalFunctions {
    fn publish<'a>(&'a self, function: &'a str, code_sha256: Option<&'a str>) -> Call<'a, String> {
        self.lambda.publish(function, code_sha256)
    }
    fn alias<'a>(&'a self, function: &'a str, alias: &'a str) -> Call<'a, AliasRoute> {
        self.lambda.alias(function, alias)
    }
    fn check<'a>(&'a self, function: &'a str, version: &'a str) -> Call<'a, Verdict> {
        Box::pin(self.ask(function, gate_check(version)))
    }
    fn route<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
        from: &'a AliasRoute,
    ) -> Call<'a, Verdict> {
        Box::pin(self.ask(function, gate_route(version, weights, from)))
    }
}

#[cfg(test)]
mod tests {
    use super::invoked_name;

    #[test]
    fn an_invoke_path_names_the_function_and_its_qualifier() {
        let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aapi";
        type Named<'a> = Option<Result<&'a str, ()>>;
        let table: [(String, &str, Named); 12] = [
            ("api".into(), "", Some(Ok("api"))),
            ("api".into(), "Qualifier=7", Some(Ok("api:7"))),
            ("api".into(), "Qualifier=%24LATEST", Some(Ok("api:$LATEST"))),
            ("api:7".into(), "", Some(Ok("api:7"))),
            ("api:7".into(), "Qualifier=7", Some(Ok("api:7"))),
            ("api:%24LATEST".into(), "Qualifier=7", Some(Err(()))),
            (
                format!("{arn}%3A7"),
                "",
                Some(Ok("arn:aws:lambda:us-east-1:1:function:api:7")),
            ),
            (
                arn.to_string(),
                "Qualifier=7",
                Some(Ok("arn:aws:lambda:us-east-1:1:function:api:7")),
            ),
            (format!("{arn}%3A%24LATEST"), "Qualifier=7", Some(Err(()))),
            (String::new(), "", None),
            ("a%2Fb".into(), "", None),
            ("api/aliases/live".into(), "", None),
        ];
        for (name, query, want) in table {
            let path = format!("/2015-03-31/functions/{name}/invocations");
            let got = invoked_name(&path, query);
            assert_eq!(
                got.as_ref().map(|r| r.as_deref().map_err(|_| ())),
                want,
                "{path}?{query}"
            );
        }
        assert_eq!(invoked_name("/2015-03-31/functions/api", ""), None);
    }
}
