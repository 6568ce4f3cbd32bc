//! The template's quality bar: cfn-lint reports nothing, and what no scanner checks holds
//! (the bucket trusts only this distribution through OAC, TLS only, headers policy attached,
//! stateful resources retained, network paths limited to the API's functions or tasks ->
//! 5432/6379). The container backend's own rules are in `template_container`.

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

pub(crate) fn template() -> Yaml {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("stack/shipit.yaml"))
            .unwrap();
    // Tags (!Ref, !Sub, !GetAtt) are dropped: `!GetAtt A.B` reads "A.B", `!Ref A` reads "A".
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

pub(crate) fn resource<'a>(t: &'a Yaml, id: &str) -> &'a Yaml {
    let r = &t["Resources"][id];
    assert!(!r.is_badvalue(), "no resource {id}");
    r
}

pub(crate) fn statements(policy: &Yaml) -> &Vec<Yaml> {
    policy["Properties"]["PolicyDocument"]["Statement"]
        .as_vec()
        .unwrap()
}

fn cfn_lint() -> Command {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lint-venv/bin/cfn-lint");
    if venv.exists() {
        Command::new(venv)
    } else {
        Command::new("cfn-lint")
    }
}

#[test]
fn cfn_lint_reports_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stack");
    let out = cfn_lint()
        .arg(dir.join("shipit.yaml"))
        .arg(dir.join("bootstrap.yaml"))
        .output()
        .expect("cfn-lint (scripts/setup installs it)");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "cfn-lint exit {:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn checkov_findings_are_fixed_or_suppressed_with_a_reason() {
    let checkov = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lint-venv/bin/checkov");
    let out = Command::new(&checkov)
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("stack/shipit.yaml"))
        .output()
        .expect("checkov (scripts/setup installs it)");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let summary = &report["summary"];
    assert_eq!(
        summary["failed"], 0,
        "unsuppressed checkov findings: {}",
        report["results"]["failed_checks"]
    );
    assert!(summary["passed"].as_u64().unwrap() > 50, "{summary}");
    for skipped in report["results"]["skipped_checks"].as_array().unwrap() {
        let reason = skipped["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        assert!(
            reason.len() > 20,
            "{} is skipped without a reason",
            skipped["check_id"]
        );
    }
}

fn assert_private_bucket(t: &Yaml, id: &str) {
    let p = &resource(t, id)["Properties"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            p["PublicAccessBlockConfiguration"][setting].as_bool(),
            Some(true),
            "{id} {setting}"
        );
    }
    assert_eq!(
        p["OwnershipControls"]["Rules"][0]["ObjectOwnership"].as_str(),
        Some("BucketOwnerEnforced"),
        "{id}"
    );
    assert!(!p["BucketEncryption"].is_badvalue(), "{id} not encrypted");
    assert_eq!(
        p["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled"),
        "{id}"
    );
}

fn assert_tls_only(policy: &Yaml, bucket: &str) {
    let deny = statements(policy)
        .iter()
        .find(|s| {
            s["Effect"].as_str() == Some("Deny")
                && s["Condition"]["Bool"]["aws:SecureTransport"].as_str() == Some("false")
        })
        .unwrap_or_else(|| panic!("no TLS-only statement for {bucket}"));
    let resources: Vec<&str> = deny["Resource"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        resources.contains(&format!("{bucket}.Arn").as_str()),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .any(|r| r.starts_with(&format!("${{{bucket}.Arn}}/*"))),
        "{resources:?}"
    );
    assert_eq!(deny["Action"].as_str(), Some("s3:*"));
}

