//! What moto and the scanners let through and AWS would not (issue 12): the template's
//! execution roles, network paths, API snapshot and CORS, data ownership, database access and
//! the smaller defaults. Each assertion reads stack/shipit.yaml as CloudFormation would run it.

use yaml_rust2::Yaml;

use crate::template::{resource, statements, template};

fn strs(y: &Yaml) -> Vec<&str> {
    match y {
        Yaml::String(s) => vec![s.as_str()],
        Yaml::Array(a) => a.iter().filter_map(Yaml::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The inline statements of a role's policies (conditional ones, `!If [C, S, NoValue]`, as S).
fn role_statements(t: &Yaml, role: &str) -> Vec<Yaml> {
    let mut out = Vec::new();
    for policy in resource(t, role)["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        for s in policy["PolicyDocument"]["Statement"].as_vec().unwrap() {
            match s {
                // `!If [Condition, Statement, !Ref AWS::NoValue]` reads as a list.
                Yaml::Array(a) => out.push(a[1].clone()),
                other => out.push(other.clone()),
            }
        }
    }
    out
}

/// Whether an Allow statement of the role grants `action` (exactly, or by a `service:*`).
fn allows(statements: &[Yaml], action: &str) -> Vec<Yaml> {
    let service = action.split(':').next().unwrap();
    statements
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .filter(|s| {
            strs(&s["Action"])
                .iter()
                .any(|a| *a == action || *a == format!("{service}:*") || *a == "*")
        })
        .cloned()
        .collect()
}

fn managed(t: &Yaml, role: &str) -> String {
    format!("{:?}", resource(t, role)["Properties"]["ManagedPolicyArns"])
}

#[test]
fn a_traced_function_in_the_vpc_has_what_lambda_checks_at_create_time() {
    let t = template();
    let f = &resource(&t, "ApiFunction")["Properties"];
    assert_eq!(f["TracingConfig"]["Mode"].as_str(), Some("Active"));
    let role = f["Role"].as_str().unwrap().trim_end_matches(".Arn");
    let st = role_statements(&t, role);
    for action in ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] {
        let granted = allows(&st, action);
        assert!(
            !granted.is_empty() || managed(&t, role).contains("AWSXRayDaemonWriteAccess"),
            "{role} cannot {action}: Lambda refuses active tracing"
        );
        for s in granted {
            assert_eq!(
                s["Resource"].as_str(),
                Some("*"),
                "{action} takes no resource"
            );
        }
    }
    // In the VPC whenever the data tier is: the ENI permissions come with the VPC policy.
    let arns = &resource(&t, role)["Properties"]["ManagedPolicyArns"][0];
    assert_eq!(arns[0].as_str(), Some("HasData"));
    assert!(arns[1]
        .as_str()
        .unwrap()
        .ends_with("AWSLambdaVPCAccessExecutionRole"));
    assert_eq!(f["VpcConfig"][0].as_str(), Some("HasData"));
}

#[test]
fn every_role_is_created_under_the_permissions_boundary() {
    let t = template();
    let roles: Vec<&str> = t["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::IAM::Role"))
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    // The function's role (API Gateway's logging role is `shipit bootstrap`'s, not the stack's).
    assert!(!roles.is_empty(), "{roles:?}");
    for role in roles {
        let b = &resource(&t, role)["Properties"]["PermissionsBoundary"];
        assert_eq!(
            strs(b),
            ["HasBoundary", "PermissionsBoundaryArn", "AWS::NoValue"],
            "{role}"
        );
    }
}

