"""RDS instances with ManageMasterUserPassword, PostgreSQL's default port, a resource id each.

On AWS: an AWS::RDS::DBInstance with ManageMasterUserPassword: true keeps its master password in
a Secrets Manager secret (`!GetAtt Db.MasterUserSecret.SecretArn`), an instance without Port
listens on its engine's default (5432 for PostgreSQL), and `!GetAtt Db.DbiResourceId` is the
instance's own resource id (what an `rds-db:connect` ARN names).
In moto: the DBInstance model ignores ManageMasterUserPassword (so there is no
MasterUserSecret.SecretArn to GetAtt), defaults every engine to port 3306, gives every instance
the same resource id and has no DbiResourceId to GetAtt.
The patch: wraps the model's create to default Port to 5432 for postgres engines, give the
instance a MasterUserSecret (moto's own, as its RDS API makes one, holding the master user's
name and a random password as on AWS, not moto's fixed "admin"/"P@55w0rd!") and a resource id
of its own, and answers GetAtt MasterUserSecret.SecretArn and DbiResourceId. With the data tier
on (rig/datatier.py), a postgres instance is a real PostgreSQL server: its endpoint is
127.0.0.1 and that server's port, and deleting the instance stops it.
"""
import json
import random
import secrets
import string

from rig import datatier
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
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
        instance.dbi_resource_id = "db-" + "".join(
            random.choices(string.ascii_uppercase + string.digits, k=26))
        password = props.get("MasterUserPassword")
        if str(props.get("ManageMasterUserPassword", "")).lower() == "true":
            instance.manage_master_user_password = True
            instance.master_user_secret = MasterUserSecret(
                instance, props.get("MasterUserSecret", {}).get("KmsKeyId"))
            password = "".join(secrets.choice(string.ascii_letters + string.digits)
                               for _ in range(32))
            instance.backend.secretsmanager.put_secret_value(
                instance.master_user_secret.secret.arn,
                json.dumps({"username": instance.master_username, "password": password}),
                None, None, ["AWSCURRENT"])
        if datatier.enabled() and str(props.get("Engine", "")).startswith("postgres"):
            server = datatier.start_postgres(instance.master_username, password or "")
            instance.local_server = server
            instance.port = server.port
        return instance

    def has(cls, attr):
        return attr in ("MasterUserSecret.SecretArn", "DbiResourceId") or original_has(cls, attr)

    def get(self, attr):
        if attr == "MasterUserSecret.SecretArn" and getattr(self, "master_user_secret", None):
            return self.master_user_secret.secret.arn
        if attr == "DbiResourceId":
            return self.dbi_resource_id
        return original_get(self, attr)

    original_address = DBInstance.address.fget
    original_delete = DBInstance.delete

    def address(self):
        return "127.0.0.1" if getattr(self, "local_server", None) else original_address(self)

    def delete(self, account_id, region_name):
        original_delete(self, account_id, region_name)
        if getattr(self, "local_server", None):
            self.local_server.stop()

    DBInstance.address = property(address)
    DBInstance.delete = delete
    DBInstance.create_from_cloudformation_json = classmethod(create)
    DBInstance.has_cfn_attr = classmethod(has)
    DBInstance.get_cfn_attribute = get
