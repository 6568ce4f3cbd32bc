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
    // ECR's names: lowercase parts joined by one separator, so no `--` and no trailing `-`.
    let mut name = String::new();
    for part in stack
        .to_ascii_lowercase()
        .split('-')
        .filter(|p| !p.is_empty())
    {
        if !name.is_empty() {
            name.push('-');
        }
        name.push_str(part);
    }
    format!("shipit-local/{name}")
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
pub const TASK_PARAMETERS: [&str; 6] = [
    IMAGE_PARAMETER,
    "ContainerArchitecture",
    "ContainerCpu",
    "ContainerMemory",
    "ContainerCount",
    VERSIONS_PARAMETER,
];

/// The versions of the stack's parameters the tasks run with (`NAME:VERSION,...`): a changed
/// value is a new version, so a new task definition revision that ECS rolls out.
pub const VERSIONS_PARAMETER: &str = "ContainerParameterVersions";

/// The SSM path of stack `stack`'s parameters, with its trailing slash.
pub fn parameter_path(stack: &str) -> String {
    format!("/shipit/{stack}/")
}

/// The line in the template's container definition after which each parameter is inserted as
/// a secret.
pub const SECRETS_MARKER: &str = "# shipit params:";

/// Environment names a parameter cannot take: the task's own (the template's environment and
/// secrets), what the process itself runs with, and what AWS and ECS set (`AWS_`, `ECS_`).
const TAKEN: [&str; 23] = [
    "PATH",
    "HOME",
    "HOSTNAME",
    "TMPDIR",
    "LANG",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "RDS_CA_BUNDLE",
    "PYTHONPATH",
    "PORT",
    "TABLE_NAME",
    "OWNER_INDEX",
    "APP_BUCKET",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_TOKEN",
    "PARAMETER_PATH",
    "ALLOWED_ORIGINS",
    "SHIPIT_PARAMETER_VERSIONS",
];

/// Why `name` cannot be a parameter (it becomes an environment variable of the tasks), if so.
pub fn parameter_name_refused(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 128 {
        return Some(format!(
            "{name:?} is not an environment variable name (letters, digits and _, not starting with a digit, at most 128)"
        ));
    }
    let upper = name.to_ascii_uppercase();
    if TAKEN.contains(&upper.as_str()) || upper.starts_with("AWS_") || upper.starts_with("ECS_") {
        return Some(format!(
            "{name} is the task's own variable (the stack sets it, or AWS and ECS do)"
        ));
    }
    None
}

/// `body` (a deployed template) without the task secret `name` that [`with_task_secrets`]
/// inserted; None when it has no such line.
pub fn without_task_secret(body: &str, name: &str) -> Option<String> {
    let line_of = format!("- {{ Name: \"{name}\", ValueFrom: ");
    let mut out = String::with_capacity(body.len());
    let mut found = false;
    for line in body.split_inclusive('\n') {
        if !found && line.trim_start().starts_with(&line_of) {
            found = true;
            continue;
        }
        out.push_str(line);
    }
    found.then_some(out)
}

/// `versions` (`NAME:VERSION,...`) without `name`'s entry.
pub fn versions_without(versions: &str, name: &str) -> String {
    versions
        .split(',')
        .filter(|v| !v.is_empty() && v.rsplit_once(':').map(|(n, _)| n) != Some(name))
        .collect::<Vec<_>>()
        .join(",")
}

