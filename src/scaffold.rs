//! `shipit init`: a commented `shipit.toml` and a GitHub Actions deploy workflow for the
//! user's repository. Rendering is pure; [`write`] refuses to overwrite anything without
//! `--force`, and decides for every file before writing any.

use std::path::{Path, PathBuf};

use shipit_core::error::{Error, Result};

/// What the files are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub stack: String,
    /// The build output directory, relative to the repository root (e.g. `dist`).
    pub build_dir: String,
    /// The directory holding package.json, when the site is built with npm.
    pub npm_dir: Option<String>,
    pub region: String,
}

/// `owner/name` of shipit's GitHub repository (where the composite action lives).
pub fn action_repository() -> &'static str {
    env!("CARGO_PKG_REPOSITORY").trim_start_matches("https://github.com/")
}

/// Where the build goes, guessed from what the repository has: Vite and most bundlers write
/// `dist`, Create React App `build`, Next's export `out`.
pub fn suggest_build_dir(root: &Path) -> (String, Option<String>) {
    let npm = root.join("package.json").is_file();
    let package = std::fs::read_to_string(root.join("package.json")).unwrap_or_default();
    let dir = if package.contains("react-scripts") {
        "build"
    } else if package.contains("\"next\"") {
        "out"
    } else {
        "dist"
    };
    (dir.to_string(), npm.then(|| ".".to_string()))
}

pub fn render_config(a: &Answers) -> String {
    format!(
        r#"# shipit configuration: https://{repo}#configuration-shipittoml
# Flags and SHIPIT_* environment variables override what is set here.

region = "{region}"

[stack]
# shipit creates and updates this CloudFormation stack (CloudFront, a private bucket with
# Origin Access Control, and optionally an API with a data tier), then syncs the build into it.
name = "{stack}"

[stack.parameters]
# The API and data tier cost about $30 a month; a static site alone costs cents. Run
# `shipit bootstrap` once per account and region first (API Gateway's logging role, the bucket
# the stack's template reaches CloudFormation through), and `shipit plan` shows what the
# account would refuse and the monthly cost before anything exists.
EnableApi = "false"
# SpaFallback = "true"            # extensionless paths get /index.html (single-page apps)
# DomainName = "www.example.com"  # with CertificateArn (ACM, us-east-1)

[prune]
# Files the new build no longer has are deleted after the site verified, within these caps.
max_deletes = 1000
max_share = 0.5

[verify]
# Checked after every deploy, before anything is deleted.
# deep_routes = ["/settings/profile"]
timeout_seconds = 300

# Header rules: the first matching rule that sets a header wins; then shipit's defaults
# (content-hashed names immutable, HTML revalidated, the rest five minutes).
# [[headers]]
# glob = "fonts/**"
# cache_control = "public, max-age=31536000, immutable"
"#,
        repo = action_repository(),
        region = a.region,
        stack = a.stack,
    )
}

pub fn render_workflow(a: &Answers) -> String {
    let build = match &a.npm_dir {
        Some(dir) => format!(
            r#"      - uses: actions/setup-node@820762786026740c76f36085b0efc47a31fe5020 # v7.0.0
        with:
          node-version: 22
      # --ignore-scripts: no dependency's install hook runs. A build that needs one (a
      # native module) names it: `npm rebuild NAME` after `npm ci`.
      - name: Build the site
        working-directory: {dir}
        run: |
          npm ci --ignore-scripts
          npm run build
"#
        ),
        None => "      # Build the site here, into the directory below.\n".to_string(),
    };
    format!(
        r#"# Deploys the site on every push to main: shipit ensures the stack, syncs the build,
# invalidates what changed, verifies the live site and only then prunes. The build runs in a job
# that cannot request GitHub's OIDC token; only the deploy job can, and it builds nothing.
#
# Needs, in the repository's settings (Settings > Secrets and variables > Actions > Variables):
#   AWS_DEPLOY_ROLE_ARN  an IAM role this repository may assume through GitHub's OIDC provider
#                        (its trust policy: StringEquals aud sts.amazonaws.com and
#                        sub repo:OWNER/NAME:environment:production)
# and an environment `production` whose deployment branches are limited to main.
name: deploy

on:
  push:
    branches: [main]
  workflow_dispatch:

permissions:
  contents: read

# One deploy at a time per environment; a newer push waits instead of cancelling one halfway.
concurrency:
  group: deploy-production
  cancel-in-progress: false

jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 30
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
{build}      - uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0
        with:
          name: site
          path: {dir}
          include-hidden-files: true
          if-no-files-found: error

  deploy:
    needs: build
    runs-on: ubuntu-24.04
    environment: production
    timeout-minutes: 60
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1
        with:
          name: site
          path: {dir}
      # shipit's major tag follows its releases; pin a release's commit SHA instead to freeze it.
      - uses: {repo}@v1 # zizmor: ignore[unpinned-uses]
        with:
          directory: {dir}
          stack: {stack}
          region: {region}
          role: ${{{{ vars.AWS_DEPLOY_ROLE_ARN }}}}
"#,
        repo = action_repository(),
        dir = a.build_dir,
        stack = a.stack,
        region = a.region,
    )
}

