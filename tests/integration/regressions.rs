//! One test per fixed bug, named after the bug: each failed before its fix.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::support::{block, cloud_endpoint};

/// An HTTP server on 127.0.0.1 that answers every request with `response` (raw HTTP/1.1).
fn answering(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// Issue 22: any custom `AWS_ENDPOINT_URL` (LocalStack, a VPC or FIPS endpoint) was taken for
/// the local cloud, so a deploy sent its Lambda calls to `/_shipit/lambda/...` and failed. The
/// local cloud is now asked; nothing else is taken for it.
#[test]
fn a_custom_endpoint_was_taken_for_the_local_cloud() {
    let client = shipit_engine::http::Client::new(std::time::Duration::from_secs(5)).unwrap();
    let aws = answering(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 33\r\nconnection: close\r\n\r\n{\"message\":\"Missing Auth Token\"}\n",
    );
    let portal = answering(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 15\r\nconnection: close\r\n\r\n<html>hi</html>",
    );
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for (endpoint, local) in [
        (cloud_endpoint(), true),
        (aws, false),
        (portal, false),
        (closed, false),
    ] {
        assert_eq!(
            block(shipit_engine::http::is_local_cloud(&client, &endpoint)),
            local,
            "{endpoint}"
        );
    }
}

/// Issue 22 (found by the snapshot of `destroy`): the local cloud listed a resource whose
/// Condition is false with no logical id and no type (moto's ListStackResources), and destroy
/// reported each as retained (" () : kept"). On AWS such a resource does not exist and is not
/// listed; the rig now answers so, and destroy reports only what CloudFormation kept.
#[test]
fn destroy_reported_a_resource_whose_condition_is_false_as_retained() {
    let name = format!("regress-retained-{}", std::process::id());
    let template = r#"
Parameters:
  WithQueue:
    Type: String
    Default: "false"
Conditions:
  Queue: !Equals [!Ref WithQueue, "true"]
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Queue:
    Type: AWS::SQS::Queue
    Condition: Queue
  Kept:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
"#;
    block(
        crate::support::cfn()
            .create_stack()
            .stack_name(&name)
            .template_body(template)
            .send(),
    )
    .unwrap();
    let out = crate::support::shipit_at(
        &cloud_endpoint(),
        &["destroy", "--stack", &name, "--yes", "--json"],
    )
    .output()
    .unwrap();
    crate::support::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let retained: Vec<&str> = json["destroyed"]["retained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(retained.len(), 1, "{retained:?}");
    assert!(
        retained[0].starts_with("Kept (AWS::Logs::LogGroup) "),
        "{retained:?}"
    );
}