#[test]
fn the_private_function_reaches_every_service_it_calls_without_a_nat() {
    let t = template();
    let f = &resource(&t, "ApiFunction")["Properties"];
    let env = &f["Environment"]["Variables"];
    // The Redis token is read from Secrets Manager: an interface endpoint in the function's
    // subnets, private DNS, reachable on 443 from the function's security group only.
    assert!(!env["REDIS_SECRET_ARN"].is_badvalue());
    let e = &resource(&t, "SecretsManagerEndpoint");
    assert_eq!(
        e["Condition"].as_str(),
        Some("HasData"),
        "whenever the VPC is"
    );
    let p = &e["Properties"];
    assert_eq!(p["VpcEndpointType"].as_str(), Some("Interface"));
    assert!(p["ServiceName"]
        .as_str()
        .unwrap()
        .ends_with(".secretsmanager"));
    assert_eq!(p["PrivateDnsEnabled"].as_bool(), Some(true));
    let function_subnets = strs(&f["VpcConfig"][1]["SubnetIds"]);
    for subnet in strs(&p["SubnetIds"][2]) {
        assert!(function_subnets.contains(&subnet), "{subnet}");
    }
    assert_eq!(strs(&p["SecurityGroupIds"]), ["EndpointSecurityGroup"]);
    let ingress = &resource(&t, "EndpointFromLambda")["Properties"];
    assert_eq!(ingress["GroupId"].as_str(), Some("EndpointSecurityGroup"));
    assert_eq!(
        ingress["SourceSecurityGroupId"].as_str(),
        Some("LambdaSecurityGroup")
    );
    assert_eq!(ingress["FromPort"].as_i64(), Some(443));
    // S3 and DynamoDB through gateway endpoints; nothing else without the NAT gateway.
    for (id, service) in [("S3Endpoint", ".s3"), ("DynamoDbEndpoint", ".dynamodb")] {
        let p = &resource(&t, id)["Properties"];
        assert!(p["ServiceName"].as_str().unwrap().ends_with(service));
        assert_eq!(strs(&p["RouteTableIds"]), ["PrivateRouteTable"]);
    }
    let reachable = [
        "TABLE_NAME",
        "OWNER_INDEX",
        "APP_BUCKET",
        "DB_HOST",
        "DB_PORT",
        "DB_USER",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_SECRET_ARN",
        "ALLOWED_ORIGINS",
    ];
    for (k, _) in env.as_hash().unwrap() {
        let k = k.as_str().unwrap();
        assert!(reachable.contains(&k), "{k}: which endpoint does it need?");
    }
}

#[test]
fn anonymous_health_checks_cannot_take_the_functions_concurrency() {
    let t = template();
    // Nothing reserved by default: Lambda refuses a reservation that leaves an account fewer
    // than 100 unreserved executions, and a new account's quota may be 10. A reservation is a
    // parameter, and shipit's preflight keeps the health budget below half of it
    // (core::preflight).
    let reserved = &resource(&t, "ApiFunction")["Properties"]["ReservedConcurrentExecutions"];
    // (tags are dropped: `!If [C, !Ref A, !Ref B]` reads [C, A, B])
    let branches: Vec<_> = reserved
        .as_vec()
        .expect("reserved only when asked")
        .iter()
        .map(|b| b.as_str())
        .collect();
    assert_eq!(
        branches,
        [
            Some("HasReservedConcurrency"),
            Some("ApiReservedConcurrency"),
            Some("AWS::NoValue")
        ]
    );
    assert_eq!(
        t["Parameters"]["ApiReservedConcurrency"]["Default"].as_i64(),
        Some(0)
    );
    let settings = resource(&t, "ApiStage")["Properties"]["MethodSettings"]
        .as_vec()
        .unwrap();
    let health = settings
        .iter()
        .find(|m| m["ResourcePath"].as_str() == Some("/~1health"))
        .expect("GET /health has its own throttle");
    // API Gateway reads a method setting's path with every "/" after the first as "~1".
    for m in settings {
        let path = m["ResourcePath"].as_str().unwrap();
        assert!(
            path == "/*" || !path[1..].contains('/'),
            "{path}: write it /~1a~1b"
        );
    }
    assert_eq!(health["HttpMethod"].as_str(), Some("GET"));
    let rate = &t["Parameters"]["HealthThrottleRateLimit"]["Default"];
    assert_eq!(
        health["ThrottlingRateLimit"].as_str(),
        Some("HealthThrottleRateLimit")
    );
    assert_eq!(
        health["ThrottlingBurstLimit"].as_str(),
        Some("HealthThrottleRateLimit")
    );
    assert!(rate.as_i64().unwrap() <= 10, "{rate:?}");
    // The deep check is behind the authorizer.
    let deep = &resource(&t, "HealthDeepGet")["Properties"];
    assert_eq!(
        deep["AuthorizationType"].as_str(),
        Some("COGNITO_USER_POOLS")
    );
    assert_eq!(
        resource(&t, "HealthDeepResource")["Properties"]["ParentId"].as_str(),
        Some("HealthResource")
    );
}

