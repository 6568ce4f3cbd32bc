//! Where an [`EdgeConfig`] comes from: the template (for `shipit preview DIR`, the
//! distribution as it would be deployed), or the local cloud's record of a deployed stack.
//!
//! moto's CloudFront API keeps a distribution's origins, default root object and error
//! responses but drops function associations, the OAC id and the cache and headers policies
//! (it has none). The local cloud's `GET /_shipit/resources` keeps the CloudFormation
//! properties of what it created, resolved; the edge reads those and lays the API's own
//! fields over them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::edge::{EdgeConfig, Lookup};
use crate::model::evaluate::{self, Evaluated};
use shipit_core::template::Template;

/// The template's distribution, for these parameter values.
pub fn from_template(
    template: &Template,
    params: BTreeMap<String, String>,
) -> Result<EdgeConfig, String> {
    let doc = evaluate::load(&template.body).map_err(|e| e.to_string())?;
    let e = Evaluated::new(doc, params, "preview");
    let ids = e.resources_of("AWS::CloudFront::Distribution");
    let id = ids
        .first()
        .ok_or("the template has no AWS::CloudFront::Distribution")?;
    let props = e.properties(id).unwrap_or(Value::Null);
    EdgeConfig::from_cfn(&props["DistributionConfig"], &TemplateLookup(&e))
}

struct TemplateLookup<'a>(&'a Evaluated);

impl Lookup for TemplateLookup<'_> {
    fn function_code(&self, reference: &str) -> Option<String> {
        let p = self.0.properties(reference)?;
        p["FunctionCode"].as_str().map(str::to_string)
    }
    fn cache_policy(&self, id: &str) -> Option<Value> {
        self.0.properties(id)
    }
    fn headers_policy(&self, id: &str) -> Option<Value> {
        self.0.properties(id)
    }
}

/// The local cloud's registry (`GET /_shipit/resources`): type -> physical id -> properties.
pub struct Registry(pub Value);

impl Registry {
    fn of(&self, kind: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.0[kind].as_object().into_iter().flatten()
    }

    /// The CloudFormation DistributionConfig of a distribution the local cloud created.
    pub fn distribution_config(&self, id: &str) -> Option<&Value> {
        let d = self.0["AWS::CloudFront::Distribution"].get(id)?;
        Some(&d["properties"]["DistributionConfig"])
    }
}

impl Lookup for Registry {
    fn function_code(&self, arn: &str) -> Option<String> {
        self.of("AWS::CloudFront::Function")
            .find(|(name, f)| f["attributes"]["FunctionARN"] == arn || name.as_str() == arn)
            .and_then(|(_, f)| f["properties"]["FunctionCode"].as_str().map(str::to_string))
    }
    fn cache_policy(&self, id: &str) -> Option<Value> {
        Some(self.0["AWS::CloudFront::CachePolicy"].get(id)?["properties"].clone())
    }
    fn headers_policy(&self, id: &str) -> Option<Value> {
        Some(self.0["AWS::CloudFront::ResponseHeadersPolicy"].get(id)?["properties"].clone())
    }
}

