"""CloudFormation resource types moto's CloudFormation skips, made real for the local cloud.

moto 5.2 silently skips these types (a stack still reaches CREATE_COMPLETE, outputs referring
to them vanish, a GetAtt on them in Outputs is an HTTP 500). moto builds its type map from
`CloudFormationModel.__subclasses__()` on first use, so importing this module before the server
handles its first request registers them. Each class must be a direct subclass of
CloudFormationModel and carry `__module__ = "moto.<service>.models"` (moto's metaclass files
models by that name). Each creates its resource in moto's own service backend where moto has
one, so the service APIs (CloudFront, Cognito, API Gateway, ...) see what the stack made.

Raw CloudFormation properties are also kept (RIG.resources) so the local edge can read what
moto's CloudFront model drops (OAC id on origins, function associations, cache and response
headers policies): see `GET /_shipit/resources`.
"""
import json
import secrets
import string
import uuid

from moto.apigateway.models import apigateway_backends
from moto.cloudfront.models import cloudfront_backends
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.elasticache.models import elasticache_backends
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.utilities.utils import get_partition


class Registry:
    """What the rig's models created: type -> physical id -> CloudFormation properties."""

    def __init__(self):
        self.resources = {}

    def put(self, cfn_type, pid, props, attrs):
        self.resources.setdefault(cfn_type, {})[pid] = {"properties": props, "attributes": attrs}

    def drop(self, cfn_type, pid):
        self.resources.get(cfn_type, {}).pop(pid, None)

    def snapshot(self):
        return json.loads(json.dumps(self.resources, default=str))


RIG = Registry()


