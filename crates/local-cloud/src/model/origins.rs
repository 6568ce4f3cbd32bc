//! Where AWS's origins live on this machine, for `shipit preview --stack`: the distribution
//! (`https://*.cloudfront.net`) is the local edge, the stack's API (`https://*.execute-api.
//! REGION.amazonaws.com`) the local API Gateway, and the user pool's sign-in API (`https://
//! cognito-idp.REGION.amazonaws.com`) the local cloud. The stack's headers name the AWS
//! origins; a browser on the local edge calls the local ones. So the edge's
//! Content-Security-Policy lets `connect-src` reach the local origin of each AWS origin it
//! names (and nothing else), and the local API answers a CORS request from the local edge as
//! it would answer one from the distribution (it asks the API with the distribution's origin,
//! and answers with the local edge's where the API allowed the distribution's). Nothing is allowed here that the stack does not
//! allow on AWS.

use shipit_core::runtime_config::RuntimeConfig;

/// The local origins (scheme://host:port, no trailing slash) standing for AWS's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOrigins {
    /// The local edge: the distribution's stand-in.
    pub site: Option<String>,
    /// The local API Gateway.
    pub api: Option<String>,
    /// The local cloud: Cognito's sign-in API.
    pub cloud: Option<String>,
    /// The distribution's own origin (`https://d111.cloudfront.net`), once the stack has one:
    /// the AWS origin the local edge stands for.
    pub distribution: Option<String>,
}

impl LocalOrigins {
    /// The configuration a page of the local edge gets: each URL on an AWS origin the local
    /// edge knows a stand-in for points at the stand-in (the API at the local API Gateway,
    /// sign-in at the local cloud).
    pub fn localize(&self, config: &RuntimeConfig) -> RuntimeConfig {
        let local = |url: &Option<String>| url.as_deref().map(|u| self.local_url(u));
        RuntimeConfig {
            api_url: local(&config.api_url),
            cognito_url: local(&config.cognito_url),
            ..config.clone()
        }
    }

    /// The local origin standing for `origin` (an `https://` origin of AWS's), if any.
    pub fn local_for(&self, origin: &str) -> Option<&str> {
        let host = origin.strip_prefix("https://")?;
        if host.contains(['/', ':']) || host.is_empty() {
            return None;
        }
        let aws = host.ends_with(".amazonaws.com");
        if host.ends_with(".cloudfront.net") {
            self.site.as_deref()
        } else if aws && host.contains(".execute-api.") {
            self.api.as_deref()
        } else if aws && host.starts_with("cognito-idp.") {
            self.cloud.as_deref()
        } else {
            None
        }
    }

    /// `url` with its origin replaced by the local one standing for it (the path kept); as it
    /// is when nothing stands for its origin.
    pub fn local_url(&self, url: &str) -> String {
        let after_scheme = url.strip_prefix("https://").map_or(0, |_| "https://".len());
        let end = url[after_scheme..]
            .find('/')
            .map_or(url.len(), |i| after_scheme + i);
        match self.local_for(&url[..end]) {
            Some(local) => format!("{local}{}", &url[end..]),
            None => url.to_string(),
        }
    }

