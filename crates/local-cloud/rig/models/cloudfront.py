"""CloudFront types moto's CloudFormation skips: origin access control, function, cache and
response headers policies, and the distribution (created in moto's CloudFront backend; moto has
no cache or response headers policies, so RIG is their only store)."""
import uuid

from moto.cloudfront.models import cloudfront_backends
from moto.core.common_models import CloudFormationModel
from moto.utilities.utils import get_partition

from rig.models.base import Rig, items


def cf_backend(account_id, region_name):
    return cloudfront_backends[account_id][get_partition(region_name)]


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
        "WebACLId": c.get("WebACLId", ""),
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