def rand_id(n=13, alphabet=string.ascii_uppercase + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def items(values):
    values = list(values or [])
    return {"Quantity": len(values), "Items": values}


class Rig:
    """Shared behaviour; subclasses set TYPE, ATTRS and implement make(), optionally remove()."""

    TYPE = ""
    ATTRS = ()

    def __init__(self, pid, props, attrs, account_id, region_name):
        self.pid = pid
        self.props = props
        self.attrs = attrs
        self.account_id = account_id
        self.region_name = region_name
        RIG.put(self.TYPE, pid, props, attrs)

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRS

    @property
    def physical_resource_id(self):
        return self.pid

    def get_cfn_attribute(self, attr):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attr in self.attrs:
            return self.attrs[attr]
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        pid, attrs = cls.make(resource_name, props, account_id, region_name)
        return cls(pid, props, attrs, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id, region_name):
        self.remove(account_id, region_name)
        RIG.drop(self.TYPE, self.pid)

    def remove(self, account_id, region_name):
        pass


def cf_backend(account_id, region_name):
    return cloudfront_backends[account_id][get_partition(region_name)]


# ------------------------------------------------------------------- S3

class RigBucketPolicy(Rig, CloudFormationModel):
    __module__ = "moto.s3.models"
    TYPE = "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_type():
        return RigBucketPolicy.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        bucket = props["Bucket"]
        policy = props["PolicyDocument"]
        if not isinstance(policy, str):
            policy = json.dumps(policy)
        s3_backends[account_id][get_partition(region_name)].put_bucket_policy(bucket, policy.encode())
        return bucket, {}

    def remove(self, account_id, region_name):
        try:
            s3_backends[account_id][get_partition(region_name)].delete_bucket_policy(self.pid)
        except Exception:
            pass  # the bucket may already be gone


# ------------------------------------------------------------------- CloudFront

class RigOriginAccessControl(Rig, CloudFormationModel):
    __module__ = "moto.cloudfront.models"
    TYPE = "AWS::CloudFront::OriginAccessControl"
    ATTRS = ("Id",)

    @staticmethod
    def cloudformation_type():
        return RigOriginAccessControl.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        oac = cf_backend(account_id, region_name).create_origin_access_control(
            dict(props.get("OriginAccessControlConfig", {})))
        return oac.id, {"Id": oac.id}

    def remove(self, account_id, region_name):
        cf_backend(account_id, region_name).origin_access_controls.pop(self.pid, None)


class RigCloudFrontFunction(Rig, CloudFormationModel):
    __module__ = "moto.cloudfront.models"
    TYPE = "AWS::CloudFront::Function"
    ATTRS = ("FunctionARN", "FunctionMetadata.FunctionARN", "Stage")

    @staticmethod
    def cloudformation_type():
        return RigCloudFrontFunction.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        fname = props.get("Name") or name
        fn = cf_backend(account_id, region_name).create_function(
            fname, dict(props.get("FunctionConfig", {})), props.get("FunctionCode", "").encode(), [])
        return fname, {"FunctionARN": fn.arn, "FunctionMetadata.FunctionARN": fn.arn,
                       "Stage": "LIVE" if props.get("AutoPublish") else "DEVELOPMENT"}

    def remove(self, account_id, region_name):
        cf_backend(account_id, region_name).functions.pop(self.pid, None)


class RigCachePolicy(Rig, CloudFormationModel):
    # moto's CloudFront has no cache policies: the rig's registry is their store.
    __module__ = "moto.cloudfront.models"
    TYPE = "AWS::CloudFront::CachePolicy"
    ATTRS = ("Id", "LastModifiedTime")

    @staticmethod
    def cloudformation_type():
        return RigCachePolicy.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        pid = str(uuid.uuid4())
        return pid, {"Id": pid, "LastModifiedTime": "2026-01-01T00:00:00Z"}


class RigResponseHeadersPolicy(Rig, CloudFormationModel):
    __module__ = "moto.cloudfront.models"
    TYPE = "AWS::CloudFront::ResponseHeadersPolicy"
    ATTRS = ("Id", "LastModifiedTime")

    @staticmethod
    def cloudformation_type():
        return RigResponseHeadersPolicy.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        pid = str(uuid.uuid4())
        return pid, {"Id": pid, "LastModifiedTime": "2026-01-01T00:00:00Z"}


def _behavior(b):
    out = {k: v for k, v in b.items() if k not in ("AllowedMethods", "CachedMethods", "FunctionAssociations")}
    allowed = b.get("AllowedMethods", ["GET", "HEAD"])
    out["AllowedMethods"] = dict(items(allowed), CachedMethods=items(b.get("CachedMethods", ["GET", "HEAD"])))
    out["FunctionAssociations"] = items(b.get("FunctionAssociations", []))
    out.setdefault("Compress", False)
    return out


def distribution_config(props, caller_reference):
    """CloudFormation's DistributionConfig -> the API's shape, as moto's backend takes it."""
    c = props.get("DistributionConfig", {})
    cert = c.get("ViewerCertificate") or {"CloudFrontDefaultCertificate": True}
    viewer = {
        "CloudFrontDefaultCertificate": bool(cert.get("CloudFrontDefaultCertificate", False)),
        "ACMCertificateArn": cert.get("AcmCertificateArn", ""),
        "SSLSupportMethod": cert.get("SslSupportMethod", "sni-only"),
        "MinimumProtocolVersion": cert.get("MinimumProtocolVersion", "TLSv1"),
    }
    origins = []
    for o in c.get("Origins", []):
        origin = {k: v for k, v in o.items() if k != "S3OriginConfig"}
        if "S3OriginConfig" in o:
            origin["S3OriginConfig"] = {"OriginAccessIdentity": o["S3OriginConfig"].get("OriginAccessIdentity", "")}
        origins.append(origin)
    config = {
        "CallerReference": caller_reference,
        "Comment": c.get("Comment", ""),
        "Enabled": c.get("Enabled", True),
        "Aliases": items(c.get("Aliases", [])),
        "DefaultRootObject": c.get("DefaultRootObject", ""),
        "Origins": items(origins),
        "DefaultCacheBehavior": _behavior(c.get("DefaultCacheBehavior", {})),
        "CacheBehaviors": items([_behavior(b) for b in c.get("CacheBehaviors", [])]),
        "CustomErrorResponses": items(c.get("CustomErrorResponses", [])),
        "PriceClass": c.get("PriceClass", "PriceClass_All"),
        "HttpVersion": c.get("HttpVersion", "http2"),
        "IsIPV6Enabled": c.get("IPV6Enabled", True),
        "ViewerCertificate": viewer,
    }
    if c.get("Logging"):
        config["Logging"] = dict(c["Logging"], Enabled=True)
    return config


class RigDistribution(Rig, CloudFormationModel):
    __module__ = "moto.cloudfront.models"
    TYPE = "AWS::CloudFront::Distribution"
    ATTRS = ("DomainName", "Id")

    @staticmethod
    def cloudformation_type():
        return RigDistribution.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        dist, _, _ = cf_backend(account_id, region_name).create_distribution(
            distribution_config(props, str(uuid.uuid4())), [])
        return dist.distribution_id, {"DomainName": dist.domain_name, "Id": dist.distribution_id,
                                      "Arn": dist.arn}

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        # A distribution is updated in place: same id, same domain name.
        props = cloudformation_json.get("Properties", {})
        backend = cf_backend(account_id, region_name)
        dist = backend.distributions[original_resource.pid]
        old_ref = dist.distribution_config.caller_reference
        backend.update_distribution(distribution_config(props, old_ref), original_resource.pid, "*")
        return cls(original_resource.pid, props, original_resource.attrs, account_id, region_name)

    def remove(self, account_id, region_name):
        cf_backend(account_id, region_name).distributions.pop(self.pid, None)


# ------------------------------------------------------------------- API Gateway

def apigw(account_id, region_name):
    return apigateway_backends[account_id][region_name]


class RigApiStage(Rig, CloudFormationModel):
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::Stage"

    @staticmethod
    def cloudformation_type():
        return RigApiStage.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        stage = props.get("StageName") or name
        apigw(account_id, region_name).create_stage(
            props["RestApiId"], stage, props.get("DeploymentId"), variables=props.get("Variables"),
            description=props.get("Description", ""), cacheClusterEnabled=props.get("CacheClusterEnabled"),
            cacheClusterSize=props.get("CacheClusterSize"), tags=None,
            tracing_enabled=props.get("TracingEnabled"))
        return stage, {}

    def remove(self, account_id, region_name):
        try:
            apigw(account_id, region_name).delete_stage(self.props["RestApiId"], self.pid)
        except Exception:
            pass


class RigApiAuthorizer(Rig, CloudFormationModel):
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::Authorizer"
    ATTRS = ("AuthorizerId",)

    @staticmethod
    def cloudformation_type():
        return RigApiAuthorizer.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        auth = apigw(account_id, region_name).create_authorizer(
            props["RestApiId"], props.get("Name", name), props.get("Type"),
            provider_arns=props.get("ProviderARNs"), identity_source=props.get("IdentitySource"))
        return auth.id, {"AuthorizerId": auth.id}

    def remove(self, account_id, region_name):
        try:
            apigw(account_id, region_name).delete_authorizer(self.props["RestApiId"], self.pid)
        except Exception:
            pass


class RigApiAccount(Rig, CloudFormationModel):
    # Account-wide settings (the CloudWatch role): nothing to create in moto.
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::Account"
    ATTRS = ("Id",)

    @staticmethod
    def cloudformation_type():
        return RigApiAccount.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        return f"{account_id}-apigateway-account", {"Id": account_id}


class RigApiDomainName(Rig, CloudFormationModel):
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::DomainName"
    ATTRS = ("DistributionDomainName", "DistributionHostedZoneId", "RegionalDomainName",
             "RegionalHostedZoneId")

    @staticmethod
    def cloudformation_type():
        return RigApiDomainName.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        domain = props["DomainName"]
        regional = f"d-{rand_id(10).lower()}.execute-api.{region_name}.amazonaws.com"
        return domain, {"DistributionDomainName": "", "DistributionHostedZoneId": "",
                        "RegionalDomainName": regional, "RegionalHostedZoneId": "Z1UJRXOUMOOFQ8"}


class RigApiBasePathMapping(Rig, CloudFormationModel):
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::BasePathMapping"

    @staticmethod
    def cloudformation_type():
        return RigApiBasePathMapping.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        return f"{props['DomainName']}/{props.get('BasePath', '')}", {}


# ------------------------------------------------------------------- Cognito

def cognito(account_id, region_name):
    return cognitoidp_backends[account_id][region_name]


class RigUserPool(Rig, CloudFormationModel):
    __module__ = "moto.cognitoidp.models"
    TYPE = "AWS::Cognito::UserPool"
    ATTRS = ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    @staticmethod
    def cloudformation_type():
        return RigUserPool.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        config = {k: v for k, v in props.items() if k != "UserPoolName"}
        pool = cognito(account_id, region_name).create_user_pool(props.get("UserPoolName", name), config)
        provider = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
        return pool.id, {"Arn": pool.arn, "ProviderName": provider,
                         "ProviderURL": f"https://{provider}", "UserPoolId": pool.id}

    def remove(self, account_id, region_name):
        try:
            cognito(account_id, region_name).delete_user_pool(self.pid)
        except Exception:
            pass


class RigUserPoolClient(Rig, CloudFormationModel):
    __module__ = "moto.cognitoidp.models"
    TYPE = "AWS::Cognito::UserPoolClient"
    ATTRS = ("ClientId", "ClientSecret", "Name")

    @staticmethod
    def cloudformation_type():
        return RigUserPoolClient.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        config = {k: v for k, v in props.items() if k not in ("UserPoolId", "GenerateSecret")}
        config.setdefault("ClientName", name)
        client = cognito(account_id, region_name).create_user_pool_client(
            props["UserPoolId"], bool(props.get("GenerateSecret")), config)
        return client.id, {"ClientId": client.id, "ClientSecret": client.secret or "",
                           "Name": config["ClientName"]}

    def remove(self, account_id, region_name):
        try:
            cognito(account_id, region_name).delete_user_pool_client(self.props["UserPoolId"], self.pid)
        except Exception:
            pass


# ------------------------------------------------------------------- EC2

class RigSecurityGroupEgress(Rig, CloudFormationModel):
    __module__ = "moto.ec2.models"
    TYPE = "AWS::EC2::SecurityGroupEgress"
    ATTRS = ("Id",)

    @staticmethod
    def cloudformation_type():
        return RigSecurityGroupEgress.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        ranges = [{"CidrIp": props["CidrIp"]}] if props.get("CidrIp") else []
        groups = ([{"GroupId": props["DestinationSecurityGroupId"]}]
                  if props.get("DestinationSecurityGroupId") else None)
        rules, _ = ec2_backends[account_id][region_name].authorize_security_group_egress(
            props["GroupId"], str(props.get("IpProtocol")), str(props.get("FromPort")),
            str(props.get("ToPort")), ranges, source_groups=groups)
        rule_id = rules[0].id if rules else f"sgr-{rand_id(17).lower()}"
        return rule_id, {"Id": rule_id}


# ------------------------------------------------------------------- Secrets Manager

class RigSecret(Rig, CloudFormationModel):
    __module__ = "moto.secretsmanager.models"
    TYPE = "AWS::SecretsManager::Secret"
    ATTRS = ("Id",)

    @staticmethod
    def cloudformation_type():
        return RigSecret.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        value = props.get("SecretString")
        gen = props.get("GenerateSecretString")
        if value is None and gen is not None:
            alphabet = string.ascii_letters + string.digits
            if not gen.get("ExcludePunctuation"):
                alphabet += "!#$%&()*+,-.:;<=>?[]^_{|}~"
            value = "".join(secrets.choice(alphabet) for _ in range(int(gen.get("PasswordLength", 32))))
        arn_json = secretsmanager_backends[account_id][region_name].create_secret(
            name=props.get("Name") or f"{name}-{rand_id(6)}", secret_string=value, secret_binary=None,
            description=props.get("Description"), tags=props.get("Tags"), kms_key_id=props.get("KmsKeyId"),
            client_request_token=None, replica_regions=[], force_overwrite=False)
        arn = json.loads(arn_json)["ARN"]
        return arn, {"Id": arn}

    def remove(self, account_id, region_name):
        try:
            secretsmanager_backends[account_id][region_name].delete_secret(self.pid, None, True)
        except Exception:
            pass


# ------------------------------------------------------------------- ElastiCache

def elasticache(account_id, region_name):
    return elasticache_backends[account_id][region_name]


class RigCacheSubnetGroup(Rig, CloudFormationModel):
    __module__ = "moto.elasticache.models"
    TYPE = "AWS::ElastiCache::SubnetGroup"

    @staticmethod
    def cloudformation_type():
        return RigCacheSubnetGroup.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        group = (props.get("CacheSubnetGroupName") or name).lower()
        elasticache(account_id, region_name).create_cache_subnet_group(
            group, props.get("Description", ""), props.get("SubnetIds", []), None)
        return group, {}

    def remove(self, account_id, region_name):
        backend = elasticache(account_id, region_name)
        try:
            backend.delete_cache_subnet_group(self.pid)
        except Exception:
            getattr(backend, "cache_subnet_groups", {}).pop(self.pid, None)


class RigReplicationGroup(Rig, CloudFormationModel):
    __module__ = "moto.elasticache.models"
    TYPE = "AWS::ElastiCache::ReplicationGroup"
    ATTRS = ("PrimaryEndPoint.Address", "PrimaryEndPoint.Port", "ReaderEndPoint.Address",
             "ReaderEndPoint.Port", "ConfigurationEndPoint.Address", "ConfigurationEndPoint.Port")

    @staticmethod
    def cloudformation_type():
        return RigReplicationGroup.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        group = (props.get("ReplicationGroupId") or name).lower()[:40]
        host = f"master.{group}.{rand_id(6).lower()}.{region_name[:3]}1.cache.amazonaws.com"
        reader = host.replace("master.", "replica.", 1)
        return group, {"PrimaryEndPoint.Address": host, "PrimaryEndPoint.Port": "6379",
                       "ReaderEndPoint.Address": reader, "ReaderEndPoint.Port": "6379",
                       "ConfigurationEndPoint.Address": "", "ConfigurationEndPoint.Port": ""}


MODELS = [RigBucketPolicy, RigOriginAccessControl, RigCloudFrontFunction, RigCachePolicy,
          RigResponseHeadersPolicy, RigDistribution, RigApiStage, RigApiAuthorizer, RigApiAccount,
          RigApiDomainName, RigApiBasePathMapping, RigUserPool, RigUserPoolClient,
          RigSecurityGroupEgress, RigSecret, RigCacheSubnetGroup, RigReplicationGroup]


# ------------------------------------------------------------------- template parsing fix

def _fix_short_getatt():
    """CloudFormation splits `!GetAtt A.B.C` at the first dot only (["A", "B.C"]); moto splits
    at every dot and reads the second part, so `Database.Endpoint.Address` and
    `Fn.FunctionMetadata.FunctionARN` break; and it reads `!Condition X` as a function. Replace
    moto's YAML tag constructor everywhere it was imported."""
    import moto.cloudformation.models as cfm
    import moto.cloudformation.responses as cfr
    import moto.cloudformation.utils as cfu

    original = cfu.yaml_tag_constructor

    def constructor(loader, tag, node):
        if tag == "!GetAtt" and not isinstance(node.value, list):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        if tag == "!Condition":
            # `!Condition X` is {"Condition": "X"}, not {"Fn::Condition": ...}: moto's
            # condition parser looks for the former, so nested conditions were always false.
            return {"Condition": node.value}
        return original(loader, tag, node)

    for module in (cfu, cfm, cfr):
        module.yaml_tag_constructor = constructor


_fix_short_getatt()


def _fix_mock_integration():
    """A MOCK integration has no IntegrationHttpMethod on AWS (it is optional there); moto's
    AWS::ApiGateway::Method model requires one."""
    from moto.apigateway.models import Method

    original = Method.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        integration = cloudformation_json.get("Properties", {}).get("Integration")
        if integration is not None:
            integration.setdefault("IntegrationHttpMethod", "POST")
            integration.setdefault("Uri", "")
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Method.create_from_cloudformation_json = classmethod(create)


_fix_mock_integration()


def _fix_rds_managed_password():
    """moto's AWS::RDS::DBInstance ignores ManageMasterUserPassword (so there is no
    MasterUserSecret.SecretArn to GetAtt) and defaults every engine to port 3306."""
    from moto.rds.models import DBInstance, MasterUserSecret

    original_create = DBInstance.create_from_cloudformation_json.__func__
    original_has = DBInstance.has_cfn_attr.__func__
    original_get = DBInstance.get_cfn_attribute

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.setdefault("Properties", {})
        if str(props.get("Engine", "")).startswith("postgres"):
            props.setdefault("Port", 5432)
        instance = original_create(cls, resource_name, cloudformation_json, account_id,
                                   region_name, **kwargs)
        if str(props.get("ManageMasterUserPassword", "")).lower() == "true":
            instance.manage_master_user_password = True
            instance.master_user_secret = MasterUserSecret(
                instance, props.get("MasterUserSecret", {}).get("KmsKeyId"))
        return instance

    def has(cls, attr):
        return attr == "MasterUserSecret.SecretArn" or original_has(cls, attr)

    def get(self, attr):
        if attr == "MasterUserSecret.SecretArn" and getattr(self, "master_user_secret", None):
            return self.master_user_secret.secret.arn
        return original_get(self, attr)

    DBInstance.create_from_cloudformation_json = classmethod(create)
    DBInstance.has_cfn_attr = classmethod(has)
    DBInstance.get_cfn_attribute = get


_fix_rds_managed_password()


# Properties whose change replaces the resource ("Update requires: Replacement" in the
# CloudFormation reference), for the types where it matters most.
REPLACING = {
    "AWS::DynamoDB::Table": ["TableName", "KeySchema", "LocalSecondaryIndexes"],
    "AWS::RDS::DBInstance": ["DBInstanceIdentifier", "DBName", "Engine", "StorageEncrypted",
                             "KmsKeyId", "MasterUsername", "CharacterSetName",
                             "DBClusterIdentifier", "SourceDBInstanceIdentifier"],
    "AWS::RDS::DBCluster": ["DBClusterIdentifier", "Engine", "StorageEncrypted", "KmsKeyId",
                            "MasterUsername", "DatabaseName"],
    "AWS::S3::Bucket": ["BucketName", "ObjectLockEnabled"],
    "AWS::Cognito::UserPool": ["UsernameAttributes", "AliasAttributes", "Schema"],
    "AWS::EC2::VPC": ["CidrBlock", "InstanceTenancy"],
    "AWS::EC2::Subnet": ["CidrBlock", "AvailabilityZone", "VpcId"],
    "AWS::Lambda::Function": ["FunctionName"],
    "AWS::ElastiCache::ReplicationGroup": ["ReplicationGroupId", "Engine", "CacheSubnetGroupName"],
    "AWS::CloudFront::Function": ["Name"],
}


def _refs(node, out):
    """Names referenced by Ref, ${Name} in Fn::Sub, and Conditions named in Fn::If/Condition."""
    import re
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                if isinstance(text, str):
                    out.update(n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text))
                _refs(v[1] if isinstance(v, list) and len(v) > 1 else None, out)
            elif k == "Fn::If" and isinstance(v, list) and v:
                out.add(("condition", v[0]))
                _refs(v[1:], out)
            elif k == "Condition" and isinstance(v, str):
                out.add(("condition", v))
            else:
                _refs(v, out)
    elif isinstance(node, list):
        for item in node:
            _refs(item, out)
    return out