#[test]
fn the_stage_follows_every_change_to_the_api() {
    let t = template();
    let d = resource(&t, "ApiDeployment");
    let depends = strs(&d["DependsOn"]);
    // Every method and gateway response is in the snapshot before it is taken.
    for (id, r) in t["Resources"].as_hash().unwrap() {
        let kind = r["Type"].as_str().unwrap();
        if kind == "AWS::ApiGateway::Method" || kind == "AWS::ApiGateway::GatewayResponse" {
            assert!(
                depends.contains(&id.as_str().unwrap()),
                "{id:?} after the snapshot"
            );
        }
    }
    assert_eq!(
        resource(&t, "ApiStage")["Properties"]["DeploymentId"].as_str(),
        Some("ApiDeployment")
    );
    // shipit renames the deployment by what it holds (unit-tested in core::template).
}

/// `!If [HasDomain, A, B]` as CloudFormation resolves it: tags are dropped, so a list of three.
fn if_domain(y: &Yaml, domain: bool) -> &Yaml {
    let a = y.as_vec().expect("an !If");
    assert_eq!(a[0].as_str(), Some("HasDomain"), "{y:?}");
    &a[if domain { 1 } else { 2 }]
}

/// `!Sub` text with the stack's values put in (the distribution and the custom domain).
fn sub(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text
        .replace("${Distribution.DomainName}", "d1.cloudfront.net")
        .replace("${DomainName}", "www.example.com");
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    assert!(!out.contains("${"), "unresolved: {out}");
    out
}

/// What the preflight's mapping template answers a request from `origin` (shipit's local API
/// Gateway runs the same template).
fn preflight_allows(template: &str, origin: &str) -> Option<String> {
    let path = std::collections::BTreeMap::new();
    let headers = vec![("origin".to_string(), origin.to_string())];
    let r = local_cloud::model::vtl::render(
        template,
        &local_cloud::model::vtl::Params {
            path: &path,
            query: &[],
            headers: &headers,
        },
    )
    .unwrap();
    r.headers
        .into_iter()
        .find(|(h, _)| h == "Access-Control-Allow-Origin")
        .map(|(_, v)| v)
}

