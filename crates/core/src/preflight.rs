//! The preflight's decisions: what AWS would refuse when the stack is created or changed, judged
//! on plain facts about the account (quotas, what RDS and ElastiCache offer in the region, a
//! certificate, a hosted zone, an account-wide setting) before anything is written. Also what the
//! stack will cost a month, tier by tier. `pipeline::preflight` asks the account for the facts
//! an `Intent` needs; nothing here knows how they were read.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the stack will hold once the change is made, from its parameters (and what it held
/// before, so a quota is counted only for what is new).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intent {
    pub region: String,
    /// The stack does not exist yet: a distribution and a CloudFront function are new.
    pub new_stack: bool,
    pub api: bool,
    pub data: bool,
    /// The data tier's VPC is new (the stack had none).
    pub new_vpc: bool,
    pub nat: bool,
    /// A NAT gateway (and its Elastic IP) is new.
    pub new_nat: bool,
    pub multi_az: bool,
    /// `ApiReservedConcurrency`, and what the stack reserves today (counted back as free).
    pub reserved: u32,
    pub reserved_before: u32,
    pub health_rate: u32,
    pub engine_major: String,
    pub db_class: String,
    pub cache_node: String,
    /// (name, certificate ARN) for the site and the API; an empty ARN is None.
    pub site_domain: Option<(String, Option<String>)>,
    pub api_domain: Option<(String, Option<String>)>,
    pub zone_id: Option<String>,
    /// `EnableWaf`: a web ACL for the site (CloudFront) and one for the API's stage.
    pub waf: bool,
    /// The database's engine version as the stack has it now: `Some("16.6")` for a stack made
    /// before `DbEngineVersion` (its template pinned that minor), None without a database.
    pub engine_before: Option<String>,
    /// The template's size in bytes: past CloudFormation's inline limit it goes through the
    /// bootstrap stack's templates bucket.
    pub template_bytes: usize,
    /// `ApiBackend=container`: the tasks' size and count, and whether an image is given. Set
    /// whenever the backend is asked for, with or without the data tier it needs.
    pub container: Option<ContainerIntent>,
}

/// The container backend's tasks, from `ContainerCpu`, `ContainerMemory`, `ContainerCount`
/// and `ContainerArchitecture`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerIntent {
    pub cpu: u32,
    pub memory: u32,
    pub count: u32,
    pub arm: bool,
    pub image: bool,
    /// The region of the image's registry, when the image is a valid ECR URI.
    pub image_region: Option<String>,
}

/// What shipit's template pinned before `DbEngineVersion` and `ApiReservedConcurrency`: a
/// stack made then has neither parameter but runs these.
const LEGACY_ENGINE_VERSION: &str = "16.6";
const LEGACY_RESERVED: u32 = 20;

fn flag(p: &BTreeMap<String, String>, k: &str) -> bool {
    p.get(k).is_some_and(|v| v == "true")
}

fn number(p: &BTreeMap<String, String>, k: &str) -> u32 {
    p.get(k).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn text(p: &BTreeMap<String, String>, k: &str) -> Option<String> {
    p.get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Intent {
    /// `params`: every parameter resolved (defaults filled in); `before`: the stack's parameters
    /// as deployed, None when it does not exist.
    pub fn new(
        region: &str,
        params: &BTreeMap<String, String>,
        before: Option<&BTreeMap<String, String>>,
    ) -> Intent {
        let api = flag(params, "EnableApi");
        let data = api && flag(params, "EnableDataTier");
        let nat = data && flag(params, "EnableNatGateway");
        let had = |k: &str| before.is_some_and(|b| flag(b, "EnableApi") && flag(b, k));
        let domain = |name: &str, cert: &str| text(params, name).map(|n| (n, text(params, cert)));
        Intent {
            region: region.to_string(),
            new_stack: before.is_none(),
            api,
            data,
            new_vpc: data && !had("EnableDataTier"),
            nat,
            new_nat: nat && !(had("EnableDataTier") && had("EnableNatGateway")),
            multi_az: flag(params, "MultiAz"),
            // The function's reservation; a container stack has no function.
            reserved: if api && text(params, "ApiBackend").as_deref() != Some("container") {
                number(params, "ApiReservedConcurrency")
            } else {
                0
            },
            reserved_before: before
                .filter(|b| flag(b, "EnableApi"))
                .map(|b| match b.get("ApiReservedConcurrency") {
                    Some(_) => number(b, "ApiReservedConcurrency"),
                    None => LEGACY_RESERVED,
                })
                .unwrap_or(0),
            health_rate: number(params, "HealthThrottleRateLimit"),
            engine_major: text(params, "DbEngineVersion").unwrap_or_default(),
            db_class: text(params, "DbInstanceClass").unwrap_or_default(),
            cache_node: text(params, "CacheNodeType").unwrap_or_default(),
            site_domain: domain("DomainName", "CertificateArn"),
            api_domain: domain("ApiDomainName", "ApiCertificateArn").filter(|_| api),
            zone_id: text(params, "HostedZoneId"),
            waf: flag(params, "EnableWaf"),
            engine_before: before
                .filter(|b| flag(b, "EnableApi") && flag(b, "EnableDataTier"))
                .map(|b| {
                    text(b, "DbEngineVersion").unwrap_or_else(|| LEGACY_ENGINE_VERSION.into())
                }),
            template_bytes: 0,
            container: (text(params, "ApiBackend").as_deref() == Some("container")).then(|| {
                ContainerIntent {
                    cpu: number(params, "ContainerCpu"),
                    memory: number(params, "ContainerMemory"),
                    count: number(params, "ContainerCount"),
                    arm: text(params, "ContainerArchitecture").as_deref() == Some("ARM64"),
                    image: text(params, "ContainerImage").is_some(),
                    image_region: text(params, "ContainerImage")
                        .and_then(|uri| crate::container::Image::parse(&uri).ok())
                        .map(|i| i.region),
                }
            }),
        }
    }
}

/// A fact read from the account: None when the intent did not need it, `Err` with the reason
/// when it could not be read (a missing permission, an old endpoint).
pub type Fact<T> = Option<Result<T, String>>;

/// Lambda's concurrency in the region (GetAccountSettings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LambdaLimits {
    pub limit: u32,
    pub unreserved: u32,
}

/// How many of a thing the account has and may have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub used: u32,
    pub quota: f64,
    /// The quota was not readable and this is AWS's documented default.
    pub default_quota: bool,
}

