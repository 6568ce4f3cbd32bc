//! The stack's API served by `shipit preview --stack`: API Gateway's routing, its Cognito
//! authorizer (tokens of the stack's own user pool, checked by signature), the Lambda proxy
//! integration run by the local Lambda runtime, CORS, and failures answered as API Gateway
//! answers them. Judged over HTTP and through the local cloud's own APIs.

use std::process::Command;

use crate::support::{assert_success, cloud_endpoint, http, stack_state, World};

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

    // Public liveness: the function's own answer, with the site's CORS origin.
    let (status, headers, body) = http("GET", &format!("{api}/health"), &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), serde_json::json!({"ok": true}));
    assert_eq!(headers["access-control-allow-origin"], site);

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

    // The preflight (a MOCK) and the gateway's own refusals.
    let (status, headers, _) = http("OPTIONS", &format!("{api}/items"), &[("origin", &site)], "");
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], site);
    assert!(headers["access-control-allow-headers"].contains("Authorization"));
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
