"""Cognito types moto's CloudFormation skips: the user pool and its client, made in moto's
Cognito backend."""
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_models import CloudFormationModel

from rig.models.base import Rig


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