def _condition_params(conditions, name, seen=None):
    """The parameters a named Condition depends on."""
    seen = seen or set()
    if name in seen:
        return set()
    seen.add(name)
    params = set()
    for r in _refs(conditions.get(name), set()):
        if isinstance(r, tuple):
            params |= _condition_params(conditions, r[1], seen)
        else:
            params.add(r)
    return params


def _eval_condition(expr, conditions, params):
    if isinstance(expr, dict):
        if "Condition" in expr:
            return _eval_condition(conditions.get(expr["Condition"]), conditions, params)
        if "Fn::Equals" in expr:
            a, b = (_value(x, params) for x in expr["Fn::Equals"])
            return str(a) == str(b)
        if "Fn::Not" in expr:
            return not _eval_condition(expr["Fn::Not"][0], conditions, params)
        if "Fn::And" in expr:
            return all(_eval_condition(x, conditions, params) for x in expr["Fn::And"])
        if "Fn::Or" in expr:
            return any(_eval_condition(x, conditions, params) for x in expr["Fn::Or"])
    return bool(expr)


def _value(x, params):
    if isinstance(x, dict) and "Ref" in x:
        return params.get(x["Ref"], "")
    return x


def _normalised(resource):
    r = dict(resource or {})
    if not r.get("Properties"):
        r.pop("Properties", None)
    return json.dumps(r, sort_keys=True, default=str)


