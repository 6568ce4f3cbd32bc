"""WAFv2 types moto's CloudFormation skips: a web ACL (in moto's WAFv2 backend: the global one
for Scope CLOUDFRONT, as the API keeps it) and its association with an API Gateway stage."""
from moto.core.common_models import CloudFormationModel
from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

from rig.models.base import Rig


def waf(account_id, region_name, scope="REGIONAL"):
    return wafv2_backends[account_id][GLOBAL_REGION if scope == "CLOUDFRONT" else region_name]


class RigWebAcl(Rig, CloudFormationModel):
    __module__ = "moto.wafv2.models"
    TYPE = "AWS::WAFv2::WebACL"
    ATTRS = ("Arn", "Id", "LabelNamespace")

    @staticmethod
    def cloudformation_type():
        return RigWebAcl.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        scope = props.get("Scope", "REGIONAL")
        acl = waf(account_id, region_name, scope).create_web_acl(
            props.get("Name") or name, props.get("VisibilityConfig") or {},
            props.get("DefaultAction") or {}, scope, props.get("Description", ""),
            props.get("Tags") or [], props.get("Rules") or [], None, None, None, None, None)
        # Ref is NAME|ID|SCOPE, as CloudFormation's.
        return f"{acl.name}|{acl.id}|{scope}", {
            "Arn": acl.arn, "Id": acl.id,
            "LabelNamespace": f"awswaf:{account_id}:webacl:{acl.name}:"}

    def remove(self, account_id, region_name):
        name, idx, scope = self.pid.split("|")
        backend = waf(account_id, region_name, scope)
        try:
            acl = backend.wacls[self.attrs["Arn"]]
            backend.delete_web_acl(name, scope, idx, acl.lock_token)
        except Exception:
            pass


class RigWebAclAssociation(Rig, CloudFormationModel):
    __module__ = "moto.wafv2.models"
    TYPE = "AWS::WAFv2::WebACLAssociation"

    @staticmethod
    def cloudformation_type():
        return RigWebAclAssociation.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        waf(account_id, region_name).associate_web_acl(props["WebACLArn"], props["ResourceArn"])
        return f"{props['ResourceArn']}|{props['WebACLArn']}", {}

    def remove(self, account_id, region_name):
        try:
            waf(account_id, region_name).disassociate_web_acl(self.props["ResourceArn"])
        except Exception:
            pass
