//! Command-line definitions only: what a user can type. Turning these into settings is
//! `config`'s job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shipit",
    version,
    about = "Deploy a static site to S3 by content hash: only what changed, assets before HTML, deletes last.",
    after_help = "Examples:\n  shipit plan ./dist --bucket my-site          show what a deploy would do\n  shipit deploy ./dist --bucket my-site        upload, update headers, prune\n  shipit deploy ./dist --bucket my-site --json  the summary as JSON on stdout\n\nExit codes: 0 ok, 1 bug, 2 usage/config, 3 build refused, 4 safety cap, 5 credentials, 6 AWS failure."
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
    /// Show what `deploy` would do, with a reason for every action; writes nothing.
    Plan(TargetArgs),
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The build directory (e.g. ./dist).
    pub dir: PathBuf,
    /// Target bucket.
    #[arg(long, env = "SHIPIT_BUCKET")]
    pub bucket: Option<String>,
    /// Key prefix inside the bucket, e.g. `site/`.
    #[arg(long, env = "SHIPIT_PREFIX")]
    pub prefix: Option<String>,
    /// Deploy a directory that has no index.html at its root.
    #[arg(long)]
    pub allow_missing_index: bool,
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
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Requests in flight at once.
    #[arg(long, env = "SHIPIT_CONCURRENCY")]
    pub concurrency: Option<usize>,
}