def _fix_change_set_diff():
    """moto's change sets ignore parameters (a parameter change shows no change), report a
    resource without Properties as modified every time (it adds `Properties: {}` to what it
    stored), ignore Conditions, and never say whether a Modify replaces the resource. Diff the
    old and new templates as CloudFormation does: Conditions evaluated under the old and the new
    parameters, a resource modified when its JSON changed or it references a changed parameter
    (directly or through a Condition in Fn::If), Replacement from the properties that force one."""
    import copy

    from moto.cloudformation.models import Change, ChangeSet

    def params_of(template, given):
        values = {k: str(v.get("Default", "")) for k, v in (template.get("Parameters") or {}).items()}
        values.update({k: str(v) for k, v in (given or {}).items()})
        return values

    def diff(self):
        new = self.template_dict or {}
        if self.change_set_type == "CREATE" or not self.stack.template:
            old = {}
        else:
            old = copy.deepcopy(self.stack.parse_template(self.stack.template)) or {}
        old_params = params_of(old, getattr(self.stack, "parameters", {}))
        new_params = params_of(new, self.parameters)
        changed = {k for k in set(old_params) | set(new_params) if old_params.get(k) != new_params.get(k)}
        old_res, new_res = old.get("Resources") or {}, new.get("Resources") or {}
        old_cond, new_cond = old.get("Conditions") or {}, new.get("Conditions") or {}

        def active(res, name, conds, values):
            c = (res.get(name) or {}).get("Condition")
            return name in res and (c is None or _eval_condition({"Condition": c}, conds, values))

        def touches_changed(resource_json, conds):
            names = set()
            for r in _refs(resource_json, set()):
                names |= _condition_params(conds, r[1]) if isinstance(r, tuple) else {r}
            return bool(names & changed)

        changes = []
        for name in sorted(set(old_res) | set(new_res)):
            was = active(old_res, name, old_cond, old_params)
            now = active(new_res, name, new_cond, new_params)
            kind = (new_res.get(name) or old_res.get(name))["Type"]
            if now and not was:
                action = "Add"
            elif was and not now:
                action = "Remove"
            elif now and (_normalised(old_res[name]) != _normalised(new_res[name])
                          or touches_changed(new_res[name], new_cond)):
                action = "Modify"
            else:
                continue
            change = Change(action=action, logical_resource_id=name, resource_type=kind)
            if action == "Modify":
                before = (old_res[name].get("Properties") or {})
                after = (new_res[name].get("Properties") or {})
                replaces = any(
                    before.get(k) != after.get(k) or touches_changed(after.get(k), new_cond)
                    for k in REPLACING.get(kind, []))
                change.replacement = "True" if replaces else "False"
            changes.append(change)
        return changes

    ChangeSet.diff = diff