/// The bucket behind an S3 origin domain (`b.s3.us-east-1.amazonaws.com`, `b.s3.amazonaws.com`).
pub fn bucket_of_origin(domain: &str) -> Option<String> {
    let i = domain.find(".s3.").or_else(|| domain.find(".s3-"))?;
    Some(domain[..i].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::edge::Ttl;
    use serde_json::json;

    #[test]
    fn the_embedded_template_gives_the_production_edge() {
        let t = Template::embedded();
        for spa in ["true", "false"] {
            let mut explicit = BTreeMap::new();
            explicit.insert("SpaFallback".to_string(), spa.to_string());
            let c = from_template(&t, t.resolve_parameters(&explicit).unwrap()).unwrap();
            assert_eq!(c.default_root_object, "index.html");
            // The template's own code, with the parameter substituted (servers::js runs it).
            let code = c.default.viewer_request.as_deref().unwrap();
            assert!(code.contains(&format!("var SPA = \"{spa}\"")), "{code}");
            assert_eq!(
                c.default.ttl,
                Ttl {
                    min: 0,
                    default: 300,
                    max: 31536000
                }
            );
            let assets = c.behavior("/assets/app.123abc.js");
            assert_eq!(assets.ttl.min, 86400);
            assert!(
                assets.viewer_request.is_none(),
                "assets are never rewritten"
            );
            assert!(assets.redirect_to_https && c.default.redirect_to_https);
            for b in [&c.default, assets] {
                let names: Vec<&str> = b.headers.iter().map(|h| h.name.as_str()).collect();
                assert_eq!(
                    names,
                    [
                        "strict-transport-security",
                        "x-content-type-options",
                        "x-frame-options",
                        "referrer-policy",
                        "content-security-policy"
                    ]
                );
            }
            assert_eq!(c.error_response(403).unwrap().response_code, Some(404));
            assert_eq!(
                c.error_response(404).unwrap().page.as_deref(),
                Some("/404.html")
            );
        }
        let mut csp = BTreeMap::new();
        csp.insert("ContentSecurityPolicy".to_string(), String::new());
        let c = from_template(&t, t.resolve_parameters(&csp).unwrap()).unwrap();
        assert!(
            !c.default
                .headers
                .iter()
                .any(|h| h.name == "content-security-policy"),
            "an empty ContentSecurityPolicy sends none"
        );
    }

    #[test]
    fn registry_lookups_by_physical_id_and_arn() {
        let r = Registry(json!({
            "AWS::CloudFront::Function": {"s-routing": {
                "properties": {"FunctionCode": "function handler(event) { /.shipit/ } var SPA = \"true\""},
                "attributes": {"FunctionARN": "arn:aws:cloudfront::123456789012:function/s-routing"}}},
            "AWS::CloudFront::CachePolicy": {"c1": {"properties": {"CachePolicyConfig": {"MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 600}}}},
            "AWS::CloudFront::ResponseHeadersPolicy": {"h1": {"properties": {"ResponseHeadersPolicyConfig": {}}}},
            "AWS::CloudFront::Distribution": {"E1": {"properties": {"DistributionConfig": {
                "DefaultRootObject": "index.html",
                "DefaultCacheBehavior": {"CachePolicyId": "c1", "ResponseHeadersPolicyId": "h1",
                    "ViewerProtocolPolicy": "allow-all",
                    "FunctionAssociations": [{"EventType": "viewer-request", "FunctionARN": "arn:aws:cloudfront::123456789012:function/s-routing"}]}}}}}
        }));
        let c = EdgeConfig::from_cfn(r.distribution_config("E1").unwrap(), &r).unwrap();
        assert_eq!(
            c.default.viewer_request.as_deref(),
            Some("function handler(event) { /.shipit/ } var SPA = \"true\"")
        );
        assert_eq!(
            c.default.ttl,
            Ttl {
                min: 0,
                default: 60,
                max: 600
            }
        );
        assert!(!c.default.redirect_to_https);
        assert!(r.distribution_config("E2").is_none());
        let missing = json!({"DefaultCacheBehavior": {"CachePolicyId": "nope"}});
        assert!(EdgeConfig::from_cfn(&missing, &r)
            .unwrap_err()
            .contains("nope"));
    }

    #[test]
    fn origin_domains_name_their_bucket() {
        let table = [
            (
                "site-bucket-1.s3.us-east-1.amazonaws.com",
                Some("site-bucket-1"),
            ),
            ("b.s3.amazonaws.com", Some("b")),
            ("b.s3-website-us-east-1.amazonaws.com", Some("b")),
            ("example.com", None),
        ];
        for (d, want) in table {
            assert_eq!(bucket_of_origin(d).as_deref(), want, "{d}");
        }
    }
}
