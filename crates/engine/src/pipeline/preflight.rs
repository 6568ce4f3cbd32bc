//! The preflight: before the stack is created or changed, ask the account (read-only) what AWS
//! would refuse that the template alone cannot show, and say it all at once, with the fixes,
//! before anything is written. Also the stack's monthly cost by tier. The decisions are
//! `core::preflight`'s; this module reads only the facts the stack's intent needs.

use serde::Serialize;

use crate::ports::{Account, Counted, Reporter, StackService};
use shipit_core::error::{Error, Result};
use shipit_core::preflight::{self, CostLine, Facts, Finding, Intent, Severity};
use shipit_core::settings::StackSettings;
use shipit_core::stack::{self, StackInfo};

/// What the preflight found.
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    /// False when the stack is unchanged: nothing will be created, so nothing was asked.
    pub ran: bool,
    pub findings: Vec<Finding>,
    pub monthly_cost: Vec<CostLine>,
}

impl Preflight {
    pub fn refusals(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Refused)
    }

    /// An error naming every refusal and its fix, or Ok when there is none.
    pub fn check(&self, stack: &str) -> Result<()> {
        let refused: Vec<&Finding> = self.refusals().collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Error::Preflight {
            findings: serde_json::to_value(self).unwrap_or_default(),
            message: format!(
                "stack {stack}: AWS would refuse {} thing(s) in this change, so nothing was created or changed: {}",
                refused.len(),
                refused.iter().map(|f| f.problem.as_str()).collect::<Vec<_>>().join("; ")
            ),
            hint: refused.iter().map(|f| f.fix.as_str()).collect::<Vec<_>>().join("; "),
        })
    }
}

/// Reads what the stack's change needs from the account and judges it. The stack is compared
/// as `provision::ensure` compares it: an unchanged one is not asked about. `info`: the stack
/// as the caller just described it (None: it does not exist).
pub async fn run(
    cfn: &dyn StackService,
    account: &dyn Account,
    s: &StackSettings,
    info: Option<&StackInfo>,
    reporter: &dyn Reporter,
) -> Result<Preflight> {
    let (template, params) = crate::pipeline::provision::template_for(s)?;
    // A stack whose first create failed is made again from nothing.
    let live = info.filter(|i| {
        !matches!(
            i.status.as_str(),
            "ROLLBACK_COMPLETE" | "REVIEW_IN_PROGRESS"
        )
    });
    let mut intent = Intent::new(&account.region(), &params, live.map(|i| &i.parameters));
    intent.template_bytes = template.body.len();
    let monthly_cost = preflight::monthly_cost(&intent);
    if let Some(i) = live {
        let deployed = cfn.template(&s.name).await?;
        if stack::unchanged(&deployed, &i.parameters, &template.body, &params) {
            return Ok(Preflight {
                ran: false,
                findings: Vec::new(),
                monthly_cost,
            });
        }
    }
    reporter.stage(&format!(
        "preflight: asking the account about stack {}",
        s.name
    ));
    let mut facts = facts(account, &intent).await;
    if intent.template_bytes > stack::INLINE_TEMPLATE_MAX {
        facts.templates_bucket = Some(
            cfn.describe(stack::BOOTSTRAP_STACK)
                .await
                .map(|b| b.is_some_and(|b| b.outputs.contains_key(stack::TEMPLATES_BUCKET_OUTPUT)))
                .map_err(|e| e.to_string()),
        );
    }
    Ok(Preflight {
        ran: true,
        findings: preflight::findings(&intent, &facts),
        monthly_cost,
    })
}

