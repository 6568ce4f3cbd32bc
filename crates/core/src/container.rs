//! The container backend's decisions (`[api] backend = "container"`): which image a deploy
//! ships (an Amazon ECR image pinned by digest, never a tag a later push can move), whether a
//! Fargate task size exists, and the stack parameters that select the backend. Nothing here
//! reads a registry: the digest is what the user's CI pushed. For the local cloud, which runs
//! no containers, the manifest of a stand-in image that says what to run instead
//! (`[api] local_command`).

use std::collections::BTreeMap;

/// An ECR image pinned by digest: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME@sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub account: String,
    pub region: String,
    /// The repository's name (`team/api`).
    pub repository: String,
    /// `sha256:` and 64 lowercase hex digits.
    pub digest: String,
}

/// How the local cloud runs the service instead of an image (`[api] local_command`, and the
/// directory it runs in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalService {
    pub command: String,
    pub directory: std::path::PathBuf,
}

/// The annotations of a stand-in image that the local cloud reads: the command a task runs
/// (with `/bin/sh -c`) and the directory it runs in.
pub const LOCAL_COMMAND_ANNOTATION: &str = "dev.shipit.local.command";
pub const LOCAL_DIRECTORY_ANNOTATION: &str = "dev.shipit.local.directory";

/// The ECR repository the local cloud's stand-in images of `stack` go to.
pub fn local_repository(stack: &str) -> String {
    format!("shipit-local/{}", stack.to_ascii_lowercase())
}

/// The OCI image manifest of a stand-in image: the command and the directory as annotations,
/// and one layer whose digest is `content` (a SHA-256 of the command, the directory and its
/// files), so another command or another file is another image, and the same is the same.
pub fn local_manifest(command: &str, directory: &str, content: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", crate::package::sha256_hex(b"{}")),
            "size": 2,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{content}"),
            "size": 0,
        }],
        "annotations": {
            LOCAL_COMMAND_ANNOTATION: command,
            LOCAL_DIRECTORY_ANNOTATION: directory,
        },
    })
    .to_string()
}

/// The parameters that select each backend, in the template's names.
pub const BACKEND_PARAMETER: &str = "ApiBackend";
pub const IMAGE_PARAMETER: &str = "ContainerImage";

/// The parameters that reach the tasks alone (their task definition and service), never the
/// API Gateway resources: a new image is no new API snapshot.
pub const TASK_PARAMETERS: [&str; 5] = [
    IMAGE_PARAMETER,
    "ContainerArchitecture",
    "ContainerCpu",
    "ContainerMemory",
    "ContainerCount",
];

/// How to find an image's digest, for the error that asks for one.
const DIGEST_HINT: &str = "pin it by digest: NAME@sha256:<64 hex digits> (the digest `docker push` printed, or `aws ecr describe-images --repository-name NAME --image-ids imageTag=TAG --query 'imageDetails[0].imageDigest'`)";

impl Image {
    /// Reads `uri`. A tag next to a digest is dropped (the digest is what runs); a tag alone,
    /// a registry that is not ECR's, or a malformed part is refused with what to give instead.
    pub fn parse(uri: &str) -> Result<Image, String> {
        let uri = uri.trim();
        let (registry, rest) = uri
            .split_once('/')
            .ok_or_else(|| format!("{uri:?} is not an image URI (REGISTRY/NAME@sha256:...)"))?;
        let parts: Vec<&str> = registry.split('.').collect();
        let ecr =
            parts.len() == 6 && parts[1..3] == ["dkr", "ecr"] && parts[4..] == ["amazonaws", "com"];
        if !ecr {
            return Err(format!(
                "{registry} is not an Amazon ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com): the tasks pull through the stack's ECR endpoints with no internet access; push the image to ECR"
            ));
        }
        let (account, region) = (parts[0], parts[3]);
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{account} is not an AWS account id (12 digits)"));
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("{region} is not an AWS region"));
        }
        let Some((name, digest)) = rest.split_once('@') else {
            return Err(format!("{uri} names a tag, not an image: {DIGEST_HINT}"));
        };
        // NAME:TAG@DIGEST: the digest decides; the tag is only a label.
        let name = name.split_once(':').map_or(name, |(n, _)| n);
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!("{digest} is not a sha256 digest: {DIGEST_HINT}"));
        }
        if !repository_name(name) {
            return Err(format!(
                "{name:?} is not an ECR repository name (2 to 256 lowercase letters and digits, each run separated from the next by one of . _ - /)"
            ));
        }
        Ok(Image {
            account: account.into(),
            region: region.into(),
            repository: name.into(),
            digest: digest.into(),
        })
    }

    /// The URI the task definition runs, as CloudFormation's `ContainerImage` takes it.
    pub fn uri(&self) -> String {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}@{}",
            self.account, self.region, self.repository, self.digest
        )
    }
}

/// The template's `AllowedPattern` for `ContainerImage` (a test holds the template to this
/// string); `Image::parse` accepts only what it matches, and ECR's two-character minimum.
pub const IMAGE_PATTERN: &str = r"^$|^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[a-f0-9]{64}$";

