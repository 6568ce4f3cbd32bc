//! The CloudFormation template as shipit needs to know it: its parameters (with defaults) and
//! its resources (type, deletion policy). The template is embedded in the binary; a path
//! overrides it. Intrinsic-function tags (`!Ref`, `!Sub`, ...) are read as plain values: shipit
//! never evaluates the template, CloudFormation does.

use std::collections::BTreeMap;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

/// The stack shipit deploys by default (stack/shipit.yaml).
pub const EMBEDDED: &str = include_str!("../../../stack/shipit.yaml");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub default: Option<String>,
    pub allowed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    /// `Delete` when the template says nothing, else `Retain`, `Snapshot` or
    /// `RetainExceptOnCreate` as written; anything else (a condition, a typo) is `Unreadable`,
    /// which `destroy` treats as kept: it fails closed.
    pub deletion_policy: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub body: String,
    pub parameters: Vec<Parameter>,
    pub resources: Vec<Resource>,
}

/// A resource's DeletionPolicy as `destroy` may rely on it (see [`Resource::deletion_policy`]).
fn deletion_policy(y: &Yaml) -> &'static str {
    const KNOWN: [&str; 4] = ["Delete", "Retain", "Snapshot", "RetainExceptOnCreate"];
    match y {
        Yaml::BadValue => "Delete",
        _ => y
            .as_str()
            .and_then(|p| KNOWN.iter().find(|k| **k == p).copied())
            .unwrap_or(UNREADABLE_POLICY),
    }
}

