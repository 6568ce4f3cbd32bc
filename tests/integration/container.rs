//! The container backend with the real binary on the local cloud, judged through ECS's,
//! API Gateway's and CloudFormation's APIs: a function stack switched to containers (the
//! switch planned and shown first), a first image, an unchanged redeploy that registers
//! nothing, a new image rolled out as a new revision with no new API snapshot, and an image
//! that is not pinned refused before anything changes.

use serde_json::Value;

use crate::support::{
    assert_exit, assert_success, cloud_endpoint, http, stack_state, stderr, World,
};

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api";

fn image(byte: &str) -> String {
    format!("{REPO}@sha256:{}", byte.repeat(32))
}

/// One JSON call to the local cloud's ECS.
fn ecs(action: &str, body: &str) -> Value {
    let auth = shipit_engine::http::local_cloud_authorization("ecs", "us-east-1");
    let target = format!("AmazonEC2ContainerServiceV20141113.{action}");
    let (status, _, text) = http(
        "POST",
        &format!("{}/", cloud_endpoint()),
        &[
            ("authorization", auth.as_str()),
            ("x-amz-target", target.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body,
    );
    assert_eq!(status, 200, "{action}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The stack's service: (task definition ARN, its image, launch type).
fn service(stack: &str) -> (String, String, String) {
    let out = stack_state(stack).unwrap().outputs;
    let body = format!(
        r#"{{"cluster": "{}", "services": ["{}"]}}"#,
        out["ClusterName"], out["ServiceName"]
    );
    let s = &ecs("DescribeServices", &body)["services"][0];
    let task = s["taskDefinition"].as_str().unwrap().to_string();
    let def = ecs(
        "DescribeTaskDefinition",
        &format!(r#"{{"taskDefinition": "{task}"}}"#),
    );
    let image = def["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    (task, image, s["launchType"].as_str().unwrap().to_string())
}

fn revisions(stack: &str) -> Vec<String> {
    let body = format!(r#"{{"familyPrefix": "{stack}-api"}}"#);
    ecs("ListTaskDefinitions", &body)["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().rsplit(':').next().unwrap().to_string())
        .collect()
}

/// How many deployments (API snapshots) the stack's REST API has.
fn api_snapshots(stack: &str) -> usize {
    let api = &stack_state(stack).unwrap().outputs["ApiId"];
    let auth = shipit_engine::http::local_cloud_authorization("apigateway", "us-east-1");
    let (status, _, text) = http(
        "GET",
        &format!("{}/restapis/{api}/deployments", cloud_endpoint()),
        &[("authorization", auth.as_str())],
        "",
    );
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["item"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_function_stack_switches_to_containers_and_ships_images_by_digest() {
    let w = World::new("container");
    let name = w.stack_name();
    let _guard = w.guard_stack(&name);
    w.write("index.html", "<!doctype html><title>app</title>");
    assert_success(&w.run_stack("deploy", &name, &[]));
    assert!(stack_state(&name)
        .unwrap()
        .outputs
        .contains_key("ApiFunctionName"));

    // The switch is planned and shown: the function goes, the tasks come, no data moves.
    let config = w.write_config("[api]\nbackend = \"container\"\n");
    let first = image("ab");
    let plan = w.run_stack(
        "plan",
        &name,
        &["--config", &config, "--image", &first, "--json"],
    );
    assert_success(&plan);
    let v: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let changes = v["stack"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let action = |id: &str| {
        changes
            .iter()
            .find(|c| c["logical_id"] == id)
            .map(|c| c["action"].as_str().unwrap().to_string())
    };
    assert_eq!(
        action("ApiFunction").as_deref(),
        Some("Remove"),
        "{changes:#?}"
    );
    assert_eq!(action("Service").as_deref(), Some("Add"));
    assert_eq!(action("VpcLink").as_deref(), Some("Add"));
    for data in ["Table", "Database", "AppDataBucket", "UserPool", "Cache"] {
        assert_eq!(action(data), None, "{data} must not change");
    }
    let container_cost: f64 = v["preflight"]["monthly_cost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["tier"] == "container")
        .map(|l| l["high"].as_f64().unwrap())
        .sum();
    assert!((60.0..80.0).contains(&container_cost), "{container_cost}");
    assert!(
        stack_state(&name)
            .unwrap()
            .outputs
            .contains_key("ApiFunctionName"),
        "plan changed nothing"
    );

    let deploy = |extra: &[&str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(extra);
        w.run_stack("deploy", &name, &args)
    };
    assert_success(&deploy(&["--image", &first]));
    let state = stack_state(&name).unwrap();
    assert!(!state.outputs.contains_key("ApiFunctionName"));
    let (task, running, launch) = service(&name);
    assert_eq!(
        (running.as_str(), launch.as_str()),
        (first.as_str(), "FARGATE")
    );
    assert_eq!(revisions(&name), ["1"]);
    let snapshots = api_snapshots(&name);

    // Unchanged: no change set, no revision. Without --image, the stack keeps its image.
    for extra in [&["--image", first.as_str()][..], &[]] {
        let out = deploy(extra);
        assert_success(&out);
        assert!(stderr(&out).contains("no change set"), "{}", stderr(&out));
        assert_eq!(service(&name).0, task);
        assert_eq!(revisions(&name), ["1"]);
    }

    // A new image: a new revision the service runs, the old one deregistered, and the API's
    // snapshot untouched (an image reaches the tasks alone).
    let second = image("cd");
    assert_success(&deploy(&["--image", &second]));
    let (task2, running, _) = service(&name);
    assert_ne!(task2, task);
    assert_eq!(running, second);
    assert_eq!(revisions(&name), ["2"]);
    assert_eq!(api_snapshots(&name), snapshots);

    // A configuration that names no backend ships an image to the stack's own backend.
    let plain = w.write_config("");
    let third = image("ef");
    assert_success(&w.run_stack("deploy", &name, &["--config", &plain, "--image", &third]));
    assert_eq!(service(&name).1, third);
    assert_eq!(revisions(&name), ["3"]);
    let second = third;

    // A tag is refused before any request: nothing changes.
    let out = deploy(&["--image", &format!("{REPO}:latest")]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("pinned by digest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(service(&name).1, second);
    assert_eq!(
        stack_state(&name).unwrap().parameters["ContainerImage"],
        second
    );
}
