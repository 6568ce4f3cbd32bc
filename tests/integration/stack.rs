//! The stack end to end against the local cloud: create, skip, update, refuse, recover, destroy.
//! State is checked through the CloudFormation and S3 APIs; the proxy shows which
//! CloudFormation actions shipit called.

use crate::snapshots::regex_escape;
use crate::support::{assert_exit, assert_success, stack_state, stderr, stdout, World};

fn small_site(w: &World) {
    w.write("index.html", "<!doctype html><title>stack</title>");
    w.write("assets/app-5d41402a.js", "console.log('hi')");
    w.write("robots.txt", "User-agent: *\n");
}

/// Every output the default parameters produce.
const OUTPUTS: &[&str] = &[
    "SiteBucketName",
    "DistributionId",
    "DistributionDomainName",
    "DistributionArn",
    "OriginAccessControlId",
    "SiteUrl",
    "SpaFallback",
    "ApiUrl",
    "ApiId",
    "UserPoolId",
    "UserPoolClientId",
    "TableName",
    "AppDataBucketName",
    "VpcId",
    "DatabaseEndpoint",
    "DatabaseSecretArn",
    "RedisEndpoint",
];

#[test]
fn deploy_creates_the_stack_then_skips_the_change_set_then_updates_a_parameter() {
    let w = World::new("stackflow");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);

    let out = w.run_stack("deploy", &name, &["--json"]);
    assert_success(&out);
    let state = stack_state(&name).expect("stack exists");
    assert_eq!(state.status, "CREATE_COMPLETE");
    assert!(
        state.termination_protection,
        "termination protection is off"
    );
    for key in OUTPUTS {
        assert!(
            state.outputs.get(*key).is_some_and(|v| !v.is_empty()),
            "output {key} missing: {:?}",
            state.outputs
        );
    }
    let bucket = state.outputs["SiteBucketName"].clone();
    let keys = crate::support::block(async {
        let out = w.s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        out.contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect::<Vec<_>>()
    });
    for key in ["index.html", "assets/app-5d41402a.js", "robots.txt"] {
        assert!(
            keys.iter().any(|k| k == key),
            "{key} not synced to {bucket}: {keys:?}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stack"]["action"], "created");
    // The build's three files and the runtime configuration.
    assert_eq!(json["summary"]["uploaded"], 4);
    let actions = w.cfn_actions();
    assert!(
        actions.contains(&"CreateChangeSet".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"UpdateTerminationProtection".to_string()),
        "{actions:?}"
    );

    // Unchanged template and parameters: no change set at all.
    let out = w.run_stack("deploy", &name, &[]);
    assert_success(&out);
    let actions = w.cfn_actions();
    assert!(
        !actions.iter().any(|a| a.contains("ChangeSet")),
        "{actions:?}"
    );
    assert!(stderr(&out).contains("no change set"), "{}", stderr(&out));
    assert_eq!(stack_state(&name).unwrap().status, "CREATE_COMPLETE");

    // plan shows the same, and executes nothing.
    let out = w.run_stack("plan", &name, &[]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("stack {name} (CREATE_COMPLETE): unchanged")),
        "{}",
        stdout(&out)
    );
    let out = w.run_stack("plan", &name, &["--parameter", "PriceClass=PriceClass_All"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("~ Modify  Distribution (AWS::CloudFront::Distribution)"),
        "{}",
        stdout(&out)
    );
    let actions = w.cfn_actions();
    assert!(
        !actions.contains(&"ExecuteChangeSet".to_string()),
        "plan executed: {actions:?}"
    );
    assert_eq!(
        stack_state(&name).unwrap().parameters["PriceClass"],
        "PriceClass_100"
    );

    // A parameter change goes through a change set.
    let out = w.run_stack(
        "deploy",
        &name,
        &["--parameter", "PriceClass=PriceClass_All"],
    );
    assert_success(&out);
    let actions = w.cfn_actions();
    assert!(
        actions.contains(&"CreateChangeSet".to_string())
            && actions.contains(&"ExecuteChangeSet".to_string()),
        "{actions:?}"
    );
    let state = stack_state(&name).unwrap();
    assert_eq!(state.status, "UPDATE_COMPLETE");
    assert_eq!(state.parameters["PriceClass"], "PriceClass_All");
    assert_eq!(
        state.outputs["SiteBucketName"], bucket,
        "the site bucket was replaced"
    );
}

