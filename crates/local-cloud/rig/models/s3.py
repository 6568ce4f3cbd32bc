"""AWS::S3::BucketPolicy, which moto's CloudFormation skips: the policy is put on the bucket
in moto's S3 backend (and evaluated there by patches/s3_policy.py)."""
import json

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from rig.models.base import Rig


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
