//! The stack's API served by `shipit preview --stack`: API Gateway's routing, its Cognito
//! authorizer (tokens of the stack's own user pool, checked by signature), the Lambda proxy
//! integration run by the local Lambda runtime, CORS, and failures answered as API Gateway
//! answers them. Judged over HTTP and through the local cloud's own APIs.

use std::process::Command;

use std::collections::BTreeMap;

use crate::support::{assert_success, cloud_endpoint, http, live_alias, stack_state, World};

/// A user of the pool, signed in: their ID token (through the local cloud's Cognito API).
fn id_token(pool: &str, client: &str, email: &str) -> String {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rig-venv/bin/python");
    let script = r#"
import sys, boto3
endpoint, pool, client, email = sys.argv[1:5]
c = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
c.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                    TemporaryPassword="Temporary-Passw0rd")
c.admin_set_user_password(UserPoolId=pool, Username=email, Password="Long-Passw0rd-1",
                          Permanent=True)
r = c.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": email, "PASSWORD": "Long-Passw0rd-1"})
print(r["AuthenticationResult"]["IdToken"])
"#;
    let out = Command::new(python)
        .args(["-c", script, &cloud_endpoint(), pool, client, email])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// scheme://host:port of a URL.
fn root_of(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("http://{}", &rest[..rest.find('/').unwrap_or(rest.len())])
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn the_stacks_api_answers_locally_through_its_authorizer_and_function() {
    let w = World::new("api");
    w.write("index.html", "<!doctype html><title>api</title>");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    assert_success(&w.run_stack(
        "deploy",
        &name,
        &["--parameter", "EnableDataTier=false", "--no-verify"],
    ));
    let outputs = stack_state(&name).unwrap().outputs;
    let site = format!("https://{}", outputs["DistributionDomainName"]);
    let edge = w.edge_with_api(&["--stack", &name]);
    let api = format!("{}/live", edge.api.clone().unwrap());

    // Public liveness: the function's own answer, allowing the site's origin when asked from
    // it (and no origin when asked from none).
    let (status, headers, body) = http("GET", &format!("{api}/health"), &[("origin", &site)], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), serde_json::json!({"ok": true}));
    assert_eq!(headers["access-control-allow-origin"], site);
    let (_, headers, _) = http("GET", &format!("{api}/health"), &[], "");
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "{headers:?}"
    );

    // No token, a tampered one, another pool's shape: 401 from the gateway, with CORS.
    let (status, headers, body) = http("GET", &format!("{api}/items"), &[], "");
    assert_eq!(
        (status, json(&body)["message"].as_str()),
        (401, Some("Unauthorized"))
    );
    assert_eq!(headers["access-control-allow-origin"], site);
    let token = id_token(
        &outputs["UserPoolId"],
        &outputs["UserPoolClientId"],
        "a@example.com",
    );
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "not-a-token", "Bearer x.y.z"] {
        let (status, _, _) = http(
            "GET",
            &format!("{api}/items"),
            &[("authorization", bad)],
            "",
        );
        assert_eq!(status, 401, "{bad}");
    }

    // A signed-in user: the function sees their sub and keeps their items apart.
    let auth = [
        ("authorization", token.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, _, body) = http(
        "POST",
        &format!("{api}/items"),
        &auth,
        r#"{"name":"first"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let item = json(&body);
    assert_eq!(item["name"], "first");
    let (status, _, body) = http("GET", &format!("{api}/items"), &auth, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)[0]["id"], item["id"]);
    let other = id_token(
        &outputs["UserPoolId"],
        &outputs["UserPoolClientId"],
        "b@example.com",
    );
    let (_, _, body) = http(
        "GET",
        &format!("{api}/items"),
        &[("authorization", &other)],
        "",
    );
    assert_eq!(json(&body), serde_json::json!([]), "another user's items");

    // The preflight (a MOCK whose mapping template allows the site's origins) and the
    // gateway's own refusals.
    let (status, headers, _) = http("OPTIONS", &format!("{api}/items"), &[("origin", &site)], "");
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], site);
    assert_eq!(headers["vary"], "Origin");
    assert!(headers["access-control-allow-headers"].contains("Authorization"));
    let (status, headers, _) = http(
        "OPTIONS",
        &format!("{api}/items"),
        &[("origin", "https://evil.example")],
        "",
    );
    assert_eq!(status, 204);
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "{headers:?}"
    );
    // The local edge stands for the distribution: its page may reach the local API and the
    // local cloud where the stack's CSP names the API and Cognito, and the API answers the
    // local edge's origin as it answers the distribution's.
    let local_site = edge.url.trim_end_matches('/').to_string();
    let local_api = root_of(&api);
    let (status, headers, _) = http("GET", &format!("{local_site}/"), &[], "");
    assert_eq!(status, 200);
    let csp = &headers["content-security-policy"];
    let connect = csp
        .split(';')
        .find(|d| d.trim_start().starts_with("connect-src"))
        .unwrap_or_else(|| panic!("{csp}"));
    for origin in [local_api.as_str(), cloud_endpoint().trim_end_matches('/')] {
        assert!(connect.contains(origin), "{origin} not in {connect}");
    }
    assert!(connect.contains(".execute-api.") && connect.contains("https://cognito-idp."));
    let (status, headers, _) = http(
        "OPTIONS",
        &format!("{api}/items"),
        &[("origin", &local_site)],
        "",
    );
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], local_site);
    let (_, headers, _) = http(
        "GET",
        &format!("{api}/items"),
        &[("origin", &local_site), ("authorization", &token)],
        "",
    );
    assert_eq!(headers["access-control-allow-origin"], local_site);
    let (_, headers, _) = http(
        "GET",
        &format!("{api}/items"),
        &[("origin", "http://127.0.0.1:1"), ("authorization", &token)],
        "",
    );
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "another origin is not allowed: {headers:?}"
    );
    let root = api.trim_end_matches("/live");
    let (status, _, body) = http("GET", &format!("{root}/prod/health"), &[], "");
    assert_eq!(
        (status, json(&body)["message"].as_str()),
        (403, Some("Missing Authentication Token"))
    );
    drop(edge);
}

