"""AWS::S3::Bucket's versioning, Block Public Access and ownership controls.

On AWS: a bucket created or updated by CloudFormation gets every property in its template.
In moto: the Bucket model applies BucketEncryption and Tags only: VersioningConfiguration,
PublicAccessBlockConfiguration and OwnershipControls are silently dropped.
The patch: after moto's create and update, those three are put on the bucket through moto's own
S3 backend.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    def put_properties(bucket, props, account_id, region_name):
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(bucket.name, {k: str(v).lower() for k, v in block.items()})
        ownership = props.get("OwnershipControls")
        if ownership:
            rule = (ownership.get("Rules") or [{}])[0].get("ObjectOwnership")
            if rule:
                backend.put_bucket_ownership_controls(bucket.name, rule)

    original_create = FakeBucket.create_from_cloudformation_json.__func__
    original_update = FakeBucket.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        put_properties(bucket, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return bucket

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)
        put_properties(bucket, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create)
    FakeBucket.update_from_cloudformation_json = classmethod(update)
