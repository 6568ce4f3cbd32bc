//! Tables for API Gateway's decisions: routing, the proxy event and response, Cognito claims,
//! the throttle, and reading the API's description.

use super::*;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:s-ApiFunction-X";
const POOL: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc";

/// The preflight's mapping template: the site's origin only.
const PREFLIGHT: &str = "#set($o = $input.params().header.get(\"origin\"))\n#if($o == \"https://site.example\")\n#set($context.responseOverride.header.Access-Control-Allow-Origin = $o)\n#end";

/// The API as the local cloud describes the template's: /health, /health/deep, /{proxy+}.
fn api() -> Api {
    let uri = format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"
    );
    let proxy = json!({"type": "AWS_PROXY", "uri": uri});
    let cors = json!({"type": "MOCK", "integrationResponses": {"204": {"responseParameters": {
        "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'"},
        "responseTemplates": {"application/json": PREFLIGHT}}}});
    let resources = json!({"item": [
        {"id": "r", "path": "/"},
        {"id": "h", "path": "/health", "resourceMethods": {
            "GET": {"authorizationType": "NONE", "methodIntegration": proxy}}},
        {"id": "d", "path": "/health/deep", "resourceMethods": {
            "GET": {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": "a1",
                    "methodIntegration": {"type": "AWS_PROXY", "uri": uri, "timeoutInMillis": 1500}},
            "OPTIONS": {"authorizationType": "NONE", "methodIntegration": cors}}},
        {"id": "p", "path": "/{proxy+}", "resourceMethods": {
            "ANY": {"authorizationType": "COGNITO_USER_POOLS", "methodIntegration": proxy},
            "OPTIONS": {"authorizationType": "NONE", "methodIntegration": cors}}},
        {"id": "i", "path": "/items/{id}", "resourceMethods": {
            "DELETE": {"authorizationType": "AWS_IAM", "methodIntegration": proxy}}},
        {"id": "ir", "path": "/items/{rest+}", "resourceMethods": {
            "GET": {"authorizationType": "NONE", "methodIntegration": proxy}}},
        {"id": "x", "path": "/{x}/a/b", "resourceMethods": {
            "GET": {"authorizationType": "NONE", "methodIntegration": proxy}}},
    ]});
    let authorizers = json!({"item": [{"id": "a1", "type": "COGNITO_USER_POOLS",
        "providerARNs": [POOL], "identitySource": "method.request.header.Authorization"}]});
    let gateway = json!({"item": [{"responseType": "DEFAULT_4XX", "responseParameters": {
        "gatewayresponse.header.Access-Control-Allow-Origin": "'https://site.example'"}}]});
    let stage = json!({"stageName": "live", "methodSettings": {
        "*/*": {"throttlingRateLimit": 50.0, "throttlingBurstLimit": 100},
        "~1health/GET": {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 10}}});
    Api::from_description("abc123", &resources, &authorizers, &gateway, &stage).unwrap()
}

#[test]
fn requests_reach_the_method_api_gateway_picks() {
    let a = api();
    // (verb, path, resource, path parameters); None: 403 Missing Authentication Token.
    type Reached = Option<(&'static str, &'static [(&'static str, &'static str)])>;
    let table: &[(&str, &str, Reached)] = &[
        ("GET", "/health", Some(("/health", &[]))),
        ("GET", "/health/", Some(("/health", &[]))),
        ("GET", "/health/deep", Some(("/health/deep", &[]))),
        ("OPTIONS", "/health/deep", Some(("/health/deep", &[]))),
        // /health has GET only; there is no ANY there to fall back on.
        ("POST", "/health", None),
        ("GET", "/items", Some(("/{proxy+}", &[("proxy", "items")]))),
        (
            "GET",
            "/items/42/x",
            Some(("/items/{rest+}", &[("rest", "42/x")])),
        ),
        // A parameter beats the greedy proxy; the verb must be there (no ANY on /items/{id}).
        (
            "DELETE",
            "/items/42",
            Some(("/items/{id}", &[("id", "42")])),
        ),
        ("GET", "/items/42", None),
        // The root has no method.
        ("GET", "/", None),
        // The first part decides: a literal /items beats a {param} there, however long.
        (
            "GET",
            "/items/a/b",
            Some(("/items/{rest+}", &[("rest", "a/b")])),
        ),
        ("GET", "/other/a/b", Some(("/{x}/a/b", &[("x", "other")]))),
    ];
    for (verb, path, want) in table {
        let got = a.route(verb, path).map(|(m, p)| (m.resource.clone(), p));
        let want = want.map(|(r, p)| {
            (
                r.to_string(),
                p.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            )
        });
        assert_eq!(got, want, "{verb} {path}");
    }
}

