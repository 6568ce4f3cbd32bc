"""AWS::Lambda::Version and AWS::Lambda::Alias as CloudFormation makes them.

On AWS: a Version resource publishes the function's current code and configuration once
(Ref: the version's ARN; GetAtt Version: its number); an Alias names a version (Ref: the alias
ARN) and keeps whatever version the Lambda API later moves it to until the template changes the
alias itself.
In moto: its Version model publishes but answers no GetAtt (Version is "not implemented") and
its Ref is an object's repr; it has no Alias type at all (skipped: outputs naming it vanish).
Here: both in moto's Lambda backend, with the Ref and GetAtt values CloudFormation gives; an
alias whose properties change is updated in place (its ARN stays), as CloudFormation does.
"""
from moto.awslambda.models import lambda_backends
from moto.core.common_models import CloudFormationModel

from rig.models.base import Rig


def _backend(account_id, region_name):
    return lambda_backends[account_id][region_name]


class RigLambdaVersion(Rig, CloudFormationModel):
    __module__ = "moto.awslambda.models"
    TYPE = "AWS::Lambda::Version"
    ATTRS = ("Version", "FunctionArn")

    @staticmethod
    def cloudformation_type():
        return RigLambdaVersion.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        fn = backend.publish_version(props["FunctionName"], props.get("Description") or "")
        unqualified = backend.get_function(props["FunctionName"]).function_arn
        return f"{unqualified}:{fn.version}", {"Version": str(fn.version),
                                              "FunctionArn": unqualified}


class RigLambdaAlias(Rig, CloudFormationModel):
    __module__ = "moto.awslambda.models"
    TYPE = "AWS::Lambda::Alias"
    ATTRS = ("AliasArn",)

    @staticmethod
    def cloudformation_type():
        return RigLambdaAlias.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        alias = _backend(account_id, region_name).create_alias(
            name=props["Name"], function_name=props["FunctionName"],
            function_version=str(props["FunctionVersion"]),
            description=props.get("Description") or "",
            routing_config=props.get("RoutingConfig"))
        return alias.arn, {"AliasArn": alias.arn}

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        old = original_resource.props
        if (props.get("Name"), props.get("FunctionName")) != (old.get("Name"),
                                                              old.get("FunctionName")):
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id,
                region_name)
        _backend(account_id, region_name).update_alias(
            name=props["Name"], function_name=props["FunctionName"],
            function_version=str(props["FunctionVersion"]),
            description=props.get("Description") or "",
            routing_config=props.get("RoutingConfig"))
        original_resource.props = props
        return original_resource

    def remove(self, account_id, region_name):
        try:
            _backend(account_id, region_name).delete_alias(self.props["Name"],
                                                           self.props["FunctionName"])
        except Exception:  # the function went first
            pass
