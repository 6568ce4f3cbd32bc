//! The local cloud's own endpoints (`docs/local-cloud-contract.md`), both halves at once: what
//! the Python rig answers, read by the Rust types that read it in shipit.

use local_cloud::model::distribution::Registry;
use local_cloud::model::lambda::Described;

use crate::support::{cloud_endpoint, create_stack_with_role, http, http_get, stack_state};

fn template(name: &str) -> String {
    format!(
        r#"  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          GREETING: hello
      Code:
        ZipFile: |
          def handler(event, context):
              return {{"ok": True}}
  V1:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
  Live:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Fn
      Name: live
      FunctionVersion: !GetAtt V1.Version
"#
    )
}

fn lambda(name: &str) -> (u16, Vec<u8>) {
    let r = http_get(&format!(
        "{}/_shipit/lambda/{}?region=us-east-1",
        cloud_endpoint(),
        name.replace(':', "%3A").replace('$', "%24")
    ));
    (r.status, r.body.to_vec())
}

#[test]
fn the_local_clouds_endpoints_are_what_shipit_reads() {
    let name = format!("shipit-contract-{}", std::process::id());
    let stack = format!("contract-{}", std::process::id());
    create_stack_with_role(&stack, &template(&name));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while stack_state(&stack).map(|s| s.status) != Some("CREATE_COMPLETE".into()) {
        assert!(
            std::time::Instant::now() < deadline,
            "stack {stack} not created"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // A version, by name and by qualified name: every field the runtime needs.
    for n in [name.clone(), format!("{name}:1"), format!("{name}:$LATEST")] {
        let (status, body) = lambda(&n);
        assert_eq!(status, 200, "{n}: {}", String::from_utf8_lossy(&body));
        let Described::Function(spec) = Described::from_json(&body).unwrap() else {
            panic!("{n}: not a function");
        };
        assert_eq!(
            (
                spec.name.as_str(),
                spec.runtime.as_str(),
                spec.handler.as_str()
            ),
            (name.as_str(), "python3.12", "index.handler"),
            "{n}"
        );
        assert!(
            spec.arn.contains(&format!(":function:{name}")),
            "{}",
            spec.arn
        );
        assert_eq!(spec.environment["GREETING"], "hello");
        assert!(
            spec.files.contains_key("index.py"),
            "{:?}",
            spec.files.keys()
        );
        assert_eq!(spec.digest.len(), 64, "a SHA-256, hex");
        assert!(spec.timeout > 0 && spec.memory > 0);
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            assert!(spec.credentials.contains_key(k), "{k}");
        }
    }
    // An alias: where its traffic goes.
    let (status, body) = lambda(&format!("{name}:live"));
    assert_eq!(status, 200);
    let Described::Alias(alias) = Described::from_json(&body).unwrap() else {
        panic!("live: not an alias");
    };
    assert_eq!((alias.name.as_str(), alias.version.as_str()), ("live", "1"));
    assert!(alias.function.ends_with(&format!(":function:{name}")));
    assert!(alias.weights.is_empty());
    // No such function: 404 with a reason.
    let (status, body) = lambda("no-such-function");
    assert_eq!(status, 404);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("no function")),
        "{doc}"
    );

    // The registry: a JSON object of type -> id -> properties, what `Registry` reads, and what
    // tells the local cloud from any other endpoint.
    let r = http_get(&format!("{}/_shipit/resources", cloud_endpoint()));
    assert_eq!(r.status, 200);
    let registry = Registry(serde_json::from_slice(&r.body).unwrap());
    assert!(registry.0.is_object());
    assert!(registry
        .distribution_config("no-such-distribution")
        .is_none());

    // The Invoke probe: 204 for a version that exists, Lambda's not-found error otherwise.
    let invoke = |qualifier: &str| {
        http(
            "POST",
            &format!(
                "{}/2015-03-31/functions/{name}/invocations?Qualifier={qualifier}",
                cloud_endpoint()
            ),
            &[
                ("x-shipit-invoke", "probe"),
                (
                    "authorization",
                    &shipit_engine::http::local_cloud_authorization("lambda", "us-east-1"),
                ),
            ],
            "{}",
        )
    };
    assert_eq!(invoke("1").0, 204);
    let (status, headers, _) = invoke("9");
    assert_eq!(status, 404);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-amzn-errortype")
                && v.as_str() == "ResourceNotFoundException"),
        "{headers:?}"
    );

    // The account: read, merged, refused when unknown.
    let account = format!("{}/_shipit/account", cloud_endpoint());
    let (status, _, body) = http("GET", &account, &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body)
        .unwrap()
        .is_object());
    let (status, _, body) = http(
        "POST",
        &account,
        &[("content-type", "application/json")],
        r#"{"no_such_setting": 1}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string());
}