#[test]
fn the_api_allows_the_sites_own_origins_and_no_other() {
    let t = template();
    let function =
        &resource(&t, "ApiFunction")["Properties"]["Environment"]["Variables"]["ALLOWED_ORIGINS"];
    let mut resources_with_a_method = std::collections::BTreeSet::new();
    let mut preflighted = std::collections::BTreeSet::new();
    for domain in [false, true] {
        let site: Vec<&str> = if domain {
            vec!["https://www.example.com", "https://d1.cloudfront.net"]
        } else {
            vec!["https://d1.cloudfront.net"]
        };
        let listed = sub(if_domain(function, domain).as_str().unwrap(), &[]);
        assert_eq!(
            listed.split(',').collect::<Vec<_>>(),
            site,
            "domain: {domain}"
        );
        for (id, r) in t["Resources"].as_hash().unwrap() {
            let p = &r["Properties"];
            if r["Type"].as_str() != Some("AWS::ApiGateway::Method") {
                continue;
            }
            let on = p["ResourceId"].as_str().unwrap();
            if p["HttpMethod"].as_str() != Some("OPTIONS") {
                // /health is for monitors, not pages: no preflight.
                if on != "HealthResource" {
                    resources_with_a_method.insert(on);
                }
                continue;
            }
            preflighted.insert(on);
            let response = &p["Integration"]["IntegrationResponses"][0];
            assert!(
                response["ResponseParameters"]
                    ["method.response.header.Access-Control-Allow-Origin"]
                    .is_badvalue(),
                "{id:?}: a fixed origin for every preflight"
            );
            // !Sub [text, {OrDomain: !If [HasDomain, !Sub '...', ""]}]
            let vtl = &response["ResponseTemplates"]["application/json"];
            let or_domain = sub(
                if_domain(&vtl[1]["OrDomain"], domain).as_str().unwrap(),
                &[],
            );
            let text = sub(vtl[0].as_str().unwrap(), &[("OrDomain", &or_domain)]);
            for origin in &site {
                assert_eq!(
                    preflight_allows(&text, origin).as_deref(),
                    Some(*origin),
                    "{id:?}"
                );
            }
            for other in [
                "https://evil.example",
                "https://d1.cloudfront.net.evil.example",
                "http://d1.cloudfront.net",
                "",
            ] {
                let other_domain = if domain {
                    ""
                } else {
                    "https://www.example.com"
                };
                for o in [other, other_domain] {
                    assert_eq!(preflight_allows(&text, o), None, "{id:?} from {o:?}");
                }
            }
        }
    }
    assert_eq!(
        preflighted, resources_with_a_method,
        "a route a page calls has no preflight"
    );
    // API Gateway's own answers can name one origin: the site's canonical one (SiteUrl).
    let site_url = &t["Outputs"]["SiteUrl"]["Value"];
    for id in ["Api4xxCors", "Api5xxCors"] {
        let p = &resource(&t, id)["Properties"]["ResponseParameters"];
        let named = &p["gatewayresponse.header.Access-Control-Allow-Origin"];
        for domain in [false, true] {
            assert_eq!(
                sub(if_domain(named, domain).as_str().unwrap(), &[]).replace('\'', ""),
                sub(if_domain(site_url, domain).as_str().unwrap(), &[]),
                "{id}"
            );
        }
    }
    // The built-in example allows the request's origin when it is in the list.
    let code = resource(&t, "ApiFunction")["Properties"]["Code"][2]["ZipFile"]
        .as_str()
        .unwrap();
    assert!(code.contains("ALLOWED_ORIGINS") && code.contains("Access-Control-Allow-Origin"));
}

#[test]
fn users_are_made_by_an_admin_and_items_are_read_by_owner() {
    let t = template();
    let pool = &resource(&t, "UserPool")["Properties"];
    let only_admin = &pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"];
    assert_eq!(only_admin[0].as_str(), Some("SelfSignUp"));
    assert_eq!(
        only_admin[2].as_bool(),
        Some(true),
        "admin-only unless asked"
    );
    assert_eq!(
        t["Parameters"]["AllowSelfSignUp"]["Default"].as_str(),
        Some("false")
    );
    let st = role_statements(&t, "ApiFunctionRole");
    assert!(
        allows(&st, "dynamodb:Scan").is_empty(),
        "a user could read every item"
    );
    let query = allows(&st, "dynamodb:Query");
    assert_eq!(query.len(), 1);
    assert!(query[0]["Resource"]
        .as_str()
        .unwrap()
        .ends_with("/index/owner-index"));
    let gsi = &resource(&t, "Table")["Properties"]["GlobalSecondaryIndexes"][0];
    assert_eq!(gsi["IndexName"].as_str(), Some("owner-index"));
    assert_eq!(gsi["KeySchema"][0]["AttributeName"].as_str(), Some("owner"));
}

