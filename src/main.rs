//! The `shipit` binary: parse, build the reporter, run, map the error to an exit code.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use std::collections::BTreeMap;
use std::sync::Arc;

use shipit::cfn::{check_stack_name, Cfn};
use shipit::cli::{Cli, Command, DestroyArgs, PreviewArgs, VerifyArgs};
use shipit::config::{self, Settings, VerifySettings};
use shipit::deploy::{self, Summary};
use shipit::error::{exit, Error, Result};
use shipit::plan::{Op, Plan, Reason};
use shipit::provision::{self, Ensured, Preview};
use shipit::report::{human_bytes, Reporter};
use shipit::s3::Store;
use shipit::verify::run::{local_index_md5, Sources};
use shipit::verify::Report;

fn main() {
    let cli = Cli::parse();
    let reporter = Reporter::from_env(cli.global.quiet, cli.global.verbose, cli.global.no_progress);
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let code = match runtime.block_on(run(&cli, &reporter)) {
        Ok(()) => exit::OK,
        Err(err) => {
            reporter.error(&err.to_string(), err.hint());
            let report = match &err {
                Error::Broken { report, .. } => Some(report.as_ref()),
                _ => None,
            };
            job_summary(
                &reporter,
                &shipit::gha::JobSummary {
                    command: cli.command.name(),
                    verify: report,
                    error: Some((&err.to_string(), err.hint())),
                    ..Default::default()
                },
            );
            if json {
                let mut out = json!({
                    "ok": false,
                    "error": { "kind": err.kind(), "message": err.to_string(), "hint": err.hint(), "exit_code": err.exit_code() }
                });
                if let Some(r) = report {
                    out["verify"] = serde_json::to_value(r).unwrap_or_default();
                }
                print_json(&out);
            }
            err.exit_code()
        }
    };
    // Dropping the runtime would wait for in-flight blocking tasks; we are done with them.
    runtime.shutdown_background();
    std::process::exit(code);
}

