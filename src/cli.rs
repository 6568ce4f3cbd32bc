//! Command-line definitions only: what a user can type. Turning these into settings is
//! `config`'s job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shipit",
    version,
    about = "Deploy a static site to S3 by content hash: only what changed, assets before HTML, deletes last.",
    after_help = "Examples:\n  shipit deploy ./dist --stack my-site         create/update the stack, then sync the site\n  shipit plan ./dist --stack my-site           the change set and every file action; executes nothing\n  shipit deploy ./dist --bucket my-site        sync to an existing bucket (no stack)\n  shipit deploy ./dist --stack s --json        the summary as JSON on stdout\n  shipit destroy --stack my-site --yes         empty the buckets and delete the stack\n  shipit verify --stack my-site                check the live site\n  shipit preview ./dist                        the build with production routing, locally\n\nExit codes: 0 ok, 1 bug, 2 usage/config, 3 build refused, 4 safety cap, 5 credentials, 6 AWS failure, 7 stack failed, 8 site broken (verify failed)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Named AWS profile from ~/.aws/config.
    #[arg(long, global = true, env = "SHIPIT_PROFILE")]
    pub profile: Option<String>,
    /// AWS region (default: the SDK's chain: AWS_REGION, the profile, ...).
    #[arg(long, global = true, env = "SHIPIT_REGION")]
    pub region: Option<String>,
    /// S3 endpoint, e.g. http://127.0.0.1:5000 for a local emulator (path-style addressing).
    /// Also read from AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
    #[arg(long, global = true, env = "SHIPIT_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Configuration file (default: ./shipit.toml when it exists).
    #[arg(long, global = true, env = "SHIPIT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Less output: errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More output: every action and request decision (-vv for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Plain lines instead of progress bars even on a terminal.
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload the build, update changed headers and delete what the build no longer has.
    Deploy(DeployArgs),
    /// Show what `deploy` would do: the stack's change set and every file action with its
    /// reason; executes nothing (a changed stack's template is staged in the bootstrap
    /// templates bucket, as deploy does, to make the change set; on shipit's local cloud,
    /// `[api] local_command` is published to its ECR as the image the change set names).
    Plan(TargetArgs),
    /// Delete the stack: empty its buckets (every version), lift termination protection,
    /// delete it and report what CloudFormation retained.
    Destroy(DestroyArgs),
    /// Check the live site like a browser and curl would: apex, a deep route, a missing
    /// asset, the bucket's privacy, cache and security headers, the API. Exit 8 when broken.
    #[command(
        after_help = "Examples:\n  shipit verify --stack my-site                   the stack's SiteUrl, bucket and API\n  shipit verify --url https://www.example.com     any site; add --s3-url for the privacy check\n  shipit verify --stack my-site --url http://127.0.0.1:8787 --json\n                                                  a local edge (shipit preview --stack), as JSON"
    )]
    Verify(VerifyArgs),
    /// Serve a build directory (or a deployed stack from the local cloud) on 127.0.0.1 with
    /// the distribution's routing, error pages, cache and security headers.
    #[command(
        after_help = "Examples:\n  shipit preview ./dist                       production routing for a build, on http://127.0.0.1:8787\n  shipit preview ./dist --parameter SpaFallback=false\n  shipit preview --stack my-site --port 0     a stack deployed to the local cloud, on a free port"
    )]
    Preview(PreviewArgs),
    /// Write a commented shipit.toml and a GitHub Actions deploy workflow into a repository
    /// (asks on a terminal; never overwrites without --force).
    #[command(
        after_help = "Examples:\n  shipit init                                  ask for the stack name and build directory\n  shipit init --stack my-site --build-dir dist  no questions (what CI and scripts use)"
    )]
    Init(InitArgs),
    /// List the releases recorded in the site's bucket, newest last (`--json` too).
    Releases(SiteArgs),
    /// Put an earlier release back live in seconds (default: the previous one) from the
    /// bucket's object versions, then invalidate what changed, verify, and prune.
    #[command(
        after_help = "Examples:\n  shipit rollback --stack my-site                        the previous release\n  shipit rollback 20261121T193005Z --stack my-site       a release by id (a prefix is enough)"
    )]
    Rollback(RollbackArgs),
    /// Break the deploy lock a killed run left behind.
    Unlock(SiteArgs),
    /// Set, once per account and region, what shipit's stacks need and must not own: API
    /// Gateway's CloudWatch Logs role and the bucket large stack templates reach CloudFormation
    /// through (the `shipit-bootstrap` stack). Run it with an administrator's credentials; it
    /// changes nothing when both are there already.
    #[command(
        after_help = "Examples:\n  shipit bootstrap --region eu-west-1        once per account and region, before the first deploy\n  shipit bootstrap --region eu-west-1 --json"
    )]
    Bootstrap(BootstrapArgs),
    /// The stack's parameters: SSM SecureStrings under /shipit/STACK/, which an API in
    /// containers gets as secrets of its tasks (a deploy rolls a changed value out). Values
    /// are never printed, except by `get --show`.
    #[command(
        after_help = "Examples:\n  printf %s \"$TOKEN\" | shipit params set API_TOKEN --stack my-site   the value from standard input\n  shipit params set API_TOKEN --from-env TOKEN --stack my-site\n  shipit params list --stack my-site                 names and versions\n  shipit params get API_TOKEN --show --stack my-site\n  shipit params delete API_TOKEN --stack my-site      the tasks without it first, then the parameter"
    )]
    Params(ParamsArgs),
    /// Print a shell completion script: `shipit completions bash > /etc/bash_completion.d/shipit`.
    Completions(CompletionsArgs),
}

