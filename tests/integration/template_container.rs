//! The container backend (`ApiBackend=container`) in the template: what no scanner checks.
//! The tasks are private and spread over both zones behind an internal load balancer that only
//! the VPC link reaches; every API method reaches them through that link; their secrets are
//! secrets; they reach AWS through endpoints (no NAT); their roles hold what they need, inside
//! the permissions boundary; the function's resources and the container's exclude each other.

use yaml_rust2::Yaml;

use crate::template::{resource, template};

fn strs(v: &Yaml) -> Vec<&str> {
    v.as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

fn condition<'a>(t: &'a Yaml, id: &str) -> &'a str {
    resource(t, id)["Condition"].as_str().unwrap_or_default()
}

/// (id, condition) of every resource of these types.
fn of_types<'a>(t: &'a Yaml, types: &[&str]) -> Vec<(&'a str, &'a str)> {
    t["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, r)| types.contains(&r["Type"].as_str().unwrap_or_default()))
        .map(|(k, r)| {
            (
                k.as_str().unwrap(),
                r["Condition"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn the_function_and_the_container_exclude_each_other_and_a_container_needs_its_image() {
    let t = template();
    // (the types, how many resources of them, the Condition each has)
    let table: [(&[&str], usize, &str); 2] = [
        (
            &[
                "AWS::Lambda::Function",
                "AWS::Lambda::Version",
                "AWS::Lambda::Alias",
                "AWS::Lambda::Permission",
            ],
            5,
            "HasFunction",
        ),
        (
            &[
                "AWS::ECS::Cluster",
                "AWS::ECS::Service",
                "AWS::ECS::TaskDefinition",
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "AWS::ElasticLoadBalancingV2::TargetGroup",
                "AWS::ElasticLoadBalancingV2::Listener",
                "AWS::ApiGatewayV2::VpcLink",
            ],
            7,
            "HasContainer",
        ),
    ];
    for (types, count, want) in table {
        let found = of_types(&t, types);
        assert_eq!(found.len(), count, "{found:?}");
        for (id, cond) in found {
            assert_eq!(cond, want, "{id}");
        }
    }
    for id in ["ApiFunctionRole", "PreTrafficGateRole"] {
        assert_eq!(condition(&t, id), "HasFunction", "{id}");
    }
    for id in ["TaskRole", "TaskExecutionRole", "ServiceLogs"] {
        assert_eq!(condition(&t, id), "HasContainer", "{id}");
    }
    let c = &t["Conditions"];
    assert_eq!(strs(&c["HasContainer"]), ["HasData", "IsContainer"]);
    // CloudFormation refuses the change set (the rule's description is its message) before
    // anything is made: a container without the data tier's VPC, or without an image.
    let rule = &t["Rules"]["AContainerBackendNeedsTheDataTierAndAPinnedImage"];
    assert_eq!(strs(&rule["RuleCondition"]), ["ApiBackend", "container"]);
    let said: Vec<&str> = rule["Assertions"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|a| a["AssertDescription"].as_str())
        .collect();
    assert!(said[0].contains("EnableDataTier"), "{said:?}");
    assert!(said[1].contains("ContainerImage"), "{said:?}");
    // Pinned by digest: a tag could move under a running service.
    let pattern = t["Parameters"]["ContainerImage"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(pattern.ends_with("@sha256:[a-f0-9]{64}$"), "{pattern}");
    // shipit refuses before any request what CloudFormation would refuse at the change set.
    assert_eq!(pattern, shipit_core::container::IMAGE_PATTERN);
}

#[test]
fn the_tasks_are_private_in_both_zones_behind_an_internal_load_balancer() {
    let t = template();
    let service = &resource(&t, "Service")["Properties"];
    assert_eq!(service["LaunchType"].as_str(), Some("FARGATE"));
    assert_eq!(service["DesiredCount"].as_str(), Some("ContainerCount"));
    assert_eq!(
        t["Parameters"]["ContainerCount"]["MinValue"].as_i64(),
        Some(2),
        "one task in each zone at least"
    );
    assert_eq!(service["EnableExecuteCommand"].as_bool(), Some(false));
    // Rolling, never below the serving count, and the last working revision back by itself.
    let deploy = &service["DeploymentConfiguration"];
    assert_eq!(deploy["Strategy"].as_str(), Some("ROLLING"));
    assert_eq!(deploy["MinimumHealthyPercent"].as_i64(), Some(100));
    assert_eq!(deploy["MaximumPercent"].as_i64(), Some(200));
    assert_eq!(
        deploy["DeploymentCircuitBreaker"]["Enable"].as_bool(),
        Some(true)
    );
    assert_eq!(
        deploy["DeploymentCircuitBreaker"]["Rollback"].as_bool(),
        Some(true)
    );
    // Nothing starts before it can pull, log, resolve its secrets and pass the health check.
    let waits = strs(&resource(&t, "Service")["DependsOn"]);
    for needed in [
        "Listener",
        "EcrApiEndpoint",
        "EcrDkrEndpoint",
        "LogsEndpoint",
        "S3Endpoint",
        "SecretsManagerEndpoint",
        "EndpointFromContainer",
        "LoadBalancerToContainer",
        "ContainerFromLoadBalancer",
    ] {
        assert!(
            waits.contains(&needed),
            "the service does not wait for {needed}"
        );
    }
    let lb = &resource(&t, "LoadBalancer")["Properties"];
    assert_eq!(lb["Scheme"].as_str(), Some("internal"));
    assert_eq!(strs(&lb["Subnets"]), ["PrivateSubnetA", "PrivateSubnetB"]);
    assert_eq!(strs(&lb["SecurityGroups"]), ["LoadBalancerSecurityGroup"]);
    let group = &resource(&t, "TargetGroup")["Properties"];
    assert_eq!(group["TargetType"].as_str(), Some("ip"));
    assert_eq!(group["HealthCheckPath"].as_str(), Some("/health"));
    assert_eq!(group["Matcher"]["HttpCode"].as_str(), Some("200"));
    let link = &resource(&t, "VpcLink")["Properties"];
    assert_eq!(
        strs(&link["SubnetIds"]),
        ["PrivateSubnetA", "PrivateSubnetB"]
    );
    assert_eq!(strs(&link["SecurityGroupIds"]), ["VpcLinkSecurityGroup"]);
    // The load balancer and the VPC link send nowhere but the next hop (their only egress
    // besides the placeholder that removes the default allow-all).
    for group in ["LoadBalancerSecurityGroup", "VpcLinkSecurityGroup"] {
        let egress = resource(&t, group)["Properties"]["SecurityGroupEgress"]
            .as_vec()
            .unwrap();
        assert_eq!(egress.len(), 1);
        assert_eq!(
            egress[0]["CidrIp"].as_str(),
            Some("127.0.0.1/32"),
            "{group}"
        );
    }
}

#[test]
fn every_api_method_reaches_the_tasks_through_the_vpc_link() {
    let t = template();
    let mut seen = 0;
    for (id, r) in t["Resources"].as_hash().unwrap() {
        let p = &r["Properties"];
        if r["Type"].as_str() != Some("AWS::ApiGateway::Method")
            || p["HttpMethod"] == Yaml::String("OPTIONS".into())
        {
            continue;
        }
        seen += 1;
        let branches = p["Integration"]
            .as_vec()
            .unwrap_or_else(|| panic!("{id:?}: no !If"));
        assert_eq!(branches[0].as_str(), Some("HasContainer"), "{id:?}");
        let (container, function) = (&branches[1], &branches[2]);
        assert_eq!(function["Type"].as_str(), Some("AWS_PROXY"), "{id:?}");
        assert_eq!(container["Type"].as_str(), Some("HTTP_PROXY"), "{id:?}");
        assert_eq!(container["ConnectionType"].as_str(), Some("VPC_LINK"));
        assert_eq!(container["ConnectionId"].as_str(), Some("VpcLink"));
        // A VPC link V2 names its load balancer in IntegrationTarget (API Gateway developer
        // guide, private integrations for REST APIs; AWS::ApiGateway::Method's schema).
        assert_eq!(
            container["IntegrationTarget"].as_str(),
            Some("LoadBalancer")
        );
        assert!(container["Uri"]
            .as_str()
            .unwrap()
            .starts_with("http://${LoadBalancer.DNSName}/"));
        // A signed-in caller reaches the tasks with who they are, as Cognito verified it.
        let user = &container["RequestParameters"]["integration.request.header.X-Shipit-User"];
        if p["AuthorizationType"].as_str() == Some("COGNITO_USER_POOLS") {
            assert_eq!(
                user.as_str(),
                Some("context.authorizer.claims.sub"),
                "{id:?}"
            );
        } else {
            assert!(user.is_badvalue(), "{id:?}");
        }
    }
    assert_eq!(seen, 3);
}

#[test]
fn secrets_reach_the_task_as_secrets_and_its_root_is_read_only() {
    let t = template();
    let task = &resource(&t, "TaskDefinition")["Properties"];
    assert_eq!(strs(&task["RequiresCompatibilities"]), ["FARGATE"]);
    assert_eq!(task["NetworkMode"].as_str(), Some("awsvpc"));
    let c = &task["ContainerDefinitions"][0];
    assert_eq!(c["Image"].as_str(), Some("ContainerImage"));
    assert_eq!(c["ReadonlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(c["Privileged"].as_bool(), Some(false));
    assert_eq!(c["LogConfiguration"]["LogDriver"].as_str(), Some("awslogs"));
    let secrets: Vec<(&str, &str)> = c["Secrets"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Name"].as_str().unwrap(),
                s["ValueFrom"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(secrets, [("REDIS_TOKEN", "CacheAuthToken")]);
    let text = |v: &Yaml| format!("{v:?}");
    for e in c["Environment"].as_vec().unwrap() {
        let value = text(&e["Value"]);
        for secret in ["CacheAuthToken", "resolve:", "MasterUserSecret", "Password"] {
            assert!(!value.contains(secret), "{:?} = {value}", e["Name"]);
        }
    }
}

#[test]
fn the_tasks_reach_aws_through_endpoints_and_pull_layers_from_ecrs_bucket_alone() {
    let t = template();
    for (id, service) in [
        ("EcrApiEndpoint", "ecr.api"),
        ("EcrDkrEndpoint", "ecr.dkr"),
        ("LogsEndpoint", "logs"),
        ("SsmEndpoint", "ssm"),
    ] {
        let p = &resource(&t, id)["Properties"];
        assert_eq!(condition(&t, id), "HasContainer", "{id}");
        assert_eq!(
            p["ServiceName"].as_str(),
            Some(format!("com.amazonaws.${{AWS::Region}}.{service}").as_str())
        );
        assert_eq!(p["VpcEndpointType"].as_str(), Some("Interface"));
        assert_eq!(p["PrivateDnsEnabled"].as_bool(), Some(true), "{id}");
        assert_eq!(strs(&p["SecurityGroupIds"]), ["EndpointSecurityGroup"]);
        let only = &p["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"];
        let key = if service.starts_with("ecr") {
            "aws:PrincipalAccount"
        } else {
            "aws:ResourceAccount"
        };
        assert_eq!(only[key].as_str(), Some("AWS::AccountId"), "{id}");
    }
    // No NAT by default: the S3 gateway endpoint carries the image layers, from ECR's bucket
    // in the region and no other bucket of another account.
    let s3 = &resource(&t, "S3Endpoint")["Properties"]["PolicyDocument"]["Statement"];
    let layers = &s3[1];
    assert_eq!(layers[0].as_str(), Some("HasContainer"));
    assert_eq!(layers[1]["Action"].as_str(), Some("s3:GetObject"));
    assert_eq!(
        layers[1]["Resource"].as_str(),
        Some("arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*")
    );
    assert_eq!(
        t["Parameters"]["EnableNatGateway"]["Default"].as_str(),
        Some("false")
    );
}

/// Every action of the two task roles, and where.
#[test]
fn the_task_roles_hold_what_they_need_inside_the_boundary() {
    let t = template();
    let actions = |id: &str| -> Vec<(String, String)> {
        let role = &resource(&t, id)["Properties"];
        assert_eq!(
            strs(&role["PermissionsBoundary"]),
            ["HasBoundary", "PermissionsBoundaryArn", "AWS::NoValue"],
            "{id}"
        );
        let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
        assert_eq!(
            trust["Principal"]["Service"].as_str(),
            Some("ecs-tasks.amazonaws.com")
        );
        assert_eq!(
            trust["Condition"]["StringEquals"]["aws:SourceAccount"].as_str(),
            Some("AWS::AccountId"),
            "{id}: no confused deputy"
        );
        let mut out = vec![];
        for s in role["Policies"][0]["PolicyDocument"]["Statement"]
            .as_vec()
            .unwrap()
        {
            assert_eq!(s["Effect"].as_str(), Some("Allow"));
            let list = match &s["Action"] {
                Yaml::String(a) => vec![a.as_str()],
                other => strs(other),
            };
            let resource = match &s["Resource"] {
                Yaml::String(r) => r.clone(),
                Yaml::Array(v) if v[0].as_str().is_some() => format!("{:?}", strs(&s["Resource"])),
                other => format!("{:?}", other[0].as_str().unwrap_or("")),
            };
            for a in list {
                out.push((a.to_string(), resource.clone()));
            }
        }
        out
    };
    let start = actions("TaskExecutionRole");
    let names: Vec<&str> = start.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameters"
        ]
    );
    // "*" only where the action takes no resource.
    for (a, r) in &start {
        assert_eq!(r == "*", a == "ecr:GetAuthorizationToken", "{a} on {r}");
    }
    // The stack's parameters, and nothing else of SSM, become the tasks' secrets.
    let ssm = &start
        .iter()
        .find(|(a, _)| a == "ssm:GetParameters")
        .unwrap()
        .1;
    assert!(
        ssm.ends_with(":parameter/shipit/${AWS::StackName}/*"),
        "{ssm}"
    );
    let app = actions("TaskRole");
    for (a, r) in &app {
        assert!(r != "*", "{a} on every resource");
        assert!(
            !a.starts_with("iam:") && !a.starts_with("ecr:") && !a.ends_with(":*"),
            "{a}"
        );
    }
    let connect: Vec<&String> = app
        .iter()
        .filter(|(a, _)| a == "rds-db:connect")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(connect.len(), 1);
    assert!(
        connect[0].ends_with(":dbuser:${Database.DbiResourceId}/${DatabaseUser}"),
        "{}",
        connect[0]
    );
}
