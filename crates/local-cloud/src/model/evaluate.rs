//! Just enough of CloudFormation's evaluation to read what the template *means* without
//! deploying it: `shipit preview DIR` serves a build with the distribution's routing, error
//! pages, cache and headers policies as the template defines them, for the parameters given.
//!
//! The YAML is read with its short-form tags (`!Ref`, `!Sub`, `!If`, ...) turned into the long
//! form (`{"Ref": ..}`, `{"Fn::Sub": ..}`), then resolved: parameters and pseudo parameters,
//! `Fn::Sub`, `Fn::If` with the template's Conditions, `Fn::Join`, and `AWS::NoValue`. A
//! reference to a resource (`!Ref X`, `!GetAtt X.Attr`, `${X.Attr}`) resolves to its logical
//! id: what it points to is looked up in the template, not in an account.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use shipit_core::error::{Error, Result};

/// The YAML document as JSON, short-form tags turned into their long form.
pub fn load(body: &str) -> Result<Value> {
    let mut builder = Builder::default();
    Parser::new_from_str(body)
        .load(&mut builder, false)
        .map_err(|e| Error::config(format!("the template is not valid YAML: {e}")))?;
    builder
        .done
        .ok_or_else(|| Error::config("the template is empty"))
}

#[derive(Default)]
struct Builder {
    /// Open collections: a sequence, or a mapping with the key waiting for its value.
    stack: Vec<(Open, Option<Tag>)>,
    done: Option<Value>,
}

enum Open {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

impl Builder {
    fn push(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.done = Some(value),
            Some((Open::Seq(items), _)) => items.push(value),
            Some((Open::Map(map, key), _)) => match key.take() {
                None => *key = Some(value_as_key(&value)),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
}

fn value_as_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `!Ref x` -> `{"Ref": x}`, `!GetAtt a.b` -> `{"Fn::GetAtt": [a, b]}`, `!Sub ..` -> `{"Fn::Sub": ..}`.
fn tagged(tag: Option<Tag>, value: Value) -> Value {
    let Some(tag) = tag.filter(|t| t.handle == "!") else {
        return value;
    };
    let (name, value) = match (tag.suffix.as_str(), value) {
        ("Ref", v) => ("Ref".to_string(), v),
        ("Condition", v) => ("Condition".to_string(), v),
        ("GetAtt", Value::String(s)) => {
            let (id, attr) = s.split_once('.').unwrap_or((s.as_str(), ""));
            (
                "Fn::GetAtt".to_string(),
                Value::Array(vec![id.into(), attr.into()]),
            )
        }
        (other, v) => (format!("Fn::{other}"), v),
    };
    let mut m = Map::new();
    m.insert(name, value);
    Value::Object(m)
}

fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "true" | "True" => Value::Bool(true),
        "false" | "False" => Value::Bool(false),
        "~" | "null" => Value::Null,
        t => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        match ev {
            Event::Scalar(text, style, _, tag) => {
                let v = tagged(tag, scalar(text, style));
                self.push(v);
            }
            Event::SequenceStart(_, tag) => self.stack.push((Open::Seq(Vec::new()), tag)),
            Event::MappingStart(_, tag) => self.stack.push((Open::Map(Map::new(), None), tag)),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((open, tag)) = self.stack.pop() {
                    let v = match open {
                        Open::Seq(items) => Value::Array(items),
                        Open::Map(map, _) => Value::Object(map),
                    };
                    self.push(tagged(tag, v));
                }
            }
            _ => {}
        }
    }
}

/// A template with parameter values, ready to resolve resources' properties.
pub struct Evaluated {
    doc: Value,
    params: BTreeMap<String, String>,
    stack_name: String,
}

impl Evaluated {
    pub fn new(doc: Value, params: BTreeMap<String, String>, stack_name: &str) -> Evaluated {
        Evaluated {
            doc,
            params,
            stack_name: stack_name.to_string(),
        }
    }