#[test]
fn the_function_connects_as_its_own_database_user_and_never_reads_the_master_secret() {
    let t = template();
    let st = role_statements(&t, "ApiFunctionRole");
    let text = format!("{st:?}");
    assert!(!text.contains("MasterUserSecret"), "{text}");
    let env = format!(
        "{:?}",
        resource(&t, "ApiFunction")["Properties"]["Environment"]
    );
    assert!(!env.contains("MasterUserSecret"), "{env}");
    let connect = allows(&st, "rds-db:connect");
    assert_eq!(connect.len(), 1);
    let arn = connect[0]["Resource"].as_str().unwrap();
    assert!(
        arn.ends_with(":dbuser:${Database.DbiResourceId}/${DatabaseUser}"),
        "{arn}: this instance, the application user"
    );
    let master = resource(&t, "Database")["Properties"]["MasterUsername"].as_str();
    assert_ne!(t["Parameters"]["DatabaseUser"]["Default"].as_str(), master);
}

#[test]
fn smaller_defaults_hold() {
    let t = template();
    // shipit's state is denied under any prefix.
    let deny = statements(resource(&t, "SiteBucketPolicy"))
        .iter()
        .find(|s| s["Sid"].as_str() == Some("DenyCloudFrontShipitState"))
        .unwrap()
        .clone();
    let denied = strs(&deny["Resource"]);
    assert!(
        denied.contains(&"${SiteBucket.Arn}/.shipit/*"),
        "{denied:?}"
    );
    assert!(
        denied.contains(&"${SiteBucket.Arn}/*.shipit/*"),
        "{denied:?}"
    );
    // The CSP names the API's origin, not every https host.
    let csp = t["Parameters"]["ContentSecurityPolicy"]["Default"]
        .as_str()
        .unwrap();
    assert!(!csp.contains("https:"), "{csp}");
    let headers = &resource(&t, "SecurityHeadersPolicy")["Properties"]
        ["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let csp_value = format!("{:?}", headers["ContentSecurityPolicy"]);
    assert!(
        csp_value.contains("connect-src 'self'${ApiOrigin}${SignIn}"),
        "{csp_value}"
    );
    assert!(csp_value.contains(".execute-api."), "{csp_value}");
    // The site's sign-in form calls the user pool's API, and only that.
    assert!(
        csp_value.contains("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}"),
        "{csp_value}"
    );
    // HSTS preload and includeSubDomains only when asked.
    let hsts = &headers["StrictTransportSecurity"];
    for k in ["Preload", "IncludeSubdomains"] {
        assert_eq!(hsts[k][0].as_str(), Some("HasHstsPreload"), "{k}");
        assert_eq!(hsts[k][2].as_bool(), Some(false), "{k}");
    }
    assert_eq!(
        t["Parameters"]["HstsPreload"]["Default"].as_str(),
        Some("false")
    );
    // A custom API domain is the only way in.
    let disable = &resource(&t, "Api")["Properties"]["DisableExecuteApiEndpoint"];
    assert_eq!(disable[0].as_str(), Some("HasApiDomain"));
    assert_eq!(disable[1].as_bool(), Some(true));
    // Gateway endpoints serve this account's resources only (and, for a container backend,
    // ECR's layer bucket: `template_container` checks that statement).
    for id in ["S3Endpoint", "DynamoDbEndpoint", "SecretsManagerEndpoint"] {
        let st = statements(resource(&t, id));
        let layers = usize::from(id == "S3Endpoint");
        assert_eq!(st.len(), 1 + layers, "{id}");
        assert_eq!(
            st[0]["Condition"]["StringEquals"]["aws:ResourceAccount"].as_str(),
            Some("AWS::AccountId"),
            "{id}"
        );
    }
    // The access log says who called.
    let format = resource(&t, "ApiStage")["Properties"]["AccessLogSetting"]["Format"]
        .as_str()
        .unwrap();
    assert!(
        format.contains("$context.authorizer.claims.sub"),
        "{format}"
    );
}