#[test]
fn static_only_stack_has_no_api_or_data_tier() {
    let w = World::new("staticonly");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let out = w.run_stack("deploy", &name, &["--parameter", "EnableApi=false"]);
    assert_success(&out);
    let state = stack_state(&name).unwrap();
    assert!(state.outputs.contains_key("SiteBucketName"));
    for absent in ["ApiUrl", "TableName", "DatabaseEndpoint", "VpcId"] {
        assert!(
            !state.outputs.contains_key(absent),
            "{absent} present: {:?}",
            state.outputs
        );
    }
    let resources = crate::support::block(async {
        let out = crate::support::cfn()
            .list_stack_resources()
            .stack_name(&name)
            .send()
            .await
            .unwrap();
        out.stack_resource_summaries()
            .iter()
            .map(|r| r.resource_type().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    });
    assert!(
        resources
            .iter()
            .all(|t| !t.starts_with("AWS::RDS") && !t.starts_with("AWS::ApiGateway")),
        "{resources:?}"
    );
}

const TABLE_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Site:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: KEY, AttributeType: S }
      KeySchema:
        - { AttributeName: KEY, KeyType: HASH }
Outputs:
  SiteBucketName:
    Value: !Ref Site
"#;

#[test]
fn a_change_set_replacing_the_table_is_refused_unless_allowed() {
    let w = World::new("replace");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let v1 = w.write_template("v1.yaml", &TABLE_TEMPLATE.replace("KEY", "pk"));
    assert_success(&w.run_stack("deploy", &name, &["--template", &v1]));
    w.cfn_actions();

    let v2 = w.write_template("v2.yaml", &TABLE_TEMPLATE.replace("KEY", "id"));
    let out = w.run_stack("deploy", &name, &["--template", &v2]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("Table (AWS::DynamoDB::Table)  (REPLACEMENT)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--allow-replace"), "{}", stderr(&out));
    let actions = w.cfn_actions();
    assert!(
        !actions.contains(&"ExecuteChangeSet".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"DeleteChangeSet".to_string()),
        "the refused change set was left: {actions:?}"
    );
    assert_eq!(stack_state(&name).unwrap().status, "CREATE_COMPLETE");

    let out = w.run_stack("deploy", &name, &["--template", &v2, "--allow-replace"]);
    assert_success(&out);
    assert_eq!(stack_state(&name).unwrap().status, "UPDATE_COMPLETE");
}

const FAILING_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Site:
    Type: AWS::S3::Bucket
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: no-such-bucket-for-shipit-tests
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - { Effect: Deny, Principal: "*", Action: "s3:*", Resource: "arn:aws:s3:::no-such-bucket-for-shipit-tests/*" }
Outputs:
  SiteBucketName:
    Value: !Ref Site
"#;

#[test]
fn a_failed_first_create_is_explained_and_recreated_only_with_a_flag() {
    let w = World::new("failcreate");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let bad = w.write_template("bad.yaml", FAILING_TEMPLATE);

    let out = w.run_stack("deploy", &name, &["--template", &bad]);
    assert_exit(&out, 7);
    let err = stderr(&out);
    assert!(err.contains("ROLLBACK_COMPLETE"), "{err}");
    assert!(
        err.contains("Policy (AWS::S3::BucketPolicy)"),
        "the failing resource is not named: {err}"
    );
    assert_eq!(stack_state(&name).unwrap().status, "ROLLBACK_COMPLETE");

    // Nothing can be updated in that state: say so, and how to get out.
    let good = w.write_template("good.yaml", &TABLE_TEMPLATE.replace("KEY", "pk"));
    let out = w.run_stack("deploy", &name, &["--template", &good]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("--recreate"), "{}", stderr(&out));

    let out = w.run_stack("deploy", &name, &["--template", &good, "--recreate"]);
    assert_success(&out);
    assert_eq!(stack_state(&name).unwrap().status, "CREATE_COMPLETE");
}

