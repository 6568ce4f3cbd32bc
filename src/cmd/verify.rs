//! `shipit verify`: the checks deploy runs before pruning, on their own.

use serde_json::json;

use crate::cli::{Cli, VerifyArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::checks::Outcome;
use shipit_core::error::{Error, Result};
use shipit_core::files::shown;
use shipit_engine::pipeline::finish::{broken, run_checks};
use shipit_engine::pipeline::verify::{local_index_md5, Sources};
use shipit_engine::ports::Reporter;

use super::{job_summary, open_site, Clients};

pub(crate) async fn verify_command(
    cli: &Cli,
    args: &VerifyArgs,
    file: &config::FileConfig,
    reporter: &Terminal,
) -> Result<()> {
    let checks = config::verify_settings(&args.check, &file.verify, false)?;
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let rules = shipit_core::headers::HeaderRules::new(&file.headers)?;
    let prefix = config::normalise_prefix(file.prefix.as_deref().unwrap_or(""));
    let mut index_md5 = args.dir.as_deref().and_then(local_index_md5);
    if let Some(dir) = &args.dir {
        if index_md5.is_none() {
            return Err(Error::input(
                "no index.html to compare with in",
                dir,
                Some("--dir is the build that was deployed"),
            ));
        }
    }
    let (mut outputs, mut bucket, mut region) = (None, file.bucket.clone(), None);
    let (mut runtime_config, mut release) = (None, None);
    if let Some(s) = config::verify_site(&cli.global, args, file, |k| std::env::var(k).ok())? {
        let clients = Clients::connect(&s.connection).await?;
        let site = open_site(&clients, &s.target, &s.prefix).await?;
        if index_md5.is_none() {
            // What the bucket holds is what was deployed last.
            match site.store.head("index.html").await {
                Ok(h) => {
                    index_md5 = h.md5_metadata.map(|m| m.hex()).or(h
                        .etag
                        .filter(|e| e.len() == 32 && !e.contains('-')))
                }
                Err(e) => reporter.warn(&format!(
                    "cannot read the deployed index.html ({e}); the apex is checked without comparing content"
                )),
            }
        }
        region = Some(clients.region());
        bucket = Some(site.store.bucket().to_string());
        outputs = site.outputs;
        runtime_config = config::runtime_config_key(file.runtime_config.as_deref(), &s.target)?;
        if runtime_config.is_some() {
            // The runtime configuration must name the live release.
            release = shipit_engine::pipeline::records::get_manifest(site.store.as_ref())
                .await?
                .and_then(|m| m.release);
        }
    }
    let region = region
        .or(conn.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let target = shipit_engine::pipeline::verify::target(Sources {
        settings: &checks,
        outputs: outputs.as_ref(),
        s3_endpoint: conn.endpoints.s3.as_deref(),
        region: &region,
        bucket: bucket.as_deref(),
        prefix: &prefix,
        rules,
        index_md5,
        runtime_config: runtime_config.as_deref(),
        release,
    })
    .map_err(|why| Error::config_hint("nothing to verify", why))?;
    let report = run_checks(&target, &checks, reporter).await?;
    if !cli.global.json {
        // URLs come from the site's own HTML: each line is shown escaped.
        for line in report.table().lines() {
            stdout::line(&shown(line));
        }
    }
    if !report.ok {
        return Err(broken(&report, false));
    }
    if cli.global.json {
        stdout::json(true, "verify", json!({ "verify": report }));
    }
    reporter.close();
    job_summary(
        reporter,
        &crate::output::gha::JobSummary {
            command: "verify",
            verify: Some(&report),
            ..Default::default()
        },
    );
    reporter.stage(&format!(
        "{} works: {} checks passed",
        report.site,
        report
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Pass)
            .count()
    ));
    Ok(())
}