#[test]
fn the_description_gives_auth_integrations_cors_and_throttles() {
    let a = api();
    let deep = &a.methods["/health/deep"]["GET"];
    assert_eq!(
        deep.auth,
        Auth::Cognito {
            header: "authorization".into(),
            pools: vec![POOL.into()]
        }
    );
    assert_eq!(
        deep.integration,
        Integration::LambdaProxy {
            function: FUNCTION.into(),
            timeout_ms: 1500
        }
    );
    // Without an authorizerId, the API's one Cognito authorizer.
    assert!(matches!(
        a.methods["/{proxy+}"]["ANY"].auth,
        Auth::Cognito { .. }
    ));
    assert_eq!(
        a.methods["/health"]["GET"].integration,
        Integration::LambdaProxy {
            function: FUNCTION.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS
        }
    );
    assert!(
        matches!(&a.methods["/items/{id}"]["DELETE"].auth, Auth::Unsupported(w) if w.contains("AWS_IAM"))
    );
    assert_eq!(
        a.methods["/{proxy+}"]["OPTIONS"].integration,
        Integration::Mock {
            status: 204,
            headers: vec![("Access-Control-Allow-Methods".into(), "GET,OPTIONS".into())],
            template: Some(PREFLIGHT.into()),
        }
    );
    // The template answers the site's origin, and no other.
    let Integration::Mock {
        status,
        headers,
        template,
    } = &a.methods["/{proxy+}"]["OPTIONS"].integration
    else {
        unreachable!()
    };
    for (origin, allowed) in [
        ("https://site.example", true),
        ("https://evil.example", false),
    ] {
        let req = Request {
            verb: "OPTIONS".into(),
            path: "/items".into(),
            query: String::new(),
            headers: vec![("origin".into(), origin.into())],
            body: Vec::new(),
            source_ip: "127.0.0.1".into(),
            request_id: "r".into(),
            time_ms: 0,
        };
        let answer = mock_answer(
            *status,
            headers,
            template.as_deref(),
            &BTreeMap::new(),
            &req,
        )
        .unwrap();
        assert_eq!(answer.status, 204);
        assert_eq!(
            answer
                .headers
                .contains(&("Access-Control-Allow-Origin".into(), origin.into())),
            allowed,
            "{origin}: {answer:?}"
        );
    }
    let e = a.gateway_answer(401, "Unauthorized");
    assert_eq!(e.status, 401);
    assert!(e.headers.contains(&(
        "Access-Control-Allow-Origin".into(),
        "https://site.example".into()
    )));
    assert_eq!(e.body, br#"{"message":"Unauthorized"}"#);
    // The stage's throttles: /health's own, the rest the stage's.
    let health = a.throttle_for(&a.methods["/health"]["GET"]).unwrap();
    assert_eq!(
        health.1,
        Throttle {
            rate: 10.0,
            burst: 10.0
        }
    );
    let items = a.throttle_for(&a.methods["/{proxy+}"]["ANY"]).unwrap();
    assert_eq!(
        items,
        (
            "*/*".into(),
            Throttle {
                rate: 50.0,
                burst: 100.0
            }
        )
    );
}

#[test]
fn the_proxy_event_is_api_gateways() {
    let a = api();
    // /items/{id} has DELETE only: a POST there is refused, not passed to {proxy+}.
    assert!(a.route("POST", "/items/7").is_none());
    let (m, params) = a.route("POST", "/things/7").unwrap();
    let req = Request {
        verb: "POST".into(),
        path: "/things/7".into(),
        query: "a=1&a=2&b=x%20y&flag".into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Multi".into(), "1".into()),
            ("X-Multi".into(), "2".into()),
        ],
        body: br#"{"name":"n"}"#.to_vec(),
        source_ip: "127.0.0.1".into(),
        request_id: "req-1".into(),
        time_ms: 1_000,
    };
    let claims: Map<String, Value> = json!({"sub": "u1", "exp": 99}).as_object().unwrap().clone();
    let e = proxy_event(&a, m, &params, &req, Some(&claims));
    assert_eq!(e["resource"], "/{proxy+}");
    assert_eq!(e["path"], "/things/7");
    assert_eq!(e["httpMethod"], "POST");
    assert_eq!(e["pathParameters"], json!({"proxy": "things/7"}));
    assert_eq!(
        e["queryStringParameters"],
        json!({"a": "2", "b": "x y", "flag": ""})
    );
    assert_eq!(e["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
    assert_eq!(e["headers"]["X-Multi"], "2");
    assert_eq!(e["multiValueHeaders"]["X-Multi"], json!(["1", "2"]));
    assert_eq!(e["body"], r#"{"name":"n"}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["requestContext"]["stage"], "live");
    assert_eq!(e["requestContext"]["path"], "/live/things/7");
    assert_eq!(
        e["requestContext"]["authorizer"]["claims"],
        json!({"sub": "u1", "exp": "99"})
    );
    // A binary body goes base64; no query, no headers, no claims: nulls, as API Gateway sends.
    let bin = Request {
        verb: "GET".into(),
        path: "/health".into(),
        body: vec![0xff, 0x00],
        ..Default::default()
    };
    let (m, params) = a.route("GET", "/health").unwrap();
    let e = proxy_event(&a, m, &params, &bin, None);
    assert_eq!(e["body"], "/wA=");
    assert_eq!(e["isBase64Encoded"], true);
    for k in [
        "queryStringParameters",
        "headers",
        "pathParameters",
        "stageVariables",
    ] {
        assert!(e[k].is_null(), "{k}");
    }
    assert!(e["requestContext"]["authorizer"].is_null());
}

#[test]
fn proxy_responses_are_read_or_refused_as_malformed() {
    let ok = |p: &str| proxy_response(p.as_bytes()).unwrap();
    let a =
        ok(r#"{"statusCode": 201, "headers": {"content-type": "application/json"}, "body": "{}"}"#);
    assert_eq!((a.status, a.body.as_slice()), (201, b"{}".as_slice()));
    let b = ok(r#"{"statusCode": "204", "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}}"#);
    assert_eq!(b.status, 204);
    assert_eq!(b.headers.len(), 2);
    let c = ok(r#"{"statusCode": 200, "body": "/wA=", "isBase64Encoded": true}"#);
    assert_eq!(c.body, vec![0xff, 0x00]);
    for bad in [
        "not json",
        "[]",
        r#"{"statusCode": 200, "extra": 1}"#,
        r#"{"statusCode": 9999}"#,
        r#"{"statusCode": 200, "body": {"an": "object"}}"#,
        r#"{"statusCode": 200, "headers": {"x": ["list"]}}"#,
        r#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#,
        // REST needs the status; 1xx is not an answer; headers must be HTTP's.
        r#"{"body": "no status"}"#,
        r#"{"statusCode": 101}"#,
        r#"{"statusCode": 200, "cookies": ["a=1"]}"#,
        r#"{"statusCode": 200, "headers": {"bad name": "x"}}"#,
        r#"{"statusCode": 200, "headers": {"x": "line\nbreak"}}"#,
    ] {
        assert!(proxy_response(bad.as_bytes()).is_err(), "{bad}");
    }
}

fn token(header: Value, claims: Value) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2ln", e(&header), e(&claims))
}

#[test]
fn cognito_claims_are_checked_as_the_authorizer_does() {
    let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";
    let rs = json!({"alg": "RS256", "kid": "k"});
    let good = json!({"iss": iss, "token_use": "id", "exp": 2000, "sub": "u"});
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    // (header, claims, accepted)
    let table = [
        (rs.clone(), good.clone(), true),
        (json!({"alg": "HS256"}), good.clone(), false),
        (json!({"alg": "none"}), good.clone(), false),
        (rs.clone(), with("token_use", json!("access")), false),
        (
            rs.clone(),
            with(
                "iss",
                json!("https://cognito-idp.us-east-1.amazonaws.com/other"),
            ),
            false,
        ),
        (rs.clone(), with("exp", json!(1000)), false),
        (rs.clone(), with("exp", json!("2000")), false),
    ];
    for (h, c, accepted) in table {
        let jwt = Jwt::parse(&token(h.clone(), c.clone())).unwrap();
        let got = check_cognito_claims(&jwt, &[POOL.to_string()], 1000);
        assert_eq!(got.is_ok(), accepted, "{h} {c}: {got:?}");
    }
    for bad in ["", "a.b", "a.b.c.d", "!!.e30.c2ln", "e30.bm90IGpzb24.c2ln"] {
        assert!(Jwt::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(issuer(POOL).as_deref(), Some(iss));
}

#[test]
fn the_throttle_is_a_token_bucket() {
    let t = Throttle {
        rate: 2.0,
        burst: 3.0,
    };
    let mut b = Bucket::full(t, 0);
    let taken: Vec<bool> = (0..4).map(|_| b.take(t, 0)).collect();
    assert_eq!(taken, [true, true, true, false], "the burst, then 429");
    assert!(b.take(t, 500), "half a second at 2/s gives one back");
    assert!(!b.take(t, 500));
    assert!(b.take(t, 10_000) && b.take(t, 10_000) && b.take(t, 10_000));
    assert!(!b.take(t, 10_000), "never more than the burst");
    let closed = Throttle {
        rate: 10.0,
        burst: 0.0,
    };
    let mut b = Bucket::full(closed, 0);
    assert!(
        !b.take(closed, 0) && !b.take(closed, 60_000),
        "burst 0: every request is 429"
    );
}