/// `body` with each of `names` inserted as a task secret read from the stack's parameter path,
/// after the [`SECRETS_MARKER`] line (the same indentation); an error when there are names and
/// the template has no marker (a custom template that does not take them).
pub fn with_task_secrets(body: &str, names: &[String]) -> Result<String, String> {
    if names.is_empty() {
        return Ok(body.to_string());
    }
    // The marker is a line of its own (a comment, indented as the secrets are), exactly once.
    let mut found = Vec::new();
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let text = line.trim_start_matches([' ', '\t']);
        if text.starts_with(SECRETS_MARKER) {
            found.push((
                offset,
                offset + (line.len() - text.len()),
                offset + line.len(),
            ));
        }
        offset += line.len();
    }
    let (line_start, at, line_end) = match found.as_slice() {
        [one] => *one,
        [] => return Err(format!("the template has no {SECRETS_MARKER:?} line in its container definition's Secrets, where the stack's parameters go")),
        _ => return Err(format!("the template has {} {SECRETS_MARKER:?} lines; the stack's parameters go after one", found.len())),
    };
    let indent = &body[line_start..at];
    let mut out = String::with_capacity(body.len() + names.len() * 160);
    out.push_str(&body[..line_end]);
    for name in names {
        if let Some(why) = parameter_name_refused(name) {
            return Err(why);
        }
        out.push_str(&format!(
            "{indent}- {{ Name: \"{name}\", ValueFrom: !Sub \"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/shipit/${{AWS::StackName}}/{name}\" }}\n"
        ));
    }
    out.push_str(&body[line_end..]);
    Ok(out)
}

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

    #[test]
    fn the_stacks_parameters_become_task_secrets_after_the_marker() {
        let body = "Secrets:\n            - { Name: REDIS_TOKEN, ValueFrom: x }\n            # shipit params: here\n          LogConfiguration:\n";
        let names = vec!["API_KEY".to_string(), "feature_flags".to_string()];
        let out = with_task_secrets(body, &names).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], "            # shipit params: here");
        assert_eq!(
            lines[3],
            "            - { Name: \"API_KEY\", ValueFrom: !Sub \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/shipit/${AWS::StackName}/API_KEY\" }"
        );
        assert!(lines[4].contains("Name: \"feature_flags\","), "{out}");
        assert_eq!(lines[5], "          LogConfiguration:");
        // Nothing to insert: the body as it is, marker or not.
        assert_eq!(with_task_secrets("x", &[]).unwrap(), "x");
        assert!(with_task_secrets("x", &names)
            .unwrap_err()
            .contains("shipit params"));
        // The embedded template takes them.
        let embedded = crate::template::Template::embedded().body;
        assert!(with_task_secrets(&embedded, &names).is_ok());
    }

    #[test]
    fn every_variable_the_template_gives_the_task_is_taken() {
        let body = crate::template::Template::embedded().body;
        let doc = yaml_rust2::YamlLoader::load_from_str(&body)
            .unwrap()
            .remove(0);
        let container =
            &doc["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0];
        let mut names = Vec::new();
        for list in ["Environment", "Secrets"] {
            for item in container[list].as_vec().unwrap() {
                names.push(item["Name"].as_str().unwrap().to_string());
            }
        }
        assert!(names.len() >= 12, "{names:?}");
        for name in names {
            assert!(
                parameter_name_refused(&name).is_some(),
                "{name} is not in TAKEN"
            );
        }
    }

    #[test]
    fn a_secret_comes_out_as_it_went_in() {
        let body = "  # shipit params:\n  - x\n";
        let with = with_task_secrets(body, &["A".into(), "AB".into()]).unwrap();
        let without = without_task_secret(&with, "A").unwrap();
        assert_eq!(without, with_task_secrets(body, &["AB".into()]).unwrap());
        assert_eq!(without_task_secret(&without, "A"), None);
        assert_eq!(versions_without("A:1,AB:3,B:2", "A"), "AB:3,B:2");
        assert_eq!(versions_without("A:1", "A"), "");
    }

    #[test]
    fn a_local_repository_is_a_name_ecr_takes() {
        for (stack, repo) in [
            ("my-site", "shipit-local/my-site"),
            ("My--Site-", "shipit-local/my-site"),
            ("st-container-1-0", "shipit-local/st-container-1-0"),
        ] {
            assert_eq!(local_repository(stack), repo);
        }
    }

    #[test]
    fn a_parameter_is_named_as_an_environment_variable_the_task_does_not_own() {
        for (name, ok) in [
            ("API_KEY", true),
            ("_private", true),
            ("db2", true),
            ("2FA", false),
            ("with-dash", false),
            ("with space", false),
            ("", false),
            ("PORT", false),
            ("redis_token", false),
            ("AWS_REGION", false),
            ("ECS_CONTAINER_METADATA_URI", false),
            ("SHIPIT_PARAMETER_VERSIONS", false),
        ] {
            assert_eq!(parameter_name_refused(name).is_none(), ok, "{name}");
        }
        assert!(with_task_secrets("# shipit params:\n", &["PORT".into()]).is_err());
        // The marker is a line of its own, once: not mid-line, not twice.
        for body in [
            "Secrets: # shipit params: x\n",
            "  # shipit params: a\n  # shipit params: b\n",
        ] {
            assert!(with_task_secrets(body, &["A".into()]).is_err(), "{body}");
        }
        // A name YAML would read as a boolean stays a string.
        let out = with_task_secrets("  # shipit params:\n", &["on".into()]).unwrap();
        assert!(out.contains("Name: \"on\""), "{out}");
    }
}
