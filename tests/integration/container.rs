//! The container backend with the real binary on the local cloud, judged through ECS's,
//! ELB's, API Gateway's and CloudFormation's APIs and over HTTP: a function stack switched to
//! containers (the switch planned and shown first), a first image whose tasks serve `/health`
//! through the API (API Gateway, the VPC link, the load balancer), an unchanged redeploy that
//! registers nothing, a new image rolled out as a new revision with no new API snapshot, an
//! image whose health check fails rolled back by the circuit breaker with the old revision
//! serving and the site unchanged, a task-role call outside the role's policy refused, and an
//! image that is not pinned refused before anything changes.

use std::path::Path;

use serde_json::Value;

use crate::support::{
    assert_exit, assert_success, cloud_endpoint, http, json_call_at, stack_state, stderr, stdout,
    World,
};

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api";

/// The service the images run here: `/health` (500 when BROKEN is set), and two calls with the
/// task role's credentials, one its policy allows and one it does not.
const SERVER: &str = r#"import http.server, json, os
import boto3

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self.answer(500 if os.environ.get("BROKEN") else 200,
                               {"version": os.environ.get("VERSION")})
        if self.path == "/param":
            return self.answer(200, {"API_TOKEN": os.environ.get("API_TOKEN")})
        dynamodb = boto3.client("dynamodb")
        try:
            if self.path == "/probe/allowed":
                dynamodb.describe_table(TableName=os.environ["TABLE_NAME"])
            elif self.path == "/probe/outside":
                dynamodb.list_tables()
            else:
                return self.answer(404, {"path": self.path})
            return self.answer(200, {"ok": True})
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            return self.answer(200, {"error": code, "message": str(e)})

    def log_message(self, *args):
        pass

# As many services do, it reads AWS before it listens: the local cloud answers while it deploys.
boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// One JSON call to one of the local cloud's services (ECS, ECR: their JSON protocols).
fn call(service: &str, target: &str, body: &str) -> (u16, Value) {
    json_call_at(&cloud_endpoint(), service, target, body)
}

/// One JSON call to the local cloud's ECS.
fn ecs(action: &str, body: &str) -> Value {
    let (status, v) = call(
        "ecs",
        &format!("AmazonEC2ContainerServiceV20141113.{action}"),
        body,
    );
    assert_eq!(status, 200, "{action}: {v}");
    v
}

/// Pushes an image to the local cloud's ECR, as a team's CI would: its manifest's annotations
/// say how it runs on this machine (the service in `dir`, run with `env` set). Returns
/// `REPO@sha256:...`.
fn push(dir: &Path, env: &str, tag: &str) -> String {
    let ecr = |action: &str, body: &str| {
        call(
            "ecr",
            &format!("AmazonEC2ContainerRegistry_V20150921.{action}"),
            body,
        )
    };
    // The repository exists after the first push of any test.
    ecr("CreateRepository", r#"{"repositoryName": "team/api"}"#);
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rig-venv/bin/python");
    let layer = format!("{:064x}", fastrand::u128(..));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", "c".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": format!("sha256:{layer}"), "size": 1}],
        "annotations": {
            "dev.shipit.local.command": format!("{env} exec {} server.py", python.display()),
            "dev.shipit.local.directory": dir.display().to_string(),
        },
    });
    let body = serde_json::json!({
        "repositoryName": "team/api",
        "imageManifest": manifest.to_string(),
        "imageTag": tag,
    });
    let (status, v) = ecr("PutImage", &body.to_string());
    assert_eq!(status, 200, "PutImage: {v}");
    format!(
        "{REPO}@{}",
        v["image"]["imageId"]["imageDigest"].as_str().unwrap()
    )
}

