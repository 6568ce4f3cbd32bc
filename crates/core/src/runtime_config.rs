//! The SPA's runtime configuration: a small JSON file shipit writes into the deployed site
//! (`shipit-config.json` unless `runtime_config` names another path) with what the front end
//! needs from the stack: the API's URL, the region, the user pool's id and app client id, the
//! sign-in endpoint and the release id. A page reads it at start-up, so one build serves any
//! stack. It is revalidated like HTML, part of the release, and checked by verify.
//!
//! The release id is inside the file, and a release is its files: the id is decided before
//! the file is planned (`core::release::decide_release`, its own key aside). The live release keeps its id when everything else
//! is the same; otherwise a new id is minted, which changes the file, which makes the release
//! new: the two agree.
//!
//! Pure: rendering, reading back, comparing with what the stack says, the key's rules, and
//! the local edge's view of it (AWS's origins replaced by their stand-ins).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where the file goes when `runtime_config` is not set.
pub const DEFAULT_PATH: &str = "shipit-config.json";

/// What the front end needs from the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimeConfig {
    /// The API's base URL, stage included (`https://abc.execute-api.REGION.amazonaws.com/live`).
    pub api_url: Option<String>,
    pub region: String,
    pub user_pool_id: Option<String>,
    pub user_pool_client_id: Option<String>,
    /// Cognito's sign-in endpoint in the region (`https://cognito-idp.REGION.amazonaws.com/`).
    pub cognito_url: Option<String>,
    /// The release this file is part of.
    pub release: String,
}

impl RuntimeConfig {
    /// The stack's values, for a release still to be decided (`release` empty).
    pub fn from_outputs(outputs: &BTreeMap<String, String>, region: &str) -> RuntimeConfig {
        let pool = outputs.get("UserPoolId").cloned();
        RuntimeConfig {
            api_url: outputs.get("ApiUrl").cloned(),
            region: region.to_string(),
            cognito_url: pool
                .as_ref()
                .map(|_| format!("https://cognito-idp.{region}.amazonaws.com/")),
            user_pool_id: pool,
            user_pool_client_id: outputs.get("UserPoolClientId").cloned(),
            release: String::new(),
        }
    }

    pub fn with_release(&self, id: &str) -> RuntimeConfig {
        RuntimeConfig {
            release: id.to_string(),
            ..self.clone()
        }
    }

    /// The file's bytes: the same values always give the same bytes.
    pub fn render(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("plain strings serialize");
        out.push(b'\n');
        out
    }

    /// Reads a served file back; the error says what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<RuntimeConfig, String> {
        serde_json::from_slice(body).map_err(|e| format!("not shipit's runtime configuration: {e}"))
    }

    /// What differs from `want`, field by field (empty when they agree). A `want` with an empty
    /// release accepts any release id.
    pub fn differences(&self, want: &RuntimeConfig) -> Vec<String> {
        let mut out = Vec::new();
        let shown =
            |v: &Option<String>| v.as_ref().map_or("null".to_string(), |s| format!("{s:?}"));
        let mut field = |name: &str, got: &Option<String>, want: &Option<String>| {
            if got != want {
                out.push(format!(
                    "{name} is {}, the stack's is {}",
                    shown(got),
                    shown(want)
                ));
            }
        };
        // A trailing slash names the same API.
        let trimmed = |u: &Option<String>| u.as_ref().map(|u| u.trim_end_matches('/').to_string());
        field("apiUrl", &trimmed(&self.api_url), &trimmed(&want.api_url));
        field(
            "region",
            &Some(self.region.clone()),
            &Some(want.region.clone()),
        );
        field("userPoolId", &self.user_pool_id, &want.user_pool_id);
        field(
            "userPoolClientId",
            &self.user_pool_client_id,
            &want.user_pool_client_id,
        );
        field("cognitoUrl", &self.cognito_url, &want.cognito_url);
        if want.release.is_empty() {
            if !crate::release::is_release_id(&self.release) {
                out.push(format!("release {:?} is not a release id", self.release));
            }
        } else if self.release != want.release {
            out.push(format!(
                "release is {:?}, the live release is {:?}",
                self.release, want.release
            ));
        }
        out
    }
}

