"""The account the local cloud stands for: its quotas and what AWS offers in its region, set
through `POST /_shipit/account` so a test can be "a new account" (Lambda concurrency 10) or "an
old template" (a PostgreSQL major RDS no longer sells) and see shipit refuse up front.

Two halves:
- answer(): the read-only calls shipit's preflight makes that moto does not answer (or answers
  with nothing): Lambda's GetAccountSettings, RDS's DescribeDBEngineVersions and
  DescribeOrderableDBInstanceOptions for PostgreSQL, ElastiCache's
  DescribeReservedCacheNodesOfferings, and Service Quotas for the quota codes below. Everything
  else (EC2, ACM, Route 53, CloudFront's listings, API Gateway's account) is moto's own.
- SETTINGS, read by patches/account_limits.py, which makes creates as strict as AWS: a function
  whose reservation leaves fewer than 100 unreserved executions, a database on a version or
  class RDS does not sell, a cache node type ElastiCache does not offer, are refused with AWS's
  own words.

The defaults are a roomy, current account; DELETE /_shipit/account puts them back.
"""
import copy
import json
import threading
import urllib.parse

DEFAULTS = {
    # AWS Lambda "Concurrent executions" (L-B99A9384): 1,000 by default, as low as 10 on new
    # accounts (Lambda quotas, Lambda Developer Guide).
    "lambda_concurrency": 1000,
    # RDS for PostgreSQL: each major's minors and whether new instances may use them
    # ("available"), or not ("deprecated"), as DescribeDBEngineVersions says.
    "postgres_versions": {
        "14": {"14.17": "available", "14.18": "available"},
        "15": {"15.12": "available", "15.13": "available"},
        "16": {"16.6": "deprecated", "16.8": "available", "16.9": "available"},
        "17": {"17.4": "available", "17.5": "available"},
    },
    "db_instance_classes": ["db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.t3.micro",
                            "db.t3.small", "db.t3.medium", "db.m7g.large"],
    "cache_node_types": ["cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium",
                         "cache.t3.micro", "cache.t3.small", "cache.t3.medium"],
    # Service Quotas: (service code, quota code) -> value.
    "quotas": {
        "vpc/L-F678F1CE": 5,     # VPCs per Region
        "vpc/L-FE5A380F": 5,     # NAT gateways per Availability Zone
        "ec2/L-0263D0A3": 5,     # EC2-VPC Elastic IPs
        "cloudfront/L-24B04930": 200,  # Distributions per AWS account
        "lambda/L-B99A9384": 1000,     # Concurrent executions (follows lambda_concurrency)
    },
}

SETTINGS = copy.deepcopy(DEFAULTS)
_lock = threading.Lock()


def configure(changes):
    """Merge `changes` into the settings (dicts one level deep); returns the result."""
    with _lock:
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise KeyError(f"no account setting {key!r}: one of {', '.join(DEFAULTS)}")
            if isinstance(value, dict) and isinstance(SETTINGS[key], dict):
                SETTINGS[key].update(value)
            else:
                SETTINGS[key] = value
        SETTINGS["quotas"]["lambda/L-B99A9384"] = SETTINGS["lambda_concurrency"]
        return copy.deepcopy(SETTINGS)


def reset():
    with _lock:
        SETTINGS.clear()
        SETTINGS.update(copy.deepcopy(DEFAULTS))


def available_versions(major=None):
    """Every PostgreSQL version new instances may use (of one major)."""
    out = []
    for m, versions in SETTINGS["postgres_versions"].items():
        if major is None or m == major:
            out += [v for v, status in versions.items() if status == "available"]
    return out


def version_refusal(version):
    """AWS's refusal of a PostgreSQL version for a new instance, or None. A major alone is
    accepted while RDS sells a minor of it (RDS picks its default minor)."""
    version = str(version or "")
    known = SETTINGS["postgres_versions"]
    if version in known:
        if available_versions(version):
            return None
    elif any(version in v and v[version] == "available" for v in known.values()):
        return None
    return f"Cannot find version {version} for postgres"


def class_refusal(instance_class, version):
    if instance_class in SETTINGS["db_instance_classes"]:
        return None
    return ("RDS does not support creating a DB instance with the following combination: "
            f"DBInstanceClass={instance_class}, Engine=postgres, EngineVersion={version}, "
            "LicenseModel=postgresql-license. For supported combinations of instance class and "
            "database engine version, see the documentation.")


def reserved_refusal(lambda_backend, function_name, reserved):
    """Lambda's refusal of a reservation that leaves fewer than 100 unreserved, or None."""
    if reserved in (None, ""):
        return None
    free = SETTINGS["lambda_concurrency"] - int(reserved)
    for fn in lambda_backend.list_functions():
        if fn.reserved_concurrency and fn.function_name != function_name:
            free -= int(fn.reserved_concurrency)
    if free < 100:
        return ("Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of [100].")
    return None


# ---------------------------------------------------------------- the read-only answers