/// The stack's service: (task definition ARN, its image, launch type).
fn service(stack: &str) -> (String, String, String) {
    let out = stack_state(stack).unwrap().outputs;
    let body = format!(
        r#"{{"cluster": "{}", "services": ["{}"]}}"#,
        out["ClusterName"], out["ServiceName"]
    );
    let s = &ecs("DescribeServices", &body)["services"][0];
    let task = s["taskDefinition"].as_str().unwrap().to_string();
    let def = ecs(
        "DescribeTaskDefinition",
        &format!(r#"{{"taskDefinition": "{task}"}}"#),
    );
    let image = def["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    (task, image, s["launchType"].as_str().unwrap().to_string())
}

fn revisions(stack: &str) -> Vec<String> {
    let body = format!(r#"{{"familyPrefix": "{stack}-api"}}"#);
    ecs("ListTaskDefinitions", &body)["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().rsplit(':').next().unwrap().to_string())
        .collect()
}

/// The target group's targets as ELB describes them: (port, state).
fn targets(stack: &str) -> Vec<(u16, String)> {
    let group = &stack_state(stack).unwrap().outputs["TargetGroupArn"];
    let auth = shipit_engine::http::local_cloud_authorization("elasticloadbalancing", "us-east-1");
    let body = format!(
        "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn={}",
        percent_encoding::utf8_percent_encode(group, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, _, text) = http(
        "POST",
        &format!("{}/", cloud_endpoint()),
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &body,
    );
    assert_eq!(status, 200, "{text}");
    let mut out = Vec::new();
    for member in text.split("<member>").skip(1) {
        let field = |name: &str| {
            let open = format!("<{name}>");
            member
                .split(&open)
                .nth(1)
                .and_then(|r| r.split(&format!("</{name}>")).next())
                .unwrap_or("")
                .to_string()
        };
        out.push((field("Port").parse().unwrap(), field("State")));
    }
    out.sort();
    out
}

/// GET `url`: (status, JSON body).
fn get(url: &str) -> (u16, Value) {
    let (status, _, body) = http("GET", url, &[], "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// How many deployments (API snapshots) the stack's REST API has.
fn api_snapshots(stack: &str) -> usize {
    let api = &stack_state(stack).unwrap().outputs["ApiId"];
    let auth = shipit_engine::http::local_cloud_authorization("apigateway", "us-east-1");
    let (status, _, text) = http(
        "GET",
        &format!("{}/restapis/{api}/deployments", cloud_endpoint()),
        &[("authorization", auth.as_str())],
        "",
    );
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["item"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_function_stack_switches_to_containers_and_ships_images_by_digest() {
    let w = World::new("container");
    let name = w.stack_name();
    let _guard = w.guard_stack(&name);
    w.write("index.html", "<!doctype html><title>app</title>");
    assert_success(&w.run_stack("deploy", &name, &[]));
    assert!(stack_state(&name)
        .unwrap()
        .outputs
        .contains_key("ApiFunctionName"));

    // The service the images run here (each image says how: its local command).
    let service_dir = tempfile::tempdir().unwrap();
    let dir = service_dir.path();
    std::fs::write(dir.join("server.py"), SERVER).unwrap();

    // The switch is planned and shown: the function goes, the tasks come, no data moves.
    let config = w.write_config("[api]\nbackend = \"container\"\n");
    let first = push(dir, "VERSION=1", "v1");
    let plan = w.run_stack(
        "plan",
        &name,
        &["--config", &config, "--image", &first, "--json"],
    );
    assert_success(&plan);
    let v: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        (
            &v["api"]["image"],
            &v["api"]["rollout"],
            &v["api"]["running"]
        ),
        (
            &Value::from(first.as_str()),
            &Value::Bool(true),
            &Value::Null
        ),
        "{v}"
    );
    let changes = v["stack"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let action = |id: &str| {
        changes
            .iter()
            .find(|c| c["logical_id"] == id)
            .map(|c| c["action"].as_str().unwrap().to_string())
    };
    assert_eq!(
        action("ApiFunction").as_deref(),
        Some("Remove"),
        "{changes:#?}"
    );
    assert_eq!(action("Service").as_deref(), Some("Add"));
    assert_eq!(action("VpcLink").as_deref(), Some("Add"));
    for data in ["Table", "Database", "AppDataBucket", "UserPool", "Cache"] {
        assert_eq!(action(data), None, "{data} must not change");
    }
    let container_cost: f64 = v["preflight"]["monthly_cost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["tier"] == "container")
        .map(|l| l["high"].as_f64().unwrap())
        .sum();
    assert!((60.0..80.0).contains(&container_cost), "{container_cost}");
    assert!(
        stack_state(&name)
            .unwrap()
            .outputs
            .contains_key("ApiFunctionName"),
        "plan changed nothing"
    );

    let deploy = |extra: &[&str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(extra);
        w.run_stack("deploy", &name, &args)
    };
    assert_success(&deploy(&["--image", &first]));
    let state = stack_state(&name).unwrap();
    assert!(!state.outputs.contains_key("ApiFunctionName"));
    let (task, running, launch) = service(&name);
    assert_eq!(
        (running.as_str(), launch.as_str()),
        (first.as_str(), "FARGATE")
    );
    assert_eq!(revisions(&name), ["1"]);
    let snapshots = api_snapshots(&name);

    // Its tasks serve /health through the API: API Gateway, the VPC link, the load balancer.
    let edge = w.edge_with_api(&["--stack", &name]);
    let api = format!("{}/live", edge.api.clone().unwrap());
    let health = format!("{api}/health");
    assert_eq!(get(&health), (200, serde_json::json!({"version": "1"})));
    let serving = targets(&name);
    assert_eq!(
        serving.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["healthy", "healthy"],
        "{serving:?}"
    );

    // Unchanged: no change set, no revision. Without --image, the stack keeps its image.
    for extra in [&["--image", first.as_str()][..], &[]] {
        let out = deploy(extra);
        assert_success(&out);
        assert!(stderr(&out).contains("no change set"), "{}", stderr(&out));
        assert_eq!(service(&name).0, task);
        assert_eq!(revisions(&name), ["1"]);
    }

    // A new image: a new revision the service runs, the old one deregistered, new tasks
    // serving in place of the old ones, and the API's snapshot untouched (an image reaches
    // the tasks alone).
    // With the API's URL, shipit checks the new revision through it once ECS calls it stable.
    let second = push(dir, "VERSION=2", "v2");
    w.write("index.html", "<!doctype html><title>two</title>");
    let out = deploy(&["--image", &second, "--api-url", &api]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("stable in ECS; checking GET")
            && stderr(&out).contains("answers GET /health"),
        "{}",
        stderr(&out)
    );
    let (task2, running, _) = service(&name);
    assert_ne!(task2, task);
    assert_eq!(running, second);
    assert_eq!(revisions(&name), ["2"]);
    assert_eq!(api_snapshots(&name), snapshots);
    assert_eq!(get(&health), (200, serde_json::json!({"version": "2"})));
    let serving2 = targets(&name);
    assert_eq!(serving2.len(), 2);
    assert!(
        serving2.iter().all(|t| !serving.contains(t)),
        "{serving2:?}"
    );

    // Each release records the revision and the image it ran.
    let out = w
        .cmd(&["releases", "--stack", &name, "--json"])
        .output()
        .unwrap();
    assert_success(&out);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded: Vec<(String, String)> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((
                r["api"]["version"]
                    .as_str()?
                    .rsplit(':')
                    .next()?
                    .to_string(),
                r["api"]["image"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("1".to_string(), first.clone()),
            ("2".to_string(), second.clone())
        ]
    );

    // A rollback puts the site and the image of the release before back together: the image
    // runs again as a new revision, checked by ECS like any other.
    let site_bucket = stack_state(&name).unwrap().outputs["SiteBucketName"].clone();
    let out = w.cmd(&["rollback", "--stack", &name]).output().unwrap();
    assert_success(&out);
    assert_eq!(service(&name).1, first);
    assert_eq!(revisions(&name), ["3"]);
    assert_eq!(get(&health), (200, serde_json::json!({"version": "1"})));
    let site = w.get_from(&site_bucket, "index.html");
    assert!(String::from_utf8_lossy(&site).contains("<title>app</title>"));
    let task3 = service(&name).0;
    let serving2 = targets(&name);

    // An image whose tasks fail the health check: the circuit breaker stops the deployment,
    // the stack rolls back, the old revision serves on, and the site is not touched.
    w.write("index.html", "<!doctype html><title>never served</title>");
    let broken = push(dir, "VERSION=3 BROKEN=1", "v3");
    let out = deploy(&["--image", &broken]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Circuit Breaker was triggered")
            && stderr(&out).contains("ELB health checks"),
        "{}",
        stderr(&out)
    );
    assert_eq!(service(&name).0, task3);
    assert_eq!(revisions(&name), ["3"]);
    assert_eq!(targets(&name), serving2);
    assert_eq!(get(&health), (200, serde_json::json!({"version": "1"})));
    assert_eq!(w.get_from(&site_bucket, "index.html"), site);
    w.write("index.html", "<!doctype html><title>app</title>");

    // The task's own calls carry its role's credentials: what the role allows is answered,
    // what it does not is refused as IAM refuses it.
    let port = serving2[0].0;
    let (_, allowed) = get(&format!("http://127.0.0.1:{port}/probe/allowed"));
    assert_eq!(allowed, serde_json::json!({"ok": true}));
    let (_, outside) = get(&format!("http://127.0.0.1:{port}/probe/outside"));
    assert_eq!(outside["error"], "AccessDeniedException", "{outside}");
    assert!(
        outside["message"]
            .as_str()
            .unwrap()
            .contains("is not authorized to perform: dynamodb:ListTables"),
        "{outside}"
    );
    drop(edge);

    // A configuration that names no backend ships an image to the stack's own backend.
    let plain = w.write_config("");
    let third = push(dir, "VERSION=4", "v4");
    assert_success(&w.run_stack("deploy", &name, &["--config", &plain, "--image", &third]));
    assert_eq!(service(&name).1, third);
    assert_eq!(revisions(&name), ["5"]);
    let second = third;

    // A tag is refused before any request: nothing changes.
    let out = deploy(&["--image", &format!("{REPO}:latest")]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("pinned by digest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(service(&name).1, second);
    assert_eq!(
        stack_state(&name).unwrap().parameters["ContainerImage"],
        second
    );

    // The stack's parameters reach the tasks as secrets: a set value rolls out with a new
    // revision, a changed one with another; values are never printed but by `get --show`.
    let params = |args: &[&str], input: Option<&str>| {
        let mut all = vec!["params"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--stack", &name]);
        let mut cmd = w.cmd(&all);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = input {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let param = || {
        let port = targets(&name)[0].0;
        get(&format!("http://127.0.0.1:{port}/param")).1["API_TOKEN"].clone()
    };
    let out = params(&["set", "API_TOKEN"], Some("first-secret\n"));
    assert_success(&out);
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !shown.contains("first-secret") && shown.contains("version 1"),
        "{shown}"
    );
    let before = revisions(&name);
    assert_success(&deploy(&[]));
    assert_ne!(revisions(&name), before, "a new revision for the parameter");
    assert_eq!(param(), "first-secret");
    let out = params(&["list"], None);
    assert_success(&out);
    assert_eq!(stdout(&out), "API_TOKEN\tversion 1\n");
    let out = params(&["get", "API_TOKEN"], None);
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains("first-secret"));
    assert_eq!(
        stdout(&params(&["get", "API_TOKEN", "--show"], None)),
        "first-secret\n"
    );
    assert_success(&params(&["set", "API_TOKEN"], Some("second-secret")));
    let out = deploy(&[]);
    assert_success(&out);
    assert!(stderr(&out).contains("API_TOKEN (v2)"), "{}", stderr(&out));
    assert_eq!(param(), "second-secret");
    let recorded = w
        .cmd(&["releases", "--stack", &name, "--json"])
        .output()
        .unwrap();
    let recorded: Value = serde_json::from_slice(&recorded.stdout).unwrap();
    let newest = recorded["releases"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(newest["api"]["parameters"], "API_TOKEN:2", "{newest}");
    // A deleted parameter: the tasks are rolled out without it first, then it goes.
    let before = revisions(&name);
    let out = params(&["delete", "API_TOKEN"], None);
    assert_success(&out);
    assert!(
        stderr(&out).contains("rolling them out without it first"),
        "{}",
        stderr(&out)
    );
    assert_ne!(revisions(&name), before);
    assert_eq!(param(), Value::Null);
    assert_eq!(stdout(&params(&["list"], None)), "");
    assert_exit(&params(&["delete", "API_TOKEN"], None), 2);
    // A name the tasks cannot take, or no value, is refused before any request.
    let out = params(&["set", "AWS_REGION"], Some("x"));
    assert_exit(&out, 2);
    let out = params(&["set", "EMPTY"], Some(""));
    assert_exit(&out, 2);

    // Back to the function: the service and its tasks go (no target is left behind the load
    // balancer, asked as the local API Gateway asks), the data stays; a rollback to a release
    // that ran containers is then refused with nothing changed.
    let balancer = stack_state(&name).unwrap().outputs["LoadBalancerArn"].clone();
    let function = w.write_config("[api]\nbackend = \"function\"\n");
    assert_success(&w.run_stack("deploy", &name, &["--config", &function]));
    let state = stack_state(&name).unwrap();
    assert!(state.outputs.contains_key("ApiFunctionName"));
    assert!(!state.outputs.contains_key("ServiceName"));
    let (status, _, text) = http(
        "GET",
        &format!(
            "{}/_shipit/elb/targets?loadBalancer={}",
            cloud_endpoint(),
            percent_encoding::utf8_percent_encode(&balancer, percent_encoding::NON_ALPHANUMERIC)
        ),
        &[],
        "",
    );
    assert_eq!((status, text.as_str()), (200, r#"{"targets": []}"#));
    let site = w.get_from(&site_bucket, "index.html");
    let out = w.cmd(&["rollback", "--stack", &name]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("ran the API in containers")
            && stderr(&out).contains("no service (its API is a function)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.get_from(&site_bucket, "index.html"), site);
    assert!(stack_state(&name)
        .unwrap()
        .outputs
        .contains_key("ApiFunctionName"));
}

#[test]
fn the_local_command_runs_as_the_service_and_a_changed_file_is_a_new_revision() {
    let w = World::new("localsvc");
    let name = w.stack_name();
    let _guard = w.guard_stack(&name);
    w.write("index.html", "<!doctype html><title>app</title>");
    let service_dir = tempfile::tempdir().unwrap();
    let dir = service_dir.path();
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rig-venv/bin/python");
    let config = w.write_config(&format!(
        "[api]\nbackend = \"container\"\nlocal_command = \"VERSION=local exec {} server.py\"\nlocal_directory = \"{}\"\n",
        python.display(),
        dir.display()
    ));

    // A new stack runs the command as its service: the stand-in image is in the local ECR,
    // pinned by digest like any image, and its tasks answer through the API.
    let out = w.run_stack("deploy", &name, &["--config", &config]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("published to the local cloud"),
        "{}",
        stderr(&out)
    );
    let (task, image, _) = service(&name);
    let repo = format!(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/shipit-local/{}@sha256:",
        name.to_ascii_lowercase()
    );
    assert!(image.starts_with(&repo), "{image}");
    let edge = w.edge_with_api(&["--stack", &name]);
    let health = format!("{}/live/health", edge.api.clone().unwrap());
    assert_eq!(get(&health), (200, serde_json::json!({"version": "local"})));

    // The same command and files: the same image, no change set.
    let out = w.run_stack("deploy", &name, &["--config", &config]);
    assert_success(&out);
    assert!(stderr(&out).contains("no change set"), "{}", stderr(&out));
    assert_eq!(service(&name).0, task);

    // A changed file is another image: a new revision, rolled out and serving.
    std::fs::write(dir.join("server.py"), format!("{SERVER}\n# changed\n")).unwrap();
    assert_success(&w.run_stack("deploy", &name, &["--config", &config]));
    let (task2, image2, _) = service(&name);
    assert_ne!(
        (task2.as_str(), image2.as_str()),
        (task.as_str(), image.as_str())
    );
    assert_eq!(get(&health), (200, serde_json::json!({"version": "local"})));
    drop(edge);

    // A function has no local command.
    let function =
        w.write_config("[api]\nbackend = \"function\"\nlocal_command = \"python3 server.py\"\n");
    let out = w.run_stack("deploy", &name, &["--config", &function]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("local_command"), "{}", stderr(&out));
}