_fix_change_set_diff()


def _fix_bucket_properties():
    """moto's AWS::S3::Bucket applies BucketEncryption and Tags only: versioning, Block Public
    Access and ownership controls in the template were silently dropped."""
    from moto.s3.models import FakeBucket, s3_backends

    def apply(bucket, props, account_id, region_name):
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(bucket.name, {k: str(v).lower() for k, v in block.items()})
        ownership = props.get("OwnershipControls")
        if ownership:
            rule = (ownership.get("Rules") or [{}])[0].get("ObjectOwnership")
            if rule:
                backend.put_bucket_ownership_controls(bucket.name, rule)

    original_create = FakeBucket.create_from_cloudformation_json.__func__
    original_update = FakeBucket.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        apply(bucket, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return bucket

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)
        apply(bucket, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create)
    FakeBucket.update_from_cloudformation_json = classmethod(update)


_fix_bucket_properties()


def _add_rollback():
    """moto executes a change set with no failure handling: an exception while creating a
    resource is an HTTP 500 and the stack stays mid-operation. CloudFormation instead records
    the failing resource (CREATE_FAILED / UPDATE_FAILED with the reason), rolls back and
    settles in ROLLBACK_COMPLETE (a failed first create) or UPDATE_ROLLBACK_COMPLETE."""
    import threading

    import moto.cloudformation.parsing as parsing
    from moto.cloudformation.models import CloudFormationBackend, Event

    current = threading.local()
    original_create = parsing.parse_and_create_resource

    def create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        current.resource = (logical_id, resource_json.get("Type", ""))
        return original_create(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_create_resource = create_resource
    original_execute = CloudFormationBackend.execute_change_set

    def resource_event(stack, logical_id, kind, status, reason):
        stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name,
                                  logical_resource_id=logical_id, physical_resource_id="",
                                  resource_type=kind, resource_status=status,
                                  resource_status_reason=reason, resource_properties=None))

    def execute(self, change_set_name, stack_name=None):
        current.resource = None
        try:
            result = original_execute(self, change_set_name, stack_name)
            # moto keeps the parsed template (and so the outputs) from before the change set.
            for change_set in self.change_sets.values():
                if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                    stack = self.stacks[change_set.stack_id]
                    stack.template = change_set.template
                    stack._parse_template()
                    stack.output_map = stack._create_output_map()
            return result
        except Exception as e:  # what CloudFormation reports as a failed resource
            change_set = next((c for c in self.change_sets.values()
                               if change_set_name in (c.change_set_id, c.change_set_name)), None)
            if change_set is None:
                raise
            stack = self.stacks[change_set.stack_id]
            logical_id, kind = current.resource or (stack.name, "AWS::CloudFormation::Stack")
            reason = getattr(e, "message", None) or str(e) or type(e).__name__
            creating = change_set.change_set_type == "CREATE"
            resource_event(stack, logical_id, kind, "CREATE_FAILED" if creating else "UPDATE_FAILED", reason)
            if creating:
                stack._add_stack_event("ROLLBACK_IN_PROGRESS",
                                       resource_status_reason=f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user.")
                try:
                    stack.resource_map.delete()
                except Exception:
                    pass
                stack.status = "ROLLBACK_COMPLETE"
                stack._add_stack_event("ROLLBACK_COMPLETE")
            else:
                stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS",
                                       resource_status_reason=f"The following resource(s) failed to update: [{logical_id}].")
                stack.status = "UPDATE_ROLLBACK_COMPLETE"
                stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            change_set.execution_status = "EXECUTE_FAILED"

    CloudFormationBackend.execute_change_set = execute


