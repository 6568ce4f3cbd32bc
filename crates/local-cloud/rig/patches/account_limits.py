"""Creates refused as the account and region would refuse them (rig/account.py's settings).

On AWS: Lambda refuses a function whose ReservedConcurrentExecutions leaves the account fewer
than 100 unreserved executions ("... below its minimum value of [100]"); RDS refuses a new
instance on an engine version it no longer sells ("Cannot find version 16.6 for postgres") or an
instance class it does not offer with that engine ("RDS does not support creating a DB instance
with the following combination: ..."); ElastiCache refuses a node type it does not offer.
In moto: each is accepted (its Lambda quota check runs only for PutFunctionConcurrency, and only
when MOTO_LAMBDA_CONCURRENCY_QUOTA is set; RDS and ElastiCache check neither).
The patch: wraps Lambda's create_function and put_function_concurrency, RDS's create_db_instance
and the rig's ReplicationGroup model to refuse those, against the account the local cloud is set
to (POST /_shipit/account), whose defaults are a roomy, current account.
"""
from rig import account
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend
    from moto.rds.exceptions import InvalidParameterCombination
    from moto.rds.models import RDSBackend

    original_create_function = LambdaBackend.create_function
    original_put_concurrency = LambdaBackend.put_function_concurrency
    original_create_db = RDSBackend.create_db_instance

    def create_function(self, spec):
        refusal = account.reserved_refusal(self, spec.get("FunctionName"),
                                           spec.get("ReservedConcurrentExecutions"))
        if refusal:
            raise InvalidParameterValueException(refusal)
        return original_create_function(self, spec)

    def put_function_concurrency(self, function_name, reserved_concurrency):
        refusal = account.reserved_refusal(self, function_name, reserved_concurrency)
        if refusal:
            raise InvalidParameterValueException(refusal)
        return original_put_concurrency(self, function_name, reserved_concurrency)

    def create_db_instance(self, db_kwargs):
        if str(db_kwargs.get("engine") or "").startswith("postgres"):
            version = db_kwargs.get("engine_version")
            refusal = (account.version_refusal(version) if version else None) or \
                account.class_refusal(db_kwargs.get("db_instance_class"), version)
            if refusal:
                raise InvalidParameterCombination(refusal)
        return original_create_db(self, db_kwargs)

    LambdaBackend.create_function = create_function
    LambdaBackend.put_function_concurrency = put_function_concurrency
    RDSBackend.create_db_instance = create_db_instance

    from rig.models.elasticache import RigReplicationGroup
    from moto.elasticache.exceptions import InvalidParameterValueException as CacheInvalid

    original_make = RigReplicationGroup.make.__func__

    def make(cls, name, props, account_id, region_name):
        node = props.get("CacheNodeType")
        if node not in account.SETTINGS["cache_node_types"]:
            raise CacheInvalid(f"Invalid CacheNodeType: {node}")
        return original_make(cls, name, props, account_id, region_name)

    RigReplicationGroup.make = classmethod(make)
