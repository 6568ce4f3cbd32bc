//! The account, as the preflight reads it: Lambda's concurrency, what RDS and ElastiCache offer
//! in the region, the region's zones, VPC, Elastic IP, NAT gateway and CloudFront usage against
//! their quotas, an ACM certificate, a Route 53 zone and API Gateway's CloudWatch role. Read-only
//! calls through [`Signed`]; every answer becomes plain data (`core::preflight`), and every
//! failure a reason the preflight reports as "could not be checked".

use futures::FutureExt;
use serde_json::json;

use crate::signed::{self, xml_all, xml_blocks, xml_text, Api, Signed};
use shipit_core::error::Error;
use shipit_core::preflight::{Certificate, LambdaLimits, Usage};
use shipit_engine::ports::{Account as AccountPort, Ask, Call, Counted, Databases};

const CLOUDFRONT: Api = Api {
    signing_name: "cloudfront",
    host: Some("cloudfront.amazonaws.com"),
    region: Some("us-east-1"),
};
const LAMBDA: Api = Api {
    signing_name: "lambda",
    host: None,
    region: None,
};

/// Pages read at most from one listing (a 1,000-VPC account is past any quota shipit checks).
const MAX_PAGES: usize = 20;

/// (service code, quota code, AWS's documented default, region the quota lives in).
fn quota_of(what: Counted) -> (&'static str, &'static str, f64, Option<&'static str>) {
    match what {
        // Amazon VPC quotas (VPC User Guide): 5 VPCs a region, 5 NAT gateways a zone.
        Counted::Vpcs => ("vpc", "L-F678F1CE", 5.0, None),
        Counted::NatGateways(_) => ("vpc", "L-FE5A380F", 5.0, None),
        // EC2: 5 Elastic IP addresses a region.
        Counted::Addresses => ("ec2", "L-0263D0A3", 5.0, None),
        // CloudFront (Developer Guide, Quotas): 200 distributions an account.
        Counted::Distributions => ("cloudfront", "L-24B04930", 200.0, Some("us-east-1")),
        // CloudFront Functions: 100 an account; not in Service Quotas (the default is used).
        Counted::Functions => ("", "", 100.0, None),
    }
}

pub struct Account {
    api: Signed,
}

impl Account {
    pub fn new(api: Signed) -> Account {
        Account { api }
    }

    async fn quota(&self, what: Counted) -> (f64, bool) {
        let (service, code, default, region) = quota_of(what);
        if service.is_empty() {
            return (default, true);
        }
        let body = json!({"ServiceCode": service, "QuotaCode": code});
        for target in [
            "ServiceQuotasV20190624.GetServiceQuota",
            "ServiceQuotasV20190624.GetAWSDefaultServiceQuota",
        ] {
            if let Ok(v) = self
                .api
                .json(signed::SERVICE_QUOTAS, region, target, &body)
                .await
            {
                if let Some(value) = v["Quota"]["Value"].as_f64() {
                    return (value, false);
                }
            }
        }
        (default, true)
    }

    async fn count(&self, what: Counted) -> Result<u32, String> {
        match what {
            Counted::Vpcs => self.ec2_count("DescribeVpcs", &[], "vpcId").await,
            Counted::Addresses => {
                self.ec2_count(
                    "DescribeAddresses",
                    &[("Filter.1.Name", "domain"), ("Filter.1.Value.1", "vpc")],
                    "allocationId",
                )
                .await
            }
            Counted::NatGateways(zone) => {
                // NAT gateways live in subnets: those of the zone, in any VPC, not deleted.
                let body = self
                    .api
                    .query(
                        signed::EC2,
                        None,
                        "DescribeNatGateways",
                        "2016-11-15",
                        &[
                            ("Filter.1.Name", "state"),
                            ("Filter.1.Value.1", "pending"),
                            ("Filter.1.Value.2", "available"),
                        ],
                    )
                    .await?;
                let subnets = xml_all(&body, "subnetId");
                if subnets.is_empty() {
                    return Ok(0);
                }
                let mut params: Vec<(String, String)> = vec![
                    ("Filter.1.Name".into(), "availability-zone".into()),
                    ("Filter.1.Value.1".into(), zone.clone()),
                ];
                for (n, s) in subnets.iter().enumerate() {
                    params.push((format!("SubnetId.{}", n + 1), s.clone()));
                }
                let refs: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let in_zone = self
                    .api
                    .query(signed::EC2, None, "DescribeSubnets", "2016-11-15", &refs)
                    .await?;
                let in_zone = xml_all(&in_zone, "subnetId");
                Ok(subnets.iter().filter(|s| in_zone.contains(s)).count() as u32)
            }
            Counted::Distributions => self.cloudfront_count("/2020-05-31/distribution").await,
            Counted::Functions => self.cloudfront_count("/2020-05-31/function").await,
        }
    }

