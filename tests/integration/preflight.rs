//! The preflight, judged on a local cloud of the test's own set to a small, old account: every
//! refusal AWS would make is listed at once with its fix, before anything is written; the
//! account-wide setting a stack relies on is made by `shipit bootstrap`, once.

use std::path::Path;

use serde_json::Value;

use crate::support::{cfn_at, http, shipit_at, OwnCloud};

fn site() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("site-example/dist")
        .to_string_lossy()
        .into_owned()
}

/// An ACM certificate requested in `region` of the local cloud; its ARN.
fn certificate(cloud: &OwnCloud, region: &str, name: &str) -> String {
    let auth = shipit_engine::http::local_cloud_authorization("acm", region);
    let (status, _, body) = http(
        "POST",
        &format!("{}/", cloud.endpoint()),
        &[
            ("authorization", &auth),
            ("x-amz-target", "CertificateManager.RequestCertificate"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        &format!(r#"{{"DomainName": "{name}", "ValidationMethod": "DNS"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["CertificateArn"].as_str().unwrap().to_string()
}

fn stacks(cloud: &OwnCloud) -> Vec<String> {
    let out = crate::support::block(cfn_at(cloud.endpoint()).list_stacks().send()).unwrap();
    out.stack_summaries()
        .iter()
        .filter(|s| s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE"))
        .filter_map(|s| s.stack_name().map(str::to_string))
        .collect()
}

/// Sets the account's API Gateway CloudWatch role, as someone else (or an older shipit) did.
fn set_logging_role(cloud: &OwnCloud, role: &str) {
    let auth = shipit_engine::http::local_cloud_authorization("apigateway", "us-east-1");
    let (status, _, body) = http(
        "PATCH",
        &format!("{}/account", cloud.endpoint()),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        &format!(
            r#"{{"patchOperations": [{{"op": "replace", "path": "/cloudwatchRoleArn", "value": "{role}"}}]}}"#
        ),
    );
    assert_eq!(status, 200, "{body}");
}

/// The account's API Gateway settings, as API Gateway answers them.
fn apigw_account(cloud: &OwnCloud) -> String {
    let auth = shipit_engine::http::local_cloud_authorization("apigateway", "us-east-1");
    let (status, _, account) = http(
        "GET",
        &format!("{}/account", cloud.endpoint()),
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, 200, "{account}");
    account
}

/// `shipit bootstrap --json` on `cloud`, which must succeed: its JSON and what it said.
fn bootstrap_at(cloud: &OwnCloud) -> (Value, String) {
    let out = shipit_at(cloud.endpoint(), &["bootstrap", "--json"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    (serde_json::from_slice(&out.stdout).unwrap(), said)
}

#[test]
fn a_small_old_account_is_told_everything_aws_would_refuse_before_any_write() {
    let cloud = OwnCloud::start();
    // A new account (concurrency 10), a PostgreSQL major RDS no longer sells, a cache node
    // type the region does not offer, no API Gateway logging role, and a certificate in the
    // wrong region for CloudFront.
    cloud.set_account(
        r#"{"lambda_concurrency": 10,
            "postgres_versions": {"16": {"16.6": "deprecated", "16.8": "deprecated", "16.9": "deprecated"}},
            "cache_node_types": ["cache.t3.micro"]}"#,
    );
    let arn = certificate(&cloud, "eu-west-1", "www.example.com");
    let cert = format!("CertificateArn={arn}");
    let args = |command: &'static str| {
        vec![
            command.to_string(),
            site(),
            "--stack".into(),
            "small".into(),
            "--parameter".into(),
            "ApiReservedConcurrency=20".into(),
            "--parameter".into(),
            "DomainName=www.example.com".into(),
            "--parameter".into(),
            cert.clone(),
            "--json".into(),
        ]
    };
    for command in ["plan", "deploy"] {
        let a = args(command);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = shipit_at(cloud.endpoint(), &a).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(4),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["kind"], "preflight");
        let findings = v["preflight"]["findings"].as_array().unwrap();
        let refused: Vec<&str> = findings
            .iter()
            .filter(|f| f["severity"] == "refused")
            .map(|f| f["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            refused,
            [
                "lambda-concurrency",
                "apigateway-logging-role",
                "rds-engine-version",
                "site-certificate",
                "templates-bucket"
            ],
            "{command}: {findings:#?}"
        );
        // ElastiCache has no orderable-options call: a node type without an offering is a
        // warning, and the create itself is refused (the local cloud refuses it as AWS does).
        assert!(
            findings
                .iter()
                .any(|f| f["check"] == "elasticache-node-type" && f["severity"] == "warning"),
            "{findings:#?}"
        );
        for f in findings {
            assert!(f["fix"].as_str().unwrap().len() > 20, "{f}");
        }
        // The cost by tier comes with it: the data tier is most of it.
        let cost: f64 = v["preflight"]["monthly_cost"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["high"].as_f64().unwrap())
            .sum();
        assert!((30.0..45.0).contains(&cost), "{cost}");
        // Nothing was written: no stack, no bucket.
        assert_eq!(stacks(&cloud), Vec::<String>::new(), "{command}");
        let (_, _, buckets) = http(
            "GET",
            &format!("{}/", cloud.endpoint()),
            &[(
                "authorization",
                &shipit_engine::http::local_cloud_authorization("s3", "us-east-1"),
            )],
            "",
        );
        assert!(!buckets.contains("<Name>"), "{command}: {buckets}");
    }
}

#[test]
fn bootstrap_sets_the_account_wide_logging_role_once_and_the_stack_then_passes() {
    let cloud = OwnCloud::start();
    let plan = |extra: &[&str]| {
        let s = site();
        let mut a = vec!["plan", s.as_str(), "--stack", "web", "--json"];
        a.extend_from_slice(extra);
        shipit_at(cloud.endpoint(), &a).output().unwrap()
    };
    let refused = plan(&[]);
    assert_eq!(refused.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&refused.stdout).unwrap();
    let checks: Vec<&str> = v["preflight"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["apigateway-logging-role", "templates-bucket"]);
    // A static site needs no API Gateway, but its template too is past CloudFormation's inline
    // limit: the templates bucket is bootstrap's as well.
    let static_site = plan(&["--parameter", "EnableApi=false"]);
    assert_eq!(static_site.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&static_site.stdout).unwrap();
    assert_eq!(
        v["preflight"]["findings"][0]["check"], "templates-bucket",
        "{v}"
    );

    // An older shipit's app stack held the role: its next update deletes it, so the preflight
    // refuses until bootstrap takes the setting over.
    let legacy = "arn:aws:iam::123456789012:role/old-site-ApiGatewayLoggingRole-AB12CD";
    set_logging_role(&cloud, legacy);
    let held = plan(&[]);
    assert_eq!(held.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&held.stdout).unwrap();
    assert_eq!(
        v["preflight"]["findings"][0]["check"], "apigateway-logging-role",
        "{v}"
    );
    assert!(
        v["preflight"]["findings"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("older shipit"),
        "{v}"
    );

    let run = |args: &[&str]| {
        let out = shipit_at(cloud.endpoint(), args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let bootstrap = || {
        let out = run(&["bootstrap", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first_out = run(&["bootstrap", "--json"]);
    let first: Value = serde_json::from_slice(&first_out.stdout).unwrap();
    assert_eq!(first["changed"], true);
    assert_ne!(first["role"], legacy, "the setting was taken over");
    assert!(
        first["role"].as_str().unwrap().starts_with("arn:aws:iam::"),
        "{first}"
    );
    // Judged through API Gateway itself: the account and region has the role now.
    let (status, _, account) = http(
        "GET",
        &format!("{}/account", cloud.endpoint()),
        &[(
            "authorization",
            &shipit_engine::http::local_cloud_authorization("apigateway", "us-east-1"),
        )],
        "",
    );
    assert_eq!(status, 200);
    assert!(
        account.contains(first["role"].as_str().unwrap()),
        "{account}"
    );
    let again_said = run(&["bootstrap"]);
    let again = bootstrap();
    assert_eq!(again["changed"], false);
    // The templates bucket large templates go through: private, judged through S3, and named
    // as the infrastructure role's statement expects.
    let bucket = first["templates_bucket"].as_str().unwrap().to_string();
    assert!(
        bucket.starts_with("shipit-bootstrap-templatesbucket-"),
        "{bucket}"
    );
    let blocked = crate::support::block(
        crate::support::s3_at(cloud.endpoint())
            .get_public_access_block()
            .bucket(&bucket)
            .send(),
    )
    .unwrap();
    let c = blocked.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let snapshots = crate::snapshots::filters(&[
        (
            crate::snapshots::regex_escape(first["role"].as_str().unwrap()),
            "[ROLE]",
        ),
        (crate::snapshots::regex_escape(&bucket), "[BUCKET]"),
    ]);
    snapshots.bind(|| {
        insta::assert_snapshot!("bootstrap_json", String::from_utf8_lossy(&first_out.stdout));
        insta::assert_snapshot!(
            "bootstrap_stderr",
            String::from_utf8_lossy(&first_out.stderr)
        );
        insta::assert_snapshot!(
            "bootstrap_again_stderr",
            String::from_utf8_lossy(&again_said.stderr)
        );
    });
    assert_eq!(again["role"], first["role"]);
    assert_eq!(stacks(&cloud), ["shipit-bootstrap"]);
    let ok = plan(&[]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["preflight"]["ran"], true);
    assert_eq!(v["preflight"]["findings"], Value::Array(vec![]));
}

#[test]
fn bootstrap_leaves_a_logging_role_set_by_someone_else_and_still_makes_the_templates_bucket() {
    let cloud = OwnCloud::start();
    let theirs = "arn:aws:iam::123456789012:role/platform-team-apigw-logs";
    set_logging_role(&cloud, theirs);
    let (v, said) = bootstrap_at(&cloud);
    assert_eq!(v["role"], theirs);
    assert!(said.contains("set by someone else"), "{said}");
    // Judged through API Gateway and CloudFormation: their role stays, the bucket is made.
    let account = apigw_account(&cloud);
    assert!(account.contains(theirs), "{account}");
    let state = crate::support::stack_state_at(cloud.endpoint(), "shipit-bootstrap").unwrap();
    assert_eq!(state.parameters["SetApiGatewayRole"], "false");
    assert_eq!(
        state.outputs.get("TemplatesBucketName").map(String::as_str),
        v["templates_bucket"].as_str()
    );
    assert!(!state.outputs.contains_key("ApiGatewayCloudWatchRoleArn"));
}

/// The bootstrap stack an older shipit made: its role, no bucket, no parameter.
const OLD_BOOTSTRAP: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Resources:
  ApiGatewayCloudWatchRole:
    Type: AWS::IAM::Role
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: apigateway.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
  ApiGatewayAccount:
    Type: AWS::ApiGateway::Account
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      CloudWatchRoleArn: !GetAtt ApiGatewayCloudWatchRole.Arn
Outputs:
  ApiGatewayCloudWatchRoleArn:
    Value: !GetAtt ApiGatewayCloudWatchRole.Arn
"#;

#[test]
fn bootstrap_upgrades_an_older_bootstrap_stack_keeping_its_role() {
    let cloud = OwnCloud::start();
    let cfn = cfn_at(cloud.endpoint());
    crate::support::block(async {
        let made = cfn
            .create_change_set()
            .stack_name("shipit-bootstrap")
            .change_set_name("old")
            .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
            .template_body(OLD_BOOTSTRAP)
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
            .send()
            .await
            .unwrap();
        cfn.execute_change_set()
            .stack_name("shipit-bootstrap")
            .change_set_name(made.id().unwrap())
            .send()
            .await
            .unwrap();
    });
    let old = crate::support::stack_state_at(cloud.endpoint(), "shipit-bootstrap").unwrap();
    let role = old.outputs["ApiGatewayCloudWatchRoleArn"].clone();
    // The older shipit set the account to its role.
    set_logging_role(&cloud, &role);
    let (v, _) = bootstrap_at(&cloud);
    assert_eq!(v["role"], role.as_str(), "the role is kept");
    let now = crate::support::stack_state_at(cloud.endpoint(), "shipit-bootstrap").unwrap();
    assert_eq!(now.outputs["ApiGatewayCloudWatchRoleArn"], role);
    assert_eq!(now.parameters["SetApiGatewayRole"], "true");
    assert_eq!(
        now.outputs.get("TemplatesBucketName").map(String::as_str),
        v["templates_bucket"].as_str()
    );
    let account = apigw_account(&cloud);
    assert!(account.contains(&role), "{account}");
}