def _service(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return "", ""
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return (scope[3], scope[2]) if len(scope) >= 5 else ("", "")


def _xml(action, inner, namespace):
    body = (f'<{action}Response xmlns="{namespace}"><{action}Result>{inner}</{action}Result>'
            f"<ResponseMetadata><RequestId>rig</RequestId></ResponseMetadata></{action}Response>")
    return "200 OK", [("Content-Type", "text/xml")], body.encode()


def _json(doc, status="200 OK"):
    return status, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(doc).encode()


def answer(environ, body, zones):
    """The answer to a call moto does not make, or None to let moto answer. `body()` reads the
    request's body; `zones(region)` lists the region's availability zones."""
    service, region = _service(environ)
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if service == "lambda" and method == "GET" and path.rstrip("/") == "/2016-08-19/account-settings":
        from moto.awslambda.models import lambda_backends
        limit = SETTINGS["lambda_concurrency"]
        backend = lambda_backends[_account(environ)][region]
        functions = backend.list_functions()
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        return _json({"AccountLimit": {"ConcurrentExecutions": limit,
                                       "UnreservedConcurrentExecutions": limit - reserved,
                                       "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
                                       "TotalCodeSize": 80530636800},
                      "AccountUsage": {"FunctionCount": len(functions), "TotalCodeSize": 0}})
    if service in ("rds", "elasticache") and method == "POST":
        form = dict(urllib.parse.parse_qsl(body().decode("utf-8", "replace")))
        action = form.get("Action")
        if service == "rds" and action == "DescribeDBEngineVersions" and form.get("Engine") == "postgres":
            want = form.get("EngineVersion", "")
            rows = []
            for major, versions in SETTINGS["postgres_versions"].items():
                listed = [(v, status) for v, status in versions.items()
                          if want in ("", major, v) and (status == "available" or form.get("IncludeAll") == "true")]
                if form.get("DefaultOnly") == "true":
                    # The engine and major's default: here its newest available version.
                    listed = [(v, st) for v, st in listed if st == "available"][-1:]
                for v, status in listed:
                    rows.append(f"<DBEngineVersion><Engine>postgres</Engine><EngineVersion>{v}</EngineVersion>"
                                f"<DBParameterGroupFamily>postgres{major}</DBParameterGroupFamily>"
                                f"<Status>{status}</Status></DBEngineVersion>")
            return _xml(action, f"<DBEngineVersions>{''.join(rows)}</DBEngineVersions>",
                        "http://rds.amazonaws.com/doc/2014-10-31/")
        if service == "rds" and action == "DescribeOrderableDBInstanceOptions" and form.get("Engine") == "postgres":
            classes = SETTINGS["db_instance_classes"]
            if form.get("DBInstanceClass"):
                classes = [c for c in classes if c == form["DBInstanceClass"]]
            want = form.get("EngineVersion")
            az = "".join(f"<AvailabilityZone><Name>{z}</Name></AvailabilityZone>" for z in zones(region))
            rows = [f"<OrderableDBInstanceOption><Engine>postgres</Engine><EngineVersion>{v}</EngineVersion>"
                    f"<DBInstanceClass>{c}</DBInstanceClass><AvailabilityZones>{az}</AvailabilityZones>"
                    f"<Vpc>true</Vpc></OrderableDBInstanceOption>"
                    for v in available_versions() if not want or v == want for c in classes]
            return _xml(action, f"<OrderableDBInstanceOptions>{''.join(rows)}</OrderableDBInstanceOptions>",
                        "http://rds.amazonaws.com/doc/2014-10-31/")
        if service == "elasticache" and action == "DescribeReservedCacheNodesOfferings":
            node = form.get("CacheNodeType")
            offered = [t for t in SETTINGS["cache_node_types"] if not node or t == node]
            rows = "".join(f"<ReservedCacheNodesOffering><ReservedCacheNodesOfferingId>rig-{t}</ReservedCacheNodesOfferingId>"
                           f"<CacheNodeType>{t}</CacheNodeType><Duration>31536000</Duration>"
                           f"<ProductDescription>redis</ProductDescription><OfferingType>No Upfront</OfferingType>"
                           f"</ReservedCacheNodesOffering>" for t in offered)
            return _xml(action, f"<ReservedCacheNodesOfferings>{rows}</ReservedCacheNodesOfferings>",
                        "http://elasticache.amazonaws.com/doc/2015-02-02/")
    if service == "servicequotas":
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.endswith((".GetServiceQuota", ".GetAWSDefaultServiceQuota")):
            doc = json.loads(body() or b"{}")
            key = f"{doc.get('ServiceCode')}/{doc.get('QuotaCode')}"
            if key in SETTINGS["quotas"]:
                return _json({"Quota": {"ServiceCode": doc["ServiceCode"], "QuotaCode": doc["QuotaCode"],
                                        "Value": float(SETTINGS["quotas"][key]), "Adjustable": True}})
    return None


def _account(environ):
    from moto.core import DEFAULT_ACCOUNT_ID
    return DEFAULT_ACCOUNT_ID