    /// The logical ids of the resources of `kind` whose Condition holds.
    pub fn resources_of(&self, kind: &str) -> Vec<String> {
        let Some(resources) = self.doc["Resources"].as_object() else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .filter(|(_, r)| match r["Condition"].as_str() {
                Some(c) => self.condition(c),
                None => true,
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A resource's Properties with every intrinsic function resolved.
    pub fn properties(&self, logical_id: &str) -> Option<Value> {
        let props = self.doc["Resources"].get(logical_id)?.get("Properties")?;
        Some(self.resolve(props).unwrap_or(Value::Null))
    }

    fn condition(&self, name: &str) -> bool {
        let c = &self.doc["Conditions"][name];
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> bool {
        match v {
            Value::Bool(b) => *b,
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                let args = || arg.as_array().cloned().unwrap_or_default();
                match k.as_str() {
                    "Condition" => arg.as_str().is_some_and(|c| self.condition(c)),
                    "Fn::Equals" => {
                        let a = args();
                        a.len() == 2 && self.resolve(&a[0]) == self.resolve(&a[1])
                    }
                    "Fn::Not" => !args().first().is_some_and(|c| self.truth(c)),
                    "Fn::And" => args().iter().all(|c| self.truth(c)),
                    "Fn::Or" => args().iter().any(|c| self.truth(c)),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    fn reference(&self, name: &str) -> Option<Value> {
        let pseudo = match name {
            "AWS::NoValue" => return None,
            "AWS::StackName" => self.stack_name.as_str(),
            "AWS::Region" => "us-east-1",
            "AWS::AccountId" => "123456789012",
            "AWS::Partition" => "aws",
            "AWS::URLSuffix" => "amazonaws.com",
            _ => "",
        };
        if !pseudo.is_empty() {
            return Some(pseudo.into());
        }
        Some(match self.params.get(name) {
            Some(v) => Value::String(v.clone()),
            // A resource: its logical id stands for it.
            None => Value::String(name.to_string()),
        })
    }

    fn substitute(&self, text: &str, vars: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name).and_then(|v| self.resolve(v)) {
                out.push_str(&value_as_key(&v));
            } else {
                let base = name.split('.').next().unwrap_or(name);
                if let Some(v) = self.reference(base) {
                    out.push_str(&value_as_key(&v));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value with its functions applied; None for `AWS::NoValue`.
    pub fn resolve(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.resolve(i)).collect(),
            )),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().unwrap_or_default()),
                    "Fn::GetAtt" => Some(arg[0].clone()),
                    "Fn::Sub" => Some(Value::String(match arg {
                        Value::String(s) => self.substitute(s, &Map::new()),
                        Value::Array(a) => self.substitute(
                            a.first().and_then(Value::as_str).unwrap_or_default(),
                            a.get(1).and_then(Value::as_object).unwrap_or(&Map::new()),
                        ),
                        _ => String::new(),
                    })),
                    "Fn::If" => {
                        let a = arg.as_array()?;
                        let chosen = if a.first()?.as_str().is_some_and(|c| self.condition(c)) {
                            a.get(1)?
                        } else {
                            a.get(2)?
                        };
                        self.resolve(chosen)
                    }
                    "Fn::Join" => {
                        let a = arg.as_array()?;
                        let sep = a.first()?.as_str().unwrap_or_default();
                        let parts = self.resolve(a.get(1)?)?;
                        let parts: Vec<String> =
                            parts.as_array()?.iter().map(value_as_key).collect();
                        Some(Value::String(parts.join(sep)))
                    }
                    _ => Some(Value::Object(
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                            .collect(),
                    )),
                }
            }
            Value::Object(m) => Some(Value::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = r#"
Parameters:
  Spa: { Type: String, Default: "true" }
  Csp: { Type: String, Default: "" }
Conditions:
  HasCsp: !Not [!Equals [!Ref Csp, ""]]
  IsSpa: !And [!Equals [!Ref Spa, "true"], !Not [!Condition HasCsp]]
Resources:
  Fn:
    Type: AWS::CloudFront::Function
    Properties:
      Name: !Sub "${AWS::StackName}-routing"
      FunctionCode: !Sub |
        var SPA = "${Spa}" === "true"; var x = "${!kept}";
  Policy:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Condition: IsSpa
    Properties:
      Csp: !If
        - HasCsp
        - { Value: !Ref Csp }
        - !Ref AWS::NoValue
      Arn: !GetAtt Fn.FunctionMetadata.FunctionARN
      Ttl: 300
      Quoted: "300"
      List: [!Ref Fn, !Ref AWS::NoValue, !Join ["-", [a, !Ref Spa]]]
"#;

    fn eval(params: &[(&str, &str)]) -> Evaluated {
        let mut p = BTreeMap::new();
        p.insert("Spa".to_string(), "true".to_string());
        p.insert("Csp".to_string(), String::new());
        for (k, v) in params {
            p.insert(k.to_string(), v.to_string());
        }
        Evaluated::new(load(TEMPLATE).unwrap(), p, "demo")
    }

    #[test]
    fn short_form_tags_become_long_form() {
        let doc = load(TEMPLATE).unwrap();
        assert_eq!(
            doc["Conditions"]["HasCsp"],
            json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "Csp"}, ""]}]})
        );
        assert_eq!(
            doc["Resources"]["Policy"]["Properties"]["Arn"],
            json!({"Fn::GetAtt": ["Fn", "FunctionMetadata.FunctionARN"]})
        );
        assert_eq!(doc["Resources"]["Policy"]["Properties"]["Ttl"], json!(300));
        assert_eq!(
            doc["Resources"]["Policy"]["Properties"]["Quoted"],
            json!("300")
        );
    }

    #[test]
    fn resolves_parameters_conditions_and_no_value() {
        type Row<'a> = (&'a [(&'a str, &'a str)], Value, bool);
        let table: &[Row] = &[
            (&[], Value::Null, true),
            (
                &[("Csp", "default-src 'self'")],
                json!({"Value": "default-src 'self'"}),
                false,
            ),
        ];
        for (params, csp, spa_policy) in table {
            let e = eval(params);
            let ids = e.resources_of("AWS::CloudFront::ResponseHeadersPolicy");
            assert_eq!(ids.len() == 1, *spa_policy, "{params:?}");
            let p = e.properties("Policy").unwrap();
            assert_eq!(p["Csp"], *csp, "{params:?}");
            assert_eq!(p["Arn"], json!("Fn"));
            assert_eq!(p["List"], json!(["Fn", "a-true"]));
        }
    }

    #[test]
    fn sub_replaces_parameters_and_keeps_escaped_literals() {
        let e = eval(&[("Spa", "false")]);
        let f = e.properties("Fn").unwrap();
        assert_eq!(f["Name"], json!("demo-routing"));
        assert_eq!(
            f["FunctionCode"],
            json!("var SPA = \"false\" === \"true\"; var x = \"${kept}\";\n")
        );
    }

    #[test]
    fn the_embedded_template_evaluates() {
        let t = shipit_core::template::Template::embedded();
        let params = t.resolve_parameters(&BTreeMap::new()).unwrap();
        let e = Evaluated::new(load(&t.body).unwrap(), params, "site");
        let d = e.properties("Distribution").unwrap();
        assert_eq!(
            d["DistributionConfig"]["DefaultRootObject"],
            json!("index.html")
        );
        assert_eq!(
            d["DistributionConfig"]["DefaultCacheBehavior"]["FunctionAssociations"][0]
                ["FunctionARN"],
            json!("RoutingFunction")
        );
        assert!(d["DistributionConfig"].get("Logging").is_none());
    }
}
