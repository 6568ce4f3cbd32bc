//! SSM Parameter Store through signed JSON calls (`engine::ports::Parameters`): a stack's
//! parameters, SecureStrings under `/shipit/STACK/`, listed by name and version for a deploy,
//! and set and read by `shipit params`.

use serde_json::{json, Value};

use crate::signed::{Api, Signed};
use shipit_core::error::Error;
use shipit_engine::ports::{Call, Parameters};

const SSM: Api = Api {
    signing_name: "ssm",
    host: None,
    region: None,
};

/// Pages of GetParametersByPath read at most (10 parameters a page: 1,000 parameters).
const MAX_PAGES: usize = 100;

pub struct Ssm {
    signed: Signed,
}

impl Ssm {
    pub fn new(signed: Signed) -> Ssm {
        Ssm { signed }
    }

    async fn call(&self, action: &str, body: Value) -> std::result::Result<Value, String> {
        self.signed
            .json(SSM, None, &format!("AmazonSSM.{action}"), &body)
            .await
    }
}

fn failed(what: &str, e: String) -> Error {
    let denied = e.contains("AccessDenied");
    Error::Aws {
        message: format!("{what}: {e}"),
        hint: Some(if denied {
            "the credentials need ssm:GetParametersByPath (deploy, list), ssm:PutParameter (set) or ssm:GetParameter (get) on the stack's parameter path, and kms:Decrypt when the parameters use a customer managed key".into()
        } else {
            "check the region and the credentials; retrying is safe".into()
        }),
    }
}

impl Parameters for Ssm {
    fn list<'a>(&'a self, path: &'a str) -> Call<'a, Vec<(String, u64)>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let mut body = json!({ "Path": path.trim_end_matches('/'), "Recursive": false, "WithDecryption": false });
                if let Some(t) = &token {
                    body["NextToken"] = json!(t);
                }
                let page = self
                    .call("GetParametersByPath", body)
                    .await
                    .map_err(|e| failed(&format!("cannot list the parameters under {path}"), e))?;
                for p in page["Parameters"].as_array().into_iter().flatten() {
                    let name = p["Name"].as_str().unwrap_or_default();
                    let version = p["Version"].as_u64().unwrap_or_default();
                    if let Some(short) = name.strip_prefix(path) {
                        out.push((short.to_string(), version));
                    }
                }
                token = page["NextToken"].as_str().map(str::to_string);
                if token.is_none() {
                    out.sort();
                    return Ok(out);
                }
            }
            Err(Error::Aws {
                message: format!("more than {} parameters under {path}", MAX_PAGES * 10),
                hint: Some(
                    "keep a stack's parameters few: they become its tasks' environment".into(),
                ),
            })
        })
    }

    fn put<'a>(&'a self, name: &'a str, value: &'a str) -> Call<'a, u64> {
        Box::pin(async move {
            // No Tier: an Advanced parameter stays Advanced when overwritten.
            let body =
                json!({ "Name": name, "Value": value, "Type": "SecureString", "Overwrite": true });
            let r = self
                .call("PutParameter", body)
                .await
                .map_err(|e| failed(&format!("cannot set {name}"), e))?;
            r["Version"].as_u64().ok_or_else(|| {
                failed(
                    &format!("cannot set {name}"),
                    "SSM did not say its version".into(),
                )
            })
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            self.call("DeleteParameter", json!({ "Name": name }))
                .await
                .map(|_| ())
                .map_err(|e| failed(&format!("cannot delete {name}"), e))
        })
    }

    fn get<'a>(&'a self, name: &'a str) -> Call<'a, Option<(String, u64)>> {
        Box::pin(async move {
            match self
                .call(
                    "GetParameter",
                    json!({ "Name": name, "WithDecryption": true }),
                )
                .await
            {
                Ok(r) => Ok(Some((
                    r["Parameter"]["Value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    r["Parameter"]["Version"].as_u64().unwrap_or_default(),
                ))),
                Err(e) if e.contains("ParameterNotFound") => Ok(None),
                Err(e) => Err(failed(&format!("cannot read {name}"), e)),
            }
        })
    }
}