/// Checks a configured path and gives the key it names (relative to the prefix); None when
/// the path is empty (no file is written).
pub fn key_of(path: &str) -> Result<Option<String>, String> {
    let key = path.trim_start_matches('/');
    if key.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| Err(format!("runtime_config {path:?}: {why}"));
    if !key.ends_with(".json") {
        return bad("the file is JSON: its name must end in .json");
    }
    // A path a page fetches as it is written: no escaping, no query, no fragment.
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._~/-".contains(c))
    {
        return bad("use letters, digits and . _ ~ - / only");
    }
    let parts: Vec<&str> = key.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return bad("empty, `.` or `..` segments in the path");
    }
    if parts.iter().any(|p| p.ends_with(".shipit")) {
        return bad("a `*.shipit/` directory is shipit's own state, never served");
    }
    Ok(Some(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> BTreeMap<String, String> {
        [
            (
                "ApiUrl",
                "https://a1.execute-api.eu-west-1.amazonaws.com/live",
            ),
            ("UserPoolId", "eu-west-1_abc"),
            ("UserPoolClientId", "client1"),
            ("SiteUrl", "https://d1.cloudfront.net"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_file_says_what_the_stack_says_and_reads_back() {
        let c = RuntimeConfig::from_outputs(&outputs(), "eu-west-1").with_release("r1");
        let text = String::from_utf8(c.render()).unwrap();
        assert!(text.contains(r#""apiUrl": "https://a1.execute-api.eu-west-1.amazonaws.com/live""#));
        assert!(text.contains(r#""cognitoUrl": "https://cognito-idp.eu-west-1.amazonaws.com/""#));
        assert!(text.contains(r#""userPoolClientId": "client1""#));
        assert!(text.ends_with("}\n"));
        assert_eq!(c.render(), c.render());
        assert_eq!(RuntimeConfig::parse(&c.render()).unwrap(), c);
        assert!(RuntimeConfig::parse(b"<html>").is_err());
        assert!(RuntimeConfig::parse(br#"{"region":"x","release":"r","extra":1}"#).is_err());
        // A stack without an API: nulls, not made-up values.
        let none = RuntimeConfig::from_outputs(&BTreeMap::new(), "us-east-1");
        assert_eq!((none.api_url, none.cognito_url), (None, None));
    }

    #[test]
    fn differences_name_each_field() {
        let want = RuntimeConfig::from_outputs(&outputs(), "eu-west-1");
        let id = "20261129T101500123Z-0123abcd";
        let got = want.with_release(id);
        assert!(got.differences(&want).is_empty(), "any release id");
        assert!(got.differences(&want.with_release(id)).is_empty());
        let other = got.differences(&want.with_release("20261129T101500124Z-0123abcd"));
        assert!(other[0].contains("live release"), "{other:?}");
        let mut stale = got.clone();
        stale.api_url = Some("https://old.example/live".into());
        stale.release = "nope".into();
        let d = stale.differences(&want);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("apiUrl") && d[1].contains("not a release id"));
    }

    #[test]
    fn paths_are_keys_under_the_site() {
        for (path, key) in [
            ("shipit-config.json", Some("shipit-config.json")),
            ("/config/runtime.json", Some("config/runtime.json")),
            ("", None),
            ("/", None),
        ] {
            assert_eq!(key_of(path).unwrap().as_deref(), key, "{path}");
        }
        for (path, says) in [
            ("config.js", ".json"),
            ("a//b.json", "segments"),
            ("../x.json", "segments"),
            ("./x.json", "segments"),
            (".shipit/c.json", "shipit's own"),
            ("a/.shipit/c.json", "shipit's own"),
            ("a.shipit/c.json", "shipit's own"),
            ("a\nb.json", "letters"),
            ("a b.json", "letters"),
            ("a?b=1.json", "letters"),
            ("a%2e.json", "letters"),
        ] {
            let e = key_of(path).unwrap_err();
            assert!(e.contains(says), "{path}: {e}");
        }
    }
}
