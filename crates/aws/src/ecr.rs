//! ECR through signed JSON calls, as far as shipit writes to it: the local cloud's stand-in
//! images of `[api] local_command` (`engine::ports::Registry`). On AWS, images are the user's
//! CI's to build and push; shipit only opens this on shipit's local cloud.

use serde_json::{json, Value};

use crate::signed::{Api, Signed};
use shipit_core::error::Error;
use shipit_engine::ports::{Call, Registry};

/// ECR's API (on AWS its host is `api.ecr.REGION.amazonaws.com`; only the local cloud's single
/// endpoint is used here).
const ECR: Api = Api {
    signing_name: "ecr",
    host: None,
    region: None,
};

const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";

pub struct Ecr {
    signed: Signed,
}

impl Ecr {
    pub fn new(signed: Signed) -> Ecr {
        Ecr { signed }
    }

    async fn call(&self, action: &str, body: Value) -> std::result::Result<Value, String> {
        self.signed
            .json(ECR, None, &format!("{TARGET}.{action}"), &body)
            .await
    }

    /// The repository's URI, the repository made first when it does not exist.
    async fn repository(&self, name: &str) -> std::result::Result<String, String> {
        let made = self
            .call("CreateRepository", json!({ "repositoryName": name }))
            .await;
        let doc = match made {
            Ok(doc) => doc,
            Err(e) if e.contains("RepositoryAlreadyExists") => {
                let found = self
                    .call("DescribeRepositories", json!({ "repositoryNames": [name] }))
                    .await?;
                json!({ "repository": found["repositories"][0] })
            }
            Err(e) => return Err(e),
        };
        doc["repository"]["repositoryUri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("ECR did not say repository {name}'s URI"))
    }
}

impl Registry for Ecr {
    fn put_image<'a>(
        &'a self,
        repository: &'a str,
        manifest: &'a str,
        tag: &'a str,
    ) -> Call<'a, String> {
        Box::pin(async move {
            let failed = |e: String| Error::Aws {
                message: format!("cannot put the local image into repository {repository}: {e}"),
                hint: Some("is the endpoint shipit's local cloud (scripts/local-cloud)?".into()),
            };
            let uri = self.repository(repository).await.map_err(failed)?;
            let put = self
                .call(
                    "PutImage",
                    json!({ "repositoryName": repository, "imageManifest": manifest, "imageTag": tag }),
                )
                .await;
            let digest = match put {
                Ok(doc) => doc["image"]["imageId"]["imageDigest"].clone(),
                // The same manifest under the same tag: the image is there already.
                Err(e) if e.contains("ImageAlreadyExists") => {
                    let found = self
                        .call(
                            "DescribeImages",
                            json!({ "repositoryName": repository, "imageIds": [{ "imageTag": tag }] }),
                        )
                        .await
                        .map_err(failed)?;
                    found["imageDetails"][0]["imageDigest"].clone()
                }
                Err(e) => return Err(failed(e)),
            };
            let digest = digest
                .as_str()
                .ok_or_else(|| failed("ECR did not say the image's digest".into()))?;
            Ok(format!("{uri}@{digest}"))
        })
    }
}
