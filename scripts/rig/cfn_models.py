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
