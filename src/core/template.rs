//! The CloudFormation template as shipit needs to know it: its parameters (with defaults) and
//! its resources (type, deletion policy). The template is embedded in the binary; a path
//! overrides it. Intrinsic-function tags (`!Ref`, `!Sub`, ...) are read as plain values: shipit
//! never evaluates the template, CloudFormation does.

use std::collections::BTreeMap;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};

/// The stack shipit deploys by default (stack/shipit.yaml).
pub const EMBEDDED: &str = include_str!("../../stack/shipit.yaml");

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
    /// `Delete` unless the template says `Retain`, `Snapshot` or `RetainExceptOnCreate`.
    pub deletion_policy: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub body: String,
    pub parameters: Vec<Parameter>,
    pub resources: Vec<Resource>,
}

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
                    deletion_policy: v["DeletionPolicy"].as_str().unwrap_or("Delete").to_string(),
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
    fn parameters_file_covers_every_parameter() {
        let t = Template::embedded();
        let file = read_parameters_file(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/stack/parameters.json"
        )))
        .unwrap();
        let mut names: Vec<&str> = t.parameters.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let listed: Vec<&str> = file.keys().map(String::as_str).collect();
        assert_eq!(listed, names);
        t.resolve_parameters(&file).unwrap();
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