/// An ACM certificate as DescribeCertificate tells it (the region comes from its ARN); a
/// certificate ACM does not know has the status [`MISSING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub status: String,
    pub names: Vec<String>,
}

/// The status of a certificate the service says does not exist.
pub const MISSING: &str = "MISSING";

/// What the preflight read, each fact only when the intent needs it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub lambda: Fact<LambdaLimits>,
    /// The versions of the engine's major RDS lists, with their status ("available", ...).
    pub engine_versions: Fact<Vec<(String, String)>>,
    /// The zones where the instance class can be ordered with that engine version.
    pub db_zones: Fact<Vec<String>>,
    /// The region's zones, in the order `!GetAZs` gives them.
    pub zones: Fact<Vec<String>>,
    /// Whether ElastiCache offers the node type in the region.
    pub cache_node_offered: Fact<bool>,
    pub vpcs: Fact<Usage>,
    pub addresses: Fact<Usage>,
    pub nat_gateways: Fact<Usage>,
    pub distributions: Fact<Usage>,
    pub functions: Fact<Usage>,
    pub site_certificate: Fact<Certificate>,
    pub api_certificate: Fact<Certificate>,
    /// The hosted zone's name (`example.com.`); None when Route 53 has no such zone.
    pub zone: Fact<Option<String>>,
    /// API Gateway's CloudWatch role for the account and region, if one is set.
    pub apigw_logging_role: Fact<Option<String>>,
    /// Whether the bootstrap stack has its templates bucket (read when the template is past the
    /// inline limit).
    pub templates_bucket: Fact<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// AWS would refuse it: nothing is created.
    Refused,
    /// Worth knowing before the change (a restart, a doubtful offering); the deploy goes on.
    Warning,
    /// The fact could not be read; the deploy goes on and AWS decides.
    Unchecked,
}

/// One finding, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    pub problem: String,
    pub fix: String,
}

/// Lambda keeps at least this many executions unreserved in every account and region.
pub const MIN_UNRESERVED: u32 = 100;

/// CloudFront takes certificates from this region only.
pub const CLOUDFRONT_CERTIFICATE_REGION: &str = "us-east-1";