/// The files `init` writes, relative to the repository root.
pub fn files(a: &Answers) -> Vec<(PathBuf, String)> {
    vec![
        (PathBuf::from("shipit.toml"), render_config(a)),
        (
            PathBuf::from(".github/workflows/deploy.yml"),
            render_workflow(a),
        ),
    ]
}

/// Writes the files under `root`; without `force`, refuses before writing anything if any
/// exists. Returns the paths written.
pub fn write(root: &Path, files: &[(PathBuf, String)], force: bool) -> Result<Vec<PathBuf>> {
    let existing: Vec<String> = files
        .iter()
        .map(|(p, _)| root.join(p))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !force {
        return Err(Error::Refused {
            message: format!("not overwriting {}", existing.join(", ")),
            hint: "nothing was written; pass --force to replace them".into(),
        });
    }
    let mut written = Vec::new();
    for (rel, body) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::input(format!("cannot create the directory: {e}"), parent, None)
            })?;
        }
        std::fs::write(&path, body)
            .map_err(|e| Error::input(format!("cannot write: {e}"), &path, None))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(npm: bool) -> Answers {
        Answers {
            stack: "my-site".into(),
            build_dir: "dist".into(),
            npm_dir: npm.then(|| ".".into()),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn build_dirs_from_package_json() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(suggest_build_dir(dir.path()), ("dist".into(), None));
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"dependencies":{"react-scripts":"5"}}"#,
        )
        .unwrap();
        assert_eq!(
            suggest_build_dir(dir.path()),
            ("build".into(), Some(".".into()))
        );
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"dependencies":{"next":"15"}}"#,
        )
        .unwrap();
        assert_eq!(suggest_build_dir(dir.path()).0, "out");
    }

    #[test]
    fn the_config_parses_and_names_the_stack() {
        let text = render_config(&answers(true));
        let file = crate::config::parse_file(&text, Path::new("shipit.toml")).unwrap();
        assert_eq!(file.stack.name.as_deref(), Some("my-site"));
        assert_eq!(file.region.as_deref(), Some("eu-west-1"));
        assert_eq!(file.stack.parameters["EnableApi"], "false");
    }

    #[test]
    fn the_workflow_builds_with_npm_only_when_there_is_a_package() {
        let with = render_workflow(&answers(true));
        assert!(with.contains("npm run build"));
        assert!(with.contains("npm ci --ignore-scripts"), "{with}");
        assert!(with.contains(&format!("uses: {}@v1 ", action_repository())));
        assert!(with.contains("role: ${{ vars.AWS_DEPLOY_ROLE_ARN }}"));
        assert!(with.contains("cancel-in-progress: false"));
        let without = render_workflow(&answers(false));
        assert!(!without.contains("npm"));
        for line in with.lines().filter(|l| l.contains("uses: actions/")) {
            let sha = line.split('@').nth(1).unwrap().split(' ').next().unwrap();
            assert_eq!(sha.len(), 40, "pinned by commit: {line}");
        }
    }

    #[test]
    fn write_refuses_to_overwrite_without_force_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(&answers(true));
        std::fs::write(dir.path().join("shipit.toml"), "mine").unwrap();
        let err = write(dir.path(), &files, false).unwrap_err();
        assert!(err.to_string().contains("shipit.toml"), "{err}");
        assert!(
            !dir.path().join(".github/workflows/deploy.yml").exists(),
            "all or nothing"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("shipit.toml")).unwrap(),
            "mine"
        );
        let written = write(dir.path(), &files, true).unwrap();
        assert_eq!(written.len(), 2);
        assert!(std::fs::read_to_string(dir.path().join("shipit.toml"))
            .unwrap()
            .contains("my-site"));
    }
}
