//! The local Lambda runtime: the Runtime API (the HTTP interface Lambda serves to a runtime
//! interface client: next invocation, response, error, init error) on 127.0.0.1, and the
//! function's runtime process polling it, started from the function's code and configuration
//! in the local cloud. One warm process serves one invocation at a time, as a Lambda execution
//! environment does; it is started again after a crash or a timeout, and when the function's
//! code changes. How the process is started is `core::lambda::launch`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::core::lambda::{launch, FunctionSpec, Outcome, Runtimes, RUNTIME_API};

/// Lambda's limit on a synchronous invocation's request and response payloads.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// How much of the process's output is kept for a failure's report.
const MAX_LOG: usize = 64 * 1024;

/// An invocation waiting for the runtime to ask for it.
struct Invocation {
    id: String,
    event: Bytes,
    deadline_ms: u128,
}

type Answer = oneshot::Sender<Outcome>;

/// What the Runtime API shares with the invoker.
struct Shared {
    next: Mutex<mpsc::Receiver<Invocation>>,
    answers: std::sync::Mutex<HashMap<String, Answer>>,
    arn: String,
}

/// The process's recent output, for the report of a crash or a timeout.
#[derive(Default, Clone)]
pub struct Log(Arc<std::sync::Mutex<String>>);

impl Log {
    fn push(&self, line: &str) {
        let mut l = self.0.lock().unwrap_or_else(|e| e.into_inner());
        l.push_str(line);
        l.push('\n');
        if l.len() > MAX_LOG {
            let cut = l.len() - MAX_LOG;
            let at = (cut..l.len())
                .find(|i| l.is_char_boundary(*i))
                .unwrap_or(l.len());
            l.drain(..at);
        }
    }

    /// Everything kept so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Running {
    child: Child,
    digest: String,
    _code: tempfile::TempDir,
}

/// A function, run locally.
pub struct LocalFunction {
    runtimes: Runtimes,
    aws: BTreeMap<String, String>,
    shared: Arc<Shared>,
    queue: mpsc::Sender<Invocation>,
    addr: std::net::SocketAddr,
    process: Mutex<Option<Running>>,
    pub log: Log,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for LocalFunction {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

impl LocalFunction {
    /// Serves the Runtime API on a loopback port; the process starts at the first invocation.
    /// `aws`: the function's region, credentials and endpoint variables.
    pub async fn start(
        runtimes: Runtimes,
        arn: &str,
        aws: BTreeMap<String, String>,
    ) -> std::io::Result<LocalFunction> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue, next) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            next: Mutex::new(next),
            answers: std::sync::Mutex::new(HashMap::new()),
            arn: arn.to_string(),
        });
        let serving = tokio::spawn(serve(listener, shared.clone()));
        Ok(LocalFunction {
            runtimes,
            aws,
            shared,
            queue,
            addr,
            process: Mutex::new(None),
            log: Log::default(),
            serving,
        })
    }

    /// Invokes the function's current code (`spec`, as the local cloud has it now) with `event`
    /// and waits for its outcome, at most the function's timeout. One at a time.
    pub async fn invoke(&self, spec: &FunctionSpec, event: Bytes) -> Result<Outcome, String> {
        if event.len() > MAX_PAYLOAD {
            return Err(format!(
                "the event is {} bytes; Lambda takes at most {MAX_PAYLOAD}",
                event.len()
            ));
        }
        let mut process = self.process.lock().await;
        let stale = match process.as_mut() {
            Some(r) => r.digest != spec.digest || r.child.try_wait().ok().flatten().is_some(),
            None => true,
        };
        if stale {
            if let Some(mut old) = process.take() {
                let _ = old.child.kill().await;
            }
            *process = Some(self.spawn(spec)?);
        }
        let running = process.as_mut().expect("started above");
        let id = format!("{:032x}", fastrand::u128(..));
        let timeout = Duration::from_secs(spec.timeout.max(1));
        let deadline_ms = (std::time::SystemTime::now() + timeout)
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let (tx, rx) = oneshot::channel();
        self.shared
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        let started = Instant::now();
        let sent = self.queue.send(Invocation {
            id: id.clone(),
            event,
            deadline_ms,
        });
        let outcome = tokio::select! {
            answered = async { sent.await.ok(); rx.await } => match answered {
                Ok(o) => o,
                Err(_) => Outcome::Crashed("the runtime API dropped the invocation".into()),
            },
            status = running.child.wait() => {
                // Give the output readers a moment to catch the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Outcome::Crashed(match status {
                    Ok(s) => format!("the runtime process exited ({s}) before answering"),
                    Err(e) => format!("the runtime process could not be waited for: {e}"),
                })
            }
            _ = tokio::time::sleep_until((started + timeout).into()) => Outcome::TimedOut,
        };
        self.shared
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if matches!(
            outcome,
            Outcome::TimedOut | Outcome::Crashed(_) | Outcome::InitFailed(_)
        ) {
            // Lambda ends the execution environment: the next invocation starts a fresh one.
            if let Some(mut r) = process.take() {
                let _ = r.child.kill().await;
            }
            // An invocation the dead process never took must not reach the next one.
            if let Ok(mut next) = self.shared.next.try_lock() {
                while next.try_recv().is_ok() {}
            }
        }
        Ok(outcome)
    }

    fn spawn(&self, spec: &FunctionSpec) -> Result<Running, String> {
        let code = tempfile::Builder::new()
            .prefix("shipit-lambda-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for {}'s code: {e}", spec.name))?;
        let root_dir = code.path().join("task");
        write_code(root_dir.clone(), spec)?;
        let root = root_dir.to_string_lossy().to_string();
        let bundle = ca_bundle(code.path(), &spec.trust)?;
        let l = launch(
            spec,
            &self.runtimes,
            &root,
            &self.addr.to_string(),
            &self.aws,
            bundle.as_deref(),
        )?;
        let mut child = Command::new(&l.program)
            .args(&l.args)
            .env_clear()
            .envs(&l.env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(&root_dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}'s runtime ({}): {e}; the Python runtime needs awslambdaric (scripts/setup installs it into target/lambda-venv; SHIPIT_LAMBDA_PYTHON names another)",
                    spec.name, l.program
                )
            })?;
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let log = self.log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.push(&line);
                }
            });
        }
        Ok(Running {
            child,
            digest: spec.digest.clone(),
            _code: code,
        })
    }
}

