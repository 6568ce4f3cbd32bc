"""patches/bucket_properties.py: versioning, Block Public Access and ownership controls."""
from rig.tests.support import CloudTest

TEMPLATE = """
Parameters:
  Versioning: {Type: String, Default: Enabled}
Resources:
  Site:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: shipit-rig-site
      VersioningConfiguration: {Status: !Ref Versioning}
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      OwnershipControls:
        Rules: [{ObjectOwnership: BucketOwnerEnforced}]
"""


class BucketProperties(CloudTest):
    def test_create(self):
        self.deploy("s", TEMPLATE)
        s3, bucket = self.client("s3"), "shipit-rig-site"
        self.assertEqual(s3.get_bucket_versioning(Bucket=bucket).get("Status"), "Enabled")
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        self.assertEqual(block, {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                 "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        self.assertEqual(rules, [{"ObjectOwnership": "BucketOwnerEnforced"}])

    def test_update(self):
        self.deploy("s", TEMPLATE)
        self.deploy("s", TEMPLATE, {"Versioning": "Suspended"}, kind="UPDATE")
        status = self.client("s3").get_bucket_versioning(Bucket="shipit-rig-site").get("Status")
        self.assertEqual(status, "Suspended")