/// Which deployed site: a stack's, or a bucket (and prefix).
#[derive(Debug, Args, Clone)]
pub struct SiteArgs {
    /// The stack whose site bucket to use.
    #[arg(long, env = "SHIPIT_STACK", conflicts_with = "bucket")]
    pub stack: Option<String>,
    /// The bucket (without a stack).
    #[arg(long, env = "SHIPIT_BUCKET")]
    pub bucket: Option<String>,
    /// Key prefix inside the bucket.
    #[arg(long, env = "SHIPIT_PREFIX")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The release to restore (an id from `shipit releases`, or its prefix); default the
    /// previous one.
    pub id: Option<String>,
    #[command(flatten)]
    pub site: SiteArgs,
    /// The CloudFront distribution (without a stack).
    #[arg(long, env = "SHIPIT_DISTRIBUTION_ID", value_name = "ID")]
    pub distribution_id: Option<String>,
    /// Do not invalidate CloudFront.
    #[arg(long)]
    pub no_invalidate: bool,
    /// Do not delete what the restored release does not have.
    #[arg(long)]
    pub no_prune: bool,
    /// Do not verify the site before pruning.
    #[arg(long)]
    pub no_verify: bool,
    /// Seconds to wait for another run's deploy lock.
    #[arg(long, value_name = "SECONDS")]
    pub lock_wait: Option<u64>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository's root.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,
    /// The stack name (default: from the directory's name).
    #[arg(long)]
    pub stack: Option<String>,
    /// Where the build writes the site, relative to the root (default: guessed, e.g. dist).
    #[arg(long, value_name = "DIR")]
    pub build_dir: Option<String>,
    /// The AWS region for the stack.
    #[arg(long, default_value = "us-east-1")]
    pub aws_region: String,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Minutes to wait for CloudFormation.
    #[arg(long, value_name = "MINUTES")]
    pub stack_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ParamsArgs {
    #[command(subcommand)]
    pub action: ParamsAction,
    /// The stack whose parameters these are (default: [stack] name).
    #[arg(long, env = "SHIPIT_STACK", global = true)]
    pub stack: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ParamsAction {
    /// Set a parameter (a SecureString) from standard input (one trailing line end dropped),
    /// or from --from-env; prints its new version.
    Set {
        /// Its name: the tasks' environment variable (letters, digits and _).
        name: String,
        /// Read the value from this environment variable instead of standard input.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// Show a parameter's version; --show prints its value on stdout.
    Get {
        name: String,
        /// Print the value.
        #[arg(long)]
        show: bool,
    },
    /// List the stack's parameters: names and versions, never values.
    List,
    /// Delete a parameter: first the stack's tasks are rolled out without it (a stack update,
    /// with the stack's own template and parameters), then it is deleted, so no task that
    /// starts meanwhile asks for it.
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

impl Command {
    /// The subcommand's name, for messages and the job summary.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Deploy(_) => "deploy",
            Command::Plan(_) => "plan",
            Command::Destroy(_) => "destroy",
            Command::Verify(_) => "verify",
            Command::Preview(_) => "preview",
            Command::Init(_) => "init",
            Command::Releases(_) => "releases",
            Command::Rollback(_) => "rollback",
            Command::Unlock(_) => "unlock",
            Command::Bootstrap(_) => "bootstrap",
            Command::Params(_) => "params",
            Command::Completions(_) => "completions",
        }
    }
}

/// Where and how to verify a site.
#[derive(Debug, Args, Clone, Default)]
pub struct CheckArgs {
    /// The site's URL (default: the stack's SiteUrl output; with a local cloud, the URL of
    /// `shipit preview --stack`).
    #[arg(long, env = "SHIPIT_SITE_URL", value_name = "URL")]
    pub url: Option<String>,
    /// An object's URL straight from the bucket, which must refuse anonymous reads (default:
    /// the stack's bucket's index.html).
    #[arg(long, value_name = "URL")]
    pub s3_url: Option<String>,
    /// The API's base URL (default: the stack's ApiUrl output).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// A client-side route that must answer with the SPA shell (repeatable; default: a random
    /// path three segments deep).
    #[arg(long = "deep-route", value_name = "PATH")]
    pub deep_routes: Vec<String>,
    /// Seconds to keep retrying failing checks (propagation takes a while on a new deploy).
    #[arg(long, value_name = "SECONDS")]
    pub verify_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The stack whose site to verify.
    #[arg(long, env = "SHIPIT_STACK")]
    pub stack: Option<String>,
    /// The build that was deployed: the served index.html must be this one's.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The build directory to serve (omit with --stack).
    pub dir: Option<PathBuf>,
    /// Serve this stack as deployed to the local cloud (its distribution, from its private
    /// bucket, as OAC reads it) instead of a directory.
    #[arg(long, env = "SHIPIT_STACK", conflicts_with = "dir")]
    pub stack: Option<String>,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// With --stack: the port of the stack's API (API Gateway, Cognito authorizer, Lambda run
    /// locally) on 127.0.0.1 (0: any free port). Its URL is the second line on stdout.
    #[arg(long, default_value_t = 8788)]
    pub api_port: u16,
    /// The template whose distribution to emulate for a directory (default: the embedded one).
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// A template parameter, KEY=VALUE (repeatable), e.g. --parameter SpaFallback=false.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// Stop when standard input closes (for scripts and test harnesses holding the pipe).
    #[arg(long)]
    pub watch_stdin: bool,
}

#[derive(Debug, Args, Default)]
pub struct StackArgs {
    /// The CloudFormation stack that owns the site (created or updated first; the bucket
    /// comes from its outputs).
    #[arg(long, env = "SHIPIT_STACK", conflicts_with = "bucket")]
    pub stack: Option<String>,
    /// A template instead of the embedded stack/shipit.yaml.
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// A stack parameter, KEY=VALUE (repeatable), e.g. --parameter EnableApi=false.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// Stack parameters in the AWS CLI's JSON format (stack/parameters.json has them all).
    #[arg(long, value_name = "PATH")]
    pub parameters_file: Option<PathBuf>,
    /// Allow a change set that replaces or removes a stateful resource (RDS, DynamoDB, buckets).
    #[arg(long)]
    pub allow_replace: bool,
    /// Delete a stack whose first create failed (ROLLBACK_COMPLETE) and create it again.
    #[arg(long)]
    pub recreate: bool,
    /// Minutes to wait for CloudFormation.
    #[arg(long, value_name = "MINUTES")]
    pub stack_timeout: Option<u64>,
    /// A service role CloudFormation uses to create the resources (least privilege: the
    /// deploying identity then needs only iam:PassRole for it; see stack/README.md).
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The stack to delete.
    #[arg(long, env = "SHIPIT_STACK")]
    pub stack: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The service role CloudFormation deletes the resources with.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Minutes to wait for CloudFormation.
    #[arg(long, value_name = "MINUTES")]
    pub stack_timeout: Option<u64>,
    /// Lift the database's deletion protection and let CloudFormation delete it (a final
    /// snapshot is kept). An administrator's act: no shipit role may do it.
    #[arg(long)]
    pub delete_database: bool,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The build directory (e.g. ./dist).
    pub dir: PathBuf,
    /// Target bucket (without --stack).
    #[arg(long, env = "SHIPIT_BUCKET")]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Key prefix inside the bucket, e.g. `site/`.
    #[arg(long, env = "SHIPIT_PREFIX")]
    pub prefix: Option<String>,
    /// The API's function code (a directory; `[api] source`): packaged, with its
    /// requirements.txt vendored for Lambda, and shipped with the stack.
    #[arg(long, env = "SHIPIT_API_SOURCE", value_name = "DIR")]
    pub api_source: Option<PathBuf>,
    /// The container image the API runs (`[api] backend = "container"`; `[api] image`): an ECR
    /// image your CI pushed, pinned by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME@sha256:…).
    #[arg(long, env = "SHIPIT_IMAGE", value_name = "URI")]
    pub image: Option<String>,
    /// Move this share (1-99) of the API's traffic to its new version first, check the API
    /// through its public URL for `[api] canary_seconds` (default 60), then move all of it.
    #[arg(long, value_name = "PERCENT")]
    pub canary: Option<u8>,
    /// Deploy a directory that has no index.html at its root.
    #[arg(long)]
    pub allow_missing_index: bool,
    /// Upload source maps (`*.map`), which are left out by default: they publish the
    /// original source.
    #[arg(long)]
    pub include_source_maps: bool,
    /// Also compare headers by asking S3 for every object instead of trusting shipit's
    /// manifest (finds headers edited outside shipit).
    #[arg(long)]
    pub full_check: bool,
    /// Do not delete keys the build no longer has.
    #[arg(long)]
    pub no_prune: bool,
    /// Allow a prune above the cap (count or share of the objects under the prefix).
    #[arg(long)]
    pub allow_large_prune: bool,
    /// The CloudFront distribution in front of the bucket (without --stack; with a stack it
    /// comes from the DistributionId output).
    #[arg(long, env = "SHIPIT_DISTRIBUTION_ID", value_name = "ID")]
    pub distribution_id: Option<String>,
    /// Do not invalidate CloudFront after the upload.
    #[arg(long)]
    pub no_invalidate: bool,
    /// Wait until the invalidation completes (with a deadline) before pruning.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait for another run's deploy lock before giving up (default 120).
    #[arg(long, value_name = "SECONDS")]
    pub lock_wait: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Writes in flight at once, fixed (unset, it starts at 32 and adapts).
    #[arg(long, env = "SHIPIT_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Do not verify the site before pruning.
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub check: CheckArgs,
}
