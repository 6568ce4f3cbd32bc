//! A Lambda function as the local runtime runs it: its configuration and code (what the local
//! cloud hands back under `/_shipit/lambda/NAME`), how its runtime process is started (program,
//! arguments, environment, as Lambda sets them for a runtime interface client), and what an
//! invocation's outcome means to a caller such as API Gateway (an error, a crash or the
//! function's timeout is a 502). An alias's routing is `shipit_core::lambda::AliasRoute`.

use std::collections::BTreeMap;

use serde::Deserialize;

use shipit_core::lambda::AliasRoute;

/// The Runtime API's version path, as Lambda serves it to runtime interface clients.
pub const RUNTIME_API: &str = "2018-06-01";

/// A deployed function: what `GET /_shipit/lambda/NAME` of the local cloud answers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FunctionSpec {
    pub name: String,
    pub arn: String,
    pub runtime: String,
    pub handler: String,
    /// Seconds.
    pub timeout: u64,
    /// MiB.
    pub memory: u64,
    pub role: String,
    pub environment: BTreeMap<String, String>,
    /// The deployment package's digest: another digest is another code.
    pub digest: String,
    /// The package's files, path -> base64 content.
    pub files: BTreeMap<String, String>,
    /// PEM certificates to trust besides the public roots (the local data tier's CA).
    #[serde(default)]
    pub trust: Vec<String>,
    /// Temporary credentials of the execution role (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN), as Lambda gives its runtime; they replace the caller's own.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
}

/// What the local cloud describes under a name: a function (a version's code) or an alias.
#[derive(Debug, Clone)]
pub enum Described {
    Function(Box<FunctionSpec>),
    Alias(AliasRoute),
}

impl Described {
    pub fn from_json(body: &[u8]) -> Result<Described, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        match v.get("alias") {
            Some(a) => serde_json::from_value(a.clone())
                .map(Described::Alias)
                .map_err(|e| format!("an alias: {e}")),
            None => serde_json::from_value(v)
                .map(|s| Described::Function(Box::new(s)))
                .map_err(|e| format!("a function: {e}")),
        }
    }
}

/// How to start a runtime interface client for a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// Where the machine's runtimes are: the Python that has `awslambdaric` (and, for the
/// function's own imports, boto3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtimes {
    pub python: String,
}

impl Runtimes {
    /// `SHIPIT_LAMBDA_PYTHON` (scripts/setup installs one in target/lambda-venv), else `python3`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Runtimes {
        Runtimes {
            python: get("SHIPIT_LAMBDA_PYTHON").unwrap_or_else(|| "python3".into()),
        }
    }
}

/// The runtime process for `spec`, its code in `task_root`, polling the Runtime API at
/// `runtime_api` (host:port). `aws` is what the function's SDK needs: region, credentials,
/// endpoint. The function's own variables come after Lambda's reserved ones and cannot
/// override them, as on Lambda. `ca_bundle`: a file of the roots to trust, when the function
/// must trust more than the public ones.
pub fn launch(
    spec: &FunctionSpec,
    runtimes: &Runtimes,
    task_root: &str,
    runtime_api: &str,
    aws: &BTreeMap<String, String>,
    ca_bundle: Option<&str>,
) -> Result<Launch, String> {
    let (program, args) = if spec.runtime.starts_with("python3") {
        (
            runtimes.python.clone(),
            vec!["-m".into(), "awslambdaric".into(), spec.handler.clone()],
        )
    } else {
        return Err(format!(
            "function {}: the local Lambda runtime runs python3.x functions; {} is not emulated yet",
            spec.name, spec.runtime
        ));
    };
    let mut env: BTreeMap<String, String> = spec.environment.clone();
    for (k, v) in aws {
        env.insert(k.clone(), v.clone());
    }
    if !spec.credentials.is_empty() {
        env.remove("AWS_SESSION_TOKEN");
        env.remove("AWS_PROFILE");
    }
    for (k, v) in &spec.credentials {
        env.insert(k.clone(), v.clone());
    }
    let reserved = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("_HANDLER", spec.handler.clone()),
        ("LAMBDA_TASK_ROOT", task_root.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
        ("PYTHONPATH", task_root.to_string()),
        ("PYTHONUNBUFFERED", "1".to_string()),
    ];
    for (k, v) in reserved {
        env.insert(k.to_string(), v);
    }
    if let Some(bundle) = ca_bundle {
        env.insert("SSL_CERT_FILE".into(), bundle.to_string());
    }
    Ok(Launch { program, args, env })
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler returned this payload (JSON).
    Returned(Vec<u8>),
    /// The handler raised: the runtime's error document (errorMessage, errorType, ...).
    Raised(Vec<u8>),
    /// The runtime could not start or load the handler (an init error, or no such module).
    InitFailed(String),
    /// The process ended before answering.
    Crashed(String),
    /// No answer within the function's timeout; the process was stopped.
    TimedOut,
}

