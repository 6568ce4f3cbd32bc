"""API Gateway types moto's CloudFormation skips: stage, authorizer and the account's CloudWatch
role (in moto's API Gateway backend), and domain name and base path mapping (recorded in RIG
only).

A stage that logs (an access log, or a method setting with execution logging) is refused while
the account and region have no CloudWatch role, with API Gateway's own words: AWS checks that
setting when the stage is made, so a stack that relies on someone else having set it fails here
first (`shipit bootstrap` sets it)."""
from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import apigateway_backends
from moto.core.common_models import CloudFormationModel

from rig.models.base import Rig, rand_id


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
        logs = props.get("AccessLogSetting") or any(
            (m.get("LoggingLevel") or "OFF") != "OFF" for m in props.get("MethodSettings") or [])
        if logs and not apigw(account_id, region_name).get_account().cloudwatch_role_arn:
            raise BadRequestException(
                "CloudWatch Logs role ARN must be set in account settings to enable logging")
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
    # Account-wide settings: the CloudWatch role every REST API of the region logs with.
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::Account"
    ATTRS = ("Id",)

    @staticmethod
    def cloudformation_type():
        return RigApiAccount.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        if props.get("CloudWatchRoleArn"):
            apigw(account_id, region_name).update_account(
                [{"op": "replace", "path": "/cloudwatchRoleArn", "value": props["CloudWatchRoleArn"]}])
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


class RigGatewayResponse(Rig, CloudFormationModel):
    # The API's own answers (DEFAULT_4XX, ...), in moto's API Gateway backend.
    __module__ = "moto.apigateway.models"
    TYPE = "AWS::ApiGateway::GatewayResponse"

    @staticmethod
    def cloudformation_type():
        return RigGatewayResponse.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        api, kind = props["RestApiId"], props["ResponseType"]
        apigw(account_id, region_name).put_gateway_response(
            api, kind, props.get("StatusCode"), props.get("ResponseParameters") or {},
            props.get("ResponseTemplates") or {})
        return f"{api}-{kind}", {}

    def remove(self, account_id, region_name):
        try:
            apigw(account_id, region_name).delete_gateway_response(
                self.props["RestApiId"], self.props["ResponseType"])
        except Exception:
            pass


class RigVpcLink(Rig, CloudFormationModel):
    """AWS::ApiGatewayV2::VpcLink (a VPC link V2, which REST APIs use for private integrations
    with a load balancer), made in moto's API Gateway V2 backend."""
    __module__ = "moto.apigatewayv2.models"
    TYPE = "AWS::ApiGatewayV2::VpcLink"
    ATTRS = ("VpcLinkId",)

    @staticmethod
    def cloudformation_type():
        return RigVpcLink.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        from moto.apigatewayv2.models import apigatewayv2_backends
        link = apigatewayv2_backends[account_id][region_name].create_vpc_link(
            name=props.get("Name") or name, sg_ids=props.get("SecurityGroupIds") or [],
            subnet_ids=props["SubnetIds"], tags=props.get("Tags") or {})
        return link.id, {"VpcLinkId": link.id}

    def remove(self, account_id, region_name):
        from moto.apigatewayv2.models import apigatewayv2_backends
        apigatewayv2_backends[account_id][region_name].delete_vpc_link(self.pid)
