"""AWS::SecretsManager::Secret, which moto's CloudFormation skips: the secret (given, or
generated from GenerateSecretString) is created in moto's Secrets Manager backend."""
import json
import secrets
import string

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends

from rig.models.base import Rig, rand_id


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