_add_rollback()


def _add_termination_protection():
    """moto stores EnableTerminationProtection at create but has no UpdateTerminationProtection
    (a 500) and deletes protected stacks. Add the action, and refuse DeleteStack on a protected
    stack as CloudFormation does."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def find(backend, name_or_id):
        for stack in backend.stacks.values():
            if name_or_id in (stack.name, stack.stack_id):
                return stack
        raise ValidationError(name_or_id, message=f"Stack [{name_or_id}] does not exist")

    def update_termination_protection(self):
        stack = find(self.cloudformation_backend, self._get_param("StackName"))
        stack.enable_termination_protection = str(
            self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection
    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self, name_or_stack_id):
        stack = next((s for s in self.stacks.values()
                      if name_or_stack_id in (s.name, s.stack_id)), None)
        if stack is not None and stack.enable_termination_protection:
            raise ValidationError(
                name_or_stack_id,
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        return original_delete(self, name_or_stack_id)

    CloudFormationBackend.delete_stack = delete_stack


_add_termination_protection()


def _add_network_deletes():
    """moto's route tables, routes, VPC endpoints, gateway attachments and internet gateways
    made by CloudFormation are never deleted with the stack, so the VPC cannot be either
    (DependencyViolation) and `shipit destroy` could never finish. Give each a delete."""
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import RouteTable
    from moto.ec2.models.vpcs import VPCEndPoint
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def ec2(account_id, region_name):
        return ec2_backends[account_id][region_name]

    def route_table_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        for association_id in list(getattr(self, "associations", {}) or {}):
            try:
                backend.disassociate_route_table(association_id)
            except Exception:
                self.associations.pop(association_id, None)
        backend.delete_route_table(self.id)

    def endpoint_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        # Its route tables may be gone already; the endpoint goes regardless.
        self.route_table_ids = [r for r in (self.route_table_ids or []) if r in backend.route_tables]
        backend.delete_vpc_endpoints([self.id])

    def attachment_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        if self.gateway_id in backend.internet_gateways:  # else gone with its gateway already
            backend.detach_internet_gateway(self.gateway_id, self.vpc_id)

    def gateway_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        if getattr(self, "vpc", None) is not None:
            backend.detach_internet_gateway(self.id, self.vpc.id)
        backend.delete_internet_gateway(self.id)

    RouteTable.delete = route_table_delete
    VPCEndPoint.delete = endpoint_delete
    VPCGatewayAttachment.delete = attachment_delete
    InternetGateway.delete = gateway_delete


_add_network_deletes()


def _fix_create_change_set_on_review_stack():
    """A CREATE change set for a stack left in REVIEW_IN_PROGRESS (a create change set never
    executed) reuses that stack on AWS; moto made a second stack of the same name, so the name
    kept pointing at the one that never leaves REVIEW_IN_PROGRESS. And a CREATE change set for
    a live stack is refused on AWS."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.create_change_set

    names = ["stack_name", "change_set_name", "template", "parameters", "description",
             "change_set_type"]

    def create_change_set(self, *args, **kwargs):
        given = dict(zip(names, args), **kwargs)
        stack_name = given.get("stack_name")
        change_set_name = given.get("change_set_name")
        if given.get("change_set_type") == "CREATE":
            for stack_id, stack in list(self.stacks.items()):
                if stack.name != stack_name:
                    continue
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise ValidationError(
                        stack_name,
                        message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}].")
                del self.stacks[stack_id]
                for cs_id, cs in list(self.change_sets.items()):
                    if cs.stack_id == stack_id:
                        del self.change_sets[cs_id]
        return original(self, *args, **kwargs)

    CloudFormationBackend.create_change_set = create_change_set


_fix_create_change_set_on_review_stack()