    async fn ec2_count(
        &self,
        action: &str,
        filters: &[(&str, &str)],
        id_tag: &str,
    ) -> Result<u32, String> {
        let mut total = 0;
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params: Vec<(&str, &str)> = filters.to_vec();
            if let Some(t) = &token {
                params.push(("NextToken", t));
            }
            let body = self
                .api
                .query(signed::EC2, None, action, "2016-11-15", &params)
                .await?;
            total += xml_all(&body, id_tag).len() as u32;
            token = xml_text(&body, "nextToken").filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(total)
    }

    async fn cloudfront_count(&self, path: &str) -> Result<u32, String> {
        let mut total = 0;
        let mut marker = String::new();
        for _ in 0..MAX_PAGES {
            let page = if marker.is_empty() {
                format!("{path}?MaxItems=100")
            } else {
                let m: String = form_urlencoded::byte_serialize(marker.as_bytes()).collect();
                format!("{path}?MaxItems=100&Marker={m}")
            };
            let body = self.api.get(CLOUDFRONT, None, &page).await?;
            // Counted by their summaries: a summary may carry Quantity elements of its own.
            total += (xml_blocks(&body, "DistributionSummary").len()
                + xml_blocks(&body, "FunctionSummary").len()) as u32;
            // FunctionList has no IsTruncated: a NextMarker alone says there is more.
            match xml_text(&body, "NextMarker").filter(|m| !m.is_empty()) {
                Some(m) if m != marker => marker = m,
                _ => break,
            }
        }
        Ok(total)
    }
}

impl Account {
    /// `shipit bootstrap`'s one write: API Gateway's CloudWatch Logs role for the region.
    pub async fn set_apigw_logging_role(&self, role_arn: &str) -> Result<(), String> {
        let patch = json!({"patchOperations": [
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}
        ]});
        self.api
            .rest_json(signed::APIGATEWAY, "PATCH", "/account", &patch)
            .await
            .map(|_| ())
    }
}

impl AccountPort for Account {
    fn region(&self) -> String {
        self.api.region()
    }

