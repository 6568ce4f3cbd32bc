"""AWS::EC2::SecurityGroupEgress, which moto's CloudFormation skips: the rule is authorized in
moto's EC2 backend."""
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends

from rig.models.base import Rig, rand_id


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
