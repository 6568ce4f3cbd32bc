//! The local Lambda runtime: the Runtime API (the HTTP interface Lambda serves to a runtime
//! interface client: next invocation, response, error, init error) on 127.0.0.1, and the
//! function's runtime process polling it, started from the function's code and configuration
//! in the local cloud. One warm process serves one invocation at a time, as a Lambda execution
//! environment does; it is started again after a crash or a timeout, and when the function's
//! code or configuration changes, each time with a Runtime API of its own. How the process is
//! started is `model::lambda::launch`; several environments are the caller's (`servers::apigw`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::model::lambda::{launch, FunctionSpec, Outcome, Runtimes, RUNTIME_API};

/// Lambda's limit on a synchronous invocation's request and response payloads.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// How much of the process's output is kept for a failure's report.
const MAX_LOG: usize = 64 * 1024;

/// An invocation waiting for the runtime to ask for it.
struct Invocation {
    id: String,
    event: Bytes,
    /// The function's timeout: its deadline is set when the runtime takes the event.
    timeout: Duration,
    /// Told when the runtime takes the event (the function's clock starts then).
    taken: oneshot::Sender<()>,
}

type Answer = oneshot::Sender<Outcome>;

/// What one execution environment's Runtime API shares with the invoker.
struct Shared {
    next: Mutex<mpsc::Receiver<Invocation>>,
    answers: std::sync::Mutex<HashMap<String, Answer>>,
    arn: String,
}

/// Lambda's limit on a runtime's initialisation, apart from the function's timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);

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

/// One execution environment: the runtime process, and the Runtime API and queue only it
/// polls (a process that is being replaced can never take its successor's invocation).
struct Running {
    child: Child,
    /// The configuration and code it was started with: any change starts a new one.
    spec: FunctionSpec,
    queue: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
    serving: tokio::task::JoinHandle<()>,
    _code: tempfile::TempDir,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.child.kill().await;
        self.serving.abort();
    }
}

/// A function, run locally: one execution environment, serving one invocation at a time.
pub struct LocalFunction {
    runtimes: Runtimes,
    aws: BTreeMap<String, String>,
    arn: String,
    process: Mutex<Option<Running>>,
    pub log: Log,
}

impl LocalFunction {
    /// A function whose environment starts at the first invocation. `aws`: the function's
    /// region, credentials and endpoint variables.
    pub fn new(runtimes: Runtimes, arn: &str, aws: BTreeMap<String, String>) -> LocalFunction {
        LocalFunction {
            runtimes,
            aws,
            arn: arn.to_string(),
            process: Mutex::new(None),
            log: Log::default(),
        }
    }

    /// Whether an invocation is running here now (another request would wait for it).
    pub fn busy(&self) -> bool {
        self.process.try_lock().is_err()
    }

    /// Stops the environment's process (preview's exit; a dropped function also kills it).
    pub async fn shutdown(&self) {
        if let Some(r) = self.process.lock().await.take() {
            r.stop().await;
        }
    }

    /// Invokes the function's current configuration and code (`spec`, as the local cloud has
    /// it now) with `event` and waits for its outcome: the runtime has [`INIT_LIMIT`] to take
    /// the event, then the function's timeout runs. One at a time.
    pub async fn invoke(&self, spec: &FunctionSpec, event: Bytes) -> Result<Outcome, String> {
        if event.len() > MAX_PAYLOAD {
            return Err(format!(
                "the event is {} bytes; Lambda takes at most {MAX_PAYLOAD}",
                event.len()
            ));
        }
        let mut process = self.process.lock().await;
        let stale = match process.as_mut() {
            Some(r) => r.spec != *spec || r.child.try_wait().ok().flatten().is_some(),
            None => true,
        };
        if stale {
            if let Some(old) = process.take() {
                old.stop().await;
            }
            *process = Some(self.spawn(spec).await?);
        }
        let running = process.as_mut().expect("started above");
        let id = format!("{:032x}", fastrand::u128(..));
        let timeout = Duration::from_secs(spec.timeout.max(1));
        let (tx, rx) = oneshot::channel();
        let (taken_tx, taken_rx) = oneshot::channel();
        running
            .shared
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        let sent = running.queue.send(Invocation {
            id: id.clone(),
            event,
            timeout,
            taken: taken_tx,
        });
        let clock = async {
            match tokio::time::timeout(INIT_LIMIT, taken_rx).await {
                Ok(Ok(())) => {
                    tokio::time::sleep(timeout).await;
                    Outcome::TimedOut
                }
                Ok(Err(_)) => {
                    // The invocation was dropped untaken: the runtime is gone; the exit
                    // branch reports how.
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                Err(_) => Outcome::InitFailed(format!(
                    "the runtime did not ask for the event within Lambda's {} s init limit",
                    INIT_LIMIT.as_secs()
                )),
            }
        };
        let outcome = tokio::select! {
            // An answer (or an init error) posted just before the process exits wins.
            biased;
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
            o = clock => o,
        };
        running
            .shared
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if matches!(
            outcome,
            Outcome::TimedOut | Outcome::Crashed(_) | Outcome::InitFailed(_)
        ) {
            // Lambda ends the execution environment: the next invocation starts a fresh one.
            if let Some(r) = process.take() {
                r.stop().await;
            }
        }
        Ok(outcome)
    }

    async fn spawn(&self, spec: &FunctionSpec) -> Result<Running, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot serve {}'s Runtime API: {e}", spec.name))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot serve {}'s Runtime API: {e}", spec.name))?;
        let (queue, next) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            next: Mutex::new(next),
            answers: std::sync::Mutex::new(HashMap::new()),
            arn: self.arn.clone(),
        });
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
            &addr.to_string(),
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
        let serving = tokio::spawn(serve(listener, shared.clone()));
        Ok(Running {
            child,
            spec: spec.clone(),
            queue,
            shared,
            serving,
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
    let handler = move |req, _peer| {
        let shared = shared.clone();
        async move { runtime_api(&shared, req).await }
    };
    crate::servers::server::serve(listener, handler, std::future::pending::<()>()).await;
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
            // The function's clock starts now, as Lambda's does when it hands out the event.
            let deadline_ms = (std::time::SystemTime::now() + inv.timeout)
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let _ = inv.taken.send(());
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &inv.id)
                .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
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
