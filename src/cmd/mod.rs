//! The commands, one module each: resolve settings once, build the clients, call the pipeline,
//! print through `output`. What several share is here.

pub(crate) mod deploy;
pub(crate) mod init;
pub(crate) mod params;
pub(crate) mod plan;
pub(crate) mod preview;
pub(crate) mod releases;
pub(crate) mod stack;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::output::term::Terminal;
use shipit_aws::cdn::Cdn;
use shipit_aws::cfn::Cfn;
use shipit_aws::s3::Store;
use shipit_aws::SdkConfig;
use shipit_core::error::{Error, Result};
use shipit_core::settings::{Connection, Settings, SiteTarget};
use shipit_engine::pipeline::lock::Lock;
use shipit_engine::ports::{ObjectStore, Reporter};

/// The AWS clients of one run: the composition root where the SDK meets the interfaces.
/// The most one of the preflight's read-only calls may take.
const PREFLIGHT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long a custom endpoint has to say whether it is shipit's local cloud.
const LOCAL_CLOUD_PROBE: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) struct Clients {
    sdk: SdkConfig,
    conn: Connection,
}

impl Clients {
    /// Loads the SDK configuration and checks that credentials resolve.
    pub(crate) async fn connect(conn: &Connection) -> Result<Clients> {
        Ok(Clients {
            sdk: shipit_aws::load(conn).await?,
            conn: conn.clone(),
        })
    }

    pub(crate) fn store(&self, bucket: &str, prefix: &str) -> Arc<dyn ObjectStore> {
        Arc::new(Store::new(&self.sdk, &self.conn, bucket, prefix))
    }

    /// The store of a bucket given up front (none with a stack: its outputs name the bucket),
    /// so it can be listed while the build hashes.
    pub(crate) fn given_bucket(&self, settings: &Settings) -> Option<Arc<dyn ObjectStore>> {
        match &settings.target {
            SiteTarget::Bucket(b) => Some(self.store(b, &settings.prefix)),
            SiteTarget::Stack(_) => None,
        }
    }

    pub(crate) fn cfn(&self) -> Cfn {
        Cfn::new(&self.sdk, &self.conn)
    }

    pub(crate) fn cdn(&self) -> Cdn {
        Cdn::new(&self.sdk, &self.conn)
    }

    /// Signed calls to the APIs shipit reaches without an SDK crate (the preflight's, SSM,
    /// ECR); with a custom endpoint (the local cloud), every one is there. Each call gets a
    /// short deadline of its own: a stalled endpoint fails that call in seconds, not after the
    /// whole operation timeout.
    fn signed(&self) -> Result<shipit_aws::signed::Signed> {
        let endpoint = self.conn.endpoints.cloudformation.as_deref();
        let deadline = self.conn.timeouts.operation.min(PREFLIGHT_CALL_TIMEOUT);
        shipit_aws::signed::Signed::new(&self.sdk, endpoint, deadline)
            .map_err(shipit_core::error::Error::aws)
    }

    /// The account as the preflight reads it.
    pub(crate) fn account(&self) -> Result<shipit_aws::account::Account> {
        Ok(shipit_aws::account::Account::new(self.signed()?))
    }

    /// Lambda: the SDK's, with the stack's pre-traffic gate (`gate`, its `PreTrafficGateName`
    /// output); on shipit's local cloud (asked, not assumed from a custom endpoint) the gate is
    /// run by shipit's local Lambda runtime, as moto runs no code without Docker.
    pub(crate) async fn functions(
        &self,
        gate: Option<&str>,
    ) -> Result<Box<dyn shipit_engine::ports::Functions>> {
        let lambda = shipit_aws::lambda::Lambda::new(&self.sdk, &self.conn);
        let Some(endpoint) = &self.conn.endpoints.lambda else {
            return Ok(Box::new(lambda.with_gate(gate)));
        };
        let http = shipit_engine::http::Client::new(LOCAL_CLOUD_PROBE)
            .map_err(shipit_core::error::Error::Internal)?;
        if !shipit_engine::http::is_local_cloud(&http, endpoint).await {
            return Ok(Box::new(lambda.with_gate(gate)));
        }
        Ok(Box::new(local_cloud::servers::invoke::LocalFunctions::new(
            lambda,
            endpoint,
            &self.region(),
            local_cloud::model::lambda::Runtimes::from_env(|k| std::env::var(k).ok()),
            gate,
        )?))
    }

    /// SSM Parameter Store: a stack's parameters (`shipit params`, and a container backend's
    /// deploy, which lists their names and versions).
    pub(crate) fn parameters(&self) -> Result<shipit_aws::ssm::Ssm> {
        Ok(shipit_aws::ssm::Ssm::new(self.signed()?))
    }

    /// ECR, on shipit's local cloud only (asked, not assumed from a custom endpoint): where a
    /// deploy publishes `[api] local_command` as a stand-in image. None on AWS.
    pub(crate) async fn local_registry(&self) -> Result<Option<shipit_aws::ecr::Ecr>> {
        let Some(endpoint) = self.conn.endpoints.cloudformation.as_deref() else {
            return Ok(None);
        };
        let http = shipit_engine::http::Client::new(LOCAL_CLOUD_PROBE)
            .map_err(shipit_core::error::Error::Internal)?;
        if !shipit_engine::http::is_local_cloud(&http, endpoint).await {
            return Ok(None);
        }
        Ok(Some(shipit_aws::ecr::Ecr::new(self.signed()?)))
    }

    pub(crate) fn region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    pub(crate) fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }
}

/// A deployed site: its store (the bucket from the stack's outputs, or given) and the
/// stack's outputs.
pub(crate) struct Site {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) outputs: Option<BTreeMap<String, String>>,
}

/// Opens a deployed site: with a stack, its outputs name the bucket (the stack is only read).
pub(crate) async fn open_site(
    clients: &Clients,
    target: &SiteTarget,
    prefix: &str,
) -> Result<Site> {
    let (bucket, outputs) = match target {
        SiteTarget::Stack(s) => {
            let info = clients
                .cfn()
                .describe(&s.name)
                .await?
                .ok_or_else(|| Error::Stack {
                    message: format!("stack {} does not exist", s.name),
                    hint: "deploy it first: shipit deploy ./dist --stack NAME".into(),
                })?;
            (
                shipit_engine::pipeline::ship::site_bucket(&s.name, &info.outputs)?,
                Some(info.outputs),
            )
        }
        SiteTarget::Bucket(b) => (b.clone(), None),
    };
    Ok(Site {
        store: clients.store(&bucket, prefix),
        outputs,
    })
}

/// Releases the deploy lock; a failure to is a warning (it expires by itself).
pub(crate) async fn unlock(lock: Lock, reporter: &dyn Reporter) {
    shipit_engine::pipeline::lock::release_or_warn(lock, reporter).await
}

/// Appends the run's job summary in GitHub Actions (a failure to write it is only a warning).
pub(crate) fn job_summary(reporter: &Terminal, s: &crate::output::gha::JobSummary) {
    if !reporter.github() {
        return;
    }
    let path = std::env::var("GITHUB_STEP_SUMMARY").ok();
    if let Err(e) = crate::output::gha::append_summary(path, &crate::output::gha::markdown(s)) {
        reporter.warn(&format!("cannot write the job summary: {e}"));
    }
}

impl shipit_engine::pipeline::ship::Lambdas for Clients {
    fn with_gate<'a>(
        &'a self,
        gate: Option<&'a str>,
    ) -> shipit_engine::ports::Call<'a, Box<dyn shipit_engine::ports::Functions>> {
        Box::pin(self.functions(gate))
    }
}