/// ECR's repository name rule (`(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`,
/// 2 to 256 characters): components of lowercase letters and digits, each pair joined by one
/// of `.`, `_`, `-`, `/`.
fn repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split(['.', '_', '-', '/']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Fargate's task sizes for Linux: CPU units and the memory (MiB) each takes (Amazon ECS
/// Developer Guide, task definition parameters, "Task size").
pub fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let gib = |from: u32, to: u32| (from..=to).map(|g| g * 1024).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => gib(1, 4),
        1024 => gib(2, 8),
        2048 => gib(4, 16),
        4096 => gib(8, 30),
        _ => return None,
    })
}

/// Why `cpu` units and `memory` MiB are not a Fargate task size, or None when they are.
pub fn size_refused(cpu: u32, memory: u32) -> Option<String> {
    match fargate_memory(cpu) {
        None => Some(format!(
            "ContainerCpu {cpu} is not a Fargate size: 256, 512, 1024, 2048 or 4096"
        )),
        Some(sizes) if !sizes.contains(&memory) => Some(format!(
            "ContainerMemory {memory} does not go with ContainerCpu {cpu}: Fargate takes {} MiB",
            sizes
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(_) => None,
    }
}

/// The stack parameters of a container backend running `image`.
pub fn parameters(image: &Image) -> BTreeMap<String, String> {
    BTreeMap::from([
        (BACKEND_PARAMETER.into(), "container".into()),
        (IMAGE_PARAMETER.into(), image.uri()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn images_are_ecr_and_pinned_by_digest() {
        let ok = |uri: &str| Image::parse(uri).map(|i| i.uri());
        let base = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let table: [(String, Result<String, &str>); 17] = [
            (format!("{base}/api@{D}"), Ok(format!("{base}/api@{D}"))),
            (
                format!("{base}/team/api@{D}"),
                Ok(format!("{base}/team/api@{D}")),
            ),
            // The tag next to a digest is a label: the digest runs.
            (format!("{base}/api:v3@{D}"), Ok(format!("{base}/api@{D}"))),
            (
                format!(" {base}/a.b_c-d/e@{D} "),
                Ok(format!("{base}/a.b_c-d/e@{D}")),
            ),
            (format!("{base}/api:latest"), Err("names a tag")),
            (format!("{base}/api"), Err("names a tag")),
            (format!("{base}/api@sha256:abc"), Err("not a sha256 digest")),
            (
                format!("{base}/api@{}", D.to_uppercase()),
                Err("not a sha256 digest"),
            ),
            (
                format!("docker.io/library/nginx@{D}"),
                Err("not an Amazon ECR registry"),
            ),
            (
                format!("12345.dkr.ecr.eu-west-1.amazonaws.com/api@{D}"),
                Err("not an AWS account id"),
            ),
            (format!("{base}/Api@{D}"), Err("not an ECR repository name")),
            (
                format!("{base}/api//x@{D}"),
                Err("not an ECR repository name"),
            ),
            // What ECR's own pattern (and the template's) refuses: doubled or edge separators,
            // a one-character name.
            (
                format!("{base}/a__b@{D}"),
                Err("not an ECR repository name"),
            ),
            (format!("{base}/a@{D}"), Err("not an ECR repository name")),
            (
                format!("{base}/-api@{D}"),
                Err("not an ECR repository name"),
            ),
            (
                format!("{base}/api.@{D}"),
                Err("not an ECR repository name"),
            ),
            (
                format!("{base}/team/@{D}"),
                Err("not an ECR repository name"),
            ),
        ];
        for (uri, want) in table {
            match (ok(&uri), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{uri}"),
                (Err(e), Err(part)) => assert!(e.contains(part), "{uri}: {e}"),
                (got, want) => panic!("{uri}: {got:?}, want {want:?}"),
            }
        }
        let i = Image::parse(&format!("{base}/team/api@{D}")).unwrap();
        assert_eq!(
            (i.account.as_str(), i.region.as_str(), i.repository.as_str()),
            ("123456789012", "eu-west-1", "team/api")
        );
        assert!(Image::parse("nginx")
            .unwrap_err()
            .contains("not an image URI"));
    }

    #[test]
    fn fargate_sizes() {
        let table = [
            (256, 512, true),
            (256, 2048, true),
            (256, 3072, false),
            (512, 1024, true),
            (512, 512, false),
            (1024, 8192, true),
            (2048, 16384, true),
            (4096, 30720, true),
            (4096, 31744, false),
            (300, 1024, false),
        ];
        for (cpu, memory, fits) in table {
            assert_eq!(size_refused(cpu, memory).is_none(), fits, "{cpu}/{memory}");
        }
        assert!(size_refused(256, 4096).unwrap().contains("512, 1024, 2048"));
    }

    #[test]
    fn the_parameters_select_the_backend_and_the_image() {
        let i = Image::parse(&format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@{D}"
        ))
        .unwrap();
        let p = parameters(&i);
        assert_eq!(p["ApiBackend"], "container");
        assert_eq!(p["ContainerImage"], i.uri());
    }
}
