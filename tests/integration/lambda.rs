//! The local Lambda runtime against the local cloud: a function made by a stack runs under the
//! real runtime interface client (awslambdaric), warm between invocations, with its own
//! environment; a handled error, a crash, a timeout and a missing handler come back as such,
//! and the environment after a crash or a timeout is a fresh one.

use std::time::{Duration, Instant};

use bytes::Bytes;
use local_cloud::model::lambda::{FunctionSpec, Outcome, Runtimes};
use local_cloud::servers::lambda::LocalFunction;

use crate::support::{block, cfn, cloud_endpoint, http_get, lambda_python};

const CODE: &str = r#"
import json, os, time
count = 0
def handler(event, context):
    global count
    count += 1
    action = event.get("action")
    if action == "raise":
        raise ValueError("boom")
    if action == "sleep":
        time.sleep(30)
    if action == "exit":
        print("about to exit", flush=True)
        os._exit(3)
    return {"count": count, "table": os.environ.get("TABLE_NAME"),
            "remaining": context.get_remaining_time_in_millis(), "request": context.aws_request_id,
            "arn": context.invoked_function_arn}
"#;

fn template(name: &str) -> String {
    let code: String = CODE.lines().map(|l| format!("          {l}\n")).collect();
    format!(
        r#"  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      Timeout: 2
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          TABLE_NAME: items
      Code:
        ZipFile: |
{code}"#
    )
}

fn spec(name: &str) -> FunctionSpec {
    let r = http_get(&format!(
        "{}/_shipit/lambda/{name}?region=us-east-1",
        cloud_endpoint()
    ));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}

fn json(o: &Outcome) -> serde_json::Value {
    match o {
        Outcome::Returned(b) | Outcome::Raised(b) => serde_json::from_slice(b).unwrap(),
        other => panic!("no payload: {other:?}"),
    }
}

