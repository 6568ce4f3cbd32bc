"""patches/lambda_code_version.py: Lambda reads the package at the version the function pins."""
import io
import zipfile

from rig.tests.support import CloudTest, package


TEMPLATE = """Parameters:
  Version: {Type: String}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: code, S3Key: api/pkg.zip, S3ObjectVersion: !Ref Version}
"""


class PinnedCode(CloudTest):
    def test_the_pinned_version_runs_not_what_the_key_holds_now(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="code")
        s3.put_bucket_versioning(Bucket="code", VersioningConfiguration={"Status": "Enabled"})
        good = s3.put_object(Bucket="code", Key="api/pkg.zip", Body=package("def handler(e, c): return 1"))
        s3.put_object(Bucket="code", Key="api/pkg.zip", Body=package("import os  # overwritten"))
        self.assertEqual(self.deploy("s", TEMPLATE, {"Version": good["VersionId"]})["StackStatus"],
                         "CREATE_COMPLETE")
        fn = self.physical_ids("s")["Fn"]
        from moto.awslambda.models import lambda_backends
        code = lambda_backends["123456789012"]["us-east-1"].get_function(fn).code_bytes
        with zipfile.ZipFile(io.BytesIO(code)) as z:
            self.assertIn("return 1", z.read("index.py").decode())