    fn lambda_limits(&self) -> Ask<'_, LambdaLimits> {
        async move {
            let body = self
                .api
                .get(LAMBDA, None, "/2016-08-19/account-settings/")
                .await?;
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| format!("GetAccountSettings: {e}"))?;
            let limit = &v["AccountLimit"];
            match (
                limit["ConcurrentExecutions"].as_u64(),
                limit["UnreservedConcurrentExecutions"].as_u64(),
            ) {
                (Some(l), Some(u)) => Ok(LambdaLimits {
                    limit: l as u32,
                    unreserved: u as u32,
                }),
                _ => Err("GetAccountSettings: no AccountLimit in the answer".into()),
            }
        }
        .boxed()
    }

    fn engine_versions<'a>(
        &'a self,
        engine: &'a str,
        major: &'a str,
    ) -> Ask<'a, Vec<(String, String)>> {
        async move {
            let body = self
                .api
                .query(
                    signed::RDS,
                    None,
                    "DescribeDBEngineVersions",
                    "2014-10-31",
                    &[
                        ("Engine", engine),
                        ("EngineVersion", major),
                        // The default version of this engine and major: what CreateDBInstance
                        // picks for a major alone; none when RDS sells the major no more.
                        ("DefaultOnly", "true"),
                    ],
                )
                .await?;
            Ok(xml_blocks(&body, "DBEngineVersion")
                .into_iter()
                .filter_map(|b| {
                    let version = xml_text(b, "EngineVersion")?;
                    Some((
                        version,
                        xml_text(b, "Status").unwrap_or_else(|| "available".into()),
                    ))
                })
                .collect())
        }
        .boxed()
    }

    fn orderable_zones<'a>(
        &'a self,
        engine: &'a str,
        major: &'a str,
        class: &'a str,
    ) -> Ask<'a, Vec<String>> {
        async move {
            let mut zones: Vec<String> = Vec::new();
            let mut marker: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let mut params = vec![
                    ("Engine", engine),
                    ("DBInstanceClass", class),
                    ("Vpc", "true"),
                    ("MaxRecords", "100"),
                ];
                if let Some(m) = &marker {
                    params.push(("Marker", m));
                }
                let body = self
                    .api
                    .query(
                        signed::RDS,
                        None,
                        "DescribeOrderableDBInstanceOptions",
                        "2014-10-31",
                        &params,
                    )
                    .await?;
                for option in xml_blocks(&body, "OrderableDBInstanceOption") {
                    let version = xml_text(option, "EngineVersion").unwrap_or_default();
                    if version.split(['.', '-']).next() != Some(major) {
                        continue;
                    }
                    let zones_of = xml_blocks(option, "AvailabilityZone");
                    for zone in zones_of.iter().filter_map(|z| xml_text(z, "Name")) {
                        if !zones.contains(&zone) {
                            zones.push(zone);
                        }
                    }
                }
                marker = xml_text(&body, "Marker").filter(|m| !m.is_empty());
                if marker.is_none() {
                    break;
                }
            }
            Ok(zones)
        }
        .boxed()
    }

    fn zones(&self) -> Ask<'_, Vec<String>> {
        async move {
            let body = self
                .api
                .query(
                    signed::EC2,
                    None,
                    "DescribeAvailabilityZones",
                    "2016-11-15",
                    &[
                        ("Filter.1.Name", "state"),
                        ("Filter.1.Value.1", "available"),
                    ],
                )
                .await?;
            Ok(xml_blocks(&body, "item")
                .into_iter()
                .filter(|b| xml_text(b, "zoneType").map_or(true, |t| t == "availability-zone"))
                .filter_map(|b| xml_text(b, "zoneName"))
                .collect())
        }
        .boxed()
    }

    fn cache_node_offered<'a>(&'a self, node_type: &'a str) -> Ask<'a, bool> {
        async move {
            // ElastiCache has no "orderable options" call: the reserved-node offerings of a
            // node type are listed in every region that sells it.
            let body = self
                .api
                .query(
                    signed::ELASTICACHE,
                    None,
                    "DescribeReservedCacheNodesOfferings",
                    "2015-02-02",
                    &[("CacheNodeType", node_type), ("MaxRecords", "20")],
                )
                .await?;
            Ok(!xml_blocks(&body, "ReservedCacheNodesOffering").is_empty())
        }
        .boxed()
    }

    fn usage(&self, what: Counted) -> Ask<'_, Usage> {
        async move {
            let used = self.count(what.clone()).await?;
            let (quota, default_quota) = self.quota(what).await;
            Ok(Usage {
                used,
                quota,
                default_quota,
            })
        }
        .boxed()
    }

    fn certificate<'a>(&'a self, arn: &'a str) -> Ask<'a, Certificate> {
        async move {
            let region = shipit_core::preflight::arn_region(arn);
            let answer = self
                .api
                .json(
                    signed::ACM,
                    region,
                    "CertificateManager.DescribeCertificate",
                    &json!({"CertificateArn": arn}),
                )
                .await;
            // ACM's words for a certificate it does not know (or an ARN that names none).
            let missing = [
                "ResourceNotFoundException",
                "InvalidArnException",
                "ValidationException",
            ];
            let v = match answer {
                Err(e) if missing.iter().any(|code| e.contains(code)) => {
                    return Ok(Certificate {
                        status: shipit_core::preflight::MISSING.into(),
                        names: Vec::new(),
                    })
                }
                other => other?,
            };
            let c = &v["Certificate"];
            let mut names: Vec<String> = c["SubjectAlternativeNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
            if let Some(d) = c["DomainName"].as_str() {
                if !names.iter().any(|n| n == d) {
                    names.insert(0, d.to_string());
                }
            }
            Ok(Certificate {
                status: c["Status"].as_str().unwrap_or("UNKNOWN").to_string(),
                names,
            })
        }
        .boxed()
    }

    fn zone_name<'a>(&'a self, id: &'a str) -> Ask<'a, Option<String>> {
        async move {
            // The id as the stack uses it (core::preflight refuses one that is not Z...).
            if !shipit_core::preflight::valid_zone_id(id) {
                return Err(format!("{id:?} is not a hosted zone id"));
            }
            let path = format!("/2013-04-01/hostedzone/{id}");
            let body = match self.api.get(signed::ROUTE53, None, &path).await {
                Err(e) if e.contains("NoSuchHostedZone") => return Ok(None),
                other => other?,
            };
            // The zone's own name, not a delegation set's.
            let zone = xml_blocks(&body, "HostedZone")
                .into_iter()
                .next()
                .unwrap_or(&body);
            xml_text(zone, "Name")
                .map(Some)
                .ok_or_else(|| "GetHostedZone: no Name in the answer".to_string())
        }
        .boxed()
    }

    fn apigw_logging_role(&self) -> Ask<'_, Option<String>> {
        async move {
            let body = self.api.get(signed::APIGATEWAY, None, "/account").await?;
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| format!("GetAccount: {e}"))?;
            Ok(v["cloudwatchRoleArn"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string))
        }
        .boxed()
    }
}

/// `destroy --delete-database`: RDS's ModifyDBInstance, deletion protection off, at once.
impl Databases for Account {
    fn unprotect<'a>(&'a self, instance: &'a str) -> Call<'a, ()> {
        async move {
            self.api
                .query(
                    signed::RDS,
                    None,
                    "ModifyDBInstance",
                    "2014-10-31",
                    &[("DBInstanceIdentifier", instance), ("DeletionProtection", "false"), ("ApplyImmediately", "true")],
                )
                .await
                .map(|_| ())
                .or_else(|e| match e.contains("DBInstanceNotFound") {
                    true => Ok(()), // deleted already (a half-done destroy): nothing to lift
                    false => Err(e),
                })
                .map_err(|e| Error::Aws {
                    message: format!("lifting the deletion protection of database {instance}: {e}"),
                    hint: Some("this takes rds:ModifyDBInstance, an administrator's right: no shipit role has it".into()),
                })
        }
        .boxed()
    }
}