async fn run(cli: &Cli, reporter: &Reporter) -> Result<()> {
    let file = config::load_file(cli.global.config.as_deref())?;
    let env = |k: &str| std::env::var(k).ok();
    match &cli.command {
        Command::Plan(target) => {
            let mut settings = config::settings(&cli.global, target, None, file, env)?;
            let started = deploy::start(&settings, reporter).await?;
            let (sdk, local) = (&started.sdk, &started.local);
            let mut preview = None;
            if let Some(stack) = &settings.stack {
                let p = provision::preview(&Cfn::new(sdk, &settings.connection), stack).await?;
                print_preview(&p, cli.global.json, reporter);
                match p.outputs.get("SiteBucketName") {
                    Some(bucket) => settings.bucket = bucket.clone(),
                    None => {
                        reporter.info(&format!(
                            "the stack has no bucket yet: deploy uploads all {} files ({}) after creating it",
                            local.len(),
                            human_bytes(local.iter().map(|f| f.size).sum())
                        ));
                        if cli.global.json {
                            print_json(&json!({ "stack": p, "files": local.len() }));
                        }
                        return Ok(());
                    }
                }
                preview = Some(p);
            }
            let prepared = deploy::prepare(&settings, started, reporter).await?;
            print_plan(
                &prepared.plan,
                &settings,
                preview.as_ref(),
                cli.global.json,
                reporter.verbose() > 0,
            );
            let c = prepared.plan.counts();
            reporter.info(&format!(
                "plan: {} to upload ({}), {} header updates, {} to delete, {} unchanged; nothing was written",
                c.upload,
                human_bytes(c.upload_bytes),
                c.update_headers,
                c.delete,
                c.keep
            ));
            Ok(())
        }
        Command::Deploy(args) => {
            let started = Instant::now();
            let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
            let mut settings =
                config::settings(&cli.global, &args.target, args.concurrency, file, env)?;
            let mut started_scan = deploy::start(&settings, reporter).await?;
            let sdk = started_scan.sdk.clone();
            let mut ensured = None;
            if let Some(stack) = &settings.stack {
                let e = provision::ensure(&Cfn::new(&sdk, &settings.connection), stack, reporter)
                    .await?;
                settings.bucket = site_bucket(&e)?;
                ensured = Some(e);
            }
            settings.cdn.distribution_id = settings.cdn.distribution_id.clone().or_else(|| {
                ensured
                    .as_ref()
                    .and_then(|e| e.outputs.get("DistributionId").cloned())
            });
            let store = Store::new(
                &sdk,
                &settings.connection,
                &settings.bucket,
                &settings.prefix,
            );
            let lock = shipit::lock::acquire(
                &store,
                "deploy",
                settings.lock.ttl,
                settings.lock.wait,
                reporter,
            )
            .await?;
            if lock.waited {
                started_scan.relist();
            }
            let outputs = ensured.as_ref().map(|e| &e.outputs);
            let result = async {
                let prepared = deploy::prepare(&settings, started_scan, reporter).await?;
                let written = deploy::write_all(prepared, &settings, reporter).await?;
                let index_md5 = local_index_md5(&settings.dir);
                finish(
                    &sdk, &settings, &checks, outputs, written, index_md5, reporter,
                )
                .await
            }
            .await;
            unlock(lock, &store, reporter).await;
            let (mut summary, verified) = result?;
            summary.seconds = started.elapsed().as_secs_f64();
            print_summary(&summary, ensured.as_ref(), reporter);
            if let Some(r) = &verified {
                reporter.stage(&format!("site: {}", r.site));
            }
            reporter.close();
            job_summary(
                reporter,
                &shipit::gha::JobSummary {
                    command: "deploy",
                    stack: ensured.as_ref().map(|e| (e.stack.as_str(), e.action)),
                    summary: Some(&summary),
                    verify: verified.as_ref(),
                    error: None,
                },
            );
            if cli.global.json {
                print_json(
                    &json!({ "ok": true, "stack": ensured, "summary": summary, "verify": verified }),
                );
            }
            Ok(())
        }
        Command::Destroy(args) => destroy(cli, args, &file, reporter).await,
        Command::Verify(args) => verify_command(cli, args, &file, reporter).await,
        Command::Preview(args) => preview(cli, args, &file, reporter).await,
        Command::Init(args) => init(args, reporter),
        Command::Releases(args) => releases_command(cli, args, &file, reporter).await,
        Command::Rollback(args) => rollback(cli, args, file, reporter).await,
        Command::Unlock(args) => {
            let site = open_site(cli, args, &file).await?;
            match site.store.read_lock().await? {
                None => reporter.stage("no deploy lock is held"),
                Some((body, _)) => {
                    site.store.delete_lock(None).await?;
                    reporter.stage(&format!(
                        "broke the deploy lock: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
            Ok(())
        }
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "shipit", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// A deployed site: its bucket (from the stack's outputs, or given) and the stack's outputs.
struct Site {
    sdk: aws_config::SdkConfig,
    store: Store,
    bucket: String,
    outputs: Option<BTreeMap<String, String>>,
}

async fn open_site(
    cli: &Cli,
    args: &shipit::cli::SiteArgs,
    file: &config::FileConfig,
) -> Result<Site> {
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let sdk = shipit::aws::load(&conn).await?;
    let prefix = config::normalise_prefix(
        args.prefix
            .as_deref()
            .or(file.prefix.as_deref())
            .unwrap_or(""),
    );
    let (bucket, outputs) = match (
        args.stack.clone().or(file.stack.name.clone()),
        args.bucket.clone().or(file.bucket.clone()),
    ) {
        (Some(name), _) => {
            check_stack_name(&name)?;
            let info = Cfn::new(&sdk, &conn)
                .describe(&name)
                .await?
                .ok_or_else(|| Error::Stack {
                    message: format!("stack {name} does not exist"),
                    hint: "deploy it first: shipit deploy ./dist --stack NAME".into(),
                })?;
            let bucket =
                info.outputs
                    .get("SiteBucketName")
                    .cloned()
                    .ok_or_else(|| Error::Stack {
                        message: format!("stack {name} has no SiteBucketName output"),
                        hint: "is it a shipit stack?".into(),
                    })?;
            (bucket, Some(info.outputs))
        }
        (None, Some(bucket)) => (bucket, None),
        (None, None) => {
            return Err(Error::config_hint(
                "no stack or bucket given",
                "pass --stack NAME or --bucket NAME",
            ))
        }
    };
    Ok(Site {
        store: Store::new(&sdk, &conn, &bucket, &prefix),
        sdk,
        bucket,
        outputs,
    })
}

async fn releases_command(
    cli: &Cli,
    args: &shipit::cli::SiteArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let site = open_site(cli, args, file).await?;
    let (releases, manifest) = tokio::try_join!(site.store.releases(), site.store.get_manifest())?;
    let live = manifest.and_then(|m| m.release);
    if cli.global.json {
        let list: Vec<serde_json::Value> = releases
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "created_at": r.created_at, "commit": r.commit, "source": r.source,
                    "files": r.files.len(), "live": Some(&r.id) == live.as_ref(),
                })
            })
            .collect();
        print_json(&json!({ "ok": true, "bucket": site.bucket, "releases": list }));
        return Ok(());
    }
    if releases.is_empty() {
        reporter.stage(&format!("no releases recorded in s3://{}", site.bucket));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for r in &releases {
        let _ = writeln!(
            out,
            "{} {:<32} {:>5} files  {:<12} {}",
            if Some(&r.id) == live.as_ref() {
                "*"
            } else {
                " "
            },
            r.id,
            r.files.len(),
            r.commit
                .as_deref()
                .map(|c| &c[..c.len().min(12)])
                .unwrap_or("-"),
            r.source
        );
    }
    Ok(())
}

/// `shipit rollback [ID]`: the release's files back from the bucket's versions, as a deploy.
async fn rollback(
    cli: &Cli,
    args: &shipit::cli::RollbackArgs,
    file: config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let started = Instant::now();
    let checks = config::verify_settings(&args.check, &file.verify, args.no_verify)?;
    let site = open_site(cli, &args.site, &file).await?;
    let target = shipit::cli::TargetArgs {
        dir: ".".into(),
        bucket: Some(site.bucket.clone()),
        stack: shipit::cli::StackArgs::default(),
        prefix: args.site.prefix.clone(),
        allow_missing_index: true,
        full_check: false,
        no_prune: args.no_prune,
        allow_large_prune: false,
        distribution_id: args.distribution_id.clone().or_else(|| {
            site.outputs
                .as_ref()
                .and_then(|o| o.get("DistributionId").cloned())
        }),
        no_invalidate: args.no_invalidate,
        wait: false,
        lock_wait: args.lock_wait,
    };
    let mut file = file;
    file.stack.name = None; // the stack is only read: its bucket is already resolved
    file.bucket = None;
    let settings = config::settings(&cli.global, &target, None, file, |k| std::env::var(k).ok())?;
    let store = &site.store;
    let lock = shipit::lock::acquire(
        store,
        "rollback",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    let result = async {
        let (releases, manifest) = tokio::try_join!(store.releases(), store.get_manifest())?;
        let live = manifest.map(|m| m.files).unwrap_or_default();
        let release = shipit::release::rollback_target(&releases, &live, args.id.as_deref())
            .map_err(|why| Error::Refused {
                message: format!("cannot roll back: {why}"),
                hint: "`shipit releases` lists what can be restored".into(),
            })?
            .clone();
        reporter.stage(&format!(
            "rolling back to release {} ({}, {} files)",
            release.id,
            release.source,
            release.files.len()
        ));
        let index_md5 = release.files.get("index.html").map(|e| e.md5.clone());
        let started_from = deploy::Started::from_release(site.sdk.clone(), release)?;
        let prepared = deploy::prepare(&settings, started_from, reporter).await?;
        let written = deploy::write_all(prepared, &settings, reporter).await?;
        finish(
            &site.sdk,
            &settings,
            &checks,
            site.outputs.as_ref(),
            written,
            index_md5,
            reporter,
        )
        .await
    }
    .await;
    unlock(lock, store, reporter).await;
    let (mut summary, verified) = result?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, None, reporter);
    reporter.close();
    job_summary(
        reporter,
        &shipit::gha::JobSummary {
            command: "rollback",
            summary: Some(&summary),
            verify: verified.as_ref(),
            ..Default::default()
        },
    );
    if cli.global.json {
        print_json(&json!({ "ok": true, "summary": summary, "verify": verified }));
    }
    Ok(())
}

/// `shipit init`: asks on a terminal, uses flags and guesses otherwise.
fn init(args: &shipit::cli::InitArgs, reporter: &Reporter) -> Result<()> {
    use shipit::init;
    let root = &args.root;
    if !root.is_dir() {
        return Err(Error::input(
            "not a directory",
            root,
            Some("--root is the repository's root"),
        ));
    }
    let name = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let (guessed_dir, npm_dir) = init::suggest_build_dir(root);
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let ask = |question: &str, default: String| -> Result<String> {
        if !tty {
            return Ok(default);
        }
        eprint!("{question} [{default}]: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Error::Internal(format!("reading the answer: {e}")))?;
        let answer = answer.trim();
        Ok(if answer.is_empty() {
            default
        } else {
            answer.to_string()
        })
    };
    let stack = match &args.stack {
        Some(s) => s.clone(),
        None => ask("Stack name", init::suggest_stack(&name))?,
    };
    check_stack_name(&stack)?;
    let build_dir = match &args.build_dir {
        Some(d) => d.clone(),
        None => ask("Build output directory", guessed_dir)?,
    };
    let answers = init::Answers {
        stack,
        build_dir,
        npm_dir,
        region: args.aws_region.clone(),
    };
    for path in init::write(root, &init::files(&answers), args.force)? {
        reporter.info(&format!("wrote {}", path.display()));
    }
    reporter.stage(&format!(
        "next: set the repository variable AWS_DEPLOY_ROLE_ARN (see stack/README.md for the role), then `shipit deploy {} --stack {}` or push to main",
        answers.build_dir, answers.stack
    ));
    Ok(())
}

/// Releases the deploy lock; a failure to is a warning (it expires by itself).
async fn unlock(lock: shipit::lock::Lock, store: &Store, reporter: &Reporter) {
    if let Err(e) = lock.release(store).await {
        reporter.warn(&format!(
            "could not release the deploy lock ({e}); it expires by itself, or `shipit unlock`"
        ));
    }
}

/// Everything after the writes, shared by deploy and rollback: invalidate what is stale,
/// verify the site, record that the CDN caught up, prune, and record the release.
async fn finish(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    checks: &VerifySettings,
    outputs: Option<&BTreeMap<String, String>>,
    mut written: deploy::Written,
    index_md5: Option<String>,
    reporter: &Reporter,
) -> Result<(Summary, Option<Report>)> {
    let invalidation = match &settings.cdn.distribution_id {
        Some(d) if settings.cdn.invalidate => {
            invalidate(sdk, settings, d, &written.stale, reporter).await?
        }
        Some(_) if !written.stale.is_empty() => {
            reporter.warn(&format!(
                "not invalidating (--no-invalidate): {} changed keys may be served stale; the next deploy invalidates them",
                written.stale.len()
            ));
            None
        }
        _ => None,
    };
    let verified = if checks.enabled {
        verify_deploy(sdk, settings, checks, outputs, index_md5, reporter).await?
    } else {
        reporter.info("verification off (--no-verify)");
        None
    };
    if settings.cdn.invalidate {
        deploy::settle(&mut written).await?;
    }
    let release = written.new_release().cloned();
    let store = written.store.clone();
    let mut summary = deploy::prune(written, settings, reporter).await?;
    if let Some(r) = &release {
        store.put_release(r).await?;
        reporter.info(&format!("release {} recorded", r.id));
    }
    summary.release = release.map(|r| r.id);
    if let Some((id, paths)) = invalidation {
        summary.invalidation_id = Some(id);
        summary.invalidated_paths = paths;
    }
    Ok((summary, verified))
}

/// The failure a broken site is reported as.
fn broken(report: &Report, after_deploy: bool) -> Error {
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.outcome == shipit::verify::Outcome::Fail)
        .map(|c| c.name)
        .collect();
    Error::Broken {
        message: format!(
            "{} failed verification after {} attempts: {}{}",
            report.site,
            report.attempts,
            failing.join(", "),
            if after_deploy {
                "; nothing was pruned"
            } else {
                ""
            }
        ),
        hint: "each failure's cause is printed above; fix it and run `shipit verify` again".into(),
        report: Box::new(report.clone()),
    }
}

fn region_of(sdk: &aws_config::SdkConfig) -> String {
    sdk.region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into())
}

async fn run_checks(
    target: &shipit::verify::run::Target,
    checks: &VerifySettings,
    reporter: &Reporter,
) -> Result<Report> {
    reporter.stage(&format!("verifying {}", target.site));
    shipit::verify::run::verify(target, checks.timeout, reporter)
        .await
        .map_err(Error::Internal)
}

/// The last gate before pruning: is the site we just deployed working?
async fn verify_deploy(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    checks: &VerifySettings,
    outputs: Option<&BTreeMap<String, String>>,
    index_md5: Option<String>,
    reporter: &Reporter,
) -> Result<Option<Report>> {
    let region = region_of(sdk);
    let target = shipit::verify::run::target(Sources {
        settings: checks,
        outputs,
        s3_endpoint: settings.connection.endpoints.s3.as_deref(),
        region: &region,
        bucket: Some(&settings.bucket),
        prefix: &settings.prefix,
        rules: settings.rules.clone(),
        index_md5,
    });
    let target = match target {
        Ok(t) => t,
        Err(why) => {
            reporter.warn(&format!("not verified: {why}"));
            return Ok(None);
        }
    };
    let report = run_checks(&target, checks, reporter).await?;
    for line in report.table().lines() {
        reporter.info(line);
    }
    if report.ok {
        Ok(Some(report))
    } else {
        Err(broken(&report, true))
    }
}

async fn verify_command(
    cli: &Cli,
    args: &VerifyArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let checks = config::verify_settings(&args.check, &file.verify, false)?;
    let stack = args.stack.clone().or(file.stack.name.clone());
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let rules = shipit::headers::HeaderRules::new(&file.headers)?;
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
    if let Some(name) = &stack {
        check_stack_name(name)?;
        let sdk = shipit::aws::load(&conn).await?;
        let info = Cfn::new(&sdk, &conn)
            .describe(name)
            .await?
            .ok_or_else(|| Error::Stack {
                message: format!("stack {name} does not exist"),
                hint: "deploy it first: shipit deploy ./dist --stack NAME".into(),
            })?;
        bucket = info.outputs.get("SiteBucketName").cloned();
        if let (None, Some(b)) = (&index_md5, &bucket) {
            // What the bucket holds is what was deployed last.
            let store = shipit::s3::Store::new(&sdk, &conn, b, &prefix);
            match store.head("index.html").await {
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
        outputs = Some(info.outputs);
        region = Some(region_of(&sdk));
    }
    let region = region
        .or(conn.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let target = shipit::verify::run::target(Sources {
        settings: &checks,
        outputs: outputs.as_ref(),
        s3_endpoint: conn.endpoints.s3.as_deref(),
        region: &region,
        bucket: bucket.as_deref(),
        prefix: &prefix,
        rules,
        index_md5,
    })
    .map_err(|why| Error::config_hint("nothing to verify", why))?;
    let report = run_checks(&target, &checks, reporter).await?;
    if !cli.global.json {
        print!("{}", report.table());
    }
    if !report.ok {
        return Err(broken(&report, false));
    }
    if cli.global.json {
        print_json(&json!({ "ok": true, "verify": report }));
    }
    reporter.close();
    job_summary(
        reporter,
        &shipit::gha::JobSummary {
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
            .filter(|c| c.outcome == shipit::verify::Outcome::Pass)
            .count()
    ));
    Ok(())
}

/// `shipit preview`: the local edge, for a directory or a stack in the local cloud.
async fn preview(
    cli: &Cli,
    args: &PreviewArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    use shipit::edge::serve::{self, Edge, Origin, Source, StackSource, OAC_ACCESS_KEY};
    let stack = args.stack.clone();
    let (source, what) = match stack {
        Some(name) => {
            check_stack_name(&name)?;
            let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
                std::env::var(k).ok()
            });
            let Some(endpoint) = conn.endpoints.cloudfront.clone() else {
                return Err(Error::config_hint(
                    "preview --stack serves a stack from the local cloud",
                    "set AWS_ENDPOINT_URL (or --endpoint-url) to the local cloud (scripts/local-cloud); on AWS, CloudFront serves the stack: use `shipit verify --stack`",
                ));
            };
            let sdk = shipit::aws::load(&conn).await?;
            let oac = aws_sdk_s3::config::Credentials::new(
                OAC_ACCESS_KEY,
                "shipit-local-edge",
                None,
                None,
                "shipit-edge",
            );
            let source = Source::Stack(Box::new(StackSource {
                stack: name.clone(),
                cfn: Cfn::new(&sdk, &conn),
                cdn: shipit::cdn::Cdn::new(&sdk, &conn),
                s3: shipit::s3::client_with(&sdk, &conn, Some(oac)),
                http: shipit::http::Client::new(Duration::from_secs(10))
                    .map_err(Error::Internal)?,
                registry_url: format!("{}/_shipit/resources", endpoint.trim_end_matches('/')),
            }));
            (source, format!("stack {name} (from the local cloud)"))
        }
        None => {
            let dir = args.dir.clone().unwrap_or_else(|| ".".into());
            if !dir.is_dir() {
                return Err(Error::input(
                    "not a build directory",
                    &dir,
                    Some("pass the directory your build writes (e.g. ./dist), or --stack NAME"),
                ));
            }
            if !dir.join("index.html").is_file() {
                reporter.warn(&format!(
                    "{} has no index.html: the apex and client-side routes will answer 404",
                    dir.display()
                ));
            }
            let template = shipit::template::Template::load(
                args.template.as_deref().or(file.stack.template.as_deref()),
            )?;
            let mut explicit: BTreeMap<String, String> = file.stack.parameters.clone();
            for a in &args.parameters {
                let (k, v) = shipit::template::parse_assignment(a)?;
                explicit.insert(k, v);
            }
            let params = template.resolve_parameters(&explicit)?;
            let config = shipit::edge::source::from_template(&template, params).map_err(|e| {
                Error::config_hint(
                    format!("cannot emulate the template's distribution: {e}"),
                    "preview emulates stack/shipit.yaml's distribution; check --template",
                )
            })?;
            let rules = shipit::headers::HeaderRules::new(&file.headers)?;
            (
                Source::Fixed(
                    Arc::new(config),
                    Arc::new(Origin::Dir {
                        root: dir.clone(),
                        rules,
                    }),
                ),
                format!("{} with the template's routing and headers", dir.display()),
            )
        }
    };
    let edge = Arc::new(Edge::new(source, !cli.global.quiet));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let watch_stdin = args.watch_stdin;
    let stop = async move {
        let stdin_closed = async {
            if watch_stdin {
                let _ = tokio::task::spawn_blocking(|| {
                    let mut sink = [0u8; 4096];
                    use std::io::Read;
                    let mut stdin = std::io::stdin();
                    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
                })
                .await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term => {},
            _ = stdin_closed => {},
        }
    };
    serve::run(
        edge,
        addr,
        |bound| {
            println!("http://{bound}");
            let _ = std::io::stdout().flush();
            reporter.stage(&format!("serving {what} on http://{bound} (Ctrl-C stops)"));
        },
        stop,
    )
    .await
    .map_err(|e| {
        Error::config_hint(
            format!("cannot serve on {addr}: {e}"),
            "pick another port with --port (0 takes any free one)",
        )
    })
}

/// Invalidates the stale keys; returns the invalidation id and path count.
async fn invalidate(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    distribution: &str,
    stale: &[String],
    reporter: &Reporter,
) -> Result<Option<(String, usize)>> {
    if stale.is_empty() {
        reporter.info("nothing cached is stale: no invalidation");
        return Ok(None);
    }
    let selection = shipit::invalidate::select(stale, settings.cdn.max_paths);
    reporter.stage(&format!(
        "invalidating {} paths on {distribution} for {} changed keys (free for the first {} paths a month, then ${:.3} for these)",
        selection.paths.len(),
        selection.stale_keys,
        shipit::invalidate::FREE_PATHS_PER_MONTH,
        selection.worst_case_cost()
    ));
    for p in &selection.paths {
        reporter.detail(p);
    }
    let cdn = shipit::cdn::Cdn::new(sdk, &settings.connection);
    let id = cdn
        .invalidate(distribution, &selection.paths, reporter)
        .await?;
    if settings.cdn.wait {
        cdn.wait(distribution, &id, settings.cdn.wait_timeout, reporter)
            .await?;
        reporter.info(&format!("invalidation {id} completed"));
    }
    Ok(Some((id, selection.paths.len())))
}

fn site_bucket(e: &Ensured) -> Result<String> {
    e.outputs
        .get("SiteBucketName")
        .cloned()
        .ok_or_else(|| Error::Stack {
            message: format!("stack {} has no SiteBucketName output", e.stack),
            hint: "a custom --template must output SiteBucketName (the bucket to sync to)".into(),
        })
}

async fn destroy(
    cli: &Cli,
    args: &DestroyArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let name = args
        .stack
        .clone()
        .or(file.stack.name.clone())
        .ok_or_else(|| {
            Error::config_hint(
                "no stack given",
                "pass --stack NAME (or set [stack] name in shipit.toml)",
            )
        })?;
    check_stack_name(&name)?;
    if !args.yes {
        confirm(&name)?;
    }
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let sdk = shipit::aws::load(&conn).await?;
    let minutes = args
        .stack_timeout
        .or(file.stack.timeout_minutes)
        .unwrap_or(config::DEFAULT_STACK_TIMEOUT_MINUTES);
    let destroyed = provision::destroy(
        &Cfn::new(&sdk, &conn),
        &shipit::s3::client(&sdk, &conn),
        &name,
        Duration::from_secs(minutes * 60),
        args.role_arn.as_deref().or(file.stack.role_arn.as_deref()),
        reporter,
    )
    .await?;
    if destroyed.existed {
        reporter.stage(&format!("stack {name} deleted"));
        for r in &destroyed.retained {
            reporter.info(&format!("retained: {r}"));
        }
        if !destroyed.retained.is_empty() {
            reporter.info("retained resources keep their data and their cost; delete them in the console when you no longer need them");
        }
    }
    if cli.global.json {
        print_json(&json!({ "ok": true, "destroyed": destroyed }));
    }
    Ok(())
}

/// Asks on a terminal; refuses without one (CI must say --yes).
fn confirm(name: &str) -> Result<()> {
    let refuse = |why: &str| Error::Refused {
        message: format!("not destroying stack {name}: {why}"),
        hint: "pass --yes to destroy without asking".into(),
    };
    if !std::io::stdin().is_terminal() {
        return Err(refuse(
            "confirmation is needed and there is no terminal to ask on",
        ));
    }
    eprint!("Destroy stack {name}, deleting every object version in its buckets? Type the stack name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::Internal(format!("reading the confirmation: {e}")))?;
    if answer.trim() == name {
        Ok(())
    } else {
        Err(refuse("the name typed did not match"))
    }
}

fn print_preview(p: &Preview, json: bool, reporter: &Reporter) {
    if json {
        return; // part of the plan's JSON
    }
    let mut out = std::io::stdout().lock();
    let status = p.status.as_deref().unwrap_or("does not exist");
    let _ = writeln!(out, "stack {} ({status}): {}", p.stack, p.action);
    for c in &p.changes {
        let _ = writeln!(out, "  {}", c.line());
    }
    if let Some(note) = &p.note {
        reporter.info(note);
    }
}

fn print_plan(plan: &Plan, settings: &Settings, preview: Option<&Preview>, json: bool, all: bool) {
    if json {
        print_json(&json!({
            "stack": preview,
            "bucket": settings.bucket,
            "prefix": settings.prefix,
            "counts": plan.counts(),
            "actions": plan.actions,
        }));
        return;
    }
    let mut out = std::io::stdout().lock();
    for a in &plan.actions {
        if a.op == Op::Keep && !all && a.reason == Reason::Unchanged {
            continue;
        }
        let _ = writeln!(out, "{:<7} {}  ({})", deploy::verb(a.op), a.key, a.reason);
    }
}

fn print_summary(s: &Summary, stack: Option<&Ensured>, reporter: &Reporter) {
    if let Some(e) = stack {
        reporter.info(&format!(
            "stack {}: {}{}",
            e.stack,
            e.action,
            if e.change_set { "" } else { " (no change set)" }
        ));
    }
    reporter.stage(&format!(
        "done in {:.1}s: {} uploaded ({}), {} headers updated, {} deleted, {} unchanged{}",
        s.seconds,
        s.uploaded,
        human_bytes(s.bytes_uploaded),
        s.header_updated,
        s.deleted,
        s.unchanged,
        if s.kept_stale > 0 {
            format!(", {} stale kept (pruning off)", s.kept_stale)
        } else {
            String::new()
        }
    ));
}

/// Appends the run's job summary in GitHub Actions (a failure to write it is only a warning).
fn job_summary(reporter: &Reporter, s: &shipit::gha::JobSummary) {
    if !reporter.github() {
        return;
    }
    let path = std::env::var("GITHUB_STEP_SUMMARY").ok();
    if let Err(e) = shipit::gha::append_summary(path, &shipit::gha::markdown(s)) {
        reporter.warn(&format!("cannot write the job summary: {e}"));
    }
}

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}