#[test]
fn destroy_empties_the_site_bucket_and_keeps_what_the_template_retains_with_its_contents() {
    let w = World::new("destroy");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    assert_success(&w.run_stack("deploy", &name, &[]));
    // A second release: new versions, and a delete marker for the pruned file.
    w.write("index.html", "<!doctype html><title>v2</title>");
    w.remove("robots.txt");
    assert_success(&w.run_stack("deploy", &name, &[]));
    let state = stack_state(&name).unwrap();
    let site = state.outputs["SiteBucketName"].clone();
    let data = state.outputs["AppDataBucketName"].clone();
    crate::support::block(async {
        for body in ["one", "two"] {
            w.s3.put_object()
                .bucket(&data)
                .key("user/1.json")
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
    });
    assert!(w.version_count(&site) >= 5);
    assert_eq!(w.version_count(&data), 2);

    // The names CloudFormation made: the stack's name, a resource's part, a random suffix.
    let snapshots = crate::snapshots::filters(&[
        (regex_escape(&site), "[SITE_BUCKET]"),
        (regex_escape(&data), "[DATA_BUCKET]"),
        (
            format!("{}-([A-Za-z]+)-[A-Za-z0-9]+", regex_escape(&name)),
            "[STACK]-$1-[ID]",
        ),
        (regex_escape(&name), "[STACK]"),
        (r"us-east-1_[0-9a-f]{32}".to_string(), "us-east-1_[POOL]"),
        // How many versions two deploys leave depends on their writes (lock fences, records,
        // a retried PUT): the test asserts their floor above; the report's shape is snapshot.
        (
            r"removed \d+ object versions and \d+ delete markers".to_string(),
            "removed [N] object versions and [N] delete markers",
        ),
        (r"(?m)^(\s+)\d+(,?)$".to_string(), "$1[N]$2"),
    ]);

    // Without --yes and without a terminal: refused, nothing touched.
    let out = w.cmd(&["destroy", "--stack", &name]).output().unwrap();
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(stack_state(&name).is_some());
    snapshots.bind(|| insta::assert_snapshot!("destroy_without_yes_stderr", stderr(&out)));

    // The database has deletion protection: without --delete-database, refused before anything
    // is emptied or deleted.
    let out = w
        .cmd(&["destroy", "--stack", &name, "--yes"])
        .output()
        .unwrap();
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("--delete-database"),
        "{}",
        stderr(&out)
    );
    assert!(stack_state(&name).is_some());
    assert!(w.version_count(&site) >= 5, "the site bucket was emptied");
    snapshots.bind(|| insta::assert_snapshot!("destroy_database_refused_stderr", stderr(&out)));

    let out = w
        .cmd(&[
            "destroy",
            "--stack",
            &name,
            "--yes",
            "--json",
            "--delete-database",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(stack_state(&name).is_none(), "the stack is still there");
    assert!(!w.bucket_exists(&site), "the site bucket is still there");
    // The template retains the app data: destroy leaves its every version in place.
    assert_eq!(w.version_count(&data), 2, "retained app data was erased");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "retained: AppDataBucket (AWS::S3::Bucket) {data}: kept with its contents (1 object)"
        )),
        "{err}"
    );
    assert!(!err.contains(&format!("emptying bucket {data}")), "{err}");
    assert!(
        err.contains("retained: Table (AWS::DynamoDB::Table)"),
        "{err}"
    );
    assert!(
        err.contains("retained: AppDataBucket (AWS::S3::Bucket)"),
        "{err}"
    );
    assert!(
        err.contains("retained: Database (AWS::RDS::DBInstance)")
            && err.contains("final snapshot kept"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(json["destroyed"]["emptied"][&site][0].as_u64().unwrap() >= 3);
    assert!(json["destroyed"]["emptied"].get(&data).is_none(), "{json}");

    // Destroying what is gone is not an error.
    let gone = w
        .cmd(&["destroy", "--stack", &name, "--yes"])
        .output()
        .unwrap();
    assert_success(&gone);
    snapshots.bind(|| {
        insta::assert_snapshot!("destroy_json", stdout(&out));
        insta::assert_snapshot!("destroy_stderr", err);
        insta::assert_snapshot!("destroy_gone_stderr", stderr(&gone));
    });
}

#[test]
fn a_create_change_set_left_unexecuted_is_taken_over() {
    // A cancelled CI job can leave a stack in REVIEW_IN_PROGRESS: only a change set, no resources.
    let w = World::new("review");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    crate::support::block(async {
        crate::support::cfn()
            .create_change_set()
            .stack_name(&name)
            .change_set_name("abandoned")
            .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
            .template_body(TABLE_TEMPLATE.replace("KEY", "pk"))
            .send()
            .await
            .unwrap();
    });
    assert_eq!(stack_state(&name).unwrap().status, "REVIEW_IN_PROGRESS");
    let template = w.write_template("t.yaml", &TABLE_TEMPLATE.replace("KEY", "pk"));
    let out = w.run_stack("deploy", &name, &["--template", &template]);
    assert_success(&out);
    assert_eq!(stack_state(&name).unwrap().status, "CREATE_COMPLETE");
}

#[test]
fn changed_and_deleted_files_are_invalidated_new_and_hashed_ones_are_not() {
    let w = World::new("invalidate");
    small_site(&w);
    w.write("docs/index.html", "<!doctype html>docs");
    w.write("old.html", "<!doctype html>old");
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let out = w.run_stack(
        "deploy",
        &name,
        &["--parameter", "EnableApi=false", "--json"],
    );
    assert_success(&out);
    let distribution = stack_state(&name).unwrap().outputs["DistributionId"].clone();
    assert!(
        crate::support::invalidated_paths(&distribution).is_empty(),
        "new files need no invalidation"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["summary"]["invalidated_paths"], 0);

    w.write("index.html", "<!doctype html><title>v2</title>");
    w.write("docs/index.html", "<!doctype html>docs v2");
    w.write("assets/app-5d41402a.js", "console.log('v2')"); // same hashed name, new bytes: immutable anyway
    w.write("brand-new.txt", "new");
    w.remove("old.html");
    let out = w.run_stack(
        "deploy",
        &name,
        &["--parameter", "EnableApi=false", "--wait", "--json"],
    );
    assert_success(&out);
    let invalidations = crate::support::invalidated_paths(&distribution);
    assert_eq!(invalidations.len(), 1, "{invalidations:?}");
    assert_eq!(
        invalidations[0],
        [
            "/",
            "/docs",
            "/docs/",
            "/docs/index.html",
            "/index.html",
            "/old.html",
            // A new release: the runtime configuration names it.
            "/shipit-config.json"
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["summary"]["invalidated_paths"], 7);
    assert!(
        stderr(&out).contains("completed"),
        "--wait did not wait: {}",
        stderr(&out)
    );

    // A redeploy with nothing changed invalidates nothing.
    assert_success(&w.run_stack("deploy", &name, &["--parameter", "EnableApi=false"]));
    assert_eq!(crate::support::invalidated_paths(&distribution).len(), 1);
}

#[test]
fn an_empty_change_set_is_success_and_is_cleaned_up() {
    let w = World::new("emptycs");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    let body = TABLE_TEMPLATE.replace("KEY", "pk");
    let v1 = w.write_template("v1.yaml", &body);
    assert_success(&w.run_stack("deploy", &name, &["--template", &v1]));
    w.cfn_actions();

    // Only a comment differs: shipit cannot know it changes nothing, CloudFormation can.
    let v2 = w.write_template("v2.yaml", &format!("# reviewed 2026-11-21\n{body}"));
    let out = w.run_stack("deploy", &name, &["--template", &v2, "--json"]);
    assert_success(&out);
    let actions = w.cfn_actions();
    assert!(
        actions.contains(&"CreateChangeSet".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"DeleteChangeSet".to_string()),
        "the empty change set was left: {actions:?}"
    );
    assert!(
        !actions.contains(&"ExecuteChangeSet".to_string()),
        "{actions:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stack"]["action"], "unchanged");
    assert_eq!(stack_state(&name).unwrap().status, "CREATE_COMPLETE");
}

/// GETs a path of the local cloud's API Gateway API (moto routes by the credential scope).
fn apigateway(path: &str) -> serde_json::Value {
    let url = format!("{}{path}", crate::support::cloud_endpoint());
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/apigateway/aws4_request, SignedHeaders=host, Signature=0";
    let r = crate::support::block(async {
        shipit_engine::http::Client::new(std::time::Duration::from_secs(10))
            .unwrap()
            .get(&url, &[("authorization", auth)])
            .await
            .unwrap()
    });
    assert_eq!(r.status, 200, "{url}: {}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn a_changed_method_reaches_the_stage_through_a_new_deployment() {
    let w = World::new("apisnap");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    assert_success(&w.run_stack("deploy", &name, &[]));
    let api = stack_state(&name).unwrap().outputs["ApiId"].clone();
    let stage = |field: &str| apigateway(&format!("/restapis/{api}/stages/live"))[field].clone();
    let first = stage("deploymentId");
    assert!(first.is_string(), "{first}");

    // Unchanged: no change set, the same snapshot.
    assert_success(&w.run_stack("deploy", &name, &[]));
    assert_eq!(stage("deploymentId"), first);

    // GET /health tightened to IAM authorization: a new snapshot, and the stage serves it.
    let tightened = shipit_core::template::EMBEDDED.replacen(
        "      HttpMethod: GET\n      AuthorizationType: NONE",
        "      HttpMethod: GET\n      AuthorizationType: AWS_IAM",
        1,
    );
    assert_ne!(tightened, shipit_core::template::EMBEDDED);
    let path = w.write_template("tightened.yaml", &tightened);
    assert_success(&w.run_stack("deploy", &name, &["--template", &path]));
    let second = stage("deploymentId");
    assert_ne!(second, first, "the stage still serves the old snapshot");
    let deployments = apigateway(&format!("/restapis/{api}/deployments"));
    let ids: Vec<&serde_json::Value> = deployments["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert!(ids.contains(&&second), "{deployments}");
    assert!(
        !ids.contains(&&first),
        "the old snapshot is left behind: {deployments}"
    );
}

#[test]
fn the_runtime_configuration_is_the_stacks_and_verify_catches_a_stale_one() {
    let w = World::new("runtimecfg");
    small_site(&w);
    let name = w.stack_name();
    // A build with a file of its own where shipit writes: refused before the stack is made.
    w.write("shipit-config.json", r#"{"apiUrl": "mine"}"#);
    let out = w.run_stack("deploy", &name, &["--parameter", "EnableApi=false"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("shipit-config.json")
            && stderr(&out).contains("runtime configuration"),
        "{}",
        stderr(&out)
    );
    assert!(stack_state(&name).is_none(), "the stack was made");
    w.remove("shipit-config.json");

    let _stack = w.guard_stack(&name);
    let edge = w.edge(&["--stack", &name]);
    let deploy = w.run_stack(
        "deploy",
        &name,
        &[
            "--parameter",
            "EnableApi=false",
            "--url",
            &edge.url,
            "--verify-timeout",
            "60",
            "--json",
        ],
    );
    assert_success(&deploy);
    let report: serde_json::Value = serde_json::from_str(&stdout(&deploy)).unwrap();
    let bucket = report["stack"]["outputs"]["SiteBucketName"]
        .as_str()
        .unwrap();
    // In the bucket: the stack's values (no API: nulls), the release, HTML's Cache-Control.
    let config: serde_json::Value =
        serde_json::from_slice(&w.get_from(bucket, "shipit-config.json")).unwrap();
    assert_eq!(
        config["release"], report["summary"]["release"],
        "{config:#}"
    );
    assert_eq!(config["region"], "us-east-1");
    assert!(
        config["apiUrl"].is_null() && config["userPoolId"].is_null(),
        "{config:#}"
    );
    let head = w.head_from(bucket, "shipit-config.json");
    assert_eq!(head.content_type, "application/json");
    assert_eq!(head.cache_control, "public, max-age=0, must-revalidate");
    let verified = report["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runtime config")
        .unwrap()
        .clone();
    assert_eq!(verified["outcome"], "pass", "{verified:#}");

    // Changed by hand behind shipit's back: verify names the field.
    let mut stale = config.clone();
    stale["region"] = "eu-west-1".into();
    crate::support::block(async {
        w.s3.put_object()
            .bucket(bucket)
            .key("shipit-config.json")
            .content_type("application/json")
            .cache_control("public, max-age=0, must-revalidate")
            .body(stale.to_string().into_bytes().into())
            .send()
            .await
            .unwrap()
    });
    let out = w
        .cmd(&[
            "verify",
            "--stack",
            &name,
            "--url",
            &edge.url,
            // Long enough that one attempt sees the stale file on a loaded machine; the
            // attempts the deadline cuts short keep what an earlier one saw.
            "--verify-timeout",
            "20",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("region is \"eu-west-1\""), "{text}");
    // The next deploy puts it right (its bytes are not the manifest's: asked, then rewritten).
    let again = w.run_stack(
        "deploy",
        &name,
        // A passing site is verified at once; the longer deadline only rides out a machine
        // loaded by the rest of the suite.
        &[
            "--parameter",
            "EnableApi=false",
            "--url",
            &edge.url,
            "--verify-timeout",
            "60",
        ],
    );
    assert_success(&again);
    let fixed: serde_json::Value =
        serde_json::from_slice(&w.get_from(bucket, "shipit-config.json")).unwrap();
    assert_eq!(fixed["region"], "us-east-1");
}

/// `EnableWaf=true`: a web ACL in front of the distribution (CloudFront scope) and one on the
/// API's stage, each with AWS's managed rule groups and a rate limit; judged through WAF's and
/// CloudFront's own APIs on the local cloud.
#[test]
fn waf_guards_the_distribution_and_the_apis_stage() {
    use crate::support::{cloud_endpoint, http};
    let w = World::new("waf");
    small_site(&w);
    let name = w.stack_name();
    let _stack = w.guard_stack(&name);
    assert_success(&w.run_stack(
        "deploy",
        &name,
        &[
            "--parameter",
            "EnableWaf=true",
            "--parameter",
            "EnableDataTier=false",
            "--no-verify",
        ],
    ));
    let state = stack_state(&name).unwrap();
    let waf = |target: &str, body: String| {
        let auth = shipit_engine::http::local_cloud_authorization("wafv2", "us-east-1");
        let (status, _, text) = http(
            "POST",
            &format!("{}/", cloud_endpoint()),
            &[
                ("authorization", &auth),
                ("x-amz-target", &format!("AWSWAF_20190729.{target}")),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            &body,
        );
        assert_eq!(status, 200, "{target}: {text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let acl_named = |scope: &str, suffix: &str| {
        let list = waf("ListWebACLs", format!(r#"{{"Scope": "{scope}"}}"#));
        list["WebACLs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Name"] == format!("{name}-{suffix}"))
            .unwrap_or_else(|| panic!("no {scope} web ACL {name}-{suffix}: {list}"))
            .clone()
    };
    let site = acl_named("CLOUDFRONT", "site");
    let api = acl_named("REGIONAL", "api");
    for (acl, scope) in [(&site, "CLOUDFRONT"), (&api, "REGIONAL")] {
        let got = waf(
            "GetWebACL",
            format!(
                r#"{{"Name": {}, "Scope": "{scope}", "Id": {}}}"#,
                acl["Name"], acl["Id"]
            ),
        );
        let rules: Vec<&str> = got["WebACL"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            rules,
            [
                "aws-common",
                "aws-known-bad-inputs",
                "aws-ip-reputation",
                "rate-per-ip"
            ],
            "{scope}"
        );
    }
    // The API's stage is associated with the regional web ACL.
    let stage = format!(
        "arn:aws:apigateway:us-east-1::/restapis/{}/stages/live",
        state.outputs["ApiId"]
    );
    let on_stage = waf(
        "GetWebACLForResource",
        format!(r#"{{"ResourceArn": "{stage}"}}"#),
    );
    assert_eq!(on_stage["WebACL"]["ARN"], api["ARN"], "{on_stage}");
    // The distribution names the site's web ACL.
    let auth = shipit_engine::http::local_cloud_authorization("cloudfront", "us-east-1");
    let (status, _, config) = http(
        "GET",
        &format!(
            "{}/2020-05-31/distribution/{}/config",
            cloud_endpoint(),
            state.outputs["DistributionId"]
        ),
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, 200, "{config}");
    let arn = site["ARN"].as_str().unwrap();
    assert!(
        config.contains(&format!("<WebACLId>{arn}</WebACLId>")),
        "{config}"
    );
}