    /// `csp` with the local origin of each AWS origin in its `connect-src` added beside it.
    pub fn csp(&self, csp: &str) -> String {
        csp.split(';')
            .map(|directive| {
                let mut words = directive.split_whitespace();
                if words.next() != Some("connect-src") {
                    return directive.to_string();
                }
                let mut out = vec!["connect-src".to_string()];
                for source in words {
                    out.push(source.to_string());
                    if let Some(local) = self.local_for(source) {
                        if !directive.split_whitespace().any(|w| w == local) {
                            out.push(local.to_string());
                        }
                    }
                }
                let lead = if directive.starts_with(' ') { " " } else { "" };
                format!("{lead}{}", out.join(" "))
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The origin the API is asked from when a request comes from `origin`: the
    /// distribution's for the local edge's; None to leave the request as it is.
    pub fn request_origin(&self, origin: &str) -> Option<String> {
        (self.site.as_deref() == Some(origin))
            .then(|| self.distribution.clone())
            .flatten()
    }

    /// The `Access-Control-Allow-Origin` for a request from `request_origin`: the local edge's
    /// origin when the API allows the distribution and the request comes from the local edge;
    /// None to leave the API's answer as it is.
    pub fn allow_origin(&self, allowed: &str, request_origin: Option<&str>) -> Option<String> {
        let site = self.site.as_deref()?;
        let standing_for = self.local_for(allowed)?;
        (standing_for == site && request_origin == Some(site)).then(|| site.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> LocalOrigins {
        LocalOrigins {
            site: Some("http://127.0.0.1:8787".into()),
            api: Some("http://127.0.0.1:9000".into()),
            cloud: Some("http://127.0.0.1:5000".into()),
            distribution: Some("https://d111.cloudfront.net".into()),
        }
    }

    #[test]
    fn cloud_origins_and_their_local_stand_ins() {
        let o = origins();
        for (aws, local) in [
            ("https://d111.cloudfront.net", Some("http://127.0.0.1:8787")),
            (
                "https://abc123.execute-api.eu-west-1.amazonaws.com",
                Some("http://127.0.0.1:9000"),
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com",
                Some("http://127.0.0.1:5000"),
            ),
            ("https://s3.amazonaws.com", None),
            ("https://evil.example.com", None),
            ("http://d111.cloudfront.net", None),
            ("https://d111.cloudfront.net/path", None),
            ("https://d111.cloudfront.net:444", None),
            ("https://cognito-idp.evil.com", None),
            ("'self'", None),
        ] {
            assert_eq!(o.local_for(aws), local, "{aws}");
        }
        assert_eq!(
            LocalOrigins::default().local_for("https://d111.cloudfront.net"),
            None
        );
    }

    #[test]
    fn urls_on_aws_origins_point_at_their_stand_ins() {
        let o = origins();
        for (url, local) in [
            (
                "https://a1.execute-api.us-east-1.amazonaws.com/live",
                "http://127.0.0.1:9000/live",
            ),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/",
                "http://127.0.0.1:5000/",
            ),
            ("https://d111.cloudfront.net", "http://127.0.0.1:8787"),
            (
                "https://api.example.com/live",
                "https://api.example.com/live",
            ),
            (
                "http://a1.execute-api.us-east-1.amazonaws.com/live",
                "http://a1.execute-api.us-east-1.amazonaws.com/live",
            ),
            ("", ""),
        ] {
            assert_eq!(o.local_url(url), local, "{url}");
        }
    }

    #[test]
    fn connect_src_reaches_the_local_origin_of_each_aws_origin_it_names() {
        let o = origins();
        let csp = "default-src 'self'; connect-src 'self' https://a1.execute-api.us-east-1.amazonaws.com https://cognito-idp.us-east-1.amazonaws.com; img-src 'self' https://d111.cloudfront.net";
        assert_eq!(
            o.csp(csp),
            "default-src 'self'; connect-src 'self' https://a1.execute-api.us-east-1.amazonaws.com http://127.0.0.1:9000 https://cognito-idp.us-east-1.amazonaws.com http://127.0.0.1:5000; img-src 'self' https://d111.cloudfront.net"
        );
        // Nothing named, nothing added; a second pass adds nothing more.
        let plain = "default-src 'self'; connect-src 'self'";
        assert_eq!(o.csp(plain), plain);
        assert_eq!(o.csp(&o.csp(csp)), o.csp(csp));
    }

    #[test]
    fn the_local_edge_is_answered_as_the_distribution_is() {
        let o = origins();
        let site = "http://127.0.0.1:8787";
        assert_eq!(
            o.request_origin(site).as_deref(),
            Some("https://d111.cloudfront.net")
        );
        for other in ["http://127.0.0.1:1", "https://d111.cloudfront.net", ""] {
            assert_eq!(o.request_origin(other), None, "{other}");
        }
        let no_stack_yet = LocalOrigins {
            distribution: None,
            ..o.clone()
        };
        assert_eq!(no_stack_yet.request_origin(site), None);
        assert_eq!(
            o.allow_origin("https://d111.cloudfront.net", Some(site)),
            Some(site.to_string())
        );
        for (allowed, from) in [
            ("https://d111.cloudfront.net", Some("http://127.0.0.1:1")),
            ("https://d111.cloudfront.net", None),
            ("https://www.example.com", Some(site)),
            ("*", Some(site)),
            ("https://a1.execute-api.us-east-1.amazonaws.com", Some(site)),
        ] {
            assert_eq!(o.allow_origin(allowed, from), None, "{allowed} {from:?}");
        }
    }

    #[test]
    fn the_local_edge_gives_the_local_stand_ins() {
        let origins = LocalOrigins {
            site: Some("http://127.0.0.1:8787".into()),
            api: Some("http://127.0.0.1:9000".into()),
            cloud: Some("http://127.0.0.1:5000".into()),
            distribution: None,
        };
        let outputs = [
            (
                "ApiUrl",
                "https://a1.execute-api.eu-west-1.amazonaws.com/live",
            ),
            ("UserPoolId", "eu-west-1_abc"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = RuntimeConfig::from_outputs(&outputs, "eu-west-1").with_release("r");
        let l = origins.localize(&c);
        assert_eq!(l.api_url.as_deref(), Some("http://127.0.0.1:9000/live"));
        assert_eq!(l.cognito_url.as_deref(), Some("http://127.0.0.1:5000/"));
        assert_eq!((l.region, l.release), (c.region.clone(), c.release.clone()));
        // Nothing known stands for it: left as it is.
        assert_eq!(LocalOrigins::default().localize(&c), c);
    }
}