/// The machine's public roots plus `trust`, in a file beside the code; None without `trust`.
fn ca_bundle(dir: &std::path::Path, trust: &[String]) -> Result<Option<String>, String> {
    if trust.is_empty() {
        return Ok(None);
    }
    let mut pem = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .unwrap_or_default();
    for t in trust {
        pem.push('\n');
        pem.push_str(t);
    }
    let path = dir.join("ca-bundle.pem");
    std::fs::write(&path, pem).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(path.to_string_lossy().to_string()))
}

/// Writes the package's files under `root`, refusing paths that would leave it.
fn write_code(root: PathBuf, spec: &FunctionSpec) -> Result<(), String> {
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    for (path, content) in &spec.files {
        let rel = std::path::Path::new(path);
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!(
                "function {}: a package path leaves its root: {path}",
                spec.name
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| format!("function {}: {path} is not base64: {e}", spec.name))?;
        let to = root.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&to, bytes).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(runtime_api(&shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, body: impl Into<Bytes>) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

async fn runtime_api(
    shared: &Shared,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(&format!("/{RUNTIME_API}/runtime/")) else {
        return reply(
            404,
            r#"{"errorType":"InvalidRequest","errorMessage":"not the Runtime API"}"#,
        );
    };
    let body = match Limited::new(req.into_body(), MAX_PAYLOAD).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                413,
                r#"{"errorType":"RequestEntityTooLarge","errorMessage":"a payload is at most 6 MB"}"#,
            )
        }
    };
    let answer = |id: &str, outcome: Outcome| -> hyper::Response<Full<Bytes>> {
        let sender = shared
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match sender {
            Some(tx) => {
                let _ = tx.send(outcome);
                reply(202, r#"{"status":"OK"}"#)
            }
            None => reply(
                400,
                r#"{"errorType":"InvalidRequestID","errorMessage":"no such invocation"}"#,
            ),
        }
    };
    match (
        method.as_str(),
        rest.split('/').collect::<Vec<_>>().as_slice(),
    ) {
        ("GET", ["invocation", "next"]) => {
            let next = shared.next.lock().await.recv().await;
            let Some(inv) = next else {
                return reply(
                    500,
                    r#"{"errorType":"ServiceException","errorMessage":"shutting down"}"#,
                );
            };
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &inv.id)
                .header("lambda-runtime-deadline-ms", inv.deadline_ms.to_string())
                .header("lambda-runtime-invoked-function-arn", &shared.arn)
                .header(
                    "lambda-runtime-trace-id",
                    format!("Root=1-{}", &inv.id[..24]),
                )
                .body(Full::new(inv.event))
                .unwrap_or_else(|_| reply(500, "{}"))
        }
        ("POST", ["invocation", id, "response"]) => answer(id, Outcome::Returned(body.to_vec())),
        ("POST", ["invocation", id, "error"]) => answer(id, Outcome::Raised(body.to_vec())),
        ("POST", ["init", "error"]) => {
            // Every waiting invocation fails with the init error.
            let text = String::from_utf8_lossy(&body).to_string();
            let waiting: Vec<Answer> = shared
                .answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, tx)| tx)
                .collect();
            for tx in waiting {
                let _ = tx.send(Outcome::InitFailed(text.clone()));
            }
            reply(202, r#"{"status":"OK"}"#)
        }
        _ => reply(
            404,
            r#"{"errorType":"InvalidRequest","errorMessage":"no such Runtime API call"}"#,
        ),
    }
}