/// Each fact the intent needs, read concurrently.
async fn facts(a: &dyn Account, i: &Intent) -> Facts {
    let (lambda, apigw, versions, db_zones, zones, cache) = futures::join!(
        maybe(i.api && i.reserved > 0, a.lambda_limits()),
        maybe(i.api, a.apigw_logging_role()),
        maybe(i.data, a.engine_versions("postgres", &i.engine_major)),
        maybe(
            i.data,
            a.orderable_zones("postgres", &i.engine_major, &i.db_class)
        ),
        maybe(i.data || i.new_nat, a.zones()),
        maybe(i.data, a.cache_node_offered(&i.cache_node)),
    );
    let first_zone = zones
        .as_ref()
        .and_then(|z| z.as_ref().ok())
        .and_then(|z| z.first().cloned());
    let site_cert = i.site_domain.as_ref().and_then(|(_, arn)| arn.as_deref());
    let api_cert = i.api_domain.as_ref().and_then(|(_, arn)| arn.as_deref());
    let (vpcs, addresses, nat, distributions, functions, site, api, zone) = futures::join!(
        maybe(i.new_vpc, a.usage(Counted::Vpcs)),
        maybe(i.new_nat, a.usage(Counted::Addresses)),
        maybe(
            i.new_nat && first_zone.is_some(),
            a.usage(Counted::NatGateways(first_zone.clone().unwrap_or_default()))
        ),
        maybe(i.new_stack, a.usage(Counted::Distributions)),
        maybe(i.new_stack, a.usage(Counted::Functions)),
        maybe_arn(site_cert, |arn| a.certificate(arn)),
        maybe_arn(api_cert, |arn| a.certificate(arn)),
        maybe_arn(
            i.zone_id
                .as_deref()
                .filter(|_| i.site_domain.is_some() || i.api_domain.is_some()),
            |id| a.zone_name(id)
        ),
    );
    Facts {
        lambda,
        engine_versions: versions,
        db_zones,
        zones,
        cache_node_offered: cache,
        vpcs,
        addresses,
        nat_gateways: nat,
        distributions,
        functions,
        site_certificate: site,
        api_certificate: api,
        zone,
        apigw_logging_role: apigw,
        // Read by `run`, from the stack service.
        templates_bucket: None,
    }
}

async fn maybe<T>(
    need: bool,
    ask: crate::ports::Ask<'_, T>,
) -> Option<std::result::Result<T, String>> {
    if need {
        Some(ask.await)
    } else {
        None
    }
}

async fn maybe_arn<'a, T>(
    arn: Option<&'a str>,
    ask: impl FnOnce(&'a str) -> crate::ports::Ask<'a, T>,
) -> Option<std::result::Result<T, String>> {
    match arn {
        Some(a) => Some(ask(a).await),
        None => None,
    }
}

/// The findings and the monthly cost, for people (stderr).
pub fn report(p: &Preflight, reporter: &dyn Reporter) {
    if !p.ran {
        reporter.detail(
            "preflight: the stack is unchanged, so nothing is created and nothing was asked",
        );
    }
    for f in &p.findings {
        let label = match f.severity {
            Severity::Refused => "AWS would refuse",
            Severity::Warning => "note",
            Severity::Unchecked => "not checked",
        };
        reporter.warn(&format!("preflight [{}] {label}: {}", f.check, f.problem));
        reporter.info(&format!("  fix: {}", f.fix));
    }
    if p.ran && p.findings.is_empty() {
        reporter.info("preflight: the account can take this stack (quotas, versions, classes, certificates, zone, API Gateway's logging role)");
    }
    let (low, high) = p
        .monthly_cost
        .iter()
        .fold((0.0, 0.0), |(l, h), c| (l + c.low, h + c.high));
    reporter.info(&format!(
        "monthly cost at low traffic, us-east-1 prices: about ${low:.2}-{high:.2}"
    ));
    for c in &p.monthly_cost {
        let price = if (c.high - c.low).abs() < 0.005 {
            format!("${:.2}", c.high)
        } else {
            format!("${:.2}-{:.2}", c.low, c.high)
        };
        reporter.info(&format!("  {:<9} {price:>12}  {}", c.tier, c.item));
    }
}