#[test]
fn the_site_bucket_trusts_only_this_distribution_through_oac() {
    let t = template();
    assert_private_bucket(&t, "SiteBucket");
    let policy = resource(&t, "SiteBucketPolicy");
    assert_eq!(policy["Properties"]["Bucket"].as_str(), Some("SiteBucket"));
    let allows: Vec<&Yaml> = statements(policy)
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .collect();
    assert_eq!(allows.len(), 1, "only CloudFront may read");
    let allow = allows[0];
    assert_eq!(
        allow["Principal"]["Service"].as_str(),
        Some("cloudfront.amazonaws.com")
    );
    assert_eq!(allow["Action"].as_str(), Some("s3:GetObject"));
    let source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
        .as_str()
        .unwrap();
    assert!(
        source.ends_with(":distribution/${Distribution}"),
        "SourceArn is not this distribution: {source}"
    );
    assert_tls_only(policy, "SiteBucket");

    let origin = &resource(&t, "Distribution")["Properties"]["DistributionConfig"]["Origins"][0];
    assert_eq!(
        origin["OriginAccessControlId"].as_str(),
        Some("SiteOriginAccessControl.Id"),
        "OAC not attached"
    );
    assert_eq!(
        origin["S3OriginConfig"]["OriginAccessIdentity"].as_str(),
        Some(""),
        "legacy OAI in use"
    );
    assert_eq!(
        origin["DomainName"].as_str(),
        Some("SiteBucket.RegionalDomainName")
    );
    let oac = &resource(&t, "SiteOriginAccessControl")["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["SigningBehavior"].as_str(), Some("always"));
    assert_eq!(oac["OriginAccessControlOriginType"].as_str(), Some("s3"));
}

#[test]
fn every_behaviour_is_https_with_the_security_headers() {
    let t = template();
    let config = &resource(&t, "Distribution")["Properties"]["DistributionConfig"];
    let mut behaviours = vec![&config["DefaultCacheBehavior"]];
    behaviours.extend(config["CacheBehaviors"].as_vec().unwrap());
    for b in behaviours {
        assert_eq!(
            b["ViewerProtocolPolicy"].as_str(),
            Some("redirect-to-https")
        );
        assert_eq!(
            b["ResponseHeadersPolicyId"].as_str(),
            Some("SecurityHeadersPolicy")
        );
        assert_eq!(b["Compress"].as_bool(), Some(true));
    }
    assert_eq!(config["HttpVersion"].as_str(), Some("http2and3"));
    assert_eq!(config["DefaultRootObject"].as_str(), Some("index.html"));
    // SPA routing is the viewer-request function, not a distribution-wide error mapping that
    // would answer a missing asset with the shell.
    for e in config["CustomErrorResponses"].as_vec().unwrap() {
        assert_ne!(
            e["ResponseCode"].as_i64(),
            Some(200),
            "an error is answered with 200: {e:?}"
        );
    }
    let f = &config["DefaultCacheBehavior"]["FunctionAssociations"][0];
    assert_eq!(f["EventType"].as_str(), Some("viewer-request"));
    let code = resource(&t, "RoutingFunction")["Properties"]["FunctionCode"]
        .as_str()
        .unwrap();
    assert!(
        code.contains("uri.indexOf(\".shipit/\") !== -1"),
        "shipit's state is served"
    );
    let headers = &resource(&t, "SecurityHeadersPolicy")["Properties"]
        ["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    for h in [
        "StrictTransportSecurity",
        "ContentTypeOptions",
        "FrameOptions",
        "ReferrerPolicy",
    ] {
        assert!(!headers[h].is_badvalue(), "{h} missing");
    }
}

#[test]
fn stateful_resources_are_retained_and_encrypted() {
    let t = template();
    for (id, policy) in [
        ("Table", "Retain"),
        ("AppDataBucket", "Retain"),
        ("Database", "Snapshot"),
        ("UserPool", "Retain"),
    ] {
        let r = resource(&t, id);
        assert_eq!(
            r["DeletionPolicy"].as_str(),
            Some(policy),
            "{id} DeletionPolicy"
        );
        assert_eq!(
            r["UpdateReplacePolicy"].as_str(),
            Some(policy),
            "{id} UpdateReplacePolicy"
        );
    }
    assert_private_bucket(&t, "AppDataBucket");
    assert_tls_only(resource(&t, "AppDataBucketPolicy"), "AppDataBucket");
    let table = &resource(&t, "Table")["Properties"];
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["SSESpecification"]["SSEEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        resource(&t, "Database")["Properties"]["DeletionProtection"].as_bool(),
        Some(true),
        "RDS refuses to delete the database until an administrator lifts it"
    );
    assert_eq!(table["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(
        resource(&t, "UserPool")["Properties"]["DeletionProtection"].as_str(),
        Some("ACTIVE")
    );
    let db = &resource(&t, "Database")["Properties"];
    assert_eq!(db["StorageEncrypted"].as_bool(), Some(true));
    assert_eq!(db["PubliclyAccessible"].as_bool(), Some(false));
    assert_eq!(db["ManageMasterUserPassword"].as_bool(), Some(true));
    assert_eq!(db["EnableIAMDatabaseAuthentication"].as_bool(), Some(true));
    assert!(
        db["MasterUserPassword"].is_badvalue(),
        "a plain master password"
    );
    let cache = &resource(&t, "Cache")["Properties"];
    assert_eq!(cache["TransitEncryptionEnabled"].as_bool(), Some(true));
    assert_eq!(cache["AtRestEncryptionEnabled"].as_bool(), Some(true));
}

/// Every ingress rule of the template: (group, source, port, condition). The data stores and
/// the endpoints admit the API's functions or its tasks; the tasks admit the load balancer
/// only, and the load balancer the VPC link only.
#[test]
fn only_the_apis_functions_or_tasks_reach_the_database_and_the_cache() {
    let t = template();
    let resources = t["Resources"].as_hash().unwrap();
    let mut ingress: Vec<(&str, &str, i64, &str)> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::EC2::SecurityGroupIngress"))
        .map(|(_, r)| {
            let p = &r["Properties"];
            assert_eq!(p["FromPort"], p["ToPort"], "{p:?}: one port");
            // The tasks' own port is a parameter: 0 stands for ContainerPort.
            let port = p["FromPort"].as_i64().unwrap_or_else(|| {
                assert_eq!(p["FromPort"].as_str(), Some("ContainerPort"));
                0
            });
            (
                p["GroupId"].as_str().unwrap(),
                p["SourceSecurityGroupId"].as_str().unwrap(),
                port,
                r["Condition"].as_str().unwrap(),
            )
        })
        .collect();
    ingress.sort();
    let mut want = vec![
        (
            "CacheSecurityGroup",
            "ContainerSecurityGroup",
            6379,
            "HasContainer",
        ),
        (
            "CacheSecurityGroup",
            "LambdaSecurityGroup",
            6379,
            "HasFunctionData",
        ),
        (
            "ContainerSecurityGroup",
            "LoadBalancerSecurityGroup",
            0,
            "HasContainer",
        ),
        (
            "DatabaseSecurityGroup",
            "ContainerSecurityGroup",
            5432,
            "HasContainer",
        ),
        (
            "DatabaseSecurityGroup",
            "LambdaSecurityGroup",
            5432,
            "HasFunctionData",
        ),
        (
            "EndpointSecurityGroup",
            "ContainerSecurityGroup",
            443,
            "HasContainer",
        ),
        (
            "EndpointSecurityGroup",
            "LambdaSecurityGroup",
            443,
            "HasFunctionData",
        ),
        (
            "LoadBalancerSecurityGroup",
            "VpcLinkSecurityGroup",
            80,
            "HasContainer",
        ),
    ];
    want.sort();
    assert_eq!(ingress, want);
    for group in [
        "DatabaseSecurityGroup",
        "CacheSecurityGroup",
        "EndpointSecurityGroup",
        "ContainerSecurityGroup",
        "LoadBalancerSecurityGroup",
        "VpcLinkSecurityGroup",
    ] {
        assert!(
            resource(&t, group)["Properties"]["SecurityGroupIngress"].is_badvalue(),
            "{group} has inline ingress"
        );
    }
    // The API's function and its tasks run in the private subnets.
    let vpc = &resource(&t, "ApiFunction")["Properties"]["VpcConfig"];
    let private = ["PrivateSubnetA", "PrivateSubnetB"];
    let names = |v: &Yaml| -> Vec<String> {
        v.as_vec()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&vpc[1]["SubnetIds"]), private);
    let net = &resource(&t, "Service")["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"];
    assert_eq!(names(&net["Subnets"]), private);
    assert_eq!(net["AssignPublicIp"].as_str(), Some("DISABLED"));
}

#[test]
fn only_health_and_preflight_skip_the_authorizer() {
    let t = template();
    let resources = t["Resources"].as_hash().unwrap();
    for (id, r) in resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGateway::Method"))
    {
        let p = &r["Properties"];
        let open = p["AuthorizationType"].as_str() == Some("NONE");
        let health = p["HttpMethod"].as_str() == Some("GET")
            && p["ResourceId"].as_str() == Some("HealthResource");
        let preflight = p["HttpMethod"].as_str() == Some("OPTIONS");
        assert_eq!(
            open,
            health || preflight,
            "{id:?}: authorization {:?}",
            p["AuthorizationType"]
        );
        if !open {
            assert_eq!(p["AuthorizationType"].as_str(), Some("COGNITO_USER_POOLS"));
            assert_eq!(p["AuthorizerId"].as_str(), Some("ApiAuthorizer"));
        }
    }
}

#[test]
fn the_artifacts_bucket_is_private_tls_only_and_never_expires_a_current_package() {
    let t = template();
    assert_private_bucket(&t, "ArtifactsBucket");
    assert_tls_only(resource(&t, "ArtifactsBucketPolicy"), "ArtifactsBucket");
    let b = resource(&t, "ArtifactsBucket");
    // Rebuilt from source at will: deleted with the stack (destroy empties it first).
    assert_eq!(b["DeletionPolicy"].as_str(), Some("Delete"));
    let rules = b["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_vec()
        .unwrap();
    for r in rules {
        assert!(
            r["ExpirationInDays"].is_badvalue() && r["ExpirationDate"].is_badvalue(),
            "a rule expires current packages: {r:?}"
        );
    }
    assert!(rules
        .iter()
        .any(|r| r["NoncurrentVersionExpiration"]["NoncurrentDays"].as_i64() == Some(30)));
    // The function runs the package only when a key is given; else the built-in example.
    let code = &resource(&t, "ApiFunction")["Properties"]["Code"];
    assert_eq!(code[0].as_str(), Some("HasApiCode"));
    assert_eq!(code[1]["S3Bucket"].as_str(), Some("ArtifactsBucket"));
    assert_eq!(code[1]["S3Key"].as_str(), Some("ApiCodeKey"));
}

/// Nothing in the template goes stale on its own: an engine is named by its major version
/// (RDS picks the region's default minor, and a pinned minor is retired for new instances,
/// cfn-lint W3691), and no resource is a setting of the whole account or region, which a
/// second stack would overwrite and a deleted one would break for all.
#[test]
fn no_pinned_minor_versions_and_no_account_wide_settings() {
    let t = template();
    let mut engines = 0;
    for (id, r) in t["Resources"].as_hash().unwrap() {
        let id = id.as_str().unwrap();
        let kind = r["Type"].as_str().unwrap();
        if let Some(mut v) = r["Properties"]["EngineVersion"].as_str() {
            engines += 1;
            // `!Ref P` reads "P": then the parameter's default, and every value it allows.
            let param = &t["Parameters"][v];
            if !param.is_badvalue() {
                assert_eq!(param["AllowedPattern"].as_str(), Some("^[0-9]+$"), "{v}");
                v = param["Default"].as_str().unwrap();
            }
            assert!(
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
                "{id}: EngineVersion {v:?} names a minor version; name the major alone"
            );
        }
        let account_wide = [
            "AWS::ApiGateway::Account",
            "AWS::IAM::AccountPasswordPolicy",
            "AWS::GuardDuty::Detector",
            "AWS::SecurityHub::Hub",
            "AWS::Config::ConfigurationRecorder",
            "AWS::CloudTrail::Trail",
        ];
        assert!(
            !account_wide.contains(&kind),
            "{id}: {kind} is one per account and region; it belongs to `shipit bootstrap`"
        );
    }
    assert!(engines >= 1, "the database's EngineVersion was not found");
}
