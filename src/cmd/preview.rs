//! `shipit preview`: the local edge, for a build directory or a stack in the local cloud.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, PreviewArgs};
use crate::config;
use crate::output::stdout;
use crate::output::term::Terminal;
use shipit_core::error::{Error, Result};
use shipit_core::stack::check_stack_name;
use shipit_engine::ports::Reporter;

use super::Clients;

/// `shipit preview`: the local edge, for a directory or a stack in the local cloud.
pub(crate) async fn preview(
    cli: &Cli,
    args: &PreviewArgs,
    file: &config::FileConfig,
    reporter: &Arc<Terminal>,
) -> Result<()> {
    use local_cloud::servers::serve::{self, Edge, Origin, Source, StackSource};
    let stack = args.stack.clone();
    let mut local_api = None;
    // The local cloud: where Cognito's sign-in API lives here.
    let mut cloud_endpoint = None;
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
            let clients = Clients::connect(&conn).await?;
            local_api = Some(api_of(&clients, &name, &endpoint, &conn, reporter)?);
            cloud_endpoint = Some(endpoint.trim_end_matches('/').to_string());
            let source = Source::Stack(Box::new(StackSource {
                stack: name.clone(),
                cfn: clients.cfn(),
                cdn: clients.cdn(),
                s3: shipit_aws::s3::OacClient::new(clients.sdk(), &conn),
                http: shipit_engine::http::Client::new(Duration::from_secs(10))
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
            let template = shipit_core::template::Template::load(
                args.template.as_deref().or(file.stack.template.as_deref()),
            )?;
            let mut explicit: BTreeMap<String, String> = file.stack.parameters.clone();
            for a in &args.parameters {
                let (k, v) = shipit_core::template::parse_assignment(a)?;
                explicit.insert(k, v);
            }
            let params = template.resolve_parameters(&explicit)?;
            let config = local_cloud::model::distribution::from_template(&template, params)
                .map_err(|e| {
                    Error::config_hint(
                        format!("cannot emulate the template's distribution: {e}"),
                        "preview emulates stack/shipit.yaml's distribution; check --template",
                    )
                })?;
            let rules = shipit_core::headers::HeaderRules::new(&file.headers)?;
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
    let mut edge = Edge::new(source, reporter.clone());
    if args.stack.is_some() {
        // The file deploy wrote into the stack's site, pointed at this machine's stand-ins.
        let path = file
            .runtime_config
            .as_deref()
            .unwrap_or(shipit_core::runtime_config::DEFAULT_PATH);
        let prefix = config::normalise_prefix(file.prefix.as_deref().unwrap_or(""));
        edge.runtime_config = shipit_core::runtime_config::key_of(path)
            .map_err(|why| Error::config_hint(why, "fix runtime_config in shipit.toml"))?
            .map(|key| format!("/{prefix}{key}"));
    }
    let edge = Arc::new(edge);
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
    use futures::FutureExt;
    let stop = stop.shared();
    // Both ports are bound before either serves: each must know where the other is.
    let bind_error = |addr: std::net::SocketAddr, flag: &str, e: std::io::Error| {
        Error::config_hint(
            format!("cannot serve on {addr}: {e}"),
            format!("pick another port with {flag} (0 takes any free one)"),
        )
    };
    let site_listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, "--port", e))?;
    let site_addr = site_listener
        .local_addr()
        .map_err(|e| bind_error(addr, "--port", e))?;
    let api_listener = match &local_api {
        Some(_) => {
            let api_addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.api_port));
            let l = tokio::net::TcpListener::bind(api_addr)
                .await
                .map_err(|e| bind_error(api_addr, "--api-port", e))?;
            let bound = l
                .local_addr()
                .map_err(|e| bind_error(api_addr, "--api-port", e))?;
            Some((l, bound))
        }
        None => None,
    };
    let origins = local_cloud::model::origins::LocalOrigins {
        site: Some(format!("http://{site_addr}")),
        api: api_listener.as_ref().map(|(_, a)| format!("http://{a}")),
        cloud: cloud_endpoint.clone(),
        distribution: None,
    };
    *edge.origins.write().unwrap_or_else(|e| e.into_inner()) = origins.clone();
    // The site's URL is the first line on stdout, the API's the second.
    stdout::line(&format!("http://{site_addr}"));
    reporter.stage(&format!(
        "serving {what} on http://{site_addr} (Ctrl-C stops)"
    ));
    let site = serve::run(edge, site_listener, stop.clone());
    let api = async {
        let (Some(api), Some((listener, bound))) = (local_api, api_listener) else {
            return;
        };
        *api.origins.write().unwrap_or_else(|e| e.into_inner()) = origins;
        stdout::line(&format!("http://{bound}"));
        reporter.stage(&format!(
            "serving the stack's API on http://{bound} (the path of its ApiUrl, e.g. /live/health: API Gateway, its Cognito authorizer and Lambda, run here)"
        ));
        local_cloud::servers::apigw::run(Arc::new(api), listener, stop.clone()).await
    };
    tokio::join!(site, api);
    Ok(())
}
/// The stack's API, served locally as the stack has it when a request comes.
fn api_of(
    clients: &Clients,
    stack: &str,
    endpoint: &str,
    conn: &shipit_core::settings::Connection,
    reporter: &Arc<Terminal>,
) -> Result<local_cloud::servers::apigw::LocalApi> {
    let region = conn.region.clone().unwrap_or_else(|| "us-east-1".into());
    // What the function's SDK needs to reach the local cloud, as Lambda gives it a region and
    // credentials.
    let aws = local_cloud::servers::invoke::function_env(&region, endpoint);
    let log: Arc<dyn Reporter> = reporter.clone();
    local_cloud::servers::apigw::LocalApi::new(
        clients.cfn(),
        stack,
        endpoint,
        &region,
        local_cloud::model::lambda::Runtimes::from_env(|k| std::env::var(k).ok()),
        aws,
        log,
    )
    .map_err(Error::Internal)
}