/// A function that crashes, or outlasts the integration: API Gateway's 502 and 504.
const FAILING: &str = r#"  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 8
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import os, time
          def handler(event, context):
              if event["path"] == "/crash":
                  print("crashing now", flush=True)
                  os._exit(7)
              if event["path"] == "/slow":
                  time.sleep(30)
              if event["path"] == "/malformed":
                  return {"statusCode": 200, "body": {"not": "a string"}}
              return {"statusCode": 200, "body": "fine"}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: { Name: failing }
  Any:
    Type: AWS::ApiGateway::Resource
    Properties: { RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: "{proxy+}" }
  AnyMethod:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Any
      HttpMethod: ANY
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        TimeoutInMillis: 4000
        Uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  Snapshot:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [AnyMethod]
    Properties: { RestApiId: !Ref Api }
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: { RestApiId: !Ref Api, DeploymentId: !Ref Snapshot, StageName: live }
Outputs:
  ApiId: { Value: !Ref Api }
  ApiUrl: { Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/live" }
"#;

#[test]
fn a_crash_is_502_a_slow_function_504_and_a_bad_response_502() {
    let w = World::new("apifail");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    crate::support::create_stack_with_role(&name, FAILING);
    let edge = w.edge_with_api(&["--stack", &name]);
    let api = format!("{}/live", edge.api.clone().unwrap());
    let (status, _, body) = http("GET", &format!("{api}/ok"), &[], "");
    assert_eq!((status, body.as_str()), (200, "fine"));
    let (status, _, body) = http("GET", &format!("{api}/crash"), &[], "");
    assert_eq!(
        (status, json(&body)["message"].as_str()),
        (502, Some("Internal server error"))
    );
    let (status, _, body) = http("GET", &format!("{api}/malformed"), &[], "");
    assert_eq!(status, 502, "{body}");
    // The integration gives up at its 4 s (the function's own timeout is 8 s): 504.
    let started = std::time::Instant::now();
    let (status, _, body) = http("GET", &format!("{api}/slow"), &[], "");
    assert_eq!(
        (status, json(&body)["message"].as_str()),
        (504, Some("Endpoint request timed out"))
    );
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(4) && took < std::time::Duration::from_secs(7),
        "{took:?}"
    );
    // The abandoned invocation still holds its environment: the next request gets another.
    let (status, _, body) = http("GET", &format!("{api}/ok"), &[], "");
    assert_eq!((status, body.as_str()), (200, "fine"));
    drop(edge);
}