/// The region of an ARN (`arn:aws:acm:REGION:...`), if it has one.
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Whether a Route 53 hosted zone id is written as the API and IAM expect it: `Z` and up to 31
/// upper-case letters and digits.
pub fn valid_zone_id(id: &str) -> bool {
    id.len() <= 32
        && id.starts_with('Z')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether API Gateway's logging role is the one an app stack made by an older shipit held
/// (`STACK-ApiGatewayLoggingRole-XXXX`), which that stack's next update deletes.
pub fn is_app_stack_logging_role(arn: &str) -> bool {
    arn.rsplit('/')
        .next()
        .is_some_and(|name| name.contains("-ApiGatewayLoggingRole-"))
}

/// Whether a certificate name covers a host: equal, or a wildcard for exactly one label.
pub fn covers(name: &str, host: &str) -> bool {
    let (name, host) = (name.to_ascii_lowercase(), host.to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

struct Findings(Vec<Finding>);

impl Findings {
    fn warn(&mut self, check: &'static str, problem: String, fix: impl Into<String>) {
        self.0.push(Finding {
            check,
            severity: Severity::Warning,
            problem,
            fix: fix.into(),
        });
    }

    fn refuse(&mut self, check: &'static str, problem: String, fix: impl Into<String>) {
        self.0.push(Finding {
            check,
            severity: Severity::Refused,
            problem,
            fix: fix.into(),
        });
    }

    /// The fact when it was read; an unread one becomes an `Unchecked` finding.
    fn read<'a, T>(&mut self, check: &'static str, fact: &'a Fact<T>) -> Option<&'a T> {
        match fact {
            Some(Ok(v)) => Some(v),
            Some(Err(reason)) => {
                self.0.push(Finding {
                    check,
                    severity: Severity::Unchecked,
                    problem: format!("could not be checked: {reason}"),
                    fix: "let the deploying role read it (stack/iam/infrastructure-role.json lists the preflight's read actions), or check it by hand".into(),
                });
                None
            }
            None => None,
        }
    }

    /// One more of a thing must fit its quota.
    fn quota(&mut self, check: &'static str, what: &str, fact: &Fact<Usage>, fix: &str) {
        if let Some(u) = self.read(check, fact) {
            if f64::from(u.used) + 1.0 > u.quota {
                let default = if u.default_quota {
                    " (AWS's default; the account's own quota could not be read)"
                } else {
                    ""
                };
                self.refuse(
                    check,
                    format!("the account has {} {what} and may have {}{default}: the stack needs one more", u.used, u.quota),
                    fix,
                );
            }
        }
    }
}

/// Every finding, in a fixed order; refusals and unread facts alike.
pub fn findings(i: &Intent, f: &Facts) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    if i.api {
        concurrency(i, f, &mut out);
        if let Some(role) = out.read("apigateway-logging-role", &f.apigw_logging_role) {
            if let Some(r) = role.as_deref().filter(|r| is_app_stack_logging_role(r)) {
                out.refuse(
                    "apigateway-logging-role",
                    format!("API Gateway's CloudWatch Logs role in {} is {r}, which a stack made by an older shipit owns: that stack's next update deletes it, and every API of the region stops logging", i.region),
                    "run `shipit bootstrap` first (an administrator, once): it moves the setting to its own role",
                );
            } else if role.as_deref().map_or(true, str::is_empty) {
                out.refuse(
                    "apigateway-logging-role",
                    format!("API Gateway has no CloudWatch Logs role in this account and region ({}): the API's stage logs, and API Gateway refuses to create it", i.region),
                    "run `shipit bootstrap` once in this account and region, with an administrator's credentials (it sets the role for every API of the region; see stack/bootstrap.yaml)",
                );
            }
        }
    }
    if let Some(c) = &i.container {
        container(i, c, &mut out);
    }
    if i.data {
        data_tier(i, f, &mut out);
    }
    if i.new_vpc {
        out.quota("vpc-quota", "VPCs in this region", &f.vpcs, "delete an unused VPC, or ask for more in Service Quotas (Amazon VPC, \"VPCs per Region\", L-F678F1CE)");
    }
    if i.new_nat {
        out.quota("elastic-ip-quota", "Elastic IP addresses in this region", &f.addresses, "release an unused Elastic IP, or ask for more in Service Quotas (Amazon EC2, \"EC2-VPC Elastic IPs\", L-0263D0A3); or EnableNatGateway=false");
        out.quota("nat-gateway-quota", "NAT gateways in the first zone", &f.nat_gateways, "delete an unused NAT gateway, or ask for more in Service Quotas (Amazon VPC, \"NAT gateways per Availability Zone\", L-FE5A380F); or EnableNatGateway=false");
    }
    if i.new_stack {
        out.quota("cloudfront-distribution-quota", "CloudFront distributions", &f.distributions, "delete an unused distribution, or ask for more in Service Quotas (CloudFront, \"Distributions per AWS account\", L-24B04930)");
        out.quota(
            "cloudfront-function-quota",
            "CloudFront functions",
            &f.functions,
            "delete an unused CloudFront function, or ask AWS Support for more",
        );
    }
    domains(i, f, &mut out);
    if i.template_bytes > crate::stack::INLINE_TEMPLATE_MAX {
        if let Some(false) = out.read("templates-bucket", &f.templates_bucket) {
            out.refuse(
                "templates-bucket",
                format!(
                    "the stack's template is {} bytes: CloudFormation takes {} inline and reads a larger one from S3, and this account and region has no templates bucket ({} stack, TemplatesBucketName output)",
                    i.template_bytes,
                    crate::stack::INLINE_TEMPLATE_MAX,
                    crate::stack::BOOTSTRAP_STACK
                ),
                "run `shipit bootstrap` once in this account and region, with an administrator's credentials",
            );
        }
    }
    if i.waf && i.region != CLOUDFRONT_CERTIFICATE_REGION {
        out.refuse(
            "waf-region",
            format!("EnableWaf=true in {}: a web ACL for CloudFront can only be made in us-east-1, so the site would go unprotected", i.region),
            "create the stack in us-east-1 for the site's web ACL, or set EnableWaf=false",
        );
    }
    out.0
}

/// What the template's rule would refuse, said with its fix, and a task size Fargate does not
/// run (ECS refuses the task definition only once the stack is half made).
fn container(i: &Intent, c: &ContainerIntent, out: &mut Findings) {
    if !i.data {
        out.refuse(
            "container-backend",
            "ApiBackend=container runs the tasks in the data tier's private subnets, and EnableApi or EnableDataTier is false".into(),
            "set EnableApi=true and EnableDataTier=true, or use the function backend",
        );
    }
    if !c.image {
        out.refuse(
            "container-backend",
            "ApiBackend=container and no image to run".into(),
            "give the image your CI pushed to ECR, pinned by digest: --image URI or [api] image",
        );
    }
    if let Some(r) = c
        .image_region
        .as_ref()
        .filter(|r| **r != i.region && !i.nat)
    {
        out.refuse(
            "container-image-region",
            format!("the image is in {r}'s registry and the stack in {}: the tasks pull through the stack's own ECR endpoints, with no route to another region", i.region),
            format!("push (or replicate) the image to ECR in {}, or set EnableNatGateway=true", i.region),
        );
    }
    if let Some(why) = crate::container::size_refused(c.cpu, c.memory) {
        out.refuse(
            "fargate-size",
            why,
            "pick a size from the Amazon ECS Developer Guide's task size table (ContainerCpu, ContainerMemory)",
        );
    }
}

fn concurrency(i: &Intent, f: &Facts, out: &mut Findings) {
    if i.reserved == 0 {
        return;
    }
    if i.health_rate.saturating_mul(2) > i.reserved {
        out.refuse(
            "health-budget",
            format!(
                "HealthThrottleRateLimit={} lets anonymous GET /health calls hold more than half of ApiReservedConcurrency={}",
                i.health_rate, i.reserved
            ),
            format!("lower HealthThrottleRateLimit to {} or less, or reserve more", i.reserved / 2),
        );
    }
    if let Some(l) = out.read("lambda-concurrency", &f.lambda) {
        let free = l.unreserved.saturating_add(i.reserved_before);
        if free < i.reserved.saturating_add(MIN_UNRESERVED) {
            out.refuse(
                "lambda-concurrency",
                format!(
                    "ApiReservedConcurrency={} would leave {} unreserved executions (the account's concurrency quota is {}, {} unreserved now); Lambda keeps at least {MIN_UNRESERVED} unreserved and refuses the function",
                    i.reserved,
                    free as i64 - i.reserved as i64,
                    l.limit,
                    l.unreserved
                ),
                "set ApiReservedConcurrency=0 (the default: the function shares the account's pool), or ask for more in Service Quotas (AWS Lambda, \"Concurrent executions\", L-B99A9384); new accounts may start at 10",
            );
        }
    }
}

fn data_tier(i: &Intent, f: &Facts, out: &mut Findings) {
    match i.engine_before.as_deref() {
        Some(before) if major_of(before) != i.engine_major => out.refuse(
            "rds-engine-version",
            format!("DbEngineVersion={} would move the database from PostgreSQL {before} to another major version, which needs AllowMajorVersionUpgrade and an upgrade of the data that shipit does not run", i.engine_major),
            format!("keep DbEngineVersion={}; upgrade the major version in the RDS console (or with an RDS blue/green deployment) first", major_of(before)),
        ),
        Some(before) if before.contains('.') => out.warn(
            "rds-engine-version",
            format!("the database runs PostgreSQL {before}, which the stack pinned; naming the major alone lets RDS move it to its default minor of {} at once if {before} is older: a restart of a few minutes", i.engine_major),
            "deploy at a quiet time, or upgrade the minor version in the RDS console first",
        ),
        _ => {}
    }
    if let Some(versions) = out.read("rds-engine-version", &f.engine_versions) {
        let available = versions.iter().any(|(v, status)| {
            status.eq_ignore_ascii_case("available") && major_of(v) == i.engine_major
        });
        if !available {
            out.refuse(
                "rds-engine-version",
                format!("RDS no longer offers PostgreSQL {} for new instances in {}", i.engine_major, i.region),
                "set DbEngineVersion to a major RDS offers (aws rds describe-db-engine-versions --engine postgres --query 'DBEngineVersions[].EngineVersion')",
            );
        }
    }
    let zones = out.read("availability-zones", &f.zones).cloned();
    if let Some(zones) = &zones {
        if zones.len() < 2 {
            out.refuse(
                "availability-zones",
                format!(
                    "{} has {} usable availability zone(s); the data tier's subnets need two",
                    i.region,
                    zones.len()
                ),
                "deploy to a region with at least two zones, or EnableDataTier=false",
            );
        }
    }
    let version_refused = out
        .0
        .iter()
        .any(|x| x.check == "rds-engine-version" && x.severity == Severity::Refused);
    if let Some(db_zones) = out
        .read("rds-instance-class", &f.db_zones)
        .filter(|_| !version_refused)
    {
        // The subnets are in the region's first two zones (`!GetAZs`): the instance goes in
        // one of them, a Multi-AZ standby in the other.
        let used: Vec<&String> = zones.iter().flatten().take(2).collect();
        let ok: Vec<&&String> = used.iter().filter(|z| db_zones.contains(z)).collect();
        let need = if i.multi_az { 2 } else { 1 };
        if db_zones.is_empty() || (!used.is_empty() && ok.len() < need) {
            out.refuse(
                "rds-instance-class",
                format!(
                    "RDS cannot order {} for PostgreSQL {} in {}{}",
                    i.db_class,
                    i.engine_major,
                    if db_zones.is_empty() { i.region.clone() } else { format!("the stack's zones ({})", used.iter().map(|z| z.as_str()).collect::<Vec<_>>().join(", ")) },
                    if i.multi_az { " with a Multi-AZ standby" } else { "" }
                ),
                "set DbInstanceClass to a class RDS offers there (aws rds describe-orderable-db-instance-options --engine postgres --query 'OrderableDBInstanceOptions[].DBInstanceClass')",
            );
        }
    }
    if let Some(offered) = out.read("elasticache-node-type", &f.cache_node_offered) {
        if !offered {
            // ElastiCache has no "orderable options" call: a type with no reserved offering
            // is most likely not sold here, but a new family may be sold on demand first.
            out.warn(
                "elasticache-node-type",
                format!("ElastiCache lists no offering of {} for Redis in {}: the region most likely does not sell it", i.cache_node, i.region),
                "set CacheNodeType to a node type the region offers (aws elasticache describe-reserved-cache-nodes-offerings --query 'ReservedCacheNodesOfferings[].CacheNodeType')",
            );
        }
    }
}

fn major_of(version: &str) -> &str {
    version.split(['.', '-']).next().unwrap_or(version)
}

fn domains(i: &Intent, f: &Facts, out: &mut Findings) {
    let sites = [
        (
            "site-certificate",
            "DomainName",
            "CertificateArn",
            &i.site_domain,
            &f.site_certificate,
            Some(CLOUDFRONT_CERTIFICATE_REGION),
            "CloudFront takes certificates from us-east-1 only",
        ),
        (
            "api-certificate",
            "ApiDomainName",
            "ApiCertificateArn",
            &i.api_domain,
            &f.api_certificate,
            Some(i.region.as_str()),
            "a regional API takes a certificate from its own region",
        ),
    ];
    for (check, name_param, cert_param, domain, fact, region, why) in sites {
        let Some((name, arn)) = domain else { continue };
        let Some(arn) = arn else {
            out.refuse(
                check,
                format!("{name_param}={name} is set without {cert_param}: the stack would leave the name out"),
                format!("set {cert_param} to an issued ACM certificate covering {name}"),
            );
            continue;
        };
        if arn_region(arn) != region {
            out.refuse(
                check,
                format!(
                    "{cert_param} {arn} is in {}: {why}",
                    arn_region(arn).unwrap_or("no region")
                ),
                format!(
                    "request (or import) the certificate for {name} in {} and set its ARN",
                    region.unwrap_or("")
                ),
            );
            continue;
        }
        let Some(cert) = out.read(check, fact) else {
            continue;
        };
        if cert.status == MISSING {
            out.refuse(
                check,
                format!("{cert_param} {arn} does not exist (ACM does not know it)"),
                format!(
                    "request a certificate for {name} in {} and set its ARN",
                    region.unwrap_or("")
                ),
            );
        } else if !cert.status.eq_ignore_ascii_case("ISSUED") {
            out.refuse(
                check,
                format!("{cert_param} {arn} is {}, not ISSUED", cert.status),
                "complete its DNS validation (aws acm describe-certificate shows the records), or request a new one",
            );
        } else if !cert.names.iter().any(|n| covers(n, name)) {
            out.refuse(
                check,
                format!(
                    "{cert_param} {arn} covers {} but not {name}",
                    cert.names.join(", ")
                ),
                format!("use a certificate whose names include {name}"),
            );
        }
    }
    let Some(zone_id) = &i.zone_id else { return };
    if !valid_zone_id(zone_id) {
        out.refuse(
            "hosted-zone",
            format!("HostedZoneId {zone_id:?} is not a hosted zone's id"),
            "set HostedZoneId to the zone's id alone, as Route 53 shows it (Z and letters and digits, no /hostedzone/)",
        );
        return;
    }
    let Some(zone) = out.read("hosted-zone", &f.zone) else {
        return;
    };
    let Some(zone) = zone else {
        out.refuse(
            "hosted-zone",
            format!("hosted zone {zone_id} does not exist in this account"),
            "set HostedZoneId to the id of the zone that serves the names (aws route53 list-hosted-zones)",
        );
        return;
    };
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let names = [i.site_domain.as_ref(), i.api_domain.as_ref()];
    for (name, _) in names.into_iter().flatten() {
        let name = name.to_ascii_lowercase();
        if name != zone && !name.ends_with(&format!(".{zone}")) {
            out.refuse(
                "hosted-zone",
                format!("hosted zone {zone_id} serves {zone}, not {name}"),
                format!("set HostedZoneId to the zone of {name}"),
            );
        }
    }
}

/// One line of the monthly estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub tier: &'static str,
    pub item: String,
    /// US dollars a month, low and high (equal when it does not depend on traffic).
    pub low: f64,
    pub high: f64,
}

const HOURS: f64 = 730.0;
/// us-east-1 on-demand prices (USD, 2026-12): PostgreSQL single-AZ per hour.
const RDS_HOURLY: [(&str, f64); 6] = [
    ("db.t4g.micro", 0.016),
    ("db.t4g.small", 0.032),
    ("db.t4g.medium", 0.065),
    ("db.t3.micro", 0.018),
    ("db.t3.small", 0.036),
    ("db.t3.medium", 0.072),
];
/// Fargate on Linux, us-east-1 (USD, 2026-12): per vCPU-hour and per GB-hour.
const FARGATE_X86_HOURLY: (f64, f64) = (0.04048, 0.004445);
const FARGATE_ARM_HOURLY: (f64, f64) = (0.03238, 0.00356);
const CACHE_HOURLY: [(&str, f64); 6] = [
    ("cache.t4g.micro", 0.016),
    ("cache.t4g.small", 0.032),
    ("cache.t4g.medium", 0.065),
    ("cache.t3.micro", 0.017),
    ("cache.t3.small", 0.034),
    ("cache.t3.medium", 0.068),
];

fn hourly(table: &[(&str, f64)], class: &str) -> Option<f64> {
    table.iter().find(|(c, _)| *c == class).map(|(_, p)| *p)
}

/// The stack's monthly cost at low traffic, tier by tier (us-east-1 prices; transfer and
/// requests beyond the free tiers add to it). A class without a known price is left out and
/// named in its line.
pub fn monthly_cost(i: &Intent) -> Vec<CostLine> {
    let mut out = Vec::new();
    let mut line = |tier, item: String, low: f64, high: f64| {
        out.push(CostLine {
            tier,
            item,
            low,
            high,
        })
    };
    line(
        "static",
        "S3 site bucket, CloudFront and its function (within the free tier)".into(),
        0.05,
        0.15,
    );
    if i.waf {
        // $5 a web ACL and $1 a rule (four each) a month, plus $0.60 a million requests.
        let acls = if i.api { 2.0 } else { 1.0 };
        let item = format!("AWS WAF: {acls} web ACL(s) of 4 rules (plus $0.60 a million requests)");
        line("waf", item, acls * 9.0, acls * 9.0 + 1.0);
    }
    if !i.api {
        return out;
    }
    let tasks = i.container.as_ref().filter(|_| i.data);
    let api = if tasks.is_some() {
        "API Gateway, DynamoDB on demand, CloudWatch Logs"
    } else {
        "API Gateway, Lambda, DynamoDB on demand, CloudWatch Logs"
    };
    line("api", api.into(), 0.75, 1.75);
    if !i.data {
        return out;
    }
    let azs = if i.multi_az { 2.0 } else { 1.0 };
    match hourly(&RDS_HOURLY, &i.db_class) {
        Some(p) => {
            let m = azs * (p * HOURS + 20.0 * 0.115);
            line(
                "data",
                format!(
                    "RDS PostgreSQL {}{}, 20 GB gp3",
                    i.db_class,
                    if i.multi_az { " Multi-AZ" } else { "" }
                ),
                m,
                m,
            );
        }
        None => line(
            "data",
            format!(
                "RDS PostgreSQL {}: price not known to shipit (see the RDS pricing page)",
                i.db_class
            ),
            0.0,
            0.0,
        ),
    }
    match hourly(&CACHE_HOURLY, &i.cache_node) {
        Some(p) => line(
            "data",
            format!("ElastiCache Redis {}, one node", i.cache_node),
            p * HOURS,
            p * HOURS,
        ),
        None => line(
            "data",
            format!(
                "ElastiCache Redis {}: price not known to shipit",
                i.cache_node
            ),
            0.0,
            0.0,
        ),
    }
    line("data", "Secrets Manager: two secrets".into(), 0.80, 0.80);
    let endpoint = azs * 0.01 * HOURS;
    line(
        "data",
        format!(
            "Secrets Manager interface endpoint in {} subnet(s)",
            azs as u32
        ),
        endpoint,
        endpoint,
    );
    if let Some(c) = tasks {
        let (cpu_hour, gb_hour) = if c.arm {
            FARGATE_ARM_HOURLY
        } else {
            FARGATE_X86_HOURLY
        };
        let vcpu = f64::from(c.cpu) / 1024.0;
        let gb = f64::from(c.memory) / 1024.0;
        let m = f64::from(c.count) * (vcpu * cpu_hour + gb * gb_hour) * HOURS;
        line(
            "container",
            format!(
                "Fargate: {} task(s) of {vcpu} vCPU and {gb} GB ({})",
                c.count,
                if c.arm { "ARM64" } else { "X86_64" }
            ),
            m,
            m,
        );
        // An ALB's hour, and one load balancer capacity unit (more with traffic).
        line(
            "container",
            "Application Load Balancer, internal (plus $0.008 an LCU-hour beyond one)".into(),
            (0.0225 + 0.008) * HOURS,
            (0.0225 + 0.008) * HOURS,
        );
        let endpoints = 4.0 * azs * 0.01 * HOURS;
        line(
            "container",
            format!(
                "Interface endpoints for ECR (2), CloudWatch Logs and SSM in {} subnet(s)",
                azs as u32
            ),
            endpoints,
            endpoints,
        );
    }
    if i.nat {
        line(
            "data",
            "NAT gateway (plus $0.045 a GB)".into(),
            0.045 * HOURS,
            0.045 * HOURS,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = [
            ("EnableApi", "true"),
            ("EnableDataTier", "true"),
            ("EnableNatGateway", "false"),
            ("MultiAz", "false"),
            ("ApiReservedConcurrency", "0"),
            ("HealthThrottleRateLimit", "10"),
            ("DbEngineVersion", "16"),
            ("DbInstanceClass", "db.t4g.micro"),
            ("CacheNodeType", "cache.t4g.micro"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    fn intent(pairs: &[(&str, &str)]) -> Intent {
        Intent::new("eu-west-1", &params(pairs), None)
    }

    /// Facts of a roomy account that offers everything asked.
    fn roomy() -> Facts {
        let room = Some(Ok(Usage {
            used: 1,
            quota: 5.0,
            default_quota: false,
        }));
        Facts {
            lambda: Some(Ok(LambdaLimits {
                limit: 1000,
                unreserved: 1000,
            })),
            engine_versions: Some(Ok(vec![("16.8".into(), "available".into())])),
            db_zones: Some(Ok(vec!["eu-west-1a".into(), "eu-west-1b".into()])),
            zones: Some(Ok(vec![
                "eu-west-1a".into(),
                "eu-west-1b".into(),
                "eu-west-1c".into(),
            ])),
            cache_node_offered: Some(Ok(true)),
            vpcs: room.clone(),
            addresses: room.clone(),
            nat_gateways: room.clone(),
            distributions: room.clone(),
            functions: room,
            site_certificate: Some(Ok(Certificate {
                status: "ISSUED".into(),
                names: vec!["www.example.com".into()],
            })),
            api_certificate: Some(Ok(Certificate {
                status: "ISSUED".into(),
                names: vec!["*.example.com".into()],
            })),
            zone: Some(Ok(Some("example.com.".into()))),
            apigw_logging_role: Some(Ok(Some("arn:aws:iam::1:role/logs".into()))),
            templates_bucket: Some(Ok(true)),
        }
    }

    fn checks(i: &Intent, f: &Facts) -> Vec<(&'static str, Severity)> {
        findings(i, f)
            .into_iter()
            .map(|x| (x.check, x.severity))
            .collect()
    }

    #[test]
    fn a_roomy_account_has_nothing_to_say() {
        let i = intent(&[
            ("EnableNatGateway", "true"),
            ("DomainName", "www.example.com"),
            ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/a"),
            ("ApiDomainName", "api.example.com"),
            ("ApiCertificateArn", "arn:aws:acm:eu-west-1:1:certificate/b"),
            ("HostedZoneId", "Z1"),
            ("ApiReservedConcurrency", "20"),
        ]);
        assert_eq!(checks(&i, &roomy()), []);
    }

    #[test]
    fn each_refusal_and_its_cause() {
        type Edit = fn(&mut Facts);
        let no_room: Edit = |f| {
            f.vpcs = Some(Ok(Usage {
                used: 5,
                quota: 5.0,
                default_quota: true,
            }))
        };
        type Row = (&'static [(&'static str, &'static str)], Edit, &'static str);
        let table: [Row; 18] = [
            (
                &[
                    ("DomainName", "www.example.com"),
                    ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/gone"),
                ],
                |f| {
                    f.site_certificate = Some(Ok(Certificate {
                        status: MISSING.into(),
                        names: vec![],
                    }))
                },
                "site-certificate",
            ),
            (&[("HostedZoneId", "/hostedzone/Z1")], |_| {}, "hosted-zone"),
            (
                &[
                    ("HostedZoneId", "Z9"),
                    ("DomainName", "www.example.com"),
                    ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/a"),
                ],
                |f| f.zone = Some(Ok(None)),
                "hosted-zone",
            ),
            (
                &[],
                |f| {
                    f.apigw_logging_role = Some(Ok(Some(
                        "arn:aws:iam::1:role/web-ApiGatewayLoggingRole-AB12".into(),
                    )))
                },
                "apigateway-logging-role",
            ),
            (&[("EnableWaf", "true")], |_| {}, "waf-region"),
            (
                &[("ApiReservedConcurrency", "20")],
                |f| {
                    f.lambda = Some(Ok(LambdaLimits {
                        limit: 10,
                        unreserved: 10,
                    }))
                },
                "lambda-concurrency",
            ),
            (
                &[("ApiReservedConcurrency", "20")],
                |f| {
                    f.lambda = Some(Ok(LambdaLimits {
                        limit: 119,
                        unreserved: 119,
                    }))
                },
                "lambda-concurrency",
            ),
            (
                &[
                    ("ApiReservedConcurrency", "10"),
                    ("HealthThrottleRateLimit", "6"),
                ],
                |_| {},
                "health-budget",
            ),
            (
                &[],
                |f| f.apigw_logging_role = Some(Ok(None)),
                "apigateway-logging-role",
            ),
            (
                &[],
                |f| f.engine_versions = Some(Ok(vec![("16.6".into(), "deprecated".into())])),
                "rds-engine-version",
            ),
            (
                &[],
                |f| f.engine_versions = Some(Ok(vec![("17.2".into(), "available".into())])),
                "rds-engine-version",
            ),
            (&[], |f| f.db_zones = Some(Ok(vec![])), "rds-instance-class"),
            (
                &[("MultiAz", "true")],
                |f| f.db_zones = Some(Ok(vec!["eu-west-1a".into()])),
                "rds-instance-class",
            ),
            (&[], no_room, "vpc-quota"),
            (
                &[("EnableNatGateway", "true")],
                |f| {
                    f.addresses = Some(Ok(Usage {
                        used: 5,
                        quota: 5.0,
                        default_quota: false,
                    }))
                },
                "elastic-ip-quota",
            ),
            (
                &[
                    ("DomainName", "www.example.com"),
                    ("CertificateArn", "arn:aws:acm:eu-west-1:1:certificate/a"),
                ],
                |_| {},
                "site-certificate",
            ),
            (
                &[
                    ("DomainName", "shop.example.com"),
                    ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/a"),
                ],
                |_| {},
                "site-certificate",
            ),
            (
                &[
                    ("DomainName", "www.example.org"),
                    ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/a"),
                    ("HostedZoneId", "Z1"),
                ],
                |f| {
                    f.site_certificate = Some(Ok(Certificate {
                        status: "ISSUED".into(),
                        names: vec!["www.example.org".into()],
                    }))
                },
                "hosted-zone",
            ),
        ];
        for (pairs, edit, want) in table {
            let mut f = roomy();
            edit(&mut f);
            let got = checks(&intent(pairs), &f);
            assert_eq!(got, [(want, Severity::Refused)], "{pairs:?}");
        }
        // Every refusal says what to do.
        let mut f = roomy();
        f.site_certificate = Some(Ok(Certificate {
            status: "PENDING_VALIDATION".into(),
            names: vec!["www.example.com".into()],
        }));
        let i = intent(&[
            ("DomainName", "www.example.com"),
            ("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/a"),
        ]);
        let all = findings(&i, &f);
        assert_eq!(all.len(), 1);
        assert!(
            all[0].problem.contains("PENDING_VALIDATION") && !all[0].fix.is_empty(),
            "{all:?}"
        );
    }

    #[test]
    fn only_what_is_new_counts_against_a_quota() {
        let before = params(&[
            ("EnableNatGateway", "true"),
            ("ApiReservedConcurrency", "20"),
        ]);
        let now = params(&[
            ("EnableNatGateway", "true"),
            ("ApiReservedConcurrency", "20"),
        ]);
        let i = Intent::new("eu-west-1", &now, Some(&before));
        assert!(!i.new_stack && !i.new_vpc && !i.new_nat);
        let mut f = roomy();
        let full = Some(Ok(Usage {
            used: 5,
            quota: 5.0,
            default_quota: false,
        }));
        f.vpcs = full.clone();
        f.addresses = full.clone();
        f.distributions = full;
        // The function's own reservation comes back when it is set again.
        f.lambda = Some(Ok(LambdaLimits {
            limit: 120,
            unreserved: 100,
        }));
        assert_eq!(checks(&i, &f), []);
        // A stack of an older template pinned 16.6 and reserved 20 without parameters: naming
        // the major is a note (a restart), another major a refusal.
        let legacy = params(&[])
            .into_iter()
            .filter(|(k, _)| k != "DbEngineVersion" && k != "ApiReservedConcurrency")
            .collect();
        let upgraded = Intent::new(
            "eu-west-1",
            &params(&[("ApiReservedConcurrency", "20")]),
            Some(&legacy),
        );
        assert_eq!(
            (upgraded.engine_before.as_deref(), upgraded.reserved_before),
            (Some("16.6"), 20)
        );
        assert_eq!(
            checks(&upgraded, &roomy()),
            [("rds-engine-version", Severity::Warning)]
        );
        let major = Intent::new(
            "eu-west-1",
            &params(&[("DbEngineVersion", "17")]),
            Some(&params(&[])),
        );
        let mut sells_17 = roomy();
        sells_17.engine_versions = Some(Ok(vec![("17.2".into(), "available".into())]));
        assert_eq!(
            checks(&major, &sells_17),
            [("rds-engine-version", Severity::Refused)]
        );
        // A static site needs no data-tier or API facts at all.
        let s = intent(&[("EnableApi", "false")]);
        assert!(!s.api && !s.data && !s.new_vpc && s.reserved == 0);
        assert_eq!(
            checks(
                &s,
                &Facts {
                    distributions: roomy().distributions,
                    functions: roomy().functions,
                    ..Facts::default()
                }
            ),
            []
        );
    }

    #[test]
    fn a_container_backend_needs_the_data_tier_an_image_and_a_fargate_size() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let uri = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/api@{digest}");
        let elsewhere = format!("123456789012.dkr.ecr.us-west-2.amazonaws.com/api@{digest}");
        let image = ("ContainerImage", uri.as_str());
        let far = ("ContainerImage", elsewhere.as_str());
        let backend = ("ApiBackend", "container");
        type Row<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, Severity)>);
        let table: [Row; 8] = [
            (vec![backend, image], vec![]),
            (
                vec![backend],
                vec![("container-backend", Severity::Refused)],
            ),
            (
                vec![backend, image, ("EnableDataTier", "false")],
                vec![("container-backend", Severity::Refused)],
            ),
            (
                vec![
                    backend,
                    image,
                    ("ContainerCpu", "256"),
                    ("ContainerMemory", "4096"),
                ],
                vec![("fargate-size", Severity::Refused)],
            ),
            (vec![("ContainerMemory", "4096")], vec![]),
            (
                vec![backend, far],
                vec![("container-image-region", Severity::Refused)],
            ),
            (vec![backend, far, ("EnableNatGateway", "true")], vec![]),
            // No function, so no reservation to check against Lambda's pool.
            (
                vec![backend, image, ("ApiReservedConcurrency", "900")],
                vec![],
            ),
        ];
        for (pairs, want) in table {
            let mut p = pairs.clone();
            p.extend(
                [("ContainerCpu", "256"), ("ContainerMemory", "512")]
                    .iter()
                    .filter(|(k, _)| !pairs.iter().any(|(q, _)| q == k)),
            );
            assert_eq!(checks(&intent(&p), &roomy()), want, "{pairs:?}");
        }
    }

    #[test]
    fn a_large_template_needs_the_templates_bucket() {
        let mut i = intent(&[("EnableApi", "false")]);
        let mut f = roomy();
        f.templates_bucket = Some(Ok(false));
        assert_eq!(checks(&i, &f), [], "a template sent inline needs no bucket");
        i.template_bytes = crate::stack::INLINE_TEMPLATE_MAX + 1;
        assert_eq!(checks(&i, &f), [("templates-bucket", Severity::Refused)]);
        f.templates_bucket = Some(Ok(true));
        assert_eq!(checks(&i, &f), []);
        f.templates_bucket = Some(Err("AccessDenied".into()));
        assert_eq!(checks(&i, &f), [("templates-bucket", Severity::Unchecked)]);
    }

    #[test]
    fn unread_facts_are_reported_not_refused() {
        let mut f = roomy();
        f.lambda = Some(Err("AccessDenied: lambda:GetAccountSettings".into()));
        f.zone = Some(Err("no answer".into()));
        let i = intent(&[("ApiReservedConcurrency", "20"), ("HostedZoneId", "Z1")]);
        assert_eq!(
            checks(&i, &f),
            [
                ("lambda-concurrency", Severity::Unchecked),
                ("hosted-zone", Severity::Unchecked)
            ]
        );
    }

    #[test]
    fn names_and_wildcards() {
        let table = [
            ("www.example.com", "www.example.com", true),
            ("WWW.Example.com", "www.example.COM", true),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.b.example.com", false),
            ("example.com", "www.example.com", false),
        ];
        for (name, host, want) in table {
            assert_eq!(covers(name, host), want, "{name} {host}");
        }
        assert_eq!(
            arn_region("arn:aws:acm:eu-west-1:1:certificate/x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("nonsense"), None);
    }

    #[test]
    fn the_monthly_cost_by_tier() {
        let total = |i: &Intent| monthly_cost(i).iter().map(|l| l.high).sum::<f64>();
        let static_only = intent(&[("EnableApi", "false")]);
        assert!(total(&static_only) < 1.0);
        let defaults = total(&intent(&[]));
        // The README's figure for the default parameters: about $35-38 a month.
        assert!((35.0..=40.0).contains(&defaults), "{defaults}");
        let nat = total(&intent(&[("EnableNatGateway", "true")]));
        assert!((nat - defaults - 32.85).abs() < 0.01, "{nat}");
        let multi = total(&intent(&[("MultiAz", "true")]));
        assert!(multi > defaults + 20.0, "{multi}");
        let waf = total(&intent(&[("EnableWaf", "true")]));
        assert!(
            (18.0..=20.5).contains(&(waf - defaults)),
            "{waf} vs {defaults}"
        );
        // The container path: two 0.25 vCPU / 0.5 GB tasks, an ALB, four endpoints in one zone.
        let image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api@sha256:00";
        let tasks = [
            ("ApiBackend", "container"),
            ("ContainerImage", image),
            ("ContainerCpu", "256"),
            ("ContainerMemory", "512"),
            ("ContainerCount", "2"),
        ];
        let container = monthly_cost(&intent(&tasks));
        let fargate = container
            .iter()
            .find(|l| l.item.starts_with("Fargate"))
            .unwrap();
        assert!((fargate.high - 2.0 * (0.25 * 0.04048 + 0.5 * 0.004445) * 730.0).abs() < 0.01);
        assert!(container.iter().all(|l| !l.item.contains("Lambda")));
        let extra = total(&intent(&tasks)) - defaults;
        // Tasks about $18, the ALB about $22, the endpoints about $29.
        assert!((65.0..=75.0).contains(&extra), "{extra}");
        let no_data = intent(&[tasks[0], tasks[1], ("EnableDataTier", "false")]);
        assert!(monthly_cost(&no_data).iter().all(|l| l.tier != "container"));
        let odd = monthly_cost(&intent(&[("DbInstanceClass", "db.x9.huge")]));
        assert!(odd
            .iter()
            .any(|l| l.item.contains("db.x9.huge") && l.item.contains("not known")));
    }
}