impl Outcome {
    /// API Gateway's answer when its Lambda proxy integration gets no proxy response: 502 for
    /// an error, a crash, or the function's own timeout (Lambda answers "Task timed out" within
    /// the integration's time). None when the handler returned. The integration's timeout
    /// running out first is a 504, decided by the gateway, not here.
    pub fn gateway_status(&self) -> Option<u16> {
        match self {
            Outcome::Returned(_) => None,
            Outcome::TimedOut
            | Outcome::Raised(_)
            | Outcome::InitFailed(_)
            | Outcome::Crashed(_) => Some(502),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(runtime: &str) -> FunctionSpec {
        FunctionSpec {
            name: "api".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:api".into(),
            runtime: runtime.into(),
            handler: "index.handler".into(),
            timeout: 10,
            memory: 256,
            role: "arn:aws:iam::123456789012:role/r".into(),
            environment: [
                ("TABLE_NAME".to_string(), "t".to_string()),
                ("_HANDLER".to_string(), "evil.handler".to_string()),
            ]
            .into(),
            digest: "d".into(),
            files: BTreeMap::new(),
            trust: Vec::new(),
            credentials: BTreeMap::new(),
        }
    }

    #[test]
    fn a_python_function_runs_under_the_runtime_interface_client_with_lambdas_variables() {
        let runtimes = Runtimes {
            python: "/venv/bin/python".into(),
        };
        let aws = [("AWS_REGION".to_string(), "us-east-1".to_string())].into();
        let l = launch(
            &spec("python3.12"),
            &runtimes,
            "/task",
            "127.0.0.1:9001",
            &aws,
            None,
        )
        .unwrap();
        assert!(
            !l.env.contains_key("SSL_CERT_FILE"),
            "the public roots only"
        );
        let with_ca = launch(
            &spec("python3.12"),
            &runtimes,
            "/t",
            "h:1",
            &aws,
            Some("/b.pem"),
        );
        assert_eq!(with_ca.unwrap().env["SSL_CERT_FILE"], "/b.pem");
        assert_eq!(l.program, "/venv/bin/python");
        assert_eq!(l.args, ["-m", "awslambdaric", "index.handler"]);
        let table = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("_HANDLER", "index.handler"),
            ("LAMBDA_TASK_ROOT", "/task"),
            ("AWS_LAMBDA_FUNCTION_NAME", "api"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("TABLE_NAME", "t"),
            ("AWS_REGION", "us-east-1"),
            ("PYTHONPATH", "/task"),
        ];
        for (k, v) in table {
            assert_eq!(l.env.get(k).map(String::as_str), Some(v), "{k}");
        }
    }

    #[test]
    fn the_roles_credentials_replace_the_callers() {
        let runtimes = Runtimes {
            python: "python3".into(),
        };
        let aws = [
            ("AWS_ACCESS_KEY_ID", "mine"),
            ("AWS_SECRET_ACCESS_KEY", "my-secret"),
            ("AWS_SESSION_TOKEN", "my-token"),
            ("AWS_REGION", "us-east-1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let without = launch(&spec("python3.12"), &runtimes, "/t", "h:1", &aws, None).unwrap();
        assert_eq!(without.env["AWS_ACCESS_KEY_ID"], "mine");
        let mut role = spec("python3.12");
        role.credentials = [
            ("AWS_ACCESS_KEY_ID", "ASIAROLE"),
            ("AWS_SECRET_ACCESS_KEY", "role-secret"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let with = launch(&role, &runtimes, "/t", "h:1", &aws, None).unwrap();
        assert_eq!(with.env["AWS_ACCESS_KEY_ID"], "ASIAROLE");
        assert_eq!(with.env["AWS_SECRET_ACCESS_KEY"], "role-secret");
        assert!(
            !with.env.contains_key("AWS_SESSION_TOKEN"),
            "not the caller's token"
        );
        assert_eq!(with.env["AWS_REGION"], "us-east-1");
    }

    #[test]
    fn other_runtimes_are_refused_by_name() {
        let runtimes = Runtimes {
            python: "python3".into(),
        };
        for runtime in ["nodejs20.x", "java21", "provided.al2023"] {
            let e = launch(
                &spec(runtime),
                &runtimes,
                "/t",
                "h:1",
                &BTreeMap::new(),
                None,
            )
            .unwrap_err();
            assert!(e.contains(runtime) && e.contains("function api"), "{e}");
        }
    }

    #[test]
    fn outcomes_answer_as_api_gateway_does() {
        let table = [
            (Outcome::Returned(b"{}".to_vec()), None),
            (Outcome::Raised(b"{}".to_vec()), Some(502)),
            (Outcome::InitFailed("x".into()), Some(502)),
            (Outcome::Crashed("x".into()), Some(502)),
            (Outcome::TimedOut, Some(502)),
        ];
        for (o, want) in table {
            assert_eq!(o.gateway_status(), want, "{o:?}");
        }
    }

    #[test]
    fn the_local_cloud_describes_an_alias_or_a_function() {
        let d = Described::from_json(
            br#"{"alias":{"name":"live","arn":"a","function":"f","version":"1","weights":{"2":0.25}}}"#,
        )
        .unwrap();
        assert!(matches!(d, Described::Alias(a) if a.weights["2"] == 0.25));
        assert!(Described::from_json(b"{}").is_err());
    }
}