#[test]
fn a_function_runs_warm_and_fails_as_lambda_does() {
    let name = format!("shipit-it-fn-{}", std::process::id());
    let stack = format!("lambda-{}", std::process::id());
    crate::support::create_stack_with_role(&stack, &template(&name));
    let spec = spec(&name);
    assert_eq!(spec.handler, "index.handler");
    assert_eq!(spec.environment["TABLE_NAME"], "items");
    // What `shipit preview` gives a function: the local cloud's region, endpoint and keys.
    let aws = local_cloud::servers::invoke::function_env("us-east-1", &cloud_endpoint());
    let outcome = crate::support::runtime().block_on(async {
        let f = LocalFunction::new(
            Runtimes {
                python: lambda_python(),
            },
            &spec.arn,
            aws,
        );
        let call = |event: &'static str| {
            let f = &f;
            let spec = &spec;
            async move {
                f.invoke(spec, Bytes::from_static(event.as_bytes()))
                    .await
                    .unwrap()
            }
        };
        let mut seen = Vec::new();
        // Warm: the module's state lives on between invocations.
        for want in [1, 2] {
            let o = call("{}").await;
            let v = json(&o);
            assert!(matches!(o, Outcome::Returned(_)), "{o:?} {}", f.log.text());
            assert_eq!(v["count"], want);
            assert_eq!(v["table"], "items");
            assert_eq!(v["arn"], spec.arn.as_str());
            let remaining = v["remaining"].as_i64().unwrap();
            assert!((1..=2000).contains(&remaining), "{remaining}");
            seen.push(v["request"].as_str().unwrap().to_string());
        }
        assert_ne!(seen[0], seen[1], "each invocation has its own request id");
        // A handled error is the runtime's error document; the environment stays warm.
        let o = call(r#"{"action":"raise"}"#).await;
        assert!(matches!(o, Outcome::Raised(_)), "{o:?}");
        assert_eq!(json(&o)["errorType"], "ValueError");
        assert_eq!(json(&o)["errorMessage"], "boom");
        assert_eq!(o.gateway_status(), Some(502));
        assert_eq!(json(&call("{}").await)["count"], 4);
        // A timeout stops the environment within the function's 2 s.
        let started = Instant::now();
        let o = call(r#"{"action":"sleep"}"#).await;
        assert_eq!(o, Outcome::TimedOut);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(json(&call("{}").await)["count"], 1, "a fresh environment");
        // A crash: the process's last words are kept.
        let o = call(r#"{"action":"exit"}"#).await;
        assert!(matches!(o, Outcome::Crashed(_)), "{o:?}");
        assert!(f.log.text().contains("about to exit"), "{}", f.log.text());
        assert_eq!(json(&call("{}").await)["count"], 1);
        // New code (another digest) is picked up at the next invocation.
        let mut changed = spec.clone();
        let mut files = changed.files.clone();
        let b64 = |s: &str| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(s)
        };
        files.insert(
            "index.py".into(),
            b64("def handler(e, c):\n    return {'version': 2}\n"),
        );
        changed.files = files;
        changed.digest = "another".into();
        let o = f.invoke(&changed, Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(json(&o)["version"], 2);
        // A handler that does not exist fails the invocation, naming the module.
        let mut missing = changed.clone();
        missing.handler = "nope.handler".into();
        missing.digest = "missing".into();
        f.invoke(&missing, Bytes::from_static(b"{}")).await.unwrap()
    });
    let text = match &outcome {
        Outcome::Raised(b) => String::from_utf8_lossy(b).to_string(),
        Outcome::InitFailed(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    assert!(text.contains("ImportModuleError"), "{text}");
    block(async {
        cfn()
            .delete_stack()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
    });
}

/// Calls two services with the function's own credentials and says what each answered.
const CALLER: &str = r#"
import boto3
from botocore.config import Config
def handler(event, context):
    config = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 0})
    out = {}
    for service, call in (("dynamodb", lambda c: c.list_tables()),
                          ("secretsmanager", lambda c: c.list_secrets()),
                          ("s3", lambda c: c.list_objects_v2(Bucket="anything"))):
        try:
            call(boto3.client(service, config=config))
            out[service] = "ok"
        except Exception as e:
            out[service] = (getattr(e, "response", None) or {}).get("Error", {}).get("Code") or type(e).__name__
    return out
"#;

fn caller_stack(name: &str, vpc: bool) -> String {
    let code: String = CALLER.lines().map(|l| format!("          {l}\n")).collect();
    let network = if vpc {
        r#"  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: 10.0.0.0/16 }
  Private:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24 }
  Routes:
    Type: AWS::EC2::RouteTable
    Properties: { VpcId: !Ref Vpc }
  PrivateRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: { SubnetId: !Ref Private, RouteTableId: !Ref Routes }
  DynamoDbEndpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: !Sub "com.amazonaws.${AWS::Region}.dynamodb"
      RouteTableIds: [!Ref Routes]
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: { GroupDescription: fn, VpcId: !Ref Vpc }
"#
    } else {
        ""
    };
    let vpc_config = if vpc {
        "      VpcConfig: { SubnetIds: [!Ref Private], SecurityGroupIds: [!Ref Group] }\n"
    } else {
        ""
    };
    format!(
        r#"      Policies:
        - PolicyName: only-list-tables
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [dynamodb:ListTables, s3:ListBucket]
                Resource: "*"
              - Effect: Allow
                Action: [ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:DeleteNetworkInterface]
                Resource: "*"
{network}  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      Timeout: 10
      Role: !GetAtt Role.Arn
{vpc_config}      Code:
        ZipFile: |
{code}"#
    )
}

/// The function calls AWS as its execution role: what the role does not allow is refused with
/// AccessDenied, and from a private subnet only the services with an endpoint answer at all.
#[test]
fn a_function_calls_aws_as_its_role_and_through_its_network() {
    // What `shipit preview` gives a function: the local cloud's region, endpoint and keys.
    let aws = local_cloud::servers::invoke::function_env("us-east-1", &cloud_endpoint());
    for (vpc, want) in [
        (
            false,
            serde_json::json!({"dynamodb": "ok", "secretsmanager": "AccessDeniedException", "s3": "NoSuchBucket"}),
        ),
        (
            true,
            serde_json::json!({"dynamodb": "ok", "secretsmanager": "ReadTimeoutError", "s3": "ReadTimeoutError"}),
        ),
    ] {
        let id = format!(
            "{}-{}",
            std::process::id(),
            if vpc { "vpc" } else { "public" }
        );
        let name = format!("shipit-it-caller-{id}");
        crate::support::create_stack_with_role(&format!("caller-{id}"), &caller_stack(&name, vpc));
        let spec = spec(&name);
        assert!(
            spec.credentials["AWS_ACCESS_KEY_ID"] != "test",
            "the role's own credentials"
        );
        let answer = crate::support::runtime().block_on(async {
            let f = LocalFunction::new(
                Runtimes {
                    python: lambda_python(),
                },
                &spec.arn,
                aws.clone(),
            );
            let o = f.invoke(&spec, Bytes::from_static(b"{}")).await.unwrap();
            f.shutdown().await;
            o
        });
        assert_eq!(json(&answer), want, "vpc: {vpc}");
        block(async {
            cfn()
                .delete_stack()
                .stack_name(format!("caller-{id}"))
                .send()
                .await
                .unwrap()
        });
    }
}