/// The DeletionPolicy of a resource whose policy is not a plain, known word.
pub const UNREADABLE_POLICY: &str = "Unreadable";

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Template {
    pub fn embedded() -> Template {
        Template::parse(EMBEDDED.to_string(), "the embedded template")
            .expect("the embedded template parses (tested)")
    }

    pub fn load(path: Option<&Path>) -> Result<Template> {
        match path {
            None => Ok(Template::embedded()),
            Some(p) => {
                let body = std::fs::read_to_string(p).map_err(|e| {
                    Error::config_hint(
                        format!("cannot read the template {}: {e}", p.display()),
                        "check --template (or [stack] template in shipit.toml)",
                    )
                })?;
                Template::parse(body, &p.display().to_string())
            }
        }
    }

    pub fn parse(body: String, origin: &str) -> Result<Template> {
        let docs = YamlLoader::load_from_str(&body)
            .map_err(|e| Error::config(format!("{origin} is not valid YAML: {e}")))?;
        let doc = docs
            .first()
            .ok_or_else(|| Error::config(format!("{origin} is empty")))?;
        let Some(resources) = doc["Resources"].as_hash() else {
            return Err(Error::config(format!("{origin} has no Resources section")));
        };
        let parameters = doc["Parameters"]
            .as_hash()
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| {
                        Some(Parameter {
                            name: k.as_str()?.to_string(),
                            default: scalar(&v["Default"]),
                            allowed: v["AllowedValues"]
                                .as_vec()
                                .map(|a| a.iter().filter_map(scalar).collect())
                                .unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let resources = resources
            .iter()
            .filter_map(|(k, v)| {
                Some(Resource {
                    logical_id: k.as_str()?.to_string(),
                    kind: v["Type"].as_str()?.to_string(),
                    deletion_policy: deletion_policy(&v["DeletionPolicy"]).to_string(),
                })
            })
            .collect();
        Ok(Template {
            body,
            parameters,
            resources,
        })
    }

    /// The parameter values a deploy sends: every parameter, explicit values over defaults.
    /// Unknown names and values outside AllowedValues are errors that list what is valid.
    pub fn resolve_parameters(
        &self,
        explicit: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        for (name, value) in explicit {
            let Some(p) = self.parameters.iter().find(|p| &p.name == name) else {
                let names: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::config_hint(
                    format!("the template has no parameter {name:?}"),
                    format!("valid parameters: {}", names.join(", ")),
                ));
            };
            if !p.allowed.is_empty() && !p.allowed.contains(value) {
                return Err(Error::config_hint(
                    format!("parameter {name} = {value:?} is not allowed"),
                    format!("allowed values: {}", p.allowed.join(", ")),
                ));
            }
        }
        let mut out = BTreeMap::new();
        for p in &self.parameters {
            match explicit.get(&p.name).or(p.default.as_ref()) {
                Some(v) => {
                    out.insert(p.name.clone(), v.clone());
                }
                None => {
                    return Err(Error::config_hint(
                        format!(
                            "the template's parameter {} has no default and no value",
                            p.name
                        ),
                        format!(
                            "pass --parameter {}=VALUE or set it under [stack.parameters]",
                            p.name
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// The body CloudFormation gets. An `AWS::ApiGateway::Deployment` is a snapshot of the API
    /// taken once, when it is created: CloudFormation never updates it, so a changed method
    /// would never reach the stage. Each deployment's logical id gets a suffix hashed from
    /// what the snapshot holds (the API's resources, methods, authorizers, gateway responses,
    /// models, validators, the API itself) and the parameter values: any change to them
    /// creates a new deployment, the stage moves to it, and CloudFormation deletes the old one.
    /// The same template and parameters give the same body, so an unchanged stack stays
    /// unchanged. Values CloudFormation resolves (an integration's function ARN) are not in
    /// the hash: the template names no function, so no template change replaces one. A
    /// private integration's VPC link and load balancer are another matter (a VPC link V2 is
    /// immutable: a change to it or to what it names replaces it, and a snapshot would keep
    /// the deleted one), so their definitions, and those of the resources they name directly
    /// (security groups, subnets), are in the hash too.
    pub fn with_api_snapshot(&self, parameters: &BTreeMap<String, String>) -> String {
        const SNAPSHOT: &[&str] = &[
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Resource",
            "AWS::ApiGateway::Method",
            "AWS::ApiGateway::Authorizer",
            "AWS::ApiGateway::GatewayResponse",
            "AWS::ApiGateway::Model",
            "AWS::ApiGateway::RequestValidator",
        ];
        // A private integration's targets: hashed with what they name directly.
        const LINKED: &[&str] = &[
            "AWS::ApiGatewayV2::VpcLink",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
        ];
        let deployments: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.kind == "AWS::ApiGateway::Deployment")
            .map(|r| r.logical_id.as_str())
            .collect();
        if deployments.is_empty() {
            return self.body.clone();
        }
        let doc = YamlLoader::load_from_str(&self.body)
            .ok()
            .and_then(|mut d| (!d.is_empty()).then(|| d.remove(0)))
            .unwrap_or(Yaml::Null);
        let mut hashed = md5::Context::new();
        let mut named = Vec::new();
        for r in self
            .resources
            .iter()
            .filter(|r| LINKED.contains(&r.kind.as_str()))
        {
            named.push(r.logical_id.as_str());
            strings(&doc["Resources"][r.logical_id.as_str()], &mut named);
        }
        for r in self.resources.iter().filter(|r| {
            SNAPSHOT.contains(&r.kind.as_str()) || named.contains(&r.logical_id.as_str())
        }) {
            hashed.consume(format!(
                "{}={:?}\n",
                r.logical_id,
                doc["Resources"][r.logical_id.as_str()]
            ));
        }
        for (k, v) in parameters
            .iter()
            .filter(|(k, _)| !crate::container::TASK_PARAMETERS.contains(&k.as_str()))
        {
            hashed.consume(format!("{k}={v}\n"));
        }
        let suffix = format!("{:x}", hashed.compute());
        let mut body = self.body.clone();
        for id in deployments {
            body = rename(&body, id, &format!("{id}{}", &suffix[..10]));
        }
        body
    }
}

/// Every string in `node` (what a `!Ref` or a list of ids reads as once tags are dropped).
fn strings<'a>(node: &'a Yaml, out: &mut Vec<&'a str>) {
    match node {
        Yaml::String(s) => out.push(s),
        Yaml::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Yaml::Hash(h) => h.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// `text` with every whole-word `from` (not inside a longer identifier) replaced by `to`.
fn rename(text: &str, from: &str, to: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) {
            from
        } else {
            to
        });
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// Parses `KEY=VALUE`.
pub fn parse_assignment(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::config_hint(
            format!("{s:?} is not KEY=VALUE"),
            "write --parameter EnableApi=false",
        )),
    }
}

/// Reads a parameters file in the AWS CLI's format: `[{"ParameterKey": .., "ParameterValue": ..}]`.
pub fn read_parameters_file(path: &Path) -> Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        parameter_key: String,
        parameter_value: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!(
            "cannot read the parameters file {}: {e}",
            path.display()
        ))
    })?;
    let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| {
        Error::config_hint(
            format!("invalid parameters file {}: {e}", path.display()),
            "expected [{\"ParameterKey\": \"Name\", \"ParameterValue\": \"value\"}, ...]",
        )
    })?;
    Ok(entries
        .into_iter()
        .map(|e| (e.parameter_key, e.parameter_value))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment_id(body: &str) -> String {
        let t = Template::parse(body.to_string(), "rendered").unwrap();
        let ids: Vec<&Resource> = t
            .resources
            .iter()
            .filter(|r| r.kind == "AWS::ApiGateway::Deployment")
            .collect();
        assert_eq!(ids.len(), 1);
        let id = ids[0].logical_id.clone();
        assert!(
            body.contains(&format!("DeploymentId: !Ref {id}\n")),
            "the stage follows the renamed deployment"
        );
        id
    }

    #[test]
    fn a_change_to_the_api_gives_a_new_deployment_and_nothing_else_does() {
        let t = Template::embedded();
        let params = t.resolve_parameters(&BTreeMap::new()).unwrap();
        let base = deployment_id(&t.with_api_snapshot(&params));
        assert!(base.starts_with("ApiDeployment") && base.len() == "ApiDeployment".len() + 10);
        assert_eq!(
            t.with_api_snapshot(&params),
            t.with_api_snapshot(&params),
            "the same input, the same body"
        );
        let edited = |from: &str, to: &str| {
            assert!(t.body.contains(from), "{from}");
            let t = Template::parse(t.body.replacen(from, to, 1), "edited").unwrap();
            deployment_id(&t.with_api_snapshot(&params))
        };
        // Tightening the public route, a new path, a new gateway answer: new snapshots.
        let health = "      HttpMethod: GET\n      AuthorizationType: NONE";
        let tightened = "      HttpMethod: GET\n      AuthorizationType: AWS_IAM";
        let table = [
            (health, tightened, true),
            ("PathPart: deep", "PathPart: deeper", true),
            (
                "ResponseType: DEFAULT_5XX",
                "ResponseType: DEFAULT_4XX",
                true,
            ),
            (
                "Name: !Sub \"${AWS::StackName}-api\"\n      EndpointConfiguration",
                "Name: api\n      EndpointConfiguration",
                true,
            ),
            // The site bucket, the function's memory, the stage's throttling: not in a snapshot.
            ("NoncurrentDays: 30", "NoncurrentDays: 31", false),
            ("MemorySize: 256", "MemorySize: 512", false),
            (
                "ThrottlingRateLimit: !Ref ApiThrottleRateLimit",
                "ThrottlingRateLimit: 5",
                false,
            ),
        ];
        for (from, to, changes) in table {
            assert_eq!(edited(from, to) != base, changes, "{from} -> {to}");
        }
        let mut other = params.clone();
        other.insert("DomainName".into(), "www.example.com".into());
        assert_ne!(deployment_id(&t.with_api_snapshot(&other)), base);
        // What reaches the tasks alone is no new snapshot; the backend itself is one.
        let mut image = params.clone();
        image.insert(
            "ContainerImage".into(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:00".into(),
        );
        image.insert("ContainerCount".into(), "4".into());
        assert_eq!(deployment_id(&t.with_api_snapshot(&image)), base);
        let mut backend = params.clone();
        backend.insert("ApiBackend".into(), "container".into());
        assert_ne!(deployment_id(&t.with_api_snapshot(&backend)), base);
        // The link's own security group replaced: the link is replaced, so is the snapshot.
        let moved = Template::parse(
            EMBEDDED.replacen(
                "GroupDescription: The VPC link of API Gateway, to the internal load balancer only",
                "GroupDescription: The VPC link of API Gateway",
                1,
            ),
            "t",
        )
        .unwrap();
        assert_ne!(deployment_id(&moved.with_api_snapshot(&params)), base);
    }

    #[test]
    fn renaming_touches_whole_words_only_and_a_template_without_an_api_is_left_alone() {
        let cases = [
            ("Ref: Dep\nDep:\n", "Ref: New\nNew:\n"),
            ("DepX Dep_ xDep Dep", "DepX Dep_ xDep New"),
            ("[Dep, Dep]", "[New, New]"),
            ("", ""),
        ];
        for (text, want) in cases {
            assert_eq!(rename(text, "Dep", "New"), want, "{text:?}");
        }
        let static_only = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n";
        let t = Template::parse(static_only.into(), "t").unwrap();
        assert_eq!(t.with_api_snapshot(&BTreeMap::new()), static_only);
    }

    #[test]
    fn embedded_template_parses_with_every_parameter_defaulted() {
        let t = Template::embedded();
        assert!(t.resources.len() > 50, "{}", t.resources.len());
        let resolved = t.resolve_parameters(&BTreeMap::new()).unwrap();
        assert_eq!(resolved.len(), t.parameters.len());
        assert_eq!(resolved["EnableApi"], "true");
        assert_eq!(resolved["ApiThrottleRateLimit"], "50");
        assert_eq!(t.resource("Table").unwrap().deletion_policy, "Retain");
        assert_eq!(t.resource("Database").unwrap().deletion_policy, "Snapshot");
        assert_eq!(t.resource("SiteBucket").unwrap().deletion_policy, "Delete");
    }

    #[test]
    fn a_deletion_policy_that_is_not_a_plain_word_is_unreadable_and_kept() {
        let table = [
            ("", "Delete"),
            ("DeletionPolicy: Retain", "Retain"),
            ("DeletionPolicy: Snapshot", "Snapshot"),
            (
                "DeletionPolicy: RetainExceptOnCreate",
                "RetainExceptOnCreate",
            ),
            (
                "DeletionPolicy: !If [Keep, Retain, Delete]",
                UNREADABLE_POLICY,
            ),
            (
                "DeletionPolicy: {\"Fn::If\": [Keep, Retain, Delete]}",
                UNREADABLE_POLICY,
            ),
            ("DeletionPolicy: retain", UNREADABLE_POLICY),
        ];
        for (line, want) in table {
            let body = format!("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    {line}\n");
            let t = Template::parse(body, "t").unwrap();
            assert_eq!(t.resource("B").unwrap().deletion_policy, want, "{line}");
        }
    }

    #[test]
    fn parameters_file_covers_every_parameter() {
        let t = Template::embedded();
        let file = read_parameters_file(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../stack/parameters.json"
        )))
        .unwrap();
        let mut names: Vec<&str> = t.parameters.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let listed: Vec<&str> = file.keys().map(String::as_str).collect();
        assert_eq!(listed, names);
        // Each listed value is the template's default: the file is a starting point.
        let defaults = t.resolve_parameters(&BTreeMap::new()).unwrap();
        assert_eq!(t.resolve_parameters(&file).unwrap(), defaults);
    }

    #[test]
    fn explicit_values_are_checked() {
        let t = Template::embedded();
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let r = t.resolve_parameters(&one("EnableApi", "false")).unwrap();
        assert_eq!(r["EnableApi"], "false");
        let err = t
            .resolve_parameters(&one("EnableAPI", "false"))
            .unwrap_err();
        assert!(err.to_string().contains("EnableAPI"), "{err}");
        assert!(err.hint().unwrap().contains("EnableApi"));
        let err = t.resolve_parameters(&one("EnableApi", "yes")).unwrap_err();
        assert!(
            err.hint().unwrap().contains("true, false"),
            "{:?}",
            err.hint()
        );
        assert_eq!(
            parse_assignment("A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert!(parse_assignment("novalue").is_err());
    }
}