/// Copies site-example/api (the example API's code and requirements) into `dir`.
fn example_api(dir: &std::path::Path) -> String {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("site-example/api");
    std::fs::create_dir_all(dir).unwrap();
    for f in ["handler.py", "requirements.txt"] {
        std::fs::copy(source.join(f), dir.join(f)).unwrap();
    }
    dir.to_str().unwrap().to_string()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_apis_own_code_ships_once_and_a_change_ships_again() {
    let w = World::new("apicode");
    w.write("index.html", "<!doctype html><title>api code</title>");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let api_dir = tempfile::tempdir().unwrap();
    let source = example_api(api_dir.path());
    let deploy = |extra: &[&str]| {
        let mut args = vec!["--parameter", "EnableDataTier=false", "--no-verify"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--api-source", &source, "--json"]);
        let out = w.run_stack("deploy", &name, &args);
        assert_success(&out);
        json(&crate::support::stdout(&out))
    };

    // A new stack: created with its artifacts bucket, then given the package.
    let first = deploy(&[]);
    assert_eq!(first["stack"]["action"], "created");
    assert_eq!(first["api"]["uploaded"], true);
    let key = first["api"]["package"]["key"].as_str().unwrap().to_string();
    let state = stack_state(&name).unwrap();
    assert_eq!(state.parameters["ApiCodeKey"], key);
    assert_eq!(state.parameters["ApiHandler"], "handler.handler");
    // The object is the package its key names, with the vendored drivers in it.
    let bucket = &state.outputs["ArtifactsBucketName"];
    let zip = w.get_from(bucket, &key);
    assert_eq!(key, format!("api/{}.zip", sha256_hex(&zip)));
    let listing = String::from_utf8_lossy(&zip).to_string();
    for inside in ["handler.py", "pg8000/native.py", "redis/client.py"] {
        assert!(listing.contains(inside), "{inside} not in the package");
    }

    // The live alias moved to the version holding that code (the stack made version 1 with
    // the built-in function).
    let function = state.outputs["ApiFunctionName"].clone();
    assert_eq!(first["api_live"]["version"], "2");
    assert_eq!(first["api_live"]["previous"], "1");
    assert_eq!(live_alias(&function), ("2".to_string(), BTreeMap::new()));
    // The local API runs that code: its list answers with X-Cache (the built-in one has none).
    let outputs = state.outputs.clone();
    let edge = w.edge_with_api(&["--stack", &name]);
    let api = format!("{}/live", edge.api.clone().unwrap());
    let token = id_token(
        &outputs["UserPoolId"],
        &outputs["UserPoolClientId"],
        "code@example.com",
    );
    let auth = [("authorization", token.as_str())];
    let (status, headers, body) = http("GET", &format!("{api}/items"), &auth, "");
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert_eq!(headers["x-cache"], "off", "no Redis without the data tier");
    let (status, _, body) = http("GET", &format!("{api}/health/deep"), &auth, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["stores"]["postgres"], "not configured");

    // Unchanged code: no upload, no change set.
    w.cfn_actions();
    let again = deploy(&[]);
    assert_eq!(again["api"]["uploaded"], false);
    assert_eq!(again["stack"]["action"], "unchanged");
    assert_eq!(again["stack"]["change_set"], false);
    assert_eq!(again["api_live"]["moved"], false, "no new version");
    assert_eq!(live_alias(&function).0, "2");
    assert!(!w.cfn_actions().iter().any(|a| a == "CreateChangeSet"));

    // A changed line: a new package, a change set that modifies the function, the new code live.
    let handler = std::path::Path::new(&source).join("handler.py");
    let code = std::fs::read_to_string(&handler).unwrap();
    let changed = code.replace(
        r#"return reply(200, {"ok": True}) if method == "GET""#,
        r#"return reply(200, {"ok": True, "v": 2}) if method == "GET""#,
    );
    assert_ne!(code, changed);
    std::fs::write(&handler, &changed).unwrap();
    let second = deploy(&[]);
    assert_eq!(second["api"]["uploaded"], true);
    assert_ne!(second["api"]["package"]["key"], key.as_str());
    assert_eq!(second["stack"]["action"], "updated");
    let changes = second["stack"]["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["logical_id"] == "ApiFunction" && c["action"] == "Modify"),
        "{changes:?}"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _, body) = http("GET", &format!("{api}/health"), &[], "");
        if status == 200 && json(&body)["v"] == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "old code still answers: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(live_alias(&function), ("3".to_string(), BTreeMap::new()));

    // A broken handler: its version fails the pre-traffic check, version 3 keeps serving, and
    // the site is left as it was.
    std::fs::write(&handler, "import no_such_module\n").unwrap();
    w.write("index.html", "<!doctype html><title>never served</title>");
    let mut args = vec!["--parameter", "EnableDataTier=false", "--no-verify"];
    args.extend_from_slice(&["--api-source", &source]);
    let out = w.run_stack("deploy", &name, &args);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("did not pass its pre-traffic check")
            && err.contains("3 stays its main version"),
        "{err}"
    );
    assert_eq!(live_alias(&function).0, "3");
    let (status, _, body) = http("GET", &format!("{api}/health"), &[], "");
    assert_eq!(
        (status, json(&body)["v"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    let site_bucket = &stack_state(&name).unwrap().outputs["SiteBucketName"];
    assert!(
        !String::from_utf8_lossy(&w.get_from(site_bucket, "index.html")).contains("never served"),
        "the site was not changed"
    );
    w.write("index.html", "<!doctype html><title>api code</title>");

    // A version that answers its direct check but fails through API Gateway: the canary
    // catches it, and all traffic goes back.
    std::fs::write(&handler, changed.replace(
        "def handler(event, context):",
        "def handler(event, context):\n    if event.get('requestContext', {}).get('identity', {}).get('userAgent') != 'shipit pre-traffic check':\n        return {'statusCode': 500, 'body': 'canary'}",
    )).unwrap();
    // 90% for 5 s: about 6 checks, each through the new version nine times in ten, so the
    // failing version is met (all six missing it: one in a million).
    let config = w.write_config("[api]\ncanary_seconds = 5\n");
    let api_url = api.clone();
    let canary_args = [
        "--config",
        config.as_str(),
        "--parameter",
        "EnableDataTier=false",
        "--no-verify",
        "--api-source",
        source.as_str(),
        "--canary",
        "90",
        "--api-url",
        api_url.as_str(),
    ];
    let out = w.run_stack("deploy", &name, &canary_args);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("the canary of version 5") && err.contains("back on version 3"),
        "{err}"
    );
    assert_eq!(live_alias(&function), ("3".to_string(), BTreeMap::new()));

    // A good change through a canary: nine tenths of the traffic first, then all of it.
    std::fs::write(&handler, changed.replace(r#""v": 2"#, r#""v": 3"#)).unwrap();
    let out = w.run_stack("deploy", &name, &canary_args);
    assert_success(&out);
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("version 6 answered GET /health with 200; canary: 90% of the traffic"),
        "{err}"
    );
    assert_eq!(live_alias(&function), ("6".to_string(), BTreeMap::new()));
    drop(edge);

    // A site-only deploy keeps the code the stack runs, and its live version.
    let key = stack_state(&name).unwrap().parameters["ApiCodeKey"].clone();
    assert_ne!(key, second["api"]["package"]["key"].as_str().unwrap());
    let out = w.run_stack(
        "deploy",
        &name,
        &["--parameter", "EnableDataTier=false", "--no-verify"],
    );
    assert_success(&out);
    assert_eq!(stack_state(&name).unwrap().parameters["ApiCodeKey"], key);
    assert_eq!(live_alias(&function).0, "6");
}

#[test]
fn a_bad_api_source_fails_before_anything_changes() {
    let w = World::new("apibad");
    w.write("index.html", "<!doctype html><title>bad</title>");
    let name = w.stack_name();
    let api_dir = tempfile::tempdir().unwrap();
    let dir = api_dir.path().to_path_buf();
    std::fs::write(dir.join("app.py"), "def handler(e, c): return {}\n").unwrap();
    let dir = dir.to_str().unwrap();
    for (extra, said) in [
        (
            vec!["--api-source", dir],
            "handler handler.handler has no file",
        ),
        (vec!["--api-source", "/no/such/dir"], "not a directory"),
    ] {
        let out = w.run_stack("deploy", &name, &extra);
        assert!(!out.status.success());
        assert!(
            crate::support::stderr(&out).contains(said),
            "{}",
            crate::support::stderr(&out)
        );
        assert!(stack_state(&name).is_none(), "nothing was created");
    }
    // A link out of the source (credentials, say) is refused, not packaged.
    std::fs::write(std::path::Path::new(dir).join("handler.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", std::path::Path::new(dir).join("creds")).unwrap();
    let out = w.run_stack("deploy", &name, &["--api-source", dir]);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("symbolic link") && err.contains("creds"),
        "{err}"
    );
    std::fs::remove_file(std::path::Path::new(dir).join("creds")).unwrap();
    // A stack without its API cannot take the code.
    let out = w.run_stack(
        "deploy",
        &name,
        &["--api-source", dir, "--parameter", "EnableApi=false"],
    );
    assert!(!out.status.success());
    assert!(crate::support::stderr(&out).contains("EnableApi is false"));
    assert!(stack_state(&name).is_none(), "nothing was created");
    std::fs::write(
        std::path::Path::new(dir).join("requirements.txt"),
        "no-such-package-shipit==0.0.1\n",
    )
    .unwrap();
    std::fs::write(
        std::path::Path::new(dir).join("handler.py"),
        "def handler(e, c): return {}\n",
    )
    .unwrap();
    let out = w.run_stack("deploy", &name, &["--api-source", dir]);
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(err.contains("pip could not vendor"), "{err}");
    assert!(stack_state(&name).is_none(), "nothing was created");
}

/// A release records the API's live version with the site's files; `shipit rollback` moves the
/// alias back (no stack change) and restores the files, and records that as a release too.
#[test]
fn rollback_puts_the_site_and_the_api_back_together() {
    let w = World::new("apiback");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let api_dir = tempfile::tempdir().unwrap();
    let source = example_api(api_dir.path());
    let handler = std::path::Path::new(&source).join("handler.py");
    let deploy = || {
        let out = w.run_stack(
            "deploy",
            &name,
            &[
                "--parameter",
                "EnableDataTier=false",
                "--no-verify",
                "--api-source",
                &source,
                "--json",
            ],
        );
        assert_success(&out);
        json(&crate::support::stdout(&out))
    };
    w.write("index.html", "<!doctype html><title>v1</title>");
    let first = deploy();
    let v1 = first["api_live"]["version"].as_str().unwrap().to_string();
    let code = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(
        &handler,
        code.replace(r#"{"ok": True}"#, r#"{"ok": True, "v": 2}"#),
    )
    .unwrap();
    w.write("index.html", "<!doctype html><title>v2</title>");
    let second = deploy();
    let v2 = second["api_live"]["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    let function = stack_state(&name).unwrap().outputs["ApiFunctionName"].clone();
    let releases = |w: &World| {
        let out = w
            .cmd(&["releases", "--stack", &name, "--json"])
            .output()
            .unwrap();
        json(&crate::support::stdout(&out))["releases"]
            .as_array()
            .unwrap()
            .clone()
    };
    let listed = releases(&w);
    let versions: Vec<&str> = listed
        .iter()
        .map(|r| r["api"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, [v1.as_str(), v2.as_str()]);

    w.cfn_actions(); // from here on: what the rollback calls
    let out = w
        .cmd(&["rollback", "--stack", &name, "--no-verify"])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        !w.cfn_actions().iter().any(|a| a == "CreateChangeSet"),
        "no stack change"
    );
    assert_eq!(live_alias(&function), (v1.clone(), BTreeMap::new()));
    let bucket = stack_state(&name).unwrap().outputs["SiteBucketName"].clone();
    assert!(
        String::from_utf8_lossy(&w.get_from(&bucket, "index.html")).contains("<title>v1</title>")
    );
    let listed = releases(&w);
    let newest = listed.last().unwrap();
    assert_eq!(newest["api"]["version"], v1.as_str());
    assert!(newest["source"]
        .as_str()
        .unwrap()
        .starts_with("rollback to"));
    assert_eq!(newest["live"], true);

    // A stack change to the function alone (here its handler, by hand) is published and
    // checked like new code: a handler that is not there takes no traffic.
    let out = w.run_stack(
        "deploy",
        &name,
        &[
            "--parameter",
            "EnableDataTier=false",
            "--parameter",
            "ApiHandler=handler.missing",
            "--no-verify",
        ],
    );
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(err.contains("did not pass its pre-traffic check"), "{err}");
    assert_eq!(live_alias(&function).0, v1);
}
